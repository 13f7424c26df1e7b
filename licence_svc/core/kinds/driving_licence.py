"""机动车驾驶证: the licence number is the holder's identity number; 准驾车型 is this kind's own field
type (a list of GA/T vehicle classes, also accepted as a string such as "C1E")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import ADDRESS, MPS_CODE, PERSON_NAME, SEX, period
from .spec import CODE, DATE, ID_NUMBER, NAME, FieldCheck, FieldSpec, KindSpec, Page, PrintedField, RecordChecker, Row

VEHICLE_CLASSES = ("A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P")
VEHICLE_CLASS_PATTERN = re.compile("|".join(sorted(VEHICLE_CLASSES, key=len, reverse=True)))
"""One vehicle class (longest first, so that A1 is never read as A and 1)."""

_VEHICLE_SPLIT = re.compile(VEHICLE_CLASS_PATTERN.pattern + r"|[,，、\s]+")


def vehicle_classes(checker: RecordChecker, spec: FieldSpec, value: object, path: str) -> list[str] | None:
    """The classes in GA/T order, from a list or from a string such as "C1E" or "c1, e"."""
    if isinstance(value, str):
        tokens = [t for t in _VEHICLE_SPLIT.findall(value.upper()) if t.strip(" ,，、")]
        rest = _VEHICLE_SPLIT.sub("", value.upper())
        if rest:
            checker.add(path, f"unknown vehicle class {rest!r}; expected {' '.join(VEHICLE_CLASSES)}")
            return None
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        tokens = [v.strip().upper() for v in value]
    else:
        checker.add(path, "must be a list of vehicle classes")
        return None
    unknown = [t for t in tokens if t not in VEHICLE_CLASSES]
    if unknown:
        checker.add(path, f"unknown vehicle class {unknown[0]!r}; expected {' '.join(VEHICLE_CLASSES)}")
        return None
    if not tokens:
        checker.add(path, "needs at least one vehicle class")
        return None
    return [c for c in VEHICLE_CLASSES if c in tokens]


class DrivingLicence(KindSpec):
    def holder_ids(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        return (data["licence_number"],)

    def value_check(self, field_type: str) -> FieldCheck | None:
        return vehicle_classes if field_type == "vehicle_classes" else None

    def pages(self, data: Mapping[str, Any]) -> tuple[Page, ...]:
        d, lab = data, self.field
        rows = (
            Row(lab("licence_number").label, d["licence_number"], 14),
            Row(lab("name").label, d["name"], 14),
            Row(lab("sex").label, d["sex"]),
            Row(lab("nationality").label, d["nationality"]),
            Row(lab("address").label, d["address"], shrinkable=True),
            Row(lab("birth_date").label, d["birth_date"]),
            Row(lab("first_issue_date").label, d["first_issue_date"]),
            Row(lab("vehicle_class").label, "".join(d["vehicle_class"]), 14),
            Row("有效期限", period(d["valid_from"], d.get("valid_until"), str, " 至 ")),
            Row(lab("archive_number").label, d["archive_number"], 13),
            Row(lab("issuing_authority").label, d["issuing_authority"], shrinkable=True),
        )
        return (Page(self.title(d), rows),)

    def printed_fields(self, data: Mapping[str, Any]) -> tuple[PrintedField, ...]:
        d = data
        return (
            PrintedField("licence_number", "证号", (d["licence_number"],), ID_NUMBER),
            PrintedField("name", "姓名", (d["name"],), NAME),
            PrintedField("birth_date", "出生日期", (d["birth_date"],), DATE),
            PrintedField("first_issue_date", "初次领证日期", (d["first_issue_date"],), DATE),
            PrintedField("valid_from/valid_until", "有效期限", (period(d["valid_from"], d.get("valid_until"), str, " 至 "),), DATE),
            PrintedField("archive_number", "档案编号", (d["archive_number"],), CODE),
        )


KIND = DrivingLicence(
    "driving_licence",
    "机动车驾驶证",
    4,
    MPS_CODE + "003",
    (
        FieldSpec("licence_number", "证号", "id_number"),
        PERSON_NAME,
        SEX,
        FieldSpec("nationality", "国籍", max_length=30),
        ADDRESS,
        FieldSpec("birth_date", "出生日期", "date"),
        FieldSpec("first_issue_date", "初次领证日期", "date"),
        FieldSpec("vehicle_class", "准驾车型", "vehicle_classes"),
        FieldSpec("valid_from", "有效期限起", "date"),
        FieldSpec("valid_until", "有效期限止", "date"),
        FieldSpec("archive_number", "档案编号", "digits12"),
        FieldSpec("issuing_authority", "发证机关", max_length=60),
    ),
    expiry_field="valid_until",
    heading="中华人民共和国机动车驾驶证",
    accent="#23456e",
    key_fields=("licence_number",),
    identity_field="licence_number",
    date_order=("birth_date", "first_issue_date", "valid_from", "valid_until"),
    start_field="valid_from",
    page_labels=(
        ("证号", "姓名", "性别", "国籍", "住址", "出生日期", "初次领证日期", "准驾车型", "有效期限", "档案编号", "发证机关"),
    ),
)
