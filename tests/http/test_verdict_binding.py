"""Every verdict true: payloads signed with genuine department keys but not the ones the register
recorded, retired and withdrawn keys, strict claims, status not checked, and links that lead
elsewhere — over the API, the /V/ page and the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import cbor2
import pytest

from licence_svc.core import cose
from licence_svc.core.payload import K_EXPIRES, K_STATUS, K_VERSION, Claims, b32, payload_from_text, qr_text, sign_claims
from licence_svc.core.verify import verify_pdf, verify_qr
from licence_svc.services import lifecycle, setup, trustdocs
from licence_svc.services.verifying import check_pdf, check_qr, offline_sources
from licence_svc.storage.models import Department, SigningKey
from tests.helpers import certify_with, unsigned_page

BASE_URL = "http://127.0.0.1:8000"


def post_qr(client: Any, text: str) -> Any:
    return client.post("/api/v1/verify", json={"qr": text})


def report_of(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()  # type: ignore[no-any-return]


def failed(report: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["reason"] for c in report["checks"] if c["passed"] is False}


def parts(text: str) -> tuple[cose.Sign1, Claims]:
    msg = cose.parse_sign1(payload_from_text(text))
    return msg, Claims.from_cbor(msg.payload)


def resign(platform: Any, dept_code: str, claims: Claims) -> str:
    """``claims`` signed with the department's genuine, active key: what an insider (or a thief of
    the key) can mint."""
    _, _, creds = platform.signer_for(Department.get_by_id(dept_code))
    return qr_text(BASE_URL, sign_claims(claims, creds.key, creds.kid))


def resign_raw(platform: Any, dept_code: str, claims_map: dict[Any, Any], *, canonical: bool = True) -> str:
    _, _, creds = platform.signer_for(Department.get_by_id(dept_code))
    return qr_text(BASE_URL, cose.sign1(cbor2.dumps(claims_map, canonical=canonical), creds.key, creds.kid))


# -- a genuine key does not make claims the register does not hold valid ---------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: replace(c, holder="王*五"), "holder"),
        (lambda c: replace(c, expires_at=(c.expires_at or 2_000_000_000) + 10 * 365 * 86400), "expiry"),
        (lambda c: replace(c, status_index=None), "status position"),
        (lambda c: replace(c, status_index=(c.status_index or 0) + 1), "status position"),
        (lambda c: replace(c, issued_at=c.issued_at - 1), "issue time"),
        (lambda c: replace(c, digest=bytes(32)), "data digest"),
    ],
    ids=["other holder", "later expiry", "dropped status position", "other status position", "backdated", "other data"],
)
def test_insider_payload_for_a_registered_identifier_is_forged(
    client: Any, platform: Any, departments: dict[str, str], make_licence: Callable[..., Any], change: Any, field: str
) -> None:
    licence = make_licence("id_card")
    _, genuine = parts(licence.qr_text)
    minted = resign(platform, departments["id_card"], change(genuine))
    assert verify_qr(minted, trust=platform.trust_store(), now=datetime.now(timezone.utc)).verdict == "unchecked"  # offline cannot tell
    report = report_of(post_qr(client, minted))
    assert report["verdict"] == "forged", failed(report)
    assert re.search(f"differs from the register's record of this licence: .*{field}", failed(report)["register_match"])
    page = client.get("/V/" + minted.rsplit("/V/", 1)[1])
    assert 'data-verdict="forged"' in page.get_data(as_text=True)
    # the genuine QR of the same licence is still valid: the binding names what differs, nothing more
    assert report_of(post_qr(client, licence.qr_text))["verdict"] == "valid"


def test_insider_payload_is_forged_over_the_cli(run_cli: Any, platform: Any, departments: dict[str, str], make_licence: Callable[..., Any]) -> None:
    licence = make_licence("driving_licence")
    _, genuine = parts(licence.qr_text)
    minted = resign(platform, departments["driving_licence"], replace(genuine, holder="李*"))
    proc = run_cli("verify", "--qr", minted)
    assert proc.returncode == 1, proc.stderr
    assert "verdict: forged" in proc.stdout and "register_match" in proc.stdout


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: {**m, 99: 1}, "unknown claim key 99"),
        (lambda m: {**m, K_VERSION: True}, "version: must be an integer"),
        (lambda m: {**m, K_EXPIRES: 2**63}, "expires_at: out of range"),
        (lambda m: {**m, K_EXPIRES: -(10**11)}, "expires_at: out of range"),
        (lambda m: {**m, K_EXPIRES: 10**40}, "expires_at: out of range"),
        (lambda m: {**m, K_STATUS: 2**64}, "status_index: out of range"),
        (lambda m: {**m, K_STATUS: [1]}, "status_index: must be an integer"),
    ],
    ids=["unknown key", "boolean version", "2^63 expiry", "negative expiry", "bignum expiry", "2^64 status", "list status"],
)
def test_malformed_claims_signed_by_a_genuine_key_are_tampered_not_500(
    client: Any, platform: Any, departments: dict[str, str], issued_samples: dict[str, Any], mutate: Any, reason: str
) -> None:
    msg, _ = parts(issued_samples["id_card"].qr_text)
    minted = resign_raw(platform, departments["id_card"], mutate(cbor2.loads(msg.payload)))
    report = report_of(post_qr(client, minted))
    assert report["verdict"] == "tampered"
    assert reason in failed(report)["format"]


def test_claims_in_another_encoding_are_tampered(client: Any, platform: Any, departments: dict[str, str], issued_samples: dict[str, Any]) -> None:
    """One licence, one QR text: the same claims in a non-deterministic encoding (keys out of order)
    are not the payload the signer writes."""
    msg, _ = parts(issued_samples["id_card"].qr_text)
    claims_map = dict(reversed(list(cbor2.loads(msg.payload).items())))
    minted = resign_raw(platform, departments["id_card"], claims_map, canonical=False)
    report = report_of(post_qr(client, minted))
    assert report["verdict"] == "tampered" and "deterministic encoding" in failed(report)["format"]


def test_signatures_are_low_s_and_the_mirror_s_is_not_the_issued_qr(client: Any, platform: Any, issued_samples: dict[str, Any]) -> None:
    for licence in issued_samples.values():
        assert not parts(licence.qr_text)[0].high_s
    msg, _ = parts(issued_samples["business_licence"].qr_text)
    s = int.from_bytes(msg.signature[32:], "big")
    mirror = replace(msg, signature=msg.signature[:32] + (cose.P256_ORDER - s).to_bytes(32, "big"))
    text = qr_text(BASE_URL, mirror.encode())
    # offline the claims are what was signed (ECDSA accepts both S) ...
    offline = verify_qr(text, trust=platform.trust_store(), now=datetime.now(timezone.utc))
    assert offline.verdict == "unchecked" and not offline.reasons
    # ... online it is not the text issued for the licence
    report = report_of(post_qr(client, text))
    assert report["verdict"] == "tampered"
    assert "not the signature issued with them" in failed(report)["register_match"]


# -- retired and withdrawn keys -----------------------------------------------------------------


def test_retired_key_cannot_mint_after_its_retirement_and_is_destroyed(
    client: Any, platform: Any, departments: dict[str, str], make_licence: Callable[..., Any]
) -> None:
    dept = departments["household_register"]
    old = make_licence("household_register")
    old_msg, old_claims = parts(old.qr_text)
    _, _, old_creds = platform.signer_for(Department.get_by_id(dept))  # the key, as a thief kept it
    new_kid = setup.rotate_key(platform, dept)
    assert new_kid != old_msg.kid.hex()
    key_file = platform.keys.department_key_path(dept, old_msg.kid.hex())
    assert not key_file.exists() and platform.keys.department_cert_path(dept, old_msg.kid.hex()).exists()
    row = SigningKey.get_by_id(old_msg.kid.hex())
    assert row.retired_at is not None and not row.active
    # what it signed before still verifies, online and with the published trust list
    assert report_of(post_qr(client, old.qr_text))["verdict"] == "valid"
    trust, _ = offline_sources(platform.root_cert(), trustdocs.signed_trust_list(platform), None)
    now = datetime.now(timezone.utc)
    assert verify_qr(old.qr_text, trust=trust, now=now).verdict == "unchecked"
    # a payload it signs after its retirement is forged, offline too
    late = replace(old_claims, issued_at=int(now.timestamp()) + 60)
    minted = qr_text(BASE_URL, sign_claims(late, old_creds.key, old_creds.kid))  # type: ignore[arg-type]
    offline = verify_qr(minted, trust=trust, now=now)
    assert offline.verdict == "forged" and "after its signing key was retired" in offline.reasons[0]
    assert report_of(post_qr(client, minted))["verdict"] == "forged"
    assert make_licence("household_register").qr_text  # the department goes on issuing with its new key


def test_withdrawn_key_fails_its_pdfs_offline_and_its_private_half_is_gone(
    platform: Any, departments: dict[str, str], make_licence: Callable[..., Any]
) -> None:
    dept = departments["degree_certificate"]
    kid = setup.rotate_key(platform, dept)
    try:
        licence = make_licence("degree_certificate")
    finally:
        setup.rotate_key(platform, dept)
    setup.withdraw_key(platform, kid, reason="密钥泄露")
    assert not platform.keys.department_key_path(dept, kid).exists()
    trust, _ = offline_sources(platform.root_cert(), trustdocs.signed_trust_list(platform), None)
    report = verify_pdf(licence.pdf, trust=trust, now=datetime.now(timezone.utc))
    assert report.verdict == "untrusted"
    assert any("withdrawn" in r for r in report.reasons)
    assert check_pdf(platform, licence.pdf, offline=True).verdict == "untrusted"


def test_pdf_recertified_with_another_key_of_the_department_is_forged_offline(
    platform: Any, departments: dict[str, str], issued_samples: dict[str, Any]
) -> None:
    """A genuine QR and data under a page certified by a different key (here the department's
    other, current key) is not what the QR's key vouched for: offline, nothing else binds the page."""
    dept = departments["id_card"]
    genuine = issued_samples["id_card"]
    new_kid = setup.rotate_key(platform, dept)
    _, _, creds = platform.signer_for(Department.get_by_id(dept))
    tsa = platform.keys.tsa()
    page, attachment = unsigned_page(genuine.pdf)
    recertified = certify_with(page, attachment, key=creds.key, cert=creds.cert, tsa=(tsa.key, tsa.cert))
    report = check_pdf(platform, recertified, offline=True)
    assert report.verdict == "forged", report.reasons
    assert any(f"PDF certified with key {new_kid}" in r for r in report.reasons)


# -- status not checked is never valid ----------------------------------------------------------


def test_offline_qr_of_a_revoked_licence_is_unchecked_with_its_own_exit_code(run_cli: Any, make_licence: Callable[..., Any]) -> None:
    licence = make_licence("business_licence")
    lifecycle.revoke(licence.identifier, reason="公司注销", category="cancelled", actor="test")
    proc = run_cli("verify", "--offline", "--qr", licence.qr_text)
    assert proc.returncode == 8, proc.stdout + proc.stderr
    assert "verdict: unchecked" in proc.stdout
    online = run_cli("verify", "--qr", licence.qr_text, "--json")
    assert online.returncode == 1
    report = json.loads(online.stdout)
    assert report["verdict"] == "revoked" and "公司注销" not in online.stdout
    assert "证照已注销" in [c["reason_zh"] for c in report["checks"] if c["name"] == "status"][0]


def test_status_list_past_its_next_update_is_unchecked(platform: Any, issued_samples: dict[str, Any]) -> None:
    trust, source = offline_sources(platform.root_cert(), trustdocs.signed_trust_list(platform), trustdocs.signed_status_list(platform))
    text = issued_samples["degree_certificate"].qr_text
    assert source.next_update is not None
    fresh = verify_qr(text, trust=trust, now=datetime.now(timezone.utc), source=source)
    assert fresh.verdict == "valid"
    stale = verify_qr(text, trust=trust, now=source.next_update + timedelta(seconds=1), source=source)
    assert stale.verdict == "unchecked"
    assert "past its next update" in [c.reason for c in stale.checks if c.name == "status"][0]


def test_unchecked_is_not_valid_in_the_report(platform: Any, issued_samples: dict[str, Any]) -> None:
    report = check_qr(platform, issued_samples["id_card"].qr_text, offline=True).as_dict()
    assert report["verdict"] == "unchecked" and report["valid"] is False
    assert report["verdict_label"] == "真实，状态未核验"
    assert report["freshness"]["status_source"] is None


# -- links ----------------------------------------------------------------------------------------


def test_genuine_payload_behind_another_host_is_verified_with_a_warning(client: Any, issued_samples: dict[str, Any]) -> None:
    payload = issued_samples["id_card"].qr_text.rsplit("/V/", 1)[1]
    report = report_of(post_qr(client, f"https://other.example/V/{payload}"))
    assert report["verdict"] == "valid"
    assert [w["code"] for w in report["warnings"]] == ["other_host"]
    assert "other.example" in report["warnings"][0]["message_zh"]
    same = report_of(post_qr(client, issued_samples["id_card"].qr_text))
    assert same["warnings"] == []
    assert report_of(post_qr(client, payload))["warnings"] == []  # a bare payload leads nowhere


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)//V/{p}",
        "data:text/html,/V/{p}",
        "http://127.0.0.1:8000@evil.example/V/{p}",
        "http://user:pw@127.0.0.1:8000/V/{p}",
        "ftp://127.0.0.1/V/{p}",
        "http://127.0.0.1:8000/V/{p}?x=1",
        "http://127.0.0.1:8000/V/{p}#frag",
        "http://127.0.0.1:notaport/V/{p}",
        "http://127.0.0.1:8000/V/{p}\n",
    ],
)
def test_links_that_are_not_licence_links_are_422(client: Any, issued_samples: dict[str, Any], link: str) -> None:
    payload = issued_samples["id_card"].qr_text.rsplit("/V/", 1)[1]
    resp = post_qr(client, link.format(p=payload) + ("x" if link.endswith("\n") else ""))
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"


def test_signing_key_retired_during_an_issue_signs_again(platform: Any, departments: dict[str, str], sample: Any, monkeypatch: Any) -> None:
    """A rotation between reading the key and storing the licence: the licence is signed again
    with the new key, so no stored licence is dated after its key's retirement."""
    from licence_svc.services import issuing

    dept = departments["driving_licence"]
    real_put = platform.pdfs.put
    rotated: list[str] = []

    def put_then_rotate(key: str, pdf: bytes) -> None:
        real_put(key, pdf)
        if not rotated:
            rotated.append(setup.rotate_key(platform, dept))

    monkeypatch.setattr(platform.pdfs, "put", put_then_rotate)
    issued = issuing.issue(platform, kind="driving_licence", data=sample("driving_licence"), department=dept)
    assert rotated and parts(issued.qr_text)[0].kid.hex() == rotated[0]
    assert check_qr(platform, issued.qr_text).verdict == "valid"


def test_trust_list_publishes_retirement_times(platform: Any, departments: dict[str, str]) -> None:
    from licence_svc.core.signeddoc import open_document

    setup.rotate_key(platform, departments["business_licence"])
    body = open_document(trustdocs.signed_trust_list(platform), platform.root_cert())
    retired = [e for e in body["issuers"] if e["state"] == "retired"]
    assert retired and all(datetime.fromisoformat(e["retired_at"]) <= datetime.now(timezone.utc) for e in retired)
    assert all(e["retired_at"] is None for e in body["issuers"] if e["state"] == "active")


def test_b32_alphabet_only(issued_samples: dict[str, Any]) -> None:
    """The QR text stays in the QR alphanumeric set after the low-S change."""
    text = issued_samples["id_card"].qr_text
    assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert b32(payload_from_text(text)) == text.rsplit("/V/", 1)[1]

