"""The running platform: settings, database, key store and PDF store, opened once per process."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from cryptography import x509

from ..config import MAX_BASE_URL, Settings
from ..core.pdfsign import PdfSigner
from ..core.pki import Credentials, credit_code_of
from ..core.trust import TrustedIssuer, TrustStore
from ..errors import ConfigurationError, Unavailable
from ..storage import db, migrations
from ..storage import departments as registry
from ..storage.departments import DepartmentRecord, SigningKeyRecord
from ..storage.keystore import KeyStore
from ..storage.verification import trust_epoch
from ..storage.pdfstore import FileSystemPdfStore, PdfStore

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """A stored time in UTC: the register stores UTC, and PostgreSQL hands it back naive."""
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def read_root_certificate(path: Path) -> x509.Certificate:
    """A platform root certificate from a PEM file (an offline verifier's trust anchor, given
    instead of this platform's own); ConfigurationError when the file is missing."""
    return KeyStore.read_cert(path)


@dataclass
class Platform:
    settings: Settings
    keys: KeyStore
    pdfs: PdfStore
    _signers: dict[str, tuple[PdfSigner, Credentials]] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _root: x509.Certificate | None = None
    _root_credentials: Credentials | None = None
    _trust: tuple[int, TrustStore] | None = None

    @classmethod
    def open(cls, settings: Settings | None = None, *, create_schema: bool = False) -> Platform:
        try:
            settings = settings or Settings.from_env()
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from exc
        if len(settings.base_url.rstrip("/")) > MAX_BASE_URL:
            raise ConfigurationError(f"LICENCE_BASE_URL is longer than {MAX_BASE_URL} characters; the QR code would not fit version 12")
        db.open_database(settings.database_url)
        if create_schema:
            migrations.create_schema()
        return cls(settings, KeyStore(settings.keys_dir, settings.key_passphrase), FileSystemPdfStore(settings.pdf_dir))

    def check_ready(self) -> None:
        """Refuse to serve with unsafe or missing keys."""
        self.keys.check_permissions()
        if not self.keys.has_root():
            raise ConfigurationError("platform keys missing: run `python cli.py init`")
        if not migrations.schema_exists():
            raise ConfigurationError("database has no licence tables: run `python cli.py init`")

    def issuers(self) -> list[tuple[TrustedIssuer, str]]:
        """Every department certificate with its state: active, retired (rotated out, still
        verifies what it signed before its retirement) or withdrawn (nothing it signed verifies)."""
        rows = registry.signing_keys()
        out = []
        for row, dept in rows:
            cert = x509.load_pem_x509_certificate(row.cert_pem.encode("ascii"))
            retired = None
            if not row.active and not row.withdrawn_at:
                # Keys retired before retirement times were kept: retired when the next key came.
                successor = next((r.created_at for r, _ in rows if r.department == row.department and r.created_at > row.created_at), None)
                retired = row.retired_at or successor
            issuer = TrustedIssuer(
                cert=cert,
                department_code=dept.code,
                department_name=dept.name,
                kinds=frozenset(dept.kinds),
                withdrawn_reason=(row.withdrawn_reason or "withdrawn") if row.withdrawn_at else None,
                retired_at=as_utc(retired).timestamp() if retired else None,
            )
            state = "withdrawn" if row.withdrawn_at else ("active" if row.active else "retired")
            out.append((issuer, state))
        return out

    def trust_store(self) -> TrustStore:
        """The trust the register holds now; certificates the root did not issue are dropped.

        One read of the trust epoch, which the database moves on every key or department change
        (whichever process or node makes it), and rebuilt only when it moved. With the database
        unavailable, the last store built serves, dated when it was built (the report says so).
        """
        try:
            epoch = trust_epoch()
        except Unavailable:
            with self._lock:
                if self._trust is None:
                    raise
                return self._trust[1]
        return self.trust_at(epoch)

    def trust_at(self, epoch: int) -> TrustStore:
        """The trust store of the register at trust ``epoch``, built once per epoch, dated now.
        Epoch 0 (a register without the epoch row) is never cached."""
        with self._lock:
            if self._trust is None or self._trust[0] != epoch or epoch == 0:
                store = TrustStore.build(self.root_cert(), (i for i, _ in self.issuers()))
                self._trust = (epoch, replace(store, as_of=utcnow()))
            store = self._trust[1]
        return replace(store, as_of=utcnow())

    def cached_trust(self) -> tuple[int, TrustStore]:
        """The trust store last built and its epoch, without reading the register (built now if
        none was): an online check confirms the epoch with its one read, :mod:`services.online`."""
        with self._lock:
            cached = self._trust
        if cached is None:
            store = self.trust_store()
            with self._lock:
                cached = self._trust or (0, store)
        return cached[0], replace(cached[1], as_of=utcnow())

    def root_cert(self) -> x509.Certificate:
        with self._lock:
            if self._root is None:
                self._root = self.keys.root_cert()
            return self._root

    def root_credentials(self) -> Credentials:
        """The root key and certificate (receipts, checks, checkpoints, trust documents), read once per process."""
        with self._lock:
            if self._root_credentials is None:
                self._root_credentials = self.keys.root()
            return self._root_credentials

    def signer_for(self, department: DepartmentRecord) -> tuple[SigningKeyRecord, PdfSigner, Credentials]:
        """The department's active key, loaded once per process (building a signer is not free)."""
        row = registry.signing_key(department.code)
        if row is None:
            raise ConfigurationError(f"department {department.code} has no active signing key: run `python cli.py init`")
        with self._lock:
            cached = self._signers.get(row.kid)
            if cached is None:
                cert = x509.load_pem_x509_certificate(row.cert_pem.encode("ascii"))
                if credit_code_of(cert) != department.code:
                    raise ConfigurationError(f"signing key {row.kid} does not belong to {department.code}")
                creds = self.keys.department(department.code, row.kid, cert)
                tsa = None if self.settings.tsa_url else self.keys.tsa()
                signer = PdfSigner.build(
                    creds,
                    department_name=department.name,
                    root=self.root_cert(),
                    tsa=tsa,
                    tsa_url=self.settings.tsa_url,
                )
                cached = self._signers[row.kid] = (signer, creds)
        return row, cached[0], cached[1]
