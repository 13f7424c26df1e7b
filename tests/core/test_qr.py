"""QR symbols: smallest version at ECC M, alphanumeric mode for upper-case text, a hard size cap."""

from __future__ import annotations

import io
import random

import pytest
import zxingcpp
from PIL import Image

from licence_svc.core.qr import MAX_VERSION, QUIET_ZONE, qr_matrix, qr_png

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PREFIX = "HTTPS://LICENCE.EXAMPLE.GOV.CN/V/"


def verification_text(length: int, seed: int = 7) -> str:
    """An upper-case verification URL with a base32 payload, ``length`` characters in all."""
    rng = random.Random(seed)
    return PREFIX + "".join(rng.choice(BASE32) for _ in range(length - len(PREFIX)))


def decode(png: bytes) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode)]


def test_the_longest_text_that_fits_version_12_round_trips() -> None:
    text = verification_text(419)  # version 12-M holds 419 alphanumeric characters
    matrix = qr_matrix(text)
    assert (matrix.version, matrix.size) == (12, 65)
    assert decode(qr_png(text, scale=3)) == [text]


def test_upper_case_text_is_encoded_alphanumeric() -> None:
    # 400 characters in byte mode would need version 15 at ECC M; alphanumeric fits version 12.
    assert qr_matrix(verification_text(400)).version == 12
    assert qr_matrix(verification_text(100)).version == 5


def test_text_needing_more_than_version_12_is_refused() -> None:
    with pytest.raises(ValueError, match=rf"needs QR version 13; the limit is {MAX_VERSION}"):
        qr_matrix(verification_text(420))


def test_text_beyond_any_version_is_refused_as_value_error() -> None:
    with pytest.raises(ValueError, match="does not fit any QR version"):
        qr_matrix("a" * 3000)


def test_empty_text_is_refused() -> None:
    with pytest.raises(ValueError, match="nothing to encode"):
        qr_matrix("")


def test_mixed_case_and_chinese_text_still_round_trips() -> None:
    text = "https://licence.example.gov.cn/v?n=张*明"
    assert decode(qr_png(text, scale=4)) == [text]


def test_matrix_shape_and_runs_agree() -> None:
    matrix = qr_matrix(verification_text(200))
    assert matrix.size == 17 + 4 * matrix.version
    assert len(matrix.modules) == matrix.size and all(len(r) == matrix.size for r in matrix.modules)
    dark = {(r, c) for r, c0, n in matrix.dark_runs() for c in range(c0, c0 + n)}
    assert dark == {(r, c) for r, row in enumerate(matrix.modules) for c, m in enumerate(row) if m}
    assert matrix.modules[0][:7] == (True,) * 7  # finder pattern in the top-left corner


def test_png_has_the_quiet_zone_and_scale() -> None:
    text = verification_text(60)
    matrix = qr_matrix(text)
    img = Image.open(io.BytesIO(qr_png(text, scale=5)))
    assert img.size == ((matrix.size + 2 * QUIET_ZONE) * 5,) * 2
    assert img.convert("L").getpixel((QUIET_ZONE * 5 - 1, QUIET_ZONE * 5 - 1)) == 255
    assert img.convert("L").getpixel((QUIET_ZONE * 5, QUIET_ZONE * 5)) == 0


def test_png_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="scale"):
        qr_png("HELLO", scale=0)
