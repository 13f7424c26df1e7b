"""The published QR format and its test vectors: what a third-party verifier relies on."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_svc.core import cose
from licence_svc.core.kinds import KINDS
from licence_svc.core.payload import EARLIEST, LATEST, Claims, canonical_json, payload_from_text, qr_text, sign_claims
from licence_svc.core.qr import qr_matrix
from licence_svc.errors import UnreadableEvidence

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "docs" / "qr-format-vectors.json").read_text("utf-8"))


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(VECTORS["signer"]["private_scalar_hex"], 16), ec.SECP256R1())


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["description"])
def test_encoder_reproduces_vector_bytes(vector: dict) -> None:
    c = vector["claims"]
    claims = Claims(c["identifier"], c["kind"], c["issuer"], c["issued_at"], c["expires_at"], c["holder"], bytes.fromhex(c["digest_hex"]), c["status_index"])
    assert canonical_json(vector["data"]).hex() == vector["canonical_json_utf8_hex"]
    assert hashlib.sha256(canonical_json(vector["data"])).hexdigest() == c["digest_hex"]
    assert claims.to_cbor().hex() == vector["claims_cbor_hex"]
    signed = sign_claims(claims, _key(), bytes.fromhex(VECTORS["signer"]["kid_hex"]))
    assert signed.hex() == vector["cose_sign1_hex"]
    assert qr_text("https://zzfw.example.gov.cn", signed) == vector["qr_text"]


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["description"])
def test_independent_decoder_verifies_vector(vector: dict) -> None:
    """Follows docs/qr-format.md with cbor2 and cryptography only, not the project's decoder."""
    text = vector["qr_text"]
    b32 = text.rsplit("/V/", 1)[1]
    raw = base64.b32decode(b32 + "=" * (-len(b32) % 8))
    tag = cbor2.loads(raw)
    assert tag.tag == 18
    protected, unprotected, payload, signature = tag.value
    header = cbor2.loads(protected)
    assert header[1] == -7 and header[4].hex() == VECTORS["signer"]["kid_hex"]
    signer = VECTORS["signer"]
    pub = ec.EllipticCurvePublicNumbers(int(signer["public_x_hex"], 16), int(signer["public_y_hex"], 16), ec.SECP256R1()).public_key()
    sig = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    pub.verify(sig, cbor2.dumps(["Signature1", protected, b"", payload]), ec.ECDSA(hashes.SHA256()))
    claims = cbor2.loads(payload)
    assert claims[0] == 1
    assert claims[8].hex() == vector["claims"]["digest_hex"]
    kind = KINDS[vector["claims"]["kind"]]
    assert claims[3] == kind.cbor_code
    assert vector["claims"]["identifier"].startswith(f"1.2.156.3005.2.{kind.kind_code}.{claims[4]}.{claims[1]}.{claims[2]:03d}.")
    assert (6 in claims) == (vector["claims"]["expires_at"] is not None)
    assert claims[9] == vector["claims"]["status_index"]


def test_qr_text_is_alphanumeric_mode_and_at_most_version_12() -> None:
    for vector in VECTORS["vectors"]:
        text = vector["qr_text"]
        assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
        assert qr_matrix(text).version <= 12


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(sorted(KINDS)),
    issued=st.integers(EARLIEST, LATEST),
    expires=st.one_of(st.none(), st.integers(EARLIEST, LATEST)),
    holder=st.text(min_size=1, max_size=12).filter(lambda h: h.isprintable() and h.strip() == h),
    digest=st.binary(min_size=32, max_size=32),
    version=st.integers(1, 999),
)
def test_claims_round_trip_through_qr_text(kind: str, issued: int, expires: int | None, holder: str, digest: bytes, version: int) -> None:
    from licence_svc.core.identifiers import LicenceId

    lid = LicenceId(KINDS[kind].kind_code, "11110000000019001J", "ABCDEFGH12345678", version)
    claims = Claims(str(lid), kind, "11110000000019001J", issued, expires, holder, digest)
    signed = sign_claims(claims, _key(), b"\x01" * 8)
    text = qr_text("http://127.0.0.1:8000", signed)
    msg = cose.parse_sign1(payload_from_text(text))
    assert Claims.from_cbor(msg.payload) == claims
    assert cose.verify_sign1(msg, _key().public_key())


def test_unknown_format_version_is_unreadable() -> None:
    key = _key()
    payload = cbor2.dumps({0: 2, 1: "X", 8: bytes(64)})  # long enough to look like a real payload
    text = qr_text("http://h", cose.sign1(payload, key, b"\x00" * 8))
    msg = cose.parse_sign1(payload_from_text(text))
    with pytest.raises(UnreadableEvidence, match="unknown QR format version 2"):
        Claims.from_cbor_or_none(msg.payload)


@pytest.mark.parametrize("text", ["", "hello world", "https://example.com/page", "HTTP://H/V/ABC1", "   "])
def test_text_that_is_not_a_licence_link_is_unreadable(text: str) -> None:
    with pytest.raises(UnreadableEvidence):
        payload_from_text(text)
