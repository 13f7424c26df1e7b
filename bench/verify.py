"""Verification benchmark: QR checks per second in-process next to bare ECDSA P-256 verify, and
the median PDF check next to a bare pyhanko validate_pdf_signature of the same file.

Run: .venv/bin/python bench/verify.py [--seconds 3] [--json bench/results/verify.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

from common import department_code, emit, load_sample, median_ms, throwaway_platform


def rate(fn, seconds: float) -> float:  # type: ignore[no-untyped-def]
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def interleaved_rates(fns: dict, seconds: float, rounds: int = 10) -> dict:  # type: ignore[type-arg]
    """Median rate of each function over short alternating rounds: on a shared, noisy machine
    every function sees the same load, so their ratio is what the numbers are for."""
    samples: dict = {name: [] for name in fns}  # type: ignore[type-arg]
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(rate(fn, seconds / rounds))
    return {name: statistics.median(v) for name, v in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--pdf-runs", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    platform, _ = throwaway_platform()

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from licence_svc.core.pdfsign import to_asn1_cert
    from licence_svc.core.verify import StatusSource, verify_pdf, verify_qr
    from licence_svc.services.issuing import issue
    from licence_svc.services.online import REGISTER
    from licence_svc.services.verifying import check_pdf, check_qr

    issued = issue(platform, kind="id_card", data=load_sample(), department=department_code())
    trust = platform.trust_store()
    now = datetime.now(timezone.utc)

    key = ec.generate_private_key(ec.SECP256R1())
    message = os.urandom(200)
    sig = key.sign(message, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()

    offline = StatusSource()
    # The ratio that matters (QR check vs bare ECDSA) is measured in its own interleaved group,
    # apart from the database-bound checks.
    rates = interleaved_rates(
        {
            "bare": lambda: pub.verify(sig, message, ec.ECDSA(hashes.SHA256())),
            "offline": lambda: verify_qr(issued.qr_text, trust=trust, now=now, source=offline),
        },
        args.seconds * 2,
    )
    rates.update(
        interleaved_rates(
            {
                "register": lambda: verify_qr(issued.qr_text, trust=trust, now=now, source=REGISTER),
                "service": lambda: check_qr(platform, issued.qr_text),
            },
            args.seconds * 2,
        )
    )
    results = {
        "bare_ecdsa_p256_verify_per_s": round(rates["bare"]),
        "qr_verify_offline_per_s": round(rates["offline"]),
        "qr_verify_with_register_per_s": round(rates["register"]),
        "qr_check_service_per_s": round(rates["service"]),
    }
    results["qr_offline_to_ecdsa_ratio"] = round(results["qr_verify_offline_per_s"] / results["bare_ecdsa_p256_verify_per_s"], 3)

    root = platform.root_cert()

    def bare_pyhanko() -> None:
        reader = PdfFileReader(BytesIO(issued.pdf))
        ctx = ValidationContext(trust_roots=[to_asn1_cert(root)], allow_fetching=False)
        validate_pdf_signature(reader.embedded_signatures[0], signer_validation_context=ctx)

    results["pdf_bare_pyhanko_validate_median_ms"] = median_ms(bare_pyhanko, args.pdf_runs)
    results["pdf_verify_pipeline_median_ms"] = median_ms(lambda: verify_pdf(issued.pdf, trust=trust, now=now, source=REGISTER), args.pdf_runs)
    results["pdf_check_service_median_ms"] = median_ms(lambda: check_pdf(platform, issued.pdf), args.pdf_runs)
    results["pdf_check_sandboxed_median_ms"] = median_ms(lambda: check_pdf(platform, issued.pdf, sandbox=True), args.pdf_runs)
    emit(results, args.json)


if __name__ == "__main__":
    main()
