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
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Iterator
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
    opened = _check_header(data)
    tried = 0
    for name, image, binarizer in _attempts(data, opened):
        tried += 1
        texts = [
            r.text
            for r in zxingcpp.read_barcodes(
                image,
                formats=_QR_CODES,
                binarizer=binarizer,
                try_rotate=True,  # QR finder patterns fix the orientation anyway; 90/180° photos read as they are
                try_downscale=True,  # ~1 ms; finds symbols whose modules are too big for the local window
                try_invert=False,  # printed licences are dark on light; an inverted pass doubles a miss
            )
            if r.valid and r.text
        ]
        if texts:
            log.debug("qr read", extra={"attempt": name, "symbols": len(texts), "size": image.size})
            return next((t for t in texts if "/v/" in t.lower()), texts[0])
    log.info("no qr found", extra={"attempts": tried})
    raise UnreadableEvidence("no QR code found in the image")


def _check_header(data: bytes) -> Image.Image:
    """Refuse what must not be decoded: too many bytes, not JPEG or PNG, too many pixels. Returns the
    image opened lazily (header read, nothing decoded)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"image of {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}")
    if not data.startswith(IMAGE_MAGIC):
        raise UnreadableEvidence("not a JPEG or PNG image")
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
    width, height = img.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLarge(f"image of {width}×{height} pixels; the limit is {MAX_IMAGE_PIXELS} pixels")
    return img


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


_Attempt = tuple[str, Image.Image, zxingcpp.Binarizer]


def _attempts(data: bytes, opened: Image.Image) -> Iterator[_Attempt]:
    """The ladder, cheapest first; each image is made only when the rungs below it found nothing.
    ``opened`` is ``data`` opened lazily, not yet decoded: the first rung decodes it."""
    local = zxingcpp.Binarizer.LocalAverage  # measured: GlobalHistogram read nothing these rungs missed
    work, reduced = _decode(data, work_size=True, opened=opened)
    # 1. as decoded, local-average binarizer: scans and ordinary phone photos
    yield "work-size", work, local
    # 2. a large photo at full resolution: the page photographed from afar
    if reduced:
        yield "full-size", _decode(data, work_size=False)[0], local
    # 3. contrast stretched and edges sharpened: blur, JPEG smear, dim exposure
    yield "sharpened", _sharpened(work, radius=2), local
    # 4. lighting divided out: a hard-edged shadow across the symbol
    yield "flattened", _flattened(work), local
    # 5. enlarged 2× and sharpened: tiny or blurred modules
    if max(work.size) <= _SMALL_SIDE:
        enlarged = work.resize((work.width * 2, work.height * 2), Image.Resampling.BICUBIC)
        yield "enlarged", _sharpened(enlarged, radius=3, percent=300), local


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

