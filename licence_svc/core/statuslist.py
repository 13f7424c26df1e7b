"""Status lists for offline verifiers, in the spirit of the W3C Bitstring Status List.

Each issuer has one bitstring of 2-bit entries (0 valid, 1 suspended, 2 revoked, 3 superseded),
at least 131,072 entries long so that a position says nothing about who holds it; each licence
gets a random position at issue, carried in its signed QR payload. The list carries no
personal data and no identifiers.
"""

from __future__ import annotations

import binascii
import gzip
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from ..errors import UnreadableEvidence
from .dates import plausible
from .signeddoc import b64url, unb64url

MIN_ENTRIES = 131_072
MAX_ENTRIES = 1 << 26  # 16 MiB of bits per issuer: 500 times the minimum; bounds what a list may gunzip to
_ISSUER = re.compile(r"[0-9A-Z]{18}")
STATUS_SIZE = 2
CODES = {"valid": 0, "suspended": 1, "revoked": 2, "superseded": 3}
NAMES = {v: k for k, v in CODES.items()}
DOC_TYPE = "LicenceStatusList"


def list_length(issued_count: int, current: int = MIN_ENTRIES) -> int:
    """Grow (never shrink) so the list stays at most half full: random positions stay cheap to draw."""
    length = max(current, MIN_ENTRIES)
    while issued_count * 2 > length:
        length *= 2
    return length


def encode_bits(entries: Iterable[tuple[int, str]], length: int) -> str:
    """gzip + base64url of the bitstring; entry i occupies bits 2i..2i+1, most significant first."""
    bits = bytearray(length * STATUS_SIZE // 8)
    for index, status in entries:
        code = CODES[status]
        if code == 0:
            continue
        byte, shift = divmod(index * STATUS_SIZE, 8)
        bits[byte] |= code << (8 - STATUS_SIZE - shift)
    return b64url(gzip.compress(bytes(bits), compresslevel=9, mtime=0))


@dataclass(frozen=True)
class StatusList:
    """A decoded, already signature-checked status list."""

    issued_at: str  # as the document gives it
    bits: Mapping[str, bytes]  # issuer code → bitstring
    next_update: datetime | None = None  # the list's promise of a newer one: past it, the list is stale

    @cached_property
    def issued(self) -> datetime | None:
        """``issued_at`` as an aware moment (a naive one is UTC); None if it is not a plausible ISO
        timestamp (:func:`.dates.plausible`: one near year 1 or 9999 has no Beijing date to show)."""
        try:
            t = datetime.fromisoformat(self.issued_at)
        except (TypeError, ValueError):
            return None
        t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        return t if plausible(t) else None

    def status(self, issuer: str, index: int) -> str | None:
        """The status at ``index`` of ``issuer``'s list; None where the list does not reach (a
        negative index included: it would otherwise read another licence's entry from the end)."""
        bits = self.bits.get(issuer)
        if bits is None or type(index) is not int or index < 0:
            return None
        byte, shift = divmod(index * STATUS_SIZE, 8)
        if byte >= len(bits):
            return None
        return NAMES[(bits[byte] >> (8 - STATUS_SIZE - shift)) & 0b11]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> StatusList:
        """A signature-checked body as a status list. Raises UnreadableEvidence unless it is a
        version-1 list: ``issued_at`` (and ``next_update``, when given) plausible ISO times, each
        list one issuer's, its ``length`` a whole number of bytes of entries up to
        :data:`MAX_ENTRIES`, and its gzip exactly that long (it is never unpacked further)."""
        if not isinstance(body, Mapping) or body.get("type") != DOC_TYPE or type(body.get("version")) is not int or body["version"] != 1:
            raise UnreadableEvidence("not a version-1 licence status list")
        issued_at = body.get("issued_at")
        _moment(issued_at, "issued_at")
        next_update = _moment(body["next_update"], "next_update") if "next_update" in body else None
        lists = body.get("lists", [])
        if not isinstance(lists, list):
            raise UnreadableEvidence("status list: lists must be an array")
        out: dict[str, bytes] = {}
        for entry in lists:
            issuer, raw = _decode_entry(entry)
            if issuer in out:
                raise UnreadableEvidence(f"status list: issuer {issuer} listed twice")
            out[issuer] = raw
        assert isinstance(issued_at, str)
        return cls(issued_at, out, next_update)


def _moment(value: object, name: str) -> datetime:
    """An ISO time of the document (naive: UTC) within the plausible range."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment is None or not plausible(moment):
        raise UnreadableEvidence(f"status list: {name} is not a plausible ISO time")
    return moment


def _decode_entry(entry: object) -> tuple[str, bytes]:
    """One issuer's list: its code and bitstring, gunzipped to no more than its declared length."""
    if not isinstance(entry, Mapping):
        raise UnreadableEvidence("status list: an entry is not an object")
    issuer, length, encoded = entry.get("issuer"), entry.get("length"), entry.get("encoded")
    if not (isinstance(issuer, str) and _ISSUER.fullmatch(issuer)):
        raise UnreadableEvidence("status list: an entry's issuer is not an issuer code")
    if type(length) is not int or not 0 < length <= MAX_ENTRIES or length * STATUS_SIZE % 8:
        raise UnreadableEvidence(f"status list of {issuer}: length must be a multiple of 4 up to {MAX_ENTRIES}")
    if not isinstance(encoded, str):
        raise UnreadableEvidence(f"status list of {issuer}: encoded must be a string")
    size = length * STATUS_SIZE // 8
    try:
        packed = unb64url(encoded)
        inflate = zlib.decompressobj(wbits=31)  # gzip, one member, as encode_bits writes it
        raw = inflate.decompress(packed, size + 1)  # never more than one byte past the declared size
        complete = inflate.eof and not inflate.unused_data and not inflate.unconsumed_tail
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise UnreadableEvidence(f"status list of {issuer}: encoded is not base64url of gzip") from exc
    if len(raw) != size or not complete:
        raise UnreadableEvidence("status list length does not match its bitstring")
    return issuer, raw


def status_body(lists: Mapping[str, tuple[int, Iterable[tuple[int, str]]]], *, issued_at: str, next_update: str) -> dict[str, Any]:
    """The document body: one entry per issuer with its length and encoded bitstring."""
    return {
        "type": DOC_TYPE,
        "version": 1,
        "issued_at": issued_at,
        "next_update": next_update,
        "status_size": STATUS_SIZE,
        "status_messages": {str(v): k for k, v in CODES.items()},
        "lists": [
            {"issuer": issuer, "length": length, "encoded": encode_bits(entries, length)}
            for issuer, (length, entries) in sorted(lists.items())
        ],
    }
