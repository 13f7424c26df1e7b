"""A genuine little platform, built in memory from the pure core alone (no database, no files):
a root, one department authorised for every kind, the platform's copy-signing identity, a
time-stamping key, the trust store, genuine QR texts and licence PDFs, an annotated copy, and the
signed trust and status lists. The fuzz tests and ``bench/fuzz_verify.py`` mutate these.

Keys are made fresh for each build; the department's key is kept so claim-level mutations can be
re-signed and reach the checks past the signature.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from licence_svc.core import annotate, cose
from licence_svc.core.checkdigits import credit_code_check_char
from licence_svc.core.dates import CHINA
from licence_svc.core.identifiers import new_licence_id
from licence_svc.core.kinds import KINDS, get_kind, validate
from licence_svc.core.masking import mask_name
from licence_svc.core.payload import Claims, data_digest, qr_text, sign_claims
from licence_svc.core.pdfsign import PdfSigner, sign_licence_pdf
from licence_svc.core.pki import Credentials, make_department_cert, make_root, make_tsa_cert, new_ec_key, new_tsa_key
from licence_svc.core.render import RenderRequest, render_pdf
from licence_svc.core.signeddoc import open_document, sign_document
from licence_svc.core.statuslist import StatusList, status_body
from licence_svc.core.trust import TrustedIssuer, TrustStore
from licence_svc.core.trustlist import trust_list_body
from licence_svc.core.verify import CopyRecordView, RecordView, StatusSource

ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "https://zzfw.example.gov.cn"
DEPARTMENT_CODE = "11110000000019001" + credit_code_check_char("11110000000019001")
DEPARTMENT_NAME = "示例市数据局（演示）"
ATTACHMENT_FORMAT = "licence-data/1"  # services.issuing.ATTACHMENT_FORMAT (core may not import services)
STATUS_LENGTH = 131_072


def load_sample(kind: str) -> dict[str, Any]:
    return json.loads((ROOT / "samples" / f"{kind}.json").read_text("utf-8"))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Licence:
    """One genuine licence: its claims, the CBOR and COSE bytes, the QR text, the embedded document."""

    kind: str
    claims: Claims
    claims_cbor: bytes
    signed: bytes
    qr_text: str
    attachment: dict[str, Any]


@dataclass
class World:
    now: datetime
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    department: Credentials
    platform_identity: Credentials
    trust: TrustStore
    licences: dict[str, Licence]
    pdf_signer: PdfSigner
    copy_signer: PdfSigner
    trust_list: dict[str, str]  # signed envelope
    status_list: dict[str, str]  # signed envelope
    status_entries: list[tuple[int, str]] = field(default_factory=list)
    pdfs: dict[str, bytes] = field(default_factory=dict)  # "licence", "copy", "long_term" (no expiry)

    # -- QR payloads ------------------------------------------------------------------------------

    @property
    def kid(self) -> bytes:
        return self.department.kid

    def sign_payload(self, payload: bytes, *, key: ec.EllipticCurvePrivateKey | None = None, kid: bytes | None = None) -> bytes:
        """COSE_Sign1 over any bytes, by the department's genuine key unless told otherwise."""
        return cose.sign1(payload, key or self.department.key, kid if kid is not None else self.kid)  # type: ignore[arg-type]

    def sign_claims_map(self, claims: Mapping[Any, Any], **kw: Any) -> bytes:
        return self.sign_payload(cbor2.dumps(dict(claims)), **kw)

    def text(self, signed: bytes) -> str:
        return qr_text(BASE_URL, signed)

    def record_view(self, kind: str = "id_card", **changes: Any) -> RecordView:
        """The register's record of a genuine licence (only the fields this RecordView has)."""
        lic = self.licences[kind]
        values: dict[str, Any] = {
            "identifier": lic.claims.identifier,
            "status": "valid",
            "data_digest": lic.claims.digest.hex(),
            "qr_text": lic.qr_text,
            "pdf_sha256": "0" * 64,
            "kid": self.kid.hex(),
            "holder_id_masked": "1101**********1233",
        }
        names = {f.name for f in dataclasses.fields(RecordView)}
        return RecordView(**{k: v for k, v in {**values, **changes}.items() if k in names})

    def sources(self) -> dict[str, StatusSource]:
        """Every way status can come in: none (offline), the signed status list, and a register
        that knows the genuine licences (others: not found), their PDFs and the annotated copy."""
        status_list = StatusList.from_body(open_document(self.status_list, self.root))
        pdf_of = {"id_card": self.pdfs.get("licence"), "degree_certificate": self.pdfs.get("long_term")}
        records = {
            lic.claims.identifier: self.record_view(kind, pdf_sha256=hashlib.sha256(pdf_of.get(kind) or b"").hexdigest())
            for kind, lic in self.licences.items()
        }
        copy_sha256 = hashlib.sha256(self.pdfs["copy"]).hexdigest() if "copy" in self.pdfs else None
        copy = CopyRecordView(redemption="R" * 16, grant="G" * 16, licence=self.licences["id_card"].claims.identifier, copy_sha256=copy_sha256, grant_revoked=False)
        return {
            "offline": StatusSource(),
            "status_list": StatusSource(status_list=status_list),
            "register": StatusSource(lookup=records.get, copy_lookup=lambda r: copy if r == copy.redemption else None),
        }

    def claims_map(self, kind: str = "id_card") -> dict[int, Any]:
        """The genuine claims of a licence as the CBOR map, to be changed and re-signed."""
        return dict(cbor2.loads(self.licences[kind].claims_cbor))

    # -- PDFs -------------------------------------------------------------------------------------

    def sign_pdf(self, page: bytes, attachment: bytes, *, copy: bool = False) -> bytes:
        """Attach ``attachment`` (any bytes) and certify the page as the department (or, with
        ``copy``, the platform's copy-signing identity) would."""
        signer = self.copy_signer if copy else self.pdf_signer
        reason = annotate.COPY_SIGNING_REASON if copy else "电子证照签发"
        return sign_licence_pdf(page, attachment=attachment, signer=signer, reason=reason)


def _licence(kind: str, *, department: Credentials, now: datetime, status_index: int) -> tuple[Licence, dict[str, Any]]:
    spec = get_kind(kind)
    clean = validate(kind, load_sample(kind))
    lid = new_licence_id(spec.kind_code, DEPARTMENT_CODE)
    expiry = spec.expiry_date(clean)
    expires_at = int(datetime.combine(expiry + timedelta(days=1), datetime.min.time(), CHINA).timestamp()) - 1 if expiry else None
    claims = Claims(
        identifier=str(lid),
        kind=kind,
        issuer=DEPARTMENT_CODE,
        issued_at=int(now.timestamp()),
        expires_at=expires_at,
        holder=mask_name(spec.holder_name(clean)),
        digest=data_digest(clean),
        status_index=status_index,
    )
    signed = sign_claims(claims, department.key, department.kid)  # type: ignore[arg-type]
    text = qr_text(BASE_URL, signed)
    attachment = {
        "format": ATTACHMENT_FORMAT,
        "identifier": str(lid),
        "kind": kind,
        "kind_label": spec.label,
        "version": lid.version,
        "issuer": {"code": DEPARTMENT_CODE, "name": DEPARTMENT_NAME},
        "issued_at": now.isoformat(),
        "data": clean,
        "qr_text": text,
    }
    return Licence(kind, claims, claims.to_cbor(), signed, text, attachment), clean


def page_for(licence: Licence, *, now: datetime, overlay: Any = None) -> bytes:
    spec = get_kind(licence.kind)
    return render_pdf(
        RenderRequest(
            kind=spec,
            data=licence.attachment["data"],
            identifier=licence.claims.identifier,
            issuer_name=DEPARTMENT_NAME,
            issued_on=now.astimezone(CHINA).date(),
            qr_text=licence.qr_text,
        ),
        overlay=overlay,
    )


def build_world(now: datetime | None = None, *, pdfs: bool = True) -> World:
    """The whole genuine world; ``pdfs`` renders and certifies the licence, a long-term licence and
    an annotated copy (~0.5 s)."""
    now = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    made = now - timedelta(days=1)  # certificates valid from yesterday: licences issued "now" fall inside
    root_key = new_ec_key()
    root = make_root(root_key, now=made)
    dept_key = new_ec_key()
    dept = Credentials(dept_key, make_department_cert(dept_key, department_code=DEPARTMENT_CODE, department_name=DEPARTMENT_NAME, root_cert=root, root_key=root_key, now=made))
    plat_key = new_ec_key()
    plat = Credentials(
        plat_key,
        make_department_cert(plat_key, department_code=annotate.PLATFORM_CODE, department_name=annotate.COPY_SIGNER_NAME, root_cert=root, root_key=root_key, now=made),
    )
    tsa_key = new_tsa_key()
    tsa = Credentials(tsa_key, make_tsa_cert(tsa_key, root_cert=root, root_key=root_key, now=made))
    issuers = [
        TrustedIssuer(dept.cert, DEPARTMENT_CODE, DEPARTMENT_NAME, frozenset(KINDS)),
        TrustedIssuer(plat.cert, annotate.PLATFORM_CODE, annotate.COPY_SIGNER_NAME, frozenset()),
    ]
    trust = TrustStore.build(root, issuers)
    licences = {}
    for i, kind in enumerate(sorted(KINDS)):
        licences[kind], _ = _licence(kind, department=dept, now=now, status_index=1000 + i)
    entries = [(1000, "suspended"), (1001, "revoked"), (1002, "superseded"), (7, "revoked")]
    status = status_body({DEPARTMENT_CODE: (STATUS_LENGTH, entries)}, issued_at=now.isoformat(), next_update=(now + timedelta(hours=1)).isoformat())
    trust_body = trust_list_body(root, [(issuers[0], "active"), (issuers[1], "active")], issued_at=now.isoformat())
    world = World(
        now=now,
        root_key=root_key,
        root=root,
        department=dept,
        platform_identity=plat,
        trust=trust,
        licences=licences,
        pdf_signer=PdfSigner.build(dept, department_name=DEPARTMENT_NAME, root=root, tsa=tsa),
        copy_signer=PdfSigner.build(plat, department_name=annotate.COPY_SIGNER_NAME, root=root, tsa=tsa),
        trust_list=sign_document(trust_body, root_key, root),
        status_list=sign_document(status, root_key, root),
        status_entries=entries,
    )
    if pdfs:
        _make_pdfs(world)
    return world


def attachment_bytes(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def copy_section(world: World, *, expires_at: datetime) -> annotate.CopySection:
    return annotate.CopySection(
        grant="G" * 16,
        redemption="R" * 16,
        recipient_code=DEPARTMENT_CODE,
        recipient_name="示例市政务服务中心综合窗口（演示）",
        purpose="企业开办",
        expires_at=expires_at,
        original_pdf_sha256="0" * 64,
    )


def _make_pdfs(world: World) -> None:
    lic = world.licences["id_card"]
    world.pdfs["licence"] = world.sign_pdf(page_for(lic, now=world.now), attachment_bytes(lic.attachment))
    long_term = world.licences["degree_certificate"]
    world.pdfs["long_term"] = world.sign_pdf(page_for(long_term, now=world.now), attachment_bytes(long_term.attachment))
    section = copy_section(world, expires_at=world.now + timedelta(days=3))
    doc = {**lic.attachment, "copy": {**section.as_attachment(), "made_at": world.now.isoformat()}}
    world.pdfs["copy"] = world.sign_pdf(page_for(lic, now=world.now, overlay=annotate.overlay(section)), attachment_bytes(doc), copy=True)
