"""Public pages and documents: the home page, health, and the platform root certificate."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template
from cryptography.hazmat.primitives import serialization

from ..core.kinds import KINDS
from ..services.platform import Platform

bp = Blueprint("public", __name__)


def platform() -> Platform:
    return current_app.extensions["licence_platform"]  # type: ignore[no-any-return]


@bp.get("/")
def home() -> str:
    return render_template("home.html", kinds=KINDS.values())


@bp.get("/healthz")
def health() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/api/v1/root-certificate")
def root_certificate() -> Response:
    pem = platform().keys.root_cert().public_bytes(serialization.Encoding.PEM)
    return Response(pem, mimetype="application/x-pem-file")
