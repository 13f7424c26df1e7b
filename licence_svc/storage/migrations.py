"""The register's schema: created, upgraded, checked and dropped here, by versioned migrations on
playhouse.migrate.

The register records each step it has had in ``schema_version``; ``create_schema()`` applies the
missing ones in order, one transaction each.

Each step is frozen in time: the tables and columns as they were when that change was made, never
the current models, which move on. A column added to ``models.py`` needs a new step at the end of
``STEPS``; tests/storage/test_migrations.py fails until the migrated schema equals the models'.

Every step also tolerates finding its change already made, because a register from before
versioning (tables but no ``schema_version``) is brought up to date by running every step: each
then does only what is missing. (SQLite cannot switch foreign keys off inside a transaction, so a
step must not rebuild a table that others reference: add such columns nullable or with a default.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from .db import database, register_errors, transaction
from .models import ALL_MODELS

log = logging.getLogger(__name__)

VERSION_TABLE = "schema_version"
# PostgreSQL advisory lock key of schema changes: b"licence" read as an integer.
_LOCK_KEY = 0x6C6963656E6365


class SchemaVersion(peewee.Model):
    """One row per step applied; the register's schema version is the highest."""

    version = peewee.IntegerField(primary_key=True)
    name = peewee.CharField(max_length=100)
    applied_at = peewee.DateTimeField(constraints=[peewee.SQL("DEFAULT CURRENT_TIMESTAMP")])  # the database's clock

    class Meta:
        database = database
        table_name = VERSION_TABLE


@dataclass(frozen=True)
class Step:
    """One schema change: ``apply`` makes it with the migrator, inside the step's transaction."""

    version: int
    name: str
    apply: Callable[[SchemaMigrator], None]


class _Frozen(peewee.Model):
    """Base of the tables as a step creates them (every one names its table: class names vary)."""

    class Meta:
        database = database


def _add_column(migrator: SchemaMigrator, table: str, column: str, field: peewee.Field) -> None:
    """Add ``column`` unless the register already has it (one from before versioning may)."""
    if column not in {c.name for c in database.get_columns(table)}:
        migrate(migrator.add_column(table, column, field))


def _first_release(migrator: SchemaMigrator) -> None:
    """The tables of the first release a register can be upgraded from: the schema before commit
    4193cb0, which brought token scopes, holders and the first (add-columns) upgrade. Registers
    older than that never had an upgrade path (Licence.status_index has no default)."""

    class Department(_Frozen):
        code = peewee.CharField(max_length=18, primary_key=True)
        name = peewee.CharField(max_length=100)
        kinds = peewee.CharField(max_length=200)
        created_at = peewee.DateTimeField()
        status_list_length = peewee.IntegerField(default=131_072)

        class Meta:
            table_name = "department"

    class SigningKey(_Frozen):
        kid = peewee.CharField(max_length=16, primary_key=True)
        department = peewee.ForeignKeyField(Department, backref="signing_keys", on_delete="RESTRICT")
        cert_pem = peewee.TextField()
        active = peewee.BooleanField(default=True)
        created_at = peewee.DateTimeField()
        withdrawn_at = peewee.DateTimeField(null=True)
        withdrawn_reason = peewee.CharField(max_length=200, null=True)

        class Meta:
            table_name = "signingkey"

    class Licence(_Frozen):
        identifier = peewee.CharField(max_length=100, primary_key=True)
        serial = peewee.CharField(max_length=32)
        version = peewee.IntegerField()
        kind = peewee.CharField(max_length=32)
        issuer = peewee.ForeignKeyField(Department, backref="licences", on_delete="RESTRICT")
        kid = peewee.CharField(max_length=16)
        status = peewee.CharField(max_length=16, default="valid")
        status_reason = peewee.CharField(max_length=200, null=True)
        status_index = peewee.IntegerField()
        superseded_by = peewee.CharField(max_length=100, null=True)
        holder = peewee.CharField(max_length=18, index=True)
        data_json = peewee.TextField()
        data_digest = peewee.CharField(max_length=64)
        qr_text = peewee.TextField()
        pdf_key = peewee.CharField(max_length=200)
        pdf_sha256 = peewee.CharField(max_length=64)
        issued_at = peewee.DateTimeField(index=True)
        expires_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "licence"
            indexes = (
                (("serial", "version"), True),
                (("issuer", "status_index"), True),
                (("issuer", "kind", "issued_at"), False),
            )

    class StatusEvent(_Frozen):
        licence = peewee.ForeignKeyField(Licence, backref="status_events", on_delete="RESTRICT")
        from_status = peewee.CharField(max_length=16)
        to_status = peewee.CharField(max_length=16)
        actor = peewee.CharField(max_length=100)
        reason = peewee.CharField(max_length=200)
        at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = "statusevent"

    class ApiToken(_Frozen):
        token_id = peewee.CharField(max_length=16, primary_key=True)
        department = peewee.ForeignKeyField(Department, backref="tokens", on_delete="CASCADE")
        token_hash = peewee.CharField(max_length=64, unique=True)
        kinds = peewee.CharField(max_length=200)
        label = peewee.CharField(max_length=100, default="")
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField(null=True)
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "apitoken"

    class AuditEvent(_Frozen):
        seq = peewee.BigIntegerField(primary_key=True)
        at = peewee.CharField(max_length=40)
        actor = peewee.CharField(max_length=100)
        action = peewee.CharField(max_length=40)
        licence = peewee.CharField(max_length=100, null=True, index=True)
        client = peewee.CharField(max_length=64, null=True)
        outcome = peewee.CharField(max_length=40)
        detail = peewee.CharField(max_length=200, null=True)
        prev_hash = peewee.CharField(max_length=64)
        hash = peewee.CharField(max_length=64)

        class Meta:
            table_name = "auditevent"

    class AuditHead(_Frozen):
        id = peewee.IntegerField(primary_key=True)
        seq = peewee.BigIntegerField()
        hash = peewee.CharField(max_length=64)

        class Meta:
            table_name = "audithead"

    class AuditCheckpoint(_Frozen):
        seq = peewee.BigIntegerField(primary_key=True)
        hash = peewee.CharField(max_length=64)
        at = peewee.CharField(max_length=40)
        signature = peewee.TextField()

        class Meta:
            table_name = "auditcheckpoint"

    class IdempotencyKey(_Frozen):
        department = peewee.CharField(max_length=18)
        key = peewee.CharField(max_length=100)
        request_hash = peewee.CharField(max_length=64)
        licence = peewee.CharField(max_length=100)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "idempotencykey"
            primary_key = peewee.CompositeKey("department", "key")

    class AuthFailure(_Frozen):
        client = peewee.CharField(max_length=64, index=True)
        at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = "authfailure"

    class Batch(_Frozen):
        batch_id = peewee.CharField(max_length=32, primary_key=True)
        department = peewee.CharField(max_length=18, index=True)
        kind = peewee.CharField(max_length=32)
        status = peewee.CharField(max_length=16)
        total = peewee.IntegerField(default=0)
        issued = peewee.IntegerField(default=0)
        skipped = peewee.IntegerField(default=0)
        rejected = peewee.IntegerField(default=0)
        input_path = peewee.CharField(max_length=300)
        errors_path = peewee.CharField(max_length=300)
        message = peewee.CharField(max_length=300, null=True)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "batch"

    database.create_tables(
        [Department, SigningKey, Licence, StatusEvent, ApiToken, AuditEvent, AuditHead, AuditCheckpoint, IdempotencyKey, AuthFailure, Batch],
        safe=True,
    )


def _token_scopes(migrator: SchemaMigrator) -> None:
    """Tokens gained scopes; existing tokens keep what they could do: issue."""
    _add_column(migrator, "apitoken", "scopes", peewee.CharField(max_length=100, default="issue"))


def _holders_and_sharing(migrator: SchemaMigrator) -> None:
    """Holder index, claim codes, holder sign-in, share grants and redemptions, usage log, check
    scopes and the matters catalogue (commit 4193cb0). Licences issued before have no holder index
    rows, as before versioning: nothing rebuilt them."""

    class LicenceHolder(_Frozen):
        licence = peewee.CharField(max_length=100, index=True)
        holder = peewee.CharField(max_length=18, index=True)

        class Meta:
            table_name = "licenceholder"
            primary_key = peewee.CompositeKey("licence", "holder")

    class ClaimCode(_Frozen):
        code_hash = peewee.CharField(max_length=64, primary_key=True)
        licence = peewee.CharField(max_length=100, index=True)
        holder = peewee.CharField(max_length=18, index=True)
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField()
        used_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "claimcode"

    class HolderAccount(_Frozen):
        holder = peewee.CharField(max_length=18, primary_key=True)
        password_hash = peewee.CharField(max_length=200, null=True)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "holderaccount"

    class HolderSession(_Frozen):
        token_hash = peewee.CharField(max_length=64, primary_key=True)
        holder = peewee.CharField(max_length=18, index=True)
        csrf = peewee.CharField(max_length=64)
        method = peewee.CharField(max_length=20)
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "holdersession"

    class ShareGrant(_Frozen):
        grant_id = peewee.CharField(max_length=32, primary_key=True)
        code_hash = peewee.CharField(max_length=64, unique=True)
        licence = peewee.CharField(max_length=100, index=True)
        holder = peewee.CharField(max_length=18, index=True)
        recipient = peewee.CharField(max_length=18, null=True)
        purpose = peewee.CharField(max_length=200)
        scope = peewee.CharField(max_length=10)
        created_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField()
        revoked_at = peewee.DateTimeField(null=True)
        bound_to = peewee.CharField(max_length=18, null=True)

        class Meta:
            table_name = "sharegrant"

    class Redemption(_Frozen):
        redemption_id = peewee.CharField(max_length=32, primary_key=True)
        grant = peewee.ForeignKeyField(ShareGrant, backref="redemptions", on_delete="RESTRICT")
        department = peewee.CharField(max_length=18, index=True)
        at = peewee.DateTimeField()
        receipt = peewee.TextField()
        copy_sha256 = peewee.CharField(max_length=64, null=True)

        class Meta:
            table_name = "redemption"

    class UsageEvent(_Frozen):
        id = peewee.BigAutoField()
        licence = peewee.CharField(max_length=100, index=True)
        at = peewee.DateTimeField(index=True)
        action = peewee.CharField(max_length=20)
        organisation = peewee.CharField(max_length=18, null=True)
        organisation_name = peewee.CharField(max_length=100, null=True)
        purpose = peewee.CharField(max_length=200, null=True)
        grant = peewee.CharField(max_length=32, null=True)
        authorised = peewee.BooleanField(default=True)
        outcome = peewee.CharField(max_length=40, default="ok")

        class Meta:
            table_name = "usageevent"

    class CheckScope(_Frozen):
        department = peewee.CharField(max_length=18)
        kind = peewee.CharField(max_length=32)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "checkscope"
            primary_key = peewee.CompositeKey("department", "kind")

    class Matter(_Frozen):
        code = peewee.CharField(max_length=40, primary_key=True)
        name = peewee.CharField(max_length=100)
        materials_json = peewee.TextField()
        updated_at = peewee.DateTimeField()

        class Meta:
            table_name = "matter"

    database.create_tables(
        [LicenceHolder, ClaimCode, HolderAccount, HolderSession, ShareGrant, Redemption, UsageEvent, CheckScope, Matter],
        safe=True,
    )


def _matter_department(migrator: SchemaMigrator) -> None:
    """A matter names its accepting department (受理部门) as the catalogue does."""
    _add_column(migrator, "matter", "department", peewee.CharField(max_length=100, null=True))


def _key_retired_at(migrator: SchemaMigrator) -> None:
    """A key's retirement time. Keys rotated out before it was kept are dated by their
    department's next key, as verification assumed for them until now; withdrawn keys and a
    department's last key stay without one."""
    _add_column(migrator, "signingkey", "retired_at", peewee.DateTimeField(null=True))
    database.execute_sql(
        "UPDATE signingkey SET retired_at = ("
        " SELECT MIN(later.created_at) FROM signingkey AS later"
        " WHERE later.department_id = signingkey.department_id AND later.created_at > signingkey.created_at)"
        " WHERE NOT active AND withdrawn_at IS NULL AND retired_at IS NULL"
    )


def _licence_status_category(migrator: SchemaMigrator) -> None:
    """The public category of a revocation; licences revoked before it have none (shown as 吊销/注销)."""
    _add_column(migrator, "licence", "status_category", peewee.CharField(max_length=20, null=True))


def _audit_intake(migrator: SchemaMigrator) -> None:
    """Events are recorded in per-writer streams and sealed into the chain in batches, so no
    writer waits on the chain head (docs/audit.md)."""

    class AuditIntake(_Frozen):
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

        class Meta:
            table_name = "auditintake"

    class AuditStream(_Frozen):
        id = peewee.CharField(max_length=32, primary_key=True)
        seq = peewee.BigIntegerField()
        hash = peewee.CharField(max_length=64)
        sealed_seq = peewee.BigIntegerField(default=0)
        sealed_hash = peewee.CharField(max_length=64)

        class Meta:
            table_name = "auditstream"

    database.create_tables([AuditIntake, AuditStream], safe=True)


def _trust_epoch(migrator: SchemaMigrator) -> None:
    """A counter the database moves on every change of a signing key or of a department's name or
    kinds, whoever makes it (a command, another node, an operator in psql): verifiers keep the
    trust store they built and re-read only this, with the licence, in the check's one read."""

    class TrustEpoch(_Frozen):
        id = peewee.IntegerField(primary_key=True)
        epoch = peewee.BigIntegerField()

        class Meta:
            table_name = "trustepoch"

    database.create_tables([TrustEpoch], safe=True)
    TrustEpoch.insert(id=1, epoch=1).on_conflict_ignore().execute()
    bump = "UPDATE trustepoch SET epoch = epoch + 1 WHERE id = 1"
    changes = {"signingkey": ("INSERT", "UPDATE", "DELETE"), "department": ("INSERT", "UPDATE OF name, kinds", "DELETE")}
    if isinstance(database.obj, peewee.PostgresqlDatabase):
        database.execute_sql(f"CREATE OR REPLACE FUNCTION bump_trust_epoch() RETURNS trigger AS $$ BEGIN {bump}; RETURN NULL; END $$ LANGUAGE plpgsql")
        for table, events in changes.items():
            database.execute_sql(f"DROP TRIGGER IF EXISTS {table}_trust_epoch ON {table}")
            database.execute_sql(
                f"CREATE TRIGGER {table}_trust_epoch AFTER {' OR '.join(events)} ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_trust_epoch()"
            )
        return
    for table, events in changes.items():
        for event in events:
            name = f"{table}_trust_epoch_{event.split()[0].lower()}"
            database.execute_sql(f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table} BEGIN {bump}; END")


STEPS: tuple[Step, ...] = (
    Step(1, "first release", _first_release),
    Step(2, "apitoken.scopes", _token_scopes),
    Step(3, "holders and sharing tables", _holders_and_sharing),
    Step(4, "matter.department", _matter_department),
    Step(5, "signingkey.retired_at", _key_retired_at),
    Step(6, "licence.status_category", _licence_status_category),
    Step(7, "audit intake and streams", _audit_intake),
    Step(8, "trust epoch", _trust_epoch),
)


def current_version() -> int:
    """The register's schema version: 0 for an empty database or one from before versioning."""
    if not database.table_exists(VERSION_TABLE):
        return 0
    return int(SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0)


def is_current(steps: Sequence[Step] = STEPS) -> bool:
    """Whether every step has been applied (two reads, no lock, no DDL)."""
    with register_errors():
        return current_version() >= steps[-1].version


def _lock() -> None:
    """Make concurrent upgrades queue: on PostgreSQL an advisory lock held until the step's
    transaction ends; SQLite's transaction() already holds the write lock from BEGIN IMMEDIATE."""
    if isinstance(database.obj, peewee.PostgresqlDatabase):
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))


def _applied(version: int) -> bool:
    return bool(SchemaVersion.select().where(SchemaVersion.version == version).exists())


def upgrade(steps: Sequence[Step] = STEPS) -> int:
    """Apply the steps the register has not had, in order, and return its schema version.

    A no-op (two reads, no lock, no DDL) when the register is current, so every start may call it.
    Otherwise each step runs in its own transaction under a lock and re-reads the version there,
    so concurrent starts never apply a step twice. A register from before versioning is adopted:
    every step runs and does only what is missing. A failing step raises what it raised (database
    failures as Conflict or Unavailable); its changes and its version row roll back together,
    and the steps before it stay applied."""
    if is_current(steps):
        return steps[-1].version
    migrator = SchemaMigrator.from_database(database.obj)
    for step in steps:
        with transaction():
            _lock()
            if not database.table_exists(VERSION_TABLE):
                if database.table_exists("licence"):
                    log.info("register without a schema version: adopting it, every step does only what is missing")
                database.create_tables([SchemaVersion])
            if _applied(step.version):
                continue
            step.apply(migrator)
            SchemaVersion.insert(version=step.version, name=step.name).execute()
        log.info("schema step applied", extra={"version": step.version, "step": step.name})
    return steps[-1].version


def create_schema() -> None:
    """Create the register's tables, or bring a register made by an older release up to date.
    A no-op (two reads, no lock, no DDL) when it is current, so every start and command may call it.
    Raises Unavailable when the database cannot be reached."""
    upgrade()


def schema_exists() -> bool:
    """Checked at start-up instead of creating tables: DDL from every starting worker would
    take locks that deadlock with licences being issued."""
    with register_errors():
        return all(database.table_exists(m._meta.table_name) for m in ALL_MODELS)


def drop_schema() -> None:
    """Drop every table, the schema version's too (tests start from nothing)."""
    database.drop_tables([*ALL_MODELS, SchemaVersion], safe=True, cascade=not isinstance(database.obj, peewee.SqliteDatabase))
    if isinstance(database.obj, peewee.PostgresqlDatabase):
        database.execute_sql("DROP FUNCTION IF EXISTS bump_trust_epoch()")
