"""Find and read the licence QR code in an uploaded photo or scan of a printed licence.

A service window hands in a JPEG or PNG: a 150-300 dpi scan, or a phone photo of the printed page
(turned a few degrees or on its side, slightly blurred, JPEG-compressed, unevenly lit). The upload is
checked before it is decoded (format by magic bytes, size in bytes, pixel count from the header),
decoded to greyscale and read with zxing-cpp restricted to QR codes.

Reading climbs a ladder of attempts (:func:`_attempts`): the cheap one first, the dearer ones only
while nothing has been found. Large photos are first read at a working size of about
:data:`_WORK_SIDE` pixels: a JPEG is decoded straight to that size and to greyscale by libjpeg's DCT
scaling, which is 3-5× cheaper than decoding it whole and, on a 20 MP photo, reads the symbol in
~45 ms instead of ~330 ms.

:func:`read_qr_codes` returns every distinct code with where it sits (for finding the printed text
around the licence code); :func:`read_qr_from_image` the one text of the licence code.

Hostile uploads end in :class:`ImageTooLarge` or :class:`UnreadableEvidence` after bounded work: the
header is judged before decoding (bytes, pixels, each side, aspect ratio, and for a JPEG the number of
scans: a progressive JPEG repeating a scan ~350,000 times in 15 MB would keep libjpeg busy for minutes).
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from struct import error as struct_error

import zxingcpp
from PIL import Image, ImageFilter, ImageMath, ImageOps
from PIL.JpegImagePlugin import JpegImageFile

from ..errors import PayloadTooLarge, UnreadableEvidence
from .kinds import IMAGE_MAGIC

log = logging.getLogger(__name__)

MAX_IMAGE_PIXELS = 25_000_000  # a 24 MP phone photo fits; decoding stays ~100 MB
"""Largest image decoded (a 48 MP phone photo is 8000×6000); refused from the header, before decoding."""

MAX_IMAGE_BYTES = 15 * 1024 * 1024
"""Largest upload looked at."""

MAX_IMAGE_SIDE = 12_000
"""Longest side decoded: zxing-cpp refuses sides over 65,535 (a ValueError, once an HTTP 500), and no
camera or scanner makes a page picture wider than this within :data:`MAX_IMAGE_PIXELS`."""

MAX_ASPECT_RATIO = 8
"""Longest side over shortest: an A4 page is 1.41, a panorama 4; a 1 × 25,000,000 strip is no picture
of a licence, and filters sized by the longer side would only waste time on it."""

MAX_JPEG_SCANS = 200
"""Scans (SOS markers) a JPEG may hold: a progressive photo has about 10; each scan costs libjpeg a
pass over every block of the image, ~1.5 ms at 25 MP."""

MAX_SYMBOLS = 16
"""Codes kept from one picture; a sheet of stickers is not a licence."""

_WORK_SIDE = 2000
"""Longer side of the image tried first. A phone photo of an A4 page this size has QR modules of ~4 px
(the reader needs ~3); modules of 10-30 px in a 12-48 MP photo only cost time and carry sensor noise.
The full resolution is tried next, for a page photographed from afar."""

_SMALL_SIDE = 1800
"""Images no longer than this are also tried enlarged 2× and sharpened, the last resort: modules of
~2 px (a page photographed from afar) or smeared by blur are separated again."""

_QR_CODES = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
"""zxing-cpp 3's QR family (models 1 and 2, Micro QR, rMQR): far cheaper than searching every format."""

_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, TypeError, KeyError, IndexError, struct_error)
"""What Pillow's decoders and EXIF parser raise for truncated or malformed files."""


class ImageTooLarge(PayloadTooLarge):
    """The uploaded image has more bytes or pixels than the platform decodes."""

    slug = "image-too-large"
    title = "Image too large"


Point = tuple[float, float]


@dataclass(frozen=True)
class Symbol:
    """One QR symbol read: its text, and where it sits in :attr:`QrScan.image`."""

    text: str
    corners: tuple[Point, Point, Point, Point]
    """The symbol's outer corners (quiet zone excluded) as the symbol sees them: top left, top right,
    bottom right, bottom left; on a page photographed upside down, top left is low on the right."""
    version: int | None
    """QR version (the symbol is 17 + 4 × version modules wide); None for Micro QR or rMQR."""

    @property
    def looks_like_licence_link(self) -> bool:
        """What a licence link contains: ``/V/`` (any case). Only a guess; the verifier decides."""
        return "/v/" in self.text.lower()


@dataclass(frozen=True)
class QrScan:
    """Every QR symbol read in a picture, and the upright greyscale image their corners refer to."""

    symbols: tuple[Symbol, ...]
    image: Image.Image

    @property
    def texts(self) -> tuple[str, ...]:
        """The distinct texts, in the order first found."""
        return tuple(dict.fromkeys(s.text for s in self.symbols))


def read_qr_from_image(data: bytes) -> str:
    """The text of the licence QR code in a JPEG or PNG image.

    If the image holds several QR codes, the first whose text looks like a licence verification link
    (contains ``/V/``, any case) is returned, otherwise the first one found. EXIF orientation is
    applied; rotation, blur, JPEG artefacts and uneven lighting of a phone photo are tolerated.

    Raises :class:`ImageTooLarge` for more than :data:`MAX_IMAGE_BYTES` bytes or
    :data:`MAX_IMAGE_PIXELS` pixels (judged from the header, before decoding), and
    :class:`UnreadableEvidence` for anything but a JPEG or PNG, an image that cannot be decoded, or
    one in which no QR code can be read.
    """
    symbols = read_qr_codes(data).symbols
    return next((s.text for s in symbols if s.looks_like_licence_link), symbols[0].text)


def read_qr_codes(data: bytes) -> QrScan:
    """Every QR code in a JPEG or PNG image, with where each sits; raises like
    :func:`read_qr_from_image`.

    The ladder of attempts stops at the first rung that reads a code looking like a licence link;
    codes found on the rungs before it (a help-desk sticker read first) are kept too. Each distinct
    text is listed once per place it was found (two pages of one household register: twice).
    """
    opened = _check_header(data)
    return _scan(_attempts(lambda work: _decode(data, work_size=work, opened=opened if work else None)))


def read_qr_codes_in(image: Image.Image) -> QrScan:
    """Like :func:`read_qr_codes`, for an image already decoded (a PDF page rasterised by the
    caller, who bounded its size). Raises :class:`ImageTooLarge` over the pixel, side or aspect limits
    and :class:`UnreadableEvidence` when no QR code can be read."""
    _check_geometry(*image.size)
    grey = _to_grey(image)
    return _scan(_attempts(lambda work: (grey, False)))


def _scan(attempts: Iterator[_Attempt]) -> QrScan:
    symbols: list[Symbol] = []
    base: Image.Image | None = None
    tried = 0
    for name, image, binarizer, scale in attempts:
        tried += 1
        if base is None:
            base = image  # the first rung's image: the work-size decode every rung is measured against
        try:
            results = zxingcpp.read_barcodes(
                image,
                formats=_QR_CODES,
                binarizer=binarizer,
                try_rotate=True,  # QR finder patterns fix the orientation anyway; 90/180° photos read as they are
                try_downscale=True,  # ~1 ms; finds symbols whose modules are too big for the local window
                try_invert=False,  # printed licences are dark on light; an inverted pass doubles a miss
            )
        except (ValueError, RuntimeError) as exc:  # zxing-cpp refuses what it cannot take (sides over 65,535)
            raise UnreadableEvidence("the image cannot be read") from exc
        for r in results:
            if r.valid and r.text and len(symbols) < MAX_SYMBOLS:
                _add(symbols, _symbol(r, scale))
        if any(s.looks_like_licence_link for s in symbols):
            break
    if not symbols or base is None:
        log.info("no qr found", extra={"attempts": tried})
        raise UnreadableEvidence("no QR code found in the image")
    log.debug("qr read", extra={"attempt": name, "symbols": len(symbols), "size": base.size})
    return QrScan(tuple(symbols), base)


def _symbol(r: zxingcpp.Barcode, scale: float) -> Symbol:
    """The reader's result in the coordinates of the work-size image (``scale``: work over rung)."""
    p = r.position
    tl, tr, br, bl = ((pt.x * scale, pt.y * scale) for pt in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
    version = r.extra.get("Version") if isinstance(r.extra, dict) else None
    try:
        number = int(version) if version is not None and r.format == zxingcpp.BarcodeFormat.QRCode else None
    except (TypeError, ValueError):
        number = None
    return Symbol(r.text, (tl, tr, br, bl), number)


def _add(symbols: list[Symbol], new: Symbol) -> None:
    """Add unless the same text was already found at the same place (a dearer rung reading it again)."""
    cx, cy = _centre(new)
    side = math.dist(new.corners[0], new.corners[1])
    for old in symbols:
        if old.text == new.text and math.dist(_centre(old), (cx, cy)) < side:
            return
    symbols.append(new)


def _centre(s: Symbol) -> Point:
    return (sum(x for x, _ in s.corners) / 4, sum(y for _, y in s.corners) / 4)


def _check_header(data: bytes) -> Image.Image:
    """Refuse what must not be decoded: too many bytes, not JPEG or PNG, too many pixels, a side too
    long or too thin, a JPEG of too many scans. Returns the image opened lazily (header read, nothing
    decoded)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"image of {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}")
    if not data.startswith(IMAGE_MAGIC):
        raise UnreadableEvidence("not a JPEG or PNG image")
    # An upper bound on the scans: 0xFF is always followed by 0x00 inside entropy-coded data, so every
    # scan has its own FF DA; the count may only over-estimate (bytes inside an APPn segment).
    if data.startswith(b"\xff\xd8") and data.count(b"\xff\xda") > MAX_JPEG_SCANS:
        raise UnreadableEvidence(f"JPEG of more than {MAX_JPEG_SCANS} scans")
    return _open(data)


def _open(data: bytes) -> Image.Image:
    """Open lazily (header only), refusing more than :data:`MAX_IMAGE_PIXELS` pixels."""
    try:
        with warnings.catch_warnings():
            # Pillow warns over its own limit of ~89 MP (and raises over twice that); ours is lower
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=("JPEG", "PNG"))
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"image over the limit of {MAX_IMAGE_PIXELS} pixels") from exc
    except _DECODE_ERRORS as exc:
        raise UnreadableEvidence("the image cannot be decoded") from exc
    _check_geometry(*img.size)
    return img


def _check_geometry(width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLarge(f"image of {width}×{height} pixels; the limit is {MAX_IMAGE_PIXELS} pixels")
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageTooLarge(f"image of {width}×{height} pixels; the longest side allowed is {MAX_IMAGE_SIDE} pixels")
    if min(width, height) < 1 or max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise UnreadableEvidence(f"image of {width}×{height} pixels is no picture of a page (sides more than {MAX_ASPECT_RATIO}:1)")


def _decode(data: bytes, *, work_size: bool, opened: Image.Image | None = None) -> tuple[Image.Image, bool]:
    """Decode to an upright 8-bit greyscale image; with ``work_size``, at about :data:`_WORK_SIDE`.
    ``opened``: ``data`` as :func:`_open` gave it and nothing has decoded yet (saves opening it again).

    Returns the image and whether it was made smaller than the original.
    """
    img = opened if opened is not None else _open(data)
    full = img.size
    try:
        if isinstance(img, JpegImageFile):  # also MPO, the multi-picture JPEG some phones write
            # libjpeg decodes to luminance, and by DCT scaling to 1/2, 1/4 or 1/8 of the size, directly
            scale = min(1.0, _WORK_SIDE / max(full)) if work_size else 1.0
            img.draft("L", (math.ceil(full[0] * scale), math.ceil(full[1] * scale)))
        img.load()
        img = _to_grey(ImageOps.exif_transpose(img))
        if work_size and max(img.size) >= 2 * _WORK_SIDE:  # a PNG photo: box-average whole pixels
            img = img.reduce(max(img.size) // _WORK_SIDE)
    except _DECODE_ERRORS as exc:
        raise UnreadableEvidence("the image cannot be decoded") from exc
    return img, img.width * img.height < full[0] * full[1]


def _to_grey(img: Image.Image) -> Image.Image:
    """8-bit luminance; transparency laid on white (a transparent PNG would otherwise read as black)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: convert("L") would clip everything above 255 to white
        return img.convert("I").point(lambda v: v / 256).convert("L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("L")
    return img if img.mode == "L" else img.convert("L")


_Attempt = tuple[str, Image.Image, zxingcpp.Binarizer, float]
"""Rung name, image, binarizer, and the factor from the image's coordinates to the first rung's."""


def _attempts(decode: Callable[[bool], tuple[Image.Image, bool]]) -> Iterator[_Attempt]:
    """The ladder, cheapest first; each image is made only when the rungs below it found nothing.
    ``decode(work_size)`` gives the upright grey image (at about :data:`_WORK_SIDE`, or whole) and
    whether it was made smaller than the original."""
    local = zxingcpp.Binarizer.LocalAverage  # measured: GlobalHistogram read nothing these rungs missed
    work, reduced = decode(True)
    # 1. as decoded, local-average binarizer: scans and ordinary phone photos
    yield "work-size", work, local, 1.0
    # 2. a large photo at full resolution: the page photographed from afar
    if reduced:
        full = decode(False)[0]
        yield "full-size", full, local, work.width / full.width
    # 3. contrast stretched and edges sharpened: blur, JPEG smear, dim exposure
    yield "sharpened", _sharpened(work, radius=2), local, 1.0
    # 4. lighting divided out: a hard-edged shadow across the symbol
    yield "flattened", _flattened(work), local, 1.0
    # 5. enlarged 2× and sharpened: tiny or blurred modules
    if max(work.size) <= _SMALL_SIDE:
        enlarged = work.resize((work.width * 2, work.height * 2), Image.Resampling.BICUBIC)
        yield "enlarged", _sharpened(enlarged, radius=3, percent=300), local, 0.5


def _sharpened(grey: Image.Image, *, radius: float, percent: int = 250) -> Image.Image:
    """Contrast stretched (1% clipped at each end), then an unsharp mask of ``radius`` pixels."""
    stretched = ImageOps.autocontrast(grey, cutoff=1)
    return stretched.filter(ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=2))


def _flattened(grey: Image.Image) -> Image.Image:
    """``grey * 235 / background``, the background a blur several QR modules wide; clipped to 0-255."""
    background = grey.filter(ImageFilter.BoxBlur(max(8, max(grey.size) // 60)))
    num = grey.convert("F")
    den = background.point(lambda v: max(v, 1)).convert("F")  # no division by zero
    out = ImageMath.lambda_eval(lambda a: a["num"] * 235.0 / a["den"], num=num, den=den)
    assert isinstance(out, Image.Image)
    return out.convert("L")

