"""学位证书: the heading names the degree, and a paragraph above the table cites the law it is
conferred under (the Degree Law from 2025-01-01, the Regulations on Academic Degrees before)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from .common import ID_NUMBER, MOE_CODE, PERSON_NAME, SEX, cn
from .spec import CODE, DATE, ID_NUMBER as ID_NUMBER_SORT, NAME, FieldSpec, KindSpec, Page, PrintedField, Row

DEGREES = ("学士", "硕士", "博士")


class DegreeCertificate(KindSpec):
    def title(self, data: Mapping[str, Any]) -> str:
        return f"{data.get('degree', '')}学位证书"

    def pages(self, data: Mapping[str, Any]) -> tuple[Page, ...]:
        d, lab = data, self.field
        intro = (
            f"{d['name']}，{d['sex']}，{cn(d['birth_date'])}生。在{d['discipline']}学科/专业"
            f"已通过{d['degree']}学位的课程考试和论文答辩，成绩合格。"
            f"根据{degree_law(d['conferral_date'])}的规定，授予{d['degree']}学位。"
        )
        rows = (
            Row(lab("name").label, d["name"], 14),
            Row(lab("sex").label, d["sex"]),
            Row(lab("birth_date").label, cn(d["birth_date"])),
            Row(lab("id_number").label, d["id_number"], 13),
            Row(lab("degree").label, d["degree"]),
            Row(lab("discipline").label, d["discipline"], shrinkable=True),
            Row(lab("institution").label, d["institution"], shrinkable=True),
            Row(lab("conferral_date").label, cn(d["conferral_date"])),
            Row(lab("certificate_number").label, d["certificate_number"], 13),
        )
        return (Page(self.title(d), rows, intro=intro, intro_size=13),)

    def printed_fields(self, data: Mapping[str, Any]) -> tuple[PrintedField, ...]:
        d = data
        return (
            PrintedField("name", "姓名", (d["name"],), NAME),
            PrintedField("birth_date", "出生日期", (cn(d["birth_date"]),), DATE),
            PrintedField("id_number", "公民身份号码", (d["id_number"],), ID_NUMBER_SORT),
            PrintedField("conferral_date", "授予日期", (cn(d["conferral_date"]),), DATE),
            PrintedField("certificate_number", "证书编号", (d["certificate_number"],), CODE),
        )


def degree_law(conferral_iso: str) -> str:
    """The Degree Law replaced the Regulations on Academic Degrees on 2025-01-01."""
    if date.fromisoformat(conferral_iso) >= date(2025, 1, 1):
        return "《中华人民共和国学位法》"
    return "《中华人民共和国学位条例》"


KIND = DegreeCertificate(
    "degree_certificate",
    "学位证书",
    3,
    MOE_CODE + "001",
    (
        PERSON_NAME,
        SEX,
        FieldSpec("birth_date", "出生日期", "date"),
        ID_NUMBER,
        FieldSpec("degree", "学位", "enum", choices=DEGREES),
        FieldSpec("discipline", "学科/专业", max_length=60),
        FieldSpec("institution", "学位授予单位", max_length=60),
        FieldSpec("conferral_date", "授予日期", "date"),
        FieldSpec("certificate_number", "证书编号", "code", max_length=32),
    ),
    expiry_field=None,
    accent="#8a1c1c",
    key_fields=("id_number",),
    identity_field="id_number",
    date_order=("birth_date", "conferral_date"),
    start_field="conferral_date",
    page_labels=(("姓名", "性别", "出生日期", "公民身份号码", "学位", "学科/专业", "学位授予单位", "授予日期", "证书编号"),),
)
