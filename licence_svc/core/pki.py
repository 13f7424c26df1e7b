"""The platform PKI: a root CA, department signing certificates and a time-stamping certificate.

Pure: keys and ``now`` come in, certificates go out. Storing them is ``storage.keystore``'s job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_YEARS = 20
DEPARTMENT_YEARS = 5
TSA_YEARS = 10
PLATFORM_NAME = "电子证照平台"


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def new_tsa_key() -> rsa.RSAPrivateKey:
    # pyhanko's in-process RFC 3161 responder signs with RSA only.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_id(cert: x509.Certificate) -> bytes:
    """Key id carried in QR payloads: first 8 bytes of SHA-256 over the certificate DER."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:8]


def credit_code_of(cert: x509.Certificate) -> str | None:
    """The department's unified social credit code, kept in the subject's organizationIdentifier."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    if not attrs:
        return None
    value = str(attrs[0].value)
    return value.removeprefix("NTRCN-")


def _name(common_name: str, organisation: str, credit_code: str | None = None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ]
    if credit_code:
        # ETSI EN 319 412-1 semantics identifier: NTR (national trade register) + country.
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, f"NTRCN-{credit_code}"))
    return x509.Name(attrs)


def _years(now: datetime, years: int) -> datetime:
    return now + timedelta(days=365 * years + years // 4)


def make_root(key: ec.EllipticCurvePrivateKey, *, now: datetime) -> x509.Certificate:
    """Self-signed root: CA:true (path length 0), keyCertSign and cRLSign."""
    name = _name(f"{PLATFORM_NAME}根证书", PLATFORM_NAME)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(_years(now, ROOT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf(
    *,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    now: datetime,
    years: int,
    usage: x509.KeyUsage,
) -> x509.CertificateBuilder:
    not_after = min(_years(now, years), root_cert.not_valid_after_utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
    )


def make_department_cert(
    key: ec.EllipticCurvePrivateKey,
    *,
    department_code: str,
    department_name: str,
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    now: datetime,
) -> x509.Certificate:
    """A department's document-signing certificate: digitalSignature + nonRepudiation."""
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = _leaf(
        subject=_name(f"{department_name}电子证照签章", department_name, department_code),
        public_key=key.public_key(),
        root_cert=root_cert,
        root_key=root_key,
        now=now,
        years=DEPARTMENT_YEARS,
        usage=usage,
    )
    return builder.sign(root_key, hashes.SHA256())


def make_tsa_cert(
    key: rsa.RSAPrivateKey,
    *,
    root_cert: x509.Certificate,
    root_key: ec.EllipticCurvePrivateKey,
    now: datetime,
) -> x509.Certificate:
    """The platform time-stamping certificate: critical EKU timeStamping, as RFC 3161 requires."""
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    builder = _leaf(
        subject=_name(f"{PLATFORM_NAME}时间戳服务", PLATFORM_NAME),
        public_key=key.public_key(),
        root_cert=root_cert,
        root_key=root_key,
        now=now,
        years=TSA_YEARS,
        usage=usage,
    ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(root_key, hashes.SHA256())


@dataclass(frozen=True)
class Credentials:
    """A private key with its certificate."""

    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def kid(self) -> bytes:
        return key_id(self.cert)
