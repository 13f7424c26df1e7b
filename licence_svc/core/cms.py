"""CMS signatures (RFC 5652) for PAdES, and RFC 3161 time-stamp tokens, assembled as DER directly.

Why not pyhanko's ``Signer``/``DummyTimeStamper``: they rebuild every constant part (certificates,
algorithm identifiers, the ESS signing-certificate attribute) through asn1crypto on every signature
and re-load the private key from DER each time (an RSA key load with its consistency check costs
~60 ms of CPU, more than everything else in an issuance together). Here everything that does not
change between signatures is encoded once, with asn1crypto, when the signer is built; a signature
then only concatenates a few byte strings around the digest, the signature value and the token.

What comes out is the same structure pyhanko writes for a PAdES signature (SignedData v1, detached
``data`` content, signed attributes contentType + messageDigest + signingCertificateV2, the signer's
certificate and the root embedded, the signature time-stamp token as an unsigned attribute), and it
is checked by pyhanko's validator, poppler's ``pdfsig`` and the tests' tamper twins.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

from .pki import Credentials

# ---------------------------------------------------------------------------------------------
# DER primitives (X.690): only definite lengths and the handful of types used below.

_SEQUENCE, _SET, _INTEGER, _OCTET_STRING, _GENERALIZED_TIME = 0x30, 0x31, 0x02, 0x04, 0x18
_CTX0, _CTX1 = 0xA0, 0xA1  # [0] / [1], constructed


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, *parts: bytes) -> bytes:
    """One DER element: ``tag``, the definite length, the concatenated ``parts``."""
    content = b"".join(parts)
    return bytes((tag,)) + _length(len(content)) + content


def der_integer(value: int) -> bytes:
    """A non-negative INTEGER, with the leading zero octet DER needs when the top bit is set."""
    if value < 0:
        raise ValueError("negative integers are not needed here")
    return tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def der_set_of(elements: Sequence[bytes]) -> bytes:
    """SET OF in DER order: the encoded elements sorted as octet strings (X.690 11.6)."""
    return tlv(_SET, *sorted(elements))


def _oid(dotted: str) -> bytes:
    encoded: bytes = core.ObjectIdentifier(dotted).dump()  # asn1crypto is untyped
    return encoded


def _attribute(type_oid: bytes, value: bytes) -> bytes:
    """Attribute ::= SEQUENCE { attrType OID, attrValues SET OF value } with one value."""
    return tlv(_SEQUENCE, type_oid, tlv(_SET, value))


_OID_DATA = _oid("1.2.840.113549.1.7.1")
_OID_SIGNED_DATA = _oid("1.2.840.113549.1.7.2")
_OID_CONTENT_TYPE = _oid("1.2.840.113549.1.9.3")
_OID_MESSAGE_DIGEST = _oid("1.2.840.113549.1.9.4")
_OID_TST_INFO = _oid("1.2.840.113549.1.9.16.1.4")
_OID_SIGNING_CERTIFICATE_V2 = _oid("1.2.840.113549.1.9.16.2.47")
_OID_SIGNATURE_TIME_STAMP_TOKEN = _oid("1.2.840.113549.1.9.16.2.14")
_SHA256 = algos.DigestAlgorithm({"algorithm": "sha256"}).dump()

# The platform TSA's policy: a UUID-derived OID (ITU-T X.667, arc 2.25) needs no registration.
TSA_POLICY = "2.25.153648678680825265285978188517870103629"
"""TSA policy OID written in every token."""


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    """The certificate as asn1crypto (and so pyhanko) takes it."""
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


@dataclass(frozen=True)
class _KeyedSigner:
    """A private key held loaded, with the DER of everything about it that never changes."""

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    sid: bytes  # IssuerAndSerialNumber
    signature_algorithm: bytes  # AlgorithmIdentifier
    signing_certificate_v2: bytes  # the ESS signingCertificateV2 attribute (RFC 5035)
    certificates: bytes  # [0] IMPLICIT CertificateSet

    @classmethod
    def build(cls, creds: Credentials, chain: Sequence[x509.Certificate]) -> _KeyedSigner:
        cert = to_asn1_cert(creds.cert)
        sid = cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number}).dump()
        if isinstance(creds.key, ec.EllipticCurvePrivateKey):
            algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}).dump()
        elif isinstance(creds.key, rsa.RSAPrivateKey):
            algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}).dump()
        else:
            raise TypeError(f"unsupported key type {type(creds.key).__name__}")
        ess = tsp.SigningCertificateV2(
            {
                "certs": [
                    {
                        # sha256 is the default hashAlgorithm of ESSCertIDv2, so DER leaves it out
                        "cert_hash": hashlib.sha256(cert.dump()).digest(),
                        "issuer_serial": {
                            "issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
                            "serial_number": cert.serial_number,
                        },
                    }
                ]
            }
        ).dump()
        ders = {c.public_bytes(serialization.Encoding.DER) for c in (creds.cert, *chain)}
        return cls(
            key=creds.key,
            sid=sid,
            signature_algorithm=algorithm,
            signing_certificate_v2=_attribute(_OID_SIGNING_CERTIFICATE_V2, ess),
            certificates=tlv(_CTX0, *sorted(ders)),
        )

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.key.sign(data, PKCS1v15(), hashes.SHA256())

    def signed_data(
        self, *, content_type: bytes, message_digest: bytes, econtent: bytes | None, unsigned: Callable[[bytes], bytes] | None
    ) -> bytes:
        """ContentInfo(SignedData) with one SignerInfo over ``message_digest``.

        ``econtent`` is encapsulated (a time-stamp token carries its TSTInfo); None makes a detached
        signature (a PDF signature). ``unsigned`` maps the signature value to the DER of the unsigned
        attributes to add (the signature time-stamp token).
        """
        attrs = der_set_of(
            [
                _attribute(_OID_CONTENT_TYPE, content_type),
                _attribute(_OID_MESSAGE_DIGEST, tlv(_OCTET_STRING, message_digest)),
                self.signing_certificate_v2,
            ]
        )
        signature = self._sign(attrs)  # over the SET OF encoding (RFC 5652 5.4)
        signer_info = tlv(
            _SEQUENCE,
            der_integer(1),
            self.sid,
            _SHA256,
            bytes((_CTX0,)) + attrs[1:],  # the same attributes as [0] IMPLICIT
            self.signature_algorithm,
            tlv(_OCTET_STRING, signature),
            tlv(_CTX1, unsigned(signature)) if unsigned else b"",
        )
        encap = tlv(_SEQUENCE, content_type, tlv(_CTX0, tlv(_OCTET_STRING, econtent)) if econtent is not None else b"")
        # version 3 when the content type is not id-data (RFC 5652 5.1), else 1
        version = 1 if econtent is None and content_type == _OID_DATA else 3
        signed = tlv(
            _SEQUENCE, der_integer(version), tlv(_SET, _SHA256), encap, self.certificates, tlv(_SET, signer_info)
        )
        return tlv(_SEQUENCE, _OID_SIGNED_DATA, tlv(_CTX0, signed))


# ---------------------------------------------------------------------------------------------
# The platform's own time-stamping authority


class TimeStampAuthority:
    """An in-process RFC 3161 TSA: the platform TSA key signs TSTInfo structures directly.

    The token is exactly what an RFC 3161 server would put in its TimeStampResp (a ContentInfo with
    SignedData over an id-ct-TSTInfo), signed with the TSA key and carrying the TSA certificate
    (critical timeStamping EKU) and the root. Reads the clock: a time-stamp is the TSA's clock.
    """

    def __init__(self, tsa: Credentials, *, chain: Sequence[x509.Certificate], policy: str = TSA_POLICY) -> None:
        self._signer = _KeyedSigner.build(tsa, chain)
        name = to_asn1_cert(tsa.cert).subject
        self._policy = _oid(policy)
        # tsa [0] EXPLICIT GeneralName, here directoryName [4] EXPLICIT Name
        self._tsa_name = tlv(_CTX0, asn1_x509.GeneralName({"directory_name": name}).dump())

    def token(self, digest: bytes, *, now: datetime | None = None) -> bytes:
        """The DER time-stamp token over a SHA-256 ``digest`` (the message imprint)."""
        if len(digest) != 32:
            raise ValueError("the message imprint must be a SHA-256 digest")
        when = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
        tst_info = tlv(
            _SEQUENCE,
            der_integer(1),
            self._policy,
            tlv(_SEQUENCE, _SHA256, tlv(_OCTET_STRING, digest)),
            der_integer(secrets.randbits(64)),  # serialNumber: unique per token
            tlv(_GENERALIZED_TIME, when.strftime("%Y%m%d%H%M%SZ").encode("ascii")),
            self._tsa_name,
        )
        return self._signer.signed_data(
            content_type=_OID_TST_INFO,
            message_digest=hashlib.sha256(tst_info).digest(),
            econtent=tst_info,
            unsigned=None,
        )


TimeStampSource = Callable[[bytes], bytes]
"""Maps the SHA-256 digest of a signature value to the DER of a time-stamp token over it."""


class PadesCmsSigner:
    """Detached CMS signatures for PDF (/SubFilter /ETSI.CAdES.detached) with a time-stamp token."""

    def __init__(self, creds: Credentials, *, chain: Sequence[x509.Certificate], timestamp: TimeStampSource) -> None:
        self._signer = _KeyedSigner.build(creds, chain)
        self._timestamp = timestamp

    def sign(self, document_digest: bytes) -> bytes:
        """DER ContentInfo(SignedData) over the SHA-256 ``document_digest`` of the PDF byte range."""

        def unsigned(signature: bytes) -> bytes:
            token = self._timestamp(hashlib.sha256(signature).digest())
            return _attribute(_OID_SIGNATURE_TIME_STAMP_TOKEN, token)

        return self._signer.signed_data(
            content_type=_OID_DATA, message_digest=document_digest, econtent=None, unsigned=unsigned
        )
