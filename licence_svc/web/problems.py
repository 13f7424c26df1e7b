"""Errors to RFC 9457 problem+json, in one place."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from ..errors import InvalidInput, LicenceError
from ..services.connection import is_register_failure

log = logging.getLogger(__name__)
PROBLEM_BASE = "https://licence.example.gov.cn/problems/"


def problem(status: int, slug: str, title: str, detail: str, **extra: object) -> Response:
    """An RFC 9457 problem document; ``errors`` lists {field, reason} for invalid input."""
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail, "instance": request.path}
    body.update(extra)
    # "replace": a lone surrogate that reached a detail cannot be encoded; never a 500 for it
    data = json.dumps(body, ensure_ascii=False).encode("utf-8", "replace")
    return Response(data, status=status, mimetype="application/problem+json")


def register(app: Flask) -> None:
    @app.errorhandler(LicenceError)
    def domain_error(exc: LicenceError) -> Response:
        extra = {"errors": [p.as_dict() for p in exc.problems]} if isinstance(exc, InvalidInput) else {}
        resp = problem(exc.http_status, exc.slug, exc.title, exc.detail, **extra)
        if exc.http_status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="licence-api"'
        if exc.http_status in (429, 503):
            resp.headers["Retry-After"] = "60"
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        slug = (exc.name or "error").lower().replace(" ", "-")
        resp = problem(exc.code or 500, slug, exc.name or "Error", exc.description or "")
        for name, value in exc.get_headers():  # a 405's Allow (RFC 9110 §15.5.6), and the like
            if name.lower() != "content-type":
                resp.headers[name] = value
        return resp

    @app.errorhandler(Exception)
    def bug(exc: Exception) -> Response:
        if is_register_failure(exc):
            return problem(503, "unavailable", "Service unavailable", "the register is unavailable; try again later")
        request_id = uuid.uuid4().hex[:12]
        log.exception("unhandled error, request %s", request_id)
        return problem(500, "internal-error", "Internal error", f"request id {request_id}", request_id=request_id)
