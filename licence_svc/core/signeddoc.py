"""Signed JSON documents (trust list, status list): canonical JSON bytes plus an ES256 signature.

Chosen over JWS so a verifier needs nothing but base64, a JSON parser and an ECDSA verify:
``signature`` is DER ECDSA-SHA256 over exactly the bytes ``payload`` decodes to.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import UnreadableEvidence
from .payload import canonical_json
from .pki import key_id


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_document(body: Mapping[str, Any], key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> dict[str, str]:
    payload = canonical_json(body)
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    return {"alg": "ES256", "kid": key_id(cert).hex(), "payload": b64url(payload), "signature": b64url(signature)}


def open_document(envelope: Mapping[str, Any], cert: x509.Certificate) -> dict[str, Any]:
    """Verify ``envelope`` with ``cert`` and return its body; raises UnreadableEvidence otherwise."""
    try:
        payload = unb64url(str(envelope["payload"]))
        signature = unb64url(str(envelope["signature"]))
    except (KeyError, TypeError, binascii.Error, ValueError) as exc:
        raise UnreadableEvidence("not a signed platform document") from exc
    public_key = cert.public_key()
    if envelope.get("alg") != "ES256" or not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise UnreadableEvidence("signed document is not ES256")
    try:
        public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise UnreadableEvidence("signature of the document does not verify") from exc
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # not UTF-8 JSON, or nested past the parser's depth
        raise UnreadableEvidence("signed document is not JSON") from exc
    if not isinstance(body, dict):
        raise UnreadableEvidence("signed document body is not an object")
    return body
