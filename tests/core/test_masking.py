"""Masking of names, ID numbers and credit codes for anything the public sees."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from licence_svc.core.masking import mask_name, mask_number

FEW = settings(max_examples=80, deadline=None, database=None)

han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("张", "张"),
        ("", ""),
        ("欧阳娜娜", "欧**娜"),
        ("刘䶮", "刘*"),  # CJK extension A
        ("王淑𠮷", "王*𠮷"),  # extension B, outside the BMP: one character, not two halves
        ("买买提·艾力", "买****力"),
        ("北京云证科技有限公司", "北京****公司"),
    ],
)
def test_mask_name_examples(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@FEW
@given(st.text(alphabet=han, min_size=3, max_size=6))
def test_mask_name_keeps_first_and_last_and_hides_the_middle(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)
    assert masked[0] == name[0] and masked[-1] == name[-1]
    assert masked[1:-1] == "*" * (len(name) - 2)


@FEW
@given(st.text(alphabet=han, min_size=2, max_size=40))
def test_mask_name_always_hides_something(name: str) -> None:
    masked = mask_name(name)
    assert masked != name
    assert "*" in masked
    assert masked[0] == name[0]


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "1101**********002X"),
        ("110101199003071233", "1101**********1233"),
        ("91350100M000100Y43", "9135**********0Y43"),
        ("91110101MA01ABCD19", "9111**********CD19"),
    ],
)
def test_mask_number_examples(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@FEW
@given(st.text(alphabet="0123456789ABCDEFGHJKLMNPQRTUWXY", min_size=9, max_size=40))
def test_mask_number_keeps_head_and_tail_and_hides_the_middle(number: str) -> None:
    masked = mask_number(number)
    assert len(masked) == len(number)
    assert masked[:4] == number[:4]
    assert masked[-4:] == number[-4:]
    assert masked[4:-4] == "*" * (len(number) - 8)


@FEW
@given(st.text(alphabet="0123456789X", min_size=1, max_size=8))
def test_mask_number_short_values_show_only_the_first_character(number: str) -> None:
    masked = mask_number(number)
    assert masked == number[0] + "*" * (len(number) - 1)


def test_mask_number_of_an_id_number_hides_birth_date() -> None:
    masked = mask_number("11010519491231002X")
    assert "19491231" not in masked
