"""Black box: the signed trust list and status list, checked the way a third-party offline verifier
would, with nothing but cryptography, cbor2, json, base64 and gzip (none of the platform's own
verification code), then the platform's offline verifier (`cli.py verify --trust-list --status-list`)
fed with the two documents."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from licence_svc.services import lifecycle
from tests.helpers import load_sample

MIN_ENTRIES = 131_072
CODES = {"valid": 0, "suspended": 1, "revoked": 2, "superseded": 3}


# -- an independent verifier in a few lines ---------------------------------------------------


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kid_of(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:8].hex()


def open_signed(envelope: dict[str, Any], root: x509.Certificate) -> dict[str, Any]:
    """Check the ES256 signature (DER ECDSA-SHA256 over the decoded payload bytes) with the root key;
    raises InvalidSignature when it does not verify."""
    assert set(envelope) == {"alg", "kid", "payload", "signature"}
    assert envelope["alg"] == "ES256"
    assert envelope["kid"] == kid_of(root)
    payload = unb64url(envelope["payload"])
    public_key = root.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(unb64url(envelope["signature"]), payload, ec.ECDSA(hashes.SHA256()))
    body = json.loads(payload)
    assert isinstance(body, dict)
    return body


def qr_cose(text: str) -> list[Any]:
    """base32 after the last /V/ → the COSE_Sign1 array [protected, unprotected, payload, signature]."""
    b32 = text.rsplit("/V/", 1)[1]
    tagged = cbor2.loads(base64.b32decode(b32 + "=" * (-len(b32) % 8)))
    assert isinstance(tagged, cbor2.CBORTag) and tagged.tag == 18
    return list(tagged.value)


def qr_claims(text: str) -> dict[int, Any]:
    return cbor2.loads(qr_cose(text)[2])  # type: ignore[no-any-return]


def qr_kid(text: str) -> str:
    return cbor2.loads(qr_cose(text)[0])[4].hex()  # type: ignore[no-any-return]


def entry(bits: bytes, index: int) -> int:
    """Entry i is bits 2i..2i+1, most significant first."""
    byte, offset = divmod(index * 2, 8)
    return (bits[byte] >> (6 - offset)) & 0b11


def status_of(lists: dict[str, Any], text: str) -> int:
    claims = qr_claims(text)
    issuer, index = claims[4], claims[9]
    (found,) = [lst for lst in lists["lists"] if lst["issuer"] == issuer]
    return entry(gzip.decompress(unb64url(found["encoded"])), index)


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> x509.Certificate:
    """The root as a verifier gets it: `python cli.py export-root`."""
    proc = run_cli("export-root", check=True)
    return x509.load_pem_x509_certificate(proc.stdout.encode("ascii"))


def fetch(client: Any, path: str) -> dict[str, Any]:
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert "public" in resp.headers["Cache-Control"]
    return resp.get_json()  # type: ignore[no-any-return]


# -- trust list ------------------------------------------------------------------------------


def test_trust_list_is_signed_by_the_root(client: Any, root: x509.Certificate, platform: Any) -> None:
    assert root == platform.keys.root_cert()
    body = open_signed(fetch(client, "/api/v1/trust-list"), root)
    assert body["type"] == "LicenceTrustList" and body["version"] == 1
    assert x509.load_pem_x509_certificate(body["root"].encode("ascii")) == root
    assert body["issued_at"]


def test_trust_list_names_every_department_certificate(client: Any, root: x509.Certificate, departments: dict[str, str], issued_samples: dict[str, Any]) -> None:
    configured: dict[str, set[str]] = {}
    for kind, code in departments.items():
        configured.setdefault(code, set()).add(kind)
    body = open_signed(fetch(client, "/api/v1/trust-list"), root)
    by_kid = {}
    for issuer in body["issuers"]:
        cert = x509.load_pem_x509_certificate(issuer["certificate"].encode("ascii"))
        cert.verify_directly_issued_by(root)  # raises unless the root issued it
        assert issuer["kid"] == kid_of(cert)
        assert issuer["state"] in ("active", "retired", "withdrawn")
        assert issuer["not_before"] == cert.not_valid_before_utc.isoformat()
        assert issuer["not_after"] == cert.not_valid_after_utc.isoformat()
        assert issuer["department_name"]
        if issuer["department_code"] in configured:
            assert set(issuer["kinds"]) == configured[issuer["department_code"]]
        by_kid[issuer["kid"]] = issuer
    for code in configured:
        assert any(i["department_code"] == code and i["state"] == "active" for i in body["issuers"]), code
    # the key id in every QR the platform issued is on the list, for the department that issued it
    for licence in issued_samples.values():
        kid = qr_kid(licence.qr_text)
        assert by_kid[kid]["department_code"] == qr_claims(licence.qr_text)[4]
        assert licence.kind in by_kid[kid]["kinds"]


@pytest.mark.parametrize("where", ["payload", "signature"])
def test_tampered_trust_list_does_not_verify(client: Any, root: x509.Certificate, where: str) -> None:
    envelope = fetch(client, "/api/v1/trust-list")
    if where == "payload":
        body = json.loads(unb64url(envelope["payload"]))
        body["issuers"][0]["kinds"] = sorted({*body["issuers"][0]["kinds"], "id_card", "business_licence", "degree_certificate"})
        envelope["payload"] = base64.urlsafe_b64encode(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).decode().rstrip("=")
    else:
        sig = bytearray(unb64url(envelope["signature"]))
        sig[-1] ^= 0x01
        envelope["signature"] = base64.urlsafe_b64encode(bytes(sig)).decode().rstrip("=")
    with pytest.raises(InvalidSignature):
        open_signed(envelope, root)


def test_trust_list_signed_by_another_root_does_not_verify(client: Any) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Another root")])
    now = datetime.now(timezone.utc)
    other = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(other_key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1)).sign(other_key, hashes.SHA256())
    )
    envelope = fetch(client, "/api/v1/trust-list")
    envelope["kid"] = kid_of(other)
    with pytest.raises(InvalidSignature):
        open_signed(envelope, other)


# -- status list -----------------------------------------------------------------------------


def test_status_list_is_signed_and_well_formed(client: Any, root: x509.Certificate, issued_samples: dict[str, Any]) -> None:
    body = open_signed(fetch(client, "/api/v1/status"), root)
    assert body["type"] == "LicenceStatusList" and body["version"] == 1
    assert body["status_size"] == 2
    assert body["issued_at"] < body["next_update"]
    issuers = {qr_claims(lic.qr_text)[4] for lic in issued_samples.values()}
    assert issuers <= {lst["issuer"] for lst in body["lists"]}
    for lst in body["lists"]:
        assert lst["length"] >= MIN_ENTRIES
        assert len(gzip.decompress(unb64url(lst["encoded"]))) == lst["length"] * 2 // 8


def test_status_list_entries_follow_the_lifecycle(client: Any, root: x509.Certificate, make_licence: Callable[..., Any], platform: Any) -> None:
    valid = make_licence("id_card")
    revoked = make_licence("driving_licence")
    suspended = make_licence("degree_certificate")
    superseded = make_licence("business_licence")
    lifecycle.revoke(revoked.identifier, reason="依法吊销", actor="test")
    lifecycle.suspend(suspended.identifier, reason="核查中", actor="test")
    data = {**load_sample("business_licence"), "registered_capital": "叁仟万元整"}
    newer = lifecycle.new_version(platform, superseded.identifier, data=data, actor="test")

    envelope = fetch(client, "/api/v1/status")  # the very next list fetched shows every change
    body = open_signed(envelope, root)
    assert status_of(body, valid.qr_text) == CODES["valid"]
    assert status_of(body, revoked.qr_text) == CODES["revoked"]
    assert status_of(body, suspended.qr_text) == CODES["suspended"]
    assert status_of(body, superseded.qr_text) == CODES["superseded"]
    assert status_of(body, newer.qr_text) == CODES["valid"]
    assert qr_claims(newer.qr_text)[9] != qr_claims(superseded.qr_text)[9]

    # no identifiers, no personal data: only positions
    text = unb64url(envelope["payload"]).decode("utf-8")
    for licence in (valid, revoked, suspended, superseded, newer):
        assert licence.identifier not in text
        assert licence.identifier.split(".")[7] not in text  # the serial alone
    for name in ("张晓明", "陈建国", "李静怡", "北京云证科技有限公司", "110101199003071233", "440305198501194170"):
        assert name not in text


def test_tampered_status_list_does_not_verify(client: Any, root: x509.Certificate) -> None:
    envelope = fetch(client, "/api/v1/status")
    body = json.loads(unb64url(envelope["payload"]))
    body["lists"][0]["encoded"] = base64.urlsafe_b64encode(gzip.compress(bytes(body["lists"][0]["length"] // 4))).decode().rstrip("=")
    envelope["payload"] = base64.urlsafe_b64encode(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).decode().rstrip("=")
    with pytest.raises(InvalidSignature):
        open_signed(envelope, root)


# -- the platform's offline verifier with the two documents ----------------------------------


def test_offline_cli_verifier_with_the_lists(client: Any, make_licence: Callable[..., Any], run_cli: Callable[..., Any], tmp_path: Path) -> None:
    valid = make_licence("household_register")
    revoked = make_licence("id_card")
    lifecycle.revoke(revoked.identifier, reason="户籍注销", actor="test")
    trust_file = tmp_path / "trust-list.json"
    status_file = tmp_path / "status-list.json"
    trust_file.write_text(json.dumps(fetch(client, "/api/v1/trust-list")), encoding="utf-8")
    status_file.write_text(json.dumps(fetch(client, "/api/v1/status")), encoding="utf-8")

    def verify(text: str) -> tuple[int, dict[str, Any]]:
        proc = run_cli("verify", "--json", "--qr", text, "--trust-list", str(trust_file), "--status-list", str(status_file))
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, json.loads(proc.stdout)

    code, report = verify(revoked.qr_text)
    assert code == 1 and report["verdict"] == "revoked"
    assert report["freshness"]["status_source"] == "status_list"
    assert any(c["name"] == "status" and c["passed"] is False and "revoked" in c["reason"] for c in report["checks"])
    code, report = verify(valid.qr_text)
    assert code == 0 and report["verdict"] == "valid"
    assert report["freshness"]["status_source"] == "status_list"
