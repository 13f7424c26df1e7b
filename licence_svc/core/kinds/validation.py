"""Validation of a licence record against its kind: the shared field types here, a kind's own field
types and cross-field rules in its module.

Validation reports every problem at once so a department can fix a record in one round.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from ...errors import FieldProblem, InvalidInput
from ..checkdigits import credit_code_problem, id_number_birth_date, id_number_problem, id_number_sex
from .common import ETHNICITIES
from .registry import get_kind
from .spec import FieldSpec, KindSpec

MAX_PHOTO_BYTES = 512 * 1024
MAX_PHOTO_PIXELS = 2000 * 2000
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
"""How a JPEG and a PNG file begin: ``data.startswith(IMAGE_MAGIC)`` before anything decodes it."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS12 = re.compile(r"[0-9]{12}")

Renderable = Callable[[str], bool]


class Checker:
    """Collects problems over one record of ``kind`` so all are reported together."""

    def __init__(self, kind: KindSpec, can_render: Renderable | None) -> None:
        self.kind = kind
        self.problems: list[FieldProblem] = []
        self.can_render = can_render

    def add(self, path: str, reason: str) -> None:
        self.problems.append(FieldProblem(path, reason))

    def record(self, specs: tuple[FieldSpec, ...], raw: object, prefix: str) -> dict[str, Any]:
        if not isinstance(raw, Mapping):
            self.add(prefix, "must be a JSON object")
            return {}
        out: dict[str, Any] = {}
        known = {s.name for s in specs}
        for key in raw:
            if key not in known:
                self.add(f"{prefix}.{key}", "unknown field")
        for spec in specs:
            path = f"{prefix}.{spec.name}"
            if spec.name not in raw:
                if spec.optional:
                    continue
                if spec.nullable:
                    self.add(path, "missing (use null for 长期)")
                else:
                    self.add(path, "missing")
                continue
            value = raw[spec.name]
            if value is None:
                if spec.nullable or spec.optional:
                    out[spec.name] = None
                else:
                    self.add(path, "must not be null")
                continue
            checked = self.value(spec, value, path)
            if checked is not None:
                out[spec.name] = checked
        return out

    def value(self, spec: FieldSpec, value: object, path: str) -> Any:
        own = self.kind.value_check(spec.type)
        if own is not None:
            return own(self, spec, value, path)
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return None
        text = value.strip()
        if spec.type == "photo":
            return self.photo(text, path)
        if not text:
            self.add(path, "must not be empty")
            return None
        if spec.type == "date":
            return self.date(text, path)
        if spec.type == "enum":
            if text not in spec.choices:
                self.add(path, f"must be one of {'/'.join(spec.choices)}")
                return None
            return text
        if spec.type == "ethnicity":
            if text.endswith("族") and text[:-1] in ETHNICITIES:
                text = text[:-1]
            if text not in ETHNICITIES:
                self.add(path, "not an ethnic group of GB/T 3304")
                return None
            return text
        if spec.type == "id_number":
            text = text.upper()
            reason = id_number_problem(text)
            if reason:
                self.add(path, reason)
                return None
            return text
        if spec.type == "credit_code":
            text = text.upper()
            reason = credit_code_problem(text)
            if reason:
                self.add(path, reason)
                return None
            return text
        if spec.type == "digits12":
            if not _DIGITS12.fullmatch(text):
                self.add(path, "must be exactly 12 digits")
                return None
            return text
        return self.text(spec, text, path)

    def text(self, spec: FieldSpec, text: str, path: str) -> str | None:
        if len(text) > spec.max_length:
            self.add(path, f"longer than {spec.max_length} characters")
            return None
        bad = [c for c in text if not c.isprintable()]
        if bad:
            self.add(path, f"contains control character U+{ord(bad[0]):04X}")
            return None
        if self.can_render is not None:
            missing = [c for c in text if not self.can_render(c)]
            if missing:
                self.add(path, f"character U+{ord(missing[0]):04X} has no glyph in the document fonts")
                return None
        if spec.type == "code" and not re.fullmatch(r"[0-9A-Za-z\-]+", text):
            self.add(path, "may hold only letters, digits and hyphens")
            return None
        return text

    def date(self, text: str, path: str) -> str | None:
        if not _DATE.fullmatch(text):
            self.add(path, "must be a date as YYYY-MM-DD")
            return None
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            self.add(path, "not a real date")
            return None

    def photo(self, text: str, path: str) -> str | None:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.add(path, "must be base64")
            return None
        if len(raw) > MAX_PHOTO_BYTES:
            self.add(path, f"larger than {MAX_PHOTO_BYTES // 1024} KiB")
            return None
        if not raw.startswith(IMAGE_MAGIC):
            self.add(path, "must be a JPEG or PNG image")
            return None
        from PIL import Image  # local: only photos need Pillow

        try:
            with Image.open(io.BytesIO(raw)) as img:
                if img.width * img.height > MAX_PHOTO_PIXELS:
                    self.add(path, "image has too many pixels")
                    return None
                img.verify()
        except Exception:  # Pillow raises many types for corrupt images
            self.add(path, "image cannot be decoded")
            return None
        return base64.b64encode(raw).decode("ascii")

    def person(self, record: Mapping[str, Any], prefix: str, number_field: str) -> None:
        """Birth date and sex must agree with the identity number, as GB 11643 encodes both."""
        number, birth, sex = record.get(number_field), record.get("birth_date"), record.get("sex")
        if not number:
            return
        if birth and id_number_birth_date(number) != date.fromisoformat(birth):
            self.add(f"{prefix}.birth_date", f"does not match the birth date in {number_field}")
        if sex and id_number_sex(number) != sex:
            self.add(f"{prefix}.sex", f"does not match the sex digit of {number_field}")

    def order(self, record: Mapping[str, Any], prefix: str, *names: str) -> None:
        """Dates must not go backwards: each named date is on or after the previous one given."""
        previous: tuple[str, date] | None = None
        for name in names:
            text = record.get(name)
            if not text:
                continue
            current = date.fromisoformat(text)
            if previous and current < previous[1]:
                self.add(f"{prefix}.{name}", f"earlier than {previous[0]}")
            previous = (name, current)


def validate(kind: str, data: object, *, can_render: Renderable | None = None, prefix: str = "data") -> dict[str, Any]:
    """Check ``data`` against kind ``kind`` and return it normalised.

    ``can_render`` tells whether the document fonts hold a glyph for a character; text fields with
    characters that would print as blanks are refused. Raises InvalidInput listing every problem.
    """
    spec = get_kind(kind)
    checker = Checker(spec, can_render)
    out = checker.record(spec.fields, data, prefix)
    spec.check(checker, out, prefix)
    if checker.problems:
        raise InvalidInput(checker.problems)
    return out
