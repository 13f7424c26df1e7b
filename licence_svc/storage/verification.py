"""What an online check reads: the licence's verifiable columns and the trust epoch, in one
statement whose SQL is built once (a public check is the platform's hottest path)."""

from __future__ import annotations

from .db import compiled, execute, execute_prepared, placeholder, register_errors
from .licences import VerifiableLicence
from .models import Licence, TrustEpoch

_LICENCE_COLUMNS = ("identifier", "status", "status_category", "data_digest", "qr_text", "pdf_sha256", "holder", "superseded_by", "kid")


def _lookup_sql() -> str:
    """The epoch row joined with the licence, if any: the epoch comes back for an unknown licence too."""
    table, epochs = Licence._meta.table_name, TrustEpoch._meta.table_name
    columns = ", ".join(f'l."{c}"' for c in _LICENCE_COLUMNS)
    return f'SELECT e."epoch", {columns} FROM "{epochs}" AS e LEFT JOIN "{table}" AS l ON l."identifier" = {placeholder()} WHERE e."id" = 1'


def licence_for_verification(identifier: str) -> tuple[int, VerifiableLicence | None]:
    """(trust epoch, the licence as verification reads it, or None) in one indexed read."""
    with register_errors():
        row = execute_prepared("licence_lookup", compiled("verification.lookup", _lookup_sql), (identifier,)).fetchone()
    if row is None:
        return 0, None  # a register without the epoch row (not migrated): every check rebuilds
    if row[1] is None:
        return int(row[0]), None
    return int(row[0]), VerifiableLicence(*row[1:])


def trust_epoch() -> int:
    """The trust epoch alone: moves on every signing key or department change (migration step 8)."""
    with register_errors():
        row = execute(compiled("verification.epoch", lambda: f'SELECT "epoch" FROM "{TrustEpoch._meta.table_name}" WHERE "id" = 1')).fetchone()
    return int(row[0]) if row else 0
