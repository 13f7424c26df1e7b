"""The fast check of simple request bodies (web.bodies) never says valid where jsonschema would
find a problem, and says valid for the well-formed bodies it covers: it is an optimisation of
the hottest body (POST /api/v1/verify {"qr": ...}), not a second validator with its own opinion."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from licence_svc.web.api_document import document
from licence_svc.web.bodies import BodySchemas

SCHEMAS = BodySchemas(document("http://127.0.0.1:8000"))
SIMPLE = sorted(SCHEMAS._simple)  # the operations whose body schema the fast check covers

long_texts = st.sampled_from([n * "a" for n in (199, 200, 201, 4095, 4096, 4097)])  # around the schemas' maxLength values
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.text(max_size=6), long_texts)
values = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=3), scalars, max_size=2))


def names(key: tuple[str, str]) -> list[str]:
    return list(SCHEMAS._validators[key].schema.get("properties", {})) + ["extra", ""]


@st.composite
def bodies(draw: Any) -> tuple[tuple[str, str], Any]:
    key = draw(st.sampled_from(SIMPLE))
    body = draw(st.one_of(st.dictionaries(st.sampled_from(names(key)), values, max_size=4), values))
    return key, body


def test_the_verify_body_is_covered() -> None:
    assert ("/api/v1/verify", "POST") in SIMPLE


@settings(max_examples=800, deadline=None)
@given(bodies())
def test_the_fast_check_agrees_with_jsonschema(case: tuple[tuple[str, str], Any]) -> None:
    key, body = case
    valid = SCHEMAS._validators[key].is_valid(body)
    assert SCHEMAS._simple[key](body) == valid, (key, body)
    assert (SCHEMAS.problems(key[0], key[1], body) == []) == valid
