"""Field-match checks (核验): does what a department was told agree with the register?

The answer is one flag per claimed field and nothing else, so a department confirms a fact
without receiving the record. Both sides go through the same normalisation first, because a
clerk types full-width digits, a lower-case check character or 2024/3/7 and still means the
same value; what counts as "the same" is decided here, once, for every surface.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from ..errors import FieldProblem, InvalidInput
from .kinds import VEHICLE_CLASS_PATTERN, VEHICLE_CLASSES, FieldSpec, get_kind

MAX_CLAIM_LENGTH = 1000
LONG_TERM = "长期"  # how a document prints a null end date; accepted as a claim for it

# Fields compared as codes: no whitespace at all, upper case (a typed x for the check character X).
_CODE_TYPES = frozenset({"id_number", "credit_code", "code", "digits12"})
_CODE_NAMES = frozenset({"household_number"})
_NOT_CLAIMABLE_TYPES = frozenset({"photo", "members"})

# 准驾车型 a class directly permits besides itself (GA/T rules as in the Road Traffic Safety Law's
# implementing regulations, 附件《准驾车型及代号》).
_DIRECT_PERMITS: dict[str, tuple[str, ...]] = {
    "A1": ("A3", "B1", "B2", "C1", "C2", "C3", "C4", "M"),
    "A2": ("B1", "B2", "C1", "C2", "C3", "C4", "M"),
    "A3": ("C1", "C2", "C3", "C4"),
    "B1": ("C1", "C2", "C3", "C4", "M"),
    "B2": ("C1", "C2", "C3", "C4", "M"),
    "C1": ("C2", "C3", "C4"),
    "C3": ("C4",),
    "D": ("E", "F"),
    "E": ("F",),
}


def _closure() -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for cls in VEHICLE_CLASSES:
        seen = {cls}
        todo = [cls]
        while todo:
            for nxt in _DIRECT_PERMITS.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        out[cls] = frozenset(seen)
    return out


PERMITS: dict[str, frozenset[str]] = _closure()
_SEPARATORS = re.compile(r"[\s,，、/;；]+")
_DATE_SEPARATED = re.compile(r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?")
_DATE_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")


def permitted_classes(held: Iterable[str]) -> frozenset[str]:
    """Every class the holder of ``held`` may drive: a C1 licence also permits C2, C3 and C4."""
    out: set[str] = set()
    for cls in held:
        out |= PERMITS.get(cls, frozenset({cls}))
    return frozenset(out)


def claim_specs(kind: str) -> dict[str, FieldSpec]:
    """The fields a claim about ``kind`` may name: the kind's own, without the photo and without
    nested members; a household register adds the fields of the member who is the holder."""
    spec = get_kind(kind)
    out = {f.name: f for f in spec.fields if f.type not in _NOT_CLAIMABLE_TYPES}
    for f in spec.member_fields:
        out.setdefault(f.name, f)
    return out


def claim_fields(kind: str) -> tuple[str, ...]:
    return tuple(claim_specs(kind))


# ---- normalisation ---------------------------------------------------------------------------


def normalise_text(text: str) -> str:
    """Full-width to half-width (NFKC: ＡＢ１２ → AB12, U+3000 → space), trimmed, inner runs of
    whitespace made one space."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def normalise_code(text: str) -> str:
    return "".join(normalise_text(text).split()).upper()


def normalise_date(text: str) -> str | None:
    """YYYY-MM-DD, or None when ``text`` is no date: 2024-3-7, 2024/03/07, 2024.3.7, 2024年3月7日, 20240307."""
    folded = normalise_code(text)
    m = _DATE_SEPARATED.fullmatch(folded) or _DATE_COMPACT.fullmatch(folded)
    if m is None:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def normalise_vehicle_classes(value: object) -> frozenset[str] | None:
    """``"C1"``, ``"C1E"``, ``"C1, E"`` or ``["C1", "E"]`` as a set of classes; None when any part is not a class."""
    if isinstance(value, str):
        parts = [normalise_code(p) for p in _SEPARATORS.split(unicodedata.normalize("NFKC", value))]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = [normalise_code(v) for v in value]
    else:
        return None
    out: set[str] = set()
    for part in parts:
        if not part:
            continue
        tokens = VEHICLE_CLASS_PATTERN.findall(part)
        if "".join(tokens) != part:
            return None
        out.update(tokens)
    return frozenset(out) or None


def _normalise(spec: FieldSpec, value: Any) -> Any:
    """The comparable form of one value of ``spec``; None for an absent/long-term value; raises
    ValueError with the reason when the value cannot be of this field at all."""
    if spec.type == "vehicle_classes":
        classes = normalise_vehicle_classes(value)
        if classes is None:
            raise ValueError(f"must name vehicle classes ({' '.join(VEHICLE_CLASSES)})")
        return classes
    if value is None:
        if spec.nullable:
            return None
        raise ValueError("must be a string")
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) > MAX_CLAIM_LENGTH:
        raise ValueError(f"longer than {MAX_CLAIM_LENGTH} characters")
    if spec.nullable and normalise_text(value) == LONG_TERM:
        return None
    if spec.type == "date":
        iso = normalise_date(value)
        if iso is None:
            raise ValueError("must be a date as YYYY-MM-DD" + (f" (or {LONG_TERM})" if spec.nullable else ""))
        return iso
    if spec.type in _CODE_TYPES or spec.name in _CODE_NAMES:
        return normalise_code(value)
    text = normalise_text(value)
    if spec.type == "ethnicity" and text.endswith("族"):
        text = text[:-1]
    return text


def normalise_claims(kind: str, claims: object, *, prefix: str = "claims") -> dict[str, Any]:
    """The claims in comparable form. Raises InvalidInput naming ``claims.<field>`` for a field the
    kind does not have and for a value that cannot be one of that field (a malformed date, a
    number, an unknown vehicle class): such a claim is a mistake of the caller, not a mismatch."""
    if not isinstance(claims, Mapping):
        raise InvalidInput.single(prefix, "must be a JSON object")
    specs = claim_specs(kind)
    problems: list[FieldProblem] = []
    out: dict[str, Any] = {}
    for name, value in claims.items():
        path = f"{prefix}.{name}"
        spec = specs.get(name) if isinstance(name, str) else None
        if spec is None:
            problems.append(FieldProblem(path, f"not a field a {kind} check accepts; expected one of {', '.join(specs)}"))
            continue
        try:
            out[name] = _normalise(spec, value)
        except ValueError as exc:
            problems.append(FieldProblem(path, str(exc)))
    if problems:
        raise InvalidInput(problems)
    return out


# ---- matching --------------------------------------------------------------------------------


def _subject(kind: str, stored: Mapping[str, Any], holder: str) -> dict[str, Any]:
    """The stored values a claim is compared with, as the kind says (``claim_subject``): the record,
    or for a household register the household's fields and those of the member who is ``holder``
    (another member's never); holder numbers compare as codes."""
    return get_kind(kind).claim_subject(stored, holder, normalise_code)


def valid_on(kind: str, stored: Mapping[str, Any], on: date) -> bool:
    """Whether ``on`` falls in the licence's validity period (both ends inclusive; a null end is 长期):
    it starts on the kind's ``start_field`` and ends on its expiry field."""
    spec = get_kind(kind)
    start = spec.start_field
    if start and stored.get(start) and on < date.fromisoformat(stored[start]):
        return False
    end = spec.expiry_date(stored)
    return end is None or on <= end


def match(kind: str, stored_data: Mapping[str, Any], claims: Mapping[str, Any], holder: str, on: date | None = None) -> dict[str, bool]:
    """One flag per claimed field: does the claim agree with the stored value after normalisation?

    ``vehicle_class`` asks whether the holder may drive the claimed class(es): true when the stored
    classes include each or a class that permits it (C1 permits C2), and, when ``on`` is given,
    the licence is within its validity period on that date. A field the holder's record lacks (an
    optional one left out) never matches. Raises InvalidInput for claims :func:`normalise_claims` refuses.
    """
    wanted = normalise_claims(kind, claims)
    specs = claim_specs(kind)
    subject = _subject(kind, stored_data, holder)
    out: dict[str, bool] = {}
    for name, claim in wanted.items():
        spec = specs[name]
        if name not in subject:
            out[name] = False
            continue
        try:
            stored = _normalise(spec, subject[name])
        except ValueError:
            out[name] = False
            continue
        if spec.type == "vehicle_classes":
            out[name] = claim <= permitted_classes(stored) and (on is None or valid_on(kind, stored_data, on))
        else:
            out[name] = claim == stored
    return out


def no_match(kind: str, claims: Mapping[str, Any]) -> dict[str, bool]:
    """The answer when there is no licence: the claims are still checked for form (so a refused
    field reads the same with or without a licence), and every flag is false."""
    return {name: False for name in normalise_claims(kind, claims)}

