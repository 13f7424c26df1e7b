"""Test vectors of every licence kind: its sample validates and renders, and each invalid value is
refused naming the field and the reason. A new kind adds its entry to VECTORS (the registry test
fails until it does)."""

from __future__ import annotations

import copy
import io
import re
from datetime import date
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from licence_svc.core import fonts
from licence_svc.core.kinds import KINDS, validate
from licence_svc.core.render import RenderRequest, render_pdf
from licence_svc.errors import InvalidInput
from tests.helpers import load_sample

Vector = tuple[dict[str, Any], dict[str, str]]
"""(values set at dotted paths of the sample, {field path the validator names: regex of its reason})."""

VECTORS: dict[str, list[Vector]] = {
    "id_card": [
        ({"id_number": "110101199003071234"}, {"data.id_number": r"^check digit mismatch$"}),
        ({"valid_until": "2019-05-01"}, {"data.valid_until": r"^earlier than valid_from$"}),
        ({"sex": "女"}, {"data.sex": r"^does not match the sex digit of id_number$"}),
        ({"photo": "bm90IGFuIGltYWdl"}, {"data.photo": r"^must be a JPEG or PNG image$"}),
    ],
    "household_register": [
        ({"members.1.relation": "户主"}, {"data.members": r"^exactly one member must have relation 户主 \(found 2\)$"}),
        ({"members.2.id_number": "110101197811020355"}, {
            "data.members.2.id_number": r"^same as member 0$",
            "data.members.2.birth_date": r"^does not match the birth date in id_number$",
            "data.members.2.sex": r"^does not match the sex digit of id_number$",
        }),
        ({"household_type": "单位户"}, {"data.household_type": r"^must be one of 家庭户/集体户$"}),
        ({"members": []}, {"data.members": r"^must be a non-empty list of members$"}),
    ],
    "degree_certificate": [
        ({"degree": "院士"}, {"data.degree": r"^must be one of 学士/硕士/博士$"}),
        ({"certificate_number": "AB 12"}, {"data.certificate_number": r"^may hold only letters, digits and hyphens$"}),
        ({"conferral_date": "1998-01-01"}, {"data.conferral_date": r"^earlier than birth_date$"}),
    ],
    "driving_licence": [
        ({"vehicle_class": "C1X"}, {"data.vehicle_class": r"^unknown vehicle class 'X'; expected A1 A2 "}),
        ({"archive_number": "12345"}, {"data.archive_number": r"^must be exactly 12 digits$"}),
        ({"birth_date": "1985-01-20"}, {"data.birth_date": r"^does not match the birth date in licence_number$"}),
    ],
    "business_licence": [
        ({"credit_code": "91110101MA01ABCD18"}, {"data.credit_code": r"^check character mismatch$"}),
        ({"term_until": "2019-08-07"}, {"data.term_until": r"^earlier than term_from$"}),
        ({"legal_representative_id_number": "110101199003071234"}, {"data.legal_representative_id_number": r"^check digit mismatch$"}),
    ],
}


def with_values(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The sample of ``kind`` with values set at dotted paths (``members.1.relation``)."""
    record = copy.deepcopy(load_sample(kind))
    for path, value in values.items():
        *steps, last = path.split(".")
        target: Any = record
        for step in steps:
            target = target[int(step)] if step.isdigit() else target[step]
        target[int(last) if last.isdigit() else last] = value
    return record


def page_count(pdf: bytes) -> int:
    return int(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Count"])


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_sample_validates_and_renders_every_page_of_its_layout(kind: str) -> None:
    spec = KINDS[kind]
    data = validate(kind, load_sample(kind), can_render=fonts.can_render)
    pages = spec.pages(data)
    assert pages and all(page.rows for page in pages)
    assert all(isinstance(row.value, str) and row.label for page in pages for row in page.rows)
    pdf = render_pdf(RenderRequest(spec, data, f"{spec.kind_code}-20240115-000042", "示例发证机关", date(2024, 1, 15), "HTTPS://E.X/V/ABC"))
    assert pdf.startswith(b"%PDF-") and page_count(pdf) == len(pages)


@pytest.mark.parametrize(
    ("kind", "values", "expected"),
    [(kind, values, expected) for kind, vectors in VECTORS.items() for values, expected in vectors],
    ids=[f"{kind}-{'+'.join(values)}" for kind, vectors in VECTORS.items() for values, _ in vectors],
)
def test_an_invalid_value_is_refused_naming_field_and_reason(kind: str, values: dict[str, Any], expected: dict[str, str]) -> None:
    with pytest.raises(InvalidInput) as info:
        validate(kind, with_values(kind, values), can_render=fonts.can_render)
    problems = info.value.problems
    assert sorted(p.field for p in problems) == sorted(expected), problems
    for p in problems:
        assert re.search(expected[p.field], p.reason), p


def test_a_household_csv_cell_of_members_is_json_and_bad_json_names_the_field() -> None:
    spec = KINDS["household_register"]
    assert spec.csv_cell("members", '[{"name": "刘䶮"}]') == [{"name": "刘䶮"}]
    assert spec.csv_cell("members", "") is None
    with pytest.raises(InvalidInput) as info:
        spec.csv_cell("members", "[{")
    (problem,) = info.value.problems
    assert problem.field == "members" and problem.reason.startswith("not a JSON list: ")


@pytest.mark.parametrize("kind", list(KINDS))
def test_other_csv_cells_are_text_and_empty_is_null(kind: str) -> None:
    spec = KINDS[kind]
    for f in spec.fields:
        if f.type != "members":
            assert spec.csv_cell(f.name, " x ") == " x "
            assert spec.csv_cell(f.name, "") is None


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("id_card", "110101199003071233"),
        ("household_register", "110101197811020355"),
        ("degree_certificate", "320102199812302084"),
        ("driving_licence", "440305198501194170"),
        ("business_licence", "91110101MA01ABCD19"),
    ],
)
def test_the_uniqueness_rule_gives_the_natural_key_bulk_imports_have_always_stored(kind: str, key: str) -> None:
    """Keys already stored by earlier imports must still match on a rerun: the holder's first id."""
    data = validate(kind, load_sample(kind))
    assert KINDS[kind].natural_key(data) == key == KINDS[kind].holder_ids(data)[0]
