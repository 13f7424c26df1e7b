"""Which keys the platform trusts to sign which licence kinds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from .pki import key_id


@dataclass(frozen=True)
class TrustedIssuer:
    cert: x509.Certificate
    department_code: str
    department_name: str
    kinds: frozenset[str]
    withdrawn_reason: str | None = None
    retired_at: float | None = None  # seconds since the epoch: rotated out; nothing it signs later is genuine

    @cached_property
    def kid(self) -> bytes:
        return key_id(self.cert)

    @cached_property
    def public_key(self) -> PublicKeyTypes:
        """Parsed once: verifying a QR is otherwise dominated by re-reading the key."""
        return self.cert.public_key()

    @cached_property
    def ec_public_key(self) -> ec.EllipticCurvePublicKey | None:
        """The key as QR signatures need it (ES256), None for any other: the type is settled once
        per issuer rather than by an ABC isinstance on every verification."""
        key = self.public_key
        return key if isinstance(key, ec.EllipticCurvePublicKey) else None

    @cached_property
    def validity(self) -> tuple[float, float]:
        return self.cert.not_valid_before_utc.timestamp(), self.cert.not_valid_after_utc.timestamp()


@dataclass(frozen=True)
class TrustStore:
    """The root and the department certificates it issued, indexed by QR key id."""

    root: x509.Certificate
    issuers: Mapping[bytes, TrustedIssuer] = field(default_factory=dict)
    as_of: datetime | None = None  # when this view of trust was taken

    @classmethod
    def build(cls, root: x509.Certificate, issuers: Iterable[TrustedIssuer]) -> TrustStore:
        """Keep only certificates the root really issued: a row in a database is not trust."""
        kept: dict[bytes, TrustedIssuer] = {}
        for issuer in issuers:
            try:
                issuer.cert.verify_directly_issued_by(root)
            except (InvalidSignature, ValueError, TypeError):
                continue
            kept[issuer.kid] = issuer
        return cls(root, kept)

    def by_cert(self, cert: x509.Certificate) -> TrustedIssuer | None:
        return self.issuers.get(key_id(cert))
