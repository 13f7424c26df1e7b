"""The platform's RFC 3161 tokens and PAdES CMS containers, read back with asn1crypto and checked
with cryptography alone; every check has its one-byte tamper twin."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

from licence_svc.core import pki
from licence_svc.core.cms import PadesCmsSigner, TimeStampAuthority, der_integer, tlv

NOW = datetime(2026, 1, 15, 8, 30, 5, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def pkis() -> dict[str, pki.Credentials]:
    root_key = pki.new_ec_key()
    root = pki.make_root(root_key, now=NOW)
    tsa_key = pki.new_tsa_key()
    tsa = pki.make_tsa_cert(tsa_key, root_cert=root, root_key=root_key, now=NOW)
    dept_key = pki.new_ec_key()
    dept = pki.make_department_cert(
        dept_key, department_code="11110000000019001J", department_name="示例市公安局", root_cert=root, root_key=root_key, now=NOW
    )
    return {"root": pki.Credentials(root_key, root), "tsa": pki.Credentials(tsa_key, tsa), "dept": pki.Credentials(dept_key, dept)}


def _signer_info(der: bytes) -> tuple[asn1_cms.SignedData, asn1_cms.SignerInfo]:
    info = asn1_cms.ContentInfo.load(der)
    assert info["content_type"].native == "signed_data"
    signed = info["content"]
    (signer,) = signed["signer_infos"]
    return signed, signer


def test_der_integers_and_lengths() -> None:
    assert der_integer(0) == b"\x02\x01\x00"
    assert der_integer(128) == b"\x02\x02\x00\x80"  # a leading zero keeps it positive
    assert tlv(0x04, b"x" * 200)[:3] == b"\x04\x81\xc8"
    assert tlv(0x04, b"x" * 300)[:4] == b"\x04\x82\x01\x2c"


def test_time_stamp_token_is_rfc_3161(pkis: dict[str, pki.Credentials]) -> None:
    tsa = TimeStampAuthority(pkis["tsa"], chain=[pkis["root"].cert])
    imprint = hashlib.sha256(b"signature value").digest()
    token = tsa.token(imprint, now=NOW)
    signed, signer = _signer_info(token)
    assert signed["version"].native == "v3"
    assert signed["encap_content_info"]["content_type"].native == "tst_info"
    tst = signed["encap_content_info"]["content"].parsed
    assert tst["version"].native == "v1"
    assert tst["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert tst["message_imprint"]["hashed_message"].native == imprint
    assert tst["gen_time"].native == NOW
    certs = {c.chosen.dump() for c in signed["certificates"]}
    assert pkis["tsa"].cert.public_bytes(serialization.Encoding.DER) in certs
    attrs = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attrs["content_type"].native == "tst_info"
    assert attrs["message_digest"].native == hashlib.sha256(signed["encap_content_info"]["content"].contents).digest()
    ess = attrs["signing_certificate_v2"]["certs"][0]
    assert ess["cert_hash"].native == hashlib.sha256(pkis["tsa"].cert.public_bytes(serialization.Encoding.DER)).digest()
    public = pkis["tsa"].cert.public_key()
    public.verify(signer["signature"].native, signer["signed_attrs"].untag().dump(), PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    # tamper twin: one changed byte in the signed attributes
    tampered = bytearray(signer["signed_attrs"].untag().dump())
    tampered[-1] ^= 1
    with pytest.raises(InvalidSignature):
        public.verify(signer["signature"].native, bytes(tampered), PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]


def test_tokens_have_unique_serial_numbers(pkis: dict[str, pki.Credentials]) -> None:
    tsa = TimeStampAuthority(pkis["tsa"], chain=[pkis["root"].cert])
    serials = {_signer_info(tsa.token(bytes(32)))[0]["encap_content_info"]["content"].parsed["serial_number"].native for _ in range(20)}
    assert len(serials) == 20


def test_pades_container_signs_the_digest_and_carries_the_token(pkis: dict[str, pki.Credentials]) -> None:
    tsa = TimeStampAuthority(pkis["tsa"], chain=[pkis["root"].cert])
    signer = PadesCmsSigner(pkis["dept"], chain=[pkis["root"].cert], timestamp=tsa.token)
    digest = hashlib.sha256(b"the byte range").digest()
    signed, info = _signer_info(signer.sign(digest))
    assert signed["version"].native == "v1"
    assert signed["encap_content_info"]["content_type"].native == "data"
    assert signed["encap_content_info"]["content"].native is None  # detached
    certs = {c.chosen.dump() for c in signed["certificates"]}
    assert certs == {c.public_bytes(serialization.Encoding.DER) for c in (pkis["dept"].cert, pkis["root"].cert)}
    attrs = {a["type"].native: a["values"][0] for a in info["signed_attrs"]}
    assert attrs["message_digest"].native == digest
    assert set(attrs) == {"content_type", "message_digest", "signing_certificate_v2"}  # PAdES: no signing time
    public = pkis["dept"].cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(info["signature"].native, info["signed_attrs"].untag().dump(), ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(info["signature"].native, info["signed_attrs"].untag().dump() + b"\x00", ec.ECDSA(hashes.SHA256()))
    (token_attr,) = info["unsigned_attrs"]
    assert token_attr["type"].native == "signature_time_stamp_token"
    tst = token_attr["values"][0]["content"]["encap_content_info"]["content"].parsed
    assert tst["message_imprint"]["hashed_message"].native == hashlib.sha256(info["signature"].native).digest()
    issuer = x509.load_der_x509_certificate(pkis["root"].cert.public_bytes(serialization.Encoding.DER))
    assert pkis["dept"].cert.issuer == issuer.subject
