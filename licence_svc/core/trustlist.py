"""The trust list: the root and every department signing certificate, with what each may sign.

A verifier holding only this document (signed by the root) can check any QR offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from ..errors import UnreadableEvidence
from .dates import plausible
from .signeddoc import open_document
from .trust import TrustedIssuer, TrustStore

DOC_TYPE = "LicenceTrustList"
_STATES = ("active", "retired", "withdrawn")
_CODE = re.compile(r"[0-9A-Z]{18}")  # a unified social credit code's shape


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


def _retired_at(entry: Mapping[str, Any]) -> float | None:
    """A retired key's retirement time; a list from before retirement times were published gives
    none, and its retired keys are checked as before (online, the register binds every payload)."""
    value = entry.get("retired_at")
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UnreadableEvidence("trust list entry has a malformed retired_at") from exc
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    if not plausible(moment):  # a date reports cannot show (year 1 or 9999 in another zone)
        raise UnreadableEvidence("trust list entry has an implausible retired_at")
    return moment.timestamp()


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
                "retired_at": _iso(issuer.retired_at),
                "not_before": issuer.cert.not_valid_before_utc.isoformat(),
                "not_after": issuer.cert.not_valid_after_utc.isoformat(),
                "certificate": _pem(issuer.cert),
            }
            for issuer, state in issuers
        ],
    }


def trust_store_from_list(envelope: Mapping[str, Any], root: x509.Certificate) -> TrustStore:
    """Open a signed trust list with the root the verifier already trusts; a list naming another
    root, or one the root did not sign, is refused. Raises UnreadableEvidence for anything but a
    well-formed version-1 list (the root signing a list does not make its every field sound)."""
    body = open_document(envelope, root)
    if body.get("type") != DOC_TYPE or type(body.get("version")) is not int or body["version"] != 1:
        raise UnreadableEvidence("not a version-1 licence trust list")
    if _certificate(body.get("root"), "root") != root:
        raise UnreadableEvidence("trust list names another root")
    entries = body.get("issuers")
    if not isinstance(entries, list):
        raise UnreadableEvidence("trust list: issuers must be an array")
    try:
        return TrustStore.build(root, [_issuer(entry) for entry in entries])
    except UnsupportedAlgorithm as exc:
        raise UnreadableEvidence("trust list: a certificate uses an unsupported algorithm") from exc


def _certificate(value: object, what: str) -> x509.Certificate:
    if not isinstance(value, str):
        raise UnreadableEvidence(f"trust list: {what} is not a PEM certificate")
    try:
        return x509.load_pem_x509_certificate(value.encode("ascii"))
    except ValueError as exc:  # UnicodeEncodeError included
        raise UnreadableEvidence(f"trust list: {what} is not a PEM certificate") from exc


def _issuer(entry: object) -> TrustedIssuer:
    """One entry of the list, every field of its type; the key must be one this verifier can use."""
    if not isinstance(entry, Mapping):
        raise UnreadableEvidence("trust list: an issuer entry is not an object")
    code, name, kinds, state = (entry.get(k) for k in ("department_code", "department_name", "kinds", "state"))
    reason = entry.get("withdrawn_reason")
    if not (
        isinstance(code, str)
        and _CODE.fullmatch(code) is not None
        and isinstance(name, str)
        and isinstance(kinds, list)
        and all(isinstance(k, str) for k in kinds)
        and state in _STATES
        and (reason is None or isinstance(reason, str))
    ):  # one condition, not a flag: mypy narrows each field's type by it
        raise UnreadableEvidence("trust list: an issuer entry is malformed")
    cert = _certificate(entry.get("certificate"), f"the certificate of {code}")
    try:
        cert.public_key()  # parsed here, not in the middle of a verification
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UnreadableEvidence(f"trust list: the key of {code} cannot be used") from exc
    return TrustedIssuer(
        cert=cert,
        department_code=code,
        department_name=name,
        kinds=frozenset(kinds),
        withdrawn_reason=(reason or "withdrawn") if state == "withdrawn" else None,
        retired_at=_retired_at(entry),
    )
