"""Check characters of GB 11643 (ID numbers), GB 32100 (credit codes) and ISO/IEC 7064 MOD 37,36.

Each algorithm is re-implemented below straight from the specification, independently of the
code under test, and the two are compared over random inputs (hypothesis).
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_svc.core.checkdigits import (
    CREDIT_ALPHABET,
    credit_code_check_char,
    credit_code_problem,
    id_number_birth_date,
    id_number_check_char,
    id_number_problem,
    id_number_sex,
    mod37_36_check_char,
)

# ---------------------------------------------------------------------------------------------
# Reference implementations, written from the specification only.
# ---------------------------------------------------------------------------------------------

REF_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
REF_ID_CHECK = "10X98765432"

REF_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
REF_CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def ref_id_check(first17: str) -> str:
    total = 0
    for i in range(17):
        total += int(first17[i]) * REF_ID_WEIGHTS[i]
    return REF_ID_CHECK[total % 11]


def ref_credit_check(first17: str) -> str:
    total = 0
    for i in range(17):
        total += REF_CREDIT_ALPHABET.index(first17[i]) * REF_CREDIT_WEIGHTS[i]
    c = 31 - total % 31
    if c == 31:
        c = 0
    return REF_CREDIT_ALPHABET[c]


def ref_mod37_36(text: str) -> str:
    p = 36
    for ch in text:
        s = (p + ALNUM36.index(ch)) % 36
        if s == 0:
            s = 36
        p = (2 * s) % 37
    return ALNUM36[(37 - p) % 36]


def make_id_number(region: str, born: date, seq: str) -> str:
    first17 = region + born.strftime("%Y%m%d") + seq
    return first17 + ref_id_check(first17)


# Strategies
digits17 = st.text(alphabet="0123456789", min_size=17, max_size=17)
credit17 = st.text(alphabet=REF_CREDIT_ALPHABET, min_size=17, max_size=17)
alnum_text = st.text(alphabet=ALNUM36, min_size=1, max_size=60)
birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))
regions = st.from_regex(r"[1-9][0-9]{5}", fullmatch=True)
sequences = st.from_regex(r"[0-9]{3}", fullmatch=True)

FEW = settings(max_examples=60, deadline=None, database=None)


# ---------------------------------------------------------------------------------------------
# The reference itself, against published examples.
# ---------------------------------------------------------------------------------------------

PUBLISHED_ID_NUMBERS = [
    "11010519491231002X",  # the example printed in GB 11643-1999
    "110101199003071233",  # samples/id_card.json
    "320102199812302084",  # samples/degree_certificate.json
    "440305198501194170",  # samples/driving_licence.json
]
PUBLISHED_CREDIT_CODES = [
    "91350100M000100Y43",  # widely published example of GB 32100
    "91110101MA01ABCD19",  # samples/business_licence.json
]


@pytest.mark.parametrize("number", PUBLISHED_ID_NUMBERS)
def test_reference_agrees_with_published_id_numbers(number: str) -> None:
    assert ref_id_check(number[:17]) == number[17]


@pytest.mark.parametrize("code", PUBLISHED_CREDIT_CODES)
def test_reference_agrees_with_published_credit_codes(code: str) -> None:
    assert ref_credit_check(code[:17]) == code[17]


def test_reference_mod37_36_agrees_with_iso_7064_example() -> None:
    # ISO/IEC 7064 example for MOD 37,36: A12425GABC1234002 → M
    assert ref_mod37_36("A12425GABC1234002") == "M"


# ---------------------------------------------------------------------------------------------
# GB 11643: citizen identity numbers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", PUBLISHED_ID_NUMBERS)
def test_published_id_numbers_are_valid(number: str) -> None:
    assert id_number_check_char(number[:17]) == number[17]
    assert id_number_problem(number) is None


@FEW
@given(digits17)
def test_id_check_char_matches_reference(first17: str) -> None:
    assert id_number_check_char(first17) == ref_id_check(first17)


@FEW
@given(regions, birth_dates, sequences)
def test_generated_id_numbers_are_valid_and_decode(region: str, born: date, seq: str) -> None:
    number = make_id_number(region, born, seq)
    assert id_number_problem(number) is None
    assert id_number_birth_date(number) == born
    assert id_number_sex(number) == ("男" if int(seq[2]) % 2 else "女")


def test_mod11_2_detects_every_single_substitution_mathematically() -> None:
    # Every weight is non-zero mod 11 and 11 is prime, so changing one digit by d (0 < |d| < 11)
    # changes the sum mod 11; and the check table maps the 11 residues to 11 distinct characters.
    assert all(w % 11 for w in REF_ID_WEIGHTS)
    assert len(set(REF_ID_CHECK)) == 11
    for w in REF_ID_WEIGHTS:
        assert all((w * d) % 11 for d in range(1, 10))


@pytest.mark.parametrize("number", PUBLISHED_ID_NUMBERS)
def test_every_single_substitution_of_an_id_number_is_rejected(number: str) -> None:
    for i, original in enumerate(number):
        for ch in "0123456789Xx":
            if ch == original:
                continue
            changed = number[:i] + ch + number[i + 1 :]
            assert id_number_problem(changed) is not None, changed


@FEW
@given(regions, birth_dates, sequences, st.data())
def test_random_single_substitution_of_an_id_number_is_rejected(
    region: str, born: date, seq: str, data: st.DataObject
) -> None:
    number = make_id_number(region, born, seq)
    i = data.draw(st.integers(0, 17))
    ch = data.draw(st.sampled_from("0123456789X").filter(lambda c: c != number[i]))
    assert id_number_problem(number[:i] + ch + number[i + 1 :]) is not None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("11010519491231002", "must be 18 characters"),
        ("11010519491231002XX", "must be 18 characters"),
        ("01010519491231002X", "must be 18 characters"),  # first digit is never 0
        ("11010519491231002x", "must be 18 characters"),  # lower-case x: callers upper-case first
        ("1101051949123100 X", "must be 18 characters"),
        ("", "must be 18 characters"),
        ("110105194912310021", "check digit mismatch"),
    ],
)
def test_id_number_problem_reasons(value: str, reason: str) -> None:
    problem = id_number_problem(value)
    assert problem is not None and problem.startswith(reason)


@pytest.mark.parametrize("birth", ["19490230", "20230230", "19001301", "19000000", "00000101", "20230431"])
def test_id_number_with_impossible_birth_date_is_rejected(birth: str) -> None:
    first17 = "110105" + birth + "002"
    number = first17 + ref_id_check(first17)  # the check digit is right; only the date is wrong
    assert id_number_problem(number) == "birth date in the number is not a real date"
    assert id_number_birth_date(number) is None


def test_id_number_leap_day_is_real() -> None:
    first17 = "11010520000229003"
    number = first17 + ref_id_check(first17)
    assert id_number_problem(number) is None
    assert id_number_birth_date(number) == date(2000, 2, 29)


def test_id_number_sex_follows_parity_of_digit_17() -> None:
    assert id_number_sex("11010519491231002X") == "女"
    assert id_number_sex("110101199003071233") == "男"
    assert id_number_sex("440305198501194170") == "男"


@pytest.mark.parametrize("bad", ["1101051949123100", "110105194912310021", "1101051949123100A", "11010519491231 02"])
def test_id_number_check_char_refuses_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="need 17 digits"):
        id_number_check_char(bad)


def test_id_number_with_trailing_newline_is_rejected() -> None:
    assert id_number_problem("11010519491231002X\n") is not None


@pytest.mark.parametrize("foreign", ["１", "١", "१"])  # full-width, Arabic-Indic, Devanagari ONE
def test_id_number_with_non_ascii_digit_is_rejected(foreign: str) -> None:
    number = "11010519491231002X"
    changed = number[:1] + foreign + number[2:]  # same digit value 1, different character
    assert id_number_problem(changed) is not None


# ---------------------------------------------------------------------------------------------
# GB 32100: unified social credit codes
# ---------------------------------------------------------------------------------------------


def test_credit_alphabet_is_the_published_one() -> None:
    assert CREDIT_ALPHABET == REF_CREDIT_ALPHABET
    assert not set("IOZSV") & set(CREDIT_ALPHABET)


@pytest.mark.parametrize("code", PUBLISHED_CREDIT_CODES)
def test_published_credit_codes_are_valid(code: str) -> None:
    assert credit_code_check_char(code[:17]) == code[17]
    assert credit_code_problem(code) is None


@FEW
@given(credit17)
def test_credit_check_char_matches_reference(first17: str) -> None:
    check = credit_code_check_char(first17)
    assert check == ref_credit_check(first17)
    assert credit_code_problem(first17 + check) is None


def test_credit_check_31_becomes_0() -> None:
    # A sum that is a multiple of 31 gives 31 − 0 = 31, written 0.
    first17 = "0" * 17
    assert credit_code_check_char(first17) == "0"
    assert credit_code_problem("0" * 18) is None


def test_gb32100_detects_every_single_substitution_mathematically() -> None:
    # 31 is prime, no weight is 0 mod 31 and two alphabet values differ by 1..30, so one changed
    # character always changes the sum mod 31; 31 − r mod 31 is a bijection on residues.
    assert all(w % 31 for w in REF_CREDIT_WEIGHTS)
    assert [pow(3, i, 31) for i in range(17)] == REF_CREDIT_WEIGHTS
    assert len({(31 - r) % 31 for r in range(31)}) == 31


@pytest.mark.parametrize("code", PUBLISHED_CREDIT_CODES)
def test_every_single_substitution_of_a_credit_code_is_rejected(code: str) -> None:
    for i, original in enumerate(code):
        for ch in ALNUM36 + "a":
            if ch == original:
                continue
            changed = code[:i] + ch + code[i + 1 :]
            assert credit_code_problem(changed) is not None, changed


@FEW
@given(credit17, st.data())
def test_random_single_substitution_of_a_credit_code_is_rejected(first17: str, data: st.DataObject) -> None:
    code = first17 + ref_credit_check(first17)
    i = data.draw(st.integers(0, 17))
    ch = data.draw(st.sampled_from(REF_CREDIT_ALPHABET).filter(lambda c: c != code[i]))
    assert credit_code_problem(code[:i] + ch + code[i + 1 :]) == "check character mismatch"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("91350100M000100Y4", "must be 18 characters of"),
        ("91350100M000100Y433", "must be 18 characters of"),
        ("91350100I000100Y43", "must be 18 characters of"),  # I is not in the alphabet
        ("91350100m000100Y43", "must be 18 characters of"),  # lower case: callers upper-case first
        ("91350100M000100Y44", "check character mismatch"),
    ],
)
def test_credit_code_problem_reasons(value: str, reason: str) -> None:
    problem = credit_code_problem(value)
    assert problem is not None and problem.startswith(reason)


@pytest.mark.parametrize("bad", ["91350100M000100Y", "91350100M000100Y43", "91350100O000100Y4"])
def test_credit_check_char_refuses_bad_input(bad: str) -> None:
    with pytest.raises(ValueError, match="need 17 characters"):
        credit_code_check_char(bad)


def test_credit_code_with_trailing_newline_is_rejected() -> None:
    assert credit_code_problem("91350100M000100Y43\n") is not None


# ---------------------------------------------------------------------------------------------
# ISO/IEC 7064 MOD 37,36
# ---------------------------------------------------------------------------------------------


def test_mod37_36_iso_example() -> None:
    assert mod37_36_check_char("A12425GABC1234002") == "M"


@FEW
@given(alnum_text)
def test_mod37_36_matches_reference(text: str) -> None:
    assert mod37_36_check_char(text) == ref_mod37_36(text)


def test_mod37_36_detects_every_single_substitution_mathematically() -> None:
    # Each step P → S = (P + v) mod 36 (0 → 36) → 2S mod 37 is, for a fixed v, a bijection of
    # 1..36; for a fixed P, distinct v give distinct S and (2 invertible mod 37) distinct P.
    # So one changed character changes the final P, and (37 − P) mod 36 is injective on 1..36.
    def step(p: int, v: int) -> int:
        s = (p + v) % 36 or 36
        return (2 * s) % 37

    for v in range(36):
        assert sorted(step(p, v) for p in range(1, 37)) == list(range(1, 37))
    for p in range(1, 37):
        assert len({step(p, v) for v in range(36)}) == 36
    assert len({(37 - p) % 36 for p in range(1, 37)}) == 36


@FEW
@given(alnum_text, st.data())
def test_mod37_36_random_single_substitution_changes_check(text: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text) - 1))
    ch = data.draw(st.sampled_from(ALNUM36).filter(lambda c: c != text[i]))
    assert mod37_36_check_char(text[:i] + ch + text[i + 1 :]) != mod37_36_check_char(text)


def test_mod37_36_every_single_substitution_of_a_fixed_text() -> None:
    text = "11100000000019000B00191350100M000100Y43ABCDEFGH12345678001"
    check = mod37_36_check_char(text)
    for i in range(len(text)):
        for ch in ALNUM36:
            if ch != text[i]:
                assert mod37_36_check_char(text[:i] + ch + text[i + 1 :]) != check


@pytest.mark.parametrize("bad", ["abc", "A-B", "A.B", "Ä", "A B"])
def test_mod37_36_refuses_characters_outside_0_9_a_z(bad: str) -> None:
    with pytest.raises(ValueError, match="is not 0-9A-Z"):
        mod37_36_check_char(bad)
