"""The five licence kinds: their fields, Chinese labels and validation.

Field names are a contract with department systems; labels are what the PDF shows.
Validation reports every problem at once so a department can fix a record in one round.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..errors import FieldProblem, InvalidInput
from .checkdigits import (
    credit_code_check_char,
    credit_code_problem,
    id_number_birth_date,
    id_number_problem,
    id_number_sex,
)

SEXES = ("男", "女")
# GB/T 3304: the 56 ethnic groups, plus 其他 and 外国血统中国籍人士.
ETHNICITIES = (
    "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 "
    "柯尔克孜 土 达斡尔 仫佬 羌 布朗 撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 裕固 京 "
    "塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺 其他 外国血统中国籍人士"
).split()
DEGREES = ("学士", "硕士", "博士")
HOUSEHOLD_TYPES = ("家庭户", "集体户")
VEHICLE_CLASSES = ("A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P")
HEAD_OF_HOUSEHOLD = "户主"
VEHICLE_CLASS_PATTERN = re.compile("|".join(sorted(VEHICLE_CLASSES, key=len, reverse=True)))
"""One vehicle class (longest first, so that A1 is never read as A and 1)."""

MAX_PHOTO_BYTES = 512 * 1024
MAX_PHOTO_PIXELS = 2000 * 2000
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
"""How a JPEG and a PNG file begin: ``data.startswith(IMAGE_MAGIC)`` before anything decodes it."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS12 = re.compile(r"[0-9]{12}")
_VEHICLE_SPLIT = re.compile(VEHICLE_CLASS_PATTERN.pattern + r"|[,，、\s]+")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a kind. ``type`` selects the validator; ``nullable`` means null is allowed (shown as 长期)."""

    name: str
    label: str
    type: str = "text"
    nullable: bool = False
    optional: bool = False
    choices: tuple[str, ...] = ()
    max_length: int = 64
    printed: bool = True  # False: kept in the record and the embedded data, not drawn on the page


@dataclass(frozen=True)
class KindSpec:
    """Everything the platform knows about one licence kind."""

    name: str
    label: str
    cbor_code: int
    kind_code: str  # 21 characters: the defining authority's credit code + 3 digits (GB/T 36904)
    fields: tuple[FieldSpec, ...]
    expiry_field: str | None
    member_fields: tuple[FieldSpec, ...] = field(default=())

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def title(self, data: Mapping[str, Any]) -> str:
        """The heading printed on the document."""
        if self.name == "degree_certificate":
            return f"{data.get('degree', '')}学位证书"
        return _TITLES[self.name]

    def holder_ids(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        """Identifiers of everyone the licence belongs to (id numbers or credit codes)."""
        if self.name == "household_register":
            return tuple(m["id_number"] for m in data["members"])
        if self.name == "business_licence":
            rep = data.get("legal_representative_id_number")
            return (data["credit_code"], rep) if rep else (data["credit_code"],)
        if self.name == "driving_licence":
            return (data["licence_number"],)
        return (data["id_number"],)

    def holder_name(self, data: Mapping[str, Any]) -> str:
        """The name shown (masked) on the QR: the person, the head of household, or the company."""
        if self.name == "household_register":
            return next(m["name"] for m in data["members"] if m["relation"] == HEAD_OF_HOUSEHOLD)
        return str(data["name"])

    def expiry_date(self, data: Mapping[str, Any]) -> date | None:
        if self.expiry_field is None or data.get(self.expiry_field) is None:
            return None
        return date.fromisoformat(data[self.expiry_field])


def _authority_code(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


# Credit codes of the authorities that define each kind; configuration data, replaceable with the
# codes published by the defining ministries.
MPS_CODE = _authority_code("11100000000019000")  # 公安部
MOE_CODE = _authority_code("11100000000012000")  # 教育部 (国务院学位委员会)
SAMR_CODE = _authority_code("11100000000014000")  # 国家市场监督管理总局

_TITLES = {
    "id_card": "中华人民共和国居民身份证",
    "household_register": "居民户口簿",
    "driving_licence": "中华人民共和国机动车驾驶证",
    "business_licence": "营业执照",
}

_PERSON_NAME = FieldSpec("name", "姓名", max_length=40)
_SEX = FieldSpec("sex", "性别", "enum", choices=SEXES)
_ETHNICITY = FieldSpec("ethnicity", "民族", "ethnicity")
_BIRTH = FieldSpec("birth_date", "出生", "date")
_ADDRESS = FieldSpec("address", "住址", max_length=120)
_ID_NUMBER = FieldSpec("id_number", "公民身份号码", "id_number")

KINDS: dict[str, KindSpec] = {
    k.name: k
    for k in (
        KindSpec(
            "id_card",
            "居民身份证",
            1,
            MPS_CODE + "001",
            (
                _PERSON_NAME,
                _SEX,
                _ETHNICITY,
                _BIRTH,
                _ADDRESS,
                _ID_NUMBER,
                FieldSpec("issuing_authority", "签发机关", max_length=60),
                FieldSpec("valid_from", "有效期限起", "date"),
                FieldSpec("valid_until", "有效期限止", "date", nullable=True),
                FieldSpec("photo", "照片", "photo", optional=True),
            ),
            expiry_field="valid_until",
        ),
        KindSpec(
            "household_register",
            "居民户口簿",
            2,
            MPS_CODE + "002",
            (
                FieldSpec("household_number", "户号", max_length=20),
                FieldSpec("household_type", "户别", "enum", choices=HOUSEHOLD_TYPES),
                FieldSpec("address", "住址", max_length=120),
                FieldSpec("registration_authority", "户口登记机关", max_length=60),
                FieldSpec("members", "户内成员", "members"),
            ),
            expiry_field=None,
            member_fields=(
                _PERSON_NAME,
                FieldSpec("relation", "与户主关系", max_length=10),
                _SEX,
                _ETHNICITY,
                FieldSpec("birth_date", "出生日期", "date"),
                _ID_NUMBER,
                FieldSpec("birthplace", "出生地", max_length=60),
            ),
        ),
        KindSpec(
            "degree_certificate",
            "学位证书",
            3,
            MOE_CODE + "001",
            (
                _PERSON_NAME,
                _SEX,
                FieldSpec("birth_date", "出生日期", "date"),
                _ID_NUMBER,
                FieldSpec("degree", "学位", "enum", choices=DEGREES),
                FieldSpec("discipline", "学科/专业", max_length=60),
                FieldSpec("institution", "学位授予单位", max_length=60),
                FieldSpec("conferral_date", "授予日期", "date"),
                FieldSpec("certificate_number", "证书编号", "code", max_length=32),
            ),
            expiry_field=None,
        ),
        KindSpec(
            "driving_licence",
            "机动车驾驶证",
            4,
            MPS_CODE + "003",
            (
                FieldSpec("licence_number", "证号", "id_number"),
                _PERSON_NAME,
                _SEX,
                FieldSpec("nationality", "国籍", max_length=30),
                _ADDRESS,
                FieldSpec("birth_date", "出生日期", "date"),
                FieldSpec("first_issue_date", "初次领证日期", "date"),
                FieldSpec("vehicle_class", "准驾车型", "vehicle_classes"),
                FieldSpec("valid_from", "有效期限起", "date"),
                FieldSpec("valid_until", "有效期限止", "date"),
                FieldSpec("archive_number", "档案编号", "digits12"),
                FieldSpec("issuing_authority", "发证机关", max_length=60),
            ),
            expiry_field="valid_until",
        ),
        KindSpec(
            "business_licence",
            "营业执照",
            5,
            SAMR_CODE + "001",
            (
                FieldSpec("credit_code", "统一社会信用代码", "credit_code"),
                FieldSpec("name", "名称", max_length=100),
                FieldSpec("entity_type", "类型", max_length=40),
                FieldSpec("legal_representative", "法定代表人", max_length=40),
                # Not printed: lets the legal representative see and share the company's licence.
                FieldSpec("legal_representative_id_number", "法定代表人身份证号码", "id_number", optional=True, printed=False),
                FieldSpec("registered_capital", "注册资本", max_length=40),
                FieldSpec("established_on", "成立日期", "date"),
                FieldSpec("term_from", "营业期限自", "date"),
                FieldSpec("term_until", "营业期限至", "date", nullable=True),
                FieldSpec("domicile", "住所", max_length=120),
                FieldSpec("business_scope", "经营范围", max_length=1000),
                FieldSpec("registration_authority", "登记机关", max_length=60),
            ),
            expiry_field="term_until",
        ),
    )
}
KINDS_BY_CBOR = {k.cbor_code: k for k in KINDS.values()}


def get_kind(name: object, *, field_name: str = "kind") -> KindSpec:
    """The spec of kind ``name``; raises InvalidInput naming the field when it is unknown."""
    if isinstance(name, str) and name in KINDS:
        return KINDS[name]
    raise InvalidInput.single(field_name, f"unknown licence kind; expected one of {', '.join(KINDS)}")


Renderable = Callable[[str], bool]


class _Checker:
    """Collects problems over one record so all are reported together."""

    def __init__(self, can_render: Renderable | None) -> None:
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
        if spec.type == "members":
            return self.members(value, path)
        if spec.type == "vehicle_classes":
            return self.vehicle_classes(value, path)
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

    def vehicle_classes(self, value: object, path: str) -> list[str] | None:
        if isinstance(value, str):
            tokens = [t for t in _VEHICLE_SPLIT.findall(value.upper()) if t.strip(" ,，、")]
            rest = _VEHICLE_SPLIT.sub("", value.upper())
            if rest:
                self.add(path, f"unknown vehicle class {rest!r}; expected {' '.join(VEHICLE_CLASSES)}")
                return None
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            tokens = [v.strip().upper() for v in value]
        else:
            self.add(path, "must be a list of vehicle classes")
            return None
        unknown = [t for t in tokens if t not in VEHICLE_CLASSES]
        if unknown:
            self.add(path, f"unknown vehicle class {unknown[0]!r}; expected {' '.join(VEHICLE_CLASSES)}")
            return None
        if not tokens:
            self.add(path, "needs at least one vehicle class")
            return None
        return [c for c in VEHICLE_CLASSES if c in tokens]

    def members(self, value: object, path: str) -> list[dict[str, Any]] | None:
        if not isinstance(value, list) or not value:
            self.add(path, "must be a non-empty list of members")
            return None
        if len(value) > 30:
            self.add(path, "more than 30 members")
            return None
        spec = KINDS["household_register"].member_fields
        members = [self.record(spec, m, f"{path}.{i}") for i, m in enumerate(value)]
        heads = [i for i, m in enumerate(members) if m.get("relation") == HEAD_OF_HOUSEHOLD]
        if len(heads) != 1:
            self.add(path, f"exactly one member must have relation {HEAD_OF_HOUSEHOLD} (found {len(heads)})")
        seen: dict[str, int] = {}
        for i, m in enumerate(members):
            number = m.get("id_number")
            if number in seen:
                self.add(f"{path}.{i}.id_number", f"same as member {seen[number]}")
            elif number:
                seen[number] = i
            self.person(m, f"{path}.{i}", "id_number")
        return members

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
    checker = _Checker(can_render)
    out = checker.record(spec.fields, data, prefix)
    if spec.name in ("id_card", "degree_certificate"):
        checker.person(out, prefix, "id_number")
    if spec.name == "driving_licence":
        checker.person(out, prefix, "licence_number")
    orders = {
        "id_card": ("birth_date", "valid_from", "valid_until"),
        "degree_certificate": ("birth_date", "conferral_date"),
        "driving_licence": ("birth_date", "first_issue_date", "valid_from", "valid_until"),
        "business_licence": ("established_on", "term_from", "term_until"),
    }
    checker.order(out, prefix, *orders.get(spec.name, ()))
    if checker.problems:
        raise InvalidInput(checker.problems)
    return out
