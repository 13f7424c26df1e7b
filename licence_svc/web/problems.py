"""Errors to RFC 9457 problem+json, in one place."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from ..errors import InvalidInput, LicenceError

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://licence.example.gov.cn/problems/"


def problem(status: int, slug: str, title: str, detail: str, **extra: object) -> Response:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, "instance": request.path}
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/problem+json")


def register(app: Flask) -> None:
    @app.errorhandler(LicenceError)
    def domain_error(exc: LicenceError) -> Response:
        extra = {"errors": [p.as_dict() for p in exc.problems]} if isinstance(exc, InvalidInput) else {}
        return problem(exc.http_status, exc.slug, exc.title, exc.detail, **extra)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        slug = (exc.name or "error").lower().replace(" ", "-")
        return problem(exc.code or 500, slug, exc.name or "Error", exc.description or "")

    @app.errorhandler(Exception)
    def bug(exc: Exception) -> Response:
        request_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error, request %s", request_id)
        return problem(500, "internal-error", "Internal error", f"request id {request_id}", request_id=request_id)
