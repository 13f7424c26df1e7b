"""Helpers shared by the tests: the sample records; fresh valid id numbers, credit codes and client
addresses; the command line run in this process or in a real one; a scratch platform environment of
its own; and the PDF tamper and forgery helpers of the tamper twins (find the signed byte range and
a stream's data, change one byte, and re-make a licence the way a forger with pyhanko alone would)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

from licence_svc.core.checkdigits import CREDIT_ALPHABET, credit_code_check_char, id_number_check_char

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
PDF_WHITESPACE = b" \r\n\t\x0c\x00"


# -- sample records and fresh identities ---------------------------------------------------------


def load_sample(kind: str) -> dict[str, Any]:
    """A fresh, valid record of a kind from samples/ (check digits right), safe to modify."""
    return json.loads((SAMPLES / f"{kind}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def person_id(birth: str = "19900307", male: bool = True) -> str:
    """A fresh, valid citizen id number for someone born on ``birth`` (YYYYMMDD; the sample id card's
    by default) of the given sex: a random area code and sequence, so unique within a session."""
    first17 = f"{secrets.randbelow(900000) + 100000}{birth}{secrets.randbelow(100):02d}{secrets.choice('13579' if male else '02468')}"
    return first17 + id_number_check_char(first17)


def person() -> tuple[str, str, str]:
    """(id number, birth date YYYY-MM-DD, sex 男/女) of a new, valid and almost certainly unique person."""
    birth = f"{secrets.randbelow(25) + 1960}-{secrets.randbelow(12) + 1:02d}-{secrets.randbelow(28) + 1:02d}"
    male = secrets.randbelow(2) == 0
    return person_id(birth.replace("-", ""), male), birth, "男" if male else "女"


def credit_code() -> str:
    """A fresh, valid unified social credit code (a new department or company)."""
    first17 = "91110101" + "".join(secrets.choice(CREDIT_ALPHABET) for _ in range(9))
    return first17 + credit_code_check_char(first17)


def code_for(issued: Any, holder: str) -> str:
    """The claim code an issue result handed to ``holder``."""
    return dict(issued.claim_codes)[holder]  # type: ignore[no-any-return]


def client_address() -> str:
    """A client address of its own, so sign-in failures counted in one test do not throttle another."""
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


# -- the command line, in this process or in a real one -------------------------------------------

# What the CLI reads from the environment: these and every LICENCE_* variable.
CLI_ENV_NAMES = ("DATABASE_URL",)
PYHANKO_LOGGERS = ("pyhanko", "pyhanko_certvalidator")


def _is_cli_setting(name: str) -> bool:
    return name.startswith("LICENCE_") or name in CLI_ENV_NAMES


def cli_in_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``cli.py *args`` in this process with click's CliRunner, as a subprocess would run it with
    ``env``'s LICENCE_* and DATABASE_URL and no others: the same exit code, stdout and stderr (an
    uncaught exception's traceback included), at none of a process's start-up cost (pyhanko, fonts).

    Nothing leaks into the next invocation or the test: the environment is the runner's for the
    call only, and the database the command opened, the logging it configured and the pyhanko
    loggers it quietened are put back as they were."""
    from click.testing import CliRunner

    from licence_svc.cli import main
    from licence_svc.storage import db

    call_env: dict[str, str | None] = {name: None for name in os.environ if _is_cli_setting(name)}  # None: unset
    call_env.update({k: v for k, v in env.items() if _is_cli_setting(k)})
    bound = db.database.obj
    root = logging.getLogger()
    root_state = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in PYHANKO_LOGGERS}
    try:
        result = CliRunner().invoke(main, list(args), env=call_env, catch_exceptions=True, prog_name="cli.py")
    finally:
        opened = db.database.obj
        if opened is not bound and opened is not None:
            opened.close()
        if bound is not None:
            db.database.initialize(bound)
        root.handlers[:] = root_state[0]
        root.setLevel(root_state[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit) and result.exc_info:
        stderr += "".join(traceback.format_exception(*result.exc_info))  # what the interpreter prints
    return subprocess.CompletedProcess(["cli.py", *args], result.exit_code, result.stdout, stderr)


def cli_subprocess(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real ``python cli.py *args`` with this process's environment, its LICENCE_* and
    DATABASE_URL replaced by ``env``'s: for what only a process shows (its exit status, kill -9)."""
    full_env = {k: v for k, v in os.environ.items() if not _is_cli_setting(k)}
    full_env.update(env)
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=timeout)


# -- a platform of a test's own -------------------------------------------------------------------


@dataclass(frozen=True)
class Scratch:
    """A scratch platform's environment and database (see :func:`scratch_env`)."""

    env: dict[str, str]  # the whole environment for its subprocesses: no LICENCE_* of the session's
    url: str  # its DATABASE_URL
    sqlite_file: Path | None  # SQLite: the database file
    pg_name: str | None  # PostgreSQL: the database's name
    pg_admin_url: str | None  # PostgreSQL: the session's database, to create, alter and drop it from


@contextmanager
def scratch_env(tmp: Path, prefix: str) -> Iterator[Scratch]:
    """Keys, PDF folder and database of a platform of its own under ``tmp``: a SQLite file, or (when the
    session runs on PostgreSQL) a fresh database ``<prefix>_<random>`` on the same server, dropped after."""
    session_url = os.environ.get("DATABASE_URL", "")
    sqlite_file = pg_name = pg_admin_url = None
    if session_url.startswith("postgres"):
        import psycopg2  # type: ignore[import-untyped]

        pg_name, pg_admin_url = f"{prefix}_{secrets.token_hex(6)}", session_url
        url = urlunsplit(urlsplit(session_url)._replace(path=f"/{pg_name}"))
        admin = psycopg2.connect(session_url)
        admin.autocommit = True
        with admin.cursor() as cur:  # not `with admin`: psycopg2 would open a transaction block
            cur.execute(f'CREATE DATABASE "{pg_name}"')
    else:
        sqlite_file = tmp / "var" / "licences.db"
        url = f"sqlite:///{sqlite_file}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENCE_")}
    env.update(LICENCE_DATA_DIR=str(tmp / "var"), LICENCE_KEYS_DIR=str(tmp / "keys"), LICENCE_BASE_URL="http://127.0.0.1:8000", DATABASE_URL=url)
    try:
        yield Scratch(env, url, sqlite_file, pg_name, pg_admin_url)
    finally:
        if pg_name:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            admin.close()


# -- where the bytes are ------------------------------------------------------------------------


def byte_range(pdf: bytes) -> tuple[int, int, int, int]:
    """The signature's /ByteRange: the signed bytes are [a, a+b) and [c, c+d)."""
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert m, "no /ByteRange in the PDF"
    a, b, c, d = map(int, m.groups())
    return a, b, c, d


def stream_span(pdf: bytes, idnum: int) -> tuple[int, int]:
    """Start and end offsets of the (latest) stream data of object ``idnum``."""
    start = pdf.rfind(b"\n%d 0 obj" % idnum)
    assert start >= 0, f"object {idnum} not found"
    data = pdf.index(b"stream", pdf.index(b">>", start)) + len(b"stream")
    while pdf[data : data + 1] in (b"\r", b"\n"):
        data += 1
    end = pdf.index(b"endstream", data)
    return data, end


def embedded_file_id(pdf: bytes) -> int:
    """The object number of the embedded licence.json's stream (the first /AF file)."""
    root = PdfFileReader(io.BytesIO(pdf)).root
    spec = root["/AF"][0].get_object()
    return spec["/EF"].raw_get("/F").idnum  # type: ignore[no-any-return]


def embedded_stream_span(pdf: bytes) -> tuple[int, int]:
    """Offsets of the stream data of the embedded licence.json."""
    return stream_span(pdf, embedded_file_id(pdf))


def flip(pdf: bytes, pos: int) -> bytes:
    """Change the byte at ``pos`` into another byte that is not whitespace either."""
    buf = bytearray(pdf)
    for mask in (0x01, 0x02, 0x04, 0x10):  # 0x08 → 0x09, 0x0A, 0x0C are all whitespace; 0x18 is not
        if (buf[pos] ^ mask) not in PDF_WHITESPACE:
            buf[pos] ^= mask
            return bytes(buf)
    raise AssertionError("unreachable")


# -- forgeries: re-signed with certificates the platform never issued ---------------------------


def asn1_cert(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def asn1_key(key: Any) -> asn1_keys.PrivateKeyInfo:
    return asn1_keys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def self_signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, subject: x509.Name, *, ca: bool, eku: bool = False) -> x509.Certificate:
    """A self-signed certificate valid from yesterday for a year; ``eku`` makes it a time-stamping one."""
    now = datetime.now(timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    return builder.sign(key, hashes.SHA256())


def unsigned_page(issued_pdf: bytes) -> tuple[bytes, bytes]:
    """A fresh copy of the licence page (same data, same genuine QR) and its licence.json, never signed."""
    from licence_svc.core.kinds import get_kind
    from licence_svc.core.render import RenderRequest, render_pdf

    root = PdfFileReader(io.BytesIO(issued_pdf)).root
    attachment = bytes(root["/AF"][0].get_object()["/EF"]["/F"].data)
    doc = json.loads(attachment)
    page = render_pdf(
        RenderRequest(
            kind=get_kind(doc["kind"]),
            data=doc["data"],
            identifier=doc["identifier"],
            issuer_name=doc["issuer"]["name"],
            issued_on=datetime.fromisoformat(doc["issued_at"]).date(),
            qr_text=doc["qr_text"],
        )
    )
    return page, attachment


def certify_with(page: bytes, attachment: bytes, *, key: Any, cert: x509.Certificate, tsa: tuple[Any, x509.Certificate] | None) -> bytes:
    """What a forger does with pyhanko alone: attach the genuine data and certify with their own key
    (and, with ``tsa`` = (key, certificate), their own time-stamp)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(page))
    embed_file(
        writer,
        FileSpec(
            file_spec_string="licence.json",
            file_name="licence.json",
            embedded_data=EmbeddedFileObject.from_file_data(writer, data=attachment, mime_type="application/json", params=EmbeddedFileParams()),
            af_relationship=generic.NameObject("/Data"),
        ),
    )
    signer = signers.SimpleSigner(signing_cert=asn1_cert(cert), signing_key=asn1_key(key), cert_registry=None)  # type: ignore[arg-type]
    timestamper = DummyTimeStamper(tsa_cert=asn1_cert(tsa[1]), tsa_key=asn1_key(tsa[0])) if tsa else None
    meta = signers.PdfSignatureMetadata(
        field_name="LicenceSignature", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        certify=True, docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=signer, timestamper=timestamper).sign_pdf(writer, output=out)
    return out.getvalue()
