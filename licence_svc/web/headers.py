"""Security headers on every answer, pages and API alike, set in one place.

The pages load nothing but their own static files: no inline script or style (console.js and the
stylesheets live under /static), so the policy needs no 'unsafe-inline' and no hashes. ``data:``
images are the QR codes of the holder pages; ``blob:`` and ``mediastream:`` are the console's
camera. Nothing may frame a page (clickjacking a holder into sharing a licence), no page sends a
Referer (a verify link or a share code in it would leak), and nothing is cached unless its view
says so: the trust list, the status list, the OpenAPI document and static files do.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flask import Flask

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


DEFAULTS = (*HEADERS.items(), ("Cache-Control", "no-store"))  # views that may be cached say so
_NAMES = tuple(name.lower() for name, _ in DEFAULTS)


def register(app: Flask) -> None:
    """Add each header the answer does not set itself, at the WSGI layer: every answer passes
    there (errors and static files too), and appending to the header list costs a few
    microseconds where Flask's Headers.setdefault costs tens on the hottest path."""
    inner = app.wsgi_app

    def secured(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            headers.extend(pair for pair, lower in zip(DEFAULTS, _NAMES) if lower not in present)
            return start_response(status, headers, exc_info)

        return inner(environ, start)

    app.wsgi_app = secured  # type: ignore[method-assign]
