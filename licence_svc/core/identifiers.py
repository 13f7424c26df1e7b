"""Licence identifiers (证照标识) in the shape of GB/T 36904.

``1.2.156.3005.2.<kind code>.<issuer code>.<serial>.<version>.<check>``
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from ..errors import Conflict, InvalidInput
from .checkdigits import credit_code_problem, mod37_36_check_char

PREFIX = "1.2.156.3005.2"
SERIAL_LENGTH = 16  # 36**16 > 2**82: well over the 64 random bits required
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Matched with fullmatch, never ``^...$``: ``$`` also matches before a trailing newline, and
# ``\d`` matches every Unicode digit.
_SHAPE = re.compile(
    r"1\.2\.156\.3005\.2\.(?P<kind>[0-9A-Z]{21})\.(?P<issuer>[0-9A-Z]{18})\."
    r"(?P<serial>[0-9A-Z]{8,32})\.(?P<version>[0-9]{3})\.(?P<check>[0-9A-Z])"
)
_KIND_CODE = re.compile(r"[0-9A-Z]{21}")
_ISSUER_CODE = re.compile(r"[0-9A-Z]{18}")
_SERIAL = re.compile(r"[0-9A-Z]{8,32}")


@dataclass(frozen=True)
class LicenceId:
    """The parts of an identifier, each of its shape (raises InvalidInput otherwise): so the check
    character and the printed form exist for every LicenceId, whatever a payload held."""

    kind_code: str
    issuer_code: str
    serial: str
    version: int

    def __post_init__(self) -> None:
        shapes_ok = (
            isinstance(self.kind_code, str)
            and isinstance(self.issuer_code, str)
            and isinstance(self.serial, str)
            and _KIND_CODE.fullmatch(self.kind_code)
            and _ISSUER_CODE.fullmatch(self.issuer_code)
            and _SERIAL.fullmatch(self.serial)
        )
        if not shapes_ok:
            raise InvalidInput.single("identifier", "kind code, issuer code or serial is not of its shape (0-9A-Z)")
        if type(self.version) is not int or not 1 <= self.version <= 999:
            raise InvalidInput.single("identifier", "version must be an integer from 1 to 999")

    @property
    def check(self) -> str:
        return mod37_36_check_char(self.kind_code + self.issuer_code + self.serial + f"{self.version:03d}")

    def __str__(self) -> str:
        return f"{PREFIX}.{self.kind_code}.{self.issuer_code}.{self.serial}.{self.version:03d}.{self.check}"

    def next_version(self) -> LicenceId:
        if self.version >= 999:
            raise Conflict("licence has reached version 999; issue a new licence instead")
        return LicenceId(self.kind_code, self.issuer_code, self.serial, self.version + 1)


def new_serial() -> str:
    """A fresh serial from the OS CSPRNG: unguessable and not sequential."""
    return "".join(secrets.choice(_ALNUM) for _ in range(SERIAL_LENGTH))


def new_licence_id(kind_code: str, issuer_code: str) -> LicenceId:
    return LicenceId(kind_code, issuer_code, new_serial(), 1)


def parse_licence_id(text: str, *, field: str = "identifier") -> LicenceId:
    """Parse and fully validate an identifier, check character included; raises InvalidInput."""
    m = _SHAPE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not m:
        raise InvalidInput.single(field, "not a licence identifier of the form 1.2.156.3005.2.<kind>.<issuer>.<serial>.<version>.<check>")
    if credit_code_problem(m["issuer"]) is not None:
        raise InvalidInput.single(field, "issuer code is not a valid unified social credit code")
    if credit_code_problem(m["kind"][:18]) is not None:
        raise InvalidInput.single(field, "kind code does not start with a valid unified social credit code")
    version = int(m["version"])
    if version < 1:
        raise InvalidInput.single(field, "version starts at 001")
    lid = LicenceId(m["kind"], m["issuer"], m["serial"], version)
    if lid.check != m["check"]:
        raise InvalidInput.single(field, "check character mismatch")
    return lid


def is_valid_licence_id(text: str) -> bool:
    try:
        parse_licence_id(text)
    except InvalidInput:
        return False
    return True
