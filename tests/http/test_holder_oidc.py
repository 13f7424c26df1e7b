"""Holder sign-in through OpenID Connect against a real (tiny) provider started here: discovery,
authorization code flow with PKCE, client authentication at the token endpoint, an ID token
signed with an EC key and published as a JWKS. Each way an ID token or a callback can be wrong
must end without a session: wrong state, wrong nonce, bad signature, wrong audience, expired.

Switching the platform to OIDC is configuration only: the same create_app, other settings.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from tests.helpers import person_id
from tests.http.test_holder_pages import new_client

CLIENT_ID = "licence-platform"
CLIENT_SECRET = "s3cret-" + secrets.token_hex(8)
FAILED = "统一身份认证登录未成功"


class Provider:
    """An OpenID provider that signs in whoever ``subject_id`` names, with knobs to misbehave."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = "key-1"
        self.subject_id = ""
        self.tamper: str | None = None  # nonce, signature, audience, expired, no_claim
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json(200, provider.discovery())
                elif url.path == "/jwks":
                    jwk = ECAlgorithm.to_jwk(provider.key.public_key(), as_dict=True) | {"kid": provider.kid, "alg": "ES256", "use": "sig"}
                    self._json(200, {"keys": [jwk]})
                elif url.path == "/authorize":
                    q = dict(urllib.parse.parse_qsl(url.query))
                    ok = (
                        q.get("response_type") == "code"
                        and q.get("client_id") == CLIENT_ID
                        and "openid" in q.get("scope", "").split()
                        and q.get("code_challenge_method") == "S256"
                        and q.get("code_challenge")
                        and q.get("nonce")
                    )
                    if not ok:
                        self._json(400, {"error": "invalid_request"})
                        return
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"]}
                    target = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                if self.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                basic = base64.b64decode(self.headers.get("Authorization", "Basic ").split(" ", 1)[1] or b"").decode()
                provider.token_requests.append(form)
                grant = provider.codes.pop(form.get("code", ""), None)
                verifier_ok = grant is not None and base64.urlsafe_b64encode(
                    hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                ).decode().rstrip("=") == grant["challenge"]
                if basic != f"{CLIENT_ID}:{CLIENT_SECRET}":
                    self._json(401, {"error": "invalid_client"})
                elif grant is None or not verifier_ok or form.get("redirect_uri") != grant["redirect_uri"] or form.get("grant_type") != "authorization_code":
                    self._json(400, {"error": "invalid_grant"})
                else:
                    self._json(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": provider.id_token(grant["nonce"])})

        return Handler

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
        }

    def id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "user-" + hashlib.sha256(self.subject_id.encode()).hexdigest()[:12],
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "id_number": self.subject_id,
        }
        key = self.key
        if self.tamper == "nonce":
            claims["nonce"] = secrets.token_urlsafe(24)
        elif self.tamper == "audience":
            claims["aud"] = "another-client"
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif self.tamper == "signature":
            key = ec.generate_private_key(ec.SECP256R1())  # same kid, a key the provider never published
        elif self.tamper == "no_claim":
            del claims["id_number"]
        elif self.tamper == "issuer":
            claims["iss"] = "https://idp.example.com"
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    p = Provider()
    thread = threading.Thread(target=p.server.serve_forever, daemon=True)
    thread.start()
    yield p
    p.server.shutdown()
    p.server.server_close()


@pytest.fixture()
def idp(provider: Provider) -> Provider:
    provider.tamper = None
    provider.subject_id = ""
    return provider


@pytest.fixture(scope="module")
def oidc_app(platform: Any, provider: Provider) -> Any:
    from licence_svc.web import create_app

    settings = dataclasses.replace(
        platform.settings,
        holder_signin="oidc",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_id_claim="id_number",
    )
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def _through_provider(authorize_url: str) -> str:
    """What the browser does at the provider: the user signs in, the provider redirects back. The
    callback's path and query (the platform's base URL is not this test client's)."""
    url = urllib.parse.urlsplit(authorize_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", f"{url.path}?{url.query}")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 302, resp.status
        back = urllib.parse.urlsplit(resp.getheader("Location"))
    finally:
        conn.close()
    assert back.path == "/me/sign-in/oidc/callback"
    return f"{back.path}?{back.query}"


def _start(c: Any) -> str:
    resp = c.get("/me/sign-in/oidc")
    assert resp.status_code == 303
    cookie = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("lic_oidc=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/me" in cookie
    return resp.headers["Location"]


@pytest.fixture()
def card_holder(make_licence: Callable[..., Any]) -> tuple[Any, str]:
    holder = person_id()
    return make_licence("id_card", id_number=holder), holder


def test_sign_in_with_oidc(oidc_app: Any, idp: Provider, card_holder: tuple[Any, str]) -> None:
    issued, holder = card_holder
    idp.subject_id = holder
    c = new_client(oidc_app)
    page = c.get("/me/sign-in").get_data(as_text=True)
    assert "使用统一身份认证登录" in page and 'name="secret"' not in page
    authorize = _start(c)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize).query))
    assert authorize.startswith(idp.issuer + "/authorize?")
    assert query["code_challenge_method"] == "S256" and query["redirect_uri"] == "http://127.0.0.1:8000/me/sign-in/oidc/callback"
    callback = _through_provider(authorize)
    resp = c.get(callback)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/me"), resp.get_data(as_text=True)
    assert idp.token_requests[-1]["code_verifier"] and "client_secret" not in idp.token_requests[-1]
    html = c.get("/me").get_data(as_text=True)
    assert issued.identifier in html, "no password step: the provider vouched for the holder"
    # The code is spent: replaying the callback gets nothing.
    again = new_client(oidc_app)
    again.set_cookie("lic_oidc", "0.x.y.z", path="/me")
    assert again.get(callback).status_code == 401
    replay = new_client(oidc_app)
    state = dict(urllib.parse.parse_qsl(callback.split("?", 1)[1]))["state"]
    replay.set_cookie("lic_oidc", f"{int(time.time())}.{state}.{'n' * 32}.{'v' * 64}", path="/me")
    assert replay.get(callback).status_code == 401
    assert "token endpoint refused the code" in _refusal(replay)


def _refusal(c: Any) -> str:
    """Why the platform refused this client's sign-in, as its audit trail says."""
    from licence_svc.services.audit import seal_all
    from licence_svc.storage.models import AuditEvent

    seal_all()
    event = (
        AuditEvent.select()
        .where((AuditEvent.client == c.environ_base["REMOTE_ADDR"]) & (AuditEvent.action == "holder_sign_in"))
        .order_by(AuditEvent.seq.desc())
        .first()
    )
    assert event is not None and event.outcome == "failed"
    return str(event.detail)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("nonce", "nonce mismatch"),
        ("signature", "InvalidSignatureError"),
        ("audience", "InvalidAudienceError"),
        ("expired", "ID token expired"),
        ("issuer", "InvalidIssuerError"),
        ("no_claim", "claim id_number missing"),
    ],
)
def test_bad_id_tokens_are_refused(oidc_app: Any, idp: Provider, card_holder: tuple[Any, str], tamper: str, reason: str) -> None:
    _, holder = card_holder
    idp.subject_id = holder
    idp.tamper = tamper
    c = new_client(oidc_app)
    resp = c.get(_through_provider(_start(c)))
    assert resp.status_code == 401 and FAILED in resp.get_data(as_text=True)
    assert reason in _refusal(c)
    assert not any(h.startswith("lic_holder=") and "Expires" not in h for h in resp.headers.getlist("Set-Cookie"))
    assert c.get("/me").status_code == 303


def test_wrong_state_is_refused(oidc_app: Any, idp: Provider, card_holder: tuple[Any, str]) -> None:
    _, holder = card_holder
    idp.subject_id = holder
    c = new_client(oidc_app)
    callback = _through_provider(_start(c))
    forged = callback.replace("state=", "state=x")
    resp = c.get(forged)
    assert resp.status_code == 401 and FAILED in resp.get_data(as_text=True)
    assert "state mismatch" in _refusal(c)
    assert c.get("/me").status_code == 303


def test_callback_in_another_browser_is_refused(oidc_app: Any, idp: Provider, card_holder: tuple[Any, str]) -> None:
    """Login CSRF: a callback (code and state) planted in a victim's browser, which never started the flow."""
    _, holder = card_holder
    idp.subject_id = holder
    attacker = new_client(oidc_app)
    callback = _through_provider(_start(attacker))
    victim = new_client(oidc_app)
    assert victim.get(callback).status_code == 401
    assert "no sign-in flow" in _refusal(victim)
    assert victim.get("/me").status_code == 303


def test_password_form_is_off_under_oidc_and_oidc_is_off_by_default(oidc_app: Any, app: Any) -> None:
    c = new_client(oidc_app)
    page = c.get("/me/sign-in").get_data(as_text=True)
    token = page.split('name="csrf" value="')[1].split('"')[0] if 'name="csrf"' in page else ""
    assert c.post("/me/sign-in", data={"csrf": token, "holder_id": "110101199003071233", "secret": "x"}).status_code == 404
    default = new_client(app)
    assert default.get("/me/sign-in/oidc").status_code == 404
    assert 'name="secret"' in default.get("/me/sign-in").get_data(as_text=True)


def test_misconfigured_oidc_stops_the_app(platform: Any) -> None:
    from licence_svc.errors import ConfigurationError
    from licence_svc.services.holder_signin import method_for

    with pytest.raises(ConfigurationError, match="LICENCE_OIDC_ISSUER"):
        method_for(dataclasses.replace(platform.settings, holder_signin="oidc"))
    with pytest.raises(ConfigurationError, match="https"):
        method_for(dataclasses.replace(platform.settings, holder_signin="oidc", oidc_issuer="http://idp.example.com", oidc_client_id="x"))
    with pytest.raises(ConfigurationError, match="claim_code or oidc"):
        method_for(dataclasses.replace(platform.settings, holder_signin="sms"))
