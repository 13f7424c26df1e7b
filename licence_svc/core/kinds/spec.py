"""What a licence kind is: its fields, and the questions every kind answers in its own module.

:class:`KindSpec` holds the data every kind has (fields, codes, page colour, uniqueness rule) and the
default answers; a kind whose document differs overrides a method in its own module
(``core/kinds/<kind>.py``). Nothing outside that module asks which kind it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol


@dataclass(frozen=True)
class FieldSpec:
    """One field of a kind. ``type`` selects the validator; ``nullable`` means null is allowed (shown as 长期)."""

    name: str
    label: str
    type: str = "text"
    nullable: bool = False
    optional: bool = False
    choices: tuple[str, ...] = ()
    max_length: int = 64
    printed: bool = True  # False: kept in the record and the embedded data, not drawn on the page


class RecordChecker(Protocol):
    """What a kind's own checks may ask of the validator (``validation.Checker``), which collects
    every problem of a record so all are reported together."""

    def add(self, path: str, reason: str) -> None: ...

    def record(self, specs: tuple[FieldSpec, ...], raw: object, prefix: str) -> dict[str, Any]: ...

    def person(self, record: Mapping[str, Any], prefix: str, number_field: str) -> None: ...

    def order(self, record: Mapping[str, Any], prefix: str, *names: str) -> None: ...


FieldCheck = Callable[[RecordChecker, FieldSpec, object, str], Any]
"""Checks one value of a kind's own field type: (checker, field, raw value, path) → normalised value,
or None after ``checker.add`` named the problem."""


@dataclass(frozen=True)
class Row:
    """One row of a page's table: a label cell and its value as the real document prints it."""

    label: str
    value: str
    size: float = 12.0
    shrinkable: bool = False  # long free text: may be set smaller so the table fits the page


@dataclass(frozen=True)
class Page:
    """One page of a licence as its kind lays it out; core.render draws it (frame, QR, seal, table)."""

    heading: str
    rows: tuple[Row, ...]
    header: str = ""  # small line above the heading (the document name on inner pages)
    intro: str = ""  # paragraph between heading and table
    intro_size: float = 12.0
    photo: bytes | None = None
    photo_rows: int = 0  # the photo sits right of this many first rows


NAME, ORG_NAME, ID_NUMBER, CREDIT_CODE, CODE, DATE = "name", "org_name", "id_number", "credit_code", "code", "date"
"""Sorts of printed value a picture check compares (:attr:`PrintedField.sort`); core.printedtext has
the rule for *same* and *different* of each."""


@dataclass(frozen=True)
class PrintedField:
    """A signed field as the page prints it: its row label and the printed value. ``values`` holds
    several when the label repeats on several pages (a household member page shows one member)."""

    field: str  # the data field (or fields, for a period): "name", "id_number", "valid_from/valid_until"
    label: str
    values: tuple[str, ...]
    sort: str


@dataclass(frozen=True)
class KindSpec:
    """Everything the platform knows about one licence kind.

    A kind's module builds one instance (of a subclass when its document needs its own layout,
    validation or CSV reading) and the registry (``kinds/registry.py``) lists it.
    """

    name: str
    label: str
    cbor_code: int
    kind_code: str  # 21 characters: the defining authority's credit code + 3 digits (GB/T 36904)
    fields: tuple[FieldSpec, ...]
    expiry_field: str | None
    member_fields: tuple[FieldSpec, ...] = field(default=())
    heading: str = ""  # the title printed on the document (title() may build it from the data)
    accent: str = "#333333"  # colour of frame, title and label cells (#rrggbb)
    issue_label: str = "发证日期"  # the label of the issue date under the seal
    key_fields: tuple[str, ...] = ()  # uniqueness rule: dotted paths naming "the same licence" in a bulk import
    identity_field: str | None = None  # a GB 11643 number whose birth date and sex the record must agree with
    date_order: tuple[str, ...] = ()  # dates that must not go backwards, in this order
    start_field: str | None = None  # the date the validity period starts on (a field check's "valid on")
    page_labels: tuple[tuple[str, ...], ...] = ()  # the row labels of each page layout, as pages() prints them
    names_representatives: bool = False  # an organisation's licence: its other holders are its legal representatives

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def title(self, data: Mapping[str, Any]) -> str:
        """The heading printed on the document."""
        return self.heading

    def holder_ids(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        """Identifiers of everyone the licence belongs to (id numbers or credit codes)."""
        return (data["id_number"],)

    def holder_name(self, data: Mapping[str, Any]) -> str:
        """The name shown (masked) on the QR: the person, the head of household, or the company."""
        return str(data["name"])

    def expiry_date(self, data: Mapping[str, Any]) -> date | None:
        if self.expiry_field is None or data.get(self.expiry_field) is None:
            return None
        return date.fromisoformat(data[self.expiry_field])

    # -- validation ------------------------------------------------------------------------------

    def value_check(self, field_type: str) -> FieldCheck | None:
        """The check of a field type only this kind has (None: one of the shared types)."""
        return None

    def check(self, checker: RecordChecker, record: Mapping[str, Any], prefix: str) -> None:
        """Rules across fields, after each field was checked on its own: the identity number agrees
        with birth date and sex, and dates do not go backwards."""
        if self.identity_field is not None:
            checker.person(record, prefix, self.identity_field)
        checker.order(record, prefix, *self.date_order)

    def claim_subject(self, stored: Mapping[str, Any], holder: str, fold: Callable[[str], str]) -> dict[str, Any]:
        """The stored values a field-match claim about ``holder`` is compared with: the whole record.
        ``fold`` turns an identifier into to its comparable form (so holder numbers compare as codes)."""
        return dict(stored)

    # -- the page --------------------------------------------------------------------------------

    def pages(self, data: Mapping[str, Any]) -> tuple[Page, ...]:
        """The pages of the document, top to bottom; ``data`` is normalised by ``validate``."""
        raise ValueError(f"no page layout for kind {self.name!r}")

    def printed_fields(self, data: Mapping[str, Any]) -> tuple[PrintedField, ...]:
        """The signed fields the page prints in its table that OCR can be held to: names, id numbers
        and codes, dates, as :meth:`pages` prints them (addresses, authorities and scopes wrap and are
        left to the clerk; the issue date is printed under the seal). None by default."""
        return ()

    # -- bulk import -----------------------------------------------------------------------------

    def csv_cell(self, name: str, text: str) -> Any:
        """A CSV cell of field ``name`` as the validator expects it: cells are text, empty means null.
        Raises InvalidInput naming the field when the cell cannot be read."""
        return None if text == "" else text

    def natural_key(self, data: Mapping[str, Any]) -> str:
        """The values of :attr:`key_fields` in a normalised record, joined with ':' (one path: its value)."""
        return ":".join(str(_at(data, path)) for path in self.key_fields)


def _at(data: Any, path: str) -> Any:
    """The value at a dotted path; a number steps into a list (``members.0.id_number``)."""
    for step in path.split("."):
        data = data[int(step)] if step.isdigit() else data[step]
    return data
