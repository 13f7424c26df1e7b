"""Field matching for checks (核验): which fields a claim may name, normalisation, vehicle classes."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licence_svc.core import fieldcheck
from licence_svc.core.fieldcheck import PERMITS, claim_fields, match, normalise_claims, permitted_classes, valid_on
from licence_svc.core.kinds import KINDS, VEHICLE_CLASSES
from licence_svc.errors import InvalidInput

ID_CARD = {
    "name": "张晓明",
    "sex": "男",
    "ethnicity": "汉",
    "birth_date": "1990-03-07",
    "address": "北京市东城区景山前街4号院2号楼3单元501室",
    "id_number": "110101199003071233",
    "issuing_authority": "北京市公安局东城分局",
    "valid_from": "2020-05-01",
    "valid_until": "2040-05-01",
}
DRIVER = {"licence_number": "440305198501194170", "name": "陈建国", "vehicle_class": ["C1", "E"], "valid_from": "2018-04-12", "valid_until": "2028-04-12"}
HOUSEHOLD = {
    "household_number": "110101006321",
    "household_type": "家庭户",
    "address": "北京市东城区东四十条街道南新仓社区12号",
    "registration_authority": "北京市公安局东城分局东四派出所",
    "members": [
        {"name": "刘䶮", "relation": "户主", "sex": "男", "ethnicity": "汉", "birth_date": "1978-11-02", "id_number": "110101197811020355", "birthplace": "北京市东城区"},
        {"name": "王淑𠮷", "relation": "配偶", "sex": "女", "ethnicity": "满", "birth_date": "1980-06-15", "id_number": "130102198006150442", "birthplace": "河北省石家庄市"},
    ],
}


def fullwidth(text: str) -> str:
    """ASCII → the full-width forms a Chinese input method types (A → Ａ, 1 → １, space → U+3000)."""
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


# ---- which fields a claim may name -----------------------------------------------------------


def test_claimable_fields_leave_out_photo_and_members() -> None:
    assert "photo" not in claim_fields("id_card")
    assert {"name", "id_number", "valid_until"} <= set(claim_fields("id_card"))
    household = set(claim_fields("household_register"))
    assert "members" not in household
    assert {"household_number", "address", "name", "relation", "birth_date", "id_number"} <= household
    assert {"credit_code", "name", "legal_representative", "entity_type", "established_on", "domicile"} <= set(claim_fields("business_licence"))


@pytest.mark.parametrize("kind", list(KINDS))
def test_unknown_claim_field_names_it(kind: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        match(kind, {}, {"colour": "红", "photo": "x"}, "110101199003071233")
    assert {p.field for p in exc.value.problems} == {"claims.colour", "claims.photo"}


@pytest.mark.parametrize(
    ("claims", "field", "reason"),
    [
        ({"birth_date": "yesterday"}, "claims.birth_date", "date"),
        ({"birth_date": "1990-02-30"}, "claims.birth_date", "date"),
        ({"name": 3}, "claims.name", "string"),
        ({"name": None}, "claims.name", "string"),
        ({"name": "x" * 1001}, "claims.name", "longer"),
    ],
)
def test_claims_that_cannot_be_of_the_field_are_refused(claims: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as exc:
        normalise_claims("id_card", claims)
    assert exc.value.problems[0].field == field


def test_vehicle_class_claim_must_name_classes() -> None:
    for bad in ("Z9", "C1X", 7, ["C1", 2], ""):
        with pytest.raises(InvalidInput) as exc:
            normalise_claims("driving_licence", {"vehicle_class": bad})
        assert exc.value.problems[0].field == "claims.vehicle_class"


# ---- normalisation ---------------------------------------------------------------------------


def test_id_card_claims_match_after_normalisation() -> None:
    claims = {"name": " 张晓明\u3000", "id_number": fullwidth("11010119900307123") + "3", "birth_date": "1990年3月7日", "ethnicity": "汉族"}
    assert match("id_card", ID_CARD, claims, ID_CARD["id_number"]) == dict.fromkeys(claims, True)
    assert match("id_card", ID_CARD, {"name": "张小明", "birth_date": "1990/3/8"}, ID_CARD["id_number"]) == {"name": False, "birth_date": False}


def test_code_case_and_long_term_dates() -> None:
    data = {**ID_CARD, "id_number": "11010119900307155X", "valid_until": None}
    assert match("id_card", data, {"id_number": "11010119900307155x"}, data["id_number"]) == {"id_number": True}
    assert match("id_card", data, {"valid_until": "长期"}, data["id_number"]) == {"valid_until": True}
    assert match("id_card", data, {"valid_until": None}, data["id_number"]) == {"valid_until": True}
    assert match("id_card", data, {"valid_until": "2040-05-01"}, data["id_number"]) == {"valid_until": False}
    assert match("id_card", ID_CARD, {"valid_until": "长期"}, ID_CARD["id_number"]) == {"valid_until": False}


def test_text_is_not_case_folded() -> None:
    """Only codes ignore case: a name in Latin letters is compared as written (after width folding)."""
    data = {**ID_CARD, "name": "Anna"}
    assert match("id_card", data, {"name": "ＡＮＮＡ"}, data["id_number"]) == {"name": False}
    assert match("id_card", data, {"name": "Ａｎｎａ"}, data["id_number"]) == {"name": True}


@given(st.text(max_size=40))
def test_normalising_text_is_idempotent(text: str) -> None:
    once = fieldcheck.normalise_text(text)
    assert fieldcheck.normalise_text(once) == once
    assert once == once.strip()


@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXYabcdefx -", min_size=1, max_size=30))
def test_a_code_matches_its_full_width_and_lower_case_forms(code: str) -> None:
    """What an input method or a careless clerk makes of a code still matches it."""
    stored = fieldcheck.normalise_code(code)
    assert fieldcheck.normalise_code(fullwidth(code.lower())) == stored
    assert fieldcheck.normalise_code(f"  {code}\u3000") == stored


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
def test_every_date_spelling_normalises_to_iso(day: date) -> None:
    iso = day.isoformat()
    for text in (iso, f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日", day.strftime("%Y%m%d"), fullwidth(iso), f"{day.year}.{day.month:02d}.{day.day}"):
        assert fieldcheck.normalise_date(text) == iso, text


@given(st.sampled_from(claim_fields("id_card")), st.data())
def test_the_stored_value_always_matches_itself(field: str, data: st.DataObject) -> None:
    """A claim of exactly the stored value, in any width or with stray spaces, is always true."""
    value = ID_CARD[field]
    variant = data.draw(st.sampled_from([value, f" {value} ", fullwidth(value), unicodedata.normalize("NFKC", value)]))
    assert match("id_card", ID_CARD, {field: variant}, ID_CARD["id_number"]) == {field: True}


# ---- household registers: the holder's own member only -------------------------------------


def test_household_member_fields_are_the_holders() -> None:
    spouse = HOUSEHOLD["members"][1]["id_number"]
    claims = {"name": "王淑𠮷", "relation": "配偶", "household_number": "110101006321", "birth_date": "1980-06-15"}
    assert match("household_register", HOUSEHOLD, claims, spouse) == dict.fromkeys(claims, True)
    # the head of household's name is not the spouse's: another member's data never matches
    assert match("household_register", HOUSEHOLD, {"name": "刘䶮", "relation": "户主"}, spouse) == {"name": False, "relation": False}
    head = HOUSEHOLD["members"][0]["id_number"]
    assert match("household_register", HOUSEHOLD, {"name": "刘䶮", "relation": "户主"}, head) == {"name": True, "relation": True}


def test_household_holder_not_a_member_matches_nothing_personal() -> None:
    assert match("household_register", HOUSEHOLD, {"name": "刘䶮", "address": HOUSEHOLD["address"]}, "110101199003071233") == {"name": False, "address": True}


# ---- driving licences: 准驾车型 ----------------------------------------------------------------


def test_permits_follow_the_rules() -> None:
    assert PERMITS["A1"] == {"A1", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "M"}
    assert PERMITS["A2"] == {"A2", "B1", "B2", "C1", "C2", "C3", "C4", "M"}
    assert PERMITS["C1"] == {"C1", "C2", "C3", "C4"}
    assert PERMITS["D"] == {"D", "E", "F"}
    assert PERMITS["C2"] == {"C2"} and PERMITS["M"] == {"M"}
    assert permitted_classes(["C1", "E"]) == {"C1", "C2", "C3", "C4", "E", "F"}


@given(st.sampled_from(VEHICLE_CLASSES), st.sampled_from(VEHICLE_CLASSES))
def test_permits_are_reflexive_and_transitive(a: str, b: str) -> None:
    assert a in PERMITS[a]
    if b in PERMITS[a]:
        assert PERMITS[b] <= PERMITS[a]


def test_vehicle_class_claims() -> None:
    holder = DRIVER["licence_number"]
    on = date(2025, 1, 1)
    for claim, expected in (("C2", True), ("c1", True), ("Ｃ１", True), ("F", True), ("C1E", True), (["C2", "F"], True), ("A1", False), ("B2", False), ("C1, A2", False)):
        assert match("driving_licence", DRIVER, {"vehicle_class": claim}, holder, on) == {"vehicle_class": expected}, claim


def test_vehicle_class_is_asked_for_a_date() -> None:
    holder = DRIVER["licence_number"]
    assert match("driving_licence", DRIVER, {"vehicle_class": "C2"}, holder, date(2028, 4, 12)) == {"vehicle_class": True}
    assert match("driving_licence", DRIVER, {"vehicle_class": "C2"}, holder, date(2028, 4, 13)) == {"vehicle_class": False}
    assert match("driving_licence", DRIVER, {"vehicle_class": "C2"}, holder, date(2018, 4, 11)) == {"vehicle_class": False}


def test_validity_period() -> None:
    assert valid_on("driving_licence", DRIVER, date(2028, 4, 12))
    assert not valid_on("driving_licence", DRIVER, date(2028, 4, 13))
    assert not valid_on("id_card", ID_CARD, date(2020, 4, 30))
    assert valid_on("id_card", {**ID_CARD, "valid_until": None}, date(2999, 1, 1))
    assert valid_on("household_register", HOUSEHOLD, date(1900, 1, 1))


def test_missing_optional_field_never_matches() -> None:
    business = {"credit_code": "91110101MA01ABCD19", "name": "北京云证科技有限公司", "legal_representative": "赵文博", "term_from": "2019-08-08", "term_until": None}
    holder = business["credit_code"]
    assert match("business_licence", business, {"legal_representative_id_number": "110101199003071233"}, holder) == {"legal_representative_id_number": False}
    assert match("business_licence", business, {"legal_representative": "赵文博", "credit_code": "91110101ma01abcd19"}, holder) == {"legal_representative": True, "credit_code": True}
