"""The signed QR payload: compact CBOR claims in COSE_Sign1, as a link to the public verify page.

Format (docs/qr-format.md): QR text = ``<BASE URL>/V/<base32(COSE_Sign1)>``, upper-case RFC 4648
base32 without padding so the whole text stays in the QR alphanumeric mode.
"""

from __future__ import annotations

import base64
import binascii
import functools
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
MAX_PAYLOAD_CHARS = 1700  # base32 of cose.MAX_MESSAGE
# Plausible times: no e-licence was issued before 2000, and none is dated after 2200 (a bignum or
# a year-10000 date would only reach date arithmetic that cannot represent it).
EARLIEST = 946_684_800  # 2000-01-01T00:00:00Z
LATEST = 7_258_118_400  # 2200-01-01T00:00:00Z
MAX_STATUS_INDEX = 2**31 - 1  # the register's column; lists grow far below it
MAX_HOLDER = 64
_SERIAL = re.compile(r"[0-9A-Z]{8,32}")
_ISSUER = re.compile(r"[0-9A-Z]{18}")
_B32 = re.compile(r"[A-Z2-7]+")
_BARE = re.compile(r"[A-Za-z2-7]+")


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
    def decode(cls, raw: bytes) -> Claims:
        """Decode claims strictly: every claim of its type and within its range, no unknown
        claim, and ``raw`` exactly the deterministic encoding the signer writes (RFC 8949 §4.2),
        so a licence has one payload. Raises ClaimsError naming the claim, or UnreadableEvidence
        for another format version (a newer verifier may read it; this one must not guess)."""
        try:
            obj = cbor2.loads(raw)
        except Exception as exc:  # cbor2's decoder errors, RecursionError, MemoryError on a huge length
            raise ClaimsError("claims are not CBOR") from exc
        if not isinstance(obj, CBOR_MAPS):
            raise ClaimsError("claims are not a CBOR map")
        try:
            fmt = obj.get(K_FORMAT)
        except TypeError:  # an unhashable key cannot be looked up, nor be a claim
            fmt = None
        if fmt != FORMAT_VERSION or type(fmt) is not int:
            if type(fmt) is int and fmt > FORMAT_VERSION:
                raise UnreadableEvidence(f"unknown QR format version {fmt}")
            raise ClaimsError("format: must be the integer 1")
        claims = cls._from_obj(obj)
        # Every key is now a claim number and every value an int, text or bytes, so with the keys
        # in ascending order (a dict keeps the order read) cbor2's plain encoding is the
        # deterministic one, at half the cost of canonical=True's sorting encoder.
        keys = list(obj)
        if keys != sorted(keys) or cbor2.dumps(obj) != raw:
            raise ClaimsError("claims are not in the deterministic encoding the signer writes")
        return claims

    @classmethod
    def from_cbor(cls, raw: bytes) -> Claims:
        """Decode claims; raises UnreadableEvidence when they are damaged or of another format version."""
        try:
            return cls.decode(raw)
        except ClaimsError as exc:
            raise UnreadableEvidence(f"QR claims are damaged: {exc}") from exc

    @classmethod
    def from_cbor_or_none(cls, raw: bytes) -> Claims | None:
        """Like from_cbor, but None for damaged claims; an unknown format version still raises."""
        try:
            return cls.decode(raw)
        except ClaimsError:
            return None

    @classmethod
    def _from_obj(cls, obj: Mapping[Any, Any]) -> Claims:
        unknown = [k for k in obj if not (type(k) is int and k in _CLAIM_NAMES)]
        if unknown:
            raise ClaimsError(f"unknown claim key {unknown[0]!r}"[:80])
        missing = [_CLAIM_NAMES[k] for k in _REQUIRED if k not in obj]
        if missing:
            raise ClaimsError(f"{missing[0]}: missing")
        kind = KINDS_BY_CBOR.get(_int(obj, K_KIND, 1, 255))
        if kind is None:
            raise ClaimsError("kind: not a licence kind")
        serial, issuer, holder = _text(obj, K_SERIAL), _text(obj, K_ISSUER), _text(obj, K_HOLDER)
        if not _SERIAL.fullmatch(serial):
            raise ClaimsError("serial: must be 8-32 characters 0-9A-Z")
        if not _ISSUER.fullmatch(issuer):
            raise ClaimsError("issuer: must be 18 characters 0-9A-Z")
        if not (0 < len(holder) <= MAX_HOLDER and holder.isprintable() and holder.strip() == holder):
            raise ClaimsError(f"holder: must be 1-{MAX_HOLDER} printable characters")
        version = _int(obj, K_VERSION, 1, 999)
        issued = _int(obj, K_ISSUED, EARLIEST, LATEST)
        expires = _int(obj, K_EXPIRES, EARLIEST, LATEST) if K_EXPIRES in obj else None
        digest = obj[K_DIGEST]
        if type(digest) is not bytes or len(digest) != 32:
            raise ClaimsError("digest: must be 32 bytes")
        status = _int(obj, K_STATUS, 0, MAX_STATUS_INDEX) if K_STATUS in obj else None
        identifier = str(LicenceId(kind.kind_code, issuer, serial, version))
        return cls(identifier, kind.name, issuer, issued, expires, holder, digest, status)


class ClaimsError(ValueError):
    """Signed claims that are not the platform's format 1: the reason names the claim."""


_CLAIM_NAMES = {
    K_FORMAT: "format",
    K_SERIAL: "serial",
    K_VERSION: "version",
    K_KIND: "kind",
    K_ISSUER: "issuer",
    K_ISSUED: "issued_at",
    K_EXPIRES: "expires_at",
    K_HOLDER: "holder",
    K_DIGEST: "digest",
    K_STATUS: "status_index",
}
_REQUIRED = (K_SERIAL, K_VERSION, K_KIND, K_ISSUER, K_ISSUED, K_HOLDER, K_DIGEST)


def _int(obj: Mapping[Any, Any], key: int, low: int, high: int) -> int:
    """An integer claim within [low, high]: a bool is not an integer, a bignum is out of range."""
    value = obj[key]
    if type(value) is not int:
        raise ClaimsError(f"{_CLAIM_NAMES[key]}: must be an integer")
    if not low <= value <= high:
        raise ClaimsError(f"{_CLAIM_NAMES[key]}: out of range")
    return value


def _text(obj: Mapping[Any, Any], key: int) -> str:
    value = obj[key]
    if type(value) is not str:
        raise ClaimsError(f"{_CLAIM_NAMES[key]}: must be text")
    return value


def sign_claims(claims: Claims, key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    return cose.sign1(claims.to_cbor(), key, kid)


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


_B32_TO_INT_DIGITS = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghijklmnopqrstuv")


def unb32(text: str) -> bytes:
    """RFC 4648 base32 (upper-case, unpadded) via int(): ~20x faster than base64.b32decode,
    which is pure Python and was the largest cost of a QR check after ECDSA itself."""
    if not text:
        return b""
    if not _B32.fullmatch(text) or len(text) % 8 in (1, 3, 6):
        raise ValueError("not unpadded base32")
    bits = 5 * len(text)
    value = int(text.encode("ascii").translate(_B32_TO_INT_DIGITS), 32)  # bytes.translate: a third of str's
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


@dataclass(frozen=True)
class Link:
    """A scanned QR text taken apart: the signed payload, and where the link would take a phone."""

    payload: bytes
    origin: str | None  # scheme://host[:port]/path-prefix, lower-case; None for a bare payload

    def points_elsewhere(self, base_url: str) -> bool:
        """True when the link leads somewhere other than the platform's verify page: the payload
        may be genuine, but a phone opening it sees another site's page (a phishing copy)."""
        return self.origin is not None and self.origin != _origin(base_url)


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


def parse_link(text: str) -> Link:
    """The payload of a scanned QR text (the full link, or the bare base32 payload); raises
    UnreadableEvidence for anything else. Only http(s) links without user-info, query or fragment
    are licence links: ``javascript:``/``data:`` texts and ``user@host`` authorities (which make a
    link look like it goes to one host while it goes to another) are refused outright."""
    text = text.strip()
    if len(text) > MAX_PAYLOAD_CHARS + 400:
        raise UnreadableEvidence("QR text is longer than any licence link")
    if _BARE.fullmatch(text):
        return Link(_decode_payload(text), None)
    m = _LINK.fullmatch(text)
    if m is None:
        raise UnreadableEvidence("QR text is not a licence verification link")
    return Link(_decode_payload(m["payload"]), _link_origin(m["prefix"]))


_LINK = re.compile(r"(?P<prefix>[!-~]*?)/[Vv]/(?P<payload>[A-Za-z2-7]+)/?")


@functools.lru_cache(maxsize=64)
def _link_origin(prefix: str) -> str | None:
    """The origin of a link's part before ``/V/``, checked once per distinct prefix (a window sees
    the same few all day). Raises UnreadableEvidence for what is not an http(s) address."""
    try:
        parts = urlsplit(prefix)
        parts.port  # noqa: B018  (raises ValueError for a malformed port)
    except ValueError as exc:
        raise UnreadableEvidence("QR text is not a licence verification link") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnreadableEvidence(f"QR text is not a licence verification link (scheme {scheme[:20] or 'missing'!r})")
    if "@" in parts.netloc or not parts.hostname:
        raise UnreadableEvidence("QR link names a user or no host: not a licence verification link")
    if parts.query or parts.fragment or "?" in prefix or "#" in prefix:
        raise UnreadableEvidence("QR link carries a query or fragment: not a licence verification link")
    return _origin(prefix)


def _decode_payload(candidate: str) -> bytes:
    candidate = candidate.upper()
    if len(candidate) < MIN_PAYLOAD_CHARS:
        raise UnreadableEvidence("QR text is too short to hold a signed licence payload")
    if len(candidate) > MAX_PAYLOAD_CHARS:
        raise UnreadableEvidence("QR text is longer than any signed licence payload")
    try:
        return unb32(candidate)
    except (binascii.Error, ValueError) as exc:
        raise UnreadableEvidence("QR payload is not valid base32") from exc


def payload_from_text(text: str) -> bytes:
    """The COSE bytes from a scanned QR text (full link or bare base32); raises UnreadableEvidence."""
    return parse_link(text).payload
