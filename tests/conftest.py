"""Shared fixtures: one platform per test session (keys, database, demo departments), on SQLite
by default or on PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers import ROOT, SAMPLES, load_sample  # noqa: F401  (SAMPLES: re-exported)

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")

os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", "/tmp/licence-hypothesis")


@pytest.fixture()
def sample() -> Callable[[str], dict[str, Any]]:
    """A fresh, valid record of a kind (check digits right), safe to modify."""
    return load_sample


@pytest.fixture(scope="session")
def platform_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of the session's platform: its own keys and PDF folders, and a clean database."""
    base = tmp_path_factory.mktemp("platform")
    env = {
        "LICENCE_DATA_DIR": str(base / "var"),
        "LICENCE_KEYS_DIR": str(base / "keys"),
        "LICENCE_BASE_URL": "http://127.0.0.1:8000",
    }
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from licence_svc.services.platform import Platform
    from licence_svc.storage import db

    Platform.open()
    db.drop_schema()  # PostgreSQL keeps tables between runs; start from nothing
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def platform(platform_env: dict[str, str]) -> Any:
    """The initialised platform with the three demo departments."""
    from licence_svc.services.platform import Platform
    from licence_svc.services.setup import initialise

    p = Platform.open(create_schema=True)
    result = initialise(p, demo=True)
    p.demo_tokens = result.demo_tokens  # type: ignore[attr-defined]
    return p


@pytest.fixture(scope="session")
def departments(platform: Any) -> dict[str, str]:
    """kind → code of the demo department that may issue it."""
    from licence_svc.services.setup import list_departments

    out: dict[str, str] = {}
    for row in list_departments():
        for kind in row["kinds"]:  # type: ignore[union-attr]
            out[kind] = row["code"]  # type: ignore[assignment]
    return out


@pytest.fixture(scope="session")
def issued_samples(platform: Any, departments: dict[str, str]) -> dict[str, Any]:
    """One licence of each kind, issued once for the session from the samples."""
    from licence_svc.services.issuing import issue

    return {k: issue(platform, kind=k, data=load_sample(k), department=departments[k]) for k in KINDS}


@pytest.fixture(scope="session")
def run_cli(platform_env: dict[str, str], platform: Any) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `python cli.py ...` in a subprocess against the session's platform (``env`` adds
    to its environment); usable from module-scoped fixtures too."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **platform_env, **(env or {})}
        proc = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), *args],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=ROOT,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"cli {args} exited {proc.returncode}: {proc.stderr}")
        return proc

    return run
