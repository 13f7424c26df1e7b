"""The signed QR payload: compact CBOR claims in COSE_Sign1, as a link to the public verify page.

Format (docs/qr-format.md): QR text = ``<BASE URL>/V/<base32(COSE_Sign1)>``, upper-case RFC 4648
base32 without padding so the whole text stays in the QR alphanumeric mode.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import UnreadableEvidence
from . import cose
from .cose import CBOR_MAPS
from .identifiers import LicenceId, parse_licence_id
from .kinds import KINDS, KINDS_BY_CBOR

FORMAT_VERSION = 1
# Claim keys (CBOR map keys), fixed by format version 1. The identifier travels as serial and
# version: its kind code and issuer code follow from the kind and issuer claims (docs/qr-format.md).
K_FORMAT, K_SERIAL, K_VERSION, K_KIND, K_ISSUER, K_ISSUED, K_EXPIRES, K_HOLDER, K_DIGEST, K_STATUS = range(10)

# The smallest possible signed payload (signature, key id and claims) is over 100 bytes.
MIN_PAYLOAD_CHARS = 160
_SERIAL = re.compile(r"^[0-9A-Z]{8,32}$")
_ISSUER = re.compile(r"^[0-9A-Z]{18}$")
_B32 = re.compile(r"^[A-Z2-7]+$")
_PATH = re.compile(r"/[Vv]/([A-Za-z2-7]+)/?$")


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The byte form the digest is taken over: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def data_digest(data: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(data)).digest()


@dataclass(frozen=True)
class Claims:
    identifier: str
    kind: str
    issuer: str
    issued_at: int  # seconds since the epoch, UTC
    expires_at: int | None  # None: no expiry (长期)
    holder: str  # masked name
    digest: bytes  # SHA-256 of canonical_json(data)
    status_index: int | None = None  # position in the issuer's signed status list

    def to_cbor(self) -> bytes:
        lid = parse_licence_id(self.identifier)
        if lid.kind_code != KINDS[self.kind].kind_code or lid.issuer_code != self.issuer:
            raise ValueError("identifier does not belong to this kind and issuer")
        claims: dict[int, Any] = {
            K_FORMAT: FORMAT_VERSION,
            K_SERIAL: lid.serial,
            K_VERSION: lid.version,
            K_KIND: KINDS[self.kind].cbor_code,
            K_ISSUER: self.issuer,
            K_ISSUED: self.issued_at,
            K_HOLDER: self.holder,
            K_DIGEST: self.digest,
        }
        if self.status_index is not None:
            claims[K_STATUS] = self.status_index
        if self.expires_at is not None:
            claims[K_EXPIRES] = self.expires_at
        return cbor2.dumps(claims, canonical=True)  # deterministic encoding (RFC 8949 §4.2)

    @classmethod
    def from_cbor(cls, raw: bytes) -> Claims:
        """Decode claims; raises UnreadableEvidence when they are not of format version 1."""
        try:
            obj = cbor2.loads(raw)
        except Exception as exc:
            raise UnreadableEvidence("QR claims are not CBOR") from exc
        return cls._from_obj(obj)

    @classmethod
    def _from_obj(cls, obj: object) -> Claims:
        if not isinstance(obj, CBOR_MAPS):
            raise UnreadableEvidence("QR claims are not a CBOR map")
        if obj.get(K_FORMAT) != FORMAT_VERSION:
            raise UnreadableEvidence(f"unknown QR format version {obj.get(K_FORMAT)!r}")
        kind = KINDS_BY_CBOR.get(obj.get(K_KIND))  # type: ignore[arg-type]
        expires = obj.get(K_EXPIRES)
        types_ok = (
            kind is not None
            and isinstance(obj.get(K_SERIAL), str)
            and isinstance(obj.get(K_VERSION), int)
            and isinstance(obj.get(K_ISSUER), str)
            and isinstance(obj.get(K_ISSUED), int)
            and (expires is None or isinstance(expires, int))
            and isinstance(obj.get(K_HOLDER), str)
            and isinstance(obj.get(K_DIGEST), bytes)
            and (obj.get(K_STATUS) is None or (isinstance(obj.get(K_STATUS), int) and obj[K_STATUS] >= 0))
        )
        if not types_ok or kind is None:
            raise UnreadableEvidence("QR claims are missing or of the wrong type")
        if not (_SERIAL.match(obj[K_SERIAL]) and 1 <= obj[K_VERSION] <= 999 and _ISSUER.match(obj[K_ISSUER])):
            raise UnreadableEvidence("QR claims hold a malformed serial, version or issuer")
        identifier = str(LicenceId(kind.kind_code, obj[K_ISSUER], obj[K_SERIAL], obj[K_VERSION]))
        return cls(identifier, kind.name, obj[K_ISSUER], obj[K_ISSUED], expires, obj[K_HOLDER], obj[K_DIGEST], obj.get(K_STATUS))

    @classmethod
    def from_cbor_or_none(cls, raw: bytes) -> Claims | None:
        """Like from_cbor, but None for damaged claims; an unknown format version still raises."""
        try:
            obj = cbor2.loads(raw)
        except Exception:
            return None
        if isinstance(obj, CBOR_MAPS) and obj.get(K_FORMAT) not in (None, FORMAT_VERSION):
            raise UnreadableEvidence(f"unknown QR format version {obj.get(K_FORMAT)!r}")
        try:
            return cls._from_obj(obj)
        except UnreadableEvidence:
            return None


def sign_claims(claims: Claims, key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    return cose.sign1(claims.to_cbor(), key, kid)


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


_B32_TO_INT_DIGITS = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")


def unb32(text: str) -> bytes:
    """RFC 4648 base32 (upper-case, unpadded) via int(): ~20x faster than base64.b32decode,
    which is pure Python and was the largest cost of a QR check after ECDSA itself."""
    if not text:
        return b""
    if not _B32.match(text) or len(text) % 8 in (1, 3, 6):
        raise ValueError("not unpadded base32")
    bits = 5 * len(text)
    value = int(text.translate(_B32_TO_INT_DIGITS), 32)
    spare = bits % 8
    if value & ((1 << spare) - 1):
        # Only the canonical encoding is accepted: otherwise a changed last character could
        # leave the decoded bytes, and so the verdict, unchanged.
        raise ValueError("non-zero padding bits")
    return (value >> spare).to_bytes(bits // 8, "big")


def qr_text(base_url: str, signed: bytes) -> str:
    """The text the QR code carries: a link to the verify page with the signed payload in it.

    Scheme and host are upper-cased (they are case-insensitive) so the text stays alphanumeric-mode.
    """
    parts = urlsplit(base_url.rstrip("/"))
    base = urlunsplit((parts.scheme.upper(), parts.netloc.upper(), parts.path, "", ""))
    return f"{base}/V/{b32(signed)}"


def payload_from_text(text: str) -> bytes:
    """The COSE bytes from a scanned QR text (full link or bare base32); raises UnreadableEvidence."""
    text = text.strip()
    m = _PATH.search(text)
    candidate = m.group(1) if m else text
    candidate = candidate.upper()
    if not candidate or not _B32.match(candidate):
        raise UnreadableEvidence("QR text is not a licence verification link")
    if len(candidate) < MIN_PAYLOAD_CHARS:
        raise UnreadableEvidence("QR text is too short to hold a signed licence payload")
    try:
        return unb32(candidate)
    except (binascii.Error, ValueError) as exc:
        raise UnreadableEvidence("QR payload is not valid base32") from exc
