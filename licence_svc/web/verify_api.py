"""Verification API for service windows and offline verifiers: verify, trust list, status list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..core.qrread import read_qr_from_image
from ..errors import InvalidInput, LicenceError, UnreadableEvidence
from ..services import trustdocs
from ..services.verifying import check_pdf, check_qr
from .public import platform

bp = Blueprint("verify_api", __name__, url_prefix="/api/v1")

MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # the largest evidence: a phone photo (qrread caps images at 15 MiB)
MAX_QR_TEXT = 4096


class PayloadTooLarge(LicenceError):
    slug = "payload-too-large"
    title = "Upload too large"
    http_status = 413
    exit_code = 2


def verify_evidence() -> dict[str, Any]:
    """Read the evidence of this request (QR text, PDF or image) and verify it."""
    if request.content_length is not None and request.content_length > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"upload larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput.single("file", "multipart upload must be in the field 'file'")
        data = upload.read(MAX_PDF_BYTES + 1)
        if data.lstrip()[:5] == b"%PDF-":
            if len(data) > MAX_PDF_BYTES:
                raise PayloadTooLarge(f"PDF larger than {MAX_PDF_BYTES // (1024 * 1024)} MiB")
            return check_pdf(platform(), data, sandbox=True, client=request.remote_addr).as_dict()
        data += upload.read(MAX_UPLOAD_BYTES)  # images may be larger than PDFs; qrread caps them
        text = read_qr_from_image(data)
        report = check_qr(platform(), text, client=request.remote_addr).as_dict()
        report["evidence"] = "image"
        return report
    body = request.get_json(silent=True)
    if body is None:
        raise UnreadableEvidence("send JSON {\"qr\": \"...\"} or a multipart upload 'file' (PDF or image)")
    if not isinstance(body, dict):
        raise InvalidInput.single("body", "must be a JSON object")
    unknown = [k for k in body if k != "qr"]
    if unknown:
        raise InvalidInput.single(unknown[0], "unknown field")
    text = body.get("qr")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput.single("qr", "required: the QR text as scanned")
    if len(text) > MAX_QR_TEXT:
        raise InvalidInput.single("qr", f"longer than {MAX_QR_TEXT} characters")
    return check_qr(platform(), text, client=request.remote_addr).as_dict()


@bp.post("/verify")
def verify() -> Response:
    return jsonify(verify_evidence())


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
