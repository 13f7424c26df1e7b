"""Request bodies: the one place a view reads JSON, so every body is refused the same way, never
with a 500: hostile JSON (``core.strictjson``'s to say) is a 422 naming ``body``; a body of the
wrong shape is a 422 naming each field, checked against the very schema the view's operation
declares in the OpenAPI document (Draft 2020-12, with jsonschema).

The schema check is for structure (types, required and unknown fields, lengths, enums); what
the domain validates (a kind's data, check digits, dates) stays in core and the services, which
report every problem at once.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, overload

from flask import current_app, request
from jsonschema import Draft202012Validator, ValidationError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ..core import strictjson
from ..errors import FieldProblem, InvalidInput, PayloadTooLarge

JSON = "application/json"
MAX_JSON_BYTES = 2 * 1024 * 1024  # a record with a 512 KiB photo fits with room to spare
MAX_FIELD_NAME = 100  # an unknown field's name is cut to this in the answer
SCHEMAS = "licence_body_schemas"  # app.extensions key of the app's BodySchemas
DOCUMENT_URI = "urn:licence-platform:openapi"  # the document's name in the registry

TYPE_NAMES = {
    "string": "a string",
    "object": "a JSON object",
    "integer": "an integer",
    "number": "a number",
    "array": "a JSON array",
    "boolean": "true or false",
    "null": "null",
}


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


@overload
def read_body(*, max_bytes: int = ..., required: Literal[True] = ..., checked_by_service: Sequence[str] = ...) -> dict[str, Any]: ...
@overload
def read_body(*, max_bytes: int = ..., required: bool, checked_by_service: Sequence[str] = ...) -> dict[str, Any] | None: ...
def read_body(*, max_bytes: int = MAX_JSON_BYTES, required: bool = True, checked_by_service: Sequence[str] = ()) -> dict[str, Any] | None:
    """The request's JSON body (:func:`read_json`), valid against the request-body schema of the
    operation this request is for; InvalidInput lists every structure problem at once.

    ``checked_by_service`` names top-level members whose content the service validates in full
    (a licence's ``data``: core.kinds accepts input forms the stored form in the schema does not,
    such as 汉族 or "C1E", and names every problem at once); only their own type is checked here.
    """
    _check_size(request.content_length, max_bytes)
    if not required and not request.is_json:
        return None
    body = read_json(max_bytes=max_bytes)
    schemas: BodySchemas = current_app.extensions[SCHEMAS]
    problems = schemas.problems(request.url_rule.rule if request.url_rule else "", request.method, body, checked_by_service)
    if problems:
        raise InvalidInput(problems)
    if not isinstance(body, dict):  # every request-body schema is an object; this one said so too
        raise _body_problem("must be a JSON object")
    return body


# ---- the schemas, from the OpenAPI document -----------------------------------------------------


@functools.lru_cache(maxsize=256)  # a process has a few dozen rules; every JSON request asks
def openapi_path(rule: str) -> str:
    """The OpenAPI path template of a Flask URL rule: /licences/<identifier> → /licences/{identifier}."""
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


_SIMPLE_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "null": lambda v: v is None,
}
_ANNOTATIONS = {"description", "title", "format", "examples"}  # assert nothing in Draft 2020-12 as jsonschema runs it


def _simple_member(schema: Any) -> Callable[[Any], bool] | None:
    """A check of one member whose schema uses only type, length, enum and pattern keywords;
    None for anything else."""
    if not isinstance(schema, dict) or set(schema) - _ANNOTATIONS - {"type", "minLength", "maxLength", "enum", "pattern"}:
        return None
    types = schema.get("type")
    names: list[str] = [n for n in (types if isinstance(types, list) else [types]) if isinstance(n, str) and n in _SIMPLE_TYPES]
    if not names or len(names) != (len(types) if isinstance(types, list) else 1):
        return None
    type_checks = [_SIMPLE_TYPES[n] for n in names]
    low, high, enum = schema.get("minLength", 0), schema.get("maxLength"), schema.get("enum")
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None

    def check(value: Any) -> bool:
        if not any(t(value) for t in type_checks):
            return False
        if isinstance(value, str) and (len(value) < low or (high is not None and len(value) > high) or (pattern and not pattern.search(value))):
            return False
        return enum is None or any(value == e and type(value) is type(e) for e in enum)

    return check


def _simple_check(schema: Any) -> Callable[[Any], bool] | None:
    """For a body schema that is an object of simple members (``{"qr": string}``, the hottest
    body), a plain-Python check that says True only when jsonschema would find no error: valid
    bodies skip jsonschema (35 µs); anything else, and every other schema, goes through it."""
    if not isinstance(schema, dict) or schema.get("type") != "object" or set(schema) - _ANNOTATIONS - {"type", "properties", "required", "additionalProperties"}:
        return None
    extra = schema.get("additionalProperties", True)
    if extra not in (True, False):
        return None
    members = {name: _simple_member(sub) for name, sub in schema.get("properties", {}).items()}
    if any(m is None for m in members.values()):
        return None
    checks = {name: m for name, m in members.items() if m is not None}
    required = tuple(schema.get("required", ()))

    def check(body: Any) -> bool:
        if not isinstance(body, dict) or any(r not in body for r in required):
            return False
        for name, value in body.items():
            member = checks.get(name)
            if member is None:
                if not extra:
                    return False
            elif not member(value):
                return False
        return True

    return check


def _absolute_refs(node: Any) -> Any:
    """A copy of a schema taken out of the document, its local ``$ref``s (#/components/...)
    made to name the document, so they resolve through the registry from wherever it is used."""
    if isinstance(node, dict):
        return {k: (DOCUMENT_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#") else _absolute_refs(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_absolute_refs(v) for v in node]
    return node


class BodySchemas:
    """A Draft 2020-12 validator for the JSON request body of every operation in an OpenAPI
    document, its ``$ref``s resolved in the document through one registry: built once per app
    (the document does not change while the process runs)."""

    def __init__(self, document: dict[str, Any]) -> None:
        registry: Registry[Any] = Registry().with_resource(
            DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        resolver = registry.resolver(DOCUMENT_URI)
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}
        self._simple: dict[tuple[str, str], Callable[[Any], bool]] = {}
        for path, item in document["paths"].items():
            for method, op in item.items():
                if JSON in op.get("requestBody", {}).get("content", {}):
                    schema = op["requestBody"]["content"][JSON]["schema"]
                    while isinstance(schema, dict) and set(schema) == {"$ref"}:  # followed once here, not on every request
                        schema = resolver.lookup(schema["$ref"]).contents
                    self._validators[(path, method.upper())] = Draft202012Validator(_absolute_refs(schema), registry=registry)
                    simple = _simple_check(schema)
                    if simple is not None:
                        self._simple[(path, method.upper())] = simple

    def problems(self, rule: str, method: str, body: Any, checked_by_service: Sequence[str] = ()) -> list[FieldProblem]:
        """What is wrong with ``body`` for the operation of ``method`` on the URL ``rule``, each
        field once (its reasons joined), in the schema's order; KeyError when the operation declares no JSON body."""
        key = (openapi_path(rule), method)
        validator = self._validators[key]
        simple = self._simple.get(key)
        if simple is not None and simple(body):
            return []
        by_field: dict[str, list[str]] = {}
        for p in _problems(validator.iter_errors(body), tuple(checked_by_service)):
            reasons = by_field.setdefault(p.field, [])
            if p.reason not in reasons:
                reasons.append(p.reason)
        # One problem per field: a number where a listed word is wanted breaks both the type and
        # the list, and the caller has one thing to fix.
        return [FieldProblem(field, "; ".join(reasons)) for field, reasons in by_field.items()]


# ---- jsonschema errors to {field, reason} --------------------------------------------------------


def _deferred(error: ValidationError, deferred: tuple[str, ...]) -> bool:
    """About the content of a member the service validates itself (a licence's fields, the form
    of an ID number): not this check's to report. Its type is."""
    path = error.absolute_path
    if not path or path[0] not in deferred:
        return False
    return len(path) > 1 or error.validator not in ("type", "oneOf", "anyOf")


def _problems(errors: Iterable[ValidationError], deferred: tuple[str, ...]) -> Iterator[FieldProblem]:
    for error in errors:
        if _deferred(error, deferred):
            continue
        if error.validator in ("oneOf", "anyOf"):
            yield from _branch_problems(error, deferred)
        else:
            yield from _error_problems(error)


def _branch_problems(error: ValidationError, deferred: tuple[str, ...]) -> list[FieldProblem]:
    """A oneOf/anyOf that failed, said as the branch the body was meant for: branches whose
    discriminator (a const or type) does not match are not meant; one branch left, its problems;
    none, what the discriminators allow; several, what they have in common."""
    if not error.context:  # oneOf: more than one branch matched
        path = error.absolute_path
        if path and path[0] in deferred:
            return []
        return [FieldProblem(_field(path), "matches more than one of the allowed forms")]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    if len(branches) < len(_as_list(error.validator_value)):  # a branch with no error matched
        return []
    outcomes = {i: (_misses(subs, error), list(dict.fromkeys(_problems(subs, deferred)))) for i, subs in branches.items()}
    if any(not problems for _miss, problems in outcomes.values()):
        return []  # the only errors of a branch were inside a member the service checks
    meant = [problems for miss, problems in outcomes.values() if not miss]
    if len(meant) == 1:
        return meant[0]
    if not meant:
        return _discriminator_problems([sub for subs in branches.values() for sub in subs if _is_miss(sub, error)])
    common = [p for p in meant[0] if all(p in other for other in meant[1:])]
    return common or [FieldProblem(_field(error.absolute_path), "does not match any of the allowed forms")]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_miss(sub: ValidationError, parent: ValidationError) -> bool:
    """A discriminator mismatch: the alternative is of another type, or one of its own members
    has another constant (``kind`` of a LicenceRequest)."""
    depth = len(sub.absolute_path) - len(parent.absolute_path)
    return (sub.validator == "type" and depth == 0) or (sub.validator in ("const", "enum") and depth == 1)


def _misses(subs: list[ValidationError], parent: ValidationError) -> bool:
    return any(_is_miss(sub, parent) for sub in subs)


def _discriminator_problems(misses: list[ValidationError]) -> list[FieldProblem]:
    """One problem per place, naming every value or type the alternatives allow there."""
    allowed: dict[str, list[str]] = {}
    for sub in misses:
        words = allowed.setdefault(_field(sub.absolute_path), [])
        if sub.validator == "type":
            words += [TYPE_NAMES.get(t, t) for t in _as_list(sub.validator_value)]
        elif sub.validator == "const":
            words.append(_value(sub.validator_value))
        else:
            words += [_value(v) for v in sub.validator_value]
    return [FieldProblem(field, "must be " + _one_of(list(dict.fromkeys(words)))) for field, words in allowed.items()]


def _one_of(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    if len(words) <= 3:
        return ", ".join(words[:-1]) + " or " + words[-1]
    return "one of " + ", ".join(words)


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _field(path: Iterable[Any], name: str | None = None) -> str:
    parts = [str(p)[:MAX_FIELD_NAME] for p in path]
    if name is not None:
        parts.append(name[:MAX_FIELD_NAME])
    return ".".join(parts) or "body"


def _error_problems(error: ValidationError) -> list[FieldProblem]:
    """The problems one jsonschema error stands for, as {field, reason} (a dotted path; an item
    of a list of values is named by its list, the item's number in the reason)."""
    path = list(error.absolute_path)
    prefix = ""
    if path and isinstance(path[-1], int):
        prefix = f"item {path[-1] + 1}: "
        path = path[:-1]
    v, value, instance = error.validator, error.validator_value, error.instance
    if "propertyNames" in error.absolute_schema_path:
        return [FieldProblem(_field(path, str(instance)), "unknown field")]
    if v == "required":
        return [FieldProblem(_field(path, name), "missing") for name in value if isinstance(instance, dict) and name not in instance]
    if v == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        return [FieldProblem(_field(path, name), "unknown field") for name in instance if name not in known]
    reason = _reason(str(v), value, error.message)
    return [FieldProblem(_field(path), prefix + reason)]


def _reason(v: str, value: Any, message: str) -> str:
    if v == "type":
        return "must be " + _one_of([TYPE_NAMES.get(t, t) for t in _as_list(value)])
    if v == "enum":
        return "must be " + _one_of([_value(x) for x in value if x is not None])
    if v == "const":
        return f"must be {_value(value)}"
    if v == "minLength":
        return "must not be empty" if value == 1 else f"shorter than {value} characters"
    if v == "maxLength":
        return f"longer than {value} characters"
    if v == "pattern":
        return f"not of the expected form ({value})"
    if v == "minimum":
        return f"must be at least {value}"
    if v == "maximum":
        return f"must be at most {value}"
    if v == "minItems":
        return f"fewer than {value} items"
    if v == "maxItems":
        return f"more than {value} items"
    if v == "maxProperties":
        return f"more than {value} fields"
    if v == "uniqueItems":
        return "items must not repeat"
    return message[:200]
