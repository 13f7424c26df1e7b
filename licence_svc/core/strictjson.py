"""JSON from outside, read so that hostile text is refused with a reason rather than crashing
whatever reads it next.

``json.loads`` alone lets through what the rest of the code cannot survive or should not see:
nesting deep enough to exhaust the recursion limit, lone surrogates (``"\\ud800"``) that cannot be
encoded back to UTF-8 (not even in the error that names them), NaN and Infinity (not JSON), and
duplicate keys (two parsers may read two different documents). Request bodies (web) and bulk
import lines (services) both read JSON through here.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32  # the deepest real document (a household member's field) is 4 levels down


class JsonRefused(ValueError):
    """Text that is not JSON this service reads; the message says why, for the caller to name its field."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonRefused("not JSON: duplicate key in an object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise JsonRefused(f"not JSON: {name} is not a JSON number")


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_tree(value: Any, max_depth: int) -> None:
    """Depth and strings of a parsed document, walked without recursion (it may be hostile)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if _has_surrogate(node):
                raise JsonRefused("not JSON text: a key or string holds a lone surrogate (U+D800-U+DFFF), which is no character")
            continue
        if not isinstance(node, (dict, list)):
            continue
        if depth > max_depth:
            raise JsonRefused(f"nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            stack.extend((k, depth) for k in node)
            stack.extend((v, depth + 1) for v in node.values())
        else:
            stack.extend((v, depth + 1) for v in node)


def parse_json(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw`` (bytes: UTF-8, or UTF-16/32 with the RFC 8259 detection), checked.

    Raises JsonRefused: not JSON, not UTF-8 text, a duplicate key, NaN or Infinity, a lone
    surrogate in a key or a string, an integer too long to convert, or nesting deeper than
    ``max_depth``.
    """
    try:
        value = json.loads(raw, object_pairs_hook=_unique_object, parse_constant=_no_constant)
    except RecursionError:
        raise JsonRefused(f"nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise JsonRefused("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"not JSON: {exc.msg} at character {exc.pos}") from None
    except JsonRefused:
        raise
    except ValueError:  # an integer of more than 4300 digits (sys.get_int_max_str_digits)
        raise JsonRefused("not JSON this service can read: a number with too many digits") from None
    _check_tree(value, max_depth)
    return value
