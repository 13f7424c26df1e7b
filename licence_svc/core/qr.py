"""QR symbols for the verification link printed on every licence.

The symbol is built once as a matrix of modules; the PDF renderer draws it as vector squares (crisp
at any zoom and print resolution) and web pages can ask for a PNG.

Cost: ~45 ms for a version 12 symbol, ~80% of it in qrcode's automatic mask selection (it builds
the symbol with each of the 8 masks and scores them in pure Python). Correctness first: the
standard mask choice is kept.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError
from qrcode.util import MODE_ALPHA_NUM, QRData

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
        out: list[tuple[int, int, int]] = []
        for r, row in enumerate(self.modules):
            c = 0
            while c < self.size:
                if row[c]:
                    start = c
                    while c < self.size and row[c]:
                        c += 1
                    out.append((r, start, c - start))
                else:
                    c += 1
        return out


def qr_matrix(text: str) -> QrMatrix:
    """Encode ``text`` at error correction M in the smallest QR version that holds it.

    Text made only of QR alphanumeric characters (upper-case URLs, base32) is encoded as one
    alphanumeric segment; other text goes through qrcode's segment optimisation. Raises ValueError
    for empty text or text that needs a version above ``MAX_VERSION``.
    """
    if not text:
        raise ValueError("nothing to encode in the QR code")
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M, box_size=1, border=0)
    if set(text) <= _ALPHANUMERIC:
        # Explicit, so a change in qrcode's segmentation heuristics cannot push the text into byte
        # mode (which would need ~45% more bits and several versions more).
        qr.add_data(QRData(text, mode=MODE_ALPHA_NUM))
    else:
        qr.add_data(text)
    try:
        version = qr.best_fit()
    except (DataOverflowError, ValueError) as exc:  # qrcode 8 raises ValueError past version 40
        raise ValueError(f"text of {len(text)} characters does not fit any QR version") from exc
    if version > MAX_VERSION:
        raise ValueError(f"text of {len(text)} characters needs QR version {version}; the limit is {MAX_VERSION}")
    qr.make(fit=False)  # mask selection happens here
    modules = tuple(tuple(bool(m) for m in row) for row in qr.modules)
    return QrMatrix(version=version, size=len(modules), modules=modules)


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
