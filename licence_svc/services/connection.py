"""The register's connection as the surfaces see it: opened for a web request and kept for the next,
and a database failure that escaped a use case told apart from a bug, without web importing storage."""

from __future__ import annotations

from ..storage import db


def open_connection() -> None:
    """Open this thread's connection for a request (reconnecting after a database restart);
    Unavailable when the register cannot be reached."""
    db.connect()


def close_connection() -> None:
    """Close this thread's connection, if open: the next request opens its own."""
    db.close()


def release_connection() -> None:
    """End of a request: keep the connection for the next one, unless it failed (then the next
    request reconnects, and sees a restarted database)."""
    db.release()


def is_register_failure(exc: BaseException) -> bool:
    """A database failure that escaped the use cases: the register is unavailable (503), not a bug."""
    return db.is_database_error(exc)
