"""Verification API for service windows and offline verifiers: verify, trust list, status list."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidInput, PayloadTooLarge, UnreadableEvidence
from ..services import trustdocs
from ..services.verifying import check_image, check_pdf, check_qr
from .bodies import read_json
from .public import platform

bp = Blueprint("verify_api", __name__, url_prefix="/api/v1")

MAX_PDF_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 16 * 1024 * 1024  # the largest evidence: a phone photo (qrread caps images at 15 MiB)
MAX_QR_TEXT = 4096
MAX_QR_JSON_BYTES = 64 * 1024  # {"qr": ...} with the longest QR text, even all \uXXXX-escaped


def verify_evidence() -> dict[str, Any]:
    """Read the evidence of this request (QR text, PDF or image) and verify it."""
    PayloadTooLarge.check(request.content_length, MAX_UPLOAD_BYTES, "upload")
    if request.files:
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput.single("file", "multipart upload must be in the field 'file'")
        data = upload.read(MAX_PDF_BYTES + 1)
        if data.lstrip()[:5] == b"%PDF-":
            PayloadTooLarge.check(len(data), MAX_PDF_BYTES, "PDF")
            return check_pdf(platform(), data, sandbox=True, client=request.remote_addr).as_dict()
        data += upload.read(MAX_UPLOAD_BYTES)  # images may be larger than PDFs; qrread caps them
        return check_image(platform(), data, client=request.remote_addr).as_dict()
    body = read_json(max_bytes=MAX_QR_JSON_BYTES, required=False)
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
