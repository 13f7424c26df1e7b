"""营业执照: a company's licence; it belongs to the credit code and, when given, to the legal
representative (whose id number is kept but not printed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .common import SAMR_CODE, cn, period
from .spec import CREDIT_CODE, DATE, NAME, ORG_NAME, FieldSpec, KindSpec, Page, PrintedField, Row


class BusinessLicence(KindSpec):
    def holder_ids(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        rep = data.get("legal_representative_id_number")
        return (data["credit_code"], rep) if rep else (data["credit_code"],)

    def pages(self, data: Mapping[str, Any]) -> tuple[Page, ...]:
        d, lab = data, self.field
        rows = (
            Row(lab("credit_code").label, d["credit_code"], 13),
            Row(lab("name").label, d["name"], 13, shrinkable=True),
            Row(lab("entity_type").label, d["entity_type"], shrinkable=True),
            Row(lab("legal_representative").label, d["legal_representative"]),
            Row(lab("registered_capital").label, d["registered_capital"]),
            Row(lab("established_on").label, cn(d["established_on"])),
            Row("营业期限", period(d["term_from"], d.get("term_until"), cn, " 至 ")),
            Row(lab("domicile").label, d["domicile"], shrinkable=True),
            Row(lab("business_scope").label, d["business_scope"], 11, shrinkable=True),
            Row(lab("registration_authority").label, d["registration_authority"], shrinkable=True),
        )
        return (Page(self.title(d), rows),)

    def printed_fields(self, data: Mapping[str, Any]) -> tuple[PrintedField, ...]:
        d = data
        return (
            PrintedField("credit_code", "统一社会信用代码", (d["credit_code"],), CREDIT_CODE),
            PrintedField("name", "名称", (d["name"],), ORG_NAME),
            PrintedField("legal_representative", "法定代表人", (d["legal_representative"],), NAME),
            PrintedField("established_on", "成立日期", (cn(d["established_on"]),), DATE),
            PrintedField("term_from/term_until", "营业期限", (period(d["term_from"], d.get("term_until"), cn, " 至 "),), DATE),
        )


KIND = BusinessLicence(
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
    heading="营业执照",
    accent="#9a3412",
    key_fields=("credit_code",),
    date_order=("established_on", "term_from", "term_until"),
    start_field="term_from",
    page_labels=(
        ("统一社会信用代码", "名称", "类型", "法定代表人", "注册资本", "成立日期", "营业期限", "住所", "经营范围", "登记机关"),
    ),
    names_representatives=True,
)
