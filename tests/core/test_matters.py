"""The service-matter catalogue format: the samples are valid and cover every kind; a broken
catalogue is refused with every problem at once, each under its own path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licence_svc.core.kinds import KINDS
from licence_svc.core.matters import HOLDER_ROLES, format_of, from_stored, parse_catalogue, parse_text
from licence_svc.errors import InvalidInput
from tests.helpers import SAMPLES



def fields_of(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {p.field: p.reason for p in exc.value.problems}


def good_matter(code: str = "TEST-001", **overrides: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "测试事项",
        "materials": [{"id": "m1", "name": "居民身份证", "kind": "id_card"}, {"id": "m2", "name": "申请表", "kind": None}],
        **overrides,
    }


def test_sample_is_valid_and_covers_every_kind() -> None:
    matters = parse_text((SAMPLES / "matters.json").read_text(encoding="utf-8"))
    assert len(matters) >= 5
    assert {m.kind for matter in matters for m in matter.materials if m.kind} == set(KINDS)
    for matter in matters:
        assert any(m.kind is None for m in matter.materials), f"{matter.code} has no paper-only material"
        assert matter.department
    names = {m.name for m in matters}
    assert any("企业开办" in n for n in names) and any("不动产登记" in n for n in names) and any("驾驶证" in n for n in names)
    roles = {m.holder_role for matter in matters for m in matter.materials}
    assert roles == set(HOLDER_ROLES)


def test_yaml_sample_is_the_same_catalogue() -> None:
    from_json = parse_text((SAMPLES / "matters.json").read_text(encoding="utf-8"), fmt="json")
    from_yaml = parse_text((SAMPLES / "matters.yaml").read_text(encoding="utf-8"), fmt="yaml")
    assert from_yaml == from_json


def test_defaults_and_trimming() -> None:
    (matter,) = parse_catalogue({"matters": [good_matter(name="  测试事项 ")]})
    assert matter.name == "测试事项" and matter.department is None
    first = matter.materials[0]
    assert (first.holder_role, first.required, first.kind_label) == ("applicant", True, "居民身份证")
    assert matter.materials[1].kind is None and matter.materials[1].kind_label is None


def test_every_problem_at_once() -> None:
    catalogue = [
        good_matter("OK-1"),
        {"code": "bad code", "name": "", "materials": [], "colour": "red"},
        good_matter(
            "OK-2",
            department=3,
            materials=[
                {"id": "m1", "name": "护照", "kind": "passport"},
                {"id": "m1", "name": "身份证", "kind": "id_card", "holder_role": "spouse", "required": "yes"},
                {"name": "  ", "kind": None, "extra": 1},
                {"id": "m4", "name": "申请表"},
                "not an object",
            ],
        ),
        good_matter("OK-1"),
        ["not", "a", "matter"],
        {"name": "无编码", "department": "x" * 101},
    ]
    with pytest.raises(InvalidInput) as exc:
        parse_catalogue(catalogue)
    assert fields_of(exc) == {
        "matters[1].colour": "unknown field",
        "matters[1].code": "1-40 characters of A-Z, 0-9 and -",
        "matters[1].name": "must not be empty",
        "matters[1].materials": "a matter needs at least one material",
        "matters[2].department": "must be a string",
        "matters[2].materials[0].kind": "unknown licence kind; expected one of " + ", ".join(KINDS) + ", or null for paper only",
        "matters[2].materials[1].id": "duplicate material id m1 (also matters[2].materials[0])",
        "matters[2].materials[1].holder_role": "expected one of applicant, legal_representative",
        "matters[2].materials[1].required": "must be true or false",
        "matters[2].materials[2].extra": "unknown field",
        "matters[2].materials[2].id": "missing",
        "matters[2].materials[2].name": "must not be empty",
        "matters[2].materials[3].kind": "missing; null means paper only",
        "matters[2].materials[4]": "must be an object",
        "matters[3].code": "duplicate code OK-1 (also matters[0])",
        "matters[4]": "must be an object",
        "matters[5].code": "missing",
        "matters[5].department": "at most 100 characters",
        "matters[5].materials": "missing",
    }


def test_duplicate_codes_are_found_among_broken_matters() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_catalogue([good_matter("A-1", name=""), good_matter("A-1")])
    assert fields_of(exc) == {"matters[0].name": "must not be empty", "matters[1].code": "duplicate code A-1 (also matters[0])"}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"matters": "x"}, "must be a list"),
        ({"items": []}, "must be a list"),
        ({"matters": [], "version": 1}, "must be a list"),
        ([], "empty"),
        ("QYKB-001", "must be a list"),
        (None, "must be a list"),
    ],
)
def test_catalogue_shape(data: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as exc:
        parse_catalogue(data)
    assert [p.field for p in exc.value.problems] == ["matters"]


@pytest.mark.parametrize(("text", "fmt"), [("[{", "json"), ("matters: [", "yaml"), ("{}", "toml")])
def test_unreadable_text(text: str, fmt: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_text(text, fmt=fmt)
    assert exc.value.problems[0].field in ("file", "format")


def test_yaml_types_are_checked_not_coerced() -> None:
    """YAML reads `code: 001` as a number and `required: yes` as true: the number is refused."""
    text = "- code: 001\n  name: 事项\n  materials:\n  - {id: m1, name: 身份证, kind: id_card, required: yes}\n"
    with pytest.raises(InvalidInput) as exc:
        parse_text(text, fmt="yaml")
    assert list(fields_of(exc)) == ["matters[0].code"]


def test_format_of() -> None:
    assert format_of("matters.YAML") == "yaml" and format_of("a.yml") == "yaml"
    assert format_of("matters.json") == "json" and format_of("matters") == "json"


_codes = st.from_regex(r"[A-Z0-9-]{1,40}", fullmatch=True)
_ids = st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)
_names = st.text(st.characters(categories=("Lo", "Lu", "Nd")), min_size=1, max_size=100)
_materials = st.lists(
    st.fixed_dictionaries(
        {"id": _ids, "name": _names, "kind": st.sampled_from([*KINDS, None])},
        optional={"holder_role": st.sampled_from(list(HOLDER_ROLES)), "required": st.booleans()},
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda m: m["id"],
)
_catalogues = st.lists(
    st.fixed_dictionaries({"code": _codes, "name": _names, "materials": _materials}, optional={"department": st.one_of(st.none(), _names)}),
    min_size=1,
    max_size=4,
    unique_by=lambda m: m["code"],
)


@given(_catalogues)
def test_valid_catalogues_survive_storage(data: list[dict[str, Any]]) -> None:
    """What is stored reads back as the same matter, and re-validates as the same catalogue."""
    matters = parse_catalogue(data)
    assert [m.code for m in matters] == [d["code"] for d in data]
    for m in matters:
        assert from_stored(m.code, m.name, m.department, m.materials_json()) == m
    again = parse_text(json.dumps([{**m.as_dict(), "materials": json.loads(m.materials_json())} for m in matters]))
    assert again == matters
