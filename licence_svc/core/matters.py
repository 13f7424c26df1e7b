"""The catalogue of service matters (政务服务事项) and the materials each requires.

A window asks which of a matter's materials the applicant's e-licences satisfy, so those need no
paper ("统一受理、平台授权"). The catalogue is data that the platform operator maintains and loads
with ``cli.py matters load FILE``; loading replaces the whole catalogue at once.

Format (JSON, or YAML when the file name ends in ``.yaml``/``.yml``): a list of matters, or an
object ``{"matters": [...]}``. Each matter::

    {
      "code": "QYKB-001",              # 1-40 characters of A-Z, 0-9 and "-"; unique
      "name": "企业开办",               # 1-100 characters
      "department": "市场监督管理局",    # optional: the department that accepts it (受理部门)
      "materials": [                    # 1-50 materials
        {
          "id": "m1",                   # 1-40 characters of A-Z, a-z, 0-9, "_" and "-"; unique in the matter
          "name": "营业执照",            # 1-100 characters
          "kind": "business_licence",   # a licence kind that satisfies it, or null: paper only
          "holder_role": "applicant",   # optional, default applicant: whose licence it must be
          "required": true              # optional, default true
        }
      ]
    }

``holder_role`` is ``applicant`` (the licence belongs to the applicant, a person or a company) or
``legal_representative`` (it belongs to the applicant, or to the legal representative of a company
the applicant is, as the company's business licence names them).

Validation reports every problem at once, with paths such as ``matters[2].materials[0].kind``, so
the catalogue can be fixed in one round. This module is pure: text in, frozen dataclasses out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import FieldProblem, InvalidInput
from .kinds import KINDS

CODE_PATTERN = r"^[A-Z0-9-]{1,40}$"
MATERIAL_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
MAX_NAME = 100
MAX_MATTERS = 2000
MAX_MATERIALS = 50
HOLDER_ROLES = {"applicant": "申请人本人", "legal_representative": "法定代表人"}
FORMATS = ("json", "yaml")

_CODE = re.compile(CODE_PATTERN.strip("^$"))
_MATERIAL_ID = re.compile(MATERIAL_ID_PATTERN.strip("^$"))
_MATTER_FIELDS = ("code", "name", "department", "materials")
_MATERIAL_FIELDS = ("id", "name", "kind", "holder_role", "required")


@dataclass(frozen=True)
class Material:
    """One material a matter requires; ``kind`` None means only paper satisfies it."""

    id: str
    name: str
    kind: str | None
    required: bool = True
    holder_role: str = "applicant"

    @property
    def kind_label(self) -> str | None:
        return KINDS[self.kind].label if self.kind else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "holder_role": self.holder_role,
            "required": self.required,
        }


@dataclass(frozen=True)
class Matter:
    code: str
    name: str
    department: str | None
    materials: tuple[Material, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "department": self.department,
            "materials": [m.as_dict() for m in self.materials],
        }

    def materials_json(self) -> str:
        """The materials as stored: the catalogue's own field names, so a stored matter reads back the same."""
        return json.dumps(
            [{k: v for k, v in m.as_dict().items() if k != "kind_label"} for m in self.materials],
            ensure_ascii=False,
        )


def format_of(filename: str) -> str:
    """``yaml`` for .yaml/.yml files, otherwise ``json``."""
    return "yaml" if filename.lower().endswith((".yaml", ".yml")) else "json"


def parse_text(text: str, *, fmt: str = "json") -> tuple[Matter, ...]:
    """Decode a catalogue file's text and validate it; raises InvalidInput listing every problem."""
    if fmt not in FORMATS:
        raise InvalidInput.single("format", f"expected one of {', '.join(FORMATS)}")
    try:
        data = yaml.safe_load(text) if fmt == "yaml" else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput.single("file", f"not valid {fmt.upper()}: {exc}") from exc
    return parse_catalogue(data)


def parse_catalogue(data: object) -> tuple[Matter, ...]:
    """Validate decoded catalogue data (a list of matters, or ``{"matters": [...]}``)."""
    if isinstance(data, Mapping) and set(data) == {"matters"}:
        data = data["matters"]
    if not isinstance(data, list):
        raise InvalidInput.single("matters", "must be a list of matters, or an object with only a `matters` list")
    if not data:
        raise InvalidInput.single("matters", "the catalogue is empty; give at least one matter")
    if len(data) > MAX_MATTERS:
        raise InvalidInput.single("matters", f"at most {MAX_MATTERS} matters")
    problems: list[FieldProblem] = []
    matters: list[Matter] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data):
        path = f"matters[{i}]"
        matter = _matter(raw, path, problems)
        if matter is None:
            continue
        if matter.code in seen:
            problems.append(FieldProblem(f"{path}.code", f"duplicate code {matter.code} (also matters[{seen[matter.code]}])"))
        else:
            seen[matter.code] = i
        matters.append(matter)
    if problems:
        raise InvalidInput(problems)
    return tuple(matters)


def from_stored(code: str, name: str, department: str | None, materials_json: str) -> Matter:
    """A matter as the register keeps it (validated when it was loaded)."""
    return Matter(
        code=code,
        name=name,
        department=department,
        materials=tuple(
            Material(id=m["id"], name=m["name"], kind=m["kind"], required=m["required"], holder_role=m["holder_role"])
            for m in json.loads(materials_json)
        ),
    )


def _unknown(raw: Mapping[Any, Any], allowed: tuple[str, ...], path: str, problems: list[FieldProblem]) -> None:
    problems += [FieldProblem(f"{path}.{k}", "unknown field") for k in raw if k not in allowed]


def _text(raw: Mapping[Any, Any], key: str, path: str, problems: list[FieldProblem], *, optional: bool = False) -> str | None:
    """A trimmed, printable name of 1-100 characters; None (with a problem unless optional) when absent or wrong."""
    if key not in raw or (optional and raw[key] is None):
        if not optional:
            problems.append(FieldProblem(f"{path}.{key}", "missing"))
        return None
    value = raw[key]
    if not isinstance(value, str):
        problems.append(FieldProblem(f"{path}.{key}", "must be a string"))
        return None
    value = value.strip()
    if not value:
        problems.append(FieldProblem(f"{path}.{key}", "must not be empty"))
        return None
    if len(value) > MAX_NAME:
        problems.append(FieldProblem(f"{path}.{key}", f"at most {MAX_NAME} characters"))
        return None
    if not value.isprintable():
        problems.append(FieldProblem(f"{path}.{key}", "must be printable text on one line"))
        return None
    return value


def _matter(raw: object, path: str, problems: list[FieldProblem]) -> Matter | None:
    if not isinstance(raw, Mapping):
        problems.append(FieldProblem(path, "must be an object"))
        return None
    before = len(problems)
    _unknown(raw, _MATTER_FIELDS, path, problems)
    code = raw.get("code")
    if "code" not in raw:
        problems.append(FieldProblem(f"{path}.code", "missing"))
    elif not isinstance(code, str) or not _CODE.fullmatch(code):
        problems.append(FieldProblem(f"{path}.code", "1-40 characters of A-Z, 0-9 and -"))
    name = _text(raw, "name", path, problems)
    department = _text(raw, "department", path, problems, optional=True)
    materials = _materials(raw.get("materials"), "materials" in raw, f"{path}.materials", problems)
    if len(problems) > before:
        # Still report a well-formed code, so duplicates are found even among broken matters.
        return Matter(code, name or "", department, ()) if isinstance(code, str) and _CODE.fullmatch(code) else None
    assert isinstance(code, str) and name is not None and materials is not None
    return Matter(code, name, department, materials)


def _materials(raw: object, present: bool, path: str, problems: list[FieldProblem]) -> tuple[Material, ...] | None:
    if not present:
        problems.append(FieldProblem(path, "missing"))
        return None
    if not isinstance(raw, list):
        problems.append(FieldProblem(path, "must be a list of materials"))
        return None
    if not raw:
        problems.append(FieldProblem(path, "a matter needs at least one material"))
        return None
    if len(raw) > MAX_MATERIALS:
        problems.append(FieldProblem(path, f"at most {MAX_MATERIALS} materials"))
        return None
    out: list[Material] = []
    ids: dict[str, int] = {}
    before = len(problems)
    for j, item in enumerate(raw):
        mpath = f"{path}[{j}]"
        if not isinstance(item, Mapping):
            problems.append(FieldProblem(mpath, "must be an object"))
            continue
        _unknown(item, _MATERIAL_FIELDS, mpath, problems)
        mid = item.get("id")
        if "id" not in item:
            problems.append(FieldProblem(f"{mpath}.id", "missing"))
        elif not isinstance(mid, str) or not _MATERIAL_ID.fullmatch(mid):
            problems.append(FieldProblem(f"{mpath}.id", "1-40 characters of A-Z, a-z, 0-9, _ and -"))
        elif mid in ids:
            problems.append(FieldProblem(f"{mpath}.id", f"duplicate material id {mid} (also {path}[{ids[mid]}])"))
        else:
            ids[mid] = j
        name = _text(item, "name", mpath, problems)
        kind = item.get("kind")
        if "kind" not in item:
            problems.append(FieldProblem(f"{mpath}.kind", "missing; null means paper only"))
        elif kind is not None and (not isinstance(kind, str) or kind not in KINDS):
            problems.append(FieldProblem(f"{mpath}.kind", f"unknown licence kind; expected one of {', '.join(KINDS)}, or null for paper only"))
        role = item.get("holder_role", "applicant")
        if not isinstance(role, str) or role not in HOLDER_ROLES:
            problems.append(FieldProblem(f"{mpath}.holder_role", f"expected one of {', '.join(HOLDER_ROLES)}"))
        required = item.get("required", True)
        if not isinstance(required, bool):
            problems.append(FieldProblem(f"{mpath}.required", "must be true or false"))
        if len(problems) == before:
            out.append(Material(id=str(mid), name=str(name), kind=kind, required=required, holder_role=role))
    return tuple(out) if len(problems) == before else None
