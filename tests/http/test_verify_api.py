"""Black box: POST /api/v1/verify with QR text, scans, phone photos and PDFs of every kind, the
lifecycle verdicts, forgeries and tamper twins, unreadable and oversized uploads (problem+json),
masking of personal data, and the /V/<payload> page a phone camera opens."""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import secrets
import struct
import zlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from licence_svc.core import cose
from licence_svc.core.identifiers import new_licence_id
from licence_svc.core.kinds import KINDS as KIND_SPECS
from licence_svc.core.payload import Claims, payload_from_text, qr_text, sign_claims
from licence_svc.core.qrread import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from licence_svc.core.signeddoc import unb64url
from licence_svc.core.statuslist import MIN_ENTRIES, StatusList, encode_bits
from licence_svc.core.verify import Report, StatusSource, verify_qr
from licence_svc.services import lifecycle, setup
from licence_svc.services.verifying import check_pdf, check_qr
from licence_svc.storage.models import Department
from licence_svc.web import MAX_REQUEST_BYTES
from licence_svc.web.verify_api import MAX_PDF_BYTES
from tests.helpers import byte_range, certify_with, embedded_stream_span, flip, load_sample, self_signed, unsigned_page

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")
BASE_URL = "http://127.0.0.1:8000"

# What the public may see of each sample: the masked holder and the masked first holder ID.
MASKED = {
    "id_card": ("张*明", "1101**********1233"),
    "household_register": ("刘*", "1101**********0355"),
    "degree_certificate": ("李*怡", "3201**********2084"),
    "driving_licence": ("陈*国", "4403**********4170"),
    "business_licence": ("北京****公司", "9111**********CD19"),
}


sample_data = load_sample


def personal_values(kind: str) -> list[str]:
    """Values of a sample that must never reach the public: full names, ID numbers, addresses,
    birth dates, the photo."""
    data = sample_data(kind)
    people = data["members"] if kind == "household_register" else [data]
    out: list[str] = []
    for person in people:
        for key in ("name", "id_number", "licence_number", "birth_date", "birthplace", "credit_code"):
            if person.get(key):
                out.append(person[key])
    for key in ("address", "domicile", "legal_representative", "archive_number", "certificate_number", "household_number"):
        if data.get(key):
            out.append(data[key])
    if data.get("photo"):
        out.append(data["photo"][:64])
    return out


# -- helpers ---------------------------------------------------------------------------------


def post_qr(client: Any, text: str) -> Any:
    return client.post("/api/v1/verify", json={"qr": text})


def post_file(client: Any, data: bytes, filename: str, content_type: str = "application/octet-stream") -> Any:
    return client.post(
        "/api/v1/verify", data={"file": (io.BytesIO(data), filename, content_type)}, content_type="multipart/form-data"
    )


CJK = re.compile(r"[\u4e00-\u9fff]")


def assert_reasons_zh(checks: Any) -> None:
    """Every check says why in Chinese too (``reason_zh``): the pages show it to people."""
    for c in checks:
        c = c if isinstance(c, dict) else c._asdict()
        assert isinstance(c["reason_zh"], str) and CJK.search(c["reason_zh"]), c


def report_of(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    report: dict[str, Any] = resp.get_json()
    assert_reasons_zh(report["checks"])
    return report


def failed(report: dict[str, Any]) -> dict[str, str]:
    """Failed checks: name → reason."""
    return {c["name"]: c["reason"] for c in report["checks"] if c["passed"] is False}


def failed_zh(report: dict[str, Any]) -> dict[str, str]:
    """Failed checks: name → the Chinese reason the pages show."""
    return {c["name"]: c["reason_zh"] for c in report["checks"] if c["passed"] is False}


def assert_valid(report: dict[str, Any], evidence: str) -> None:
    assert report["verdict"] == "valid", failed(report)
    assert report["valid"] is True and report["verdict_label"] == "有效"
    assert report["evidence"] == evidence
    assert report["checks"] and all(c["passed"] in (True, None) for c in report["checks"])
    assert all(isinstance(c["name"], str) and isinstance(c["reason"], str) and c["reason"] for c in report["checks"])
    assert datetime.fromisoformat(report["checked_at"]).tzinfo is not None
    fresh = report["freshness"]
    assert fresh["status_source"] == "register"
    assert fresh["trust_as_of"] and fresh["status_as_of"]


def assert_verdict(report: dict[str, Any], verdict: str, check: str, reason: str) -> None:
    """The verdict, and the named check failed with a reason matching ``reason``."""
    reasons = failed(report)
    assert report["verdict"] == verdict, reasons
    assert report["valid"] is False
    assert check in reasons, reasons
    assert re.search(reason, reasons[check]), reasons[check]


def assert_problem(resp: Any, status: int, detail: str | None = None) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = json.loads(resp.get_data(as_text=True))
    assert body["status"] == status
    assert body["type"].startswith("http") and body["title"] and body["detail"]
    if detail is not None:
        assert re.search(detail, body["detail"]), body["detail"]
    return body  # type: ignore[no-any-return]


def claims_of(text: str) -> tuple[cose.Sign1, Claims]:
    msg = cose.parse_sign1(payload_from_text(text))
    return msg, Claims.from_cbor(msg.payload)


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels."""

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b"")


def encode(img: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


# -- every kind, every kind of evidence ------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_qr_text_is_valid(client: Any, issued_samples: dict[str, Any], kind: str) -> None:
    licence = issued_samples[kind]
    report = report_of(post_qr(client, licence.qr_text))
    assert_valid(report, "qr")
    assert report["licence"]["identifier"] == licence.identifier
    assert report["licence"]["kind"] == kind
    assert report["licence"]["issuer"]["code"] == licence.identifier.split(".")[6]


@pytest.mark.parametrize("kind", KINDS)
def test_150_dpi_scan_is_valid(client: Any, issued_samples: dict[str, Any], scan_of: Callable[[bytes], bytes], kind: str) -> None:
    licence = issued_samples[kind]
    report = report_of(post_file(client, scan_of(licence.pdf), "scan.png", "image/png"))
    assert_valid(report, "image")
    assert report["licence"]["identifier"] == licence.identifier


@pytest.mark.parametrize(("kind", "angle"), list(zip(KINDS, (3.0, -4.0, 5.0, -6.0, 4.5))))
def test_phone_photo_is_valid(
    client: Any, issued_samples: dict[str, Any], scan_of: Callable[[bytes], bytes], photo_of: Callable[..., bytes], kind: str, angle: float
) -> None:
    licence = issued_samples[kind]
    photo = photo_of(scan_of(licence.pdf), angle, blur=0.8, width=1200, quality=70)
    assert photo[:3] == b"\xff\xd8\xff" and Image.open(io.BytesIO(photo)).width == 1200
    report = report_of(post_file(client, photo, "IMG_0001.jpg", "image/jpeg"))
    assert_valid(report, "image")
    assert report["licence"]["identifier"] == licence.identifier


@pytest.mark.parametrize("kind", KINDS)
def test_pdf_is_valid(client: Any, issued_samples: dict[str, Any], kind: str) -> None:
    licence = issued_samples[kind]
    report = report_of(post_file(client, licence.pdf, "licence.pdf", "application/pdf"))
    assert_valid(report, "pdf")
    passed = {c["name"] for c in report["checks"] if c["passed"] is True}
    assert {"pdf_integrity", "signature", "issuer_trusted", "issuer_authorised", "status", "pdf_matches_record"} <= passed
    assert report["licence"]["identifier"] == licence.identifier


# -- masking ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_reports_show_only_masked_data(client: Any, issued_samples: dict[str, Any], kind: str) -> None:
    licence = issued_samples[kind]
    holder, holder_id = MASKED[kind]
    for resp in (post_qr(client, licence.qr_text), post_file(client, licence.pdf, "licence.pdf")):
        report = report_of(resp)
        assert report["licence"]["holder"] == holder
        assert report["licence"]["holder_id"] == holder_id
        raw = resp.get_data(as_text=True)
        readable = json.dumps(report, ensure_ascii=False)
        for value in personal_values(kind):
            assert value not in raw and value not in readable, f"{value!r} in the public report"


# -- lifecycle: visible at the next check ----------------------------------------------------


def test_revoked_at_once(client: Any, make_licence: Callable[..., Any]) -> None:
    licence = make_licence("driving_licence")
    assert report_of(post_qr(client, licence.qr_text))["verdict"] == "valid"
    lifecycle.revoke(licence.identifier, reason="驾驶证被依法吊销", actor="test")
    report = report_of(post_qr(client, licence.qr_text))  # no cache between the change and the check
    assert_verdict(report, "revoked", "status", "licence revoked")
    assert "驾驶证被依法吊销" not in json.dumps(report, ensure_ascii=False)  # the department's free text is not public
    assert failed_zh(report)["status"] == "证照已吊销/注销（据登记库）"
    assert report["verdict_label"] == "已吊销"
    pdf_report = report_of(post_file(client, licence.pdf, "licence.pdf"))
    assert_verdict(pdf_report, "revoked", "status", "licence revoked")
    assert pdf_report["checks"][0]["name"] == "pdf_integrity" and pdf_report["checks"][0]["passed"] is True


def test_suspended_then_reinstated(client: Any, make_licence: Callable[..., Any]) -> None:
    licence = make_licence("id_card")
    lifecycle.suspend(licence.identifier, reason="证件挂失", actor="test")
    suspended = report_of(post_qr(client, licence.qr_text))
    assert_verdict(suspended, "suspended", "status", "licence suspended")
    assert "证件挂失" not in json.dumps(suspended, ensure_ascii=False)
    lifecycle.reinstate(licence.identifier, reason="找回", actor="test")
    assert_valid(report_of(post_qr(client, licence.qr_text)), "qr")


def test_superseded_by_a_new_version(client: Any, make_licence: Callable[..., Any], platform: Any) -> None:
    old = make_licence("business_licence")
    data = {**sample_data("business_licence"), "registered_capital": "贰仟万元整"}
    new = lifecycle.new_version(platform, old.identifier, data=data, actor="test")
    report = report_of(post_qr(client, old.qr_text))
    assert_verdict(report, "superseded", "status", "superseded")
    assert report["licence"]["superseded_by"] == new.identifier
    assert_verdict(report_of(post_file(client, old.pdf, "old.pdf")), "superseded", "status", "superseded")
    assert_valid(report_of(post_qr(client, new.qr_text)), "qr")
    assert_valid(report_of(post_file(client, new.pdf, "new.pdf")), "pdf")


def test_expired(client: Any, make_licence: Callable[..., Any]) -> None:
    licence = make_licence("id_card", valid_from="2000-01-01", valid_until="2010-01-01")
    report = report_of(post_qr(client, licence.qr_text))
    assert_verdict(report, "expired", "not_expired", "expired on 2010-01-01")
    assert report["licence"]["expires_at"].startswith("2010-01-01")


# -- forgeries and tampering -----------------------------------------------------------------


def test_qr_signed_by_an_unknown_key_is_untrusted(client: Any, issued_samples: dict[str, Any]) -> None:
    """The genuine claims of a real licence, re-signed by a key the platform never certified."""
    _, claims = claims_of(issued_samples["id_card"].qr_text)
    kid = secrets.token_bytes(8)
    fake = qr_text(BASE_URL, sign_claims(claims, ec.generate_private_key(ec.SECP256R1()), kid))
    report = report_of(post_qr(client, fake))
    assert_verdict(report, "untrusted", "issuer_trusted", f"{kid.hex()} is not on the platform trust list")


def _unauthorised_qr(platform: Any, departments: dict[str, str], issued_samples: dict[str, Any]) -> str:
    """id_card claims signed with the education bureau's real key: it may issue degrees only."""
    edu = Department.get(Department.code == departments["degree_certificate"])
    _, _, creds = platform.signer_for(edu)
    _, genuine = claims_of(issued_samples["id_card"].qr_text)
    claims = replace(genuine, issuer=edu.code, identifier=str(new_licence_id(KIND_SPECS["id_card"].kind_code, edu.code)))
    return qr_text(BASE_URL, sign_claims(claims, creds.key, creds.kid))


def test_qr_signed_by_a_department_not_authorised_for_the_kind(client: Any, platform: Any, departments: dict[str, str], issued_samples: dict[str, Any]) -> None:
    report = report_of(post_qr(client, _unauthorised_qr(platform, departments, issued_samples)))
    assert report["valid"] is False and report["verdict"] in ("untrusted", "forged")
    reasons = failed(report)
    assert "signature" not in reasons  # the department's signature itself is genuine
    assert re.search("not authorised to issue 居民身份证", reasons["issuer_authorised"])


def test_qr_signed_by_a_department_not_authorised_for_the_kind_is_untrusted(client: Any, platform: Any, departments: dict[str, str], issued_samples: dict[str, Any]) -> None:
    report = report_of(post_qr(client, _unauthorised_qr(platform, departments, issued_samples)))
    assert_verdict(report, "untrusted", "issuer_authorised", "not authorised")


def test_one_changed_character_is_never_valid(client: Any, issued_samples: dict[str, Any]) -> None:
    text = issued_samples["degree_certificate"].qr_text
    start = text.index("/V/") + 3
    positions = [start, start + 1, len(text) - 2, *random.Random(20240115).sample(range(start + 2, len(text) - 2), 30)]
    changes = [(pos, "A" if text[pos] != "A" else "Q") for pos in positions]
    # the last character also carries padding bits: only the canonical one may decode
    changes += [(len(text) - 1, c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" if c != text[-1]]
    outcomes = set()
    for pos, new in changes:
        resp = post_qr(client, text[:pos] + new + text[pos + 1 :])
        if resp.status_code == 422:
            assert_problem(resp, 422)
            outcomes.add("unreadable")
            continue
        report = report_of(resp)
        assert report["verdict"] != "valid", f"position {pos} → {new}"
        assert failed(report), f"position {pos} → {new}: no failed check"
        outcomes.add(report["verdict"])
    assert {"forged", "tampered"} <= outcomes


def test_pdf_with_one_changed_byte_is_tampered(client: Any, issued_samples: dict[str, Any]) -> None:
    pdf = issued_samples["household_register"].pdf
    a, b, c, d = byte_range(pdf)
    skip = embedded_stream_span(pdf)
    candidates = [i for i in (*range(a + 16, a + b), *range(c, c + d)) if pdf[i : i + 1] not in b" \r\n\t" and not skip[0] <= i < skip[1]]
    for pos in [(a + b) // 2, *random.Random(7).sample(candidates, 4)]:
        report = report_of(post_file(client, flip(pdf, pos), "licence.pdf", "application/pdf"))
        reasons = failed(report)
        assert report["verdict"] == "tampered", f"byte {pos}: {reasons}"
        assert reasons and all(reasons.values())


def test_pdf_with_a_changed_byte_in_the_embedded_data_is_tampered(client: Any, issued_samples: dict[str, Any]) -> None:
    pdf = issued_samples["household_register"].pdf
    start, end = embedded_stream_span(pdf)
    for pos in ((start + end) // 2, end - 3):  # the deflated data, its Adler-32 trailer
        resp = post_file(client, flip(pdf, pos), "licence.pdf", "application/pdf")
        assert_verdict(report_of(resp), "tampered", "pdf_integrity", "signature does not match")


def test_pdf_with_an_incremental_update_is_tampered(client: Any, issued_samples: dict[str, Any]) -> None:
    pdf = issued_samples["business_licence"].pdf
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.set_info(generic.DictionaryObject({generic.NameObject("/Title"): generic.TextStringObject("已注销")}))
    out = io.BytesIO()
    writer.write(out)
    updated = out.getvalue()
    assert updated.startswith(pdf) and len(updated) > len(pdf)  # the signed revision is untouched
    report = report_of(post_file(client, updated, "licence.pdf", "application/pdf"))
    assert_verdict(report, "tampered", "pdf_integrity", "whole file|modified after signing")


def _resigned_copy(issued_pdf: bytes) -> bytes:
    """What a forger does with pyhanko alone: render the page again (genuine data and QR), attach the
    genuine licence.json, and certify it with a self-made certificate in the department's name."""
    page, attachment = unsigned_page(issued_pdf)
    name = f"{json.loads(attachment)['issuer']['name']}电子证照签章"
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.COMMON_NAME, name)])
    key = ec.generate_private_key(ec.SECP256R1())
    return certify_with(page, attachment, key=key, cert=self_signed(key, subject, ca=False), tsa=None)


def test_pdf_re_signed_with_a_self_made_certificate_is_not_valid(client: Any, issued_samples: dict[str, Any]) -> None:
    forged = _resigned_copy(issued_samples["degree_certificate"].pdf)
    report = report_of(post_file(client, forged, "licence.pdf", "application/pdf"))
    assert report["verdict"] in ("untrusted", "tampered", "forged")
    assert report["valid"] is False
    assert re.search("platform root", failed(report)["pdf_integrity"])


# -- keys: withdrawal and rotation -----------------------------------------------------------


def test_withdrawn_key_fails_with_the_reason(client: Any, platform: Any, departments: dict[str, str], make_licence: Callable[..., Any]) -> None:
    dept = departments["business_licence"]
    kid = setup.rotate_key(platform, dept)
    try:
        licence = make_licence("business_licence")
        assert claims_of(licence.qr_text)[0].kid.hex() == kid
        assert_valid(report_of(post_qr(client, licence.qr_text)), "qr")
    finally:
        setup.rotate_key(platform, dept)  # the department keeps an active key for the rest of the session
    setup.withdraw_key(platform, kid, reason="私钥泄露，2024年第3号公告")
    for resp in (post_qr(client, licence.qr_text), post_file(client, licence.pdf, "licence.pdf")):
        report = report_of(resp)
        assert_verdict(report, "untrusted", "issuer_trusted", "withdrawn: 私钥泄露，2024年第3号公告")


def test_rotated_key_old_licences_still_verify(client: Any, platform: Any, departments: dict[str, str], make_licence: Callable[..., Any]) -> None:
    dept = departments["degree_certificate"]
    before = make_licence("degree_certificate")
    old_kid = claims_of(before.qr_text)[0].kid.hex()
    new_kid = setup.rotate_key(platform, dept)
    assert new_kid != old_kid
    after = make_licence("degree_certificate")
    assert claims_of(after.qr_text)[0].kid.hex() == new_kid
    for licence in (before, after):
        assert_valid(report_of(post_qr(client, licence.qr_text)), "qr")
        assert_valid(report_of(post_file(client, licence.pdf, "licence.pdf")), "pdf")
    trusted = {c["name"]: c["reason"] for c in report_of(post_qr(client, after.qr_text))["checks"]}["issuer_trusted"]
    assert new_kid in trusted


# -- reasons: English for programs, Chinese for people --------------------------------------


def _status_list(issued_at: str, entries: dict[str, list[tuple[int, str]]]) -> StatusSource:
    bits = {issuer: gzip.decompress(unb64url(encode_bits(e, MIN_ENTRIES))) for issuer, e in entries.items()}
    return StatusSource(status_list=StatusList(issued_at, bits))


def test_every_check_of_every_verdict_says_why_in_chinese(
    platform: Any, departments: dict[str, str], issued_samples: dict[str, Any], make_licence: Callable[..., Any]
) -> None:
    genuine = issued_samples["id_card"]
    revoked = make_licence("driving_licence")
    lifecycle.revoke(revoked.identifier, reason="驾驶证被依法吊销", actor="test")
    expired = make_licence("id_card", valid_from="2000-01-01", valid_until="2010-01-01")
    msg, claims = claims_of(genuine.qr_text)
    _, revoked_claims = claims_of(revoked.qr_text)
    assert claims.status_index is not None and revoked_claims.status_index is not None
    forged = qr_text(BASE_URL, sign_claims(replace(claims, holder="王*"), ec.generate_private_key(ec.SECP256R1()), msg.kid))
    unknown_kid = secrets.token_bytes(8)
    untrusted = qr_text(BASE_URL, sign_claims(claims, ec.generate_private_key(ec.SECP256R1()), unknown_kid))
    a, b, _, _ = byte_range(genuine.pdf)
    status_list = _status_list(
        "2025-02-28T20:00:00+00:00",  # 1 March in Beijing
        {claims.issuer: [], revoked_claims.issuer: [(revoked_claims.status_index, "revoked")]},
    )
    now = datetime.now(timezone.utc)
    cases: dict[str, tuple[str, Report]] = {
        "valid qr": ("valid", check_qr(platform, genuine.qr_text)),
        "valid pdf": ("valid", check_pdf(platform, genuine.pdf)),
        "revoked qr": ("revoked", check_qr(platform, revoked.qr_text)),
        "revoked pdf": ("revoked", check_pdf(platform, revoked.pdf)),
        "expired": ("expired", check_qr(platform, expired.qr_text)),
        "forged": ("forged", check_qr(platform, forged)),
        "untrusted key": ("untrusted", check_qr(platform, untrusted)),
        "unauthorised": ("untrusted", check_qr(platform, _unauthorised_qr(platform, departments, issued_samples))),
        "tampered pdf": ("tampered", check_pdf(platform, flip(genuine.pdf, (a + b) // 2))),
        "self-signed pdf": ("untrusted", check_pdf(platform, _resigned_copy(genuine.pdf))),
        "offline qr": ("unchecked", check_qr(platform, genuine.qr_text, offline=True)),
        "offline pdf": ("unchecked", check_pdf(platform, genuine.pdf, offline=True)),
        "status list valid": ("valid", verify_qr(genuine.qr_text, trust=platform.trust_store(), now=now, source=status_list)),
        "status list revoked": ("revoked", verify_qr(revoked.qr_text, trust=platform.trust_store(), now=now, source=status_list)),
    }
    for case, (verdict, report) in cases.items():
        assert report.verdict == verdict, (case, report.reasons)
        assert_reasons_zh(report.checks)
        for c in report.checks:
            assert c.reason and c.reason_zh != c.reason, (case, c)  # two languages, not one text twice
            assert c.as_dict()["reason_zh"] == c.reason_zh

    def zh(case: str, name: str) -> list[str]:
        return [c.reason_zh for c in cases[case][1].checks if c.name == name]

    assert zh("valid qr", "signature") == ["ES256 数字签名验证通过"]
    assert zh("valid qr", "status") == ["证照现行有效（据登记库）"]
    assert zh("valid pdf", "pdf_matches_record") == ["内嵌数据、二维码及文件与登记库记录一致"]
    assert zh("revoked qr", "status") == ["证照已吊销/注销（据登记库）"]
    assert zh("expired", "not_expired") == ["已于2010年01月01日过期"]  # the end of that day in Beijing
    assert zh("forged", "signature") == ["数字签名与数据不符"]
    assert zh("untrusted key", "issuer_trusted") == [f"签名密钥 {unknown_kid.hex()} 不在平台信任列表中"]
    assert zh("unauthorised", "issuer_authorised") == [f"{Department.get_by_id(departments['degree_certificate']).name}无权签发居民身份证"]
    assert "签名与文件内容不符" in zh("tampered pdf", "pdf_integrity")[0]
    assert zh("self-signed pdf", "pdf_integrity") == ["签章证书不能链接到平台根证书"]
    assert zh("offline qr", "status") == ["未核验：离线核验（无登记库或状态列表）"]
    assert zh("offline pdf", "pdf_matches_record") == ["未核验：离线核验（无登记库）"]
    assert zh("status list valid", "status") == ["证照现行有效（据2025年03月01日发布的状态列表）"]
    assert zh("status list revoked", "status") == ["证照已吊销/注销（据2025年03月01日发布的状态列表）"]


def test_console_and_api_describe_reason_zh(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    check = spec["components"]["schemas"]["Check"]
    assert "reason_zh" in check["required"] and check["properties"]["reason_zh"]["type"] == "string"
    assert 'src="/static/js/console.js"' in client.get("/verify").get_data(as_text=True)
    assert "c.reason_zh" in client.get("/static/js/console.js").get_data(as_text=True)  # the console's script, a file under the CSP


# -- unreadable, invalid and oversized input: problem+json -----------------------------------


def test_body_neither_json_nor_multipart(client: Any) -> None:
    resp = client.post("/api/v1/verify", data=b"qr=HTTP://X/V/AAAA", content_type="text/plain")
    assert_problem(resp, 422, "JSON|multipart")


def test_text_file_upload(client: Any) -> None:
    assert_problem(post_file(client, "这不是证照\n".encode(), "licence.txt", "text/plain"), 422, "not a JPEG or PNG")


def test_image_without_a_qr_code(client: Any) -> None:
    blank = encode(Image.new("L", (800, 1100), 255), "PNG")
    assert_problem(post_file(client, blank, "blank.png", "image/png"), 422, "no QR code")


@pytest.mark.parametrize("text", ["hello world", "https://example.com/", "HTTP://127.0.0.1:8000/V/", "http://x/V/1890"])
def test_qr_text_that_is_no_licence_link(client: Any, text: str) -> None:
    assert_problem(post_qr(client, text), 422, "not a licence verification link")


def test_qr_text_hello(client: Any) -> None:
    assert_problem(post_qr(client, "hello"), 422)


def test_unknown_qr_format_version(client: Any) -> None:
    claims = {0: 2, 1: "ABCDEFGH12345678", 2: 1, 3: 1, 4: "11110000000019001J", 5: 1795000000, 7: "张*明", 8: bytes(32)}  # a realistic size
    signed = cose.sign1(cbor2.dumps(claims), ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(8))
    assert_problem(post_qr(client, qr_text(BASE_URL, signed)), 422, "unknown QR format version 2")


def test_unknown_json_field_is_named(client: Any, issued_samples: dict[str, Any]) -> None:
    body = assert_problem(client.post("/api/v1/verify", json={"qr": issued_samples["id_card"].qr_text, "mode": "full"}), 422, "mode")
    assert body["errors"] == [{"field": "mode", "reason": "unknown field"}]


@pytest.mark.parametrize("body", [{}, {"qr": 42}, {"qr": "  "}, ["qr"]], ids=["missing", "number", "blank", "array"])
def test_malformed_json(client: Any, body: Any) -> None:
    assert_problem(client.post("/api/v1/verify", json=body), 422)


def test_upload_in_another_field(client: Any, issued_samples: dict[str, Any]) -> None:
    resp = client.post("/api/v1/verify", data={"document": (io.BytesIO(issued_samples["id_card"].pdf), "l.pdf")}, content_type="multipart/form-data")
    assert_problem(resp, 422, "file")


def test_upload_over_the_request_cap(client: Any) -> None:
    big = b"\xff\xd8\xff\xe0" + bytes(MAX_REQUEST_BYTES)
    assert_problem(post_file(client, big, "huge.jpg", "image/jpeg"), 413)


@pytest.mark.parametrize(
    ("head", "size", "detail"),
    [(b"%PDF-1.7\n", MAX_PDF_BYTES + 1, "PDF larger than"), (b"\xff\xd8\xff\xe0", MAX_IMAGE_BYTES + 1, "limit")],
    ids=["pdf", "image"],
)
def test_upload_over_its_own_cap(client: Any, head: bytes, size: int, detail: str) -> None:
    assert size < MAX_REQUEST_BYTES  # under the request cap: refused by the PDF or image limit
    assert_problem(post_file(client, head + bytes(size - len(head)), "big", "application/octet-stream"), 413, detail)


def test_image_with_too_many_pixels(client: Any) -> None:
    assert 8000 * 8000 > MAX_IMAGE_PIXELS
    body = assert_problem(post_file(client, png_claiming(8000, 8000), "bomb.png", "image/png"), 413, "pixels")
    assert "8000" in body["detail"]


def test_problems_are_never_html(client: Any) -> None:
    """Werkzeug's own errors (wrong method, unknown path) come as problem+json as well."""
    assert_problem(client.get("/api/v1/verify"), 405)
    assert client.get("/api/v1/no-such-endpoint").mimetype == "application/problem+json"


# -- the page a phone camera opens -----------------------------------------------------------


def page_path(text: str) -> str:
    return urlsplit(text).path  # "/V/<base32>"


@pytest.mark.parametrize("kind", KINDS)
def test_verdict_page_of_a_valid_licence(client: Any, issued_samples: dict[str, Any], kind: str) -> None:
    licence = issued_samples[kind]
    path = page_path(licence.qr_text)
    assert path.startswith("/V/")
    resp = client.get(path)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "有效" in html and 'data-verdict="valid"' in html
    holder, holder_id = MASKED[kind]
    assert holder in html and holder_id in html
    for value in personal_values(kind):
        assert value not in html, f"{value!r} on the public page"


def test_verdict_page_of_a_revoked_licence(client: Any, make_licence: Callable[..., Any]) -> None:
    licence = make_licence("id_card")
    lifecycle.revoke(licence.identifier, reason="已死亡注销", actor="test")
    resp = client.get(page_path(licence.qr_text))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "已吊销" in html and 'data-verdict="revoked"' in html
    # people read the reasons in Chinese: the verdict's and every check's
    assert '<div class="reason">已吊销：证照已吊销/注销（据登记库）</div>' in html and "已死亡注销" not in html
    assert "证照状态：证照已吊销/注销（据登记库）" in html and "数字签名：ES256 数字签名验证通过" in html
    assert "(licence revoked)" not in html and "signature verifies" not in html
    for value in personal_values("id_card"):
        assert value not in html


@pytest.mark.parametrize("path", ["/V/HELLO1", "/V/hello-world", "/v/%E4%BD%A0%E5%A5%BD"])
def test_verdict_page_of_garbage(client: Any, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 422
    assert resp.mimetype == "text/html"
    assert "无法识别" in resp.get_data(as_text=True)


def test_verdict_page_of_base32_garbage(client: Any) -> None:
    resp = client.get("/V/ABCDEFGH")
    assert resp.status_code == 422
    assert "无法识别" in resp.get_data(as_text=True)
