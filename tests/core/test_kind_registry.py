"""The registry of licence kinds is complete: every kind module is registered and provides its
fields, its page layout, its uniqueness rule, a sample and test vectors; and no code outside a
kind's own module asks which kind it has."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

import licence_svc
from licence_svc.core import kinds as kinds_package
from licence_svc.core.kinds import KIND_MODULES, KINDS, KINDS_BY_CBOR, KindSpec, validate
from licence_svc.core.kinds.spec import _at
from tests.core.test_kind_vectors import VECTORS
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
def test_a_kind_has_its_sample_and_test_vectors(kind: str) -> None:
    assert (SAMPLES / f"{kind}.json").is_file()
    assert VECTORS.get(kind), f"tests/core/test_kind_vectors.py: VECTORS[{kind!r}] needs at least one invalid value"


def test_an_unknown_layout_is_refused() -> None:
    bare = KindSpec("bare", "无", 99, "0" * 21, (), None)
    with pytest.raises(ValueError, match="no page layout for kind 'bare'"):
        bare.pages({})


KIND_BRANCH = re.compile(r"\b(kind|spec|k)\.name\s*(==|!=)\s*['\"]|\b(kind|spec|k)\.name\s+(not\s+)?in\s+\(['\"]")


def test_no_code_outside_a_kinds_module_branches_on_the_kind_name() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE_ROOT)}:{n}"
        for path in sorted(PACKAGE_ROOT.rglob("*.py"))
        if "kinds" not in path.relative_to(PACKAGE_ROOT).parts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if KIND_BRANCH.search(line)
    ]
    assert not offenders, f"ask the kind (core/kinds/<kind>.py) instead: {offenders}"
