"""PAdES certification signatures on licence PDFs, with the licence data as an associated file.

Pure apart from pyhanko reading the clock for the signing time and the time-stamp.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from .pki import Credentials

ATTACHMENT_NAME = "licence.json"
SIGNATURE_FIELD = "LicenceSignature"
# Enough for an ECDSA signature, a two-certificate chain and an RSA time-stamp token with its
# certificate; fixing it skips pyhanko's size-estimating dry run.
BYTES_RESERVED = 12288


def to_asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _to_asn1_key(creds: Credentials) -> asn1_keys.PrivateKeyInfo:
    der = creds.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return asn1_keys.PrivateKeyInfo.load(der)


@dataclass(frozen=True)
class PdfSigner:
    """Everything needed to sign a department's licences; build once and reuse (it is costly)."""

    signer: signers.SimpleSigner
    timestamper: TimeStamper
    department_name: str

    @classmethod
    def build(
        cls,
        department: Credentials,
        *,
        department_name: str,
        root: x509.Certificate,
        tsa: Credentials | None,
        tsa_url: str | None = None,
    ) -> PdfSigner:
        """``tsa_url`` selects an external RFC 3161 service; otherwise the platform TSA key signs in-process."""
        root_asn1 = to_asn1_cert(root)
        signer = signers.SimpleSigner(
            signing_cert=to_asn1_cert(department.cert),
            signing_key=_to_asn1_key(department),
            cert_registry=SimpleCertificateStore.from_certs([root_asn1]),
        )
        timestamper: TimeStamper
        if tsa_url:
            timestamper = HTTPTimeStamper(tsa_url)
        elif tsa is not None:
            timestamper = DummyTimeStamper(
                tsa_cert=to_asn1_cert(tsa.cert), tsa_key=_to_asn1_key(tsa), certs_to_embed=[root_asn1]
            )
        else:
            raise ValueError("a time-stamping key or a TSA URL is required")
        return cls(signer, timestamper, department_name)


def sign_licence_pdf(pdf: bytes, *, attachment: bytes, signer: PdfSigner, reason: str) -> bytes:
    """Attach the licence data and certify the document: DocMDP P1 (no changes), PAdES, time-stamped."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    stream = EmbeddedFileObject.from_file_data(
        writer,
        data=attachment,
        mime_type="application/json",
        params=EmbeddedFileParams(embed_size=True, embed_checksum=True),
    )
    embed_file(
        writer,
        FileSpec(
            file_spec_string=ATTACHMENT_NAME,
            file_name=ATTACHMENT_NAME,
            embedded_data=stream,
            description="证照数据 (licence data, JSON)",
            af_relationship=generic.NameObject("/Data"),
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        reason=reason,
        location=signer.department_name,
        name=signer.department_name,
    )
    out = BytesIO()
    pdf_signer = signers.PdfSigner(meta, signer=signer.signer, timestamper=signer.timestamper)
    pdf_signer.sign_pdf(writer, output=out, bytes_reserved=BYTES_RESERVED)
    return out.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
