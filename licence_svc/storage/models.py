"""Tables. Personal data lives in ``Licence.data_json`` only; nothing else repeats it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import peewee

from ..core.statuslist import MIN_ENTRIES
from .db import database


class UtcDateTimeField(peewee.DateTimeField):
    """A time the register stores in UTC and gives back in UTC with its offset, on every database:
    PostgreSQL hands ``timestamp`` columns back naive, SQLite with the offset it was written with."""

    def db_value(self, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return super().db_value(value)  # type: ignore[no-untyped-call]  # peewee leaves it unannotated

    def python_value(self, value: Any) -> Any:
        value = super().python_value(value)  # type: ignore[no-untyped-call]
        if isinstance(value, datetime):
            return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value


class BaseModel(peewee.Model):
    class Meta:
        database = database


class Department(BaseModel):
    code = peewee.CharField(max_length=18, primary_key=True)  # unified social credit code
    name = peewee.CharField(max_length=100)
    kinds = peewee.CharField(max_length=200)  # comma-separated licence kinds it may issue
    created_at = UtcDateTimeField()
    status_list_length = peewee.IntegerField(default=MIN_ENTRIES)  # grows, never shrinks

    @property
    def kind_list(self) -> list[str]:
        return [k for k in self.kinds.split(",") if k]


class SigningKey(BaseModel):
    """A department signing certificate; its private key is a file under keys/."""

    kid = peewee.CharField(max_length=16, primary_key=True)  # hex of the 8-byte key id
    department = peewee.ForeignKeyField(Department, backref="signing_keys", on_delete="RESTRICT")
    cert_pem = peewee.TextField()
    active = peewee.BooleanField(default=True)
    created_at = UtcDateTimeField()
    withdrawn_at = UtcDateTimeField(null=True)
    withdrawn_reason = peewee.CharField(max_length=200, null=True)
    retired_at = UtcDateTimeField(null=True)  # rotated out: nothing it signs after this is genuine


class Licence(BaseModel):
    identifier = peewee.CharField(max_length=100, primary_key=True)
    serial = peewee.CharField(max_length=32)
    version = peewee.IntegerField()
    kind = peewee.CharField(max_length=32)
    issuer = peewee.ForeignKeyField(Department, backref="licences", on_delete="RESTRICT")
    kid = peewee.CharField(max_length=16)
    status = peewee.CharField(max_length=16, default="valid")
    status_reason = peewee.CharField(max_length=200, null=True)  # the department's free text: never public
    status_category = peewee.CharField(max_length=20, null=True)  # core.revocation.CATEGORIES: what the public sees
    status_index = peewee.IntegerField()  # random position in the issuer's status list
    superseded_by = peewee.CharField(max_length=100, null=True)
    holder = peewee.CharField(max_length=18, index=True)  # first holder id number / credit code
    data_json = peewee.TextField()
    data_digest = peewee.CharField(max_length=64)
    qr_text = peewee.TextField()
    pdf_key = peewee.CharField(max_length=200)
    pdf_sha256 = peewee.CharField(max_length=64)
    issued_at = UtcDateTimeField(index=True)
    expires_at = UtcDateTimeField(null=True)

    class Meta:
        indexes = (
            (("serial", "version"), True),
            (("issuer", "status_index"), True),
            (("issuer", "kind", "issued_at"), False),
        )


class StatusEvent(BaseModel):
    """Every status change: who, when, why. Append-only."""

    licence = peewee.ForeignKeyField(Licence, backref="status_events", on_delete="RESTRICT")
    from_status = peewee.CharField(max_length=16)
    to_status = peewee.CharField(max_length=16)
    actor = peewee.CharField(max_length=100)
    reason = peewee.CharField(max_length=200)
    at = UtcDateTimeField(index=True)


class ApiToken(BaseModel):
    """A department API client's bearer token; only its SHA-256 is kept."""

    token_id = peewee.CharField(max_length=16, primary_key=True)
    department = peewee.ForeignKeyField(Department, backref="tokens", on_delete="CASCADE")
    token_hash = peewee.CharField(max_length=64, unique=True)
    kinds = peewee.CharField(max_length=200)
    scopes = peewee.CharField(max_length=100, default="issue")  # comma-separated: issue, redeem, check
    label = peewee.CharField(max_length=100, default="")
    created_at = UtcDateTimeField()
    expires_at = UtcDateTimeField(null=True)
    revoked_at = UtcDateTimeField(null=True)


class AuditEvent(BaseModel):
    """One link of the audit hash chain. No personal data beyond the licence identifier."""

    seq = peewee.BigIntegerField(primary_key=True)
    at = peewee.CharField(max_length=40)  # ISO 8601 UTC, exactly as hashed
    actor = peewee.CharField(max_length=100)  # department code + token id, cli:user, or public
    action = peewee.CharField(max_length=40)
    licence = peewee.CharField(max_length=100, null=True, index=True)
    client = peewee.CharField(max_length=64, null=True)
    outcome = peewee.CharField(max_length=40)
    detail = peewee.CharField(max_length=200, null=True)
    prev_hash = peewee.CharField(max_length=64)
    hash = peewee.CharField(max_length=64)


class AuditIntake(BaseModel):
    """An event recorded and not yet sealed into the chain. Each writer (a thread of a process)
    appends to a stream of its own, hash-chained like the trail, so no writer waits for another;
    the sealer moves events into the chain and deletes them here in one transaction.

    No index but the key: every index costs each public check's insert (one on the licence
    column, 30 µs of a 40 µs record on SQLite), and the sealer keeps the table small (seconds of
    events), so reading it by licence or by stream scans little."""

    id = peewee.BigAutoField()
    stream = peewee.CharField(max_length=32)
    stream_seq = peewee.BigIntegerField()
    at = peewee.CharField(max_length=40)
    actor = peewee.CharField(max_length=100)
    action = peewee.CharField(max_length=40)
    licence = peewee.CharField(max_length=100, null=True)
    client = peewee.CharField(max_length=64, null=True)
    outcome = peewee.CharField(max_length=40)
    detail = peewee.CharField(max_length=200, null=True)
    prev_hash = peewee.CharField(max_length=64)
    hash = peewee.CharField(max_length=64)


class AuditStream(BaseModel):
    """One writer's stream: its last recorded event (so a deleted last event shows) and how far
    the sealer has moved it into the chain."""

    id = peewee.CharField(max_length=32, primary_key=True)
    seq = peewee.BigIntegerField()
    hash = peewee.CharField(max_length=64)
    sealed_seq = peewee.BigIntegerField(default=0)
    sealed_hash = peewee.CharField(max_length=64)


class TrustEpoch(BaseModel):
    """One row: moved by database triggers on every change of a signing key or of a department's
    name or kinds (migration step 8), so caches of the trust store know when to rebuild."""

    id = peewee.IntegerField(primary_key=True)
    epoch = peewee.BigIntegerField()


class AuditHead(BaseModel):
    """The head of the chain: only the sealer moves it, one batch at a time."""

    id = peewee.IntegerField(primary_key=True)
    seq = peewee.BigIntegerField()
    hash = peewee.CharField(max_length=64)


class AuditCheckpoint(BaseModel):
    """The chain head, signed by the platform: proof of what the trail held at that time."""

    seq = peewee.BigIntegerField(primary_key=True)
    hash = peewee.CharField(max_length=64)
    at = peewee.CharField(max_length=40)
    signature = peewee.TextField()  # signed document envelope (core.signeddoc)


class IdempotencyKey(BaseModel):
    department = peewee.CharField(max_length=18)
    key = peewee.CharField(max_length=100)
    request_hash = peewee.CharField(max_length=64)
    licence = peewee.CharField(max_length=100)
    created_at = UtcDateTimeField()

    class Meta:
        primary_key = peewee.CompositeKey("department", "key")


class AuthFailure(BaseModel):
    """Failed authentications per client address, for rate limiting across workers."""

    client = peewee.CharField(max_length=64, index=True)
    at = UtcDateTimeField(index=True)


class Batch(BaseModel):
    """A bulk import submitted over HTTP and run in the background."""

    batch_id = peewee.CharField(max_length=32, primary_key=True)
    department = peewee.CharField(max_length=18, index=True)
    kind = peewee.CharField(max_length=32)
    status = peewee.CharField(max_length=16)  # queued, running, done, failed
    total = peewee.IntegerField(default=0)
    issued = peewee.IntegerField(default=0)
    skipped = peewee.IntegerField(default=0)
    rejected = peewee.IntegerField(default=0)
    input_path = peewee.CharField(max_length=300)
    errors_path = peewee.CharField(max_length=300)
    message = peewee.CharField(max_length=300, null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()


class LicenceHolder(BaseModel):
    """Everyone a licence belongs to: each member of a household, a company and its legal
    representative. Holder pages and checks find licences through this index only."""

    licence = peewee.CharField(max_length=100, index=True)
    holder = peewee.CharField(max_length=18, index=True)  # id number or credit code

    class Meta:
        primary_key = peewee.CompositeKey("licence", "holder")


class ClaimCode(BaseModel):
    """A one-time code the issuing department hands the holder with the licence; only its hash is kept."""

    code_hash = peewee.CharField(max_length=64, primary_key=True)
    licence = peewee.CharField(max_length=100, index=True)
    holder = peewee.CharField(max_length=18, index=True)
    created_at = UtcDateTimeField()
    expires_at = UtcDateTimeField()
    used_at = UtcDateTimeField(null=True)


class HolderAccount(BaseModel):
    """A citizen's or company's sign-in: a memory-hard password hash, set after the first claim code."""

    holder = peewee.CharField(max_length=18, primary_key=True)
    password_hash = peewee.CharField(max_length=200, null=True)
    created_at = UtcDateTimeField()
    updated_at = UtcDateTimeField()


class HolderSession(BaseModel):
    """A signed-in holder's session; the cookie carries a random token, only its hash is kept."""

    token_hash = peewee.CharField(max_length=64, primary_key=True)
    holder = peewee.CharField(max_length=18, index=True)
    csrf = peewee.CharField(max_length=64)
    method = peewee.CharField(max_length=20)  # claim_code, password, oidc
    created_at = UtcDateTimeField()
    expires_at = UtcDateTimeField()
    revoked_at = UtcDateTimeField(null=True)


class ShareGrant(BaseModel):
    """A holder's authorisation for a window to verify, fetch or download one licence, for a purpose and a time."""

    grant_id = peewee.CharField(max_length=32, primary_key=True)
    code_hash = peewee.CharField(max_length=64, unique=True)
    licence = peewee.CharField(max_length=100, index=True)
    holder = peewee.CharField(max_length=18, index=True)
    recipient = peewee.CharField(max_length=18, null=True)  # a department code; null: any window
    purpose = peewee.CharField(max_length=200)
    scope = peewee.CharField(max_length=10)  # verify, data, pdf (each includes the one before)
    created_at = UtcDateTimeField()
    expires_at = UtcDateTimeField()
    revoked_at = UtcDateTimeField(null=True)
    bound_to = peewee.CharField(max_length=18, null=True)  # the department that first redeemed an any-window grant


class Redemption(BaseModel):
    """One use of a grant by a window, with the receipt it was given."""

    redemption_id = peewee.CharField(max_length=32, primary_key=True)
    grant = peewee.ForeignKeyField(ShareGrant, backref="redemptions", on_delete="RESTRICT")
    department = peewee.CharField(max_length=18, index=True)
    at = UtcDateTimeField()
    receipt = peewee.TextField()  # signed document envelope (core.signeddoc)
    copy_sha256 = peewee.CharField(max_length=64, null=True)  # the annotated copy (加注件) handed out


class UsageEvent(BaseModel):
    """Who used a licence, for what: what the holder sees under "who has used my licence"."""

    id = peewee.BigAutoField()
    licence = peewee.CharField(max_length=100, index=True)
    at = UtcDateTimeField(index=True)
    action = peewee.CharField(max_length=20)  # read, download, share, unshare, redeem, check, holder_download
    organisation = peewee.CharField(max_length=18, null=True)  # department code; null: the holder or the public
    organisation_name = peewee.CharField(max_length=100, null=True)
    purpose = peewee.CharField(max_length=200, null=True)
    grant = peewee.CharField(max_length=32, null=True)
    authorised = peewee.BooleanField(default=True)  # false: a check the holder did not authorise
    outcome = peewee.CharField(max_length=40, default="ok")


class CheckScope(BaseModel):
    """Field-match checks a department may run without the holder's grant, per kind."""

    department = peewee.CharField(max_length=18)
    kind = peewee.CharField(max_length=32)
    created_at = UtcDateTimeField()

    class Meta:
        primary_key = peewee.CompositeKey("department", "kind")


class Matter(BaseModel):
    """A service matter (事项) of the catalogue and the materials it requires."""

    code = peewee.CharField(max_length=40, primary_key=True)
    name = peewee.CharField(max_length=100)
    department = peewee.CharField(max_length=100, null=True)  # the accepting department (受理部门), as the catalogue names it
    materials_json = peewee.TextField()
    updated_at = UtcDateTimeField()


ALL_MODELS: list[type[BaseModel]] = [
    Department,
    SigningKey,
    Licence,
    StatusEvent,
    ApiToken,
    AuditEvent,
    AuditHead,
    AuditIntake,
    AuditStream,
    AuditCheckpoint,
    TrustEpoch,
    IdempotencyKey,
    AuthFailure,
    Batch,
    LicenceHolder,
    ClaimCode,
    HolderAccount,
    HolderSession,
    ShareGrant,
    Redemption,
    UsageEvent,
    CheckScope,
    Matter,
]
