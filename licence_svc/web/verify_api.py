"""Verification API for service windows and offline verifiers: verify, trust list, status list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core import verify as pipeline
from ..errors import InvalidInput, PayloadTooLarge, UnreadableEvidence
from ..services import trustdocs
from ..services.verifying import check_image, check_pdf, check_qr
from .bodies import JSON, read_body
from .openapi import API, DATE_TIME, errors, json_response, licence_props, nullable, obj, operation, ref
from .public import platform

bp = Blueprint("verify_api", __name__, url_prefix="/api/v1")

MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # the largest evidence: a phone photo (qrread caps images at 15 MiB)
MAX_QR_TEXT = 4096
MAX_QR_JSON_BYTES = 64 * 1024  # {"qr": ...} with the longest QR text, even all \uXXXX-escaped


def verify_evidence() -> dict[str, Any]:
    """Read the evidence of this request (QR text, PDF or image) and verify it."""
    PayloadTooLarge.check(request.content_length, MAX_UPLOAD_BYTES, "upload")
    if request.mimetype == "multipart/form-data":  # not request.files: that would parse a JSON body as a form first
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput.single("file", "multipart upload must be in the field 'file'")
        data = upload.read(MAX_PDF_BYTES + 1)
        if data.lstrip()[:5] == b"%PDF-":
            PayloadTooLarge.check(len(data), MAX_PDF_BYTES, "PDF")
            return check_pdf(platform(), data, sandbox=True, client=request.remote_addr).as_dict()
        data += upload.read(MAX_UPLOAD_BYTES)  # images may be larger than PDFs; qrread caps them
        return check_image(platform(), data, client=request.remote_addr).as_dict()
    body = read_body(max_bytes=MAX_QR_JSON_BYTES, required=False)
    if body is None:
        raise UnreadableEvidence("send JSON {\"qr\": \"...\"} or a multipart upload 'file' (PDF or image)")
    text: str = body["qr"]
    if not text.strip():
        raise InvalidInput.single("qr", "required: the QR text as scanned")
    return check_qr(platform(), text, client=request.remote_addr).as_dict()


@bp.post("/verify")
def verify() -> Response:
    resp = jsonify(verify_evidence())
    resp.headers["Cache-Control"] = "no-store"  # a report is an answer at one moment: status changes
    return resp


@bp.get("/trust-list")
def trust_list() -> Response:
    resp = jsonify(trustdocs.signed_trust_list(platform()))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/status")
def status_list() -> Response:
    resp = jsonify(trustdocs.signed_status_list(platform()))
    resp.headers["Cache-Control"] = "public, max-age=60"
    return resp


# ---- the OpenAPI description of these views --------------------------------------------------

CHECK_NAMES = tuple(pipeline.CHECK_LABELS)  # every check a report may hold, in pipeline order


def openapi_schemas() -> dict[str, Any]:
    return {
    "VerifyQrRequest": obj({"qr": {"type": "string", "minLength": 1, "maxLength": MAX_QR_TEXT, "description": "the QR text as scanned: the verification link or its payload"}}),
    "VerifyUpload": obj(
        {"file": {"type": "string", "format": "binary", "description": f"a licence PDF (at most {MAX_PDF_BYTES // (1024 * 1024)} MiB) or a photo or scan of one (PNG, JPEG)"}}
    ),
    "Check": obj(
        {
            "name": {"type": "string", "enum": list(CHECK_NAMES)},
            "label": {"type": "string", "description": "the check's name in Chinese, as the pages show it"},
            "passed": {"type": ["boolean", "null"], "description": "null: not checked (offline, or an earlier stage failed)"},
            "reason": {"type": "string", "description": "why, in English; stable wording for programs to match"},
            "reason_zh": {"type": "string", "description": "the same reason in Chinese, as the pages show it"},
        }
    ),
    "VerifiedLicence": obj(
        {
            "identifier": {"type": "string", "description": "as the signed payload claims it"},
            **licence_props(),
            "holder_id": {"type": "string", "description": "masked ID number or credit code; only when the register knows the licence"},
            "superseded_by": {**nullable(ref("Identifier")), "description": "only when the register knows the licence"},
        },
        ["identifier", "kind", "kind_label", "issuer", "holder", "issued_at", "expires_at"],
        title="核验到的证照 (masked)",
    ),
    "AnnotatedCopy": obj(
        {
            "purpose": {"type": "string", "description": "申请事由: the only use the copy is valid for"},
            "recipient": obj({"code": {"type": "string"}, "name": {"type": "string"}}, title="the organisation the copy was handed to"),
            "expires_at": DATE_TIME,
            "expired": {"type": "boolean"},
            "grant": {"type": "string", "description": "the holder's share grant"},
            "redemption": {"type": "string", "description": "the redemption that handed the copy out"},
            "notice": {"type": "string", "description": "the annotation printed on every page"},
        },
        title="加注件 Annotated copy",
    ),
    "VerifyReport": obj(
        {
            "verdict": {"type": "string", "enum": list(pipeline.VERDICTS), "description": "; ".join(f"{k}: {v}" for k, v in pipeline.VERDICT_LABELS.items())},
            "verdict_label": {"type": "string", "enum": list(pipeline.VERDICT_LABELS.values())},
            "valid": {"type": "boolean"},
            "evidence": {
                "type": "string",
                "enum": ["qr", "pdf", "image", "scan"],
                "description": "qr: QR text; pdf: a signed licence PDF; image: a photo or scan (PNG, JPEG); scan: a PDF without a signature (a scan saved as PDF)",
            },
            "checks": {"type": "array", "items": ref("Check")},
            "licence": nullable(ref("VerifiedLicence")),
            "checked_at": DATE_TIME,
            "freshness": obj(
                {
                    "trust_as_of": nullable(DATE_TIME),
                    "status_source": {"type": ["string", "null"], "enum": ["register", "status_list", None]},
                    "status_as_of": nullable(DATE_TIME),
                }
            ),
            "copy": {
                **nullable(ref("AnnotatedCopy")),
                "description": "an annotated copy (加注件) handed to a window through a holder's grant; null for the licence itself",
            },
            "warnings": {
                "type": "array",
                "items": ref("Notice"),
                "description": "what the person checking must know that does not change the verdict; pages show these prominently",
            },
        },
        title="核验报告 Verification report",
    ),
    "Notice": obj(
        {
            "code": {"type": "string", "description": (
                "stable, for programs: other_host (the QR links to another host than this platform), "
                "compare_printed_text (a picture: the clerk compares the printed text with the signed fields shown), "
                "printed_text_not_compared (a picture whose printed text could not be read by the platform), "
                "other_codes_ignored (a picture also holds codes that are not licence links)"
            )},
            "message": {"type": "string", "description": "in English"},
            "message_zh": {"type": "string", "description": "in Chinese, as the pages show it"},
        },
        title="提示 Notice",
    ),
    }


def openapi_paths() -> dict[str, Any]:
    public: dict[str, Any] = {"security": []}
    return {
        f"{API}/verify": {
            "post": operation(
                "verify",
                "verification",
                "核验 Verify",
                "Verify scanned QR text, a licence PDF, or a photo or scan of one. Evidence that can be read always "
                "gets a report, forgeries included (200); evidence that cannot be read is a 422.",
                {"200": json_response("the report", ref("VerifyReport")), **errors(413, 422, 503)},
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {"schema": ref("VerifyQrRequest")},
                        "multipart/form-data": {
                            "schema": ref("VerifyUpload"),
                            "encoding": {"file": {"contentType": "application/pdf, image/png, image/jpeg"}},
                        },
                    },
                },
                **public,
            )
        },
        f"{API}/trust-list": {
            "get": operation(
                "getTrustList",
                "trust",
                "信任列表 Trust list",
                "The signed list of department signing keys and the kinds each may issue, for offline verifiers.",
                {"200": json_response("signed by the platform root", ref("SignedDocument")), **errors(503)},
                **public,
            )
        },
        f"{API}/status": {
            "get": operation(
                "getStatusList",
                "trust",
                "状态列表 Status list",
                "The signed status list (per issuer, a status code per position), rebuilt from the register.",
                {"200": json_response("signed by the platform root", ref("SignedDocument")), **errors(503)},
                **public,
            )
        },
    }
