"""The document font stack: which characters print, how mixed-plane text is split, ToUnicode."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licence_svc.core import fonts
from licence_svc.core.kinds import validate
from licence_svc.errors import InvalidInput
from tests.helpers import load_sample



@pytest.mark.parametrize("ch", ["张", "䶮", "𠮷", "A", "7", "（", "、", "·", " "])
def test_can_render_common_and_rare_name_characters(ch: str) -> None:
    assert fonts.can_render(ch)


@pytest.mark.parametrize(
    "ch",
    [
        "\ue000",  # private use: some fonts draw a glyph there, ours must not be trusted to
        "\U0001f600",  # emoji: neither font has it
        "\x01",  # control characters map to blank glyphs in WenQuanYi
        "\u0378",  # unassigned
    ],
)
def test_can_render_refuses_characters_without_a_real_glyph(ch: str) -> None:
    assert not fonts.can_render(ch)


@pytest.mark.parametrize("text", ["", "张三"])
def test_can_render_takes_exactly_one_character(text: str) -> None:
    assert not fonts.can_render(text)


def test_extension_b_is_set_in_hanazono_and_the_rest_in_wenquanyi() -> None:
    assert fonts.runs("王淑𠮷女士") == [(fonts.SANS, "王淑"), (fonts.EXTENDED, "𠮷"), (fonts.SANS, "女士")]
    assert fonts.runs("刘䶮") == [(fonts.SANS, "刘䶮")]  # Extension A is in WenQuanYi


def test_runs_refuse_a_character_neither_font_has() -> None:
    with pytest.raises(ValueError, match=r"no glyph for U\+E000"):
        fonts.runs("张\ue000")


_RENDERABLE = st.sampled_from(list("张晓明刘䶮王淑𠮷𪚥𠀀𡈽 A1（），、·") + ["\U0002a6a5"])


@given(st.text(alphabet=_RENDERABLE, max_size=30))
def test_runs_cover_the_text_in_order_and_alternate_fonts(text: str) -> None:
    parts = fonts.runs(text)
    assert "".join(part for _, part in parts) == text
    assert all(part for _, part in parts)
    assert all(a[0] != b[0] for a, b in zip(parts, parts[1:]))


def test_validation_with_the_font_stack_accepts_the_household_sample() -> None:
    record = load_sample("household_register")
    out = validate("household_register", record, can_render=fonts.can_render)
    assert [m["name"] for m in out["members"]][:2] == ["刘䶮", "王淑𠮷"]


def test_validation_with_the_font_stack_refuses_an_unprintable_name() -> None:
    record = load_sample("id_card")
    record["name"] = "张\U0001f600明"  # printable, so only the font check can refuse it
    with pytest.raises(InvalidInput, match=r"data\.name: character U\+1F600 has no glyph"):
        validate("id_card", record, can_render=fonts.can_render)


def test_to_unicode_cmap_writes_utf16_surrogate_pairs_beyond_the_bmp() -> None:
    # reportlab's own function writes <20BB7>, which readers cut to U+20BB.
    cmap = fonts._to_unicode_cmap("AAAAAA+X", [0, 32, 0x5F20, 0x20BB7])
    assert "<02> <5F20>" in cmap
    assert "<03> <D842DFB7>" in cmap
    assert "20BB7" not in cmap


def test_to_unicode_cmap_keeps_bfchar_blocks_within_100_entries() -> None:
    cmap = fonts._to_unicode_cmap("AAAAAA+X", list(range(0x4E00, 0x4E00 + 256)))
    counts = [int(n) for n in re.findall(r"^(\d+) beginbfchar$", cmap, re.M)]
    assert counts == [100, 100, 56]
    assert cmap.count("endbfchar") == 3


def test_loading_installs_the_fixed_cmap_writer() -> None:
    from reportlab.pdfbase import ttfonts

    fonts.ensure_loaded()
    assert ttfonts.makeToUnicodeCMap is fonts._to_unicode_cmap


def test_widths_come_from_the_font_that_sets_each_run() -> None:
    assert fonts.text_width("张", 10) == pytest.approx(10, rel=0.05)  # full-width ideograph
    assert fonts.text_width("𠮷", 10) == pytest.approx(10, rel=0.05)
    assert fonts.text_width("张𠮷", 10) == pytest.approx(fonts.text_width("张", 10) + fonts.text_width("𠮷", 10))
