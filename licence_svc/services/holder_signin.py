"""How holders prove who they are: pluggable, chosen by configuration (``settings.holder_signin``).

- ``claim_code`` (default): id number + the one-time claim code handed over with a licence, then a
  password (services.holders).
- ``oidc``: the provincial unified identity platform (统一身份认证) over OpenID Connect: authorization
  code flow with PKCE (S256), state and nonce; the ID token's signature is checked against the
  provider's JWKS, and its iss, aud, exp and nonce; the holder is the id number in the claim
  ``settings.oidc_id_claim``.

Either method ends in ``holders.signed_in``: the same server-side session, the same pages. The
pages ask ``method.redirects`` whether to show a form or a button that leaves for the provider.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import jwt

from ..config import Settings
from ..errors import ConfigurationError, Unauthenticated, Unavailable
from . import holders
from .holders import SignedIn
from .platform import utcnow

log = logging.getLogger(__name__)


class SignInMethod(ABC):
    """One way for a holder to sign in."""

    name: ClassVar[str]
    redirects: ClassVar[bool]  # True: the sign-in page shows a button to the identity provider


class ClaimCodeSignIn(SignInMethod):
    name = "claim_code"
    redirects = False

    def sign_in(self, holder_id: str, secret: str, *, client: str) -> SignedIn:
        """Id number + password or claim code (see holders.sign_in_with_secret)."""
        return holders.sign_in_with_secret(holder_id, secret, client=client)


# --- OpenID Connect --------------------------------------------------------------------------

FLOW_LIFETIME = timedelta(minutes=10)  # from the redirect to the provider until the callback
CACHE_LIFETIME = timedelta(hours=1)  # discovery document and JWKS
LEEWAY = timedelta(seconds=60)  # clock skew tolerated on exp and iat
HTTP_TIMEOUT = 10.0
# Asymmetric algorithms only: never "none", never HS* (the client secret is not a signing key here).
ALGORITHMS = ("RS256", "PS256", "ES256", "ES384", "EdDSA")
_RANDOM = re.compile(r"[A-Za-z0-9_-]{20,128}")
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
UNAVAILABLE = "统一身份认证平台暂时无法访问，请稍后再试"
FAILED = "统一身份认证登录未成功，请重新登录"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class OidcFlow:
    """What the browser keeps (an HttpOnly cookie) between leaving for the provider and coming back."""

    state: str
    nonce: str
    verifier: str  # PKCE code verifier
    started: int  # Unix time

    @classmethod
    def new(cls, now: datetime) -> OidcFlow:
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), int(now.timestamp()))

    @property
    def challenge(self) -> str:
        return _b64url(hashlib.sha256(self.verifier.encode("ascii")).digest())

    def to_cookie(self) -> str:
        return f"{self.started}.{self.state}.{self.nonce}.{self.verifier}"

    @classmethod
    def from_cookie(cls, value: str | None) -> OidcFlow | None:
        parts = (value or "").split(".")
        if len(parts) != 4 or not parts[0].isdigit() or not all(_RANDOM.fullmatch(p) for p in parts[1:]):
            return None
        return cls(parts[1], parts[2], parts[3], int(parts[0]))


class _ProviderCache:
    """Discovery documents and key sets per URL, refreshed after CACHE_LIFETIME (or on an unknown key id)."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[datetime, dict[str, Any]]] = {}

    def get(self, url: str, *, refresh: bool = False) -> dict[str, Any]:
        now = utcnow()
        hit = self._docs.get(url)
        if hit is None or refresh or now - hit[0] > CACHE_LIFETIME:
            hit = (now, _get_json(url))
            self._docs[url] = hit
        return hit[1]


_cache = _ProviderCache()


def _get_json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/json"}), timeout=HTTP_TIMEOUT) as resp:
            body = json.loads(resp.read(1024 * 1024))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("identity provider document unavailable: %s (%s)", url, type(exc).__name__)
        raise Unavailable(UNAVAILABLE) from exc
    if not isinstance(body, dict):
        raise Unavailable(UNAVAILABLE)
    return body


def _require_https(url: str, what: str) -> None:
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https":
        return
    if parsed.scheme == "http" and parsed.hostname in _LOOPBACK:
        return  # a provider on this machine (tests, a local demo): nothing crosses a network
    raise ConfigurationError(f"{what} must be an https URL: {url}")


class OidcSignIn(SignInMethod):
    name = "oidc"
    redirects = True

    def __init__(self, *, issuer: str, client_id: str, client_secret: str | None, id_claim: str) -> None:
        _require_https(issuer, "LICENCE_OIDC_ISSUER")
        if urllib.parse.urlsplit(issuer).scheme == "http":
            log.warning("UNSAFE: OpenID Connect provider %s is reached over plain http (loopback only)", issuer)
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.id_claim = id_claim

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document; its ``issuer`` must be exactly the configured one."""
        doc = _cache.get(self.issuer + "/.well-known/openid-configuration")
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise Unavailable(UNAVAILABLE)
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(key), str):
                raise Unavailable(UNAVAILABLE)
            _require_https(doc[key], f"provider {key}")
        return doc

    def start(self, redirect_uri: str, *, now: datetime | None = None) -> tuple[str, OidcFlow]:
        """(URL to send the browser to, flow to keep in its cookie)."""
        flow = OidcFlow.new(now or utcnow())
        endpoint = self.metadata()["authorization_endpoint"]
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": "openid",
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": flow.challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", flow

    def finish(
        self, flow: OidcFlow | None, params: Mapping[str, str], *, redirect_uri: str, client: str, now: datetime | None = None
    ) -> SignedIn:
        """The provider sent the browser back: check state, exchange the code, check the ID token.

        Raises RateLimited, Unauthenticated (counted like a wrong password), Unavailable.
        """
        now = now or utcnow()
        holders.check_rate("", client=client, now=now)

        def fail(reason: str, holder: str = "") -> Unauthenticated:
            holders.sign_in_failed(holder, client=client, method="oidc", reason=reason, now=now)
            return Unauthenticated(FAILED)

        # 1. The flow this browser started, not too old, and the state it was given back.
        if flow is None or now.timestamp() - flow.started > FLOW_LIFETIME.total_seconds():
            raise fail("no sign-in flow or flow expired")
        if params.get("error"):
            raise fail("provider returned an error")
        state = params.get("state") or ""
        if not hmac.compare_digest(state.encode("utf-8"), flow.state.encode("ascii")):
            raise fail("state mismatch")
        code = params.get("code") or ""
        if not code or len(code) > 2048:
            raise fail("no authorization code")
        # 2. The code for tokens, with the PKCE verifier and the client's credentials.
        id_token = self._exchange(code, flow, redirect_uri, fail)
        # 3. The ID token: signature by a provider key, issuer, audience, expiry, nonce.
        claims = self._check_id_token(id_token, flow, now, fail)
        # 4. The holder it names.
        holder = holders.normalise_holder_id(str(claims.get(self.id_claim) or ""))
        if not holder:
            raise fail(f"claim {self.id_claim} missing or not an id number")
        return holders.signed_in(holder, "oidc", client=client, now=now)

    def _exchange(self, code: str, flow: OidcFlow, redirect_uri: str, fail: Any) -> str:
        meta = self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": flow.verifier, "client_id": self.client_id}
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if self.client_secret:
            if "client_secret_basic" in methods:
                pair = f"{urllib.parse.quote(self.client_id, safe='')}:{urllib.parse.quote(self.client_secret, safe='')}"
                headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
            else:
                form["client_secret"] = self.client_secret
        req = urllib.request.Request(meta["token_endpoint"], data=urllib.parse.urlencode(form).encode("ascii"), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
                body = json.loads(resp.read(1024 * 1024))
        except urllib.error.HTTPError as exc:
            exc.close()
            if 400 <= exc.code < 500:
                raise fail(f"token endpoint refused the code ({exc.code})") from exc
            raise Unavailable(UNAVAILABLE) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise Unavailable(UNAVAILABLE) from exc
        token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise fail("no id_token in the token response")
        return token

    def _key(self, kid: str | None, alg: str, *, refresh: bool) -> jwt.PyJWK | None:
        jwks = _cache.get(self.metadata()["jwks_uri"], refresh=refresh)
        keys = [k for k in jwks.get("keys", []) if isinstance(k, dict) and k.get("use", "sig") == "sig" and k.get("alg", alg) == alg]
        if kid is not None:
            keys = [k for k in keys if k.get("kid") == kid]
        if len(keys) != 1:
            return None
        try:
            return jwt.PyJWK(keys[0], algorithm=alg)
        except jwt.PyJWKError:
            return None

    def _check_id_token(self, token: str, flow: OidcFlow, now: datetime, fail: Any) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise fail("ID token unreadable") from exc
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise fail(f"ID token algorithm {alg!r} not accepted")
        kid = header.get("kid")
        key = self._key(kid, alg, refresh=False) or self._key(kid, alg, refresh=True)  # keys rotate
        if key is None:
            raise fail("ID token signed with an unknown key")
        try:
            # exp and iat are checked below against the platform clock (services.platform.utcnow).
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.client_id,
                issuer=self.issuer,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.InvalidTokenError as exc:
            raise fail(f"ID token rejected: {type(exc).__name__}") from exc
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(exp, (int, float)) or not isinstance(iat, (int, float)):
            raise fail("ID token exp/iat not numeric")
        if now.timestamp() > exp + LEEWAY.total_seconds():
            raise fail("ID token expired")
        if iat > now.timestamp() + LEEWAY.total_seconds():
            raise fail("ID token issued in the future")
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != self.client_id:
            raise fail("ID token azp is not this client")
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode("utf-8"), flow.nonce.encode("ascii")):
            raise fail("ID token nonce mismatch")
        return claims


# --- choosing ----------------------------------------------------------------------------


def method_for(settings: Settings) -> ClaimCodeSignIn | OidcSignIn:
    """The configured sign-in method. Raises ConfigurationError for an unknown one, or for OIDC
    without an issuer and client id."""
    if settings.holder_signin == "claim_code":
        return ClaimCodeSignIn()
    if settings.holder_signin == "oidc":
        if not settings.oidc_issuer or not settings.oidc_client_id:
            raise ConfigurationError("LICENCE_HOLDER_SIGNIN=oidc needs LICENCE_OIDC_ISSUER and LICENCE_OIDC_CLIENT_ID")
        return OidcSignIn(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            id_claim=settings.oidc_id_claim,
        )
    raise ConfigurationError(f"LICENCE_HOLDER_SIGNIN must be claim_code or oidc, not {settings.holder_signin!r}")
