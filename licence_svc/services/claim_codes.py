"""Claim codes: the one-time code an issuing department hands a holder with the licence.

The holder signs in once with id number + claim code and sets a password. A code has 60 random
bits and only its SHA-256 is stored; re-minting one (a lost notice, a retried issue) voids the
unused codes of that licence and holder.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from ..storage import holders as store
from ..storage.db import transaction
from ..storage.holders import ClaimCodeRecord
from ..storage.licences import get_licence
from .platform import utcnow
from .records import owned
from .tokens import Principal

CLAIM_CODE_VALIDITY = timedelta(days=180)
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})  # what a reader takes for a printed 0 or 1


def new_code() -> str:
    """XXXX-XXXX-XXXX: easy to read aloud and to type from a paper notice."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise(code: str) -> str:
    """What the holder typed, as it was printed: case, spaces, dashes and O/0, I/L/1 confusions forgiven."""
    return "".join(c for c in code.upper() if c.isalnum()).translate(READ_AS)


def code_hash(code: str) -> str:
    return hashlib.sha256(("claim:" + normalise(code)).encode("ascii", "replace")).hexdigest()


def fresh_codes(identifier: str, holders: list[str], now: datetime) -> tuple[list[tuple[str, str]], list[ClaimCodeRecord]]:
    """(holder, code) pairs to hand out, and the records to store (in the issuing transaction)."""
    pairs = [(h, new_code()) for h in holders]
    records = [ClaimCodeRecord(code_hash(code), identifier, h, created_at=now, expires_at=now + CLAIM_CODE_VALIDITY) for h, code in pairs]
    return pairs, records


def remint(
    identifier: str, holders: list[str] | None = None, *, principal: Principal | None = None, client: str | None = None
) -> list[tuple[str, str]]:
    """New codes for a licence's holders (all, or those given); their unused codes stop working.

    With a ``principal`` (an API token) only for its department's licences of the kinds it covers
    (NotAuthorised, audited); NotFound for an unknown licence.
    """
    if principal is not None:
        owned(principal, identifier, client)  # before the transaction: a refusal's audit event stays
    with transaction():
        known = store.holders_of(identifier)
        if not known:
            get_licence(identifier)  # NotFound names an unknown licence
        wanted = [h for h in (holders or known) if h in known]
        pairs, records = fresh_codes(identifier, wanted, utcnow())
        store.replace_claim_codes(identifier, wanted, records)
    return pairs
