"""Every uploaded picture ends in a QR text or a LicenceError (unreadable, too large), never another
exception or a hang: random and mutated PNG and JPEG files through ``read_qr_from_image``, in a
child process limited to 1 GiB and 20 s a picture (zxing-cpp and Pillow are C: an in-process
timer could not interrupt them)."""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from licence_svc.core.qr import qr_png
from licence_svc.core.qrread import read_qr_from_image
from tests.fuzz import mutate
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.runner import Outcome, Sandbox
from tests.fuzz.world import World

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


@pytest.fixture(scope="module")
def image_box() -> Iterator[Sandbox]:
    with Sandbox(read_qr_from_image, timeout=20.0, memory=1 << 30, cpu=120) as box:
        yield box


@pytest.fixture(scope="module")
def images(world: World) -> dict[str, bytes]:
    """The id card's genuine QR as a PNG, as a JPEG, and as a JPEG with EXIF orientation."""
    png = qr_png(world.licences["id_card"].qr_text, scale=3)
    img = Image.open(io.BytesIO(png)).convert("L")
    out = {"png": png}
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    out["jpeg"] = buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90°
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80, exif=exif.tobytes())
    out["jpeg_exif"] = buf.getvalue()
    return out


def read(box: Sandbox, data: bytes) -> Outcome:
    outcome = box.run(data)
    assert outcome.ok, f"{outcome.kind}: {data[:64]!r}\n{outcome.detail}"
    return outcome


def test_genuine_pictures_read(image_box: Sandbox, images: dict[str, bytes]) -> None:
    for name, data in images.items():
        assert read(image_box, data) == Outcome("verdict", "str"), name


@fuzz_settings(40)
@given(rng=st.randoms(use_true_random=False), name=st.sampled_from(["png", "jpeg", "jpeg_exif"]))
def test_mutated_pictures(image_box: Sandbox, images: dict[str, bytes], rng: random.Random, name: str) -> None:
    data = images[name]
    for _ in range(rng.choice([1, 2, 4, 8])):
        data = mutate.mutate_bytes(data, rng, interesting=b"\x00\xff\x7f\x80\xd8\xd9\xda\xc0\xc2\xe1\x01")
    read(image_box, data)


@fuzz_settings(30)
@given(magic=st.sampled_from([PNG_MAGIC, JPEG_MAGIC, b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1"]), body=st.binary(max_size=2000))
def test_random_bytes_behind_a_magic_number(image_box: Sandbox, magic: bytes, body: bytes) -> None:
    read(image_box, magic + body)


def _png(width: int, height: int, rows: bytes, *, fix_crc: bool = True, colour_type: int = 0, depth: int = 8) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) if fix_crc else 0
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return PNG_MAGIC + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


@fuzz_settings(30)
@given(
    width=st.sampled_from([0, 1, 2, 5000, 5001, 65535, 2**31 - 1, 2**32 - 1]),
    height=st.sampled_from([0, 1, 5000, 65535, 2**31 - 1]),
    colour_type=st.sampled_from([0, 2, 3, 4, 6, 7]),
    depth=st.sampled_from([1, 8, 16, 3]),
    rows=st.binary(max_size=64),
    fix_crc=st.booleans(),
)
def test_png_headers_of_any_size(image_box: Sandbox, width: int, height: int, colour_type: int, depth: int, rows: bytes, fix_crc: bool) -> None:
    read(image_box, _png(width, height, rows, fix_crc=fix_crc, colour_type=colour_type, depth=depth))


def test_a_large_blank_png_at_the_pixel_limit(image_box: Sandbox) -> None:
    """25 million pixels of nothing, compressed to a few KB: decoded, searched, no code found."""
    rows = (b"\x00" + b"\xff" * 5000) * 5000
    assert read(image_box, _png(5000, 5000, rows)).detail.startswith("UnreadableEvidence")


@fuzz_settings(30)
@given(
    width=st.sampled_from([0, 1, 65535, 60000]),
    height=st.sampled_from([0, 1, 65535, 30000]),
    components=st.sampled_from([0, 1, 3, 4, 255]),
    tail=st.binary(max_size=200),
)
def test_jpeg_frame_headers_of_any_size(image_box: Sandbox, images: dict[str, bytes], width: int, height: int, components: int, tail: bytes) -> None:
    data = bytearray(images["jpeg"])
    sof = data.find(b"\xff\xc0")
    if sof > 0:
        data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
        data[sof + 9] = components
    read(image_box, bytes(data[: len(data) // 2]) + tail if tail else bytes(data))


@fuzz_settings(30)
@given(rng=st.randoms(use_true_random=False), fmt=st.sampled_from(["PNG", "JPEG"]), mode=st.sampled_from(["L", "RGB", "RGBA", "I;16", "P", "1"]))
def test_damaged_codes_in_sound_files(image_box: Sandbox, images: dict[str, bytes], rng: random.Random, fmt: str, mode: str) -> None:
    """Files that decode, holding a QR symbol that is scratched, noised, cut, scaled or turned:
    zxing gets to read (and misread) it."""
    img = Image.open(io.BytesIO(images["png"])).convert("L")
    pixels = img.load()
    for _ in range(rng.choice([0, 10, 200, 3000])):
        pixels[rng.randrange(img.width), rng.randrange(img.height)] = rng.choice([0, 255, rng.randrange(256)])
    if rng.random() < 0.3:
        img = img.crop((rng.randrange(60), rng.randrange(60), img.width - rng.randrange(60), img.height - rng.randrange(60)))
    if rng.random() < 0.3:
        img = img.rotate(rng.choice([1, 7, 45, 90, 180, 271]), expand=True, fillcolor=255)
    if rng.random() < 0.3:
        side = rng.choice([1, 2, 9, 31, 400, 1500])
        img = img.resize((side, max(1, side * img.height // img.width)))
    if fmt == "JPEG" and mode not in ("L", "RGB"):
        mode = "RGB"
    buf = io.BytesIO()
    img.convert(mode).save(buf, fmt, **({"quality": rng.choice([5, 50, 95])} if fmt == "JPEG" else {}))
    read(image_box, buf.getvalue())
