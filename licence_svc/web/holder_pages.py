"""(being built)"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("holder_pages", __name__, url_prefix="/me")
