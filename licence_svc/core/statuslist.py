"""Status lists for offline verifiers, in the spirit of the W3C Bitstring Status List.

Each issuer has one bitstring of 2-bit entries (0 valid, 1 suspended, 2 revoked, 3 superseded),
at least 131,072 entries long so that a position says nothing about who holds it; each licence
gets a random position at issue, carried in its signed QR payload. The list carries no
personal data and no identifiers.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any

from ..errors import UnreadableEvidence
from .signeddoc import b64url, unb64url

MIN_ENTRIES = 131_072
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

    @cached_property
    def issued(self) -> datetime | None:
        """``issued_at`` as an aware moment (a naive one is UTC); None if it is not an ISO timestamp."""
        try:
            t = datetime.fromisoformat(self.issued_at)
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=timezone.utc)

    def status(self, issuer: str, index: int) -> str | None:
        """The status at ``index`` of ``issuer``'s list; None where the list does not reach."""
        bits = self.bits.get(issuer)
        byte, shift = divmod(index * STATUS_SIZE, 8)
        if bits is None or byte >= len(bits):
            return None
        return NAMES[(bits[byte] >> (8 - STATUS_SIZE - shift)) & 0b11]

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> StatusList:
        if body.get("type") != DOC_TYPE or body.get("version") != 1:
            raise UnreadableEvidence("not a version-1 licence status list")
        out: dict[str, bytes] = {}
        for entry in body.get("lists", []):
            raw = gzip.decompress(unb64url(entry["encoded"]))
            if len(raw) * 8 // STATUS_SIZE != entry["length"]:
                raise UnreadableEvidence("status list length does not match its bitstring")
            out[entry["issuer"]] = raw
        return cls(str(body.get("issued_at")), out)


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
