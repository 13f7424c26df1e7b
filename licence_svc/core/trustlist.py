"""The trust list: the root and every department signing certificate, with what each may sign.

A verifier holding only this document (signed by the root) can check any QR offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..errors import UnreadableEvidence
from .signeddoc import open_document
from .trust import TrustedIssuer, TrustStore

DOC_TYPE = "LicenceTrustList"


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def trust_list_body(root: x509.Certificate, issuers: Iterable[tuple[TrustedIssuer, str]], *, issued_at: str) -> dict[str, Any]:
    """``issuers`` pairs each issuer with its state: active, retired (still verifies) or withdrawn."""
    return {
        "type": DOC_TYPE,
        "version": 1,
        "issued_at": issued_at,
        "root": _pem(root),
        "issuers": [
            {
                "kid": issuer.kid.hex(),
                "department_code": issuer.department_code,
                "department_name": issuer.department_name,
                "kinds": sorted(issuer.kinds),
                "state": state,
                "withdrawn_reason": issuer.withdrawn_reason,
                "not_before": issuer.cert.not_valid_before_utc.isoformat(),
                "not_after": issuer.cert.not_valid_after_utc.isoformat(),
                "certificate": _pem(issuer.cert),
            }
            for issuer, state in issuers
        ],
    }


def trust_store_from_list(envelope: Mapping[str, Any], root: x509.Certificate) -> TrustStore:
    """Open a signed trust list with the root the verifier already trusts; a list naming another
    root, or one the root did not sign, is refused."""
    body = open_document(envelope, root)
    if body.get("type") != DOC_TYPE or body.get("version") != 1:
        raise UnreadableEvidence("not a version-1 licence trust list")
    if x509.load_pem_x509_certificate(body["root"].encode("ascii")) != root:
        raise UnreadableEvidence("trust list names another root")
    issuers = [
        TrustedIssuer(
            cert=x509.load_pem_x509_certificate(entry["certificate"].encode("ascii")),
            department_code=entry["department_code"],
            department_name=entry["department_name"],
            kinds=frozenset(entry["kinds"]),
            withdrawn_reason=(entry.get("withdrawn_reason") or "withdrawn") if entry["state"] == "withdrawn" else None,
        )
        for entry in body["issuers"]
    ]
    return TrustStore.build(root, issuers)
