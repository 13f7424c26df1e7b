"""Annotated copies (加注件): a licence handed to a window through a holder's grant carries the
notice on every page, is signed by the platform, verifies as a copy for that purpose until its
expiry, and fails when tampered with, made by anyone else, unknown to the register, or when the
licence or the grant is revoked."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from licence_svc.core import annotate
from licence_svc.core.identifiers import new_licence_id
from licence_svc.core.kinds import get_kind
from licence_svc.core.payload import Claims, data_digest, qr_text, sign_claims
from licence_svc.core.pdfsign import sign_licence_pdf
from licence_svc.core.render import RenderRequest, render_pdf
from licence_svc.core.verify import verify_qr
from licence_svc.services import lifecycle, trustdocs
from licence_svc.services.copies import annotated_copy, platform_department
from licence_svc.services.issuing import issue
from licence_svc.services.setup import DEMO_WINDOW, demo_code
from licence_svc.services.verifying import check_pdf
from licence_svc.storage.models import Department, Licence, Redemption, ShareGrant
from tests.helpers import byte_range, flip, load_sample

BEIJING = timezone(timedelta(hours=8))
WINDOW = demo_code(DEMO_WINDOW[0])
PURPOSE = "企业开办登记（设立登记材料核验）"


sample = load_sample


@dataclass
class Copy:
    pdf: bytes
    licence: str
    grant: str
    redemption: str
    expires_at: datetime


def _grant(licence: str, *, purpose: str, expires_at: datetime, now: datetime) -> str:
    grant_id = secrets.token_hex(8)
    ShareGrant.create(
        grant_id=grant_id,
        code_hash=secrets.token_hex(32),
        licence=licence,
        holder="110101199003071233",
        recipient=WINDOW,
        purpose=purpose,
        scope="pdf",
        created_at=now,
        expires_at=expires_at,
    )
    return grant_id


@pytest.fixture()
def make_copy(platform: Any, departments: dict[str, str]) -> Callable[..., Copy]:
    """A fresh licence (or ``licence``), a pdf-scope grant to the demo window, one redemption, and
    the copy it handed out, recorded as production does (Redemption.copy_sha256)."""

    def make(kind: str = "business_licence", *, licence: str | None = None, purpose: str = PURPOSE, hours: float = 24, record: bool = True) -> Copy:
        now = datetime.now(timezone.utc)
        ident = licence or issue(platform, kind=kind, data=sample(kind), department=departments[kind]).identifier
        expires_at = (now + timedelta(hours=hours)).replace(microsecond=0)
        grant_id = _grant(ident, purpose=purpose, expires_at=expires_at, now=now)
        redemption_id = secrets.token_hex(8)
        window = Department.get_by_id(WINDOW)
        pdf = annotated_copy(
            platform,
            licence=ident,
            grant_id=grant_id,
            redemption_id=redemption_id,
            recipient_code=window.code,
            recipient_name=window.name,
            purpose=purpose,
            expires_at=expires_at,
            now=now,
        )
        Redemption.create(
            redemption_id=redemption_id,
            grant=grant_id,
            department=window.code,
            at=now,
            receipt="{}",
            copy_sha256=hashlib.sha256(pdf).hexdigest() if record else None,
        )
        return Copy(pdf, ident, grant_id, redemption_id, expires_at)

    return make


def checks(report: Any) -> dict[str, tuple[bool | None, str]]:
    """Check name → (passed, reason); a failure wins over a pass of the same name."""
    out: dict[str, tuple[bool | None, str]] = {}
    for c in report.checks:
        if c.name not in out or c.passed is False:
            out[c.name] = (c.passed, c.reason)
    return out


def failed(report: Any) -> dict[str, str]:
    return {c.name: c.reason for c in report.checks if c.passed is False}


def failed_zh(report: Any) -> dict[str, str]:
    """Check name → the Chinese reason the pages show."""
    return {c.name: c.reason_zh for c in report.checks if c.passed is False}


def embedded(pdf: bytes) -> dict[str, Any]:
    names = PdfFileReader(io.BytesIO(pdf)).root["/Names"]["/EmbeddedFiles"]["/Names"]
    return json.loads(bytes(names[1]["/EF"]["/F"].data))  # type: ignore[no-any-return]


def pdf_text(pdf: bytes) -> str:
    """All text of the PDF in drawing order, as pdftotext reads it, without the line breaks of the wrapped notice."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run([pdftotext, "-raw", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60).stdout
    return re.sub(r"\s+", "", out.decode("utf-8"))


def expiry_label(at: datetime) -> str:
    t = at.astimezone(BEIJING)
    return f"{t.year}年{t.month:02d}月{t.day:02d}日{t.hour:02d}:{t.minute:02d}"


# -- the platform identity ------------------------------------------------------------------


def test_platform_identity_is_on_the_trust_list_and_may_issue_nothing(platform: Any) -> None:
    dept = platform_department()
    assert dept.code == annotate.PLATFORM_CODE and dept.kind_list == []
    body = json.loads(base64.urlsafe_b64decode(trustdocs.signed_trust_list(platform)["payload"] + "=="))
    (entry,) = [i for i in body["issuers"] if i["department_code"] == annotate.PLATFORM_CODE]
    assert entry["kinds"] == [] and entry["state"] == "active"


def test_a_licence_signed_with_the_platform_key_is_not_authorised(platform: Any) -> None:
    """The copy key can sign copies only: a QR payload it signs is never a licence."""
    _row, _signer, creds = platform.signer_for(platform_department())
    now = datetime.now(timezone.utc)
    claims = Claims(
        identifier=str(new_licence_id(get_kind("id_card").kind_code, annotate.PLATFORM_CODE)),
        kind="id_card",
        issuer=annotate.PLATFORM_CODE,
        issued_at=int(now.timestamp()),
        expires_at=None,
        holder="张*明",
        digest=data_digest(sample("id_card")),
        status_index=1,
    )
    text = qr_text(platform.settings.base_url, sign_claims(claims, creds.key, creds.kid))
    report = verify_qr(text, trust=platform.trust_store(), now=now)
    assert report.verdict == "untrusted"
    assert "not authorised" in failed(report)["issuer_authorised"]


# -- a copy as the window gets it -------------------------------------------------------------


def test_copy_is_valid_for_its_purpose_until_its_expiry(platform: Any, make_copy: Callable[..., Copy]) -> None:
    copy = make_copy()
    before = copy.expires_at - timedelta(minutes=1)
    report = check_pdf(platform, copy.pdf, now=before)
    assert report.verdict == "valid", failed(report)
    passed, reason = checks(report)["copy_validity"]
    assert passed is True
    assert PURPOSE in reason and DEMO_WINDOW[1] in reason and "valid until" in reason
    reason_zh = [c.reason_zh for c in report.checks if c.name == "copy_validity"][-1]
    assert PURPOSE in reason_zh and DEMO_WINDOW[1] in reason_zh and "前有效" in reason_zh
    assert checks(report)["pdf_matches_record"][0] is True
    assert report.copy == {
        "purpose": PURPOSE,
        "recipient": {"code": WINDOW, "name": DEMO_WINDOW[1]},
        "expires_at": copy.expires_at.isoformat(),
        "expired": False,
        "grant": copy.grant,
        "redemption": copy.redemption,
        "notice": report.copy["notice"],  # type: ignore[index]
    }
    assert report.licence and report.licence["identifier"] == copy.licence
    assert report.as_dict()["copy"]["purpose"] == PURPOSE

    after = copy.expires_at + timedelta(minutes=1)
    report = check_pdf(platform, copy.pdf, now=after)
    assert report.verdict == "expired"
    assert report.copy is not None and report.copy["expired"] is True
    reason = failed(report)["copy_validity"]
    assert "annotated copy expired" in reason and PURPOSE in reason and DEMO_WINDOW[1] in reason
    reason_zh = failed_zh(report)["copy_validity"]
    assert "加注件已过期" in reason_zh and PURPOSE in reason_zh and DEMO_WINDOW[1] in reason_zh
    assert set(failed(report)) == {"copy_validity"}  # the licence itself is still in force


def test_original_is_not_a_copy(platform: Any, issued_samples: dict[str, Any]) -> None:
    report = check_pdf(platform, issued_samples["degree_certificate"].pdf)
    assert report.verdict == "valid" and report.copy is None
    assert "copy_validity" not in checks(report)
    assert report.as_dict()["copy"] is None


def test_copy_is_signed_by_the_platform_and_embeds_the_copy_section(platform: Any, make_copy: Callable[..., Copy]) -> None:
    copy = make_copy("driving_licence")
    doc = embedded(copy.pdf)
    original = Licence.get_by_id(copy.licence)
    assert doc["qr_text"] == original.qr_text and doc["identifier"] == copy.licence
    assert doc["copy"]["grant"] == copy.grant and doc["copy"]["redemption"] == copy.redemption
    assert doc["copy"]["recipient"] == {"code": WINDOW, "name": DEMO_WINDOW[1]}
    assert doc["copy"]["original_pdf_sha256"] == original.pdf_sha256
    assert datetime.fromisoformat(doc["copy"]["expires_at"]) == copy.expires_at
    (signature,) = PdfFileReader(io.BytesIO(copy.pdf)).embedded_signatures
    assert str(signature.sig_object["/Reason"]) == "加注件签章"
    report = check_pdf(platform, copy.pdf)
    authorised = [c for c in report.checks if c.name == "issuer_authorised"][-1]  # after the QR signer's
    assert authorised.passed and "加注件由" + annotate.COPY_SIGNER_NAME in authorised.reason_zh
    assert authorised.reason == f"annotated copy signed by {annotate.COPY_SIGNER_NAME}"


@pytest.mark.parametrize("kind", ["business_licence", "household_register"])
def test_notice_is_visible_on_every_page(make_copy: Callable[..., Copy], kind: str) -> None:
    copy = make_copy(kind)
    text = pdf_text(copy.pdf)
    pages = int(PdfFileReader(io.BytesIO(copy.pdf)).root["/Pages"]["/Count"])
    notice = f"加注件：仅供【{DEMO_WINDOW[1]}】办理“{PURPOSE}”使用，有效期至【{expiry_label(copy.expires_at)}】，逾期无效；复制、转作他用无效"
    assert text.count(notice) == pages >= (2 if kind == "household_register" else 1), text[:400]
    assert copy.grant in text and copy.redemption in text


def test_purpose_with_characters_the_fonts_lack_still_makes_a_copy(platform: Any, make_copy: Callable[..., Copy]) -> None:
    purpose = "办理 🙂 事项\n第二行"
    copy = make_copy(purpose=purpose)
    assert embedded(copy.pdf)["copy"]["purpose"] == purpose  # the exact text travels in the data
    report = check_pdf(platform, copy.pdf)
    assert report.verdict == "valid" and report.copy and report.copy["purpose"] == purpose


def test_copy_is_fast(make_copy: Callable[..., Copy]) -> None:
    make_copy()  # fonts and signer loaded
    start = time.perf_counter()
    make_copy()
    assert time.perf_counter() - start < 1.0  # issuing + copy; the copy alone is tens of ms


# -- what must fail -----------------------------------------------------------------------------


def test_tamper_twin(platform: Any, make_copy: Callable[..., Copy]) -> None:
    copy = make_copy()
    assert check_pdf(platform, copy.pdf).verdict == "valid"
    _, b, _, _ = byte_range(copy.pdf)
    for pos in (b // 2, b // 3):
        report = check_pdf(platform, flip(copy.pdf, pos))
        assert report.verdict == "tampered", (pos, failed(report))


def test_revoked_licence_revokes_its_copies(platform: Any, make_copy: Callable[..., Copy], departments: dict[str, str]) -> None:
    copy = make_copy("id_card")
    lifecycle.revoke(copy.licence, reason="证件遗失", actor="test", department=departments["id_card"])
    report = check_pdf(platform, copy.pdf)
    assert report.verdict == "revoked"
    assert "revoked" in failed(report)["status"]


def test_revoked_grant_revokes_the_copy(platform: Any, make_copy: Callable[..., Copy]) -> None:
    copy = make_copy()
    ShareGrant.update(revoked_at=datetime.now(timezone.utc)).where(ShareGrant.grant_id == copy.grant).execute()
    report = check_pdf(platform, copy.pdf)
    assert report.verdict == "revoked"
    assert "授权已被持证人撤销" in failed_zh(report)["copy_validity"]
    assert "revoked the grant" in failed(report)["copy_validity"]


def _forged_copy(
    platform: Any, licence: str, dept: Department, *, with_copy: bool, redemption: str = "r", grant: str = "g", raw_section: Any = None
) -> bytes:
    """The licence re-rendered like a copy, its data embedded (with or without a copy section),
    certified with ``dept``'s real key: what an insider with the wrong key could make."""
    row = Licence.get_by_id(licence)
    issuer = Department.get_by_id(row.issuer_id)
    spec = get_kind(row.kind)
    section = annotate.CopySection(grant, redemption, WINDOW, DEMO_WINDOW[1], PURPOSE, datetime.now(timezone.utc) + timedelta(days=1), row.pdf_sha256)
    page = render_pdf(
        RenderRequest(spec, json.loads(row.data_json), row.identifier, issuer.name, row.issued_at.date(), row.qr_text),
        overlay=annotate.overlay(section) if with_copy else None,
    )
    attachment: dict[str, Any] = {
        "format": "licence-data/1",
        "identifier": row.identifier,
        "kind": spec.name,
        "kind_label": spec.label,
        "version": row.version,
        "issuer": {"code": issuer.code, "name": issuer.name},
        "issued_at": row.issued_at.isoformat(),
        "data": json.loads(row.data_json),
        "qr_text": row.qr_text,
    }
    if with_copy:
        attachment["copy"] = section.as_attachment() if raw_section is None else raw_section
    _key, signer, _creds = platform.signer_for(dept)
    return sign_licence_pdf(page, attachment=json.dumps(attachment, ensure_ascii=False).encode("utf-8"), signer=signer, reason="加注件签章")


def test_copy_signed_by_a_department_is_not_valid(platform: Any, make_copy: Callable[..., Copy], departments: dict[str, str]) -> None:
    """Even the issuing department, with its real key and a registered redemption, cannot make a copy."""
    genuine = make_copy()
    dept = Department.get_by_id(departments["business_licence"])
    forged = _forged_copy(platform, genuine.licence, dept, with_copy=True, redemption=genuine.redemption, grant=genuine.grant)
    Redemption.update(copy_sha256=hashlib.sha256(forged).hexdigest()).where(Redemption.redemption_id == genuine.redemption).execute()
    report = check_pdf(platform, forged)
    assert report.verdict == "forged"
    assert "须由平台签章" in failed_zh(report)["issuer_authorised"]
    assert "must be signed by the platform" in failed(report)["issuer_authorised"]
    assert not check_pdf(platform, forged, offline=True).valid


def test_licence_signed_by_the_platform_without_a_copy_section_is_not_valid(platform: Any, issued_samples: dict[str, Any]) -> None:
    licence = issued_samples["business_licence"].identifier
    forged = _forged_copy(platform, licence, platform_department(), with_copy=False)
    report = check_pdf(platform, forged)
    assert report.verdict == "forged"
    assert "not an annotated copy" in failed(report)["issuer_authorised"]


def test_damaged_copy_section_is_never_valid(platform: Any, make_copy: Callable[..., Copy]) -> None:
    """Signed by the platform, but the copy section says nothing usable (e.g. no expiry): refused,
    never taken for the licence itself."""
    genuine = make_copy()
    section = {k: v for k, v in embedded(genuine.pdf)["copy"].items() if k != "expires_at"}
    forged = _forged_copy(platform, genuine.licence, platform_department(), with_copy=True, raw_section=section)
    Redemption.update(copy_sha256=hashlib.sha256(forged).hexdigest()).where(Redemption.redemption_id == genuine.redemption).execute()
    report = check_pdf(platform, forged)
    assert report.verdict == "tampered" and report.copy is None
    assert "加注件信息" in failed(report)["format"]


def test_copy_not_in_the_register_is_not_valid_online(platform: Any, make_copy: Callable[..., Copy]) -> None:
    """Made with the platform's key but never handed out: another copy under a real redemption id,
    and one under an id the register has never seen."""
    copy = make_copy()
    window = Department.get_by_id(WINDOW)
    kwargs = dict(licence=copy.licence, grant_id=copy.grant, recipient_code=window.code, recipient_name=window.name, expires_at=copy.expires_at)
    other_purpose = annotated_copy(platform, redemption_id=copy.redemption, purpose="转作他用", **kwargs)  # type: ignore[arg-type]
    report = check_pdf(platform, other_purpose)
    assert report.verdict == "tampered"
    assert "file digest of the copy" in failed(report)["pdf_matches_record"]

    unknown = annotated_copy(platform, redemption_id=secrets.token_hex(8), purpose=PURPOSE, **kwargs)  # type: ignore[arg-type]
    report = check_pdf(platform, unknown)
    assert report.verdict == "forged"
    assert "no such annotated copy" in failed(report)["pdf_matches_record"]

    offline = check_pdf(platform, unknown, offline=True)  # offline cannot tell, and says so
    assert checks(offline)["pdf_matches_record"][0] is None
    assert "offline" in checks(offline)["copy_validity"][1]
    assert "离线核验" in [c.reason_zh for c in offline.checks if c.name == "copy_validity"][-1]


def test_copy_of_another_grant_is_not_valid(platform: Any, make_copy: Callable[..., Copy]) -> None:
    """A redemption id of one licence's grant does not vouch for a copy of another licence."""
    first = make_copy()
    second = make_copy("degree_certificate")
    window = Department.get_by_id(WINDOW)
    mixed = annotated_copy(
        platform, licence=second.licence, grant_id=first.grant, redemption_id=first.redemption,
        recipient_code=window.code, recipient_name=window.name, purpose=PURPOSE, expires_at=first.expires_at,
    )
    report = check_pdf(platform, mixed)
    assert report.verdict == "forged"
    assert "no such annotated copy" in failed(report)["pdf_matches_record"]


def test_redemption_without_a_recorded_copy_vouches_for_none(platform: Any, make_copy: Callable[..., Copy]) -> None:
    copy = make_copy(record=False)
    report = check_pdf(platform, copy.pdf)
    assert report.verdict == "tampered"
    assert "file digest of the copy" in failed(report)["pdf_matches_record"]


# -- over HTTP ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(platform: Any) -> Any:
    from licence_svc.web import create_app

    app = create_app()
    app.config["TESTING"] = True
    return app.test_client()


def test_verify_api_reports_the_copy(client: Any, make_copy: Callable[..., Copy]) -> None:
    copy = make_copy()
    resp = client.post(
        "/api/v1/verify", data={"file": (io.BytesIO(copy.pdf), "copy.pdf", "application/pdf")}, content_type="multipart/form-data"
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["verdict"] == "valid" and body["evidence"] == "pdf"
    assert body["copy"]["purpose"] == PURPOSE and body["copy"]["recipient"]["name"] == DEMO_WINDOW[1]
    assert body["copy"]["expired"] is False
    assert any(c["name"] == "copy_validity" and c["label"] == "加注件有效期" and c["passed"] for c in body["checks"])
    doc = client.get("/api/v1/openapi.json").get_json()
    registry = Registry().with_resource("urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012))
    validator = Draft202012Validator({"$ref": "urn:doc#/components/schemas/VerifyReport"}, registry=registry)
    problems = list(validator.iter_errors(body))
    assert not problems, problems[0].message


def test_console_shows_the_copy(client: Any) -> None:
    script = client.get("/static/js/console.js").get_data(as_text=True)
    assert "report.copy" in script and "加注件" in script


def test_a_print_of_the_copy_still_scans(platform: Any, make_copy: Callable[..., Copy]) -> None:
    """The notice stays clear of the QR code: a window scanning a print-out gets the licence's QR."""
    from licence_svc.core.qrread import read_qr_from_image

    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    copy = make_copy("id_card")
    png = subprocess.run([pdftoppm, "-r", "150", "-png", "-singlefile", "-"], input=copy.pdf, capture_output=True, check=True, timeout=60).stdout
    assert read_qr_from_image(png) == Licence.get_by_id(copy.licence).qr_text


def test_verdict_template_shows_the_copy(platform: Any, client: Any, make_copy: Callable[..., Copy]) -> None:
    from flask import render_template

    from licence_svc.core.verify import VERDICT_LABELS

    copy = make_copy()
    report = check_pdf(platform, copy.pdf, now=copy.expires_at + timedelta(seconds=1)).as_dict()
    with client.application.test_request_context("/"):
        page = render_template("verdict.html", report=report, error=None, labels=VERDICT_LABELS)
    assert "加注件（已过期）" in page and PURPOSE in page and DEMO_WINDOW[1] in page


def test_copy_redeemed_through_a_grant_verifies_until_the_holder_revokes(platform: Any, departments: dict[str, str]) -> None:
    """The production path: the holder grants, the window redeems and downloads, anyone verifies."""
    from licence_svc.services import shares
    from licence_svc.services.tokens import Principal

    data = sample("business_licence")
    licence = issue(platform, kind="business_licence", data=data, department=departments["business_licence"]).identifier
    grant, code = shares.create_grant(platform, holder=data["credit_code"], licence=licence, purpose="不动产登记", scope="pdf", recipient=WINDOW)
    window = Principal(WINDOW, secrets.token_hex(4), frozenset(), frozenset({"redeem"}))
    out = shares.redeem(platform, window, code)
    pdf = shares.redemption_copy(platform, window, out["redemption_id"])
    report = check_pdf(platform, pdf)
    assert report.verdict == "valid", failed(report)
    assert report.copy and report.copy["purpose"] == "不动产登记" and report.copy["recipient"]["code"] == WINDOW
    assert report.copy["redemption"] == out["redemption_id"]
    assert "不动产登记" in pdf_text(pdf)
    shares.revoke_grant(holder=data["credit_code"], grant_id=grant.grant_id)
    report = check_pdf(platform, pdf)
    assert report.verdict == "revoked" and "授权已被持证人撤销" in failed_zh(report)["copy_validity"]
