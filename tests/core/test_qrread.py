"""Reading the licence QR code from uploads: a 150 dpi scan of a rendered licence and "phone photos"
made from it (turned, blurred, unevenly lit, shrunk, JPEG-compressed), and the uploads refused."""

from __future__ import annotations

import functools
import io
import random
import shutil
import struct
import subprocess
import time
import zlib
from datetime import date

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw, ImageFile, ImageFilter

from licence_svc.core import fonts
from licence_svc.core.kinds import KINDS, validate
from licence_svc.core.qr import qr_png
from licence_svc.core.qrread import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    MAX_JPEG_SCANS,
    ImageTooLarge,
    _decode,
    read_qr_codes,
    read_qr_codes_in,
    read_qr_from_image,
)
from licence_svc.core.render import RenderRequest, render_pdf
from licence_svc.errors import LicenceError, UnreadableEvidence
from tests.helpers import load_sample

_rng = random.Random(20240115)
QR_TEXT = "HTTP://127.0.0.1:8000/V/" + "".join(_rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(330))
Transpose = Image.Transpose


@pytest.fixture(scope="session")
def scan() -> bytes:
    """The id card licence as a 150 dpi colour PNG, as a flatbed scanner would hand it in."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    record = load_sample("id_card")
    req = RenderRequest(
        kind=KINDS["id_card"],
        data=validate("id_card", record, can_render=fonts.can_render),
        identifier=f"{KINDS['id_card'].kind_code}-20240115-000042",
        issuer_name="北京市公安局东城分局",
        issued_on=date(2024, 1, 15),
        qr_text=QR_TEXT,
    )
    args = [pdftoppm, "-r", "150", "-png", "-singlefile", "-"]
    return subprocess.run(args, input=render_pdf(req), capture_output=True, check=True, timeout=60).stdout


def encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def lighting(size: tuple[int, int], darkest: int) -> Image.Image:
    """A diagonal gradient from ``darkest`` to full light: a lamp to one side of the desk."""
    ramp = Image.linear_gradient("L").rotate(-35, fillcolor=128).resize(size)
    return ramp.point(lambda v: darkest + (255 - darkest) * v // 255).convert("RGB")


@functools.lru_cache(maxsize=2)
def _colour_page(scan: bytes) -> Image.Image:
    return Image.open(io.BytesIO(scan)).convert("RGB")


def phone_photo(
    scan: bytes,
    angle: float = 5.0,
    *,
    blur: float = 1.0,
    width: int = 1200,
    quality: int = 65,
    darkest: int = 110,
    turn: Transpose | None = None,
    exif_orientation: int | None = None,
) -> bytes:
    """The scan as a phone would photograph the print-out: turned ``angle`` degrees on a grey desk,
    out of focus, lit from one side, ``width`` pixels wide, JPEG at ``quality``."""
    img = _colour_page(scan).rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(150, 150, 145))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    img = ImageChops.multiply(img, lighting(img.size, darkest))
    img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    if turn is not None:
        img = img.transpose(turn)
    if exif_orientation is None:
        return encode(img, quality=quality)
    exif = Image.Exif()
    exif[0x0112] = exif_orientation
    return encode(img, quality=quality, exif=exif.tobytes())


def attempt(caplog: pytest.LogCaptureFixture) -> str:
    """The rung of the reading ladder that found the code, from the module's debug event."""
    (record,) = [r for r in caplog.records if r.name == "licence_svc.core.qrread" and r.msg == "qr read"]
    return str(getattr(record, "attempt"))


# --- reading ------------------------------------------------------------------------------------


def test_a_150_dpi_scan(scan: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", "licence_svc.core.qrread")
    assert read_qr_from_image(scan) == QR_TEXT
    assert attempt(caplog) == "work-size"


def test_a_grey_scan(scan: bytes) -> None:
    assert read_qr_from_image(encode(Image.open(io.BytesIO(scan)).convert("L"), "PNG")) == QR_TEXT


@pytest.mark.parametrize("angle", [3.0, -5.0, 8.0])
def test_a_phone_photo_turned_a_few_degrees(scan: bytes, angle: float, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", "licence_svc.core.qrread")
    assert read_qr_from_image(phone_photo(scan, angle)) == QR_TEXT
    assert attempt(caplog) == "work-size"


@pytest.mark.parametrize("turn", [Transpose.ROTATE_90, Transpose.ROTATE_180, Transpose.ROTATE_270], ids=["90", "180", "270"])
def test_a_phone_photo_on_its_side_or_upside_down(scan: bytes, turn: Transpose) -> None:
    assert read_qr_from_image(phone_photo(scan, 4.0, turn=turn)) == QR_TEXT


def test_exif_orientation_is_applied(scan: bytes) -> None:
    # stored lying on its side, with the tag a phone writes to say "turn me 90° clockwise"
    photo = phone_photo(scan, 4.0, turn=Transpose.ROTATE_90, exif_orientation=6)
    assert Image.open(io.BytesIO(photo)).size[0] > Image.open(io.BytesIO(photo)).size[1]
    upright, _ = _decode(photo, work_size=True)
    assert upright.width < upright.height  # an A4 page in portrait again
    assert read_qr_from_image(photo) == QR_TEXT


def test_a_photo_from_further_away(scan: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", "licence_svc.core.qrread")
    # 450 px wide: modules of ~1.3 px, read only after the image is enlarged
    assert read_qr_from_image(phone_photo(scan, 5.0, width=450, blur=0.8)) == QR_TEXT
    assert attempt(caplog) == "enlarged"


@pytest.mark.parametrize(("blur", "rung"), [(2.0, "sharpened"), (2.2, "enlarged")])
def test_a_blurrier_photo(scan: bytes, caplog: pytest.LogCaptureFixture, blur: float, rung: str) -> None:
    # twice the blur of an ordinary photo: modules of ~3.3 px smeared over ~4 px
    caplog.set_level("DEBUG", "licence_svc.core.qrread")
    assert read_qr_from_image(phone_photo(scan, 5.0, blur=blur)) == QR_TEXT
    assert attempt(caplog) == rung


def test_a_dim_badly_compressed_photo(scan: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", "licence_svc.core.qrread")
    assert read_qr_from_image(phone_photo(scan, -6.0, darkest=40, quality=30)) == QR_TEXT
    assert attempt(caplog) == "work-size"


def test_a_hard_shadow_across_the_code(scan: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", "licence_svc.core.qrread")
    img = Image.open(io.BytesIO(phone_photo(scan, 4.0, quality=95))).convert("RGB")
    shade = Image.new("L", img.size, 255)
    w, h = img.size
    ImageDraw.Draw(shade).polygon([(0, h * 0.72), (w * 0.4, h), (0, h)], fill=40)  # a hand or a phone
    shade = shade.filter(ImageFilter.GaussianBlur(3))
    assert read_qr_from_image(encode(ImageChops.multiply(img, shade.convert("RGB")), quality=65)) == QR_TEXT
    assert attempt(caplog) == "flattened"


def test_a_large_photo_of_a_distant_page(scan: bytes, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", "licence_svc.core.qrread")
    # 12 MP; the page fills a fifth of the frame, so the working-size copy is too coarse to read
    page = Image.open(io.BytesIO(phone_photo(scan, 3.0, width=800, quality=95)))
    frame = Image.new("RGB", (4000, 3000), (120, 110, 100))
    frame.paste(page, (1500, 700))
    assert read_qr_from_image(encode(frame, quality=80)) == QR_TEXT
    assert attempt(caplog) == "full-size"


@settings(max_examples=6, deadline=None)
@given(angle=st.floats(min_value=-8, max_value=8), blur=st.floats(min_value=0, max_value=1.2))
def test_any_small_turn_and_blur(scan: bytes, angle: float, blur: float) -> None:
    assert read_qr_from_image(phone_photo(scan, angle, blur=blur)) == QR_TEXT


def _two_codes(other: str, page: Image.Image, other_first: bool) -> bytes:
    """The page with a second QR code of ``other`` pasted above or below its own."""
    sticker = Image.open(io.BytesIO(qr_png(other, scale=4))).convert("L")
    y = 120 if other_first else page.height - sticker.height - 40
    page.paste(sticker, (page.width - sticker.width - 60, y))
    return encode(page, "PNG")


def found(data: bytes) -> list[str]:
    """Every QR text zxing-cpp reads in ``data``, in its order."""
    qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)), formats=qr)]


@pytest.mark.parametrize("other_first", [True, False])
def test_of_two_codes_the_licence_link_is_chosen(scan: bytes, other_first: bool) -> None:
    other = "HTTPS://GOVSERVICE.EXAMPLE.CN/HELP"
    data = _two_codes(other, Image.open(io.BytesIO(scan)).convert("L"), other_first)
    assert found(data) == ([other, QR_TEXT] if other_first else [QR_TEXT, other])  # both read, in this order
    assert read_qr_from_image(data) == QR_TEXT


def test_a_lone_code_that_is_no_licence_link_is_still_returned() -> None:
    assert read_qr_from_image(qr_png("WIFI:S:HALL;T:WPA;P:1234;;", scale=6)) == "WIFI:S:HALL;T:WPA;P:1234;;"


def test_lower_case_licence_links_count_too(scan: bytes) -> None:
    page = Image.open(io.BytesIO(scan)).convert("L")
    page.paste(Image.new("L", (600, 600), 255), (0, page.height - 600))  # cover the page's own code
    sticker = Image.open(io.BytesIO(qr_png("https://example.cn/about", scale=4))).convert("L")
    page.paste(sticker, (700, 100))
    page.paste(Image.open(io.BytesIO(qr_png("https://example.cn/v/abc", scale=4))).convert("L"), (700, 500))
    data = encode(page, "PNG")
    assert found(data) == ["https://example.cn/about", "https://example.cn/v/abc"]
    assert read_qr_from_image(data) == "https://example.cn/v/abc"


def test_a_transparent_png_is_read_on_white() -> None:
    # dark modules opaque, background transparent black: flattening the alpha away would give all black
    symbol = Image.open(io.BytesIO(qr_png(QR_TEXT, scale=4))).convert("L")
    alpha = symbol.point(lambda v: 255 - v)
    assert read_qr_from_image(encode(Image.merge("LA", [Image.new("L", symbol.size, 0), alpha]), "PNG")) == QR_TEXT


def test_a_16_bit_grey_png() -> None:
    symbol = Image.open(io.BytesIO(qr_png(QR_TEXT, scale=4))).convert("L")
    deep = symbol.point(lambda v: 30 if v < 128 else 235).convert("I").point(lambda v: v * 257).convert("I;16")
    assert read_qr_from_image(encode(deep, "PNG")) == QR_TEXT


# --- refusals -----------------------------------------------------------------------------------


def test_no_code_in_a_blank_page() -> None:
    with pytest.raises(UnreadableEvidence, match="no QR code found in the image"):
        read_qr_from_image(encode(Image.new("RGB", (1240, 1754), "white"), quality=70))


def test_no_code_in_a_page_without_one(scan: bytes) -> None:
    page = Image.open(io.BytesIO(scan)).convert("L")
    page.paste(Image.new("L", (600, 600), 255), (0, page.height - 600))
    with pytest.raises(UnreadableEvidence, match="no QR code"):
        read_qr_from_image(encode(page, "PNG"))


@pytest.mark.parametrize(
    "data",
    [
        encode(Image.new("RGB", (64, 64), "white"), "GIF"),
        encode(Image.new("RGB", (64, 64), "white"), "BMP"),
        encode(Image.new("RGB", (64, 64), "white"), "WEBP"),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        "扫码核验 HTTP://127.0.0.1:8000/V/ABC".encode(),
        b"",
    ],
    ids=["gif", "bmp", "webp", "pdf", "text", "empty"],
)
def test_only_jpeg_and_png_are_accepted(data: bytes) -> None:
    with pytest.raises(UnreadableEvidence, match="not a JPEG or PNG image"):
        read_qr_from_image(data)


@pytest.mark.parametrize("cut", [20, 200, 2000])
def test_a_truncated_or_garbled_image_is_unreadable(scan: bytes, cut: int) -> None:
    jpeg = encode(Image.open(io.BytesIO(scan)), quality=65)
    for data in (jpeg[:cut], scan[:cut], jpeg[:cut] + bytes(5000)):
        with pytest.raises(UnreadableEvidence, match="cannot be decoded|no QR code"):
            read_qr_from_image(data)


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG claiming ``width``×``height`` grey pixels: the header of a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b"")


def jpeg_header(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) is rewritten to claim ``width``×``height``."""
    data = bytearray(encode(Image.new("L", (16, 16), 255), quality=70))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(
    "data",
    [png_header(20_000, 20_000), png_header(8_000, 6_000), jpeg_header(8_000, 6_000), jpeg_header(65_000, 65_000)],
    ids=["png-400MP", "png-48MP", "jpeg-48MP", "jpeg-4GP"],
)
def test_too_many_pixels_is_refused_from_the_header(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("the image was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="pixels"):
        read_qr_from_image(data)
    assert time.perf_counter() - started < 0.5
    assert len(data) < 2000


def test_a_photo_just_under_the_pixel_limit_is_decoded() -> None:
    # 4800×5000 = 24 MP of white (a large phone photo): compact as a PNG, decoded, holds no code
    assert 4800 * 5000 <= MAX_IMAGE_PIXELS
    with pytest.raises(UnreadableEvidence, match="no QR code"):
        read_qr_from_image(encode(Image.new("1", (4800, 5000), 1), "PNG"))


def test_too_many_bytes_is_refused_before_anything_else() -> None:
    with pytest.raises(ImageTooLarge, match="bytes"):
        read_qr_from_image(b"\x89PNG\r\n\x1a\n" + bytes(MAX_IMAGE_BYTES))


def test_image_too_large_maps_to_413() -> None:
    err = ImageTooLarge("x")
    assert isinstance(err, LicenceError)
    assert (err.http_status, err.slug, err.exit_code) == (413, "image-too-large", 2)


# --- every code, with where it is ----------------------------------------------------------------


def test_every_code_is_read_with_its_corners_and_version(scan: bytes) -> None:
    other = "HTTPS://GOVSERVICE.EXAMPLE.CN/HELP"
    result = read_qr_codes(_two_codes(other, Image.open(io.BytesIO(scan)).convert("L"), True))
    assert set(result.texts) == {other, QR_TEXT}
    licence = next(s for s in result.symbols if s.text == QR_TEXT)
    assert licence.looks_like_licence_link and licence.version is not None
    # the page's own code: 48 mm square with its quiet zone, 25 mm from the left, 29 mm from the bottom
    (x0, y0), (x1, _), (_, y2), _ = licence.corners
    modules = 17 + 4 * licence.version
    side = 48 / 25.4 * 150 * modules / (modules + 8)
    assert abs((x1 - x0) - side) < 3 and abs((y2 - y0) - side) < 3
    assert abs(x0 - (25 / 25.4 * 150 + 4 * side / modules)) < 4
    assert result.image.size == (1241, 1754)


def test_corners_follow_the_symbol_on_a_page_upside_down(scan: bytes) -> None:
    upside_down = encode(Image.open(io.BytesIO(scan)).convert("L").transpose(Transpose.ROTATE_180), "PNG")
    (symbol,) = read_qr_codes(upside_down).symbols
    (x0, y0), (x1, _), (x2, y2), _ = symbol.corners
    assert x1 < x0 and x2 < x0 and y2 < y0  # the symbol's top left is its lower right corner on the screen
    assert x0 > 1241 / 2 and y0 < 1754 / 2  # the code, bottom left on the page, is top right in the picture


def test_the_same_code_twice_is_one_text_in_two_places(scan: bytes) -> None:
    page = Image.open(io.BytesIO(scan)).convert("L")
    sheet = Image.new("L", (page.width * 2, page.height), 255)
    sheet.paste(page, (0, 0))
    sheet.paste(page, (page.width, 0))
    result = read_qr_codes(encode(sheet, "PNG"))
    assert result.texts == (QR_TEXT,)
    assert len(result.symbols) == 2


def test_codes_found_before_the_licence_link_are_kept(scan: bytes) -> None:
    # a help-desk sticker read at once; the page's own code, blurred, only on a dearer rung
    page = Image.open(io.BytesIO(scan)).convert("L").filter(ImageFilter.GaussianBlur(2.2))
    data = _two_codes("HTTPS://GOVSERVICE.EXAMPLE.CN/HELP", page, True)
    assert set(read_qr_codes(data).texts) == {"HTTPS://GOVSERVICE.EXAMPLE.CN/HELP", QR_TEXT}


def test_a_decoded_image_is_read_too(scan: bytes) -> None:
    assert read_qr_codes_in(Image.open(io.BytesIO(scan))).texts == (QR_TEXT,)
    with pytest.raises(ImageTooLarge):
        read_qr_codes_in(Image.new("L", (MAX_IMAGE_SIDE + 1, 100)))


# --- hostile images end quickly in a refusal ----------------------------------------------------


@pytest.mark.parametrize(
    "size", [(1, 25_000_000), (25_000_000, 1), (2, 12_000_000), (100, 250_000), (MAX_IMAGE_SIDE + 1, 1000)], ids=str
)
def test_a_side_too_long_is_refused_from_the_header(size: tuple[int, int]) -> None:
    data = encode(Image.new("1", size, 1), "PNG")  # 1 × 25,000,000 once ended in HTTP 500 (zxing's 65,535 limit)
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="side"):
        read_qr_codes(data)
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("size", [(900, 100), (100, 900), (9, 1)], ids=str)
def test_a_strip_is_no_picture_of_a_page(size: tuple[int, int]) -> None:
    with pytest.raises(UnreadableEvidence, match="no picture of a page"):
        read_qr_codes(encode(Image.new("L", size, 255), "PNG"))


def test_a_jpeg_of_too_many_scans_is_refused_before_decoding() -> None:
    # a progressive JPEG whose last scan repeats: each repeat costs libjpeg a pass over every block
    data = encode(Image.new("L", (2000, 2000), 255), progressive=True, quality=50)
    sos = data.rindex(b"\xff\xda")
    bomb = data[:-2] + data[sos:-2] * (MAX_JPEG_SCANS + 1) + b"\xff\xd9"
    started = time.perf_counter()
    with pytest.raises(UnreadableEvidence, match="scans"):
        read_qr_codes(bomb)
    assert time.perf_counter() - started < 0.5


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 3000),
    height=st.integers(1, 3000),
    mode=st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "I;16"]),
    fmt=st.sampled_from(["PNG", "JPEG"]),
    seed=st.integers(0, 2**16),
)
def test_any_image_ends_in_codes_or_a_refusal(width: int, height: int, mode: str, fmt: str, seed: int) -> None:
    if fmt == "JPEG" and mode not in ("L", "RGB"):
        mode = "L"
    noise = random.Random(seed).randbytes(min(width * height, 4096))
    img = Image.frombytes("L", (64, 64), (noise * (4096 // len(noise) + 1))[:4096]).resize((width, height)).convert(mode)
    started = time.perf_counter()
    try:
        read_qr_codes(encode(img, fmt))
    except (UnreadableEvidence, ImageTooLarge):
        pass
    assert time.perf_counter() - started < 5
