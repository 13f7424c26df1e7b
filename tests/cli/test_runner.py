"""The in-process CLI runner the CLI tests use (tests/helpers.cli_in_process) leaves nothing behind:
not the environment it ran with, not the database the command opened, not the logging it set up."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers import cli_in_process

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_environment_is_the_commands_for_the_call_only(run_cli: Run, platform_env: dict[str, str]) -> None:
    before = dict(os.environ)
    proc = run_cli("departments", env={"LICENCE_CHECK_RATE_PER_MINUTE": "lots"})
    assert proc.returncode == 6, proc.stderr  # it saw the variable ...
    assert dict(os.environ) == before  # ... which is gone again
    assert run_cli("departments").returncode == 0


def test_a_stray_licence_variable_does_not_reach_the_command(run_cli: Run, monkeypatch: Any) -> None:
    """A LICENCE_* a test left in os.environ is not the command's: it runs with its own env only."""
    monkeypatch.setenv("LICENCE_CHECK_RATE_PER_MINUTE", "lots")
    assert run_cli("departments").returncode == 0


def test_the_session_database_stays_bound(platform: Any, tmp_path: Path, departments: dict[str, str]) -> None:
    from licence_svc.services.setup import list_departments
    from licence_svc.storage import db

    bound = db.database.obj
    env = {
        "LICENCE_DATA_DIR": str(tmp_path / "var"),
        "LICENCE_KEYS_DIR": str(tmp_path / "keys"),
        "LICENCE_BASE_URL": "http://127.0.0.1:8000",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'other.db'}",
    }
    proc = cli_in_process("init", env=env)  # another platform, another database
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "var" / "other.db").exists()
    assert db.database.obj is bound
    assert set(departments.values()) <= {row["code"] for row in list_departments()}  # still the session's


def test_logging_is_put_back(run_cli: Run) -> None:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    pyhanko = logging.getLogger("pyhanko").level
    assert run_cli("-v", "export-root").returncode == 0
    assert run_cli("export-root").returncode == 0  # quietens pyhanko
    assert (list(root.handlers), root.level, logging.getLogger("pyhanko").level) == (handlers, level, pyhanko)


def test_an_uncaught_exception_is_exit_1_with_its_traceback_on_stderr(run_cli: Run, monkeypatch: Any) -> None:
    """As the interpreter does for a real process: the CLI tests look for "Traceback" in stderr."""
    from licence_svc.services import setup

    def broken() -> list[dict[str, object]]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(setup, "list_departments", broken)
    proc = run_cli("departments")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "RuntimeError: a bug" in proc.stderr


def test_usage_errors_name_the_program_as_the_real_process_does(run_cli: Run) -> None:
    proc = run_cli("no-such-command")
    assert proc.returncode == 2
    assert proc.stderr.startswith("Usage: cli.py ") and "No such command 'no-such-command'" in proc.stderr
