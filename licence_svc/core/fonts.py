"""The document font stack: two packaged TrueType fonts, registered with reportlab once per process.

WenQuanYi Zen Hei (``wqy-zenhei.ttc``, subfont 0) covers the BMP CJK block and Extension A and sets
almost every page; Hanazono Mincho B (``HanaMinB.ttf``) covers Extensions B-F, the rare characters of
some personal names (e.g. 𠮷 U+20BB7). System fonts are never used, so a page looks the same on
every server. Both fonts are TrueType outlines, which reportlab can subset and embed (it cannot embed
CFF fonts such as Noto Sans CJK).

Loading parses ~47 MB of font data (~0.4 s), so it happens lazily, once, under a lock. Reading the
packaged font files is the only file access in the core.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reportlab.pdfbase import pdfmetrics, ttfonts

FONTS_DIR = Path(__file__).resolve().parent.parent / "fonts"

SANS = "LicenceWQYZenHei"
"""reportlab name of WenQuanYi Zen Hei: the main face of every page."""
EXTENDED = "LicenceHanaMinB"
"""reportlab name of Hanazono Mincho B: CJK Extensions B-F."""

# (reportlab name, file, subfont index), in order of preference: a character is set in the first
# font that has a real glyph for it.
_FONT_FILES: tuple[tuple[str, str, int], ...] = (
    (SANS, "wqy-zenhei.ttc", 0),
    (EXTENDED, "HanaMinB.ttf", 0),
)

# bfchar blocks of a CMap may hold at most 100 entries (PDF 32000-1:2008, 9.10.3); reportlab writes
# up to 256 in one block, which poppler tolerates but stricter readers need not.
_BFCHAR_BLOCK = 100


class _Canvas(Protocol):
    """The part of ``reportlab.pdfgen.canvas.Canvas`` the drawing helpers use."""

    def setFont(self, psfontname: str, size: float, leading: float | None = None) -> None: ...

    def drawString(self, x: float, y: float, text: str, mode: int | None = None, charSpace: float = 0, direction: str | None = None, wordSpace: float | None = None, shaping: bool = False) -> None: ...


@dataclass(frozen=True)
class _Face:
    """Glyph lookup tables of one registered font, taken from reportlab's parsed face."""

    name: str
    char_to_glyph: dict[int, int]
    glyph_pos: Sequence[int]  # the 'loca' offsets: glyph g has an outline iff pos[g+1] > pos[g]
    font: ttfonts.TTFont

    def has_glyph(self, code: int) -> bool:
        glyph = self.char_to_glyph.get(code, 0)
        if glyph == 0:
            return False
        if self.glyph_pos[glyph + 1] > self.glyph_pos[glyph]:
            return True
        # Blank glyphs are real only for spaces; control characters map to blanks in WenQuanYi.
        return chr(code).isspace()


_lock = threading.Lock()
_faces: tuple[_Face, ...] | None = None


def _to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    """A ToUnicode CMap for one 256-code subset of a TrueType font, as UTF-16BE.

    Replaces ``reportlab.pdfbase.ttfonts.makeToUnicodeCMap``, which formats each code point with
    ``<%04X>``: a character beyond U+FFFF such as 𠮷 U+20BB7 becomes ``<20BB7>``, an odd number of
    hex digits that readers cut to U+20BB, so copy/paste and pdftotext give back the wrong character
    for exactly the rare name characters this platform must keep. The PDF format wants UTF-16BE, so
    non-BMP characters are written as a surrogate pair (``<D842DFB7>``).
    """
    entries = [f"<{code:02X}> <{chr(cp).encode('utf-16-be').hex().upper()}>" for code, cp in enumerate(subset)]
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo",
        f"<< /Registry ({fontname})",
        f"/Ordering ({fontname})",
        "/Supplement 0",
        ">> def",
        f"/CMapName /{fontname} def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        f"<00> <{len(subset) - 1:02X}>",
        "endcodespacerange",
    ]
    for start in range(0, len(entries), _BFCHAR_BLOCK):
        block = entries[start : start + _BFCHAR_BLOCK]
        lines.append(f"{len(block)} beginbfchar")
        lines.extend(block)
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines)


class _TableSlice:
    """A table of a loaded font file that is sliced without being copied first.

    reportlab's ``makeSubset`` takes ``get_table('glyf')`` (a copy of the whole glyph table, ~10 MB
    for WenQuanYi, ~25 MB for Hanazono) on every document only to slice a few dozen glyphs out of
    it; slicing the file data directly gives the same bytes for a fraction of the cost.
    """

    __slots__ = ("_data", "_start")

    def __init__(self, data: bytes, start: int) -> None:
        self._data, self._start = data, start

    def __getitem__(self, item: slice) -> bytes:
        if not isinstance(item, slice) or item.step is not None or item.start is None or item.stop is None:
            raise TypeError("only [start:stop] slices of a font table are supported")
        return self._data[self._start + item.start : self._start + item.stop]


def _no_copy_glyf(face: ttfonts.TTFontFace) -> None:
    copying = face.get_table

    def get_table(tag: str) -> object:
        if tag == "glyf":
            pos, _length = face.get_table_pos(tag)
            return _TableSlice(face._ttf_data, pos)
        return copying(tag)

    face.get_table = get_table


def _load() -> tuple[_Face, ...]:
    """Register the fonts with reportlab (first call only) and return their lookup tables."""
    global _faces
    faces = _faces
    if faces is not None:
        return faces
    with _lock:
        if _faces is None:
            # ttfonts.TTFont.addObjects calls makeToUnicodeCMap through the module global.
            ttfonts.makeToUnicodeCMap = _to_unicode_cmap
            loaded = []
            for name, filename, index in _FONT_FILES:
                # shapable=False: CJK needs no shaping, and uharfbuzz is not a dependency.
                font = ttfonts.TTFont(name, str(FONTS_DIR / filename), subfontIndex=index, shapable=False)
                _no_copy_glyf(font.face)
                pdfmetrics.registerFont(font)
                loaded.append(_Face(name, font.face.charToGlyph, font.face.glyphPos, font))
            _faces = tuple(loaded)
        return _faces


def ensure_loaded() -> None:
    """Load and register the fonts now (e.g. at start-up) rather than on the first request."""
    _load()


def font_for(ch: str) -> str | None:
    """The reportlab font name that sets ``ch``, or None if neither font has a glyph for it."""
    code = ord(ch)
    for face in _load():
        if face.has_glyph(code):
            return face.name
    return None


def can_render(ch: str) -> bool:
    """True if one of the document fonts has a real glyph (not .notdef, not blank) for ``ch``.

    Validation calls this per character so that a name never prints as a blank or a box.
    """
    if len(ch) != 1:
        return False
    return font_for(ch) is not None


def runs(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into (font name, substring) runs, each set in one font.

    Raises ValueError for a character neither font has: validation refuses such text, so reaching
    this is a bug, and printing a box instead would silently change a name.
    """
    out: list[tuple[str, str]] = []
    faces = _load()
    current: str | None = None
    start = 0
    for i, ch in enumerate(text):
        code = ord(ch)
        name = next((f.name for f in faces if f.has_glyph(code)), None)
        if name is None:
            raise ValueError(f"no glyph for U+{code:04X} in the document fonts")
        if name != current:
            if current is not None:
                out.append((current, text[start:i]))
            current, start = name, i
    if current is not None:
        out.append((current, text[start:]))
    return out


def text_width(text: str, size: float) -> float:
    """Width in points of ``text`` set at ``size`` with the font stack."""
    return float(sum(pdfmetrics.stringWidth(part, name, size) for name, part in runs(text)))


# Characters that must not begin a line (Chinese typesetting rules, GB/T 15834 punctuation).
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕’”…—％,.;:?!)]}%·")
_TOKENS = re.compile(r"[A-Za-z0-9]+|.", re.S)
_unit_widths: dict[str, float] = {}  # bounded by the fonts' ~100,000 characters


def _unit_width(ch: str) -> float:
    """Width of one character at 1 pt; cached because wrapping measures every character."""
    w = _unit_widths.get(ch)
    if w is None:
        w = _unit_widths[ch] = text_width(ch, 1.0)
    return w


def wrap(text: str, width: float, size: float, first_indent: float = 0.0) -> list[str]:
    """Break ``text`` set at ``size`` into lines no wider than ``width`` points.

    Chinese breaks between any two characters; runs of Latin letters and digits stay together
    unless longer than a line; closing punctuation never starts a line (the previous character
    moves down with it). Raises ValueError for a character neither font has.
    """
    lines: list[list[str]] = [[]]
    used = first_indent
    for token in _TOKENS.findall(text):
        if token == "\n":
            lines.append([])
            used = 0.0
            continue
        w = sum(_unit_width(ch) for ch in token) * size
        if used + w <= width or not lines[-1] and w <= width:
            lines[-1].append(token)
            used += w
        elif w > width:  # a Latin run longer than a line: split it anywhere
            for ch in token:
                cw = _unit_width(ch) * size
                if used + cw > width and lines[-1]:
                    lines.append([])
                    used = 0.0
                lines[-1].append(ch)
                used += cw
        else:
            carried: list[str] = []
            if token in _NO_LINE_START and len(lines[-1]) > 1:
                last = lines[-1][-1]
                if (sum(_unit_width(ch) for ch in last) * size + w) <= width:
                    carried = [lines[-1].pop()]
            lines.append(carried + [token])
            used = sum(_unit_width(ch) for t in lines[-1] for ch in t) * size
    return ["".join(line) for line in lines if line]


def draw_text(
    canvas: _Canvas, x: float, y: float, text: str, size: float, *, align: str = "left", char_space: float = 0
) -> float:
    """Draw ``text`` with its baseline at ``y``, switching fonts between runs; returns its width.

    ``align`` is ``left`` (x is the start), ``center`` or ``right`` (x is the end); ``char_space``
    adds that many points after every character but the last (letter-spaced headings).
    """
    parts = runs(text)
    widths = [float(pdfmetrics.stringWidth(part, name, size)) + char_space * len(part) for name, part in parts]
    if widths:
        widths[-1] -= char_space
    total = sum(widths)
    if align == "center":
        x -= total / 2
    elif align == "right":
        x -= total
    elif align != "left":
        raise ValueError(f"unknown alignment {align!r}")
    for (name, part), width in zip(parts, widths):
        canvas.setFont(name, size)
        canvas.drawString(x, y, part, charSpace=char_space)
        x += width
    return total
