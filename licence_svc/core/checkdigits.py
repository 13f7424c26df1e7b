"""Check characters of the national identifier standards.

Pure functions so validators, identifier minting and tests share one implementation.
"""

from __future__ import annotations

import re
from datetime import date

# Every pattern here is applied with fullmatch: ``$`` would also match before a trailing newline.

# GB 11643-1999: citizen identity number, ISO 7064 MOD 11-2.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")

# GB 32100-2015: unified social credit code.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_SHAPE = re.compile(rf"[{CREDIT_ALPHABET}]{{18}}")

# ISO/IEC 7064 MOD 37,36 (hybrid system) over 0-9A-Z.
_ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM36_VALUE = {c: i for i, c in enumerate(_ALNUM36)}
# MOD 37,36 step as a table: next P for (P, character), so the loop is one lookup per character
# (every verification computes the check character of the identifier it reads).
_MOD37_STEP = [{c: (2 * ((p + v) % 36 or 36)) % 37 for c, v in _ALNUM36_VALUE.items()} for p in range(37)]


def id_number_check_char(first17: str) -> str:
    """Check character of the first 17 digits of a citizen identity number."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("need 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


def id_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid citizen identity number, or None when it is."""
    if not isinstance(value, str) or not _ID_SHAPE.fullmatch(value):
        return "must be 18 characters: 17 digits then a digit or X"
    if id_number_check_char(value[:17]) != value[17]:
        return "check digit mismatch"
    birth = id_number_birth_date(value)
    if birth is None:
        return "birth date in the number is not a real date"
    return None


def id_number_birth_date(value: str) -> date | None:
    """The birth date encoded in characters 7-14, or None when it is not a real date."""
    try:
        return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


def id_number_sex(value: str) -> str:
    """男 for an odd sequence digit (character 17), 女 for even, as GB 11643 assigns."""
    return "男" if int(value[16]) % 2 else "女"


def credit_code_check_char(first17: str) -> str:
    """Check character of the first 17 characters of a unified social credit code."""
    if len(first17) != 17 or any(c not in CREDIT_ALPHABET for c in first17):
        raise ValueError("need 17 characters of the credit code alphabet")
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(value: str) -> str | None:
    """Why ``value`` is not a valid unified social credit code, or None when it is."""
    if not isinstance(value, str) or not _CREDIT_SHAPE.fullmatch(value):
        return f"must be 18 characters of {CREDIT_ALPHABET}"
    if credit_code_check_char(value[:17]) != value[17]:
        return "check character mismatch"
    return None


def mod37_36_check_char(text: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character over upper-case alphanumerics."""
    p = 36
    step = _MOD37_STEP
    try:
        for ch in text:
            p = step[p][ch]
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not 0-9A-Z") from None
    return _ALNUM36[(37 - p) % 36]
