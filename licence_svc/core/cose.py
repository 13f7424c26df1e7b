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
    protected = cbor2.dumps({ALG: ES256, KID: kid}, canonical=True)
    # RFC 6979 deterministic ECDSA: no dependence on the RNG at signing time, and reproducible
    # test vectors (docs/qr-format.md).
    der = key.sign(_sig_structure(protected, payload), ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    r, s = decode_dss_signature(der)
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def parse_sign1(data: bytes) -> Sign1:
    """Parse without verifying; raises CoseFormatError for anything but ES256 COSE_Sign1."""
    try:
        obj = cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several decoder error types
        raise CoseFormatError("not CBOR") from exc
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != COSE_SIGN1_TAG:
            raise CoseFormatError(f"CBOR tag {obj.tag} is not COSE_Sign1")
        obj = obj.value
    if not (isinstance(obj, (list, tuple)) and len(obj) == 4):
        raise CoseFormatError("COSE_Sign1 must be an array of four")
    protected, unprotected, payload, signature = obj
    if not all(isinstance(x, bytes) for x in (protected, payload, signature)) or not isinstance(unprotected, CBOR_MAPS):
        raise CoseFormatError("COSE_Sign1 members have the wrong types")
    try:
        header = cbor2.loads(protected)
    except Exception as exc:
        raise CoseFormatError("protected header is not CBOR") from exc
    if not isinstance(header, CBOR_MAPS) or header.get(ALG) != ES256:
        raise CoseFormatError("algorithm must be ES256")
    kid = header.get(KID)
    if not isinstance(kid, bytes):
        raise CoseFormatError("protected header has no key id")
    if len(signature) != 64:
        raise CoseFormatError("ES256 signature must be 64 bytes")
    return Sign1(protected, kid, payload, signature)


def verify_sign1(msg: Sign1, public_key: ec.EllipticCurvePublicKey) -> bool:
    r = int.from_bytes(msg.signature[:32], "big")
    s = int.from_bytes(msg.signature[32:], "big")
    try:
        public_key.verify(encode_dss_signature(r, s), msg.to_be_signed(), _ES256)
    except InvalidSignature:
        return False
    return True
