"""Tables. Personal data lives in ``Licence.data_json`` only; nothing else repeats it."""

from __future__ import annotations

import peewee

from .db import database


class BaseModel(peewee.Model):
    class Meta:
        database = database


class Department(BaseModel):
    code = peewee.CharField(max_length=18, primary_key=True)  # unified social credit code
    name = peewee.CharField(max_length=100)
    kinds = peewee.CharField(max_length=200)  # comma-separated licence kinds it may issue
    created_at = peewee.DateTimeField()
    status_list_length = peewee.IntegerField(default=131_072)  # grows, never shrinks

    @property
    def kind_list(self) -> list[str]:
        return [k for k in self.kinds.split(",") if k]


class SigningKey(BaseModel):
    """A department signing certificate; its private key is a file under keys/."""

    kid = peewee.CharField(max_length=16, primary_key=True)  # hex of the 8-byte key id
    department = peewee.ForeignKeyField(Department, backref="signing_keys", on_delete="RESTRICT")
    cert_pem = peewee.TextField()
    active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField()
    withdrawn_at = peewee.DateTimeField(null=True)
    withdrawn_reason = peewee.CharField(max_length=200, null=True)


class Licence(BaseModel):
    identifier = peewee.CharField(max_length=100, primary_key=True)
    serial = peewee.CharField(max_length=32)
    version = peewee.IntegerField()
    kind = peewee.CharField(max_length=32)
    issuer = peewee.ForeignKeyField(Department, backref="licences", on_delete="RESTRICT")
    kid = peewee.CharField(max_length=16)
    status = peewee.CharField(max_length=16, default="valid")
    status_reason = peewee.CharField(max_length=200, null=True)
    status_index = peewee.IntegerField()  # random position in the issuer's status list
    superseded_by = peewee.CharField(max_length=100, null=True)
    holder = peewee.CharField(max_length=18, index=True)  # first holder id number / credit code
    data_json = peewee.TextField()
    data_digest = peewee.CharField(max_length=64)
    qr_text = peewee.TextField()
    pdf_key = peewee.CharField(max_length=200)
    pdf_sha256 = peewee.CharField(max_length=64)
    issued_at = peewee.DateTimeField(index=True)
    expires_at = peewee.DateTimeField(null=True)

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
    at = peewee.DateTimeField(index=True)


class ApiToken(BaseModel):
    """A department API client's bearer token; only its SHA-256 is kept."""

    token_id = peewee.CharField(max_length=16, primary_key=True)
    department = peewee.ForeignKeyField(Department, backref="tokens", on_delete="CASCADE")
    token_hash = peewee.CharField(max_length=64, unique=True)
    kinds = peewee.CharField(max_length=200)
    label = peewee.CharField(max_length=100, default="")
    created_at = peewee.DateTimeField()
    expires_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)


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


class AuditHead(BaseModel):
    """The single row every append locks, so concurrent appends form one chain."""

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
    created_at = peewee.DateTimeField()

    class Meta:
        primary_key = peewee.CompositeKey("department", "key")


class AuthFailure(BaseModel):
    """Failed authentications per client address, for rate limiting across workers."""

    client = peewee.CharField(max_length=64, index=True)
    at = peewee.DateTimeField(index=True)


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
    created_at = peewee.DateTimeField()
    updated_at = peewee.DateTimeField()


ALL_MODELS: list[type[BaseModel]] = [
    Department,
    SigningKey,
    Licence,
    StatusEvent,
    ApiToken,
    AuditEvent,
    AuditHead,
    AuditCheckpoint,
    IdempotencyKey,
    AuthFailure,
    Batch,
]
