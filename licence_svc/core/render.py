"""PDF pages of a licence, drawn with reportlab's canvas.

Every page carries the title of the real document, the fields under their Chinese labels, the QR
code for verification (vector squares), the issuing department with its red seal, the issue date
and, in small print, the licence identifier. All text is real text in embedded font subsets, so a
reader (or ``pdftotext``) gets every value back, rare name characters included.

The canvas is used directly (not platypus): a page costs a few milliseconds once the fonts are
loaded, and the layout is fixed anyway. Output is deterministic: the PDF dates are the issue date,
never the clock, so the same request gives the same bytes.

What a page holds (rows, heading, photo, accent colour, issue-date label) is the kind's own
(``core/kinds/<kind>.py``); this module draws any kind's pages the same way.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from reportlab import rl_config
from reportlab.lib.colors import Color, HexColor, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from . import fonts
from .dates import cn_date
from .kinds import KindSpec, Page, Row
from .qr import QUIET_ZONE, QrMatrix, qr_matrix


@dataclass(frozen=True)
class RenderRequest:
    """What a licence PDF shows; ``data`` is already normalised by ``kinds.validate``."""

    kind: KindSpec
    data: Mapping[str, Any]
    identifier: str  # 证照标识, printed small
    issuer_name: str  # the issuing department: printed, and set in the seal
    issued_on: date  # 签发日期 / 发证日期
    qr_text: str  # encoded in the QR code


# Binary image streams: reportlab's default ASCII85 wrapping makes the photo 25% bigger and costs
# ~10 ms a page in pure Python. (Process-wide reportlab setting; nothing here needs 7-bit output.)
rl_config.useA85 = 0

PAGE_W, PAGE_H = A4
LEFT = 25 * mm
RIGHT = PAGE_W - 25 * mm
TITLE_Y = PAGE_H - 40 * mm
BODY_TOP = PAGE_H - 56 * mm
BODY_BOTTOM = 86 * mm  # the table stops here; QR, issuer and seal live below
LABEL_W = 36 * mm
CELL_PAD_X = 3 * mm
CELL_PAD_Y = 2.2 * mm
QR_SIDE = 48 * mm  # with the quiet zone: ~0.66 mm a module at version 12, 3.9 px at 150 dpi
QR_X, QR_Y = LEFT, 29 * mm
SEAL_R = 21 * mm
SEAL_RED = Color(0.84, 0.07, 0.09)
INK = HexColor("#1a1a1a")
GRID = HexColor("#8c8c8c")


def _pages(req: RenderRequest) -> tuple[Page, ...]:
    """The pages as the kind lays them out (core/kinds/<kind>.py)."""
    return req.kind.pages(req.data)


# ---------------------------------------------------------------------------------------------
# Drawing


@dataclass(frozen=True)
class _Laid:
    row: Row
    size: float
    lines: tuple[str, ...]
    height: float
    value_w: float


def _lay_out(page: Page, top: float) -> list[_Laid]:
    """Fit the rows between ``top`` and BODY_BOTTOM, setting long text smaller when needed."""
    photo_w = 36 * mm if page.photo else 0.0
    attempts = [(0.0, 14 * mm), (0.0, 12 * mm), (0.0, 10.5 * mm)] + [(step, 9.5 * mm) for step in (1.0, 2.0, 3.0, 4.0, 5.0)] + [(5.5, 8 * mm)]
    widths = [RIGHT - LEFT - LABEL_W - (photo_w if i < page.photo_rows else 0.0) for i in range(len(page.rows))]
    # Only text that already wraps at its own size is set smaller; short values keep their size.
    long = [
        row.shrinkable and len(fonts.wrap(row.value, w - 2 * CELL_PAD_X, row.size)) > 1 for row, w in zip(page.rows, widths)
    ]
    laid: list[_Laid] = []
    for shrink, min_h in attempts:
        laid = []
        for i, row in enumerate(page.rows):
            size = max(6.0, row.size - shrink) if long[i] else row.size
            value_w = widths[i]
            lines = tuple(fonts.wrap(row.value, value_w - 2 * CELL_PAD_X, size))
            height = max(min_h, len(lines) * size * 1.3 + 2 * CELL_PAD_Y)
            laid.append(_Laid(row, size, lines, height, value_w))
        if page.photo_rows:  # rows beside the photo share its height
            beside = sum(item.height for item in laid[: page.photo_rows])
            if beside < 46 * mm:
                extra = (46 * mm - beside) / page.photo_rows
                laid[: page.photo_rows] = [
                    _Laid(it.row, it.size, it.lines, it.height + extra, it.value_w) for it in laid[: page.photo_rows]
                ]
        if top - sum(item.height for item in laid) >= BODY_BOTTOM:
            return laid
    raise ValueError("field values too long for the page")  # validation's maximum lengths all fit


def _text_block(c: Canvas, x: float, center_y: float, lines: Sequence[str], size: float, align: str = "left") -> None:
    """Draw lines vertically centred on ``center_y`` (CJK glyphs sit ~0.34 em above the baseline)."""
    leading = size * 1.3
    y = center_y + (len(lines) - 1) * leading / 2 - 0.34 * size
    for line in lines:
        fonts.draw_text(c, x, y, line, size, align=align)
        y -= leading


def _draw_table(c: Canvas, page: Page, laid: Sequence[_Laid], top: float, accent: Color) -> None:
    total = sum(item.height for item in laid)
    # label column tint
    c.setFillColor(_tint(accent, 0.07))
    c.rect(LEFT, top - total, LABEL_W, total, stroke=0, fill=1)
    c.setStrokeColor(GRID)
    c.setLineWidth(0.5)
    y = top
    for item in laid:
        bottom = y - item.height
        c.line(LEFT, bottom, LEFT + LABEL_W + item.value_w, bottom)
        mid = (y + bottom) / 2
        c.setFillColor(accent)
        label_lines = fonts.wrap(item.row.label, LABEL_W - 2 * mm, 10.5)
        _text_block(c, LEFT + LABEL_W / 2, mid, label_lines, 10.5, align="center")
        c.setFillColor(INK)
        _text_block(c, LEFT + LABEL_W + CELL_PAD_X, mid, item.lines, item.size)
        y = bottom
    c.line(LEFT, top, RIGHT, top)
    c.line(LEFT + LABEL_W, top, LEFT + LABEL_W, top - total)
    c.setLineWidth(0.9)
    c.setStrokeColor(accent)
    c.rect(LEFT, top - total, RIGHT - LEFT, total, stroke=1, fill=0)
    if page.photo:
        beside = sum(item.height for item in laid[: page.photo_rows])
        box_x = LEFT + LABEL_W + laid[0].value_w
        c.setStrokeColor(GRID)
        c.setLineWidth(0.5)
        c.line(box_x, top, box_x, top - beside)
        c.line(box_x, top - beside, RIGHT, top - beside)
        _draw_photo(c, page.photo, box_x + 2 * mm, top - beside + 2 * mm, RIGHT - box_x - 4 * mm, beside - 4 * mm)


def _draw_photo(c: Canvas, raw: bytes, x: float, y: float, w: float, h: float) -> None:
    """The holder's photo, scaled to fit the box and centred, keeping its proportions."""
    img = ImageReader(io.BytesIO(raw))
    iw, ih = img.getSize()
    scale = min(w / iw, h / ih)
    dw, dh = iw * scale, ih * scale
    c.drawImage(img, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh)


def _qr_ops(matrix: QrMatrix) -> str:
    """PDF path operators filling the dark modules, in module units with row 0 at the top.

    Integer operands written directly: ~1,000 rectangles through reportlab's path API (which formats
    every float in Python) would cost more than the rest of the page. One path, one fill: no seams
    between adjacent modules.
    """
    return " ".join(f"{col} {row} {length} 1 re" for row, col, length in matrix.dark_runs()) + " f"


def _draw_qr(c: Canvas, matrix: QrMatrix, ops: str, x: float, y: float, side: float) -> None:
    """The QR symbol as vector squares on a white square that includes the quiet zone."""
    c.setFillColor(white)
    c.rect(x, y, side, side, stroke=0, fill=1)
    unit = side / (matrix.size + 2 * QUIET_ZONE)
    c.saveState()
    c.translate(x + QUIET_ZONE * unit, y + side - QUIET_ZONE * unit)
    c.scale(unit, -unit)
    c.setFillColor(HexColor("#000000"))
    c.addLiteral(ops)
    c.restoreState()


def _draw_seal(c: Canvas, cx: float, cy: float, name: str) -> None:
    """The department's red seal: ring, five-pointed star, name along the upper arc, 电子证照专用章."""
    c.saveState()
    c.setStrokeColor(SEAL_RED, alpha=0.88)
    c.setFillColor(SEAL_RED, alpha=0.88)
    ring = 1.1 * mm
    c.setLineWidth(ring)
    c.circle(cx, cy, SEAL_R - ring / 2, stroke=1, fill=0)
    # star
    outer, inner = 6.6 * mm, 6.6 * mm * 0.382
    star = c.beginPath()
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        a = math.radians(90 + 36 * i)
        px, py = cx + r * math.cos(a), cy + 1 * mm + r * math.sin(a)
        if i == 0:
            star.moveTo(px, py)
        else:
            star.lineTo(px, py)
    star.close()
    c.drawPath(star, stroke=0, fill=1)
    # name along the upper arc, each character upright towards the rim
    chars = list(name)
    n = len(chars)
    span = math.radians(250 if n > 16 else 220)
    size = max(4.5, min(11.0, 0.86 * (SEAL_R - 3 * mm) * span / max(n, 1)))
    r_text = SEAL_R - ring - 1.0 * mm - size * 0.86
    # Spread short names like a carved seal (at least 24° apart), but never tighter than the glyphs.
    step = min(span / max(n - 1, 1), max(size * 1.12 / r_text, math.radians(24)))
    start = math.pi / 2 + step * (n - 1) / 2
    for i, ch in enumerate(chars):
        a = start - i * step
        c.saveState()
        c.translate(cx + r_text * math.cos(a), cy + r_text * math.sin(a))
        c.rotate(math.degrees(a) - 90)
        fonts.draw_text(c, 0, 0, ch, size, align="center")
        c.restoreState()
    fonts.draw_text(c, cx, cy - 13 * mm, "电子证照专用章", 7.5, align="center")
    c.restoreState()


def _draw_frame(c: Canvas, accent: Color) -> None:
    """Double frame and a faint rosette behind the body, the look of a printed security form."""
    c.setStrokeColor(accent)
    c.setLineWidth(1.6)
    c.rect(10 * mm, 10 * mm, PAGE_W - 20 * mm, PAGE_H - 20 * mm, stroke=1, fill=0)
    c.setLineWidth(0.5)
    c.rect(12 * mm, 12 * mm, PAGE_W - 24 * mm, PAGE_H - 24 * mm, stroke=1, fill=0)
    c.saveState()
    # A pre-mixed tint, not transparency: alpha on this path makes poppler take ~0.1 s more a page.
    c.setStrokeColor(_tint(accent, 0.09))
    c.setLineWidth(0.4)
    c.addLiteral(_rosette())
    c.restoreState()


def _tint(color: Color, strength: float) -> Color:
    """``color`` mixed with white: what it looks like printed at ``strength`` over paper."""
    return Color(*(1 - strength * (1 - v) for v in (color.red, color.green, color.blue)))


_rosette_ops: str | None = None


def _rosette() -> str:
    """Path operators of 36 overlapping circles (Bezier quarter arcs), built once: reportlab's
    circle() would format ~900 numbers in Python on every page."""
    global _rosette_ops
    if _rosette_ops is None:
        cx, cy, orbit, r = PAGE_W / 2, (BODY_TOP + BODY_BOTTOM) / 2, 22 * mm, 44 * mm
        k = 0.5523 * r  # control point distance for a quarter circle
        parts = []
        for i in range(36):
            a = math.radians(i * 10)
            x, y = cx + orbit * math.cos(a), cy + orbit * math.sin(a)
            parts.append(
                f"{x + r:.2f} {y:.2f} m "
                f"{x + r:.2f} {y + k:.2f} {x + k:.2f} {y + r:.2f} {x:.2f} {y + r:.2f} c "
                f"{x - k:.2f} {y + r:.2f} {x - r:.2f} {y + k:.2f} {x - r:.2f} {y:.2f} c "
                f"{x - r:.2f} {y - k:.2f} {x - k:.2f} {y - r:.2f} {x:.2f} {y - r:.2f} c "
                f"{x + k:.2f} {y - r:.2f} {x + r:.2f} {y - k:.2f} {x + r:.2f} {y:.2f} c h"
            )
        _rosette_ops = " ".join(parts) + " S"
    return _rosette_ops


def _accent(kind: KindSpec) -> Color:
    """The kind's colour of frame, title and label cells."""
    return HexColor(kind.accent)


def _draw_page(
    c: Canvas, req: RenderRequest, page: Page, matrix: QrMatrix, qr_ops: str, number: int, count: int
) -> None:
    accent = _accent(req.kind)
    _draw_frame(c, accent)
    # header and heading
    c.setFillColor(accent)
    fonts.draw_text(c, LEFT, PAGE_H - 20 * mm, "电子证照", 9)
    if page.header:
        fonts.draw_text(c, PAGE_W / 2, PAGE_H - 27 * mm, page.header, 12, align="center", char_space=3)
    heading_size = 26 if len(page.heading) <= 8 else 22
    spacing = heading_size * (0.45 if len(page.heading) <= 4 else 0.12)
    fonts.draw_text(c, PAGE_W / 2, TITLE_Y, page.heading, heading_size, align="center", char_space=spacing)
    c.setStrokeColor(accent)
    c.setLineWidth(1.2)
    c.line(LEFT, TITLE_Y - 7 * mm, RIGHT, TITLE_Y - 7 * mm)
    c.setLineWidth(0.4)
    c.line(LEFT, TITLE_Y - 8 * mm, RIGHT, TITLE_Y - 8 * mm)
    # intro paragraph, then the table
    top = BODY_TOP
    if page.intro:
        c.setFillColor(INK)
        size = page.intro_size
        indent = 2 * size if size >= 13 else 0.0
        lines = fonts.wrap(page.intro, RIGHT - LEFT, size, first_indent=indent)
        leading = size * 1.7
        y = top - size
        for i, line in enumerate(lines):
            fonts.draw_text(c, LEFT + (indent if i == 0 else 0.0), y, line, size)
            y -= leading
        top = y + leading - size * 0.4 - 5 * mm
    laid = _lay_out(page, top)
    _draw_table(c, page, laid, top, accent)
    # QR and caption
    _draw_qr(c, matrix, qr_ops, QR_X, QR_Y, QR_SIDE)
    c.setFillColor(INK)
    fonts.draw_text(c, QR_X + QR_SIDE / 2, QR_Y - 5 * mm, "扫码核验", 10, align="center")
    # issuer, date and seal
    issue_label = req.kind.issue_label
    c.setFillColor(INK)
    name_size = 13.0 if fonts.text_width(req.issuer_name, 13) <= 95 * mm else 10.0
    fonts.draw_text(c, RIGHT - 4 * mm, 59 * mm, req.issuer_name, name_size, align="right")
    fonts.draw_text(
        c, RIGHT - 4 * mm, 43 * mm, f"{issue_label}：{cn_date(req.issued_on)}", 11, align="right"
    )
    _draw_seal(c, RIGHT - 28 * mm, 50 * mm, req.issuer_name)
    # small print
    c.setFillColor(HexColor("#555555"))
    fonts.draw_text(c, LEFT, 15.5 * mm, f"证照标识：{req.identifier}", 7.5)
    if count > 1:
        fonts.draw_text(c, RIGHT, 15.5 * mm, f"第{number}页 / 共{count}页", 7.5, align="right")


def render_pdf(req: RenderRequest, *, overlay: Callable[[Canvas, int, int], None] | None = None) -> bytes:
    """The licence as a PDF: one A4 page, or for a household register a front page plus one per member.

    The PDF title is the kind and identifier only (a holder's name in metadata would leak through
    file listings and search indexes). ``overlay(canvas, page number, page count)`` draws over each
    finished page: an annotated copy's notice (core.annotate). Raises ValueError if the QR text
    needs a QR version above 12 or a character has no glyph (validation prevents both).
    """
    fonts.ensure_loaded()
    matrix = qr_matrix(req.qr_text)
    qr_ops = _qr_ops(matrix)
    pages = _pages(req)
    buf = io.BytesIO()
    # invariant: no clock read and deterministic IDs; the dates shown in the metadata are the issue date.
    # initialFontName: otherwise every page references an unembedded Helvetica it never uses.
    c = Canvas(buf, pagesize=A4, pageCompression=1, invariant=1, initialFontName=fonts.SANS)
    stamp = req.issued_on
    c.setDateFormatter(lambda *_: f"D:{stamp.year:04d}{stamp.month:02d}{stamp.day:02d}000000+08'00'")
    c.setTitle(f"{req.kind.label} {req.identifier}")
    c.setSubject("电子证照")
    c.setAuthor(req.issuer_name)
    c.setCreator("licence_svc")
    for number, page in enumerate(pages, 1):
        _draw_page(c, req, page, matrix, qr_ops, number, len(pages))
        if overlay is not None:
            overlay(c, number, len(pages))
        c.showPage()
    c.save()
    return buf.getvalue()
