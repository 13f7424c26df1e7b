"""COSE_Sign1 (RFC 9052) with ES256: just what the QR payload needs.

Written against cbor2 and cryptography rather than a COSE library, because the format is
fixed (one algorithm, kid in the protected header) and the verifier must stay tiny and fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

# cbor2 decodes maps as dict, and maps inside tags as its frozendict; checking those two
# concrete types avoids the ABC machinery of Mapping on every verification.
CBOR_MAPS = (dict, cbor2.frozendict)
_ES256 = ec.ECDSA(hashes.SHA256())  # stateless; made once rather than on every verification
COSE_SIGN1_TAG = 18
ALG = 1
KID = 4
ES256 = -7
KID_BYTES = 8  # the platform's key ids (core.pki.key_id)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
MAX_MESSAGE = 1024  # the largest payload the platform signs is under 300 bytes


class CoseFormatError(ValueError):
    """The bytes are not a COSE_Sign1 message of the shape this platform writes."""


@dataclass(frozen=True)
class Sign1:
    protected: bytes  # serialised protected header, as signed
    kid: bytes
    payload: bytes
    signature: bytes  # r || s, 64 bytes

    def to_be_signed(self) -> bytes:
        return _sig_structure(self.protected, self.payload)

    def encode(self) -> bytes:
        """The deterministic CBOR of tag 18 [protected, {}, payload, signature], written directly:
        every verification compares the scanned bytes with it."""
        return b"".join(
            (b"\xd2\x84", _bstr_head(len(self.protected)), self.protected, b"\xa0", _bstr_head(len(self.payload)), self.payload, b"\x58\x40", self.signature)
        )

    @property
    def high_s(self) -> bool:
        return int.from_bytes(self.signature[32:], "big") > P256_ORDER // 2


def _bstr_head(n: int) -> bytes:
    """CBOR major type 2 (byte string) head for length ``n``."""
    if n < 24:
        return bytes((0x40 | n,))
    if n < 0x100:
        return bytes((0x58, n))
    if n < 0x10000:
        return b"\x59" + n.to_bytes(2, "big")
    return b"\x5a" + n.to_bytes(4, "big")


_SIG1_PREFIX = b"\x84" + cbor2.dumps("Signature1")


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    """CBOR of ["Signature1", protected, h'', payload], written directly: it is on every verify."""
    return b"".join((_SIG1_PREFIX, _bstr_head(len(protected)), protected, b"\x40", _bstr_head(len(payload)), payload))


def sign1(payload: bytes, key: ec.EllipticCurvePrivateKey, kid: bytes) -> bytes:
    """Sign ``payload``; the result is the tagged COSE_Sign1 CBOR."""
    protected = protected_header(kid)
    # RFC 6979 deterministic ECDSA: no dependence on the RNG at signing time, and reproducible
    # test vectors (docs/qr-format.md).
    der = key.sign(_sig_structure(protected, payload), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    if s > P256_ORDER // 2:
        # Low-S (docs/qr-format.md): (r, n - s) verifies as well, so the signer always writes the
        # smaller one and one licence has one QR text.
        s = P256_ORDER - s
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return Sign1(protected, kid, payload, signature).encode()


def protected_header(kid: bytes) -> bytes:
    """canonical({1: -7, 4: kid}), written directly: it is compared on every verification."""
    return b"\xa2\x01\x26\x04" + _bstr_head(len(kid)) + kid


def parse_sign1(data: bytes) -> Sign1:
    """Parse without verifying; raises CoseFormatError for anything but the one encoding the
    platform's signer writes: tag 18, the canonical protected header {alg: ES256, kid}, an empty
    unprotected header and a 64-byte signature, with nothing before or after. Any other spelling
    of the same message would give one licence several QR texts (RFC 8949 §4.2)."""
    if len(data) > MAX_MESSAGE:
        raise CoseFormatError("message longer than any licence payload")
    msg = _parse_written(data)
    if msg is not None:
        return msg
    try:
        obj = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several decoder error types, and RecursionError
        raise CoseFormatError("not CBOR") from exc
    if not isinstance(obj, cbor2.CBORTag) or obj.tag != COSE_SIGN1_TAG:
        raise CoseFormatError("not a tagged COSE_Sign1 message")
    obj = obj.value
    if not (isinstance(obj, (list, tuple)) and len(obj) == 4):
        raise CoseFormatError("COSE_Sign1 must be an array of four")
    protected, unprotected, payload, signature = obj
    if not all(type(x) is bytes for x in (protected, payload, signature)) or not isinstance(unprotected, CBOR_MAPS):
        raise CoseFormatError("COSE_Sign1 members have the wrong types")
    if unprotected:
        raise CoseFormatError("unprotected header must be empty")
    try:
        header = cbor2.loads(protected)
    except Exception as exc:
        raise CoseFormatError("protected header is not CBOR") from exc
    if not isinstance(header, CBOR_MAPS) or set(header) != {ALG, KID} or header[ALG] != ES256 or type(header[ALG]) is not int:
        raise CoseFormatError("protected header must hold exactly alg ES256 and a key id")
    kid = header[KID]
    if type(kid) is not bytes or len(kid) != KID_BYTES:
        raise CoseFormatError(f"key id must be {KID_BYTES} bytes")
    if protected != protected_header(kid):
        raise CoseFormatError("protected header is not in deterministic encoding")
    if len(signature) != 64:
        raise CoseFormatError("ES256 signature must be 64 bytes")
    msg = Sign1(protected, kid, payload, signature)
    if msg.encode() != data:
        raise CoseFormatError("message is not in deterministic encoding")
    return msg


# Tag 18, array of 4, then a 13-byte protected header {1: -7, 4: <8-byte kid>}.
_WRITTEN_HEAD = b"\xd2\x84\x4d" + protected_header(bytes(KID_BYTES))[:-KID_BYTES]


def _parse_written(data: bytes) -> Sign1 | None:
    """The message taken apart by position when it is laid out exactly as sign1 writes it (every
    genuine QR); None for anything else, which the decoder then judges and names. Accepting only
    bytes equal to the deterministic encoding of what is read keeps it exactly as strict."""
    if not data.startswith(_WRITTEN_HEAD) or len(data) < 18 + 66 or data[16] != 0xA0:
        return None
    head = data[17]
    if 0x40 <= head < 0x58:
        start, n = 18, head - 0x40
    elif head == 0x58:
        start, n = 19, data[18]
    elif head == 0x59:
        start, n = 20, int.from_bytes(data[18:20], "big")
    else:
        return None
    msg = Sign1(data[3:16], data[8:16], data[start : start + n], data[start + n + 2 :])
    if len(msg.signature) != 64 or msg.encode() != data:
        return None
    return msg


def verify_sign1(msg: Sign1, public_key: ec.EllipticCurvePublicKey) -> bool:
    r = int.from_bytes(msg.signature[:32], "big")
    s = int.from_bytes(msg.signature[32:], "big")
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), msg.to_be_signed(), _ES256)
    except InvalidSignature:
        return False
    return True
