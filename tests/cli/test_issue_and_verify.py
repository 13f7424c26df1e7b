"""Black box: issue each kind with `python cli.py issue`, check the signed PDF with independent tools
(poppler's pdfsig/pdftotext/pdftoppm, pyhanko against the platform root only, zxing-cpp), verify it
with `python cli.py verify`, and make sure every tamper twin flips the verdict."""

from __future__ import annotations

import base64
import io
import json
import random
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from licence_svc.core.identifiers import parse_licence_id
from licence_svc.core.kinds import KINDS as KIND_SPECS
from licence_svc.errors import LicenceError, UnreadableEvidence
from licence_svc.storage.models import Licence
from tests.helpers import SAMPLES, asn1_cert, byte_range, certify_with, embedded_stream_span, flip, load_sample, self_signed, stream_span, unsigned_page

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# The name(s) a reader of each licence expects to see printed, in Chinese.
HOLDER_NAMES = {
    "id_card": ("张晓明",),
    "household_register": ("刘䶮", "王淑𠮷"),  # U+4DAE (Extension A), U+20BB7 (Extension B)
    "degree_certificate": ("李静怡",),
    "driving_licence": ("陈建国",),
    "business_licence": ("北京云证科技有限公司",),
}


# -- helpers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliIssued:
    kind: str
    identifier: str
    path: Path
    pdf: bytes
    stdout: str
    stderr: str


def _root_cert(platform_env: dict[str, str]) -> x509.Certificate:
    return x509.load_pem_x509_certificate((Path(platform_env["LICENCE_KEYS_DIR"]) / "root-ca.pem").read_bytes())


def _validate(pdf: bytes, root: x509.Certificate) -> tuple[Any, Any]:
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    ctx = ValidationContext(trust_roots=[asn1_cert(root)], allow_fetching=False)
    return sig, validate_pdf_signature(sig, signer_validation_context=ctx)


def _root_cert_of_session(platform: Any) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(platform.settings.keys_dir, "root-ca.pem").read_bytes())


def _solid(pdf: bytes, pos: int) -> int:
    """The first position at or after ``pos`` whose byte is not PDF whitespace (compressed data
    holds whitespace bytes by chance; changing one of those may be harmless by design)."""
    while pdf[pos : pos + 1] in b" \r\n\t\x0c\x00":
        pos += 1
    return pos


def _page_contents_id(pdf: bytes) -> int:
    page = PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"][0].get_object()
    contents = page.raw_get("/Contents")
    if isinstance(contents, generic.ArrayObject):
        contents = contents[0]
    return contents.idnum  # type: ignore[no-any-return]


def _qr_from_page(pdf_path: Path) -> list[str]:
    pgm = subprocess.run(
        ["pdftoppm", "-r", "150", "-gray", "-f", "1", "-l", "1", str(pdf_path)], capture_output=True, check=True, timeout=60
    ).stdout
    image = Image.open(io.BytesIO(pgm))
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def _json_report(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The --json report; an uncaught exception would leave stdout empty."""
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def _failed_reasons(report: dict[str, Any]) -> list[str]:
    return [c["reason"] for c in report["checks"] if c["passed"] is False]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-issue")


@pytest.fixture(scope="module")
def cli_many(run_cli: Callable[..., subprocess.CompletedProcess[str]]) -> Callable[..., list[subprocess.CompletedProcess[str]]]:
    """Run several independent `cli.py` commands, one after the other (in-process runs share sys.stdout)."""

    def run(*commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
        return [run_cli(*args) for args in commands]

    return run


@pytest.fixture(scope="module")
def cli_issued(cli_many: Callable[..., Any], departments: dict[str, str], workdir: Path) -> Callable[[str], CliIssued]:
    """Each kind issued from its sample file with the real command line, once per module."""
    outs = {kind: workdir / f"{kind}.pdf" for kind in KINDS}
    procs = cli_many(
        *[("issue", "--kind", k, "--data", str(SAMPLES / f"{k}.json"), "--department", departments[k], "--out", str(outs[k])) for k in KINDS]
    )
    issued = {}
    for kind, proc in zip(KINDS, procs):
        assert proc.returncode == 0, proc.stderr
        issued[kind] = CliIssued(kind, proc.stdout.strip().splitlines()[-1], outs[kind], outs[kind].read_bytes(), proc.stdout, proc.stderr)
    return issued.__getitem__


@pytest.fixture(scope="module")
def scanned(cli_issued: Callable[[str], CliIssued]) -> dict[str, list[str]]:
    """kind → QR texts zxing-cpp finds on page 1 rendered by pdftoppm at 150 dpi, grey."""
    return {kind: _qr_from_page(cli_issued(kind).path) for kind in KINDS}


@pytest.fixture(scope="module")
def cli_verified(cli_issued: Callable[[str], CliIssued], scanned: dict[str, list[str]], cli_many: Callable[..., Any]) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """(kind, "qr" | "pdf") → `cli.py verify --qr <scanned text>` / `cli.py verify FILE.pdf`."""
    keys = [(k, e) for k in KINDS for e in ("qr", "pdf") if e == "pdf" or len(scanned[k]) == 1]
    procs = cli_many(*[("verify", "--qr", scanned[k][0]) if e == "qr" else ("verify", str(cli_issued(k).path)) for k, e in keys])
    return dict(zip(keys, procs))


@pytest.fixture(scope="module")
def root_cert(platform_env: dict[str, str]) -> x509.Certificate:
    return _root_cert(platform_env)


# -- issuing and what independent tools see --------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_issue_prints_the_identifier_on_its_last_line(kind: str, cli_issued: Callable[[str], CliIssued], departments: dict[str, str]) -> None:
    issued = cli_issued(kind)
    last = issued.stdout.rstrip("\n").splitlines()[-1]
    assert last == last.strip() and last == issued.identifier
    lid = parse_licence_id(last)
    assert lid.kind_code == KIND_SPECS[kind].kind_code
    assert lid.issuer_code == departments[kind]
    assert lid.version == 1
    assert issued.pdf.startswith(b"%PDF-")
    assert not issued.path.with_name(issued.path.name + ".part").exists()
    row = Licence.get_by_id(last)
    assert (row.kind, row.status, row.issuer_id) == (kind, "valid", departments[kind])


@pytest.mark.parametrize("kind", KINDS)
def test_pdfsig_sees_one_valid_signature_over_the_whole_document(kind: str, cli_issued: Callable[[str], CliIssued]) -> None:
    out = subprocess.run(["pdfsig", str(cli_issued(kind).path)], capture_output=True, text=True, timeout=60).stdout
    assert out.count("Signature #") == 1
    assert "Signature is Valid" in out
    assert "Total document signed" in out
    # The platform root is not in NSS: poppler cannot know it, which is expected.
    assert "Certificate issuer isn't Trusted" in out


@pytest.mark.parametrize("kind", KINDS)
def test_pyhanko_against_the_platform_root_only(
    kind: str, cli_issued: Callable[[str], CliIssued], root_cert: x509.Certificate, platform_env: dict[str, str], departments: dict[str, str]
) -> None:
    issued = cli_issued(kind)
    sig, status = _validate(issued.pdf, root_cert)
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.modification_level == ModificationLevel.NONE
    assert sig.docmdp_level == fields.MDPPerm.NO_CHANGES and status.docmdp_ok  # a certification signature
    ts = status.timestamp_validity
    assert ts is not None and ts.intact and ts.valid and ts.trusted
    assert abs(ts.timestamp - datetime.now(timezone.utc)) < timedelta(minutes=10)
    # The CMS carries the department certificate: pyhanko got only the root and still built the path.
    signer = x509.load_der_x509_certificate(status.signing_cert.dump())
    embedded = [c.chosen.dump() for c in sig.signed_data["certificates"]]
    assert signer.public_bytes(serialization.Encoding.DER) in embedded
    path = [c.dump() for c in status.validation_path.iter_certs(include_root=True)]
    assert path[0] == root_cert.public_bytes(serialization.Encoding.DER)
    assert path[-1] == signer.public_bytes(serialization.Encoding.DER)
    dept_certs = list((Path(platform_env["LICENCE_KEYS_DIR"]) / "departments" / departments[kind]).glob("*.pem"))
    assert signer in [x509.load_pem_x509_certificate(p.read_bytes()) for p in dept_certs]


def test_pyhanko_with_another_root_does_not_trust_it(cli_issued: Callable[[str], CliIssued]) -> None:
    """Twin of the check above: trust comes from the root given, nothing else."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other root")])
    now = datetime.now(timezone.utc)
    other = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _, status = _validate(cli_issued("id_card").pdf, other)
    assert status.intact and status.valid
    assert not status.trusted


@pytest.mark.parametrize("kind", KINDS)
def test_pdftotext_shows_the_holder_and_identifier(kind: str, cli_issued: Callable[[str], CliIssued]) -> None:
    issued = cli_issued(kind)
    text = subprocess.run(["pdftotext", str(issued.path), "-"], capture_output=True, text=True, timeout=60).stdout
    compact = re.sub(r"\s+", "", text)
    for name in HOLDER_NAMES[kind]:
        assert name in compact, f"{name!r} not in the text layer"
    assert issued.identifier in compact


@pytest.mark.parametrize("kind", KINDS)
def test_embedded_licence_json_is_an_associated_data_file(kind: str, cli_issued: Callable[[str], CliIssued]) -> None:
    issued = cli_issued(kind)
    root = PdfFileReader(io.BytesIO(issued.pdf)).root
    specs = [s.get_object() for s in root["/AF"]]
    spec = next(s for s in specs if str(s.get("/UF", s.get("/F"))) == "licence.json")
    assert spec["/AFRelationship"] == "/Data"
    names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert "licence.json" in [str(names[i]) for i in range(0, len(names), 2)]
    doc = json.loads(spec["/EF"]["/F"].data.decode("utf-8"))
    assert doc["data"] == load_sample(kind)
    assert doc["identifier"] == issued.identifier
    assert doc["kind"] == kind
    assert doc["qr_text"] == Licence.get_by_id(issued.identifier).qr_text


@pytest.mark.parametrize("kind", KINDS)
def test_qr_on_page_one_scans_and_verifies(kind: str, cli_issued: Callable[[str], CliIssued], scanned: dict[str, list[str]], cli_verified: dict[Any, Any]) -> None:
    issued = cli_issued(kind)
    assert len(scanned[kind]) == 1
    assert scanned[kind][0] == Licence.get_by_id(issued.identifier).qr_text
    proc = cli_verified[kind, "qr"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verdict: valid" in proc.stdout
    assert issued.identifier in proc.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_cli_verify_pdf_is_valid(kind: str, cli_verified: dict[Any, Any]) -> None:
    proc = cli_verified[kind, "pdf"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("verdict: valid")
    assert "FAIL" not in proc.stdout


# -- tamper twins: the PDF -------------------------------------------------------------------


def _tamper_positions(pdf: bytes) -> dict[str, int]:
    a, b, c, d = byte_range(pdf)
    content_start, content_end = stream_span(pdf, _page_contents_id(pdf))
    creator = _solid(pdf, pdf.rindex(b"/Creator (", 0, a + b) + len(b"/Creator (") + 2)
    reason = _solid(pdf, pdf.index(b"/Reason (", c) + len(b"/Reason (") + 6)
    xref = pdf.find(b"\nxref\n", c) + 1 or pdf.rindex(b"startxref")  # table, or the pointer to a stream
    positions = {
        "page content stream": _solid(pdf, (content_start + content_end) // 2),
        "text string in the document info": creator,
        "text string in the signature dictionary": reason,
        "xref keyword": xref,
    }
    for name, pos in positions.items():
        assert a <= pos < a + b or c <= pos < c + d, f"{name} outside the signed byte range"
        assert pdf[pos : pos + 1] not in b" \r\n\t", name
    return positions


def test_tampered_pdf_on_the_command_line(cli_issued: Callable[[str], CliIssued], run_cli: Callable[..., Any], workdir: Path) -> None:
    issued = cli_issued("id_card")
    pos = _tamper_positions(issued.pdf)["page content stream"]
    bad = workdir / "tampered-content.pdf"
    bad.write_bytes(flip(issued.pdf, pos))
    proc = run_cli("verify", "--json", str(bad))
    assert proc.returncode != 0
    report = _json_report(proc)
    assert report["verdict"] == "tampered" and not report["valid"]
    integrity = next(c for c in report["checks"] if c["name"] == "pdf_integrity")
    assert integrity["passed"] is False
    assert "signature does not match the document bytes" in integrity["reason"]


@pytest.mark.parametrize("where", ["page content stream", "text string in the document info", "text string in the signature dictionary", "xref keyword"])
@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_one_changed_byte_is_tampered(where: str, offline: bool, issued_samples: dict[str, Any], platform: Any) -> None:
    from licence_svc.services.verifying import check_pdf

    pdf = issued_samples["household_register"].pdf
    assert check_pdf(platform, pdf, offline=offline).verdict == ("unchecked" if offline else "valid")  # the twin: offline, status unknown
    report = check_pdf(platform, flip(pdf, _tamper_positions(pdf)[where]), offline=offline)
    assert report.verdict == "tampered"
    assert report.reasons


def test_random_signed_bytes_are_tampered(issued_samples: dict[str, Any], platform: Any) -> None:
    """Non-whitespace bytes anywhere in the signed byte range, the embedded data stream included."""
    from licence_svc.services.verifying import check_pdf

    pdf = issued_samples["driving_licence"].pdf
    a, b, c, d = byte_range(pdf)
    start, end = embedded_stream_span(pdf)
    candidates = [i for i in [*range(a, a + b), *range(c, c + d)] if pdf[i : i + 1] not in b" \r\n\t\x0c\x00"]
    rng = random.Random(20240601)
    for pos in rng.sample(candidates, 25) + [rng.randrange(start, end) for _ in range(3)]:
        try:
            report = check_pdf(platform, flip(pdf, pos), offline=True)
        except UnreadableEvidence:
            assert pos < 8, f"byte {pos} made the PDF unreadable"  # only the %PDF- header may do that
            continue
        assert report.verdict == "tampered", f"byte {pos} ({pdf[pos - 10 : pos + 10]!r}): {report.verdict}"
        assert report.reasons


def test_changed_byte_in_embedded_data_stream_is_tampered(issued_samples: dict[str, Any], platform: Any) -> None:
    """A damaged FlateDecode stream (zlib 'incorrect data check') is evidence of tampering, not a crash."""
    from licence_svc.services.verifying import check_pdf

    pdf = issued_samples["id_card"].pdf
    start, end = embedded_stream_span(pdf)
    report = check_pdf(platform, flip(pdf, _solid(pdf, (start + end) // 2)), offline=True)
    assert report.verdict == "tampered"
    assert any("does not match the document bytes" in r for r in report.reasons), report.reasons


def test_changed_byte_in_embedded_data_stream_on_the_command_line(cli_issued: Callable[[str], CliIssued], run_cli: Callable[..., Any], workdir: Path) -> None:
    issued = cli_issued("degree_certificate")
    start, end = embedded_stream_span(issued.pdf)
    bad = workdir / "tampered-attachment.pdf"
    bad.write_bytes(flip(issued.pdf, _solid(issued.pdf, (start + end) // 2)))
    proc = run_cli("verify", "--json", str(bad))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert _json_report(proc)["verdict"] == "tampered"


def _incremental_root_rewrite(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _incremental_annotation(pdf: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    annot = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (50, 50, 80, 80)]),
            generic.NameObject("/Contents"): generic.TextStringObject("已注销"),
        }
    )
    page[generic.NameObject("/Annots")] = generic.ArrayObject([writer.add_object(annot)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_incremental_update_on_the_command_line(cli_issued: Callable[[str], CliIssued], run_cli: Callable[..., Any], workdir: Path) -> None:
    issued = cli_issued("business_licence")
    updated = workdir / "incremental.pdf"
    updated.write_bytes(_incremental_root_rewrite(issued.pdf))
    assert updated.read_bytes().startswith(issued.pdf)  # the signed revision is untouched
    proc = run_cli("verify", "--json", str(updated))
    assert proc.returncode == 1
    report = _json_report(proc)
    assert report["verdict"] == "tampered"
    assert any("whole file" in r for r in _failed_reasons(report))


@pytest.mark.parametrize("update", [_incremental_root_rewrite, _incremental_annotation, lambda pdf: pdf + b"\n% appended after signing\n"], ids=["root-rewrite", "annotation", "appended-bytes"])
@pytest.mark.parametrize("offline", [False, True], ids=["online", "offline"])
def test_incremental_updates_are_tampered(update: Callable[[bytes], bytes], offline: bool, issued_samples: dict[str, Any], platform: Any) -> None:
    from licence_svc.services.verifying import check_pdf

    report = check_pdf(platform, update(issued_samples["id_card"].pdf), offline=offline)
    assert report.verdict == "tampered"
    integrity = next(c for c in report.checks if c.name == "pdf_integrity")
    assert integrity.passed is False and "whole file" in integrity.reason


# -- re-signed with certificates the platform never issued -----------------------------------


@pytest.fixture(scope="module")
def forged_pdf(issued_samples: dict[str, Any]) -> bytes:
    """The id_card licence re-made and certified by a self-signed certificate that copies the department's name."""
    page, attachment = unsigned_page(issued_samples["id_card"].pdf)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "示例市公安局（演示）"),
            x509.NameAttribute(NameOID.COMMON_NAME, "示例市公安局（演示）电子证照签章"),
        ]
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = (tsa_key, self_signed(tsa_key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TSA")]), ca=False, eku=True))
    return certify_with(page, attachment, key=key, cert=self_signed(key, subject, ca=False), tsa=tsa)


def test_self_signed_copy_is_not_valid(forged_pdf: bytes, platform: Any) -> None:
    from licence_svc.services.verifying import check_pdf

    # The forgery is internally sound: only trust can tell.
    _, status = _validate(forged_pdf, _root_cert_of_session(platform))
    assert status.intact and status.valid and not status.trusted
    offline = check_pdf(platform, forged_pdf, offline=True)
    assert offline.verdict == "untrusted"
    assert any("does not chain to the platform root" in r for r in offline.reasons)
    online = check_pdf(platform, forged_pdf)
    assert not online.valid
    assert any("does not chain to the platform root" in r for r in online.reasons)


def test_self_signed_copy_on_the_command_line(forged_pdf: bytes, run_cli: Callable[..., Any], workdir: Path) -> None:
    path = workdir / "forged.pdf"
    path.write_bytes(forged_pdf)
    proc = run_cli("verify", "--json", str(path))
    assert proc.returncode == 1
    report = _json_report(proc)
    assert report["verdict"] in ("untrusted", "forged", "tampered")
    assert any("platform root" in r for r in _failed_reasons(report))


def test_self_signed_copy_on_the_command_line_prints_no_traceback(forged_pdf: bytes, run_cli: Callable[..., Any], workdir: Path) -> None:
    """pyhanko logs an untrusted signer as a warning with a traceback; next to a report it reads like a crash."""
    path = workdir / "forged-quiet.pdf"
    path.write_bytes(forged_pdf)
    proc = run_cli("verify", str(path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr


def test_copy_signed_with_a_look_alike_department_pki_is_not_valid(issued_samples: dict[str, Any], platform: Any, departments: dict[str, str]) -> None:
    """A forger running this very software with their own root, department and TSA keys."""
    from licence_svc.core import pki
    from licence_svc.core.pdfsign import PdfSigner, sign_licence_pdf
    from licence_svc.services.verifying import check_pdf

    now = datetime.now(timezone.utc)
    page, attachment = unsigned_page(issued_samples["driving_licence"].pdf)
    root_key = pki.new_ec_key()
    root = pki.make_root(root_key, now=now)
    dept_key = pki.new_ec_key()
    dept = pki.make_department_cert(
        dept_key, department_code=departments["driving_licence"], department_name="示例市公安局（演示）", root_cert=root, root_key=root_key, now=now
    )
    tsa_key = pki.new_tsa_key()
    tsa = pki.make_tsa_cert(tsa_key, root_cert=root, root_key=root_key, now=now)
    signer = PdfSigner.build(pki.Credentials(dept_key, dept), department_name="示例市公安局（演示）", root=root, tsa=pki.Credentials(tsa_key, tsa))
    forged = sign_licence_pdf(page, attachment=attachment, signer=signer, reason="驾驶证电子证照签发")
    offline = check_pdf(platform, forged, offline=True)
    assert offline.verdict == "untrusted"
    assert not check_pdf(platform, forged).valid


# -- tamper twins: the QR payload ------------------------------------------------------------


def _split_qr(text: str) -> tuple[str, str]:
    head, payload = text.rsplit("/", 1)
    assert re.fullmatch(r"[A-Z2-7]+", payload)
    return head + "/", payload


def _b32decode(payload: str) -> bytes:
    return base64.b32decode(payload + "=" * (-len(payload) % 8))


def _other_b32(ch: str, k: int) -> str:
    return B32[(B32.index(ch) + k) % 32]


def test_changed_qr_characters_on_the_command_line(cli_issued: Callable[[str], CliIssued], cli_many: Callable[..., Any]) -> None:
    text = Licence.get_by_id(cli_issued("id_card").identifier).qr_text
    head, payload = _split_qr(text)
    changes = []
    for pos, k in ((3, 1), (len(payload) // 2, 7), (len(payload) - 20, 16)):
        changed = payload[:pos] + _other_b32(payload[pos], k) + payload[pos + 1 :]
        assert _b32decode(changed) != _b32decode(payload)
        changes.append((pos, head + changed))
    procs = cli_many(*[("verify", "--qr", t) for _, t in changes])
    for (pos, _), proc in zip(changes, procs):
        assert proc.returncode != 0, f"position {pos}: {proc.stdout}"
        assert "Traceback" not in proc.stderr
        if proc.returncode == 1:  # a report: it must say what failed
            assert "verdict: valid" not in proc.stdout
            assert "[FAIL]" in proc.stdout
        else:  # unreadable evidence: exit 2 with the reason
            assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_changed_qr_character_is_never_valid(data: st.DataObject, issued_samples: dict[str, Any], platform: Any) -> None:
    from licence_svc.services.verifying import check_qr

    kind = data.draw(st.sampled_from(KINDS))
    head, payload = _split_qr(issued_samples[kind].qr_text)
    pos = data.draw(st.integers(0, len(payload) - 1))
    ch = data.draw(st.sampled_from(B32).filter(lambda c: c != payload[pos]))
    changed = payload[:pos] + ch + payload[pos + 1 :]
    assume(_b32decode(changed) != _b32decode(payload))  # padding bits only: see the test below
    offline = data.draw(st.booleans())
    try:
        report = check_qr(platform, head + changed, offline=offline)
    except LicenceError as exc:  # unreadable evidence is an answer too (exit 2), never a crash
        assert isinstance(exc, UnreadableEvidence), repr(exc)
        return
    assert not report.valid
    assert report.verdict in ("tampered", "forged", "untrusted")
    assert report.reasons


def test_changed_last_qr_character_is_not_valid(issued_samples: dict[str, Any], platform: Any) -> None:
    """The last base32 character carries unused bits: a text differing only there must not pass as
    the issued one (only the canonical encoding is accepted)."""
    from licence_svc.services.verifying import check_qr

    for kind in KINDS:
        head, payload = _split_qr(issued_samples[kind].qr_text)
        if len(payload) * 5 % 8:  # the last character holds unused bits
            break
    else:
        pytest.skip("no sample's payload length leaves padding bits")
    changed = payload[:-1] + B32[B32.index(payload[-1]) ^ 1]
    assert changed != payload
    try:
        report = check_qr(platform, head + changed)
    except UnreadableEvidence:
        return
    assert not report.valid
