"""The verification pipeline (core.verify) on its own: a genuine little platform built in memory
(tests/fuzz/world.py: no database, no files), its PDFs verified with findings as pyhanko reports
them or with one finding changed, so each step of the integrity check is pinned by itself; and
every verdict of verify_qr and verify_pdf, each with the check and reason that make it, against a
register that is a dict of RecordView and a ``now`` passed in."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import cbor2
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from licence_svc.core import cose
from licence_svc.core.checkdigits import credit_code_check_char
from licence_svc.core.identifiers import new_licence_id
from licence_svc.core.kinds import KINDS
from licence_svc.core.payload import Claims, payload_from_text, qr_text, sign_claims
from licence_svc.core.pdfinspect import PdfFindings, inspect_pdf
from licence_svc.core.pdfsign import PdfSigner, sign_licence_pdf
from licence_svc.core.pki import Credentials, make_department_cert, make_tsa_cert, new_ec_key, new_tsa_key
from licence_svc.core.trust import TrustedIssuer, TrustStore
from licence_svc.core.verify import OFFLINE, Check, RecordView, Report, StatusSource, verify_pdf, verify_qr
from tests.fuzz.world import BASE_URL, DEPARTMENT_CODE, DEPARTMENT_NAME, STATUS_LENGTH, World, attachment_bytes, build_world, page_for
from tests.helpers import byte_range, embedded_stream_span, flip, load_sample

MODIFIED = "document modified after signing"
MODIFIED_ZH = "文件在签名后被修改"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def genuine(world: World) -> PdfFindings:
    """What pyhanko finds in the genuine licence PDF: everything in order."""
    findings = inspect_pdf(world.pdfs["licence"], root=world.root)
    assert findings.integrity_ok and findings.trusted and findings.timestamped
    return findings


def _verify(world: World, pdf: bytes, findings: PdfFindings | None = None) -> Report:
    """verify_pdf offline, with ``findings`` standing in for pyhanko's when given."""
    inspect = (lambda _pdf, _root: findings) if findings is not None else None
    return verify_pdf(pdf, trust=world.trust, now=world.now, inspect=inspect)


def _integrity(report: Report) -> tuple[bool | None, str, str]:
    (check,) = [c for c in report.checks if c.name == "pdf_integrity"]
    return check.passed, check.reason, check.reason_zh


def _annotated_after_signing(pdf: bytes) -> bytes:
    """An incremental update after the signature: a text note (已注销) added to page 1; the signed
    revision is left byte for byte as it was."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (50, 50, 80, 80)]),  # type: ignore[no-untyped-call]
            generic.NameObject("/Contents"): generic.TextStringObject("已注销"),
        }
    )
    page[generic.NameObject("/Annots")] = generic.ArrayObject([writer.add_object(note)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def test_genuine_findings_pass_the_integrity_step(world: World, genuine: PdfFindings) -> None:
    """The twin of the tests below: the same findings, unchanged, pass (offline: status unchecked)."""
    report = _verify(world, world.pdfs["licence"], genuine)
    assert report.verdict == "unchecked"
    passed, reason, _ = _integrity(report)
    assert passed is True and "whole file covered" in reason


def test_modified_after_signing_on_its_own_is_tampered(world: World, genuine: PdfFindings) -> None:
    """Step 7's "modified after signing" branch by itself: the signature intact and valid, the whole
    file covered, the certification level kept, only pyhanko's difference analysis objecting."""
    report = _verify(world, world.pdfs["licence"], replace(genuine, unmodified=False))
    assert report.verdict == "tampered" and not report.valid
    passed, reason, reason_zh = _integrity(report)
    assert passed is False
    assert reason == MODIFIED  # the only problem found
    assert reason_zh == MODIFIED_ZH
    assert MODIFIED in report.reasons


def test_incremental_update_after_signing_is_tampered_as_modified(world: World) -> None:
    """A real update after signing, its signature intact over the signed revision: tampered, and
    the report says it was modified after signing (besides not covering the whole file)."""
    pdf = world.pdfs["licence"]
    updated = _annotated_after_signing(pdf)
    assert updated.startswith(pdf)
    findings = inspect_pdf(updated, root=world.root)
    assert findings.intact and findings.valid and findings.trusted  # the signed bytes are untouched
    assert not findings.unmodified
    report = _verify(world, updated)
    assert report.verdict == "tampered"
    passed, reason, reason_zh = _integrity(report)
    assert passed is False
    assert MODIFIED in reason.split("; ") and MODIFIED_ZH in reason_zh.split("；")


# -- the pipeline called directly: keys, trust and register in memory ------------------------------
#
# Each test pins the verdict and every failed check with its reason (``_failed``), so a report that
# fails for another reason, or for one more, does not pass. The register is a dict of RecordView,
# ``now`` is passed in: nothing here touches a database, a file or the clock.

EDUCATION_CODE = "11110000000019010" + credit_code_check_char("11110000000019010")
EDUCATION_NAME = "示例市教育局（演示）"
ID_NUMBER, FULL_NAME = load_sample("id_card")["id_number"], load_sample("id_card")["name"]
NOT_SIGNED_BY_AUTHORISED = "not checked: the payload is not genuinely signed by an authorised issuer"


@dataclass(frozen=True)
class Keys:
    """Keys beyond the world's: a second (rotated-in) key of the world's department, a department
    that may issue degree certificates only, and a trust store that knows them both."""

    rotated: Credentials
    education: Credentials
    trust: TrustStore
    rotated_pdf_signer: PdfSigner


@pytest.fixture(scope="module")
def keys(world: World) -> Keys:
    made = world.now - timedelta(days=1)

    def department_key(code: str, name: str) -> Credentials:
        key = new_ec_key()
        cert = make_department_cert(key, department_code=code, department_name=name, root_cert=world.root, root_key=world.root_key, now=made)
        return Credentials(key, cert)

    rotated = department_key(DEPARTMENT_CODE, DEPARTMENT_NAME)
    education = department_key(EDUCATION_CODE, EDUCATION_NAME)
    trust = TrustStore.build(
        world.root,
        [
            *world.trust.issuers.values(),
            TrustedIssuer(rotated.cert, DEPARTMENT_CODE, DEPARTMENT_NAME, frozenset(KINDS)),
            TrustedIssuer(education.cert, EDUCATION_CODE, EDUCATION_NAME, frozenset({"degree_certificate"})),
        ],
    )
    tsa_key = new_tsa_key()
    tsa = Credentials(tsa_key, make_tsa_cert(tsa_key, root_cert=world.root, root_key=world.root_key, now=made))
    signer = PdfSigner.build(rotated, department_name=DEPARTMENT_NAME, root=world.root, tsa=tsa)
    return Keys(rotated, education, trust, signer)


@pytest.fixture(scope="module")
def page(world: World) -> bytes:
    """The id card's page, rendered once, never signed: certified below with other data or keys."""
    return page_for(world.licences["id_card"], now=world.now)


def _register(*records: RecordView) -> StatusSource:
    """The register as a dict of RecordView by identifier: only these licences exist."""
    by_id = {record.identifier: record for record in records}
    return StatusSource(lookup=by_id.get)


def _genuine_register(world: World) -> StatusSource:
    """The register holding the genuine id card and its PDF, in force."""
    pdf_sha256 = hashlib.sha256(world.pdfs["licence"]).hexdigest()
    return _register(world.record_view("id_card", pdf_sha256=pdf_sha256))


def _failed(report: Report) -> dict[str, str]:
    """The failed checks: name → reason."""
    failed = {c.name: c.reason for c in report.checks if c.passed is False}
    assert len(failed) == len(report.reasons), "one check failed twice"
    return failed


def _check(report: Report, name: str) -> Check:
    (check,) = [c for c in report.checks if c.name == name]
    return check


def _qr(world: World, text: str, *, source: StatusSource = OFFLINE, trust: TrustStore | None = None, now: datetime | None = None, base_url: str | None = None) -> Report:
    return verify_qr(text, trust=trust or world.trust, now=now or world.now, source=source, base_url=base_url)


def _pdf(world: World, pdf: bytes, *, source: StatusSource = OFFLINE, trust: TrustStore | None = None) -> Report:
    return verify_pdf(pdf, trust=trust or world.trust, now=world.now, source=source)


def _signed(claims: Claims, creds: Credentials) -> str:
    """``claims`` signed with ``creds``' key under its key id, as a QR text."""
    return qr_text(BASE_URL, sign_claims(claims, creds.key, creds.kid))  # type: ignore[arg-type]


def _genuine_claims(world: World) -> Claims:
    return world.licences["id_card"].claims


# -- valid ---------------------------------------------------------------------------------------


def test_genuine_qr_is_valid_with_the_register(world: World) -> None:
    report = _qr(world, world.licences["id_card"].qr_text, source=_genuine_register(world))
    assert report.verdict == "valid" and report.valid and not report.reasons
    assert [c.name for c in report.checks] == ["format", "signature", "issuer_trusted", "issuer_authorised", "not_expired", "status", "register_match"]
    assert all(c.passed is True for c in report.checks)
    assert _check(report, "status").reason == "licence is in force (register)"
    assert _check(report, "register_match").reason == "payload is the one recorded at issuance"
    assert report.status_source == "register" and report.status_as_of == world.now


def test_genuine_qr_is_valid_with_the_status_list(world: World) -> None:
    report = _qr(world, world.licences["id_card"].qr_text, source=world.sources()["status_list"])
    assert report.verdict == "valid" and not report.reasons
    assert _check(report, "status").reason == f"licence is in force (status list of {world.now.isoformat()})"
    assert report.status_source == "status_list" and report.status_as_of == world.now


# -- revoked, suspended, superseded: the register's word, or the status list's -----------------


@pytest.mark.parametrize(
    ("status", "category", "verdict", "reason", "reason_zh"),
    [
        ("revoked", "cancelled", "revoked", "licence revoked (cancelled; register)", "证照已注销（据登记库）"),
        ("revoked", None, "revoked", "licence revoked (revoked or cancelled; register)", "证照已吊销/注销（据登记库）"),
        ("suspended", None, "suspended", "licence suspended (register)", "证照已暂停使用（据登记库）"),
        ("superseded", None, "superseded", "licence superseded (register)", "证照已被新版本取代（据登记库）"),
    ],
    ids=["revoked-cancelled", "revoked-no-category", "suspended", "superseded"],
)
def test_status_from_the_register(world: World, status: str, category: str | None, verdict: str, reason: str, reason_zh: str) -> None:
    record = world.record_view("id_card", status=status, status_category=category, superseded_by="NEXT" if status == "superseded" else None)
    report = _qr(world, world.licences["id_card"].qr_text, source=_register(record))
    assert report.verdict == verdict
    assert _failed(report) == {"status": reason}
    assert _check(report, "status").reason_zh == reason_zh
    assert _check(report, "register_match").passed is True  # the QR itself is the one issued
    assert report.licence is not None and report.licence["superseded_by"] == record.superseded_by


@pytest.mark.parametrize(
    ("kind", "verdict", "reason"),
    [
        ("business_licence", "suspended", "licence suspended (status list of {now})"),
        ("degree_certificate", "revoked", "licence revoked (revoked or cancelled; status list of {now})"),
        ("driving_licence", "superseded", "licence superseded (status list of {now})"),
    ],
)
def test_status_from_the_status_list(world: World, kind: str, verdict: str, reason: str) -> None:
    """The world's list marks positions 1000-1002 (its business licence, degree, driving licence);
    a list carries no revocation category."""
    report = _qr(world, world.licences[kind].qr_text, source=world.sources()["status_list"])
    assert report.verdict == verdict
    assert _failed(report) == {"status": reason.format(now=world.now.isoformat())}


# -- expired ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("after", "verdict"), [(0, "valid"), (1, "expired")], ids=["last-second", "one-second-later"])
def test_expired_by_time(world: World, after: int, verdict: str) -> None:
    """Valid through the last second of its expiry date (Beijing time), expired the second after."""
    expires_at = _genuine_claims(world).expires_at
    assert expires_at is not None
    now = datetime.fromtimestamp(expires_at + after, timezone.utc)
    report = _qr(world, world.licences["id_card"].qr_text, source=_genuine_register(world), now=now)
    assert report.verdict == verdict
    if verdict == "expired":
        assert _failed(report) == {"not_expired": "expired on 2040-05-01T15:59:59+00:00"}
        assert _check(report, "not_expired").reason_zh == "已于2040年05月01日过期"
    else:
        assert _check(report, "not_expired").reason == "valid until 2040-05-01T15:59:59+00:00"


# -- tampered --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "verdict", "failed"),
    [
        (0, "tampered", {"format": "payload is damaged: not a tagged COSE_Sign1 message"}),  # the COSE tag
        (-2, "forged", {"signature": "signature does not match the payload"}),  # inside the signature
    ],
    ids=["tag", "signature"],
)
def test_one_changed_character_flips_the_verdict(world: World, offset: int, verdict: str, failed: dict[str, str]) -> None:
    """The tamper twin of test_genuine_qr_is_valid_with_the_register: one character of the same
    text changed, the same register."""
    text = world.licences["id_card"].qr_text
    pos = text.index("/V/") + 3 + offset if offset >= 0 else len(text) + offset
    changed = text[:pos] + ("A" if text[pos] != "A" else "Q") + text[pos + 1 :]
    report = _qr(world, changed, source=_genuine_register(world))
    assert report.verdict == verdict
    assert _failed(report) == failed
    assert _check(report, "status").passed is None  # nobody's status is looked up for it


def test_mirror_signature_is_tampered_online_only(world: World) -> None:
    """ECDSA's mirror S verifies the same claims, but is not the text the register issued."""
    msg = cose.parse_sign1(payload_from_text(world.licences["id_card"].qr_text))
    s = int.from_bytes(msg.signature[32:], "big")
    mirror = world.text(replace(msg, signature=msg.signature[:32] + (cose.P256_ORDER - s).to_bytes(32, "big")).encode())
    assert _qr(world, mirror).verdict == "unchecked"  # offline: the claims are what was signed
    report = _qr(world, mirror, source=_genuine_register(world))
    assert report.verdict == "tampered"
    assert _failed(report) == {"register_match": "payload carries the issued claims but not the signature issued with them"}


def test_claims_in_another_encoding_are_tampered(world: World) -> None:
    """The genuine claims, keys out of order, signed by the genuine key: not the signer's encoding."""
    claims_map = dict(reversed(list(world.claims_map("id_card").items())))
    text = world.text(world.sign_payload(cbor2.dumps(claims_map, canonical=False)))
    report = _qr(world, text, source=_genuine_register(world))
    assert report.verdict == "tampered"
    assert _failed(report) == {"format": "payload claims are damaged: claims are not in the deterministic encoding the signer writes"}


# -- forged: genuinely signed, but not what the register issued ---------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"holder": "王*明"}, "holder"),
        ({"issued_at": -60}, "issue time"),
        ({"expires_at": 86_400 * 365}, "expiry"),
        ({"status_index": 7}, "status position"),
        ({"digest": b"\x00" * 32}, "data digest"),
    ],
    ids=["holder", "issued_at", "expires_at", "status_index", "digest"],
)
def test_claims_the_register_did_not_issue_are_forged(world: World, change: dict[str, Any], field: str) -> None:
    """The genuine department key signs claims with one field changed (a leaked or misused key):
    the register's record names the field. Numbers in ``change`` are offsets."""
    claims = _genuine_claims(world)
    changes = {k: (getattr(claims, k) + v if isinstance(v, int) else v) for k, v in change.items()}
    report = _qr(world, _signed(replace(claims, **changes), world.department), source=_genuine_register(world))
    assert report.verdict == "forged"
    assert _failed(report) == {"register_match": f"payload differs from the register's record of this licence: {field}"}


def test_genuine_claims_signed_by_another_key_of_the_department_are_forged(world: World, keys: Keys) -> None:
    """The department's other (trusted) key re-signs the very claims: not the key it was issued with."""
    text = _signed(_genuine_claims(world), keys.rotated)
    report = _qr(world, text, source=_genuine_register(world), trust=keys.trust)
    assert report.verdict == "forged"
    assert _failed(report) == {"register_match": "payload differs from the register's record of this licence: signing key"}


def test_licence_unknown_to_the_register_is_forged(world: World) -> None:
    report = _qr(world, world.licences["id_card"].qr_text, source=_register())
    assert report.verdict == "forged"
    assert _failed(report) == {"status": "no such licence in the register"}


def test_payload_naming_another_issuer_than_the_key_is_forged(world: World) -> None:
    claims = replace(_genuine_claims(world), issuer=EDUCATION_CODE, identifier=str(new_licence_id(KINDS["id_card"].kind_code, EDUCATION_CODE)))
    report = _qr(world, _signed(claims, world.department))
    assert report.verdict == "forged"
    assert _failed(report) == {"issuer_authorised": "payload names another issuer than the signing key's department"}


# -- untrusted: a key the platform does not trust for this licence -------------------------------


def _unknown_key(world: World, keys: Keys) -> tuple[str, TrustStore, str, str]:
    kid = b"\x00\x01\x02\x03\x04\x05\x06\x07"
    text = qr_text(BASE_URL, sign_claims(_genuine_claims(world), new_ec_key(), kid))
    return text, world.trust, "issuer_trusted", f"signing key {kid.hex()} is not on the platform trust list"


def _unauthorised_department(world: World, keys: Keys) -> tuple[str, TrustStore, str, str]:
    """id card claims in the education bureau's name, signed by its genuine key: it issues degrees only."""
    claims = replace(_genuine_claims(world), issuer=EDUCATION_CODE, identifier=str(new_licence_id(KINDS["id_card"].kind_code, EDUCATION_CODE)))
    return _signed(claims, keys.education), keys.trust, "issuer_authorised", f"{EDUCATION_NAME} is not authorised to issue 居民身份证"


def _withdrawn_key(world: World, keys: Keys) -> tuple[str, TrustStore, str, str]:
    withdrawn = replace(world.trust.issuers[world.kid], withdrawn_reason="私钥泄露，2024年第3号公告")
    trust = TrustStore.build(world.root, [withdrawn])
    return world.licences["id_card"].qr_text, trust, "issuer_trusted", "signing key withdrawn: 私钥泄露，2024年第3号公告"


def _before_the_certificate(world: World, keys: Keys) -> tuple[str, TrustStore, str, str]:
    claims = replace(_genuine_claims(world), issued_at=int((world.now - timedelta(days=2)).timestamp()))
    return _signed(claims, world.department), world.trust, "issuer_trusted", "licence issued outside the signing certificate's validity"


@pytest.mark.parametrize(
    "case",
    [_unknown_key, _unauthorised_department, _withdrawn_key, _before_the_certificate],
    ids=["unknown-key", "department-not-authorised-for-the-kind", "withdrawn-key", "before-the-certificate"],
)
def test_untrusted(world: World, keys: Keys, case: Callable[[World, Keys], tuple[str, TrustStore, str, str]]) -> None:
    text, trust, check, reason = case(world, keys)
    report = _qr(world, text, trust=trust, source=_genuine_register(world))
    assert report.verdict == "untrusted"
    assert _failed(report) == {check: reason}
    assert _check(report, "status").reason == NOT_SIGNED_BY_AUTHORISED  # the register is not asked


@pytest.mark.parametrize(("retired", "verdict"), [(-1, "forged"), (0, "valid")], ids=["signed-after-retirement", "signed-at-retirement"])
def test_retired_key_signs_nothing_after_its_retirement(world: World, retired: int, verdict: str) -> None:
    """A key rotated out stays trusted for what it signed before (its twin), not for later payloads."""
    claims = _genuine_claims(world)
    issuer = replace(world.trust.issuers[world.kid], retired_at=float(claims.issued_at + retired))
    report = _qr(world, world.licences["id_card"].qr_text, trust=TrustStore.build(world.root, [issuer]), source=_genuine_register(world))
    assert report.verdict == verdict
    if verdict == "forged":
        retired_on = datetime.fromtimestamp(claims.issued_at - 1, timezone.utc).isoformat()
        assert _failed(report) == {"issuer_trusted": f"payload dated {world.now.isoformat()}, after its signing key was retired on {retired_on}"}
        assert _check(report, "status").reason == NOT_SIGNED_BY_AUTHORISED
    else:
        assert not report.reasons


# -- unchecked: genuine, but nobody said it is still in force -----------------------------------


def _offline(world: World) -> tuple[str, StatusSource, datetime]:
    return world.licences["id_card"].qr_text, OFFLINE, world.now


def _stale_list(world: World) -> tuple[str, StatusSource, datetime]:
    return world.licences["id_card"].qr_text, world.sources()["status_list"], world.now + timedelta(hours=2)


def _no_position(world: World) -> tuple[str, StatusSource, datetime]:
    return _signed(replace(_genuine_claims(world), status_index=None), world.department), world.sources()["status_list"], world.now


def _position_past_the_list(world: World) -> tuple[str, StatusSource, datetime]:
    return _signed(replace(_genuine_claims(world), status_index=STATUS_LENGTH), world.department), world.sources()["status_list"], world.now


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (_offline, "not checked: offline verification (no register or status list)"),
        (_stale_list, "not checked: the status list of {now} is past its next update ({next})"),
        (_no_position, "not checked: payload carries no status list position"),
        (_position_past_the_list, "not checked: position not covered by the status list (list older than the licence?)"),
    ],
    ids=["offline", "stale-status-list", "no-status-position", "position-past-the-list"],
)
def test_unchecked(world: World, case: Callable[[World], tuple[str, StatusSource, datetime]], reason: str) -> None:
    text, source, now = case(world)
    report = _qr(world, text, source=source, now=now)
    assert report.verdict == "unchecked" and report.valid is False
    assert not report.reasons  # nothing failed: genuine, authorised, within its dates
    status = _check(report, "status")
    assert status.passed is None
    assert status.reason == reason.format(now=world.now.isoformat(), next=(world.now + timedelta(hours=1)).isoformat())


# -- notices ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("base_url", "codes"), [(BASE_URL, []), ("https://zzfw.other.gov.cn", ["other_host"])], ids=["this-platform", "another-host"])
def test_link_to_another_host_is_a_notice_not_a_verdict(world: World, base_url: str, codes: list[str]) -> None:
    report = _qr(world, world.licences["id_card"].qr_text, source=_genuine_register(world), base_url=base_url)
    assert report.verdict == "valid"
    assert [w.code for w in report.warnings] == codes
    if codes:
        assert report.warnings[0].message.startswith(f"the QR links to {BASE_URL}, not to this platform ({base_url})")


# -- verify_pdf ------------------------------------------------------------------------------------


def test_genuine_pdf_is_valid_with_the_register(world: World) -> None:
    report = _pdf(world, world.pdfs["licence"], source=_genuine_register(world))
    assert report.verdict == "valid" and not report.reasons
    assert _check(report, "pdf_integrity").reason == "PAdES certification signature intact, whole file covered, time-stamped"
    assert _check(report, "pdf_matches_record").reason == "embedded data, QR and file match the register's record"


def test_pdf_with_one_changed_byte_is_tampered(world: World) -> None:
    """The twin of the genuine PDF: one byte of the signed range changed, the same register."""
    pdf = world.pdfs["licence"]
    a, b, _, _ = byte_range(pdf)
    report = _pdf(world, flip(pdf, (a + b) // 2), source=_genuine_register(world))
    assert report.verdict == "tampered"
    assert _failed(report) == {"pdf_integrity": "signature does not match the document bytes"}
    assert _check(report, "pdf_matches_record").passed is None  # a tampered file is not looked up


def test_pdf_with_a_changed_byte_in_the_embedded_data_is_tampered(world: World) -> None:
    pdf = world.pdfs["licence"]
    start, end = embedded_stream_span(pdf)
    report = _pdf(world, flip(pdf, (start + end) // 2))
    assert report.verdict == "tampered"
    assert _failed(report) == {
        "pdf_integrity": "signature does not match the document bytes",
        "format": "embedded licence data (licence.json) missing or damaged",
    }


def test_pdf_with_other_embedded_data_certified_by_the_genuine_key_is_tampered(world: World, page: bytes) -> None:
    """The department's own key certifies the page with one field of licence.json changed: the
    signature is intact, the data no longer what the QR signed."""
    lic = world.licences["id_card"]
    doc = {**lic.attachment, "data": {**lic.attachment["data"], "address": "北京市东城区景山前街4号院2号楼3单元502室"}}
    report = _pdf(world, world.sign_pdf(page, attachment_bytes(doc)))
    assert report.verdict == "tampered"
    assert _check(report, "pdf_integrity").passed is True
    assert _failed(report) == {"format": "embedded data does not match the signed QR payload"}


def test_pdf_that_is_not_the_registers_file_is_tampered(world: World) -> None:
    """A genuine PDF, but the register holds another file for the licence (a re-issued one)."""
    report = _pdf(world, world.pdfs["licence"], source=_register(world.record_view("id_card", pdf_sha256="1" * 64)))
    assert report.verdict == "tampered"
    assert _failed(report) == {"pdf_matches_record": "differs from the register's record: file digest"}


def test_pdf_certified_by_another_key_than_its_qr_is_forged(world: World, keys: Keys, page: bytes) -> None:
    """Offline nothing binds the page to the register: the PDF must be certified by the key that
    signed its QR, not by another (trusted) key of the same department."""
    pdf = sign_licence_pdf(page, attachment=attachment_bytes(world.licences["id_card"].attachment), signer=keys.rotated_pdf_signer, reason="电子证照签发")
    report = _pdf(world, pdf, trust=keys.trust)
    assert report.verdict == "forged"
    assert _check(report, "pdf_integrity").passed is True
    assert _failed(report) == {
        "issuer_authorised": f"PDF certified with key {keys.rotated.kid.hex()} of {DEPARTMENT_CODE}, not with key {world.kid.hex()} that signed its QR"
    }


def test_pdf_certified_by_the_copy_signing_key_but_no_copy_is_forged(world: World, page: bytes) -> None:
    pdf = world.sign_pdf(page, attachment_bytes(world.licences["id_card"].attachment), copy=True)
    report = _pdf(world, pdf)
    assert report.verdict == "forged"
    assert _failed(report) == {"issuer_authorised": "signed with the platform's copy-signing key, but not an annotated copy (加注件)"}


def test_pdf_certified_with_a_withdrawn_key_is_untrusted(world: World) -> None:
    withdrawn = replace(world.trust.issuers[world.kid], withdrawn_reason="私钥泄露")
    report = _pdf(world, world.pdfs["licence"], trust=TrustStore.build(world.root, [withdrawn]))
    assert report.verdict == "untrusted"
    assert _failed(report) == {"pdf_integrity": "PDF certified with a withdrawn key: 私钥泄露", "issuer_trusted": "signing key withdrawn: 私钥泄露"}


# -- what the public sees ----------------------------------------------------------------------


@pytest.mark.parametrize("evidence", ["qr", "pdf", "copy"])
def test_report_shows_only_masked_data(world: World, evidence: str) -> None:
    """The PDF carries the full record (name, ID number, address); the report only the masked name
    and ID number: the public never reads more."""
    if evidence == "qr":
        report = _qr(world, world.licences["id_card"].qr_text, source=_genuine_register(world))
    else:
        report = _pdf(world, world.pdfs["licence" if evidence == "pdf" else "copy"], source=world.sources()["register"])
    assert report.verdict == "valid", report.reasons
    assert report.licence is not None
    assert (report.licence["holder"], report.licence["holder_id"]) == ("张*明", "1101**********1233")
    personal = (ID_NUMBER, FULL_NAME, load_sample("id_card")["address"])
    embedded = json.dumps(world.licences["id_card"].attachment, ensure_ascii=False)
    assert all(value in embedded for value in personal)  # what the PDFs carry, so this test can fail
    public = json.dumps(report.as_dict(), ensure_ascii=False)
    for value in personal:
        assert value not in public
