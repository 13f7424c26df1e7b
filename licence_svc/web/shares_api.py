"""(being built)"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint("shares_api", __name__, url_prefix="/api/v1")


def openapi_paths() -> dict[str, Any]:
    return {}


def openapi_schemas() -> dict[str, Any]:
    return {}
