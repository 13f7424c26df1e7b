"""Does the picture print what the licence signs? Finding the table of a licence page in a photo or
scan, and comparing what OCR read in it with the signed fields.

The page's own QR code fixes where everything is: its corners and version give the page's scale,
rotation and position, so the table zone is cut out upright at :data:`OCR_DPI` whatever the photo
(:func:`table_zone`). The table's rows are found from its ruled lines, and each row is cut into its
label cell and its value cell (:func:`table_rows`); a value cell without ink on it is a blank value
(painted over) whatever OCR makes of it. The cells are laid out again on a clean sheet without
ruled lines, one row a line (:func:`compose_sheet`), for one OCR run; :func:`read_sheet` takes
tesseract's TSV back to rows, and :func:`compare` says per signed field whether the picture shows it.

Pure: images and text in, dataclasses out; running OCR is the caller's (services.pictures).

Erring on the side of the holder: a field is found *different* only on evidence OCR noise does not
produce (a blank cell; an id number with a valid check character; a name sharing no character with
the signed one), and anything unclear is *unread*, which never fails the check.
"""

from __future__ import annotations

import csv
import math
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from PIL import Image, ImageFilter, ImageMath

from .checkdigits import credit_code_problem, id_number_problem
from .kinds import KINDS, PrintedField
from .kinds.spec import CODE, CREDIT_CODE, DATE, ID_NUMBER, NAME, ORG_NAME
from .qr import QUIET_ZONE
from .render import BODY_BOTTOM, LABEL_W, LEFT, PAGE_H, QR_SIDE, QR_X, QR_Y, RIGHT

# --------------------------------------------------------------------------------------------
# What the page prints

Expected = PrintedField
"""A signed field as the page prints it (its row label and printed value(s)); each kind names its
own in ``core/kinds/<kind>.py`` (``printed_fields``)."""


def expected_fields(kind: str, data: Mapping[str, Any]) -> tuple[Expected, ...]:
    """The signed fields of a licence that its page prints in the table and that OCR can be held to:
    names, id numbers and codes, dates (the kind's ``printed_fields``; none for an unknown kind)."""
    spec = KINDS.get(kind)
    return () if spec is None else spec.printed_fields(data)


PAGE_ROWS: dict[str, tuple[tuple[str, ...], ...]] = {name: spec.page_labels for name, spec in KINDS.items()}
"""The row labels of each kind's page layouts, top to bottom, as core.render prints them (a test
holds the two together; each kind's ``page_labels``): OCR'd labels are matched against all of a
page's labels, so that 出生地 is not taken for 出生日期, and a label OCR misreads is named by its
place between labels it read."""


# --------------------------------------------------------------------------------------------
# Where the page prints it

OCR_DPI = 150
"""Resolution of the table zone cut out for OCR: 12-pt text is ~25 px high, what tesseract's Chinese
model reads best; more only costs time."""

_PX = OCR_DPI / 72  # pixels per PDF point
_MM = 72 / 25.4  # PDF points per millimetre
ZONE = (LEFT - 3 * _MM, 50 * _MM, RIGHT + 3 * _MM, PAGE_H - BODY_BOTTOM + 3 * _MM)
"""The table zone in page points from the top left (x0, y0, x1, y1): below the title rules, above the
QR code and seal; every kind's table, and the intro above it, lies within."""

_LABEL_X = (LEFT - ZONE[0]) * _PX, (LEFT + LABEL_W - ZONE[0]) * _PX
"""Where the label column starts and ends in the zone, in pixels."""


def table_zone(image: Image.Image, corners: Sequence[tuple[float, float]], version: int) -> Image.Image:
    """The table zone of the licence page whose own QR code has ``corners`` (top left, top right,
    bottom right, bottom left, as the symbol sees them) and ``version`` in ``image`` (greyscale):
    upright, at :data:`OCR_DPI`, white where the picture ends.

    The code's edges give the page's scale and rotation; an affine map is exact for a scan and close
    for a phone held roughly parallel to the page (the zone lies within ~4 code widths of it).
    """
    modules = 17 + 4 * version
    unit = QR_SIDE / (modules + 2 * QUIET_ZONE)
    side = modules * unit  # the symbol without its quiet zone, in points
    tl, tr, br, bl = corners
    # image pixels per page point, along the page's x and y, each the mean of two opposite edges
    ex = ((tr[0] - tl[0] + br[0] - bl[0]) / (2 * side), (tr[1] - tl[1] + br[1] - bl[1]) / (2 * side))
    ey = ((bl[0] - tl[0] + br[0] - tr[0]) / (2 * side), (bl[1] - tl[1] + br[1] - tr[1]) / (2 * side))
    centre = (sum(p[0] for p in corners) / 4, sum(p[1] for p in corners) / 4)
    page_centre = (QR_X + QUIET_ZONE * unit + side / 2, PAGE_H - QR_Y - QR_SIDE + QUIET_ZONE * unit + side / 2)
    x0, y0, x1, y1 = ZONE
    step = 1 / _PX  # page points per output pixel
    dx, dy = x0 - page_centre[0], y0 - page_centre[1]
    coeffs = (
        ex[0] * step, ey[0] * step, centre[0] + ex[0] * dx + ey[0] * dy,
        ex[1] * step, ey[1] * step, centre[1] + ex[1] * dx + ey[1] * dy,
    )  # fmt: skip
    size = (round((x1 - x0) * _PX), round((y1 - y0) * _PX))
    grey = image if image.mode == "L" else image.convert("L")
    return grey.transform(size, Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BICUBIC, fillcolor=255)


def flattened(grey: Image.Image) -> Image.Image:
    """Lighting divided out: each pixel over the local paper brightness (a max filter wider than a
    stroke, then a blur), paper ~245, ink dark. Shadows and a dim side of a photo do not look like ink."""
    # worked out at a quarter of the size: a max filter costs the square of its width
    small = grey.reduce(4) if min(grey.size) >= 16 else grey
    paper = small.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.BoxBlur(3)).resize(grey.size, Image.Resampling.BILINEAR)
    num = grey.convert("F")
    den = paper.point(lambda v: max(v, 1)).convert("F")
    out = ImageMath.lambda_eval(lambda a: a["num"] * 245.0 / a["den"], num=num, den=den)
    assert isinstance(out, Image.Image)
    return out.convert("L")


_LINE_DARK = 220  # a ruled line in the flattened zone: grey 140 at best, ~200 once blurred and shrunk
_LINE_COVER = 0.9  # share of a band's width a ruled line darkens; a line of CJK text stays under 0.7
_MIN_ROW = 6 * _MM * _PX  # the shortest table row is 8 mm
_INK_DARK = 130  # printed text in the flattened zone; paper 245, the rosette behind the table ~230
_INK_PIXELS = 40  # one 12-pt character leaves ~120 such pixels at 150 dpi; a painted cell none


@dataclass(frozen=True)
class TableRow:
    """One row of the table as found on the picture."""

    label: Image.Image
    value: Image.Image
    inked: bool  # something is printed in the value cell
    page: int = 0  # which zone (licence page) of the picture the row is from


def _profile(img: Image.Image, *, across: bool) -> list[int]:
    """Share (0-255) of dark pixels in each pixel row (``across``) or column."""
    dark = img.point(lambda v: 255 if v < _LINE_DARK else 0)
    squeezed = dark.resize((1, img.height) if across else (img.width, 1), Image.Resampling.BOX)
    return list(squeezed.tobytes())


def _runs(profile: Sequence[int], threshold: float) -> list[tuple[int, int]]:
    """Start and end of each run of values at or over ``threshold``."""
    out: list[tuple[int, int]] = []
    start = None
    for i, v in enumerate([*profile, 0]):
        if v >= threshold and start is None:
            start = i
        elif v < threshold and start is not None:
            out.append((start, i))
            start = None
    return out


def _line_centres(profile: Sequence[int], threshold: float) -> list[float]:
    return [(a + b - 1) / 2 for a, b in _runs(profile, threshold)]


def _smoothed(profile: Sequence[int]) -> list[int]:
    """Each value the largest of itself and its neighbours: a line drawn over two pixel rows counts."""
    padded = [0, *profile, 0]
    return [max(padded[i : i + 3]) for i in range(len(profile))]


def _skew(flat: Image.Image) -> float:
    """The angle (degrees, counter-clockwise) the ruled lines are off horizontal: the shift of each
    line between a narrow strip in the label column and one far right in the value column. A code's
    corners are read to a pixel, so a zone cut out by them is often ~0.5° off; over the width of
    the table that smears a line over several pixel rows."""
    lab0, lab1 = _LABEL_X
    strips = ((lab0 + 10 * _MM * _PX, lab0 + 20 * _MM * _PX), (lab1 + 70 * _MM * _PX, lab1 + 80 * _MM * _PX))
    found = [
        _line_centres(_profile(flat.crop((round(x0), 0, round(x1), flat.height)), across=True), 255 * 0.75)
        for x0, x1 in strips
    ]
    run = (strips[1][0] + strips[1][1] - strips[0][0] - strips[0][1]) / 2
    reach = run * math.tan(math.radians(3))  # no more than 3° off: beyond, the wrong lines pair up
    shifts = sorted(
        min((r - y for r in found[1]), key=abs)
        for y in found[0]
        if found[1] and min(abs(r - y) for r in found[1]) <= reach
    )
    if len(shifts) < 2:
        return 0.0
    return math.degrees(math.atan2(shifts[len(shifts) // 2], run))


def table_rows(zone: Image.Image, *, page: int = 0) -> tuple[TableRow, ...]:
    """The rows of the table in a zone cut out by :func:`table_zone`: the zone turned level by its
    ruled lines (:func:`_skew`), then the rows between consecutive lines that cross both the label and
    the value column, each split at the label column's edge; the value cell ends at the first ruled
    line across the row (the photo's frame on an identity card)."""
    flat = flattened(zone)
    angle = _skew(flat)
    if abs(angle) >= 0.1:
        # rotate() turns counter-clockwise on the screen: lines falling to the right come level
        flat = flat.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    lab0, lab1 = round(_LABEL_X[0]), round(_LABEL_X[1])
    value_band = flat.crop((lab1 + round(3 * _MM * _PX), 0, round(lab1 + 85 * _MM * _PX), flat.height))
    label_band = flat.crop((lab0 + round(2 * _MM * _PX), 0, lab1 - round(2 * _MM * _PX), flat.height))
    both = [
        min(a, b)
        for a, b in zip(_smoothed(_profile(value_band, across=True)), _smoothed(_profile(label_band, across=True)))
    ]
    lines = _runs(both, 255 * _LINE_COVER)
    rows: list[TableRow] = []
    pad = 4
    for (_, top), (bottom, _) in zip(lines, lines[1:]):
        if bottom - top < _MIN_ROW:
            continue
        y0, y1 = top + pad, bottom - pad
        columns = _profile(flat.crop((0, y0, flat.width, y1)), across=False)
        after = lab1 + round(30 * _MM * _PX)  # a vertical line this far right of the labels ends the cell
        right = next((x for x in range(after, len(columns)) if columns[x] >= 255 * _LINE_COVER), flat.width)
        value = flat.crop((lab1 + pad, y0, right - pad, y1))
        dark = value.point(lambda v: 255 if v < _INK_DARK else 0).histogram()[255]
        rows.append(TableRow(flat.crop((lab0 + pad, y0, lab1 - pad, y1)), value, dark >= _INK_PIXELS, page))
    return tuple(rows)


@dataclass(frozen=True)
class Sheet:
    """Table rows laid out again for OCR: each row one line, label then value, no ruled lines."""

    image: Image.Image
    bands: tuple[tuple[int, int], ...]  # each row's top and bottom on the sheet
    value_x: int  # where the value column starts on the sheet
    inked: tuple[bool, ...]
    pages: tuple[int, ...]  # each row's zone


_SHEET_MARGIN, _SHEET_GAP = 20, 80
MAX_SHEET_ROWS = 48
"""Rows OCR'd from one picture or scan: four pages of the longest table (11 rows)."""


def compose_sheet(rows: Sequence[TableRow]) -> Sheet:
    """One image of the rows (at most :data:`MAX_SHEET_ROWS`), one a line, label cells in a column of
    their own and a wide gap before the values, so that OCR reads each row as one line of text."""
    rows = rows[:MAX_SHEET_ROWS]
    label_w = max((r.label.width for r in rows), default=1)
    value_x = _SHEET_MARGIN + label_w + _SHEET_GAP
    width = value_x + max((r.value.width for r in rows), default=1) + _SHEET_MARGIN
    height = _SHEET_MARGIN + sum(max(r.label.height, r.value.height) + _SHEET_MARGIN for r in rows)
    sheet = Image.new("L", (width, max(height, 2 * _SHEET_MARGIN)), 255)
    bands = []
    y = _SHEET_MARGIN
    for r in rows:
        h = max(r.label.height, r.value.height)
        sheet.paste(r.label, (_SHEET_MARGIN, y + (h - r.label.height) // 2))
        sheet.paste(r.value, (value_x, y + (h - r.value.height) // 2))
        bands.append((y, y + h))
        y += h + _SHEET_MARGIN
    return Sheet(sheet, tuple(bands), value_x, tuple(r.inked for r in rows), tuple(r.page for r in rows))


# --------------------------------------------------------------------------------------------
# What OCR read


@dataclass(frozen=True)
class Word:
    """One word of tesseract's TSV output (level 5)."""

    text: str
    left: int
    top: int
    width: int
    height: int
    conf: float


def parse_tsv(tsv: str) -> tuple[Word, ...]:
    """The words of tesseract's ``tsv`` output; malformed lines are skipped."""
    words = []
    for rec in csv.DictReader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE):
        try:
            if rec.get("level") != "5" or not (rec.get("text") or "").strip():
                continue
            words.append(
                Word(
                    rec["text"].strip(),
                    int(rec["left"]),
                    int(rec["top"]),
                    int(rec["width"]),
                    int(rec["height"]),
                    float(rec["conf"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(words)


@dataclass(frozen=True)
class Row:
    """What OCR read in one table row."""

    label: str
    value: str
    inked: bool
    conf: float = 0.0  # the lowest word confidence in the value (0-100); 0 when nothing was read
    page: int = 0  # rows of one page are in order, top to bottom


def read_sheet(sheet: Sheet, words: Iterable[Word]) -> tuple[Row, ...]:
    """Each row's label and value text: words by the band their middle lies in, and by side of the gap."""
    labels: list[list[Word]] = [[] for _ in sheet.bands]
    values: list[list[Word]] = [[] for _ in sheet.bands]
    for w in words:
        middle = w.top + w.height / 2
        for i, (top, bottom) in enumerate(sheet.bands):
            if top - _SHEET_MARGIN / 2 <= middle < bottom + _SHEET_MARGIN / 2:
                (labels if w.left + w.width / 2 < sheet.value_x - _SHEET_GAP / 2 else values)[i].append(w)
                break

    def text(ws: list[Word]) -> str:
        return "".join(w.text for w in sorted(ws, key=lambda w: (round((w.top + w.height / 2) / 20), w.left)))

    return tuple(
        Row(text(lab), text(val), inked, min((w.conf for w in val), default=0.0), page)
        for lab, val, inked, page in zip(labels, values, sheet.inked, sheet.pages)
    )


# --------------------------------------------------------------------------------------------
# Same or different

MATCH, BLANK, DIFFERS, UNREAD = "match", "blank", "differs", "unread"
"""Outcomes for one printed field: shown as signed; printed label with nothing after it; something
else printed; read too poorly to say."""


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def cjk(text: str) -> str:
    """Only the letters of ``text`` (CJK and others), no spaces, digits or punctuation."""
    return "".join(ch for ch in _nfkc(text) if ch.isalpha())


# What OCR gives for a character a code cannot contain: O for 0, l for 1, ...
_LOOKALIKE = str.maketrans({"O": "0", "o": "0", "D": "0", "Q": "0", "I": "1", "l": "1", "|": "1", "i": "1", "!": "1",
                            "Z": "2", "z": "2", "S": "5", "s": "5", "B": "8", "G": "6", "b": "6", "T": "7", "g": "9", "q": "9"})  # fmt: skip
_CREDIT_ALPHABET = set("0123456789ABCDEFGHJKLMNPQRTUWXY")


def code_chars(text: str, sort: str) -> str:
    """The characters of a code as OCR read it: ASCII, upper case, look-alike letters taken for the
    digits they resemble where the code has no such letter."""
    plain = "".join(ch for ch in _nfkc(text) if ch.isascii() and (ch.isalnum() or ch in "|!"))
    if sort == CREDIT_CODE:  # printed in capitals: a small letter is a digit misread, if it looks like one
        return "".join(ch if ch.isupper() and ch in _CREDIT_ALPHABET else ch.translate(_LOOKALIKE) for ch in plain).upper()
    if sort == ID_NUMBER:
        return "".join("X" if ch in "xX" else ch.translate(_LOOKALIKE) for ch in plain).upper()
    return plain.translate(_LOOKALIKE).upper()


def digits(text: str) -> str:
    return "".join(ch for ch in code_chars(text, DATE) if ch.isdigit())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _valid_check(code: str, sort: str) -> bool:
    problem = id_number_problem(code) if sort == ID_NUMBER else credit_code_problem(code)
    return problem is None


_GENERIC = ("股份有限公司", "有限责任公司", "有限公司", "分公司", "公司", "集团")


def _distinctive(org: str) -> str:
    """A company name without what every company name has (有限公司 ...)."""
    for word in _GENERIC:
        org = org.replace(word, "")
    return org


SURE_CONF = 50
"""tesseract's confidence (0-100, the least of the value's words) from which a read that merely
looks different is believed. Measured on 216 genuine pictures: one name in 214 was misread beyond
recognition (得引), at confidence 0; another name written over the original reads at 50-95 in two
pictures of three (CJK confidences scatter: correct reads score 0 too)."""


def _common(ch: str) -> bool:
    """A character of GB 2312's 6,763 common hanzi, which the OCR model surely knows; a rarer one
    (䶮, 𠮷) comes back as some look-alike and says nothing either way."""
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def judge(read: str, signed: str, sort: str, *, conf: float = 0.0) -> str:
    """:data:`MATCH`, :data:`DIFFERS` or :data:`UNREAD` for the text OCR read in a value cell that has
    ink on it, against the value as the page prints it; ``conf`` is OCR's confidence in the read.

    - id numbers and credit codes: the same up to two characters is a match (OCR slips); a code of
      the right length whose check character holds but that differs is another code (one wrong
      character always breaks the check, so OCR alone rarely makes one);
    - other codes and dates: the same up to one (dates, short codes) or two characters is a match;
      read with confidence, in full length, and different in more than half of it, another value;
    - names: sharing half the characters is a match (a rare character OCR has no glyph for); read
      with confidence, two or more characters sharing none of the name's common characters (at
      least two) is another name; a company's, sharing under a quarter of what is its own (not
      有限公司 and the like);
    - anything else is unread.
    """
    sure = conf >= SURE_CONF
    if sort in (ID_NUMBER, CREDIT_CODE, CODE, DATE):
        got, want = (digits(read), digits(signed)) if sort == DATE else (code_chars(read, sort), code_chars(signed, sort))
        if not got:
            return UNREAD
        distance = edit_distance(got, want)
        if distance <= (2 if len(want) >= 12 and sort != DATE else 1):
            return MATCH
        if sort in (ID_NUMBER, CREDIT_CODE) and len(got) == len(want) and _valid_check(got, sort):
            return DIFFERS
        if sure and len(got) == len(want) and distance > len(want) // 2:
            return DIFFERS
        return UNREAD
    got, want = cjk(read), cjk(signed)
    if not got:
        return UNREAD
    if want in got:
        return MATCH
    shared = sum((Counter(got) & Counter(want)).values())
    if sort == ORG_NAME:
        if SequenceMatcher(None, got, want, autojunk=False).ratio() >= 0.6:
            return MATCH
        own_got, own_want = _distinctive(got), _distinctive(want)
        own_shared = sum((Counter(own_got) & Counter(own_want)).values())
        return DIFFERS if sure and len(own_got) >= 2 and own_shared * 4 < len(own_want) else UNREAD
    if shared * 2 >= len(want):
        return MATCH
    knowable = [ch for ch in want if _common(ch)]
    if sure and len(got) >= 2 and len(knowable) >= 2 and not set(got) & set(knowable):
        return DIFFERS
    return UNREAD


def _similarity(read: str, label: str) -> float:
    return SequenceMatcher(None, cjk(read), cjk(label), autojunk=False).ratio()


_SURE, _LIKELY = 0.6, 0.3
"""Similarity of an OCR'd label to a printed one that names a row by itself, and that names it
next to a row named surely (e.g. 姓各 for 姓名 above 性别)."""


def name_rows(labels: Sequence[str], layout: Sequence[str], *, blank: Sequence[bool] = ()) -> list[str | None]:
    """The printed label of each row of one page, from what OCR read in the label cells (top to
    bottom) and the page's ``layout`` (its labels, top to bottom).

    A row is named surely when its label reads closer to one label than to any other (similarity
    at least 0.6). Between two such rows as far apart as their labels are, every row is named by its
    place; a row next to one named surely is named by its place too when its text is like that label
    (0.3) or its value cell is ``blank`` (a painted-over cell's label is read worse: its line is
    shorter). Sure names out of order are dropped.
    """
    n = len(labels)
    sure: list[tuple[int, int]] = []
    for i, read in enumerate(labels):
        scored = sorted(((_similarity(read, label), j) for j, label in enumerate(layout)), reverse=True)
        if scored and scored[0][0] >= _SURE and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            j = scored[0][1]
            if not sure or (i > sure[-1][0] and j > sure[-1][1]):
                sure.append((i, j))
    names: list[str | None] = [None] * n
    for i, j in sure:
        names[i] = layout[j]
    for (i0, j0), (i1, j1) in zip(sure, sure[1:]):
        if i1 - i0 == j1 - j0:
            for k in range(1, i1 - i0):
                names[i0 + k] = layout[j0 + k]
    for i, j in sure:
        for di in (-1, 1):
            k, jk = i + di, j + di
            if 0 <= k < n and 0 <= jk < len(layout) and names[k] is None:
                if _similarity(labels[k], layout[jk]) >= _LIKELY or (k < len(blank) and blank[k]):
                    names[k] = layout[jk]
    return names


def page_layout(labels: Sequence[str], kind: str) -> tuple[str, ...]:
    """Which of the kind's page layouts the labels read come from: the one most of them read as."""
    layouts = PAGE_ROWS.get(kind, ())
    if not layouts:
        return ()

    def score(layout: tuple[str, ...]) -> int:
        return sum(1 for read in labels if any(_similarity(read, label) >= _SURE for label in layout))

    return max(layouts, key=score)


@dataclass(frozen=True)
class Finding:
    """One table row holding a signed field, as the picture shows it."""

    field: str
    label: str
    outcome: str


@dataclass(frozen=True)
class Comparison:
    """Every signed field found on the picture, and how many table rows OCR could name at all."""

    findings: tuple[Finding, ...]
    rows: int  # table rows found on the picture
    labels_read: int  # of them, rows whose label OCR read as one the kind prints

    @property
    def failed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.outcome in (BLANK, DIFFERS))

    @property
    def matched(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.outcome == MATCH)

    @property
    def passed(self) -> bool | None:
        """False: a signed field printed blank or different; True: none, and at least one found as
        signed; None: nothing could be concluded (no signed field read)."""
        if self.failed:
            return False
        return True if self.matched else None


def compare(rows: Iterable[Row], kind: str, expected: Sequence[Expected]) -> Comparison:
    """Hold each row whose label is a signed field's to that field's printed value(s). Rows are named
    page by page (:func:`name_rows`)."""
    by_label = {e.label: e for e in expected}
    pages: dict[int, list[Row]] = {}
    for row in rows:
        pages.setdefault(row.page, []).append(row)
    findings: list[Finding] = []
    count = named = 0
    for page_rows in pages.values():
        labels = [r.label for r in page_rows]
        layout = page_layout(labels, kind)
        names = name_rows(labels, layout, blank=[not r.inked for r in page_rows])
        count += len(page_rows)
        for row, label in zip(page_rows, names):
            if label is None:
                continue
            named += 1
            exp = by_label.get(label)
            if exp is None:
                continue
            if not row.inked:
                outcome = BLANK
            else:
                outcomes = {judge(row.value, value, exp.sort, conf=row.conf) for value in exp.values}
                outcome = MATCH if MATCH in outcomes else UNREAD if UNREAD in outcomes else DIFFERS
            findings.append(Finding(exp.field, exp.label, outcome))
    return Comparison(tuple(findings), count, named)


def summary(findings: Iterable[Finding], outcome: str) -> list[str]:
    """The distinct labels of the findings with ``outcome``, in order."""
    return list(dict.fromkeys(f.label for f in findings if f.outcome == outcome))


def rows_found(zones: Iterable[Image.Image]) -> list[TableRow]:
    """The table rows of several zones (pages), in order."""
    return [row for page, zone in enumerate(zones) for row in table_rows(zone, page=page)]


def zone_plausible(corners: Sequence[tuple[float, float]], image_size: tuple[int, int]) -> bool:
    """Whether a code of these corners can frame a readable table: at least ~2 px a module's worth
    of scale (the code at least 60 px wide), roughly square (not a wild perspective)."""
    tl, tr, br, bl = corners
    top, left = math.dist(tl, tr), math.dist(tl, bl)
    return min(top, left) >= 60 and max(top, left) <= 1.3 * min(top, left) and max(top, left) < 2 * max(image_size)
