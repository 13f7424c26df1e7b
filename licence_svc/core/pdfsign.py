"""PAdES certification signatures on licence PDFs, with the licence data as an associated file.

pyhanko lays out the incremental update (embedded file, signature field and dictionary, DocMDP
certification, the /Contents placeholder) and digests the byte range; the CMS container that goes
into the placeholder is assembled by :mod:`.cms` from parts encoded once per signer (see there for
why). Pure apart from reading the clock for the signing time and the time-stamp.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from .cms import PadesCmsSigner, TimeStampAuthority, TimeStampSource, to_asn1_cert
from .pki import Credentials

ATTACHMENT_NAME = "licence.json"
SIGNATURE_FIELD = "LicenceSignature"
# Enough for an ECDSA signature, a two-certificate chain and an RSA time-stamp token with its
# certificate and the root (~3.5 KB of DER, written as hex); fixing it skips pyhanko's
# size-estimating dry run. An external TSA may send larger tokens: that path reserves more.
BYTES_RESERVED = 12288
BYTES_RESERVED_EXTERNAL_TSA = 24576


def _to_asn1_key(creds: Credentials) -> asn1_keys.PrivateKeyInfo:
    der = creds.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return asn1_keys.PrivateKeyInfo.load(der)


def _http_timestamps(url: str) -> TimeStampSource:
    """Time-stamp tokens from an external RFC 3161 service (one HTTP request a signature)."""
    client = HTTPTimeStamper(url)

    def token(digest: bytes) -> bytes:
        return bytes(asyncio.run(client.async_timestamp(digest, "sha256")).dump())

    return token


@dataclass(frozen=True)
class PdfSigner:
    """Everything needed to sign a department's licences; build once and reuse (it is costly).

    ``signer`` describes the department certificate to pyhanko's PDF layer (it never signs);
    ``cms`` holds the loaded keys and makes the signature container.
    """

    signer: signers.SimpleSigner
    cms: PadesCmsSigner
    department_name: str
    bytes_reserved: int = BYTES_RESERVED

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
        timestamps: TimeStampSource
        reserved = BYTES_RESERVED
        if tsa_url:
            timestamps, reserved = _http_timestamps(tsa_url), BYTES_RESERVED_EXTERNAL_TSA
        elif tsa is not None:
            timestamps = TimeStampAuthority(tsa, chain=[root]).token
        else:
            raise ValueError("a time-stamping key or a TSA URL is required")
        return cls(signer, PadesCmsSigner(department, chain=[root], timestamp=timestamps), department_name, reserved)


def _embed_attachment(writer: IncrementalPdfFileWriter, attachment: bytes) -> None:
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


def sign_licence_pdf(pdf: bytes, *, attachment: bytes, signer: PdfSigner, reason: str) -> bytes:
    """Attach the licence data and certify the document: DocMDP P1 (no changes), PAdES, time-stamped.

    One incremental update holds the attachment and the signature, so the signature covers the
    whole file. Raises ValueError if the container outgrows the reserved space (it cannot with the
    platform TSA), or what the external TSA client raises.
    """
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    _embed_attachment(writer, attachment)
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
    pdf_signer = signers.PdfSigner(meta, signer=signer.signer)
    # Lays out the update with a /Contents placeholder and digests everything but the placeholder.
    prepared, _tbs, output = asyncio.run(
        pdf_signer.async_digest_doc_for_signing(writer, bytes_reserved=signer.bytes_reserved)
    )
    container = signer.cms.sign(prepared.document_digest)
    if 2 * len(container) > signer.bytes_reserved:
        raise ValueError(f"signature container of {len(container)} bytes exceeds the reserved space")
    prepared.fill_with_cms(output, container)
    return bytes(output.getvalue())  # type: ignore[attr-defined]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
