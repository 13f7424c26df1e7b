"""The licence kinds: one module per kind, and the machinery they share.

Field names are a contract with department systems; labels are what the PDF shows.

Where things are:

- ``spec.py``: :class:`FieldSpec`, :class:`KindSpec` (the data and default answers of every kind)
  and the page layout types :class:`Page` and :class:`Row`;
- ``common.py``: vocabularies, person fields, authority codes and date formats several kinds share;
- ``validation.py``: the shared field types and :func:`validate`;
- ``registry.py``: :data:`KINDS`, :func:`get_kind`;
- ``<kind>.py``: one kind's fields, its own field types and cross-field rules, its page layout
  (rows, heading, accent colour, issue-date label, the row labels of each page), the printed fields
  a picture check compares (``printed_fields``), where its validity starts (``start_field``), which
  stored values a field-match claim is held to (``claim_subject``), whether its other holders are
  an organisation's legal representatives (``names_representatives``), how a CSV cell of it is
  read, and its uniqueness rule (``key_fields``: what identifies "the same licence" in a bulk import).

Adding a kind:

1. a new module ``core/kinds/<name>.py`` defining ``KIND``, a :class:`KindSpec` named ``<name>``
   (a subclass overriding ``pages`` and ``printed_fields`` at least: the layout of its document and
   what of it OCR is held to; ``page_labels`` as ``pages`` prints them; an unused ``cbor_code``;
   ``key_fields``; ``start_field`` when it has a validity period);
2. ``<name>`` added to :data:`~.registry.KIND_MODULES` (the one line that registers it);
3. its valid sample ``samples/<name>.json`` and its test vectors in ``tests/core/kinds/test_vectors.py``
   (the sample validates and renders; an invalid value, with the field and reason the validator names).

``tests/core/kinds/test_registry.py`` fails until every registered kind has all of these.
"""

from __future__ import annotations

from .common import ETHNICITIES, MOE_CODE, MPS_CODE, SAMR_CODE, SEXES
from .degree_certificate import DEGREES
from .driving_licence import VEHICLE_CLASS_PATTERN, VEHICLE_CLASSES
from .household_register import HEAD_OF_HOUSEHOLD, HOUSEHOLD_TYPES
from .registry import KIND_MODULES, KINDS, KINDS_BY_CBOR, get_kind
from .spec import FieldCheck, FieldSpec, KindSpec, Page, PrintedField, RecordChecker, Row
from .validation import IMAGE_MAGIC, MAX_PHOTO_BYTES, MAX_PHOTO_PIXELS, Checker, Renderable, validate

__all__ = [
    "DEGREES",
    "ETHNICITIES",
    "HEAD_OF_HOUSEHOLD",
    "HOUSEHOLD_TYPES",
    "IMAGE_MAGIC",
    "KINDS",
    "KINDS_BY_CBOR",
    "KIND_MODULES",
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_PIXELS",
    "MOE_CODE",
    "MPS_CODE",
    "SAMR_CODE",
    "SEXES",
    "VEHICLE_CLASSES",
    "VEHICLE_CLASS_PATTERN",
    "Checker",
    "FieldCheck",
    "FieldSpec",
    "KindSpec",
    "Page",
    "PrintedField",
    "RecordChecker",
    "Renderable",
    "Row",
    "get_kind",
    "validate",
]
