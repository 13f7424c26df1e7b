"""Security headers on every answer, pages and API alike, set in one place.

The pages load nothing but their own static files: no inline script or style (console.js and the
stylesheets live under /static), so the policy needs no 'unsafe-inline' and no hashes. ``data:``
images are the QR codes of the holder pages; ``blob:`` and ``mediastream:`` are the console's
camera. Nothing may frame a page (clickjacking a holder into sharing a licence), no page sends a
Referer (a verify link or a share code in it would leak), and nothing is cached unless its view
says so: the trust list, the status list, the OpenAPI document and static files do.
"""

from __future__ import annotations

from flask import Flask, Response

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


def secure(resp: Response) -> Response:
    for name, value in HEADERS.items():
        resp.headers.setdefault(name, value)
    resp.headers.setdefault("Cache-Control", "no-store")  # views that may be cached say so
    return resp


def register(app: Flask) -> None:
    app.after_request(secure)
