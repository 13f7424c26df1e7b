"""Parsing untrusted PDFs away from the web worker.

pyhanko has no decompression cap, so an uploaded PDF is inspected in a separate process with
limits on memory and CPU time; a PDF that exhausts them is unreadable evidence, and the worker
process is replaced.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ..core.pdfinspect import PdfFindings, inspect_pdf
from ..errors import UnreadableEvidence

log = logging.getLogger(__name__)

MEMORY_LIMIT = 768 * 1024 * 1024
CPU_SECONDS = 20
WALL_SECONDS = 30

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    # pyhanko logs expected validation failures as warnings with tracebacks; the findings say
    # what failed, and a traceback on the CLI's stderr reads like a crash.
    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    import pyhanko.sign.validation  # noqa: F401  (pay the import once per sandbox process)


def _cpu_limit_from_now() -> None:
    """RLIMIT_CPU counts the worker's whole life: set afresh for each PDF, it is a limit per PDF
    (set once, the worker refused a genuine licence after ~1,000 of them)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(usage.ru_utime + usage.ru_stime) + 1 + CPU_SECONDS
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _inspect(pdf: bytes, root_der: bytes) -> tuple[PdfFindings, bytes | None]:
    _cpu_limit_from_now()
    findings = inspect_pdf(pdf, root=x509.load_der_x509_certificate(root_der))
    signer = findings.signer_cert.public_bytes(serialization.Encoding.DER) if findings.signer_cert else None
    # Certificates travel as DER: the findings go back to the parent without the object.
    return PdfFindings(**{**findings.__dict__, "signer_cert": None}), signer


def _get_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_limit)
        return _pool


def _reset_pool() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None


def inspect_pdf_sandboxed(pdf: bytes, root: x509.Certificate) -> PdfFindings:
    future = _get_pool().submit(_inspect, pdf, root.public_bytes(serialization.Encoding.DER))
    try:
        findings, signer_der = future.result(timeout=WALL_SECONDS)
    except FutureTimeout as exc:
        _reset_pool()
        raise UnreadableEvidence("PDF took too long to analyse") from exc
    except (BrokenProcessPool, MemoryError) as exc:
        _reset_pool()
        raise UnreadableEvidence("PDF is too complex to analyse safely") from exc
    signer = x509.load_der_x509_certificate(signer_der) if signer_der else None
    return PdfFindings(**{**findings.__dict__, "signer_cert": signer})
