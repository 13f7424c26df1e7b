"""Request bodies: the one place a blueprint reads JSON, so hostile JSON is refused the same way
everywhere (422 naming ``body`` and the reason), never a 500. What counts as hostile is
``core.strictjson``'s to say."""

from __future__ import annotations

from typing import Any

from flask import request

from ..core import strictjson
from ..errors import FieldProblem, InvalidInput, PayloadTooLarge

MAX_JSON_BYTES = 2 * 1024 * 1024  # a record with a 512 KiB photo fits with room to spare


TYPE_NAMES = {str: "a string", dict: "a JSON object", int: "an integer", list: "a JSON array"}


def _body_problem(reason: str) -> InvalidInput:
    return InvalidInput.single("body", reason)


def parse_json(raw: bytes) -> Any:
    """The checked JSON value of ``raw``; InvalidInput naming ``body`` when core.strictjson refuses it."""
    try:
        return strictjson.parse_json(raw)
    except strictjson.JsonRefused as exc:
        raise _body_problem(str(exc)) from None


def _check_size(size: int | None, max_bytes: int) -> None:
    if size is not None and size > max_bytes:
        limit = f"{max_bytes // (1024 * 1024)} MiB" if max_bytes >= 1024 * 1024 else f"{max_bytes // 1024} KiB"
        raise PayloadTooLarge(f"JSON body larger than {limit}")


def read_json(*, max_bytes: int = MAX_JSON_BYTES, required: bool = True) -> Any:
    """The request's JSON body, read at most ``max_bytes`` (PayloadTooLarge past that, with or
    without Content-Length), and checked by :func:`parse_json`.

    A body that is not ``application/json`` is InvalidInput when ``required``, else None (for
    endpoints that also take uploads).
    """
    _check_size(request.content_length, max_bytes)
    if not request.is_json:
        if required:
            raise _body_problem("must be a JSON object (Content-Type: application/json)")
        return None
    raw = request.stream.read(max_bytes + 1)  # also bounds a chunked body without Content-Length
    _check_size(len(raw), max_bytes)
    if not raw.strip():
        raise _body_problem("must be a JSON object (the body is empty)")
    return parse_json(raw)


def json_object(allowed: dict[str, type], required: tuple[str, ...], *, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON object, with only the ``allowed`` fields, of their types, and every
    ``required`` one; InvalidInput lists every problem at once."""
    body = read_json(max_bytes=max_bytes)
    if not isinstance(body, dict):
        raise _body_problem("must be a JSON object (Content-Type: application/json)")
    problems = [FieldProblem(k[:100], "unknown field") for k in body if k not in allowed]
    problems += [FieldProblem(k, "missing") for k in required if k not in body]
    problems += [
        FieldProblem(k, f"must be {TYPE_NAMES[t]}")
        for k, t in allowed.items()
        if k in body and not (isinstance(body[k], t) and not (t is int and isinstance(body[k], bool)))
    ]
    if problems:
        raise InvalidInput(problems)
    return body
