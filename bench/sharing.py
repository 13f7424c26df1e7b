"""Holder and window operations: what one share, redemption, annotated copy and field check cost,
next to issuing one licence and one audited QR check in the same run.

Run: .venv/bin/python bench/sharing.py [--runs 30] [--json bench/results/sharing.json]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from common import department_code, emit, load_sample, median_ms, throwaway_platform


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    platform, setup = throwaway_platform()

    from licence_svc.services import checks, holders, shares
    from licence_svc.services.issuing import issue
    from licence_svc.services.setup import DEMO_WINDOW, demo_code
    from licence_svc.services.tokens import authenticate
    from licence_svc.services.verifying import check_pdf, check_qr

    tokens = setup.demo_tokens
    platform = dataclasses.replace(platform, settings=dataclasses.replace(platform.settings, check_rate_per_minute=10**9))
    police = department_code()
    window_code = demo_code(DEMO_WINDOW[0])
    window = authenticate(f"Bearer {tokens[window_code]}", client="bench")
    data = load_sample()
    holder = data["id_number"]
    issued = issue(platform, kind="id_card", data=data, department=police)

    def grant(scope: str) -> str:
        return shares.create_grant(platform, holder=holder, licence=issued.identifier, purpose="办理不动产登记", scope=scope, recipient=window_code)[1]

    verify_code, data_code, pdf_code = grant("verify"), grant("data"), grant("pdf")
    answer = shares.redeem(platform, window, pdf_code, client="bench")
    copy = shares.redemption_copy(platform, window, answer["redemption_id"], client="bench")
    stored = holders.hash_password("correct horse battery")
    claims = {"name": data["name"], "id_number": holder}

    results = {
        "issue_one_licence_ms": median_ms(lambda: issue(platform, kind="id_card", data=data, department=police), args.runs),
        "qr_check_service_ms": median_ms(lambda: check_qr(platform, issued.qr_text), args.runs),
        "create_grant_ms": median_ms(lambda: grant("verify"), args.runs),
        "redeem_verify_scope_ms": median_ms(lambda: shares.redeem(platform, window, verify_code, client="bench"), args.runs),
        "redeem_data_scope_ms": median_ms(lambda: shares.redeem(platform, window, data_code, client="bench"), args.runs),
        "redeem_pdf_scope_with_annotated_copy_ms": median_ms(lambda: shares.redeem(platform, window, pdf_code, client="bench"), args.runs),
        "annotated_copy_download_ms": median_ms(lambda: shares.redemption_copy(platform, window, answer["redemption_id"], client="bench"), args.runs),
        "annotated_copy_verify_ms": median_ms(lambda: check_pdf(platform, copy), args.runs),
        "field_check_with_grant_ms": median_ms(
            lambda: checks.check(platform, window, kind="id_card", holder=holder, claims=claims, purpose="社保卡申领身份核验", grant=verify_code, client="bench"),
            args.runs,
        ),
        "holder_password_hash_scrypt_ms": median_ms(lambda: holders.verify_password("correct horse battery", stored), max(5, args.runs // 3)),
    }
    emit(results, args.json)


if __name__ == "__main__":
    main()
