"""Signed trust and status lists, as the CLI reads them from files: every envelope and body ends in
a trust store, a status list or a LicenceError, never another exception; and what they yield
verifies QR texts without crashing either.

Bodies are re-signed with the root key, so the parsing past the signature is what is tested; the
envelope itself is mutated unsigned.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licence_svc.core.signeddoc import open_document, sign_document
from licence_svc.core.statuslist import StatusList
from licence_svc.core.trustlist import trust_store_from_list
from licence_svc.core.verify import StatusSource, verify_qr
from licence_svc.services.verifying import offline_sources
from tests.fuzz import mutate
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.runner import Outcome, timed_outcome
from tests.fuzz.world import World

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


def body_of(envelope: dict[str, str]) -> dict[str, Any]:
    raw = base64.urlsafe_b64decode(envelope["payload"] + "=" * (-len(envelope["payload"]) % 4))
    return json.loads(raw)  # type: ignore[no-any-return]


def resign(world: World, body: Any) -> dict[str, str]:
    """``body`` signed by the platform root, whatever it is (the signer signs canonical JSON)."""
    try:
        return sign_document(body, world.root_key, world.root)
    except (TypeError, ValueError, AttributeError, RecursionError):
        payload = json.dumps(body, default=str).encode() if not isinstance(body, bytes) else body
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        signature = world.root_key.sign(payload, ec.ECDSA(hashes.SHA256()))
        b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
        return {"alg": "ES256", "kid": "00", "payload": b64(payload), "signature": b64(signature)}


def timed(fn: Any) -> Outcome:
    return timed_outcome(fn, 5.0)


def ok(outcome: Outcome, what: Any) -> Outcome:
    assert outcome.ok, f"{outcome.kind}: {str(what)[:400]}\n{outcome.detail}"
    return outcome


def verify_with(world: World, trust: Any, source: StatusSource) -> None:
    """The genuine QR texts and a re-signed one through what a mutated list yielded."""
    for lic in list(world.licences.values())[:2]:
        ok(timed_outcome(lambda: verify_qr(lic.qr_text, trust=trust, now=world.now, source=source), 2.0), lic.qr_text)


@fuzz_settings(150)
@given(rng=st.randoms(use_true_random=False))
def test_trust_lists(world: World, rng: random.Random) -> None:
    body = mutate.mutate_doc_body(body_of(world.trust_list), rng)
    envelope = resign(world, body)
    outcome = ok(timed(lambda: trust_store_from_list(envelope, world.root)), body)
    if outcome.kind == "verdict":
        verify_with(world, trust_store_from_list(envelope, world.root), StatusSource())


@fuzz_settings(150)
@given(rng=st.randoms(use_true_random=False))
def test_status_lists(world: World, rng: random.Random) -> None:
    body = mutate.mutate_doc_body(body_of(world.status_list), rng)
    envelope = resign(world, body)
    outcome = ok(timed(lambda: StatusList.from_body(open_document(envelope, world.root))), body)
    if outcome.kind == "verdict":
        verify_with(world, world.trust, StatusSource(status_list=StatusList.from_body(open_document(envelope, world.root))))


@fuzz_settings(100)
@given(rng=st.randoms(use_true_random=False), which=st.sampled_from(["trust", "status"]))
def test_the_cli_offline_path(world: World, rng: random.Random, which: str) -> None:
    """``cli.py verify --qr ... --trust-list F --status-list G``: services.verifying.offline_sources
    over what the files hold, then the verification."""
    trust_body, status_body = body_of(world.trust_list), body_of(world.status_list)
    if which == "trust":
        trust_body = mutate.mutate_doc_body(trust_body, rng)
    else:
        status_body = mutate.mutate_doc_body(status_body, rng)
    trust_env, status_env = resign(world, trust_body), resign(world, status_body)
    outcome = ok(timed(lambda: offline_sources(world.root, trust_env, status_env)), (trust_body, status_body))
    if outcome.kind == "verdict":
        trust, source = offline_sources(world.root, trust_env, status_env)
        verify_with(world, trust, source)


@fuzz_settings(150)
@given(
    envelope=st.one_of(
        st.dictionaries(st.sampled_from(["alg", "kid", "payload", "signature", "x"]), json_values, max_size=5),
        json_values,
        st.builds(lambda p, s: {"alg": "ES256", "kid": "00", "payload": p, "signature": s}, st.text(max_size=200), st.text(max_size=200)),
    )
)
def test_envelopes_of_any_shape(world: World, envelope: Any) -> None:
    ok(timed(lambda: trust_store_from_list(envelope, world.root)), envelope)
    ok(timed(lambda: StatusList.from_body(open_document(envelope, world.root))), envelope)


@pytest.mark.parametrize(
    "payload",
    [b"[" * 100_000, b"\xff\xfe", b"NaN", b'"x"', b"[]", b"{" + b'"a":' * 50_000 + b"1"],
    ids=["nested", "not UTF-8", "NaN", "a string", "an array", "nested object"],
)
def test_signed_payloads_that_are_not_objects(world: World, payload: bytes) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    b64 = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")  # noqa: E731
    envelope = {"alg": "ES256", "kid": "00", "payload": b64(payload), "signature": b64(world.root_key.sign(payload, ec.ECDSA(hashes.SHA256())))}
    assert ok(timed(lambda: open_document(envelope, world.root)), payload).kind == "error"


@pytest.mark.parametrize(
    "issued_at",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59", "tomorrow", "2026-13-45T99:99:99", "1999-12-31T23:59:59+00:00"],
)
def test_status_list_dates_beyond_what_can_be_shown(world: World, issued_at: str) -> None:
    body = {**body_of(world.status_list), "issued_at": issued_at}
    assert ok(timed(lambda: StatusList.from_body(open_document(resign(world, body), world.root))), body).kind == "error"
    assert StatusList(issued_at, {}).issued is None  # a list made in memory cannot smuggle one in either


def test_status_list_gzip_bomb_is_not_unpacked(world: World) -> None:
    body = {**body_of(world.status_list), "lists": [mutate._bomb_entry(random.Random(3))]}
    body["lists"][0]["length"] = 131072
    outcome = ok(timed(lambda: StatusList.from_body(open_document(resign(world, body), world.root))), "bomb")
    assert outcome.kind == "error"


def test_a_negative_status_index_reads_nothing(world: World) -> None:
    status_list = StatusList.from_body(open_document(world.status_list, world.root))
    issuer = next(iter(status_list.bits))
    assert status_list.status(issuer, 7) == "revoked"
    assert status_list.status(issuer, -1) is None and status_list.status(issuer, 2**64) is None
