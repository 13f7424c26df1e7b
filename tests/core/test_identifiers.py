"""Licence identifiers: 1.2.156.3005.2.<kind code>.<issuer code>.<serial>.<version>.<check>."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_svc.core.identifiers import (
    PREFIX,
    LicenceId,
    is_valid_licence_id,
    new_licence_id,
    new_serial,
    parse_licence_id,
)
from licence_svc.core.kinds import KINDS
from licence_svc.errors import Conflict, InvalidInput

ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REF_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
REF_CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

FEW = settings(max_examples=60, deadline=None, database=None)

ISSUER = "91350100M000100Y43"  # a published valid credit code (checked below)
KIND_CODE = KINDS["id_card"].kind_code


# Reference implementations, written from the specification only.
def ref_mod37_36(text: str) -> str:
    p = 36
    for ch in text:
        s = (p + ALNUM36.index(ch)) % 36
        if s == 0:
            s = 36
        p = (2 * s) % 37
    return ALNUM36[(37 - p) % 36]


def ref_credit_code(first17: str) -> str:
    total = sum(REF_CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, REF_CREDIT_WEIGHTS))
    return first17 + REF_CREDIT_ALPHABET[(31 - total % 31) % 31]


def ref_identifier(kind_code: str, issuer: str, serial: str, version: str) -> str:
    check = ref_mod37_36(kind_code + issuer + serial + version)
    return f"1.2.156.3005.2.{kind_code}.{issuer}.{serial}.{version}.{check}"


VALID = ref_identifier(KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", "001")

credit_codes = st.text(alphabet=REF_CREDIT_ALPHABET, min_size=17, max_size=17).map(ref_credit_code)
serials = st.text(alphabet=ALNUM36, min_size=16, max_size=16)
versions = st.integers(1, 999)
kind_codes = st.sampled_from([k.kind_code for k in KINDS.values()])


def test_fixtures_are_valid_by_the_reference() -> None:
    assert ref_credit_code(ISSUER[:17]) == ISSUER
    for spec in KINDS.values():
        assert len(spec.kind_code) == 21
        assert ref_credit_code(spec.kind_code[:17]) == spec.kind_code[:18]
    assert len({k.kind_code for k in KINDS.values()}) == len(KINDS)


def test_known_identifier_parses() -> None:
    lid = parse_licence_id(VALID)
    assert lid == LicenceId(KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", 1)
    assert str(lid) == VALID
    assert lid.check == VALID[-1]
    assert is_valid_licence_id(VALID)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_new_identifier_round_trips(kind: str) -> None:
    lid = new_licence_id(KINDS[kind].kind_code, ISSUER)
    text = str(lid)
    assert text.startswith(PREFIX + ".") and PREFIX == "1.2.156.3005.2"
    assert lid.version == 1 and text.split(".")[-2] == "001"
    assert parse_licence_id(text) == lid
    assert text == ref_identifier(lid.kind_code, lid.issuer_code, lid.serial, "001")


@FEW
@given(kind_codes, credit_codes, serials, versions)
def test_any_identifier_round_trips_and_matches_reference(kind_code: str, issuer: str, serial: str, version: int) -> None:
    lid = LicenceId(kind_code, issuer, serial, version)
    text = str(lid)
    assert text == ref_identifier(kind_code, issuer, serial, f"{version:03d}")
    assert parse_licence_id(text) == lid


def test_serials_are_16_random_alphanumerics() -> None:
    draws = [new_serial() for _ in range(1000)]
    assert len(set(draws)) == 1000
    assert all(re.fullmatch(r"[0-9A-Z]{16}", s) for s in draws)
    assert 16 * math.log2(36) >= 64  # at least 64 random bits
    # every character of the alphabet shows up over 16 000 draws (a crude non-sequential check)
    assert set("".join(draws)) == set(ALNUM36)


def test_new_licence_ids_differ() -> None:
    ids = {str(new_licence_id(KIND_CODE, ISSUER)) for _ in range(1000)}
    assert len(ids) == 1000


def test_next_version_keeps_serial_and_changes_check() -> None:
    lid = parse_licence_id(VALID)
    nxt = lid.next_version()
    assert (nxt.kind_code, nxt.issuer_code, nxt.serial, nxt.version) == (lid.kind_code, lid.issuer_code, lid.serial, 2)
    assert parse_licence_id(str(nxt)) == nxt
    assert str(nxt) == ref_identifier(KIND_CODE, ISSUER, lid.serial, "002")


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_licence_id(f"  {VALID}\n") == parse_licence_id(VALID)


# ---------------------------------------------------------------------------------------------
# Refusals, each with its reason
# ---------------------------------------------------------------------------------------------


def _with_check(kind_code: str, issuer: str, serial: str, version: str) -> str:
    """An identifier whose check character is right, so only the named fault remains."""
    return ref_identifier(kind_code, issuer, serial, version)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (VALID[:-1] + ("0" if VALID[-1] != "0" else "1"), "^check character mismatch$"),
        (_with_check(KIND_CODE, "91350100M000100Y44", "7K3QZ0M9A2B4C6D8", "001"), "^issuer code is not a valid unified social credit code$"),
        (_with_check("91350100M000100Y44" + "001", ISSUER, "7K3QZ0M9A2B4C6D8", "001"), "^kind code does not start with a valid unified social credit code$"),
        (_with_check(KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", "000"), "^version starts at 001$"),
        (VALID.lower(), "^not a licence identifier"),
        (VALID.replace("1.2.156.3005.2.", "1.2.156.3005.3."), "^not a licence identifier"),
        (_with_check(KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", "01"), "^not a licence identifier"),
        (_with_check(KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", "1000"), "^not a licence identifier"),
        (_with_check(KIND_CODE[:20], ISSUER, "7K3QZ0M9A2B4C6D8", "001"), "^not a licence identifier"),
        (_with_check(KIND_CODE, ISSUER, "7K3QZ0", "001"), "^not a licence identifier"),
        ("", "^not a licence identifier"),
    ],
)
def test_bad_identifier_is_refused_with_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_licence_id(text, field="licence_id")
    assert [p.field for p in info.value.problems] == ["licence_id"]
    assert re.search(reason, info.value.problems[0].reason), info.value.problems
    assert not is_valid_licence_id(text)


@pytest.mark.parametrize("value", [None, 12, b"1.2.156"])
def test_non_string_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput, match="not a licence identifier"):
        parse_licence_id(value)  # type: ignore[arg-type]


def test_every_single_substitution_of_an_identifier_is_rejected() -> None:
    # MOD 37,36 detects every single substitution (proved in test_checkdigits); a substitution in
    # the fixed parts breaks the shape, and one in the issuer or kind code may be caught earlier
    # by the GB 32100 check. Either way nothing but the original parses.
    alphabet = ALNUM36 + ".a-"
    count = 0
    for i, original in enumerate(VALID):
        for ch in alphabet:
            if ch == original:
                continue
            changed = VALID[:i] + ch + VALID[i + 1 :]
            assert not is_valid_licence_id(changed), changed
            count += 1
    assert count == len(VALID) * (len(alphabet) - 1)


@FEW
@given(kind_codes, credit_codes, serials, versions, st.data())
def test_random_substitution_in_checked_part_is_rejected(
    kind_code: str, issuer: str, serial: str, version: int, data: st.DataObject
) -> None:
    text = str(LicenceId(kind_code, issuer, serial, version))
    start = len(PREFIX) + 1
    i = data.draw(st.integers(start, len(text) - 1).filter(lambda j: text[j] != "."))
    ch = data.draw(st.sampled_from(ALNUM36).filter(lambda c: c != text[i]))
    with pytest.raises(InvalidInput):
        parse_licence_id(text[:i] + ch + text[i + 1 :])


def test_next_version_after_999_is_refused() -> None:
    lid = LicenceId(KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", 999)
    with pytest.raises(Conflict, match="version 999"):
        lid.next_version()


@pytest.mark.parametrize(
    "parts",
    [
        (KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8\n", 1),  # what `$` let through from a signed payload
        (KIND_CODE, ISSUER + "\n", "7K3QZ0M9A2B4C6D8", 1),
        (KIND_CODE, ISSUER, "7k3qz0m9a2b4c6d8", 1),
        (KIND_CODE, ISSUER, "７K3QZ0M9A2B4C6D8", 1),  # a full-width digit
        (KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", True),
        (KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", 0),
        (KIND_CODE, ISSUER, "7K3QZ0M9A2B4C6D8", 1000),
        (KIND_CODE, ISSUER, None, 1),
    ],
)
def test_a_licence_id_holds_only_parts_of_their_shape(parts: tuple[object, ...]) -> None:
    """So the check character and the printed form exist for every LicenceId: a serial ending in
    a newline made them raise ValueError in the middle of a verification."""
    with pytest.raises(InvalidInput):
        LicenceId(*parts)  # type: ignore[arg-type]


@pytest.mark.parametrize("tail", ["\n", "\r\n"])
def test_a_newline_inside_is_not_whitespace_around(tail: str) -> None:
    head, _, last = VALID.rpartition(".")
    with pytest.raises(InvalidInput, match="not a licence identifier"):
        parse_licence_id(head + tail + "." + last)
