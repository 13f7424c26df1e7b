"""Public pages and documents: the home page, health, and the platform root certificate."""

from __future__ import annotations

from collections.abc import Set
from typing import Any

from flask import Blueprint, Response, current_app, g, render_template, request
from cryptography.hazmat.primitives import serialization

from ..core.kinds import KINDS
from ..errors import FieldProblem, InvalidInput
from ..services.platform import Platform
from ..services.tokens import Principal, authenticate
from .openapi import API, errors, operation

bp = Blueprint("public", __name__)


def platform() -> Platform:
    return current_app.extensions["licence_platform"]  # type: ignore[no-any-return]


def client() -> str:
    """The caller's address, as the audit trail and the failed-authentication count know it."""
    return request.remote_addr or "unknown"


def require_token(scope: str | None) -> Principal:
    """The department behind the request's bearer token, which must have ``scope`` (None: any).

    Raises Unauthenticated, RateLimited or NotAuthorised (each audited); :func:`principal` returns
    the result for the rest of the request.
    """
    g.principal = authenticate(request.headers.get("Authorization"), client=client())
    if scope is not None:
        g.principal.require_scope(scope, client=client())
    return g.principal  # type: ignore[no-any-return]


def principal() -> Principal:
    """The principal :func:`require_token` authenticated for this request."""
    return g.principal  # type: ignore[no-any-return]


def reject_unknown_args(allowed: Set[str]) -> None:
    """InvalidInput naming every query parameter not in ``allowed``."""
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise InvalidInput([FieldProblem(k, "unknown query parameter") for k in unknown])


@bp.get("/")
def home() -> str:
    return render_template("home.html", kinds=KINDS.values())


@bp.get("/favicon.ico")
def favicon() -> Response:
    """What browsers ask of every site: the platform's red seal, cached for a day."""
    resp = current_app.send_static_file("favicon.ico")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@bp.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}


@bp.get(f"{API}/root-certificate")
def root_certificate() -> Response:
    pem = platform().keys.root_cert().public_bytes(serialization.Encoding.PEM)
    return Response(pem, mimetype="application/x-pem-file")


def openapi_paths() -> dict[str, Any]:
    return {
        f"{API}/root-certificate": {
            "get": operation(
                "getRootCertificate",
                "trust",
                "根证书 Root certificate",
                "The platform root certificate (PEM): the one trust anchor verifiers need.",
                {
                    "200": {"description": "PEM", "content": {"application/x-pem-file": {"schema": {"type": "string", "pattern": "^-----BEGIN CERTIFICATE-----"}}}},
                    **errors(503),
                },
                security=[],
            )
        },
    }
