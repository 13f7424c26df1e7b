"""The five licence kinds: samples validate and normalise; bad records report every fault at once."""

from __future__ import annotations

import base64
import copy
import io
import re
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from licence_svc.core.kinds import KINDS, VEHICLE_CLASSES, get_kind, validate
from licence_svc.errors import FieldProblem, InvalidInput, LicenceError
from tests.helpers import load_sample

KIND_NAMES = ["id_card", "household_register", "degree_certificate", "driving_licence", "business_licence"]

FEW = settings(max_examples=40, deadline=None, database=None)

REF_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def ref_id_number(first17: str) -> str:
    """A complete ID number from its first 17 digits (GB 11643, written from the spec)."""
    total = sum(int(first17[i]) * REF_ID_WEIGHTS[i] for i in range(17))
    return first17 + "10X98765432"[total % 11]


def make_record(kind: str, **overrides: Any) -> dict[str, Any]:
    """A valid record of ``kind`` (a copy of its sample) with fields replaced or, for ``DROP``, removed."""
    record = copy.deepcopy(load_sample(kind))
    for key, value in overrides.items():
        if value is DROP:
            record.pop(key, None)
        else:
            record[key] = value
    return record


DROP = object()


def problems_of(kind: str, data: object, **kwargs: Any) -> list[FieldProblem]:
    with pytest.raises(InvalidInput) as info:
        validate(kind, data, **kwargs)
    return info.value.problems


def assert_problems(problems: list[FieldProblem], expected: dict[str, str]) -> None:
    """Exactly the fields in ``expected`` are reported, once each, with a reason matching the regex."""
    fields = [p.field for p in problems]
    assert sorted(fields) == sorted(expected), problems
    for p in problems:
        assert re.search(expected[p.field], p.reason), p


def png_b64(width: int = 8, height: int = 10, mode: str = "RGB") -> str:
    buf = io.BytesIO()
    Image.new(mode, (width, height)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


# ---------------------------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_each_sample_validates(kind: str) -> None:
    sample = load_sample(kind)
    out = validate(kind, sample)
    assert out == sample  # the samples are already in normal form
    assert validate(kind, out) == out  # and normalising is idempotent


def test_kinds_are_the_five_of_the_spec() -> None:
    assert sorted(KINDS) == sorted(KIND_NAMES)
    assert [f.name for f in KINDS["id_card"].fields] == [
        "name", "sex", "ethnicity", "birth_date", "address", "id_number",
        "issuing_authority", "valid_from", "valid_until", "photo",
    ]  # fmt: skip
    assert [f.name for f in KINDS["household_register"].member_fields] == [
        "name", "relation", "sex", "ethnicity", "birth_date", "id_number", "birthplace",
    ]  # fmt: skip


def test_id_card_normalises() -> None:
    record = make_record(
        "id_card",
        name="  张晓明 ",
        ethnicity="汉族",
        sex=" 女",
        birth_date="1949-12-31",
        id_number="11010519491231002x",
        valid_until=None,
    )
    out = validate("id_card", record)
    assert out["name"] == "张晓明"
    assert out["ethnicity"] == "汉"
    assert out["sex"] == "女"
    assert out["id_number"] == "11010519491231002X"
    assert out["valid_until"] is None  # 长期
    assert KINDS["id_card"].expiry_date(out) is None


@pytest.mark.parametrize(("given_", "normal"), [("满族", "满"), ("土家族", "土家"), ("土族", "土"), ("蒙古", "蒙古"), ("其他", "其他")])
def test_ethnicity_normalises(given_: str, normal: str) -> None:
    assert validate("id_card", make_record("id_card", ethnicity=given_))["ethnicity"] == normal


@pytest.mark.parametrize(
    ("given_", "normal"),
    [
        ("C1E", ["C1", "E"]),
        ("EC1", ["C1", "E"]),
        ("c1e", ["C1", "E"]),
        ("C1, E", ["C1", "E"]),
        ("C1、E", ["C1", "E"]),
        ("A1A2 B1", ["A1", "A2", "B1"]),
        (["e", " c1 "], ["C1", "E"]),
        ("C1C1", ["C1"]),
        ("P", ["P"]),
    ],
)
def test_vehicle_class_normalises(given_: Any, normal: list[str]) -> None:
    assert validate("driving_licence", make_record("driving_licence", vehicle_class=given_))["vehicle_class"] == normal


@FEW
@given(
    st.lists(st.sampled_from(VEHICLE_CLASSES), min_size=1, max_size=6),
    st.lists(st.sampled_from(["", " ", ",", "，", "、"]), min_size=6, max_size=6),
)
def test_vehicle_class_string_any_order_and_separators(classes: list[str], seps: list[str]) -> None:
    text = "".join(c + s for c, s in zip(classes, seps))
    out = validate("driving_licence", make_record("driving_licence", vehicle_class=text))
    assert out["vehicle_class"] == [c for c in VEHICLE_CLASSES if c in classes]


@pytest.mark.parametrize(
    ("given_", "reason"),
    [
        ("C7", r"unknown vehicle class 'C7'"),
        ("C1G", r"unknown vehicle class 'G'"),
        (["C1E"], r"unknown vehicle class 'C1E'"),
        ("", r"needs at least one vehicle class"),
        ([], r"needs at least one vehicle class"),
        (12, r"must be a list of vehicle classes"),
        (["C1", 2], r"must be a list of vehicle classes"),
    ],
)
def test_vehicle_class_refused(given_: Any, reason: str) -> None:
    problems = problems_of("driving_licence", make_record("driving_licence", vehicle_class=given_))
    assert_problems(problems, {"data.vehicle_class": reason})


# ---------------------------------------------------------------------------------------------
# Generated valid records (property tests)
# ---------------------------------------------------------------------------------------------

births = st.dates(min_value=date(1920, 1, 1), max_value=date(2005, 12, 31))


@FEW
@given(births, st.integers(0, 999), st.sampled_from(["110101", "320102", "440305", "650102"]))
def test_generated_id_cards_validate_and_substitutions_do_not(born: date, seq: int, region: str) -> None:
    number = ref_id_number(region + born.strftime("%Y%m%d") + f"{seq:03d}")
    record = make_record(
        "id_card",
        birth_date=born.isoformat(),
        sex="男" if seq % 2 else "女",
        id_number=number,
        valid_from="2020-05-01",
        valid_until=None,
    )
    assert validate("id_card", record)["id_number"] == number
    # one changed digit anywhere in the number is refused, and named
    i = seq % 17
    changed = number[:i] + str((int(number[i]) + 1 + seq % 8) % 10) + number[i + 1 :]
    if changed[0] == "0":
        changed = "9" + changed[1:]
    record["id_number"] = changed
    problems = problems_of("id_card", record)
    assert [p.field for p in problems] == ["data.id_number"]


@FEW
@given(births, st.integers(0, 999))
def test_sex_and_birth_date_must_agree_with_id_number(born: date, seq: int) -> None:
    number = ref_id_number("110101" + born.strftime("%Y%m%d") + f"{seq:03d}")
    wrong_sex = "女" if seq % 2 else "男"
    other_day = born.replace(day=28 if born.day != 28 else 27)
    record = make_record(
        "degree_certificate", id_number=number, sex=wrong_sex, birth_date=other_day.isoformat()
    )
    assert_problems(
        problems_of("degree_certificate", record),
        {
            "data.sex": r"^does not match the sex digit of id_number$",
            "data.birth_date": r"^does not match the birth date in id_number$",
        },
    )


# ---------------------------------------------------------------------------------------------
# One bad record per kind, every fault reported at once
# ---------------------------------------------------------------------------------------------


def test_id_card_reports_every_fault() -> None:
    record = make_record(
        "id_card",
        id_number="110101199003071234",  # check digit wrong (…233 is right)
        valid_until="2023-02-30",  # impossible date
        birth_date="2021-01-01",  # after valid_from: order reversed
        sex="M",  # not 男/女
        ethnicity="火星族",
        photo=base64.b64encode(b"GIF89a\x01\x00\x01\x00").decode(),  # not JPEG/PNG
        name=None,  # null not allowed
        issuing_authority=DROP,  # missing
        nickname="小明",  # unknown field
    )
    assert_problems(
        problems_of("id_card", record),
        {
            "data.id_number": r"^check digit mismatch$",
            "data.valid_until": r"^not a real date$",
            "data.valid_from": r"^earlier than birth_date$",
            "data.sex": r"^must be one of 男/女$",
            "data.ethnicity": r"GB/T 3304",
            "data.photo": r"^must be a JPEG or PNG image$",
            "data.name": r"^must not be null$",
            "data.issuing_authority": r"^missing$",
            "data.nickname": r"^unknown field$",
        },
    )


def test_household_register_reports_every_fault() -> None:
    record = make_record("household_register", household_type="单身户")
    members = record["members"]
    twin = copy.deepcopy(members[0])
    twin["relation"] = "子"
    twin["hobby"] = "围棋"  # unknown field in a member
    members.append(twin)  # members.3: same id_number as members.0
    members[0]["birth_date"] = "1978-11-03"  # does not match the ID number
    members[1]["relation"] = "户主"  # a second 户主
    members[1]["id_number"] = "130102198006150443"  # check digit wrong
    del members[1]["birthplace"]  # missing
    members[2]["name"] = None  # null not allowed
    assert_problems(
        problems_of("household_register", record),
        {
            "data.household_type": r"^must be one of 家庭户/集体户$",
            "data.members": r"exactly one member must have relation 户主 \(found 2\)",
            "data.members.0.birth_date": r"^does not match the birth date in id_number$",
            "data.members.1.id_number": r"^check digit mismatch$",
            "data.members.1.birthplace": r"^missing$",
            "data.members.2.name": r"^must not be null$",
            "data.members.3.id_number": r"^same as member 0$",
            "data.members.3.hobby": r"^unknown field$",
        },
    )


def test_household_register_without_head() -> None:
    record = make_record("household_register")
    record["members"][0]["relation"] = "本人"
    assert_problems(
        problems_of("household_register", record),
        {"data.members": r"exactly one member must have relation 户主 \(found 0\)"},
    )


def test_duplicate_member_id_number_ignores_case_of_x() -> None:
    record = make_record("household_register")
    head = record["members"][0]
    head.update(birth_date="1949-12-31", sex="女", id_number="11010519491231002X")
    twin = dict(head, relation="姐", id_number="11010519491231002x")
    record["members"].append(twin)
    assert_problems(problems_of("household_register", record), {"data.members.3.id_number": r"^same as member 0$"})


@pytest.mark.parametrize(
    ("members", "field", "reason"),
    [
        ([], "data.members", r"^must be a non-empty list of members$"),
        ("刘䶮", "data.members", r"^must be a non-empty list of members$"),
        (None, "data.members", r"^must not be null$"),
    ],
)
def test_household_members_must_be_a_list(members: Any, field: str, reason: str) -> None:
    assert_problems(problems_of("household_register", make_record("household_register", members=members)), {field: reason})


def test_household_member_that_is_not_an_object() -> None:
    record = make_record("household_register")
    record["members"][1] = "王淑𠮷"
    assert_problems(problems_of("household_register", record), {"data.members.1": r"^must be a JSON object$"})


def test_household_with_more_than_30_members() -> None:
    record = make_record("household_register")
    record["members"] = record["members"] * 11
    assert_problems(problems_of("household_register", record), {"data.members": r"more than 30 members"})


def test_degree_certificate_reports_every_fault() -> None:
    record = make_record(
        "degree_certificate",
        sex="男",  # the ID number's digit 17 is even: 女
        conferral_date="1990-01-01",  # before birth: order reversed
        degree="副博士",
        certificate_number="No. 123",
        discipline="   ",  # empty after trimming
        institution=DROP,
        gpa="3.9",
    )
    assert_problems(
        problems_of("degree_certificate", record),
        {
            "data.sex": r"^does not match the sex digit of id_number$",
            "data.conferral_date": r"^earlier than birth_date$",
            "data.degree": r"^must be one of 学士/硕士/博士$",
            "data.certificate_number": r"^may hold only letters, digits and hyphens$",
            "data.discipline": r"^must not be empty$",
            "data.institution": r"^missing$",
            "data.gpa": r"^unknown field$",
        },
    )


def test_driving_licence_reports_every_fault() -> None:
    record = make_record(
        "driving_licence",
        licence_number="440305198501194171",  # check digit wrong
        first_issue_date="2023-02-30",
        valid_until="2017-01-01",  # before valid_from
        archive_number="44030061234",  # 11 digits
        vehicle_class="C1G",
        nationality=None,
        issuing_authority=DROP,
        points=12,
    )
    assert_problems(
        problems_of("driving_licence", record),
        {
            "data.licence_number": r"^check digit mismatch$",
            "data.first_issue_date": r"^not a real date$",
            "data.valid_until": r"^earlier than valid_from$",
            "data.archive_number": r"^must be exactly 12 digits$",
            "data.vehicle_class": r"unknown vehicle class 'G'",
            "data.nationality": r"^must not be null$",
            "data.issuing_authority": r"^missing$",
            "data.points": r"^unknown field$",
        },
    )


@pytest.mark.parametrize("archive", ["4403006123456", "44030061234A", "4403 0061234", "", 440300612345])
def test_archive_number_must_be_12_digits(archive: Any) -> None:
    problems = problems_of("driving_licence", make_record("driving_licence", archive_number=archive))
    assert_problems(problems, {"data.archive_number": r"^(must be exactly 12 digits|must not be empty|must be a string)$"})


def test_driving_licence_valid_until_is_not_nullable() -> None:
    problems = problems_of("driving_licence", make_record("driving_licence", valid_until=None))
    assert_problems(problems, {"data.valid_until": r"^must not be null$"})


def test_business_licence_reports_every_fault() -> None:
    record = make_record(
        "business_licence",
        credit_code="91110101MA01ABCD18",  # check character wrong
        established_on="2019-13-01",
        term_until="2019-08-07",  # before term_from
        name="北" * 101,
        legal_representative="赵\x07文博",
        registered_capital=None,
        domicile=DROP,
        tax_id="x",
    )
    assert_problems(
        problems_of("business_licence", record),
        {
            "data.credit_code": r"^check character mismatch$",
            "data.established_on": r"^not a real date$",
            "data.term_until": r"^earlier than term_from$",
            "data.name": r"^longer than 100 characters$",
            "data.legal_representative": r"^contains control character U\+0007$",
            "data.registered_capital": r"^must not be null$",
            "data.domicile": r"^missing$",
            "data.tax_id": r"^unknown field$",
        },
    )


def test_credit_code_is_upper_cased() -> None:
    out = validate("business_licence", make_record("business_licence", credit_code="91350100m000100y43"))
    assert out["credit_code"] == "91350100M000100Y43"


@pytest.mark.parametrize(("kind", "field"), [("id_card", "valid_until"), ("business_licence", "term_until")])
def test_missing_nullable_date_says_to_use_null(kind: str, field: str) -> None:
    assert_problems(problems_of(kind, make_record(kind, **{field: DROP})), {f"data.{field}": r"^missing \(use null for 长期\)$"})


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2023-02-30", r"^not a real date$"),
        ("2023-2-3", r"^must be a date as YYYY-MM-DD$"),
        ("2023/02/03", r"^must be a date as YYYY-MM-DD$"),
        ("20230203", r"^must be a date as YYYY-MM-DD$"),
        (20230203, r"^must be a string$"),
    ],
)
def test_dates_must_be_real_iso_dates(value: Any, reason: str) -> None:
    assert_problems(problems_of("id_card", make_record("id_card", valid_from=value)), {"data.valid_from": reason})


# ---------------------------------------------------------------------------------------------
# Unknown kinds and shapes
# ---------------------------------------------------------------------------------------------


def test_unknown_kind_is_refused_naming_the_kind_field() -> None:
    with pytest.raises(InvalidInput, match="unknown licence kind") as info:
        validate("passport", load_sample("id_card"))
    assert [p.field for p in info.value.problems] == ["kind"]
    assert isinstance(info.value, LicenceError)


@pytest.mark.parametrize("name", [None, 1, "ID_CARD", ""])
def test_get_kind_refuses_names_it_does_not_know(name: object) -> None:
    with pytest.raises(InvalidInput, match="unknown licence kind") as info:
        get_kind(name, field_name="licence.kind")
    assert info.value.problems[0].field == "licence.kind"


@pytest.mark.parametrize("data", [None, [], "张晓明", 1])
def test_data_must_be_an_object(data: object) -> None:
    assert_problems(problems_of("id_card", data), {"data": r"^must be a JSON object$"})


def test_prefix_is_used_for_every_path() -> None:
    record = make_record("household_register", household_type="x")
    record["members"][2]["ethnicity"] = "x"
    problems = problems_of("household_register", record, prefix="licences.4.data")
    assert sorted(p.field for p in problems) == [
        "licences.4.data.household_type",
        "licences.4.data.members.2.ethnicity",
    ]


# ---------------------------------------------------------------------------------------------
# Photos
# ---------------------------------------------------------------------------------------------


def test_photo_png_is_accepted_and_optional() -> None:
    photo = png_b64()
    assert validate("id_card", make_record("id_card", photo=photo))["photo"] == photo
    assert "photo" not in validate("id_card", make_record("id_card", photo=DROP))
    assert validate("id_card", make_record("id_card", photo=None))["photo"] is None


@pytest.mark.parametrize(
    ("photo", "reason"),
    [
        ("not base64!!", r"^must be base64$"),
        (base64.b64encode(b"just text, not a picture").decode(), r"^must be a JPEG or PNG image$"),
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40).decode(), r"^image cannot be decoded$"),
        (base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 600 * 1024).decode(), r"^larger than 512 KiB$"),
        ("", r"^must be a JPEG or PNG image$"),
        (12, r"^must be a string$"),
    ],
)
def test_photo_that_is_not_an_image_is_refused(photo: Any, reason: str) -> None:
    assert_problems(problems_of("id_card", make_record("id_card", photo=photo)), {"data.photo": reason})


def test_photo_with_too_many_pixels_is_refused() -> None:
    photo = png_b64(2001, 2000, mode="1")
    assert_problems(problems_of("id_card", make_record("id_card", photo=photo)), {"data.photo": r"^image has too many pixels$"})


# ---------------------------------------------------------------------------------------------
# The can_render hook
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_can_render_everything_changes_nothing(kind: str) -> None:
    sample = load_sample(kind)
    assert validate(kind, sample, can_render=lambda c: True) == sample


def test_can_render_refuses_a_character_naming_the_field() -> None:
    record = make_record("household_register")
    problems = problems_of("household_register", record, can_render=lambda c: c not in "䶮𠮷")
    assert_problems(
        problems,
        {
            "data.members.0.name": r"^character U\+4DAE has no glyph in the document fonts$",
            "data.members.1.name": r"^character U\+20BB7 has no glyph in the document fonts$",
        },
    )


def test_can_render_is_asked_about_text_fields() -> None:
    asked: set[str] = set()

    def can_render(c: str) -> bool:
        asked.add(c)
        return c != "院"

    problems = problems_of("id_card", make_record("id_card"), can_render=can_render)
    assert_problems(problems, {"data.address": r"U\+9662 has no glyph"})
    assert "张" in asked


# ---------------------------------------------------------------------------------------------
# KindSpec helpers on validated data
# ---------------------------------------------------------------------------------------------


def test_holder_ids_names_and_expiry() -> None:
    hh = validate("household_register", load_sample("household_register"))
    spec = KINDS["household_register"]
    assert spec.holder_ids(hh) == ("110101197811020355", "130102198006150442", "110101200809210621")
    assert spec.holder_name(hh) == "刘䶮"
    assert spec.expiry_date(hh) is None
    dl = validate("driving_licence", load_sample("driving_licence"))
    assert KINDS["driving_licence"].holder_ids(dl) == ("440305198501194170",)
    assert KINDS["driving_licence"].expiry_date(dl) == date(2028, 4, 12)
    bl = validate("business_licence", load_sample("business_licence"))
    assert KINDS["business_licence"].holder_ids(bl) == ("91110101MA01ABCD19",)
    assert KINDS["business_licence"].expiry_date(bl) is None
    dc = validate("degree_certificate", load_sample("degree_certificate"))
    assert KINDS["degree_certificate"].title(dc) == "硕士学位证书"


# ---------------------------------------------------------------------------------------------
# Bugs found
# ---------------------------------------------------------------------------------------------


def test_relation_with_spaces_counts_as_head_of_household() -> None:
    record = make_record("household_register")
    record["members"][1]["relation"] = "户主 "
    try:
        out = validate("household_register", record)
    except InvalidInput as exc:
        assert_problems(exc.problems, {"data.members": r"found 2"})
    else:
        heads = [m for m in out["members"] if m["relation"] == "户主"]
        assert len(heads) == 1, out["members"]


def test_archive_number_with_full_width_digits_is_refused() -> None:
    problems_of("driving_licence", make_record("driving_licence", archive_number="４４０３００６１２３４５"))


def test_id_number_with_full_width_digit_is_refused() -> None:
    problems_of("id_card", make_record("id_card", id_number="1１0101199003071233"))
