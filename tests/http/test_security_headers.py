"""Black box: every page and API answer carries the security headers (a strict CSP without inline
script or style, nosniff, frame denial, no Referer), verification reports are never cached, the
trust and status lists keep their public caching, and no page holds inline script, inline style,
event-handler attributes or a resource from elsewhere (what the CSP would otherwise block)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import code_for, load_sample, person_id
from tests.http.test_holder_pages import claim, new_client, sign_in

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def csp_directives(resp: Any) -> dict[str, list[str]]:
    policy = resp.headers.get("Content-Security-Policy", "")
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_secure(resp: Any, what: str) -> None:
    for name, value in EXPECTED.items():
        assert resp.headers.get(name) == value, (what, name, resp.headers.get(name))
    csp = csp_directives(resp)
    assert csp.get("default-src") == ["'none'"], (what, csp)
    assert csp.get("frame-ancestors") == ["'none'"], (what, csp)
    assert csp.get("base-uri") == ["'none'"] and csp.get("form-action") == ["'self'"], (what, csp)
    for directive in ("script-src", "style-src"):
        assert csp.get(directive) == ["'self'"], (what, directive, csp)  # no 'unsafe-inline', no 'unsafe-eval'
    assert "'unsafe-inline'" not in resp.headers["Content-Security-Policy"] and "'unsafe-eval'" not in resp.headers["Content-Security-Policy"]


def assert_no_inline_code(html: str, what: str) -> None:
    """What a strict CSP refuses to run or apply, and anything loaded from another origin."""
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline <script> on {what}"
    assert "<style" not in html, f"inline <style> on {what}"
    assert not re.search(r"\sstyle\s*=", html), f"style attribute on {what}"
    assert not re.search(r"\son[a-z]+\s*=", html), f"event-handler attribute on {what}"
    assert "javascript:" not in html, what
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:)?//""", html), f"resource from elsewhere on {what}"
    for ref in re.findall(r"""<(?:script|link)[^>]*(?:src|href)="([^"]+)\"""", html):
        assert ref.startswith("/static/"), (what, ref)


@pytest.fixture(scope="module")
def issued(platform: Any, departments: dict[str, str]) -> Any:
    from licence_svc.services.issuing import issue

    return issue(platform, kind="id_card", data=load_sample("id_card"), department=departments["id_card"])


def test_public_pages(client: Any, issued: Any) -> None:
    payload = issued.qr_text.rsplit("/", 1)[1]
    pages = {
        "/": 200,
        "/verify": 200,
        f"/V/{payload}": 200,
        f"/v/{payload}": 200,
        "/v/NOT-A-PAYLOAD": 422,
        "/api/docs": 200,
        "/s/K7Q2M-9XA3P": 200,
        "/S/K7Q2M9XA3P": 200,
        "/me/sign-in": 200,
    }
    for path, status in pages.items():
        resp = client.get(path)
        assert resp.status_code == status, (path, resp.status_code)
        assert resp.mimetype == "text/html", path
        assert_secure(resp, path)
        assert_no_inline_code(resp.get_data(as_text=True), path)


def test_verification_reports_are_never_cached(client: Any, issued: Any) -> None:
    payload = issued.qr_text.rsplit("/", 1)[1]
    answers = {
        "POST /api/v1/verify (qr)": client.post("/api/v1/verify", json={"qr": issued.qr_text}),
        "POST /api/v1/verify (pdf)": client.post("/api/v1/verify", data={"file": (__import__("io").BytesIO(issued.pdf), "l.pdf")}),
        "POST /api/v1/verify (unreadable)": client.post("/api/v1/verify", json={"qr": "HTTP://X/V/AAAA"}),
        "GET /V/": client.get(f"/V/{payload}"),
        "GET /v/": client.get(f"/v/{payload}"),
        "GET /v/ (unreadable)": client.get("/v/AAAA"),
    }
    for what, resp in answers.items():
        assert resp.headers.get("Cache-Control") == "no-store", (what, resp.headers.get("Cache-Control"))
        assert_secure(resp, what)
    assert answers["POST /api/v1/verify (qr)"].status_code == 200 and answers["GET /v/ (unreadable)"].status_code == 422


def test_trust_and_status_lists_keep_public_caching(client: Any) -> None:
    for path, max_age in (("/api/v1/trust-list", 300), ("/api/v1/status", 60)):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == f"public, max-age={max_age}", path
        assert_secure(resp, path)


def test_api_answers_and_errors(client: Any, platform: Any, departments: dict[str, str], issued: Any) -> None:
    token = {"Authorization": f"Bearer {platform.demo_tokens[departments['id_card']]}"}
    answers = {
        "record": client.get(f"/api/v1/licences/{issued.identifier}", headers=token),
        "listing": client.get("/api/v1/licences", headers=token),
        "401": client.get("/api/v1/licences"),
        "404": client.get("/no/such/page"),
        "405": client.put("/api/v1/verify"),
        "422": client.post("/api/v1/licences", data="{", content_type="application/json", headers=token),
        "openapi": client.get("/api/v1/openapi.json"),
        "root certificate": client.get("/api/v1/root-certificate"),
        "health": client.get("/healthz"),
    }
    for what, resp in answers.items():
        assert_secure(resp, what)
    for what in ("record", "listing", "401", "422"):
        assert answers[what].headers["Cache-Control"] == "no-store", what  # personal or per-caller: never cached
    assert answers["openapi"].headers["Cache-Control"] == "public, max-age=300"


def test_static_files(client: Any) -> None:
    for path, mimetype in (("/static/js/console.js", "text/javascript"), ("/static/css/base.css", "text/css"), ("/static/css/console.css", "text/css")):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == mimetype, (path, resp.mimetype)
        assert_secure(resp, path)
        assert "no-store" not in resp.headers.get("Cache-Control", ""), path  # the one thing a browser may keep
    assert client.get("/static/../licence_svc/config.py").status_code == 404


def test_holder_pages(app: Any, make_licence: Callable[..., Any]) -> None:
    """Every /me page a signed-in holder sees: the list, a licence (QR as a data: image), the share
    form and the share code shown once, the password form, an error page."""
    holder = person_id()
    issued = make_licence("id_card", id_number=holder)
    c = new_client(app)
    first = c.get("/me/sign-in")
    assert_secure(first, "/me/sign-in")
    claim(c, issued, holder)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/me").get_data(as_text=True))
    assert csrf is not None
    shared = c.post(f"/me/licences/{issued.identifier}/share", data={"csrf": csrf.group(1), "purpose": "办理居住证", "scope": "verify", "hours": "24", "recipient": ""})
    pages = {
        "/me": c.get("/me"),
        "/me/licences/<id>": c.get(f"/me/licences/{issued.identifier}"),
        "/me/licences/<id>/share": c.get(f"/me/licences/{issued.identifier}/share"),
        "share code (POST)": shared,
        "error page": c.get("/me/licences/1.2.156.3005.2.11100000000019000B001.11110000000019001J.0000000000000000.001.0"),
    }
    assert shared.status_code == 200 and 'id="share-code"' in shared.get_data(as_text=True)
    for what, resp in pages.items():
        assert resp.mimetype == "text/html", what
        assert_secure(resp, what)
        assert resp.headers["Cache-Control"] == "no-store", what
        html = resp.get_data(as_text=True)
        assert_no_inline_code(html, what)
    assert 'src="data:image/png;base64,' in pages["/me/licences/<id>"].get_data(as_text=True)
    other = make_licence("id_card", id_number=(second := person_id()))
    fresh = new_client(app)
    assert sign_in(fresh, second, code_for(other, second)).status_code == 303
    set_pw = fresh.get("/me/set-password")
    assert set_pw.status_code == 200 and 'id="set-password"' in set_pw.get_data(as_text=True)
    assert_secure(set_pw, "/me/set-password")
    assert_no_inline_code(set_pw.get_data(as_text=True), "/me/set-password")
    assert "img-src" in csp_directives(pages["/me/licences/<id>"]) and "data:" in csp_directives(pages["/me/licences/<id>"])["img-src"]


def test_the_favicon_is_served(client: Any) -> None:
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert resp.headers["Cache-Control"] == "public, max-age=86400"
    assert_secure(resp, "/favicon.ico")
