"""The registry: which kinds exist, in the order the platform lists them.

A kind is registered by naming its module in :data:`KIND_MODULES`; the module's ``KIND`` is its spec.
"""

from __future__ import annotations

from importlib import import_module

from ...errors import InvalidInput
from .spec import KindSpec

KIND_MODULES = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")
"""One entry per kind: ``core/kinds/<entry>.py`` holds it, and its ``KIND.name`` is the entry."""


def _load(module: str) -> KindSpec:
    kind = getattr(import_module(f"{__package__}.{module}"), "KIND", None)
    if not isinstance(kind, KindSpec) or kind.name != module:
        raise TypeError(f"core/kinds/{module}.py must define KIND, a KindSpec named {module!r}")
    return kind


KINDS: dict[str, KindSpec] = {name: _load(name) for name in KIND_MODULES}
KINDS_BY_CBOR = {k.cbor_code: k for k in KINDS.values()}


def get_kind(name: object, *, field_name: str = "kind") -> KindSpec:
    """The spec of kind ``name``; raises InvalidInput naming the field when it is unknown."""
    if isinstance(name, str) and name in KINDS:
        return KINDS[name]
    raise InvalidInput.single(field_name, f"unknown licence kind; expected one of {', '.join(KINDS)}")
