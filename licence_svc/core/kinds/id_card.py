"""居民身份证: the person's card, with photo; validity printed with dots (2020.05.01-2040.05.01)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .common import ADDRESS, BIRTH, ETHNICITY, ID_NUMBER, MPS_CODE, PERSON_NAME, SEX, cn, dot, period
from .spec import DATE, ID_NUMBER as ID_NUMBER_SORT, NAME, FieldSpec, KindSpec, Page, PrintedField, Row


class IdCard(KindSpec):
    def pages(self, data: Mapping[str, Any]) -> tuple[Page, ...]:
        d, lab = data, self.field
        photo = base64.b64decode(d["photo"]) if d.get("photo") else None
        rows = (
            Row(lab("name").label, d["name"], 14),
            Row(lab("sex").label, d["sex"]),
            Row(lab("ethnicity").label, d["ethnicity"]),
            Row(lab("birth_date").label, cn(d["birth_date"])),
            Row(lab("address").label, d["address"], shrinkable=True),
            Row(lab("id_number").label, d["id_number"], 14),
            Row(lab("issuing_authority").label, d["issuing_authority"]),
            Row("有效期限", period(d["valid_from"], d.get("valid_until"), dot, "-")),
        )
        return (Page(self.title(d), rows, photo=photo, photo_rows=4 if photo else 0),)

    def printed_fields(self, data: Mapping[str, Any]) -> tuple[PrintedField, ...]:
        d = data
        return (
            PrintedField("name", "姓名", (d["name"],), NAME),
            PrintedField("birth_date", "出生", (cn(d["birth_date"]),), DATE),
            PrintedField("id_number", "公民身份号码", (d["id_number"],), ID_NUMBER_SORT),
            PrintedField("valid_from/valid_until", "有效期限", (period(d["valid_from"], d.get("valid_until"), dot, "-"),), DATE),
        )


KIND = IdCard(
    "id_card",
    "居民身份证",
    1,
    MPS_CODE + "001",
    (
        PERSON_NAME,
        SEX,
        ETHNICITY,
        BIRTH,
        ADDRESS,
        ID_NUMBER,
        FieldSpec("issuing_authority", "签发机关", max_length=60),
        FieldSpec("valid_from", "有效期限起", "date"),
        FieldSpec("valid_until", "有效期限止", "date", nullable=True),
        FieldSpec("photo", "照片", "photo", optional=True),
    ),
    expiry_field="valid_until",
    heading="中华人民共和国居民身份证",
    accent="#1d5b8c",
    issue_label="签发日期",
    key_fields=("id_number",),
    identity_field="id_number",
    date_order=("birth_date", "valid_from", "valid_until"),
    start_field="valid_from",
    page_labels=(("姓名", "性别", "民族", "出生", "住址", "公民身份号码", "签发机关", "有效期限"),),
)
