"""The registry of licence kinds is complete: every kind module is registered and provides its
fields, its page layout and row labels, the printed fields a picture check compares, where its
validity starts, what a field-match claim is held to, its uniqueness rule, a sample and test
vectors; and no code outside a kind's own module asks which kind it has."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import licence_svc
from licence_svc.core import kinds as kinds_package
from licence_svc.core.kinds import KIND_MODULES, KINDS, KINDS_BY_CBOR, KindSpec, validate
from licence_svc.core.kinds.spec import CODE, CREDIT_CODE, DATE, ID_NUMBER, NAME, ORG_NAME, _at
from tests.core.kinds.test_vectors import VECTORS
from tests.helpers import SAMPLES, load_sample

SHARED_MODULES = {"spec", "common", "validation", "registry"}
PACKAGE_ROOT = Path(licence_svc.__file__).parent


def test_every_kind_module_is_registered_in_order() -> None:
    modules = {m.name for m in pkgutil.iter_modules(kinds_package.__path__)} - SHARED_MODULES
    assert modules == set(KIND_MODULES)
    assert list(KINDS) == list(KIND_MODULES)


def test_codes_are_unique() -> None:
    assert len(KINDS_BY_CBOR) == len(KINDS)
    assert len({k.kind_code for k in KINDS.values()}) == len(KINDS)
    assert all(len(k.kind_code) == 21 for k in KINDS.values())


@pytest.mark.parametrize("kind", KIND_MODULES)
def test_a_kind_provides_fields_layout_and_uniqueness_rule(kind: str) -> None:
    spec = KINDS[kind]
    names = [f.name for f in spec.fields]
    assert names and len(names) == len(set(names)), "fields: present, each name once"
    assert type(spec).pages is not KindSpec.pages, "its own page layout (pages)"
    assert re.fullmatch(r"#[0-9a-f]{6}", spec.accent) and spec.issue_label, "accent colour and issue-date label"
    assert spec.key_fields, "a uniqueness rule (key_fields)"
    data = validate(kind, load_sample(kind))
    assert all(_at(data, path) for path in spec.key_fields), "key_fields name values every valid record has"
    assert spec.title(data)
    assert spec.expiry_field is None or spec.expiry_field in names
    assert all(f in names for f in spec.date_order)
    assert spec.identity_field is None or spec.field(spec.identity_field).type == "id_number"


@pytest.mark.parametrize("kind", KIND_MODULES)
def test_a_kind_declares_what_its_page_prints_and_how_it_is_checked(kind: str) -> None:
    spec = KINDS[kind]
    names = [f.name for f in spec.fields]
    data = validate(kind, load_sample(kind))
    printed = {tuple(row.label for row in page.rows) for page in spec.pages(data)}
    assert spec.page_labels and set(spec.page_labels) == printed, "page_labels: the row labels pages() prints"
    assert type(spec).printed_fields is not KindSpec.printed_fields, "its own printed_fields"
    fields = spec.printed_fields(data)
    labels = {label for layout in spec.page_labels for label in layout}
    assert fields and {f.label for f in fields} <= labels, "printed_fields: rows of its page layouts"
    assert all(f.values and f.sort in {NAME, ORG_NAME, ID_NUMBER, CREDIT_CODE, CODE, DATE} for f in fields)
    if spec.expiry_field is not None:
        assert spec.start_field is not None, "a validity period that ends starts somewhere (start_field)"
    assert spec.start_field is None or spec.field(spec.start_field).type == "date"
    assert isinstance(spec.names_representatives, bool)
    if spec.member_fields:
        assert type(spec).claim_subject is not KindSpec.claim_subject, "members: a claim is held to one member"
    subject = spec.claim_subject(data, spec.holder_ids(data)[0], str.upper)
    assert all(n in subject for n in names if n != "members" and n in data), "claim_subject keeps the record's fields"
    assert all(f.name in subject for f in spec.member_fields), "and the holder's own member fields"


@pytest.mark.parametrize("kind", KIND_MODULES)
def test_a_kind_has_its_sample_and_test_vectors(kind: str) -> None:
    assert (SAMPLES / f"{kind}.json").is_file()
    assert VECTORS.get(kind), f"tests/core/kinds/test_vectors.py: VECTORS[{kind!r}] needs at least one invalid value"


def test_an_unknown_layout_is_refused() -> None:
    bare = KindSpec("bare", "无", 99, "0" * 21, (), None)
    with pytest.raises(ValueError, match="no page layout for kind 'bare'"):
        bare.pages({})


KIND_BRANCH = re.compile(
    r"\b(kind|spec|k)\.name\s*(==|!=)\s*['\"]"  # spec.name == "id_card"
    r"|\b(kind|spec|k)\.name\s+(not\s+)?in\s+[(\[{]\s*['\"]"  # spec.name in ("id_card", ...)
    r"|\b\w*kind\s*(==|!=)\s*['\"]"  # kind == "id_card", lic.kind != "...", row_kind == "..."
    r"|['\"]\s*(==|!=)\s*(\w+\.)*\w*kind\b"  # "id_card" == kind
    r"|\b\w*kind\s+(not\s+)?in\s+[(\[{]\s*['\"]"  # kind in ("id_card", ...), kind not in {...}
)


@pytest.mark.parametrize(
    "line",
    [
        'if kind == "household_register":',
        "if lic.kind == 'business_licence' and ok:",
        'if kind != "household_register":',
        'return x if self._kind=="id_card" else y',
        'if "id_card" == rec.kind:',
        'if kind in ("id_card", "degree_certificate"):',
        'elif licence.kind not in ["driving_licence"]:',
        'if spec.name == "id_card":',
        'if k.name in ("id_card",):',
    ],
)
def test_the_branch_check_catches(line: str) -> None:
    assert KIND_BRANCH.search(line)


@pytest.mark.parametrize(
    "line",
    [
        "spec = get_kind(kind)",
        "if kinds.get(g.licence) == m.kind and ok:",
        'base = {"kind": m.kind, "kind_label": m.kind_label}',
        "if KINDS[lic.kind].names_representatives:",
        'raise InvalidInput.single("kind", "unknown licence kind")',
    ],
)
def test_the_branch_check_lets_pass(line: str) -> None:
    assert not KIND_BRANCH.search(line)


def test_no_code_outside_a_kinds_module_branches_on_the_kind_name() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE_ROOT)}:{n}"
        for path in sorted(PACKAGE_ROOT.rglob("*.py"))
        if path.relative_to(PACKAGE_ROOT).parts[:2] != ("core", "kinds")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if KIND_BRANCH.search(line)
    ]
    assert not offenders, f"ask the kind (core/kinds/<kind>.py) instead: {offenders}"
