"""Licence rows: inserts and look-ups, with database failures turned into domain errors."""

from __future__ import annotations

from typing import Any

import peewee

from ..errors import Conflict, Unavailable
from .db import database
from .models import Licence


def insert_licence(**fields: Any) -> Licence:
    """Insert one licence in its own transaction.

    Raises Conflict when the identifier or serial is taken, Unavailable when the database is down.
    """
    try:
        with database.atomic():
            return Licence.create(**fields)
    except peewee.IntegrityError as exc:
        raise Conflict("identifier already taken") from exc
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        raise Unavailable("the register is unavailable") from exc


def find_licence(identifier: str) -> Licence | None:
    try:
        return Licence.get_or_none(Licence.identifier == identifier)
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        raise Unavailable("the register is unavailable") from exc
