"""Every QR text ends in a verdict or a LicenceError, never another exception or a hang; and no
text whose signed content changed is taken as genuine.

Claims are signed with the department's genuine key so they reach the checks past the signature
(issuer, expiry, status, register binding), and with other keys so they do not.
"""

from __future__ import annotations

import random
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import assume, example, given
from hypothesis import strategies as st

from licence_svc.core import cose
from licence_svc.core.payload import b32, payload_from_text
from licence_svc.core.verify import StatusSource, verify_qr
from tests.fuzz import mutate
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.runner import Outcome, timed_outcome
from tests.fuzz.world import BASE_URL, World

SOURCES = ("offline", "status_list", "register")
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())

keys = st.one_of(st.integers(0, 11), st.integers(), st.text(max_size=3), st.binary(max_size=3), st.booleans(), st.none(), st.floats(allow_nan=False))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from(mutate.INTERESTING_INTS),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(["A" * 16 + "\n", "11110000000019001J\n", "\n", "", "张*明\x00", "a" * 18]),
    st.binary(max_size=40),
    st.just(cbor2.undefined),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.integers(), st.text(max_size=3)), inner, max_size=3),
        st.builds(cbor2.CBORTag, st.sampled_from([0, 1, 2, 3, 4, 24, 32, 99, 100, 258, 1004]), inner),
    ),
    max_leaves=6,
)


def check(world: World, sources: dict[str, StatusSource], text: str, *, source: str | None = None) -> list[Outcome]:
    """Verify ``text`` against one or every status source; each must end in a verdict or a
    LicenceError within two seconds."""
    outcomes = []
    for name in [source] if source else SOURCES:
        outcome = timed_outcome(lambda: verify_qr(text, trust=world.trust, now=world.now, source=sources[name], base_url=BASE_URL), 2.0)
        assert outcome.ok, f"{name}: {outcome.kind}\n{text!r}\n{outcome.detail}"
        outcomes.append(outcome)
    return outcomes


def signed_content(text: str) -> tuple[bytes, bytes] | None:
    """The protected header and payload a text carries (what the signature covers), if it parses."""
    try:
        msg = cose.parse_sign1(payload_from_text(text))
    except Exception:  # noqa: BLE001 - unreadable: it cannot be genuine either
        return None
    return msg.protected, msg.payload


def genuine_content(world: World, kind: str) -> tuple[bytes, bytes]:
    protected, _, payload, _ = cbor2.loads(world.licences[kind].signed).value
    return protected, payload


def sign(world: World, payload: bytes, signer: str) -> bytes:
    if signer == "genuine":
        return world.sign_payload(payload)
    if signer == "other_key":  # the department's key id, another key: a forgery
        return world.sign_payload(payload, key=OTHER_KEY)
    return world.sign_payload(payload, key=OTHER_KEY, kid=b"\x00" * 8)  # a key nobody knows


# -- claims -----------------------------------------------------------------------------------------


@fuzz_settings(200)
@given(
    kind=st.sampled_from(["id_card", "business_licence", "degree_certificate"]),
    changes=st.dictionaries(keys, values, max_size=4),
    removed=st.sets(st.integers(0, 10), max_size=3),
    signer=st.sampled_from(["genuine", "genuine", "other_key", "unknown_kid"]),
    canonical=st.booleans(),
)
@example(kind="id_card", changes={5: 10**11}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={5: -(10**11)}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={5: 2**63}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={6: 2**63 - 1}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={6: 2**100}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={9: 2**64}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={3: []}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={1: "ABCDEFGH12345678\n"}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={4: "11110000000019001J\n"}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={2: True}, removed=set(), signer="genuine", canonical=True)
@example(kind="id_card", changes={0: True}, removed=set(), signer="genuine", canonical=True)
def test_signed_claims_of_any_type_and_range(
    world: World, sources: dict[str, StatusSource], kind: str, changes: dict[Any, Any], removed: set[int], signer: str, canonical: bool
) -> None:
    claims = world.claims_map(kind)
    for key in removed:
        claims.pop(key, None)
    claims.update(changes)
    try:
        payload = cbor2.dumps(claims, canonical=canonical)
    except (TypeError, ValueError, OverflowError, cbor2.CBOREncodeError):
        assume(False)
    text = world.text(sign(world, payload, signer))
    outcomes = check(world, sources, text)
    if signer != "genuine":
        assert not any(o.accepted for o in outcomes), "signed by another key, yet taken as genuine"


@fuzz_settings(300)
@given(rng=st.randoms(use_true_random=False), kind=st.sampled_from(["id_card", "driving_licence", "household_register"]))
def test_mutated_claims_re_signed(world: World, sources: dict[str, StatusSource], rng: random.Random, kind: str) -> None:
    claims = mutate.mutate_claims(world.claims_map(kind), rng, now=int(world.now.timestamp()))
    payload = mutate.encode_claims(claims, rng)
    check(world, sources, world.text(world.sign_payload(payload)))


@fuzz_settings(150)
@given(payload=st.one_of(st.binary(max_size=400), st.builds(cbor2.dumps, values)), signer=st.sampled_from(["genuine", "other_key"]))
def test_raw_cbor_payloads(world: World, sources: dict[str, StatusSource], payload: bytes, signer: str) -> None:
    check(world, sources, world.text(sign(world, payload, signer)))


@fuzz_settings(150)
@given(rng=st.randoms(use_true_random=False), kind=st.sampled_from(["id_card", "business_licence"]))
def test_byte_mutations_of_genuine_claims_re_signed(world: World, sources: dict[str, StatusSource], rng: random.Random, kind: str) -> None:
    raw = world.licences[kind].claims_cbor
    for _ in range(rng.choice([1, 1, 2, 4])):
        raw = mutate.mutate_bytes(raw, rng)
    check(world, sources, world.text(world.sign_payload(raw)))


# -- COSE, base32 and link text -----------------------------------------------------------------------


@fuzz_settings(150)
@given(rng=st.randoms(use_true_random=False))
def test_cose_structure(world: World, sources: dict[str, StatusSource], rng: random.Random) -> None:
    lic = world.licences[rng.choice(sorted(world.licences))]
    text = world.text(mutate.mutate_cose(lic.signed, rng))
    outcomes = check(world, sources, text)
    if any(o.accepted for o in outcomes):
        assert signed_content(text) == genuine_content(world, lic.kind), "a changed payload or header was taken as genuine"


@fuzz_settings(150)
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_as_the_payload(world: World, sources: dict[str, StatusSource], data: bytes) -> None:
    check(world, sources, world.text(data))


@fuzz_settings(200)
@given(rng=st.randoms(use_true_random=False))
def test_mutated_signed_bytes_are_never_genuine(world: World, sources: dict[str, StatusSource], rng: random.Random) -> None:
    lic = world.licences[rng.choice(sorted(world.licences))]
    signed = lic.signed
    for _ in range(rng.choice([1, 1, 2, 3])):
        signed = mutate.mutate_bytes(signed, rng)
    text = world.text(signed)
    outcomes = check(world, sources, text)
    if any(o.accepted for o in outcomes):
        assert signed_content(text) == genuine_content(world, lic.kind), f"mutated signed bytes taken as genuine: {text}"


@fuzz_settings(300)
@given(
    text=st.one_of(
        st.text(alphabet=mutate.B32_ALPHABET, max_size=2000),
        st.builds(lambda p, s: p + s, st.sampled_from(["HTTPS://ZZFW.EXAMPLE.GOV.CN/V/", "/V/", "http://x/v/", ""]), st.text(alphabet=mutate.B32_ALPHABET + "abc/=", min_size=150, max_size=500)),
        st.text(max_size=500),
        st.text(alphabet=mutate.URL_CHARS + mutate.WEIRD_CHARS, max_size=800),
    )
)
@example(text="A" * 100_000)
@example(text="/V/" * 20_000)
@example(text="HTTPS://H/V/" + "A" * 50_000 + "!")
def test_any_text(world: World, sources: dict[str, StatusSource], text: str) -> None:
    check(world, sources, text, source="offline")


@fuzz_settings(300)
@given(rng=st.randoms(use_true_random=False), how=st.sampled_from(["text", "link", "random"]))
def test_mutated_and_hostile_link_text(world: World, sources: dict[str, StatusSource], rng: random.Random, how: str) -> None:
    lic = world.licences[rng.choice(sorted(world.licences))]
    if how == "text":
        text = lic.qr_text
        for _ in range(rng.choice([1, 1, 2, 3])):
            text = mutate.mutate_text(text, rng)
    elif how == "link":
        text = mutate.hostile_link(lic.signed, rng)
    else:
        text = mutate.random_b32(rng)
    outcomes = check(world, sources, text)
    if any(o.accepted for o in outcomes):
        assert signed_content(text) == genuine_content(world, lic.kind), f"changed text taken as genuine: {text!r}"


# -- the crashes reported by the first fuzz run, one by one ---------------------------------------


@pytest.mark.parametrize(
    "key, value",
    [
        (5, 10**11), (5, -(10**11)), (5, 2**63 - 1), (5, 2**63), (5, -(2**63)), (5, 2**200),
        (6, 10**11), (6, -(10**11)), (6, 2**63), (6, 2**64), (6, -(2**70)), (6, mutate.YEAR_9999_END), (6, mutate.YEAR_1),
        (9, 2**64), (9, 2**63), (9, -1), (9, 2**31),
        (3, []), (3, {}), (3, [1]), (4, ["x"]), (7, {1: 2}),
        (1, "ABCDEFGH12345678\n"), (4, "11110000000019001J\n"), (4, "11110000000019001J\r\n"), (1, "ABCDEFGH12345678\x00"),
        (2, True), (2, 0), (2, 1000), (0, True), (0, 1.0),
    ],
)
def test_reported_crash(world: World, sources: dict[str, StatusSource], key: int, value: Any) -> None:
    claims = world.claims_map()
    claims[key] = value
    check(world, sources, world.text(world.sign_payload(cbor2.dumps(claims, canonical=True))))


def test_genuine_texts_are_genuine(world: World, sources: dict[str, StatusSource]) -> None:
    """The fuzz is only worth something if the unmutated inputs pass."""
    for lic in world.licences.values():
        assert check(world, sources, lic.qr_text, source="offline")[0].accepted
        assert check(world, sources, "  " + lic.qr_text.lower() + "\n", source="offline")[0].accepted
        assert signed_content(lic.qr_text) == genuine_content(world, lic.kind)
        assert b32(lic.signed) in lic.qr_text
