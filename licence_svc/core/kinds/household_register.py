"""居民户口簿: one household, its members a list (this kind's own field type); it belongs to every
member. The document is a front page and one 常住人口登记卡 per member; in a CSV the members travel
as a JSON column."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...errors import InvalidInput
from ..strictjson import JsonRefused, parse_json
from .common import ETHNICITY, ID_NUMBER, MPS_CODE, PERSON_NAME, SEX, cn
from .spec import CODE, DATE, ID_NUMBER as ID_NUMBER_SORT, NAME, FieldCheck, FieldSpec, KindSpec, Page, PrintedField, RecordChecker, Row

HOUSEHOLD_TYPES = ("家庭户", "集体户")
HEAD_OF_HOUSEHOLD = "户主"
MAX_MEMBERS = 30


class HouseholdRegister(KindSpec):
    def holder_ids(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(m["id_number"] for m in data["members"])

    def holder_name(self, data: Mapping[str, Any]) -> str:
        return next(str(m["name"]) for m in data["members"] if m["relation"] == HEAD_OF_HOUSEHOLD)

    def claim_subject(self, stored: Mapping[str, Any], holder: str, fold: Callable[[str], str]) -> dict[str, Any]:
        """The household's fields and those of the member who is ``holder`` (another member's never)."""
        out = {k: v for k, v in stored.items() if k != "members"}
        wanted = fold(holder)
        for member in stored.get("members") or ():
            if isinstance(member, Mapping) and fold(str(member.get("id_number", ""))) == wanted:
                out.update(member)
                break
        return out

    def value_check(self, field_type: str) -> FieldCheck | None:
        return self.members if field_type == "members" else None

    def members(self, checker: RecordChecker, spec: FieldSpec, value: object, path: str) -> list[dict[str, Any]] | None:
        """Every member a valid person record, exactly one 户主, no id number twice."""
        if not isinstance(value, list) or not value:
            checker.add(path, "must be a non-empty list of members")
            return None
        if len(value) > MAX_MEMBERS:
            checker.add(path, f"more than {MAX_MEMBERS} members")
            return None
        members = [checker.record(self.member_fields, m, f"{path}.{i}") for i, m in enumerate(value)]
        heads = [i for i, m in enumerate(members) if m.get("relation") == HEAD_OF_HOUSEHOLD]
        if len(heads) != 1:
            checker.add(path, f"exactly one member must have relation {HEAD_OF_HOUSEHOLD} (found {len(heads)})")
        seen: dict[str, int] = {}
        for i, m in enumerate(members):
            number = m.get("id_number")
            if number in seen:
                checker.add(f"{path}.{i}.id_number", f"same as member {seen[number]}")
            elif number:
                seen[number] = i
            checker.person(m, f"{path}.{i}", "id_number")
        return members

    def pages(self, data: Mapping[str, Any]) -> tuple[Page, ...]:
        d, lab = data, self.field
        title = self.title(d)
        members: Sequence[Mapping[str, Any]] = d["members"]
        head = self.holder_name(d)
        roster = "、".join(f"{m['name']}（{m['relation']}）" for m in members)
        front = (
            Row(lab("household_type").label, d["household_type"]),
            Row("户主姓名", head, 14),
            Row(lab("household_number").label, d["household_number"], 13),
            Row(lab("address").label, d["address"], shrinkable=True),
            Row(lab("registration_authority").label, d["registration_authority"], shrinkable=True),
            Row("户内人数", f"{len(members)}人"),
            Row(lab("members").label, roster, shrinkable=True),
        )
        pages = [Page(title, front)]
        mlab = {f.name: f.label for f in self.member_fields}
        intro = f"户号：{d['household_number']}　　户主姓名：{head}"
        for m in members:
            rows = (
                Row(mlab["name"], m["name"], 14),
                Row(mlab["relation"], m["relation"]),
                Row(mlab["sex"], m["sex"]),
                Row(mlab["ethnicity"], m["ethnicity"]),
                Row(mlab["birth_date"], cn(m["birth_date"])),
                Row(mlab["id_number"], m["id_number"], 14),
                Row(mlab["birthplace"], m["birthplace"], shrinkable=True),
            )
            pages.append(Page("常住人口登记卡", rows, header=title, intro=intro, intro_size=11))
        return tuple(pages)

    def printed_fields(self, data: Mapping[str, Any]) -> tuple[PrintedField, ...]:
        d = data
        members: Sequence[Mapping[str, Any]] = d["members"]
        return (
            PrintedField("members.name", "户主姓名", (self.holder_name(d),), NAME),
            PrintedField("household_number", "户号", (d["household_number"],), CODE),
            PrintedField("members.name", "姓名", tuple(m["name"] for m in members), NAME),
            PrintedField("members.birth_date", "出生日期", tuple(cn(m["birth_date"]) for m in members), DATE),
            PrintedField("members.id_number", "公民身份号码", tuple(m["id_number"] for m in members), ID_NUMBER_SORT),
        )

    def csv_cell(self, name: str, text: str) -> Any:
        """The members (a list) travel as a JSON column."""
        if name == "members" and text != "":
            try:
                return parse_json(text)
            except JsonRefused as exc:
                raise InvalidInput.single(name, f"not a JSON list: {exc}") from exc
        return super().csv_cell(name, text)


KIND = HouseholdRegister(
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
        PERSON_NAME,
        FieldSpec("relation", "与户主关系", max_length=10),
        SEX,
        ETHNICITY,
        FieldSpec("birth_date", "出生日期", "date"),
        ID_NUMBER,
        FieldSpec("birthplace", "出生地", max_length=60),
    ),
    heading="居民户口簿",
    accent="#7b2d26",
    issue_label="签发日期",
    key_fields=("members.0.id_number",),
    page_labels=(
        ("户别", "户主姓名", "户号", "住址", "户口登记机关", "户内人数", "户内成员"),
        ("姓名", "与户主关系", "性别", "民族", "出生日期", "公民身份号码", "出生地"),
    ),
)
