"""Holders (citizens and companies) on their own pages: accounts, passwords, sessions, CSRF tokens,
sign-in rate limits, and what a signed-in holder may see of the register.

A holder first proves who they are with the claim code handed over with a licence, then sets a
password. Sessions live in the database: the cookie carries a random token and only its SHA-256 is
stored, so signing out (or a password change) ends a session everywhere at once. Every look-up of a
licence goes through the holder index: a licence the holder does not hold is NotFound, exactly as
one that does not exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..core.kinds import KINDS
from ..core.masking import mask_name, mask_number
from ..core.verify import VERDICT_LABELS
from ..errors import FieldProblem, InvalidInput, LicenceError, NotAuthorised, NotFound, RateLimited, Unauthenticated
from ..storage import accounts as store
from ..storage import departments
from ..storage import holders as index
from ..storage.db import transaction
from ..storage.licences import LicenceRecord, find_licence
from . import audit, throttle, usage
from .claim_codes import code_hash, normalise
from .grants import Grant, grants_of
from .platform import Platform, as_utc, utcnow

log = logging.getLogger(__name__)

SESSION_IDLE = timedelta(minutes=30)
SESSION_MAX = timedelta(hours=8)
_EXTEND_AFTER = timedelta(minutes=1)  # write the sliding expiry at most once a minute per session
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 10  # per client address, and per account, in FAILURE_WINDOW
MIN_PASSWORD = 10
MAX_PASSWORD = 200
SIGN_IN_FAILED = "证件号码或领证码/密码不正确"
CSRF_FAILED = "页面已失效或请求来源无法确认，请返回刷新后重试"
METHODS = ("claim_code", "password", "oidc")

# scrypt: memory-hard (16 MiB per hash at these parameters), in the standard library.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024
_HOLDER_ID = re.compile(r"[0-9A-Z]{8,18}")

# --- passwords -------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64): the parameters travel with the hash, so they can be
    raised later without invalidating what is stored."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison; a malformed stored value never matches."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        raw = base64.b64decode(expected, validate=True)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt, validate=True), n=int(n), r=int(r), p=int(p),
            maxmem=_SCRYPT_MAXMEM, dklen=len(raw),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, raw)


_DUMMY_HASH: list[str] = []


def _burn_a_hash(password: str) -> None:
    """Spend what a real password check costs, so timing does not tell whether an account exists."""
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    verify_password(password, _DUMMY_HASH[0])


def password_problems(password: str, confirm: str, holder: str) -> list[FieldProblem]:
    """What is wrong with a new password, in Chinese (shown on the form as it is)."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(FieldProblem("password", f"密码至少需要{MIN_PASSWORD}个字符"))
    elif len(password) > MAX_PASSWORD:
        problems.append(FieldProblem("password", f"密码不能超过{MAX_PASSWORD}个字符"))
    elif password.isdigit():
        problems.append(FieldProblem("password", "密码不能全部是数字"))
    elif holder.upper() in password.upper() or holder[-8:].upper() in password.upper():
        problems.append(FieldProblem("password", "密码不能包含您的证件号码"))
    if not problems and password != confirm:
        problems.append(FieldProblem("confirm", "两次输入的密码不一致"))
    return problems


# --- sessions --------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def actor_of(holder: str) -> str:
    """How the audit trail names a holder: masked, never the full id number."""
    return f"holder:{mask_number(holder)}"


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(expected: str | None, given: str | None) -> None:
    """A form's token against the one its session (or the pre-sign-in cookie) holds.

    Raises NotAuthorised (403) when either is missing or they differ; the caller changes nothing."""
    if not expected or not given or not hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8")):
        raise NotAuthorised(CSRF_FAILED)


@dataclass(frozen=True)
class HolderSession:
    """A signed-in holder. ``method`` claim_code means the holder still has to set a password."""

    holder: str
    csrf: str
    method: str
    token_hash: str
    expires_at: datetime

    @property
    def needs_password(self) -> bool:
        return self.method == "claim_code"

    @property
    def masked(self) -> str:
        return mask_number(self.holder)


@dataclass(frozen=True)
class SignedIn:
    """A new session and the token for its cookie (the only copy)."""

    token: str
    session: HolderSession


def _open(holder: str, method: str, now: datetime) -> SignedIn:
    """A new session row; in the caller's transaction (the sign-in or password change it ends)."""
    token = secrets.token_urlsafe(32)
    csrf = new_csrf_token()
    expires = now + SESSION_IDLE
    store.create_session(token_hash=_token_hash(token), holder=holder, csrf=csrf, method=method, created_at=now, expires_at=expires)
    return SignedIn(token, HolderSession(holder, csrf, method, _token_hash(token), expires))


def open_session(token: str | None, *, now: datetime | None = None) -> HolderSession | None:
    """The live session behind a cookie, its idle expiry pushed on; None when unknown, revoked,
    idle for 30 minutes or older than 8 hours."""
    if not token or len(token) > 100:
        return None
    now = now or utcnow()
    row = store.find_session(_token_hash(token))
    if row is None or row.revoked_at is not None:
        return None
    expires = as_utc(row.expires_at)
    if expires <= now:
        return None
    fresh = min(as_utc(row.created_at) + SESSION_MAX, now + SESSION_IDLE)
    if fresh - expires >= _EXTEND_AFTER:
        with transaction():
            store.extend_session(row.token_hash, fresh)
        expires = fresh
    return HolderSession(row.holder, row.csrf, row.method, row.token_hash, expires)


def sign_out(session: HolderSession, *, client: str | None = None) -> None:
    with transaction():
        store.revoke_session(session.token_hash, utcnow())
        audit.record("holder_sign_out", actor=actor_of(session.holder), outcome="ok", client=client)


# --- sign-in ---------------------------------------------------------------------------------


def normalise_holder_id(text: str) -> str:
    """An id number or credit code as typed: spaces dropped, letters upper-case ('' if it cannot be one)."""
    value = "".join((text or "").split()).upper()
    return value if _HOLDER_ID.fullmatch(value) else ""


def _account_key(holder: str) -> str:
    return "holder-id:" + hashlib.sha256(holder.encode("utf-8")).hexdigest()[:32]


def _client_key(client: str) -> str:
    return f"holder:{client}"


def check_rate(holder: str, *, client: str, now: datetime | None = None) -> None:
    """Refuse a sign-in attempt after MAX_FAILURES failures in FAILURE_WINDOW from this address
    or against this account (guessing a password from many addresses stops too). The refusal is
    audited in its own transaction, committed before RateLimited is raised."""
    now = now or utcnow()
    keys = [_client_key(client), _account_key(holder)] if holder else [_client_key(client)]
    if any(throttle.throttled(key, window=FAILURE_WINDOW, limit=MAX_FAILURES, now=now) for key in keys):
        audit.record("holder_sign_in", actor=actor_of(holder) if holder else "holder:unknown", outcome="rate_limited", client=client)
        raise RateLimited("登录尝试次数过多，请15分钟后再试")


def sign_in_failed(holder: str, *, client: str, method: str, reason: str, now: datetime | None = None) -> Unauthenticated:
    """Count and audit a failed sign-in (one transaction, joining the caller's); the error to raise
    once it is committed (the same message whatever went wrong)."""
    now = now or utcnow()
    with transaction():
        throttle.count_failure(_client_key(client), now)
        if holder:
            throttle.count_failure(_account_key(holder), now)
        audit.record(
            "holder_sign_in", actor=actor_of(holder) if holder else "holder:unknown", outcome="failed", client=client, detail=f"{method}: {reason}"
        )
    return Unauthenticated(SIGN_IN_FAILED)


def signed_in(holder: str, method: str, *, client: str, now: datetime | None = None) -> SignedIn:
    """Open a session for a holder whose identity a sign-in method has established: the account,
    the cleared failure count, the audit event and the session in one transaction (joining the
    caller's)."""
    if method not in METHODS:
        raise ValueError(f"unknown sign-in method {method}")
    now = now or utcnow()
    with transaction():
        store.ensure_account(holder, now)
        throttle.clear(_account_key(holder))
        audit.record("holder_sign_in", actor=actor_of(holder), outcome="ok", client=client, detail=f"method {method}")
        return _open(holder, method, now)


def sign_in_with_secret(holder_id: str, secret: str, *, client: str) -> SignedIn:
    """Id number (or credit code) with a password or a claim code.

    The password is tried first; a claim code (first sign-in, or a re-minted one after a forgotten
    password) is marked used and leaves a session that must set a password before anything else.
    Raises RateLimited, or Unauthenticated with one message for every failure (no enumeration).
    """
    now = utcnow()
    holder = normalise_holder_id(holder_id)
    check_rate(holder, client=client, now=now)
    secret = (secret or "")[:MAX_PASSWORD]
    account = store.get_account(holder) if holder else None
    password_ok = False
    if account is not None and account.password_hash:
        password_ok = verify_password(secret, account.password_hash)  # memory-hard: before the transaction
    else:
        _burn_a_hash(secret)
    outcome: SignedIn | LicenceError
    with transaction():
        if password_ok:
            outcome = signed_in(holder, "password", client=client, now=now)
        elif holder and len(normalise(secret)) == 12 and index.use_claim_code(code_hash(secret), holder, now):
            outcome = signed_in(holder, "claim_code", client=client, now=now)  # the code is spent only with the session made
        else:
            outcome = sign_in_failed(holder, client=client, method="claim_code", reason="wrong id number, password or claim code", now=now)
    if isinstance(outcome, LicenceError):
        raise outcome  # after the failure was counted and audited
    return outcome


def set_password(session: HolderSession, password: str, confirm: str, *, client: str | None = None) -> SignedIn:
    """Set the password of a holder who signed in with a claim code; the claim-code session ends,
    every other session of the holder too, and a new password session takes their place.

    Raises NotAuthorised when the session did not come from a claim code, InvalidInput (fields
    password, confirm; reasons in Chinese) for a weak or mistyped password."""
    if not session.needs_password:
        raise NotAuthorised("只有使用领证码登录后才能设置密码")
    problems = password_problems(password, confirm, session.holder)
    if problems:
        raise InvalidInput(problems)
    password_hash = hash_password(password)  # memory-hard: before the transaction
    now = utcnow()
    with transaction():
        fresh = _open(session.holder, "password", now)
        store.set_password_hash(session.holder, password_hash, now, keep_session=fresh.session.token_hash)
        audit.record("holder_set_password", actor=actor_of(session.holder), outcome="ok", client=client)
    return fresh


# --- what a holder sees ----------------------------------------------------------------------


@dataclass(frozen=True)
class HolderLicence:
    """One licence as its holder's pages show it."""

    identifier: str
    serial: str
    version: int
    kind: str
    kind_label: str
    status: str  # valid, suspended, revoked, superseded, expired
    status_label: str
    status_reason: str | None
    issuer: str
    issuer_name: str
    holder_name: str  # masked
    issued_at: datetime
    expires_at: datetime | None
    superseded_by: str | None
    qr_text: str

    @property
    def masked_identifier(self) -> str:
        """Short enough for a phone screen: the start and the serial's tail (the page itself is private)."""
        return f"{self.identifier[:6]}****{self.identifier[-12:]}" if len(self.identifier) > 24 else mask_number(self.identifier)

    @property
    def in_force(self) -> bool:
        return self.status == "valid"


def status_now(status: str, expires_at: datetime | None, now: datetime) -> str:
    """The register's status as of ``now``: a valid licence past its expiry is expired."""
    if status == "valid" and expires_at is not None and as_utc(expires_at) <= now:
        return "expired"
    return status


def _view(row: LicenceRecord, now: datetime, issuer_name: str | None = None) -> HolderLicence:
    spec = KINDS[row.kind]
    expires = as_utc(row.expires_at) if row.expires_at else None
    status = status_now(row.status, expires, now)
    data = json.loads(row.data_json)
    return HolderLicence(
        identifier=row.identifier,
        serial=row.serial,
        version=row.version,
        kind=row.kind,
        kind_label=spec.label,
        status=status,
        status_label=VERDICT_LABELS.get(status, status),
        status_reason=row.status_reason,
        issuer=row.issuer,
        issuer_name=issuer_name or departments.department_name(row.issuer) or row.issuer,
        holder_name=mask_name(spec.holder_name(data)),
        issued_at=as_utc(row.issued_at),
        expires_at=expires,
        superseded_by=row.superseded_by,
        qr_text=row.qr_text,
    )


def my_licences(holder: str) -> list[HolderLicence]:
    """The newest version the holder holds of each licence, newest first."""
    now = utcnow()
    newest: dict[str, LicenceRecord] = {}
    for row in index.licences_of(holder):
        if row.serial not in newest or row.version > newest[row.serial].version:
            newest[row.serial] = row
    names = {d.code: d.name for d in departments.departments()} if newest else {}
    return [_view(row, now, names.get(row.issuer)) for row in newest.values()]


def _held(holder: str, identifier: str) -> LicenceRecord:
    """The licence, if ``holder`` holds it; NotFound otherwise, the same as for no such licence."""
    row = find_licence(identifier) if identifier and len(identifier) <= 100 and index.is_holder(identifier, holder) else None
    if row is None:
        raise NotFound("没有找到该证照")
    return row


def my_licence(holder: str, identifier: str) -> HolderLicence:
    return _view(_held(holder, identifier), utcnow())


def _shown(field_type: str, value: Any) -> str:
    if value is None:
        return "长期"
    if field_type == "id_number":
        return mask_number(str(value))
    return str(value)


def _fields(row: LicenceRecord) -> list[tuple[str, str]]:
    """(label, value) rows of the licence's data for the holder's own page: no photo, other
    people's id numbers masked (a household register shows its members by name and relation)."""
    spec = KINDS[row.kind]
    data = json.loads(row.data_json)
    out = []
    for f in spec.fields:
        if f.type == "photo" or f.name not in data:
            continue
        if f.type == "members":
            members = "、".join(f"{m.get('name', '')}（{m.get('relation', '')}）" for m in data[f.name])
            out.append((f.label, members))
        else:
            out.append((f.label, _shown(f.type, data[f.name])))
    return out


@dataclass(frozen=True)
class LicencePage:
    """Everything the holder's page of one licence shows."""

    licence: HolderLicence
    fields: list[tuple[str, str]]
    grants: list[Grant]  # of every version the holder holds, newest first
    events: list[dict[str, Any]]  # who used the licence (every version), newest first


def licence_page(holder: str, identifier: str) -> LicencePage:
    """The licence, its data, the holder's grants and its usage log (both over every version the
    holder holds). NotFound when ``holder`` does not hold it, the same as for no such licence."""
    row = _held(holder, identifier)
    versions = [r.identifier for r in index.licences_of(holder) if r.serial == row.serial]
    grants = [g for g in grants_of(holder) if g.licence in versions]
    grants.sort(key=lambda g: g.created_at, reverse=True)
    return LicencePage(licence=_view(row, utcnow()), fields=_fields(row), grants=grants, events=usage.events(versions))


def download_pdf(platform: Platform, holder: str, identifier: str, *, client: str | None = None) -> bytes:
    """The holder's own copy of the signed PDF; logged as 本人下载."""
    row = _held(holder, identifier)
    data = platform.pdfs.get(row.pdf_key)
    now = utcnow()
    usage.write(  # one transaction: the holder's log entry and its audit event
        [usage.event(identifier, "holder_download", purpose="持证人本人下载", now=now)],
        [audit.event("download", actor=actor_of(holder), outcome="ok", licence=identifier, client=client, detail="holder download", now=now)],
    )
    return data
