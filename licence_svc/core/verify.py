"""The verification pipeline: evidence in, a report with a verdict and every check out.

Pure: the trust store, the time and the register's view of the licence are passed in, so the
CLI and the HTTP endpoint give identical reports. A forgery is a successful check, not an error;
only evidence that cannot be read at all raises UnreadableEvidence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, NamedTuple

from cryptography import x509

from . import cose
from .annotate import PLATFORM_CODE, CopySection
from ..errors import UnreadableEvidence
from .dates import CHINA, cn_date
from .kinds import KINDS
from .payload import Claims, ClaimsError, Link, data_digest, parse_link
from .pdfinspect import PdfFindings, inspect_pdf
from .revocation import public_label
from .statuslist import StatusList
from .trust import TrustedIssuer, TrustStore

# Verdicts, worst first: when several checks fail, the worst verdict is reported.
VALID = "valid"
# ``unchecked``: genuine, authorised and within its dates, but no status source answered (offline
# with no status list, a list older than the licence or past its next update): never valid.
UNCHECKED = "unchecked"
VERDICTS = ("tampered", "forged", "untrusted", "revoked", "suspended", "superseded", "expired", UNCHECKED, VALID)

# What a person reads: the verdict in Chinese, as the verify pages and reports show it.
VERDICT_LABELS = {
    "valid": "有效",
    "revoked": "已吊销",
    "suspended": "已暂停使用",
    "superseded": "已变更（非最新版本）",
    "expired": "已过期",
    "tampered": "已被篡改",
    "forged": "伪造",
    "untrusted": "签发方不可信",
    "unchecked": "真实，状态未核验",
}

# Check names as the pages show them.
CHECK_LABELS = {
    "format": "数据格式",
    "signature": "数字签名",
    "issuer_trusted": "签发方可信",
    "issuer_authorised": "签发方有权签发",
    "not_expired": "在有效期内",
    "status": "证照状态",
    "pdf_integrity": "PDF 完整性",
    "pdf_matches_record": "与登记记录一致",
    "copy_validity": "加注件有效期",
    "register_match": "与登记库签发记录一致",
    "printed_text": "印刷文字",
    "single_code": "图中证照二维码",
    "scan": "扫描件",
}

# Check names, in pipeline order.
FORMAT, SIGNATURE, ISSUER_TRUSTED, ISSUER_AUTHORISED = "format", "signature", "issuer_trusted", "issuer_authorised"
NOT_EXPIRED, STATUS, PDF_INTEGRITY, PDF_MATCHES_RECORD = "not_expired", "status", "pdf_integrity", "pdf_matches_record"
COPY_VALIDITY = "copy_validity"
REGISTER_MATCH, PRINTED_TEXT, SINGLE_CODE, SCAN = "register_match", "printed_text", "single_code", "scan"


class Check(NamedTuple):  # a tuple: several are made on every verification
    name: str
    passed: bool | None  # None: not checked (offline, or an earlier stage failed)
    reason: str  # English, stable: API clients and tests match on it
    reason_zh: str  # the same facts in Chinese, for the pages people read

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": CHECK_LABELS[self.name],
            "passed": self.passed,
            "reason": self.reason,
            "reason_zh": self.reason_zh,
        }


# Passed checks whose wording never varies, made once: every genuine QR passes them.
_FORMAT_OK = Check(FORMAT, True, "signed payload format 1 (COSE_Sign1, ES256)", "签名数据格式第 1 版（COSE_Sign1，ES256）")
_SIGNATURE_OK = Check(SIGNATURE, True, "ES256 signature verifies", "ES256 数字签名验证通过")
_NO_EXPIRY = Check(NOT_EXPIRED, True, "no expiry (长期)", "长期有效")
_REGISTER_MATCH_OK = Check(REGISTER_MATCH, True, "payload is the one recorded at issuance", "二维码数据与登记库签发记录一致")


class Notice(NamedTuple):
    """Something the person checking must know that does not change the verdict (a link to
    another host, the printed text left to the clerk)."""

    code: str  # stable, for programs: other_host, printed_text_not_compared, ...
    message: str
    message_zh: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "message_zh": self.message_zh}


@dataclass(frozen=True)
class RecordView:
    """What the register knows about a licence; ``None`` where verification runs offline."""

    identifier: str
    status: str  # valid / suspended / revoked / superseded
    data_digest: str  # hex
    qr_text: str
    pdf_sha256: str
    status_category: str | None = None  # core.revocation: what the public is told (never the free text)
    holder_id_masked: str = ""
    superseded_by: str | None = None
    kid: str = ""  # hex: the key that signed the licence at issuance


@dataclass(frozen=True)
class CopyRecordView:
    """What the register knows about an annotated copy: the redemption that handed it out."""

    redemption: str
    grant: str
    licence: str  # the licence the grant is for
    copy_sha256: str | None  # None: the redemption handed out no copy
    grant_revoked: bool


@dataclass(frozen=True)
class Report:
    verdict: str
    checks: tuple[Check, ...]
    licence: dict[str, Any] | None
    checked_at: datetime
    evidence: str  # qr or pdf
    status_source: str | None  # register, status_list, or None when status was not checked
    status_as_of: datetime | None
    trust_as_of: datetime | None
    copy: dict[str, Any] | None = None  # an annotated copy (加注件): for whom, what, until when
    warnings: tuple[Notice, ...] = ()

    @property
    def valid(self) -> bool:
        return self.verdict == VALID

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if c.passed is False]

    def as_dict(self) -> dict[str, Any]:
        checked_at = self.checked_at.isoformat()
        status_as_of = self.status_as_of
        return {
            "verdict": self.verdict,
            "verdict_label": VERDICT_LABELS[self.verdict],
            "valid": self.valid,
            "evidence": self.evidence,
            "checks": [c.as_dict() for c in self.checks],
            "licence": self.licence,
            "checked_at": checked_at,
            "freshness": {
                "trust_as_of": self.trust_as_of.isoformat() if self.trust_as_of else None,
                "status_source": self.status_source,
                # a register check's status is as of the check itself: the same object, formatted once
                "status_as_of": checked_at if status_as_of is self.checked_at else status_as_of.isoformat() if status_as_of else None,
            },
            "copy": self.copy,
            "warnings": [w.as_dict() for w in self.warnings],
        }

    def amend(
        self,
        checks: tuple[tuple[Check, str | None], ...] = (),
        *,
        warnings: tuple[Notice, ...] = (),
        evidence: str | None = None,
    ) -> Report:
        """This report with more checks (each with the verdict it forces when it failed; None: no
        change) and warnings: for what the pure QR pipeline cannot see (a picture's printed text,
        other codes in it, a scan standing in for the signed file)."""
        verdict = self.verdict
        for check, forced in checks:
            if check.passed is False and forced is not None and VERDICTS.index(forced) < VERDICTS.index(verdict):
                verdict = forced
        return replace(
            self,
            verdict=verdict,
            checks=self.checks + tuple(c for c, _ in checks),
            warnings=self.warnings + warnings,
            evidence=evidence or self.evidence,
        )


@dataclass
class _Run:
    checks: list[Check] = field(default_factory=list)
    verdict: str = VALID

    def ok(self, name: str, reason: str, reason_zh: str) -> None:
        self.checks.append(Check(name, True, reason, reason_zh))

    def fail(self, name: str, verdict: str, reason: str, reason_zh: str) -> None:
        self.checks.append(Check(name, False, reason, reason_zh))
        if VERDICTS.index(verdict) < VERDICTS.index(self.verdict):
            self.verdict = verdict

    def fail_listing(self, name: str, verdict: str, items: list[tuple[str, str]], *, prefix: str = "", prefix_zh: str = "", sep: str = ", ", sep_zh: str = "、") -> None:
        """A failure whose reason lists (English, Chinese) items after a prefix in each language."""
        self.fail(name, verdict, prefix + sep.join(en for en, _ in items), prefix_zh + sep_zh.join(zh for _, zh in items))

    def skip(self, name: str, reason: str, reason_zh: str) -> None:
        self.checks.append(Check(name, None, reason, reason_zh))


def _iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _date_zh(ts: float) -> str:
    """A date as a person reads it: Beijing time, YYYY年MM月DD日 (an expiry is the end of a Beijing day)."""
    return cn_date(datetime.fromtimestamp(ts, CHINA).date())


def _summary(claims: Claims, issuer: TrustedIssuer | None) -> dict[str, Any]:
    spec = KINDS[claims.kind]
    return {
        "identifier": claims.identifier,
        "kind": claims.kind,
        "kind_label": spec.label,
        "issuer": {"code": claims.issuer, "name": issuer.department_name if issuer else None},
        "holder": claims.holder,
        "issued_at": _iso(claims.issued_at),
        "expires_at": _iso(claims.expires_at),
    }


class _Signed(NamedTuple):
    claims: Claims | None
    issuer: TrustedIssuer | None
    msg: cose.Sign1 | None


def _check_claims(
    run: _Run,
    signed: bytes,
    *,
    trust: TrustStore,
    now: datetime,
) -> _Signed:
    """Stages 1-5: format, key id, signature, authorisation, expiry."""
    # 1. Format: the one deterministic encoding of a COSE_Sign1 with ES256 and version-1 claims,
    # each claim of its type and range (an unknown format version is unreadable).
    try:
        msg = cose.parse_sign1(signed)
    except cose.CoseFormatError as exc:
        run.fail(FORMAT, "tampered", f"payload is damaged: {exc}", f"二维码数据已损坏：{exc}")
        return _Signed(None, None, None)
    try:
        claims = Claims.decode(msg.payload)
    except ClaimsError as exc:
        run.fail(FORMAT, "tampered", f"payload claims are damaged: {exc}", f"二维码数据中的证照信息已损坏：{exc}")
        return _Signed(None, None, msg)
    run.checks.append(_FORMAT_OK)
    # 2. Key id: must name a certificate the platform root issued.
    issuer = trust.issuers.get(msg.kid)
    if issuer is None:
        run.fail(
            ISSUER_TRUSTED,
            "untrusted",
            f"signing key {msg.kid.hex()} is not on the platform trust list",
            f"签名密钥 {msg.kid.hex()} 不在平台信任列表中",
        )
        run.skip(SIGNATURE, "not checked: signing key unknown", "未核验：签名密钥未知")
        return _Signed(claims, None, msg)
    # 3. Signature over the claims.
    public_key = issuer.ec_public_key
    if public_key is None or not cose.verify_sign1(msg, public_key):
        run.fail(SIGNATURE, "forged", "signature does not match the payload", "数字签名与数据不符")
        return _Signed(claims, issuer, msg)
    run.checks.append(_SIGNATURE_OK)
    if issuer.withdrawn_reason:
        run.fail(
            ISSUER_TRUSTED,
            "untrusted",
            f"signing key withdrawn: {issuer.withdrawn_reason}",
            f"签名密钥已被撤回：{issuer.withdrawn_reason}",
        )
    elif issuer.retired_at is not None and claims.issued_at > issuer.retired_at:
        run.fail(
            ISSUER_TRUSTED,
            "forged",
            f"payload dated {_iso(claims.issued_at)}, after its signing key was retired on {_iso(int(issuer.retired_at))}",
            f"数据签发时间晚于其签名密钥的停用时间（{_date_zh(issuer.retired_at)}）",
        )
    elif not (issuer.validity[0] <= claims.issued_at <= issuer.validity[1]):
        run.fail(
            ISSUER_TRUSTED,
            "untrusted",
            "licence issued outside the signing certificate's validity",
            "证照签发时间不在签名证书有效期内",
        )
    else:
        run.ok(ISSUER_TRUSTED, f"signed by {issuer.department_name} (key {issuer.kid.hex()})", f"由{issuer.department_name}签名（密钥 {issuer.kid.hex()}）")
    # 4. The signer is the claimed issuer and may issue this kind.
    if issuer.department_code != claims.issuer:
        run.fail(
            ISSUER_AUTHORISED,
            "forged",
            "payload names another issuer than the signing key's department",
            f"数据所称制证单位与签名密钥所属部门（{issuer.department_name}）不符",
        )
    elif claims.kind not in issuer.kinds:
        label = KINDS[claims.kind].label
        run.fail(
            ISSUER_AUTHORISED,
            "untrusted",
            f"{issuer.department_name} is not authorised to issue {label}",
            f"{issuer.department_name}无权签发{label}",
        )
    else:
        label = KINDS[claims.kind].label
        run.ok(ISSUER_AUTHORISED, f"{issuer.department_name} may issue {label}", f"{issuer.department_name}有权签发{label}")
    # 5. Expiry.
    if claims.expires_at is not None and now.timestamp() > claims.expires_at:
        run.fail(NOT_EXPIRED, "expired", f"expired on {_iso(claims.expires_at)}", f"已于{_date_zh(claims.expires_at)}过期")
    elif claims.expires_at is None:
        run.checks.append(_NO_EXPIRY)
    else:
        run.ok(NOT_EXPIRED, f"valid until {_iso(claims.expires_at)}", f"有效期至{_date_zh(claims.expires_at)}")
    return _Signed(claims, issuer, msg)


_STATUS_VERDICTS = {"revoked": "revoked", "suspended": "suspended", "superseded": "superseded"}
_STATUS_TEXT = {"suspended": "已暂停使用", "superseded": "已被新版本取代"}


@dataclass(frozen=True)
class StatusSource:
    """Where status comes from: the register (online) or a signed status list (offline)."""

    lookup: Callable[[str], RecordView | None] | None = None
    status_list: StatusList | None = None
    as_of: datetime | None = None  # when the status list was issued: taken from the list unless given
    next_update: datetime | None = None  # taken from the list unless given
    copy_lookup: Callable[[str], CopyRecordView | None] | None = None  # by redemption id

    def __post_init__(self) -> None:
        if self.as_of is None and self.status_list is not None:
            object.__setattr__(self, "as_of", self.status_list.issued)
        if self.next_update is None and self.status_list is not None:
            object.__setattr__(self, "next_update", self.status_list.next_update)

    @property
    def name(self) -> str | None:
        return "register" if self.lookup else ("status_list" if self.status_list else None)


OFFLINE = StatusSource()


def _status_verdict(run: _Run, status: str, category: str | None, where: str, where_zh: str) -> None:
    """The public learns the status and, for a revocation, its category: never the department's
    free-text reason, which may name people, cases or internal matters."""
    if status == "revoked":
        label = public_label(category)
        run.fail(STATUS, "revoked", f"licence revoked ({category or 'revoked or cancelled'}; {where})", f"证照已{label}（{where_zh}）")
    elif status in _STATUS_VERDICTS:
        run.fail(STATUS, _STATUS_VERDICTS[status], f"licence {status} ({where})", f"证照{_STATUS_TEXT[status]}（{where_zh}）")
    else:
        run.ok(STATUS, f"licence is in force ({where})", f"证照现行有效（{where_zh}）")


def _check_status(run: _Run, signed: _Signed, source: StatusSource, *, now: datetime, scanned: str | None = None) -> RecordView | None:
    """6. Status from the register, else from a signed status list; without either the status is
    "not checked" and the verdict at best ``unchecked``, never valid. ``scanned``: the QR text
    ``signed`` was read from.

    Only a payload that passed the signature and issuer checks is looked up: the register's
    word on a licence nobody trusted signing would only muddy the verdict.
    """
    claims = signed.claims
    if claims is None:
        run.skip(STATUS, "not checked: payload unreadable", "未核验：数据无法读取")
        return None
    if run.verdict in ("tampered", "forged", "untrusted"):
        run.skip(
            STATUS,
            "not checked: the payload is not genuinely signed by an authorised issuer",
            "未核验：数据并非由有权签发机关真实签发",
        )
        return None
    if source.lookup is not None:
        record = source.lookup(claims.identifier)
        if record is None:
            run.fail(STATUS, "forged", "no such licence in the register", "登记库中无此证照")
            return None
        _status_verdict(run, record.status, record.status_category, "register", "据登记库")
        assert signed.msg is not None  # claims were decoded from it
        _check_binding(run, signed.msg, claims, record, scanned)
        return record
    if source.status_list is not None:
        status_list = source.status_list
        if source.next_update is not None and now > source.next_update:
            run.skip(
                STATUS,
                f"not checked: the status list of {status_list.issued_at} is past its next update ({source.next_update.isoformat()})",
                f"未核验：状态列表已过期（应于{_date_zh(source.next_update.timestamp())}更新）",
            )
            return None
        if claims.status_index is None:
            run.skip(STATUS, "not checked: payload carries no status list position", "未核验：数据未载明状态列表位置")
            return None
        status = status_list.status(claims.issuer, claims.status_index)
        if status is None:
            run.skip(
                STATUS,
                "not checked: position not covered by the status list (list older than the licence?)",
                "未核验：状态列表未覆盖该位置（列表可能早于证照签发）",
            )
        else:
            issued_zh = _date_zh(status_list.issued.timestamp()) if status_list.issued else status_list.issued_at
            _status_verdict(run, status, None, f"status list of {status_list.issued_at}", f"据{issued_zh}发布的状态列表")
        return None
    run.skip(STATUS, "not checked: offline verification (no register or status list)", "未核验：离线核验（无登记库或状态列表）")
    return None


_BOUND_FIELDS = (
    ("holder", "holder", "持证人"),
    ("kind", "kind", "证照类型"),
    ("issuer", "issuer", "制证单位"),
    ("issued_at", "issue time", "签发时间"),
    ("expires_at", "expiry", "有效期"),
    ("status_index", "status position", "状态列表位置"),
    ("digest", "data digest", "数据摘要"),
)


def _issued_payload(record: RecordView) -> bytes | None:
    try:
        return parse_link(record.qr_text).payload
    except UnreadableEvidence:
        return None


def _check_binding(run: _Run, msg: cose.Sign1, claims: Claims, record: RecordView, scanned: str | None) -> None:
    """6b. The payload is the one the register recorded at issuance for this identifier: a genuine
    signature by an authorised key does not make claims the register does not hold valid (a
    leaked or misused department key could otherwise mint a "valid" QR for another holder)."""
    # The very text issued (the usual case) holds the very bytes just read; msg.encode() is the
    # bytes scanned, as parse_sign1 accepts only its own encoding.
    same_bytes = record.qr_text == scanned or _issued_payload(record) == msg.encode()
    if same_bytes and msg.kid.hex() == record.kid and claims.digest.hex() == record.data_digest:
        run.checks.append(_REGISTER_MATCH_OK)
        return
    issued_bytes = _issued_payload(record)
    try:  # only now, to name what differs
        issued: cose.Sign1 | None = cose.parse_sign1(issued_bytes or b"")
        issued_claims: Claims | None = Claims.decode(issued.payload) if issued else None
    except (UnreadableEvidence, cose.CoseFormatError, ClaimsError):
        issued, issued_claims = None, None
    differs: list[tuple[str, str]] = []
    if issued_claims is not None:
        differs += [(en, zh) for name, en, zh in _BOUND_FIELDS if getattr(claims, name) != getattr(issued_claims, name)]
    elif claims.digest.hex() != record.data_digest:
        differs.append(("data digest", "数据摘要"))
    if msg.kid.hex() != record.kid or (issued is not None and issued.kid != msg.kid):
        differs.append(("signing key", "签名密钥"))
    if differs:
        run.fail_listing(
            REGISTER_MATCH,
            "forged",
            differs,
            prefix="payload differs from the register's record of this licence: ",
            prefix_zh="二维码数据与登记库签发记录不符：",
        )
    else:  # same claims and key, other bytes: a re-encoded signature (ECDSA's mirror S), not the QR issued
        run.fail(
            REGISTER_MATCH,
            "tampered",
            "payload carries the issued claims but not the signature issued with them",
            "二维码数据的签名并非签发时的签名",
        )


def _report(
    run: _Run,
    signed: _Signed,
    record: RecordView | None,
    *,
    now: datetime,
    evidence: str,
    trust: TrustStore,
    source: StatusSource,
    copy: CopySection | None = None,
    notices: tuple[Notice, ...] = (),
) -> Report:
    claims = signed.claims
    licence = _summary(claims, signed.issuer) if claims else None
    if licence is not None and record is not None:
        licence["holder_id"] = record.holder_id_masked
        licence["superseded_by"] = record.superseded_by
    status_as_of = now if source.lookup else source.as_of
    copy_info = None
    if copy is not None:  # the embedded section less the original's digest, and what it means now
        copy_info = {k: v for k, v in copy.as_attachment().items() if k != "original_pdf_sha256"}
        copy_info.update(expired=now > copy.expires_at, notice=copy.notice())
    verdict = run.verdict
    if verdict == VALID and any(c.name == STATUS and c.passed is None for c in run.checks):
        verdict = UNCHECKED  # genuine, but nobody said it is still in force
    return Report(verdict, tuple(run.checks), licence, now, evidence, source.name, status_as_of, trust.as_of, copy_info, notices)


def _link_notices(link: Link, base_url: str | None) -> tuple[Notice, ...]:
    if base_url is None or not link.points_elsewhere(base_url):
        return ()
    return (
        Notice(
            "other_host",
            f"the QR links to {link.origin}, not to this platform ({base_url}): a phone opening it sees another site",
            f"二维码链接指向 {link.origin}，并非本平台地址（{base_url}）：用手机扫码打开的是其他网站，谨防仿冒",
        ),
    )


def verify_qr(
    text: str, *, trust: TrustStore, now: datetime, source: StatusSource = OFFLINE, base_url: str | None = None
) -> Report:
    """Verify scanned QR text; ``source`` says where status comes from (none: offline). With the
    platform's ``base_url``, a link to another host gets a notice."""
    link = parse_link(text)
    run = _Run()
    signed = _check_claims(run, link.payload, trust=trust, now=now)
    record = _check_status(run, signed, source, now=now, scanned=text)
    return _report(run, signed, record, now=now, evidence="qr", trust=trust, source=source, notices=_link_notices(link, base_url))


def _attachment(findings: PdfFindings) -> dict[str, Any] | None:
    if findings.attachment is None:
        return None
    try:
        doc = json.loads(findings.attachment)
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        return None
    if not (isinstance(doc, dict) and isinstance(doc.get("data"), dict) and isinstance(doc.get("qr_text"), str)):
        return None
    return doc


def verify_pdf(
    pdf: bytes,
    *,
    trust: TrustStore,
    now: datetime,
    source: StatusSource = OFFLINE,
    inspect: Callable[[bytes, x509.Certificate], PdfFindings] | None = None,
    base_url: str | None = None,
) -> Report:
    """Verify a licence PDF: its PAdES signature against the platform root, its embedded data and
    QR payload, and (with the register as ``source``) that it is the very file the register holds.
    An annotated copy (加注件: embedded data with a ``copy`` section) must be signed by the platform
    identity, be the file its redemption handed out, and is valid only until its expiry and while
    the holder's grant stands; the report's ``copy`` says for whom and what.

    Offline nothing binds the visible page to the register, so the PDF must be certified by the
    very key that signed its QR: a department key withdrawn (or leaked) cannot re-sign a genuine
    QR and data under another page.

    ``inspect`` runs pyhanko; callers handling uploads pass one that runs in a constrained process.
    """
    findings = (inspect or _inspect_here)(pdf, trust.root)
    pdf_issuer = trust.by_cert(findings.signer_cert) if findings.signer_cert else None
    run = _Run()
    # 7. PDF integrity: one signature, whole file covered, nothing appended, certification intact.
    problems: list[tuple[str, str]] = []  # (English, Chinese)
    if findings.parse_error:
        problems.append((findings.parse_error, f"PDF 无法解析：{findings.parse_error}"))
    else:
        if findings.signature_count != 1:
            n = findings.signature_count
            problems.append((f"{n} signatures where exactly one is expected", f"应有且仅有 1 个签名，实有 {n} 个"))
        if not (findings.intact and findings.valid):
            problems.append(("signature does not match the document bytes", "签名与文件内容不符"))
        if not findings.whole_file:
            problems.append(("signature does not cover the whole file (content added after signing)", "签名未覆盖整个文件（签名后被追加内容）"))
        if not findings.unmodified:
            problems.append(("document modified after signing", "文件在签名后被修改"))
        if not findings.certified_no_changes:
            problems.append(("certification level (DocMDP no changes) broken", "认证签名级别（DocMDP 禁止修改）被破坏"))
    if problems:
        run.fail_listing(PDF_INTEGRITY, "tampered", problems, sep="; ", sep_zh="；")
    elif not findings.trusted:
        run.fail(PDF_INTEGRITY, "untrusted", "signing certificate does not chain to the platform root", "签章证书不能链接到平台根证书")
    elif pdf_issuer is None:
        run.fail(PDF_INTEGRITY, "untrusted", "signing certificate is not a platform department certificate", "签章证书不是平台登记的部门证书")
    elif pdf_issuer.withdrawn_reason:
        run.fail(
            PDF_INTEGRITY,
            "untrusted",
            f"PDF certified with a withdrawn key: {pdf_issuer.withdrawn_reason}",
            f"PDF 签章密钥已被撤回：{pdf_issuer.withdrawn_reason}",
        )
    else:
        stamped, stamped_zh = ("time-stamped", "带有时间戳") if findings.timestamped else ("NOT time-stamped", "无时间戳")
        run.ok(
            PDF_INTEGRITY,
            f"PAdES certification signature intact, whole file covered, {stamped}",
            f"PAdES 认证签名完好，覆盖整个文件，{stamped_zh}",
        )
        if not findings.timestamped:
            run.fail(PDF_INTEGRITY, "tampered", "time-stamp missing or invalid", "时间戳缺失或无效")
    doc = _attachment(findings)
    try:
        link = parse_link(doc["qr_text"]) if doc is not None else None
    except UnreadableEvidence:
        link = None
    if doc is None or link is None:
        run.fail(FORMAT, "tampered", "embedded licence data (licence.json) missing or damaged", "PDF 内嵌的证照数据（licence.json）缺失或已损坏")
        _check_status(run, _Signed(None, None, None), source, now=now)
        return _report(run, _Signed(None, None, None), None, now=now, evidence="pdf", trust=trust, source=source)
    is_copy = "copy" in doc
    copy = CopySection.parse(doc["copy"]) if is_copy else None
    if is_copy and copy is None:
        run.fail(FORMAT, "tampered", "annotated-copy section (加注件信息) of the embedded data is damaged", "内嵌数据中的加注件信息已损坏")
    signed = _check_claims(run, link.payload, trust=trust, now=now)
    claims, issuer = signed.claims, signed.issuer
    try:
        embedded_digest = data_digest(doc["data"])
    except (UnicodeEncodeError, RecursionError, ValueError):  # a lone surrogate, or nesting json.loads took
        embedded_digest = b""
    if claims is not None and (embedded_digest != claims.digest or doc.get("identifier") != claims.identifier):
        run.fail(FORMAT, "tampered", "embedded data does not match the signed QR payload", "内嵌数据与已签名的二维码数据不符")
    if is_copy:
        _check_copy_signer(run, pdf_issuer)
    elif pdf_issuer is not None and pdf_issuer.department_code == PLATFORM_CODE:
        run.fail(
            ISSUER_AUTHORISED,
            "forged",
            "signed with the platform's copy-signing key, but not an annotated copy (加注件)",
            "以平台加注件签章密钥签章，但并非加注件",
        )
    elif claims is not None and issuer and pdf_issuer and pdf_issuer.kid != issuer.kid:
        run.fail(
            ISSUER_AUTHORISED,
            "forged",
            f"PDF certified with key {pdf_issuer.kid.hex()} of {pdf_issuer.department_code}, not with key {issuer.kid.hex()} that signed its QR",
            f"PDF 签章密钥（{pdf_issuer.department_name}，{pdf_issuer.kid.hex()}）并非签发其二维码的密钥（{issuer.department_name}，{issuer.kid.hex()}）",
        )
    record = _check_status(run, signed, source, now=now, scanned=doc["qr_text"])
    copy_record = _match_record(run, pdf, doc, claims, record, embedded_digest.hex(), source, is_copy=is_copy, copy=copy)
    if copy is not None:
        _check_copy_validity(run, copy, copy_record, now=now, online=source.copy_lookup is not None)
    return _report(
        run, signed, record, now=now, evidence="pdf", trust=trust, source=source, copy=copy, notices=_link_notices(link, base_url)
    )


def _check_copy_signer(run: _Run, pdf_issuer: TrustedIssuer | None) -> None:
    """An annotated copy is signed by the platform's copy-signing identity, never by a department:
    a department key on a copy means someone made a copy the platform never handed out."""
    if pdf_issuer is None:
        return  # PDF integrity already failed: the signer is not on the trust list
    if pdf_issuer.department_code != PLATFORM_CODE:
        run.fail(
            ISSUER_AUTHORISED,
            "forged",
            f"an annotated copy must be signed by the platform; this file is signed by {pdf_issuer.department_name}",
            f"加注件须由平台签章，此文件由{pdf_issuer.department_name}签章",
        )
    elif pdf_issuer.withdrawn_reason:
        run.fail(
            ISSUER_AUTHORISED,
            "untrusted",
            f"the platform's copy-signing key was withdrawn: {pdf_issuer.withdrawn_reason}",
            f"平台加注件签章密钥已被撤回：{pdf_issuer.withdrawn_reason}",
        )
    else:
        run.ok(ISSUER_AUTHORISED, f"annotated copy signed by {pdf_issuer.department_name}", f"加注件由{pdf_issuer.department_name}签章")


def _match_record(
    run: _Run,
    pdf: bytes,
    doc: dict[str, Any],
    claims: Claims | None,
    record: RecordView | None,
    embedded_digest: str,
    source: StatusSource,
    *,
    is_copy: bool,
    copy: CopySection | None,
) -> CopyRecordView | None:
    """8. The file is the very one the register vouches for: the licence's own PDF, or for an
    annotated copy the copy recorded with the redemption that handed it out."""
    if source.lookup is None:
        run.skip(PDF_MATCHES_RECORD, "not checked: offline verification (no register)", "未核验：离线核验（无登记库）")
        return None
    if record is None or claims is None:
        run.skip(PDF_MATCHES_RECORD, "not checked: no record", "未核验：无登记记录")
        return None
    mismatches: list[tuple[str, str]] = []  # (English, Chinese)
    if record.data_digest != embedded_digest:
        mismatches.append(("data", "证照数据"))
    if record.qr_text != doc["qr_text"]:
        mismatches.append(("QR", "二维码"))
    copy_record = None
    file_sha256 = hashlib.sha256(pdf).hexdigest()
    if not is_copy:
        if record.pdf_sha256 != file_sha256:
            mismatches.append(("file digest", "文件摘要"))
    elif copy is None:
        mismatches.append(("copy section", "加注件信息"))
    elif source.copy_lookup is None:
        run.skip(PDF_MATCHES_RECORD, "not checked: no register of annotated copies", "未核验：无加注件登记")
        return None
    else:
        copy_record = source.copy_lookup(copy.redemption)
        if copy_record is None or copy_record.grant != copy.grant or copy_record.licence != claims.identifier:
            run.fail(PDF_MATCHES_RECORD, "forged", "no such annotated copy (加注件) in the register", "登记库中无此加注件")
            return None
        if copy_record.copy_sha256 != file_sha256:
            mismatches.append(("file digest of the copy handed out", "所交付加注件的文件摘要"))
    if mismatches:
        run.fail_listing(
            PDF_MATCHES_RECORD, "tampered", mismatches, prefix="differs from the register's record: ", prefix_zh="与登记库记录不符："
        )
    elif is_copy:
        run.ok(
            PDF_MATCHES_RECORD,
            "embedded data and QR match the register's licence, the file the annotated copy handed out",
            "内嵌数据、二维码与登记库中的证照一致，文件即所交付的加注件",
        )
    else:
        run.ok(PDF_MATCHES_RECORD, "embedded data, QR and file match the register's record", "内嵌数据、二维码及文件与登记库记录一致")
    return copy_record


def _check_copy_validity(run: _Run, copy: CopySection, record: CopyRecordView | None, *, now: datetime, online: bool) -> None:
    """9. A copy serves one organisation, one purpose, until its expiry, and only while the holder's
    grant stands."""
    revoked = record is not None and record.grant_revoked
    for_whom = f"for {copy.recipient_name}, purpose “{copy.purpose}”"
    until = copy.expires_at.astimezone(timezone.utc).isoformat()
    if revoked:
        run.fail(COPY_VALIDITY, "revoked", "the holder revoked the grant; the annotated copy is void", "授权已被持证人撤销，加注件随之失效")
    if now > copy.expires_at:
        run.fail(COPY_VALIDITY, "expired", f"annotated copy expired on {until} ({for_whom})", copy.expired_text())
    elif not revoked:
        run.ok(
            COPY_VALIDITY,
            f"annotated copy {for_whom}, valid until {until}" + ("" if online else " (offline: grant revocation not checked)"),
            copy.in_force_text() + ("" if online else "（离线核验：未查询授权是否已撤销）"),
        )


def _inspect_here(pdf: bytes, root: x509.Certificate) -> PdfFindings:
    return inspect_pdf(pdf, root=root)
