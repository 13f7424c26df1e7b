"""QR symbols for the verification link printed on every licence.

The symbol is built once as a matrix of modules; the PDF renderer draws it as vector squares (crisp
at any zoom and print resolution) and web pages can ask for a PNG.

qrcode's own ``make()`` costs ~45 ms for version 12, ~80% of it building the symbol with each of
the 8 masks and scoring them module by module in pure Python, the rest in a bit-at-a-time buffer
and a recursive Reed-Solomon division. Here (~3 ms in all) the alphanumeric segment and its
Reed-Solomon blocks are computed with integers and a table-driven LFSR, the module layout of a
version is computed once (with qrcode's own pattern functions), a row of the symbol is an integer
(bit ``size-1-c`` is column ``c``), each mask is one XOR a row, and the four penalty rules are
scored on all rows and columns at once with shifts and ANDs. Nothing is given up: the mask chosen
is the one qrcode chooses (penalty rules, scoring in "test" mode and tie-breaks included) and the
symbol is module for module the one qrcode makes (tests/core/test_qr_fast_path.py compares them).
Text outside the alphanumeric set still goes through qrcode's segment optimisation.
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass

import qrcode
from qrcode import LUT as qr_lut
from qrcode import base as qr_base
from qrcode import util as qr_util
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

MAX_VERSION = 12
"""Largest symbol allowed: 65×65 modules, still read reliably from a phone photo of a printed page.
At error correction M a version 12 symbol holds 419 alphanumeric characters."""

QUIET_ZONE = 4
"""Light modules around the symbol required by ISO/IEC 18004."""

# The QR alphanumeric character set: 45 characters at 5.5 bits each instead of 8 in byte mode.
_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


@dataclass(frozen=True)
class QrMatrix:
    """A QR symbol without its quiet zone; ``modules[row][col]`` is True for a dark module."""

    version: int
    size: int
    modules: tuple[tuple[bool, ...], ...]

    def dark_runs(self) -> list[tuple[int, int, int]]:
        """Horizontal runs of dark modules as (row, first column, length): fewer shapes to draw."""
        return [(r, m.start(), m.end() - m.start()) for r, row in enumerate(self.modules) for m in _DARK_RUN.finditer(bytes(row))]


_DARK_RUN = re.compile(rb"\x01+")
_MODULE = {"0": False, "1": True}


def qr_matrix(text: str) -> QrMatrix:
    """Encode ``text`` at error correction M in the smallest QR version that holds it.

    Text made only of QR alphanumeric characters (upper-case URLs, base32) is encoded as one
    alphanumeric segment; other text goes through qrcode's segment optimisation. Raises ValueError
    for empty text or text that needs a version above ``MAX_VERSION``.
    """
    if not text:
        raise ValueError("nothing to encode in the QR code")
    if set(text) <= _ALPHANUMERIC:
        # Explicit, so a change in qrcode's segmentation heuristics cannot push the text into byte
        # mode (which would need ~45% more bits and several versions more).
        version, data = _alphanumeric_codewords(text)
    else:
        qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
        qr.add_data(text)
        try:
            version = qr.best_fit()
        except (DataOverflowError, ValueError) as exc:  # qrcode 8 raises ValueError past version 40
            raise ValueError(f"text of {len(text)} characters does not fit any QR version") from exc
        _check_version(version, text)
        data = qr_util.create_data(version, ERROR_CORRECT_M, qr.data_list)
    rows = _layout(version).symbol(data)
    size = len(rows)
    fmt = f"0{size}b"
    modules = tuple(tuple(map(_MODULE.__getitem__, format(row, fmt))) for row in rows)
    return QrMatrix(version=version, size=size, modules=modules)


def _check_version(version: int, text: str) -> None:
    if version > MAX_VERSION:
        raise ValueError(f"text of {len(text)} characters needs QR version {version}; the limit is {MAX_VERSION}")


# ---------------------------------------------------------------------------------------------
# Codewords of an alphanumeric segment: what qrcode's best_fit + create_data give, without its
# bit-at-a-time buffer (three passes over the text) and its recursive polynomial division.

_ALNUM_VALUE = {ch: i for i, ch in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")}
_PAD = (0xEC, 0x11)
_generators: dict[int, list[int]] = {}  # error-correction codeword count → generator (log form)


def _alphanumeric_codewords(text: str) -> tuple[int, list[int]]:
    """The smallest version at ECC M that holds ``text`` in one alphanumeric segment, and the
    symbol's codewords (data and Reed-Solomon blocks, interleaved) in placement order."""
    n = len(text)
    payload_bits = 11 * (n // 2) + 6 * (n % 2)
    limits = qr_util.BIT_LIMIT_TABLE[ERROR_CORRECT_M]
    version = next(
        (v for v in range(1, 41) if 4 + (9 if v < 10 else 11 if v < 27 else 13) + payload_bits <= limits[v]), None
    )
    if version is None:
        raise ValueError(f"text of {n} characters does not fit any QR version")
    _check_version(version, text)
    count_bits = 9 if version < 10 else 11 if version < 27 else 13
    acc, used = 0b0010, 4  # mode indicator: alphanumeric
    acc, used = acc << count_bits | n, used + count_bits
    values = [_ALNUM_VALUE[ch] for ch in text]
    for i in range(0, n - 1, 2):
        acc, used = acc << 11 | values[i] * 45 + values[i + 1], used + 11
    if n % 2:
        acc, used = acc << 6 | values[-1], used + 6
    limit = limits[version]
    terminator = min(limit - used, 4) + (-(used + min(limit - used, 4)) % 8)  # then pad to a byte
    acc, used = acc << terminator, used + terminator
    stream = list(acc.to_bytes(used // 8, "big"))
    stream += [_PAD[i % 2] for i in range(limit // 8 - len(stream))]
    blocks = qr_base.rs_blocks(version, ERROR_CORRECT_M)
    data_blocks: list[list[int]] = []
    ec_blocks: list[list[int]] = []
    offset = 0
    for block in blocks:
        chunk = stream[offset : offset + block.data_count]
        offset += block.data_count
        data_blocks.append(chunk)
        ec_blocks.append(_rs_remainder(chunk, block.total_count - block.data_count))
    out = [b[i] for i in range(max(map(len, data_blocks))) for b in data_blocks if i < len(b)]
    out += [b[i] for i in range(max(map(len, ec_blocks))) for b in ec_blocks if i < len(b)]
    return version, out


def _rs_remainder(data: list[int], ec_count: int) -> list[int]:
    """Reed-Solomon error-correction codewords: data·x^ec mod the generator, in GF(256) (LFSR form)."""
    gen = _generators.get(ec_count)
    if gen is None:
        # qrcode's table holds the generator of every block size at level M, versions 1-40
        # (highest degree first, leading 1 dropped here)
        coefficients = qr_lut.rsPoly_LUT[ec_count]
        gen = _generators.setdefault(ec_count, [qr_base.LOG_TABLE[c] for c in coefficients[1:]])
    exp, log = qr_base.EXP_TABLE, qr_base.LOG_TABLE
    rem = [0] * ec_count
    for d in data:
        factor = d ^ rem[0]
        del rem[0]
        rem.append(0)
        if factor:
            lf = log[factor]
            rem = [r ^ exp[(g + lf) % 255] for r, g in zip(rem, gen)]
    return rem


# ---------------------------------------------------------------------------------------------
# Module placement and mask selection on integer rows

_FINDER_LIKE = ("10111010000", "00001011101")  # penalty rule 3, both orientations


class _Planes:
    """A symbol's rows, then its columns, laid end to end in one integer with a light separator
    after each line, so that the penalty rules of ISO/IEC 18004 7.8.3 become a few shifts and ANDs
    over the whole symbol: the dark plane is the integer itself, the light plane its complement
    within ``valid`` (separators are neither, so no run or pattern crosses from one line to the next)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.stride = size + 1
        lines = 2 * size
        self.valid = int(("1" * size + "0") * lines, 2)
        self.rows_part = int(("1" * size + "0") * size + "0" * (self.stride * size), 2)
        self.cells = size * size

    def pack(self, rows: list[int]) -> int:
        """Rows (bit ``size-1-c`` is column ``c``) → the integer of rows then columns."""
        fmt = f"0{self.size}b"
        lines = [format(r, fmt) for r in rows]
        columns = ["".join(col) for col in zip(*lines)]
        return int("0".join(lines + columns) + "0", 2)

    def penalty(self, dark: int) -> int:
        """qrcode's ``util.lost_point`` of the packed symbol ``dark`` (same rules, same result)."""
        light = self.valid & ~dark
        points = 0
        for plane in (dark, light):
            # rule 1: a run of n >= 5 costs n - 2 = (windows of 5 in it) + 2
            w = plane & plane >> 1 & plane >> 2 & plane >> 3 & plane >> 4
            points += w.bit_count() + 2 * (w & ~(w >> 1)).bit_count()
            # rule 2: 2x2 blocks of one colour, 3 points each (rows part only: one block per position)
            s = self.stride
            block = plane & plane >> 1 & plane >> s & plane >> (s + 1) & self.rows_part
            points += 3 * block.bit_count()
        # rule 3: 1:1:3:1:1 finder-like runs with 4 light modules on one side, every position
        for pattern in _FINDER_LIKE:
            m = -1
            for k, ch in enumerate(pattern):
                m &= (dark if ch == "1" else light) >> (10 - k)
            points += 40 * m.bit_count()
        # rule 4, with qrcode's float arithmetic
        percent = float((dark & self.rows_part).bit_count()) / self.cells
        points += int(abs(percent * 100 - 50) / 5) * 10
        return points


class _Layout:
    """Where the bits of a version's symbol go, computed once per version."""

    def __init__(self, version: int) -> None:
        probe = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
        n = self.size = version * 4 + 17
        # qrcode's own function patterns (finders, alignment, timing) in "test" mode: format and
        # version information all light, as qrcode scores the masks.
        probe.modules_count = n
        probe.modules = [[None] * n for _ in range(n)]
        probe.setup_position_probe_pattern(0, 0)
        probe.setup_position_probe_pattern(n - 7, 0)
        probe.setup_position_probe_pattern(0, n - 7)
        probe.setup_position_adjust_pattern()
        probe.setup_timing_pattern()
        blank = [row[:] for row in probe.modules]
        probe.setup_type_info(True, 0)
        if version >= 7:
            probe.setup_type_number(True)
        self.test_rows = self._rows(probe.modules)
        self.planes = _Planes(n)
        self.test_packed = self.planes.pack(self.test_rows)
        # the data region: every module still unset, in qrcode's zigzag placement order
        self.positions = self._placement(probe.modules)
        self.masks: list[list[int]] = []
        self.masks_packed: list[int] = []
        self.final_rows: list[list[int]] = []
        for pattern in range(8):
            func = qr_util.mask_func(pattern)
            mask = [0] * n
            for r, c in self.positions:
                if func(r, c):
                    mask[r] |= 1 << (n - 1 - c)
            self.masks.append(mask)
            self.masks_packed.append(self.planes.pack(mask))
            probe.modules = [row[:] for row in blank]
            probe.setup_type_info(False, pattern)
            if version >= 7:
                probe.setup_type_number(False)
            self.final_rows.append(self._rows(probe.modules))

    def _rows(self, modules: list[list[bool | None]]) -> list[int]:
        n = self.size
        return [sum(1 << (n - 1 - c) for c, m in enumerate(row) if m) for row in modules]

    def _placement(self, modules: list[list[bool | None]]) -> list[tuple[int, int]]:
        """The order in which qrcode's ``map_data`` fills the unset modules."""
        n = self.size
        out: list[tuple[int, int]] = []
        inc, row = -1, n - 1
        for col in range(n - 1, 0, -2):
            if col <= 6:
                col -= 1
            while True:
                for c in (col, col - 1):
                    if modules[row][c] is None:
                        out.append((row, c))
                row += inc
                if row < 0 or n <= row:
                    row -= inc
                    inc = -inc
                    break
        return out

    def symbol(self, data: list[int]) -> list[int]:
        """The finished symbol's rows for the codewords ``data``, with qrcode's choice of mask."""
        n = self.size
        unmasked = [0] * n
        bits = len(data) * 8
        for i, (r, c) in enumerate(self.positions[:bits]):
            if data[i >> 3] >> (7 - (i & 7)) & 1:
                unmasked[r] |= 1 << (n - 1 - c)
        best, best_points = 0, 0
        packed = self.planes.pack(unmasked)  # data and function modules are disjoint: | and ^ commute with packing
        for pattern, mask in enumerate(self.masks_packed):
            points = self.planes.penalty(self.test_packed | (packed ^ mask))
            if pattern == 0 or points < best_points:  # the first of equal scores wins, as in qrcode
                best, best_points = pattern, points
        return [f | (u ^ m) for f, u, m in zip(self.final_rows[best], unmasked, self.masks[best])]


_layouts: dict[int, _Layout] = {}
_layouts_lock = threading.Lock()


def _layout(version: int) -> _Layout:
    layout = _layouts.get(version)
    if layout is None:
        with _layouts_lock:
            layout = _layouts.get(version) or _layouts.setdefault(version, _Layout(version))
    return layout


def qr_png(text: str, scale: int = 4) -> bytes:
    """A 1-bit PNG of the symbol for ``text`` with a 4-module quiet zone, ``scale`` pixels a module.

    Raises ValueError as :func:`qr_matrix` does, or for a scale below 1.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    from PIL import Image  # local: only web pages want a raster QR

    matrix = qr_matrix(text)
    side = matrix.size + 2 * QUIET_ZONE
    img = Image.new("1", (side, side), 1)
    pixels = img.load()
    assert pixels is not None
    for r, row in enumerate(matrix.modules):
        for c, dark in enumerate(row):
            if dark:
                pixels[c + QUIET_ZONE, r + QUIET_ZONE] = 0
    if scale > 1:
        img = img.resize((side * scale, side * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
