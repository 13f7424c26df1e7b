"""居民身份证: the person's card, with photo; validity printed with dots (2020.05.01-2040.05.01)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from .common import ADDRESS, BIRTH, ETHNICITY, ID_NUMBER, MPS_CODE, PERSON_NAME, SEX, cn, dot, period
from .spec import FieldSpec, KindSpec, Page, Row


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
)
