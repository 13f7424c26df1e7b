"""The real entry point in a process of its own, `python cli.py ...`: every documented exit code
once, with the same answer as the in-process runner every other CLI test uses (what only a real
process shows, its exit status, is checked here; kill -9 is in tests/services/test_issuing_crash.py and
tests/services/test_bulk.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from licence_svc.cli import __doc__ as CLI_DOC
from tests.helpers import SAMPLES, load_sample

Run = Callable[..., subprocess.CompletedProcess[str]]
UNREACHABLE_DATABASE = "postgresql://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    says: str  # in stdout (exit 0, 1, 8) or stderr (the others)
    env: dict[str, str] | None = None


@pytest.fixture(scope="module")
def cases(platform: Any, departments: dict[str, str]) -> dict[str, Case]:
    """One command per exit code, against two licences of this module: one valid, one revoked."""
    from licence_svc.services import lifecycle
    from licence_svc.services.issuing import issue

    valid = issue(platform, kind="id_card", data=load_sample("id_card"), department=departments["id_card"])
    revoked = issue(platform, kind="id_card", data=load_sample("id_card"), department=departments["id_card"])
    lifecycle.revoke(revoked.identifier, reason="测试", actor="test")
    unknown = valid.identifier.rsplit(".", 2)[0] + ".00999"
    return {
        "0-success": Case(("export-root",), 0, "-----BEGIN CERTIFICATE-----"),
        "1-not-valid": Case(("verify", "--qr", revoked.qr_text), 1, "verdict: revoked"),
        "2-invalid-input": Case(("verify",), 2, "  evidence: give either a PDF file or --qr TEXT"),
        "3-not-authorised": Case(
            ("issue", "--kind", "id_card", "--data", str(SAMPLES / "id_card.json"), "--department", departments["degree_certificate"], "--out", "/nonexistent/x.pdf"),
            3,
            "not authorised",
        ),
        "4-not-found": Case(("claim-codes", unknown), 4, f"no licence {unknown}"),
        "5-conflict": Case(("revoke", revoked.identifier, "--reason", "again"), 5, "licence is revoked"),
        "6-misconfigured": Case(("departments",), 6, "LICENCE_CHECK_RATE_PER_MINUTE", {"LICENCE_CHECK_RATE_PER_MINUTE": "lots"}),
        "7-unavailable": Case(("verify", "--qr", valid.qr_text), 7, "the register is unavailable", {"DATABASE_URL": UNREACHABLE_DATABASE}),
        "8-unchecked": Case(("verify", "--offline", "--qr", valid.qr_text), 8, "verdict: unchecked"),
    }


@pytest.fixture(scope="module")
def real(cases: dict[str, Case], run_cli_subprocess: Run) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case through `python cli.py`, side by side (a process's start-up dominates its cost)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        procs = pool.map(lambda c: run_cli_subprocess(*c.args, env=c.env), cases.values())
        return dict(zip(cases, procs))


def test_every_documented_exit_code_is_covered(cases: dict[str, Case]) -> None:
    documented = {0, 1, 2, 3, 4, 5, 6, 7, 8}
    assert all(f"{code} " in (CLI_DOC or "") for code in documented)
    assert {c.code for c in cases.values()} == documented


@pytest.mark.parametrize(
    "case",
    ["0-success", "1-not-valid", "2-invalid-input", "3-not-authorised", "4-not-found", "5-conflict", "6-misconfigured", "7-unavailable", "8-unchecked"],
)
def test_exit_code_of_the_real_process(case: str, cases: dict[str, Case], real: dict[str, subprocess.CompletedProcess[str]], run_cli: Run) -> None:
    expected, proc = cases[case], real[case]
    assert proc.returncode == expected.code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert expected.says in (proc.stdout if expected.code in (0, 1, 8) else proc.stderr), proc.stdout + proc.stderr
    # the in-process runner gives the same answer
    inside = run_cli(*expected.args, env=expected.env)
    assert inside.returncode == proc.returncode
    assert inside.stderr == proc.stderr
    assert inside.stdout.splitlines()[:1] == proc.stdout.splitlines()[:1]
