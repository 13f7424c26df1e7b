"""Mutators for the fuzz tests and ``bench/fuzz_verify.py``: hostile QR texts, COSE and claims,
PDF bytes and structures, licence.json documents and signed trust/status list bodies.

Every mutator takes a ``random.Random`` (hypothesis hands in one it controls via ``st.randoms``;
the bench a seeded one) and returns the mutated input. Nothing here judges the outcome.
"""

from __future__ import annotations

import base64
import copy
import functools
import math
import random
import re
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any

import cbor2

from licence_svc.core.payload import b32

B32_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
URL_CHARS = B32_ALPHABET + "abcdefghijklmnopqrstuvwxyz0189/:.-_%?#=&+ $*\n\t\r\x00"
WEIRD_CHARS = "\u00a0\u2028\u3000\ufeff\u200b/Vv:证照\U0001f600"

# -- values that break things -------------------------------------------------------------------

YEAR_1 = -62135596800  # 0001-01-01T00:00:00Z
YEAR_9999_END = 253402300799  # 9999-12-31T23:59:59Z
INTERESTING_INTS = [
    0, 1, -1, 2, 7, 255, 256, 999, 1000, 65535, 2**31 - 1, 2**31, -(2**31), 2**32 - 1, 2**32, 2**53, 2**53 + 1,
    2**62, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, -(2**64), 2**100, -(2**100), 10**11, -(10**11),
    10**12, 10**15, 10**18, 10**20, YEAR_1, YEAR_1 - 1, YEAR_1 + 86400, YEAR_9999_END, YEAR_9999_END + 1,
    YEAR_9999_END - 86400, 253402300800 + 8 * 3600, 4102444800, 32503680000, 131072, 131071, 262144,
]
INTERESTING_FLOATS = [0.0, -0.0, 1.5, -1.5, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan, 1.7e9, 2.5e11]


def interesting_int(rng: random.Random) -> int:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(INTERESTING_INTS)
    if pick < 0.8:
        bits = rng.choice([8, 16, 32, 40, 48, 63, 64, 65, 128, 1024])
        return rng.randrange(-(2**bits), 2**bits)
    return rng.choice(INTERESTING_INTS) + rng.randrange(-100000, 100000)


def hostile_text(rng: random.Random) -> str:
    choices: list[Callable[[], str]] = [
        lambda: "",
        lambda: "\n",
        lambda: "A" * rng.randrange(1, 40) + rng.choice(["\n", "\r\n", " ", "\x00", "\t", "\u2028"]),
        lambda: "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(18)) + rng.choice(["", "\n"]),
        lambda: "".join(rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randrange(0, 40))),
        lambda: "".join(rng.choice(URL_CHARS + WEIRD_CHARS) for _ in range(rng.randrange(0, 30))),
        lambda: "x" * rng.choice([100, 1000, 10000]),
        lambda: "张*" + rng.choice(["", "明", "\n", "\x00"]),
        lambda: "\U0010ffff" * rng.randrange(1, 4),
    ]
    return rng.choice(choices)()


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    """A CBOR-encodable value of any type, range and shape, hostile for preference."""
    kinds: list[Callable[[], Any]] = [
        lambda: interesting_int(rng),
        lambda: interesting_int(rng),
        lambda: rng.choice([True, False, None, cbor2.undefined]),
        lambda: rng.choice(INTERESTING_FLOATS),
        lambda: hostile_text(rng),
        lambda: rng.randbytes(rng.choice([0, 1, 31, 32, 33, 64, 1000])),
        lambda: [hostile_value(rng, depth + 1) for _ in range(rng.randrange(0, 3))],
        lambda: {hostile_key(rng): hostile_value(rng, depth + 1) for _ in range(rng.randrange(0, 3))},
        lambda: cbor2.CBORTag(rng.choice([0, 1, 2, 3, 4, 5, 18, 24, 30, 32, 37, 99, 100, 258, 1004, 55799, 2**32]), hostile_value(rng, depth + 1)),
        lambda: cbor2.CBORSimpleValue(rng.choice([0, 19, 99, 255])),
        lambda: Decimal(rng.choice(["1e-9999", "1e9999", "NaN", "-0", "12.5"])),
        lambda: Fraction(rng.randrange(1, 10**6), rng.randrange(1, 10**6)),
        lambda: datetime.fromtimestamp(rng.randrange(0, 2**31), timezone.utc),
        lambda: nested(rng, rng.choice([10, 100, 390])),
    ]
    if depth > 3:
        kinds = kinds[:6]
    return rng.choice(kinds)()


def hostile_key(rng: random.Random) -> Any:
    return rng.choice(
        [
            lambda: rng.randrange(0, 12),
            lambda: interesting_int(rng),
            lambda: hostile_text(rng),
            lambda: rng.randbytes(rng.randrange(0, 4)),
            lambda: rng.choice([True, False, None, 1.0, -0.0, math.nan]),
            lambda: str(rng.randrange(0, 10)),
        ]
    )()


def nested(rng: random.Random, depth: int) -> Any:
    value: Any = rng.choice([0, "x", b""])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {0: value}
    return value


# -- claims ----------------------------------------------------------------------------------------


def mutate_claims(claims: dict[Any, Any], rng: random.Random, *, now: int) -> Any:
    """Change one to three things about a claims map (or replace it wholesale)."""
    out: Any = dict(claims)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        if not isinstance(out, dict):
            break
        op = rng.random()
        if op < 0.35:
            out[rng.randrange(0, 10)] = hostile_value(rng)
        elif op < 0.55:  # plausible-looking but wrong values where they matter most
            key = rng.choice([5, 6, 9, 2, 3, 0])
            out[key] = rng.choice(
                [
                    now + rng.choice([-1, 1]) * rng.choice([1, 86400, 10**9, 10**11, 2**40, 2**62, 2**63, 2**64, 2**70]),
                    rng.choice(INTERESTING_INTS),
                    True,
                    False,
                    1.0,
                    str(now),
                ]
            )
        elif op < 0.7:
            out.pop(rng.randrange(0, 11), None)
        elif op < 0.8:
            out[hostile_key(rng)] = hostile_value(rng)
        elif op < 0.87:  # text claims with a trailing newline or stray case: the `$` trap
            key = rng.choice([1, 4, 7])
            value = out.get(key)
            if isinstance(value, str):
                out[key] = rng.choice([value + "\n", value.lower(), value[:-1], value + value[-1:], " " + value, value + "\x00"])
        elif op < 0.92:
            a, b = rng.randrange(0, 10), rng.randrange(0, 10)
            out[a], out[b] = out.get(b), out.get(a)
        elif op < 0.96:
            out = hostile_value(rng)  # not a map at all
        else:
            for _ in range(rng.randrange(1, 50)):
                out[rng.randrange(10, 10**6)] = hostile_value(rng)
    return out


def encode_claims(claims: Any, rng: random.Random) -> bytes:
    """CBOR of ``claims``, sometimes non-canonical (indefinite lengths, long heads) or with junk."""
    try:
        raw = cbor2.dumps(claims, canonical=rng.random() < 0.7)
    except (TypeError, ValueError, OverflowError, cbor2.CBOREncodeError):
        raw = cbor2.dumps(repr(claims)[:500])
    pick = rng.random()
    if pick < 0.05:
        raw += rng.randbytes(rng.randrange(1, 8))  # trailing bytes after the map
    elif pick < 0.1 and raw and 0xA0 <= raw[0] <= 0xB7:
        raw = b"\xbf" + _strip_map_head(raw) + b"\xff"  # indefinite-length map, same items
    elif pick < 0.13 and raw and 0xA0 <= raw[0] <= 0xB7:
        raw = b"\xb8" + bytes([raw[0] - 0xA0]) + raw[1:]  # a longer head than needed
    return raw


def _strip_map_head(raw: bytes) -> bytes:
    return raw[1:]


# -- bytes and text ---------------------------------------------------------------------------------

CBOR_HEADS = bytes([0x00, 0x17, 0x18, 0x1B, 0x20, 0x3B, 0x40, 0x5B, 0x5F, 0x60, 0x7B, 0x7F, 0x80, 0x9B, 0x9F, 0xA0, 0xBB, 0xBF, 0xC0, 0xC1, 0xC2, 0xD2, 0xD8, 0xD9, 0xDB, 0xF4, 0xF6, 0xF7, 0xF9, 0xFB, 0xFF])


def mutate_bytes(data: bytes, rng: random.Random, *, interesting: bytes = CBOR_HEADS) -> bytes:
    """One byte-level mutation: flip bits, overwrite, insert, delete, duplicate, truncate."""
    buf = bytearray(data)
    op = rng.randrange(8)
    pos = rng.randrange(len(buf) + 1) if buf else 0
    if op == 0 and buf:
        for _ in range(rng.choice([1, 1, 2, 3, 8])):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif op == 1 and buf:
        buf[min(pos, len(buf) - 1)] = rng.choice(interesting) if rng.random() < 0.6 else rng.randrange(256)
    elif op == 2:
        buf[pos:pos] = rng.choice([bytes([rng.choice(interesting)]), rng.randbytes(rng.randrange(1, 16)), b"\x00" * rng.randrange(1, 9), b"\xff" * rng.randrange(1, 9)])
    elif op == 3 and buf:
        del buf[pos : pos + rng.randrange(1, 32)]
    elif op == 4 and buf:
        start = rng.randrange(len(buf))
        buf[pos:pos] = buf[start : start + rng.randrange(1, 64)]
    elif op == 5:
        del buf[pos:]
    elif op == 6 and buf:
        i = min(pos, len(buf) - 1)
        buf[i] = (buf[i] + rng.choice([1, -1, 0x80])) % 256
    else:
        end = min(len(buf), pos + 8)
        buf[pos:end] = rng.randbytes(end - pos)
    return bytes(buf)


def mutate_text(text: str, rng: random.Random) -> str:
    """One character-level mutation of a QR text."""
    chars = list(text)
    op = rng.randrange(9)
    pos = rng.randrange(len(chars) + 1) if chars else 0
    if op == 0 and chars:
        chars[min(pos, len(chars) - 1)] = rng.choice(B32_ALPHABET)
    elif op == 1:
        chars[pos:pos] = rng.choice([B32_ALPHABET, URL_CHARS, WEIRD_CHARS])[rng.randrange(5)] * rng.choice([1, 1, 2, 8])
    elif op == 2 and chars:
        del chars[pos : pos + rng.randrange(1, 10)]
    elif op == 3:
        del chars[pos:]
    elif op == 4 and chars:
        start = rng.randrange(len(chars))
        chars[pos:pos] = chars[start : start + rng.randrange(1, 40)]
    elif op == 5 and chars:
        i = min(pos, len(chars) - 1)
        chars[i] = chars[i].swapcase()
    elif op == 6:
        chars[pos:pos] = list(rng.choice(["/V/", "/v/", "/", " ", "\n", "=", "==", "%20", "?", "#"]))
    elif op == 7:
        return text * rng.choice([2, 3])
    else:
        return text.lower() if rng.random() < 0.5 else text.strip() + rng.choice(["\n", " ", "\t", "\r\n"])
    return "".join(chars)


def random_b32(rng: random.Random) -> str:
    n = rng.choice([0, 1, 7, 100, 159, 160, 161, 200, 300, 330, 331, 332, 333, 334, 335, 336, 337, 400, 1000, rng.randrange(0, 5000)])
    body = "".join(rng.choice(B32_ALPHABET) for _ in range(n))
    if rng.random() < 0.5:
        return body
    return rng.choice(["HTTPS://ZZFW.EXAMPLE.GOV.CN/V/", "http://127.0.0.1:8000/v/", "/V/", "V/"]) + body


def hostile_link(signed: bytes, rng: random.Random) -> str:
    """Link text around a genuine or near-genuine payload: other hosts, schemes, several /V/,
    queries, fragments, whitespace, case, unicode, absurd lengths."""
    payload = b32(signed)
    prefix = rng.choice(
        [
            "HTTPS://EVIL.EXAMPLE/V/", "javascript:alert(1)//V/", "HTTPS://ZZFW.EXAMPLE.GOV.CN/V/V/", "HTTPS://A/V/X/V/",
            "", " ", "\n\n", "\ufeff", "https://zzfw.example.gov.cn/v/", "HTTPS://ZZFW.EXAMPLE.GOV.CN/V//", "/V/" * 50,
            "HTTPS://" + "A" * 5000 + "/V/", "data:text/plain,", "HTTPS://ZZFW.EXAMPLE.GOV.CN/%56/",
        ]
    )
    suffix = rng.choice(["", "/", "//", "?x=1", "#frag", " ", "\n", "/V/", "=", "====", "\x00", "\u3000", "/" + payload])
    body = rng.choice([payload, payload.lower(), payload[: len(payload) // 2], payload + payload, payload[::-1]])
    return prefix + body + suffix


# -- COSE structure ---------------------------------------------------------------------------------


def mutate_cose(signed: bytes, rng: random.Random) -> bytes:
    """Rebuild the COSE_Sign1 with one member changed: the tag, the array, the headers, the
    signature length. Payload and signature stay genuine unless the change is to them."""
    tag = cbor2.loads(signed)
    protected, unprotected, payload, signature = tag.value
    header = dict(cbor2.loads(protected))
    op = rng.randrange(10)
    if op == 0:
        header[rng.choice([1, 4, 3, -1, 33])] = hostile_value(rng)
        protected = cbor2.dumps(header)
    elif op == 1:
        protected = rng.choice([b"", b"\xa0", b"\x80", rng.randbytes(8), cbor2.dumps(hostile_value(rng))])
    elif op == 2:
        unprotected = rng.choice([hostile_value(rng), {4: b"\x00" * 8}, {1: -7}, [], b""])
    elif op == 3:
        signature = rng.choice([b"", signature[:63], signature + b"\x00", bytes(64), b"\xff" * 64, hostile_value(rng)])
    elif op == 4:
        return cbor2.dumps(cbor2.CBORTag(rng.choice([0, 17, 19, 96, 98, 2**64 - 1]), [protected, unprotected, payload, signature]))
    elif op == 5:
        return cbor2.dumps([protected, unprotected, payload, signature])  # untagged: still allowed
    elif op == 6:
        items = [protected, unprotected, payload, signature]
        rng.shuffle(items)
        return cbor2.dumps(cbor2.CBORTag(18, items[: rng.randrange(0, 6)] + [hostile_value(rng)] * rng.randrange(0, 2)))
    elif op == 7:
        payload = rng.choice([b"", cbor2.dumps(hostile_value(rng)), payload + b"\x00", payload[:-1]])
    elif op == 8:
        return cbor2.dumps(cbor2.CBORTag(18, cbor2.CBORTag(18, [protected, unprotected, payload, signature])))
    else:
        return cbor2.dumps(hostile_value(rng))
    try:
        return cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, signature]))
    except (TypeError, ValueError, cbor2.CBOREncodeError):
        return signed[:-1]


# -- PDFs -------------------------------------------------------------------------------------------

INTERESTING_NUMBERS = [b"0", b"-1", b"1", b"2147483647", b"2147483648", b"4294967296", b"9223372036854775807", b"9223372036854775808",
                       b"99999999999999999999", b"-99999999999", b"1e308", b"3.5", b"-0", b"00000000000000000001", b"+5", b"."]
PDF_TOKENS = [b"obj", b"endobj", b"stream", b"endstream", b"xref", b"trailer", b"startxref", b"%%EOF", b"R", b"<<", b">>", b"[", b"]",
              b"/Type", b"/XRef", b"/ObjStm", b"/Length", b"/Filter", b"/FlateDecode", b"/Prev", b"/Root", b"/Size", b"/Index", b"/W",
              b"/N", b"/First", b"/ByteRange", b"/Contents", b"/Names", b"/EmbeddedFiles", b"/EF", b"/Kids", b"/Parent", b"/AcroForm",
              b"/Fields", b"/V", b"/Perms", b"/DocMDP", b"/Encrypt", b"/DecodeParms", b"/Predictor", b"/Columns", b"null", b"true"]
_NUMBER = re.compile(rb"(?<![0-9A-Za-z#.])-?[0-9]+(?:\.[0-9]+)?(?![0-9A-Za-z.])")
_TOKEN = re.compile(rb"/[A-Za-z0-9#]+|<<|>>|\[|\]|\bobj\b|\bendobj\b|\bstream\b|\bendstream\b|\bxref\b|\btrailer\b|\bstartxref\b|\bR\b")


def _structural_part(pdf: bytes, rng: random.Random) -> tuple[int, int]:
    """A window of the file outside big binary streams, where the structure lives: the tail
    (latest revision, xref, trailer) for preference."""
    if rng.random() < 0.6:
        start = max(0, len(pdf) - rng.choice([2000, 8000, 30000]))
        return start, len(pdf)
    start = rng.randrange(len(pdf))
    return start, min(len(pdf), start + 4000)


def mutate_pdf(pdf: bytes, rng: random.Random) -> bytes:
    """One mutation of a PDF, byte-level or aware of its tokens."""
    op = rng.randrange(12)
    if op < 3:
        return mutate_bytes(pdf, rng, interesting=b"0 9()<>[]{}/%\n\r\x00\xff")
    lo, hi = _structural_part(pdf, rng)
    window = pdf[lo:hi]
    if op < 6:  # a number → an interesting one
        matches = list(_NUMBER.finditer(window))
        if matches:
            m = rng.choice(matches)
            new = rng.choice(INTERESTING_NUMBERS) if rng.random() < 0.7 else str(int(m.group()) + rng.choice([-1, 1, 7, -7, 100])).encode() if b"." not in m.group() else b"1"
            return pdf[: lo + m.start()] + new + pdf[lo + m.end() :]
    elif op < 8:  # a token → another token
        matches = list(_TOKEN.finditer(window))
        if matches:
            m = rng.choice(matches)
            return pdf[: lo + m.start()] + rng.choice(PDF_TOKENS + [b"", b" ", b"<", b"(" ]) + pdf[lo + m.end() :]
    elif op == 8:  # cut the file
        return pdf[: rng.choice([rng.randrange(len(pdf)), len(pdf) - rng.randrange(1, 64), len(pdf) // 2])]
    elif op == 9:  # append something after %%EOF: garbage, a second trailer, a hostile update
        return pdf + rng.choice([b"\n", b"%%EOF\n", rng.randbytes(rng.randrange(1, 200)), hostile_update(pdf, rng)])
    elif op == 10:  # splice a window elsewhere
        a = rng.randrange(len(pdf))
        b = rng.randrange(len(pdf))
        return pdf[:a] + pdf[b : b + rng.randrange(1, 400)] + pdf[a:]
    return mutate_bytes(pdf, rng)


def flip_signed_byte(pdf: bytes, rng: random.Random) -> bytes:
    """Change one byte inside the signed byte range (whitespace stays whitespace-free)."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    if not m:
        return mutate_bytes(pdf, rng)
    a, b, c, d = map(int, m.groups())
    ranges = [(a, a + b), (c, c + d)]
    lo, hi = rng.choice(ranges)
    pos = rng.randrange(lo, max(lo + 1, min(hi, len(pdf))))
    buf = bytearray(pdf)
    buf[pos] ^= 1 << rng.randrange(8)
    return bytes(buf)


def signed_ranges(pdf: bytes) -> list[tuple[int, int]] | None:
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    if not m:
        return None
    a, b, c, d = map(int, m.groups())
    return [(a, a + b), (c, c + d)]


def signed_bytes_changed(original: bytes, mutated: bytes) -> bool:
    """Whether ``mutated`` differs from ``original`` in a byte the signature covers (or in length)."""
    if len(original) != len(mutated):
        return True
    ranges = signed_ranges(original) or [(0, len(original))]
    return any(original[lo:hi] != mutated[lo:hi] for lo, hi in ranges)


# -- hostile PDF structures -------------------------------------------------------------------------


def build_pdf(
    objects: dict[int, bytes],
    trailer: bytes,
    *,
    xref: str = "table",
    header: bytes = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    base: bytes = b"",
    prev: int | None = None,
    in_objstm: dict[int, tuple[int, int]] | None = None,
) -> bytes:
    """A PDF (or, with ``base``, an incremental update to it) with the given object bodies and
    trailer entries, and a cross-reference table or stream with correct offsets; ``in_objstm``
    (stream xref only) lists objects held in an object stream: number → (stream, index)."""
    out = bytearray(base or header)
    offsets: dict[int, int] = {}
    for num, body in sorted(objects.items()):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    prev_entry = b" /Prev %d" % prev if prev is not None else b""
    size = max([*objects, *(in_objstm or {}), 0]) + 2
    if xref == "table":
        start = len(out)
        out += b"xref\n0 1\n0000000000 65535 f \n"
        for num in sorted(offsets):
            out += b"%d 1\n%010d 00000 n \n" % (num, offsets[num])
        out += b"trailer\n<< /Size %d " % size + trailer + prev_entry + b" >>\n"
    else:
        start = len(out)
        entries = {n: b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00" for n in offsets}
        for num, (stm, idx) in (in_objstm or {}).items():
            entries[num] = b"\x02" + stm.to_bytes(4, "big") + bytes([idx % 256])
        rows = b"".join(entries[n] for n in sorted(entries))
        index = b" ".join(b"%d 1" % n for n in sorted(entries))
        data = zlib.compress(rows)
        out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 1] /Index [%s] /Filter /FlateDecode /Length %d " % (size - 1, size, index, len(data)) + trailer + prev_entry + b" >>\nstream\n" + data + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % start
    return bytes(out)


def _last_startxref(pdf: bytes) -> int | None:
    m = re.findall(rb"startxref\s+(\d+)", pdf[-200:])
    return int(m[-1]) if m else None


def hostile_update(pdf: bytes, rng: random.Random, *, kind: str | None = None) -> bytes:
    """Bytes to append to ``pdf``: an incremental update whose structure is hostile. Half the time
    the update keeps the original catalog (so the signature is still found and validated, and the
    hostile objects reach pyhanko's difference analysis); otherwise it brings its own."""
    update = hostile_structure(rng, base=pdf, kind=kind)[len(pdf) :]
    roots = re.findall(rb"/Root\s+(\d+\s+\d+)\s+R", pdf)
    if roots and rng.random() < 0.5:
        # the trailer (or xref stream dictionary) is last: offsets before it do not move
        update = re.sub(rb"/Root \d+ 0 R", b"/Root " + roots[-1] + b" R", update)
    return update


HOSTILE_KINDS = (
    "xref_stream_index", "xref_table_count", "prev_loop", "deep_array", "deep_dict", "huge_length", "objstm",
    "flate_bomb", "ref_loop", "sig_dict", "kids_loop", "names_tree", "predictor", "encrypt", "startxref",
)


def hostile_structure(rng: random.Random, *, base: bytes = b"", kind: str | None = None) -> bytes:
    """A whole small PDF (or, with ``base``, ``base`` plus an incremental update) built around
    one hostile construct. ``kind`` picks which (:data:`HOSTILE_KINDS`); random otherwise."""
    kind = kind or rng.choice(HOSTILE_KINDS)
    prev = _last_startxref(base) if base else None
    catalog = b"<< /Type /Catalog /Pages 2 0 R >>"
    pages = b"<< /Type /Pages /Kids [] /Count 0 >>"
    objs: dict[int, bytes] = {1: catalog, 2: pages}
    trailer = b"/Root 1 0 R"
    xref = rng.choice(["table", "stream"])
    n = 900 if base else 3  # object numbers clear of the base's
    if base:
        objs = {}
        trailer = b"/Root %d 0 R" % n
        objs[n] = b"<< /Type /Catalog /Pages 2 0 R /Extra %d 0 R >>" % (n + 1)
        n += 1
    head = base or b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    if kind == "xref_stream_index":
        index = rng.choice([b"[0 2000000000]", b"[0 4294967296]", b"[0 99999999999999999999]", b"[0 -5]", b"[5 3 0 3]", b"[0 1 0 1000000000]", b"[]", b"[0]", b"0 0 R"])
        w = rng.choice([b"[0 0 0]", b"[1 2 1]", b"[1 4 1]", b"[0 0]", b"[9 9 9]", b"[1 -4 1]", b"[]", b"[8 8 8]", b"[1 99999999 1]"])
        data = rng.choice([b"", b"\x01\x00\x00\x00", rng.randbytes(rng.randrange(0, 64))])
        out = bytearray(head)
        offs = {}
        for num, o in sorted(objs.items()):
            offs[num] = len(out)
            out += b"%d 0 obj\n" % num + o + b"\nendobj\n"
        start = len(out)
        prev_entry = b" /Prev %d" % prev if prev is not None else b""
        out += b"%d 0 obj\n<< /Type /XRef /Size %d /W %s /Index %s %s%s /Length %d >>\nstream\n" % (n, n + 1, w, index, trailer, prev_entry, len(data)) + data + b"\nendstream\nendobj\n"
        out += b"startxref\n%d\n%%%%EOF\n" % start
        return bytes(out)
    if kind == "xref_table_count":
        out = bytearray(head)
        start = len(out)
        count = rng.choice([b"2000000000", b"99999999999999999999", b"-1", b"0", b"1 1 1"])
        out += b"xref\n0 %s\n0000000000 65535 f \ntrailer\n<< /Size 3 %s >>\nstartxref\n%d\n%%%%EOF\n" % (count, trailer, start)
        return bytes(out)
    if kind == "prev_loop":
        out = bytearray(build_pdf(objs, trailer, xref=xref, base=base, prev=prev))
        loops = rng.choice([b"/Prev 0", b"/Prev -1", b"/Prev 99999999999", b"/Prev 1 0 R", b"/Prev /X"])
        at = out.rfind(b"trailer\n<<") if xref == "table" else out.rfind(b"/Type /XRef")
        if at > 0:
            insert = at + (len(b"trailer\n<<") if xref == "table" else len(b"/Type /XRef"))
            out[insert:insert] = b" " + loops + b" "
        if rng.random() < 0.5:  # startxref pointing at itself
            m = out.rfind(b"startxref\n")
            out[m:] = b"startxref\n%d\n%%%%EOF\n" % m
        return bytes(out)
    if kind in ("deep_array", "deep_dict"):
        depth = rng.choice([500, 1000, 5000, 50000, 200000])
        deep = b"[" * depth + b"]" * depth if kind == "deep_array" else b"<< /A " * depth + b"1" + b" >>" * depth
        if rng.random() < 0.3:
            deep = deep[: len(deep) // 2]  # never closed
        objs[n] = deep
        return build_pdf(objs, trailer + b" /Deep %d 0 R /Info %d 0 R" % (n, n), xref=xref, header=head, base=base, prev=prev)
    if kind == "huge_length":
        length = rng.choice([b"99999999999999", b"-1", b"2147483648", b"0", b"%d 0 R" % n, b"1e9", b"/X"])
        objs[n] = b"<< /Length %s >>\nstream\nabc\nendstream" % length
        objs[n + 1] = b"<< /Type /EmbeddedFile /Length %s /Filter /FlateDecode >>\nstream\nxyz\nendstream" % length
        return build_pdf(objs, trailer + b" /Info %d 0 R" % n, xref=xref, header=head, base=base, prev=prev)
    if kind == "objstm":
        count = rng.choice([b"2000000000", b"-1", b"3", b"99999999999999999999"])
        first = rng.choice([b"0", b"-5", b"99999999", b"4"])
        inner = rng.choice([b"1 0 2 5 <<>> <<>>", b"", b"1 0 " * 1000, b"x y z"])
        data = zlib.compress(inner)
        objs[n] = b"<< /Type /ObjStm /N %s /First %s /Filter /FlateDecode /Length %d >>\nstream\n" % (count, first, len(data)) + data + b"\nendstream"
        objs[n + 1] = b"<< /Type /Catalog /Pages 2 0 R /Extra %d 0 R >>" % (n + 5)  # n+5 lives in the object stream
        return build_pdf(objs, b"/Root %d 0 R" % (n + 1), xref="stream", header=head, base=base, prev=prev, in_objstm={n + 5: (n, rng.choice([0, 1, 255]))})
    if kind == "flate_bomb":
        size = rng.choice([10**6, 10**7, 5 * 10**7])
        comp = zlib.compressobj(9)
        data = comp.compress(b"\x00" * size) + comp.flush()
        if rng.random() < 0.5:
            data = zlib.compress(data, 9)  # stacked: [/FlateDecode /FlateDecode]
            filt = b"[/FlateDecode /FlateDecode]"
        else:
            filt = b"/FlateDecode"
        objs[n] = b"<< /Type /EmbeddedFile /Filter %s /Length %d >>\nstream\n" % (filt, len(data)) + data + b"\nendstream"
        objs[n + 1] = b"<< /Type /Filespec /F (licence.json) /UF (licence.json) /EF << /F %d 0 R >> >>" % n
        objs[n + 2] = b"<< /EmbeddedFiles << /Names [(licence.json) %d 0 R] >> >>" % (n + 1)
        cat = n + 3
        objs[cat] = b"<< /Type /Catalog /Pages 2 0 R /Names %d 0 R >>" % (n + 2)
        return build_pdf(objs, b"/Root %d 0 R" % cat, xref=xref, header=head, base=base, prev=prev)
    if kind == "ref_loop":
        objs[n] = b"%d 0 R" % n
        objs[n + 1] = b"%d 0 R" % (n + 2)
        objs[n + 2] = b"%d 0 R" % (n + 1)
        return build_pdf(objs, b"/Root %d 0 R /Info %d 0 R" % (rng.choice([n, n + 1]), n), xref=xref, header=head, base=base, prev=prev)
    if kind == "sig_dict":
        br = rng.choice([b"[0 -1 99999999999 5]", b"[0 10 5 10]", b"[0 0 0 0]", b"[1 2 3]", b"[0 99999999999999999999 0 0]", b"[]", b"[0 100 50 100]"])
        contents = rng.choice([b"<" + b"0" * 64 + b">", b"<zz>", b"(abc)", b"<" + b"30" * 10 + b">", b"<>", b"99"])
        objs[n] = b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange %s /Contents %s >>" % (br, contents)
        objs[n + 1] = b"<< /FT /Sig /T (LicenceSignature) /V %d 0 R /Subtype /Widget /Rect [0 0 0 0] >>" % n
        objs[n + 2] = b"<< /Fields [%d 0 R] /SigFlags 3 >>" % (n + 1)
        objs[n + 3] = b"<< /Type /Catalog /Pages 2 0 R /AcroForm %d 0 R /Perms << /DocMDP %d 0 R >> >>" % (n + 2, n)
        return build_pdf(objs, b"/Root %d 0 R" % (n + 3), xref=xref, header=head, base=base, prev=prev)
    if kind == "kids_loop":
        objs[n] = b"<< /FT /Sig /T (a) /Kids [%d 0 R %d 0 R] >>" % (n, n + 1)
        objs[n + 1] = b"<< /Parent %d 0 R /Kids [%d 0 R] >>" % (n, n)
        objs[n + 2] = b"<< /Fields [%d 0 R] >>" % n
        objs[n + 3] = b"<< /Type /Catalog /Pages %d 0 R /AcroForm %d 0 R >>" % (n + 4, n + 2)
        objs[n + 4] = b"<< /Type /Pages /Kids [%d 0 R] /Count 1 >>" % (n + 4)
        return build_pdf(objs, b"/Root %d 0 R" % (n + 3), xref=xref, header=head, base=base, prev=prev)
    if kind == "names_tree":
        names = rng.choice([b"[(licence.json)]", b"[(licence.json) 5]", b"(x)", b"[(licence.json) << /EF 7 >>]", b"[(licence.json) << /EF << /F (x) >> >>]", b"[" + b"(a) 1 " * 10000 + b"]", b"<< /Kids [%d 0 R] >>" % n])
        objs[n] = b"<< /Names << /EmbeddedFiles << /Names %s /Kids [%d 0 R] >> >> >>" % (names, n)
        objs[n + 1] = b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names %s >> >> >>" % names
        return build_pdf(objs, b"/Root %d 0 R" % (n + 1), xref=xref, header=head, base=base, prev=prev)
    if kind == "predictor":
        parms = rng.choice([b"<< /Predictor 12 /Columns 0 >>", b"<< /Predictor 12 /Columns 99999999999 >>", b"<< /Predictor 2 /Colors 0 >>", b"<< /Predictor 15 /Columns -3 >>", b"<< /Predictor 12 /Columns 1 /BitsPerComponent 99 >>"])
        data = zlib.compress(rng.randbytes(64))
        objs[n] = b"<< /Type /EmbeddedFile /Filter /FlateDecode /DecodeParms %s /Length %d >>\nstream\n" % (parms, len(data)) + data + b"\nendstream"
        objs[n + 1] = b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(licence.json) << /EF << /F %d 0 R >> >>] >> >> >>" % n
        return build_pdf(objs, b"/Root %d 0 R" % (n + 1), xref=xref, header=head, base=base, prev=prev)
    if kind == "encrypt":
        enc = rng.choice([b"<< /Filter /Standard /V 5 /R 6 /O <00> /U <00> /P -4 /Length 256 >>", b"<< /Filter /Adobe.PubSec /V 4 /SubFilter /adbe.pkcs7.s5 /Recipients [<00>] >>", b"<< /Filter /Standard /V 99 >>", b"<< >>"])
        objs[n] = enc
        return build_pdf(objs, trailer + b" /Encrypt %d 0 R /ID [<00> <00>]" % n, xref=xref, header=head, base=base, prev=prev)
    # startxref: the pointer itself
    out = bytearray(build_pdf(objs, trailer, xref=xref, header=head, base=base, prev=prev))
    m = out.rfind(b"startxref\n")
    out[m:] = b"startxref\n%s\n%%%%EOF\n" % rng.choice([b"-1", b"0", b"99999999999999999999", b"%d" % (len(out) + 10), b"abc", b"", b"1.5"])
    return bytes(out)


# -- licence.json and copy sections ------------------------------------------------------------------


def extreme_moment(rng: random.Random) -> str:
    """An ISO time stamp at or near the ends of what datetime can hold, in some zone."""
    year = rng.choice([1, 1, 2, 1969, 1970, 2000, 2038, 2106, 9998, 9999, 9999])
    month, day = (1, 1) if year < 1000 or rng.random() < 0.5 else (12, 31)
    if year == 9999:
        month, day = 12, 31
    hour, minute = rng.choice([(0, 0), (23, 59), (12, 0), (15, 59), (16, 0), (7, 59), (8, 0)])
    zone = rng.choice(["+00:00", "Z", "+08:00", "-12:00", "+14:00", "+23:59", "-23:59", "-05:00", "+05:30", ""])
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{rng.choice(['00', '59', '59.999999'])}{zone}"


def mutate_attachment(doc: dict[str, Any], rng: random.Random) -> Any:
    """A licence.json document with one to three hostile changes."""
    out: Any = copy.deepcopy(doc)
    for _ in range(rng.choice([1, 1, 2, 3])):
        if not isinstance(out, dict):
            break
        op = rng.randrange(10)
        if op == 0:
            out[rng.choice(["data", "qr_text", "identifier", "copy", "kind", "issuer", "version"])] = hostile_json(rng)
        elif op == 1:
            out.pop(rng.choice(list(out) or ["x"]), None)
        elif op == 2:
            out["copy"] = hostile_copy(rng, out.get("copy"))
        elif op == 3 and isinstance(out.get("copy"), dict):
            out["copy"]["expires_at"] = extreme_moment(rng)
        elif op == 4:
            out["data"] = nested_json(rng.choice([10, 100, 1000, 3000, 100000]))
        elif op == 5 and isinstance(out.get("qr_text"), str):
            out["qr_text"] = mutate_text(out["qr_text"], rng)
        elif op == 6:
            out = hostile_json(rng)
        elif op == 7 and isinstance(out.get("data"), dict) and out["data"]:
            key = rng.choice(list(out["data"]))
            out["data"][key] = hostile_json(rng)
        elif op == 8:
            out["copy"] = {**(out.get("copy") if isinstance(out.get("copy"), dict) else {}), "expires_at": extreme_moment(rng)}
        else:
            out[hostile_text(rng) or "k"] = hostile_json(rng)
    return out


def hostile_copy(rng: random.Random, section: Any) -> Any:
    base = dict(section) if isinstance(section, dict) else {
        "grant": "G" * 16, "redemption": "R" * 16, "recipient": {"code": "X", "name": "窗口"}, "purpose": "企业开办",
        "expires_at": "2030-01-01T00:00:00+00:00", "original_pdf_sha256": "0" * 64,
    }
    op = rng.randrange(5)
    if op == 0:
        base["expires_at"] = extreme_moment(rng)
    elif op == 1:
        base[rng.choice(list(base))] = hostile_json(rng)
    elif op == 2:
        base["recipient"] = rng.choice([hostile_json(rng), {"code": hostile_json(rng), "name": "x"}, {"code": "x", "name": hostile_text(rng)}])
    elif op == 3:
        base["purpose"] = hostile_text(rng) or "\u0000" * 1000
    else:
        return hostile_json(rng)
    return base


def hostile_json(rng: random.Random, depth: int = 0) -> Any:
    kinds: list[Callable[[], Any]] = [
        lambda: rng.choice(INTERESTING_INTS),
        lambda: rng.choice([0.5, -1e308, 1e308]),
        lambda: rng.choice([True, False, None]),
        lambda: hostile_text(rng),
        lambda: extreme_moment(rng),
        lambda: [hostile_json(rng, depth + 1) for _ in range(rng.randrange(0, 3))],
        lambda: {hostile_text(rng): hostile_json(rng, depth + 1) for _ in range(rng.randrange(0, 3))},
        lambda: nested_json(rng.choice([50, 200, 300])),
    ]
    return rng.choice(kinds if depth < 3 else kinds[:5])()


def nested_json(depth: int) -> Any:
    """A value nested up to 300 deep (json.dumps and deepcopy recurse: deeper documents are made as
    bytes by :func:`nested_json_bytes`)."""
    value: Any = 1
    for _ in range(min(depth, 300)):
        value = [value]
    return value


def nested_json_bytes(depth: int, *, key: str = "data", base: dict[str, Any] | None = None) -> bytes:
    """A licence.json whose ``key`` holds arrays nested ``depth`` deep (no recursion to build)."""
    import json

    doc = dict(base or {})
    doc[key] = "@@DEEP@@"
    text = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    return text.replace(b'"@@DEEP@@"', b"[" * depth + b"1" + b"]" * depth)


def attachment_bytes_variant(doc: Any, rng: random.Random) -> bytes:
    """The bytes of a licence.json: JSON of ``doc``, or broken on purpose."""
    import json

    try:
        raw = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8")
    except (ValueError, RecursionError):
        raw = b"{}"
    op = rng.random()
    if op < 0.1:
        return raw[: rng.randrange(len(raw) + 1)]
    if op < 0.15:
        return b"\xef\xbb\xbf" + raw
    if op < 0.2:
        return raw.decode("utf-8").encode("utf-16")
    if op < 0.25:
        return rng.choice([b"NaN", b"[1e999999]", b"-Infinity", b'{"a":1,"a":2}', b'"\\ud800"', b"1" * 5000, b"[" * 100000])
    if op < 0.3:
        return nested_json_bytes(rng.choice([1000, 5000, 100000]), key=rng.choice(["data", "copy", "qr_text", "zzz"]), base=doc if isinstance(doc, dict) else None)
    return raw


# -- signed documents ------------------------------------------------------------------------------


def mutate_doc_body(body: dict[str, Any], rng: random.Random) -> Any:
    """A trust-list or status-list body with one to three hostile changes."""
    out: Any = copy.deepcopy(body)
    for _ in range(rng.choice([1, 1, 2, 3])):
        if not isinstance(out, dict):
            break
        op = rng.randrange(9)
        list_key = "issuers" if "issuers" in out else "lists"
        if op == 0:
            out[rng.choice(list(out) or ["type"])] = hostile_json(rng)
        elif op == 1:
            out.pop(rng.choice(list(out) or ["type"]), None)
        elif op in (2, 3, 4) and isinstance(out.get(list_key), list) and out[list_key]:
            entry = rng.choice(out[list_key])
            if isinstance(entry, dict) and entry:
                key = rng.choice(list(entry))
                entry[key] = rng.choice([hostile_json(rng), _near(entry[key], rng)])
                if rng.random() < 0.3:
                    entry.pop(rng.choice(list(entry)), None)
            else:
                out[list_key].append(hostile_json(rng))
        elif op == 5 and isinstance(out.get(list_key), list):
            out[list_key].append(rng.choice([hostile_json(rng), copy.deepcopy(out[list_key][0]) if out[list_key] else {}]))
        elif op == 6:
            out["issued_at"] = rng.choice([extreme_moment(rng), hostile_text(rng), hostile_json(rng), "2026-13-45T99:99:99"])
        elif op == 7 and list_key == "lists":
            out["lists"] = [rng.choice([_bomb_entry(rng), _short_entry(rng)])]
        else:
            out = hostile_json(rng)
    return out


def _near(value: Any, rng: random.Random) -> Any:
    if isinstance(value, str):
        return rng.choice([value + "\n", value[: len(value) // 2], value.replace("A", "#"), value * 2, value.lower(), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"])
    if isinstance(value, int):
        return rng.choice(INTERESTING_INTS)
    if isinstance(value, list):
        return value + [hostile_json(rng)]
    return hostile_json(rng)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


@functools.lru_cache(maxsize=4)
def _gzip_of_zeros(size: int) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    chunk = b"\x00" * 10**6
    return b"".join(comp.compress(chunk) for _ in range(size // 10**6)) + comp.flush()


def _bomb_entry(rng: random.Random) -> dict[str, Any]:
    """A status list whose gzip expands far past its declared length (or declares it all)."""
    size = rng.choice([10**6, 10**7, 5 * 10**7])
    return {"issuer": "X" * 18, "length": rng.choice([size * 4, 131072, -1]), "encoded": _b64(_gzip_of_zeros(size))}


def _short_entry(rng: random.Random) -> dict[str, Any]:
    import gzip

    raw = rng.randbytes(rng.randrange(0, 100))
    encoded = rng.choice([_b64(gzip.compress(raw)), _b64(raw), "!!!", "", "A", _b64(gzip.compress(raw))[:-3]])
    return {"issuer": rng.choice(["X" * 18, "", 5, None]), "length": rng.choice([len(raw) * 4, 0, -4, 2**64, "4", 1.5]), "encoded": encoded}


# -- regressions ------------------------------------------------------------------------------------


def xref_bomb_pdf(entries: int = 2_000_000_000, widths: bytes = b"[0 0 0]") -> bytes:
    """A 300-byte PDF whose only cross-reference stream declares ``entries`` entries of ``widths``
    bytes and holds none: pyhanko (non-strict) reads that many entries, each from nothing, so
    parsing it loops and allocates until memory or time runs out."""
    head = b"%PDF-1.7\n"
    obj1 = b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    obj2 = b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    start = len(head) + len(obj1) + len(obj2)
    xref = b"3 0 obj\n<< /Type /XRef /Size 4 /Root 1 0 R /W %s /Index [0 %d] /Length 0 >>\nstream\n\nendstream\nendobj\n" % (widths, entries)
    return head + obj1 + obj2 + xref + b"startxref\n%d\n%%%%EOF\n" % start
