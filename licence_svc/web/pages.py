"""Pages people see: the verdict page a phone camera opens, and the window console."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from ..core.verify import VERDICT_LABELS
from ..errors import UnreadableEvidence
from ..services.verifying import check_qr
from .public import platform

bp = Blueprint("pages", __name__)

NO_STORE = {"Cache-Control": "no-store"}  # a verdict holds at the moment it is given: status changes


@bp.get("/v/<payload>")
@bp.get("/V/<payload>")
def verdict(payload: str) -> tuple[str, int, dict[str, str]]:
    try:
        report = check_qr(platform(), payload, client=request.remote_addr).as_dict()
    except UnreadableEvidence as exc:
        return render_template("verdict.html", report=None, error=exc.detail, labels=VERDICT_LABELS), 422, NO_STORE
    return render_template("verdict.html", report=report, error=None, labels=VERDICT_LABELS), 200, NO_STORE


@bp.get("/verify")
def console() -> str:
    return render_template("console.html")


@bp.get("/s/<code>")
@bp.get("/S/<code>")
def share_code(code: str) -> tuple[str, int]:
    """What a phone shows when someone scans a holder's share QR: how a window uses it, and
    nothing about the licence (only a window's redeem call, with its token, learns that)."""
    return render_template("share_code.html"), 200
