"""Shared fixtures: one platform per test session (keys, database, demo departments), on SQLite
by default or on PostgreSQL when DATABASE_URL is set."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.helpers import ROOT, SAMPLES, cli_in_process, cli_subprocess, load_sample  # noqa: F401  (ROOT, SAMPLES: re-exported)

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")

os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", "/tmp/licence-hypothesis")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The random order's seed again at the end, where a failure is read (pytest-randomly prints it
    only in the header, which -q hides): ``pytest --randomly-seed=N`` repeats the order."""
    seed = getattr(config.option, "randomly_seed", None)
    if seed is not None and config.pluginmanager.hasplugin("randomly"):
        terminalreporter.write_line(f"Using --randomly-seed={seed}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test marked ``summary`` checks what the other tests of its module saw (the statuses the
    OpenAPI contract recorded, say): in any order pytest-randomly draws, it runs after them."""
    last = {id(item) for item in items if item.get_closest_marker("summary")}
    if not last:
        return
    order = {id(item): n for n, item in enumerate(items)}
    module_end: dict[str, int] = {}
    for n, item in enumerate(items):
        module_end[item.nodeid.split("::")[0]] = n
    # a summary test sorts just after the last test of its module; everything else keeps its place
    items.sort(key=lambda item: (module_end[item.nodeid.split("::")[0]] + 0.5) if id(item) in last else order[id(item)])


@pytest.fixture()
def sample() -> Callable[[str], dict[str, Any]]:
    """A fresh, valid record of a kind (check digits right), safe to modify."""
    return load_sample


def _worker_database_url(url: str) -> str:
    """The session's database: under pytest-xdist on PostgreSQL, one per worker (``<name>_gw0`` ...),
    created afresh next to the one DATABASE_URL names; SQLite files are per worker already (each
    worker has its own temporary directory)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or not url.startswith("postgres"):
        return url
    import psycopg2  # type: ignore[import-untyped]

    name = f"{urlsplit(url).path.lstrip('/')}_{worker}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:  # not `with admin`: psycopg2 would open a transaction block
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def platform_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment of the session's platform: its own keys and PDF folders, and a clean database."""
    base = tmp_path_factory.mktemp("platform")
    env = {
        "LICENCE_DATA_DIR": str(base / "var"),
        "LICENCE_KEYS_DIR": str(base / "keys"),
        "LICENCE_BASE_URL": "http://127.0.0.1:8000",
        # no sealer threads in the test process: a test seals when it means to (services.audit.seal_all)
        "LICENCE_BACKGROUND_SEALER": "0",
    }
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = _worker_database_url(os.environ["DATABASE_URL"])
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from licence_svc.services.platform import Platform
    from licence_svc.storage import migrations

    Platform.open()
    migrations.drop_schema()  # PostgreSQL keeps tables between runs; start from nothing
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
    """kind → code of the demo department that may issue it (only the demo departments `init --demo`
    made: departments tests add for themselves may issue the same kinds)."""
    from licence_svc.services.setup import list_departments

    out: dict[str, str] = {}
    for row in list_departments():
        if row["code"] not in platform.demo_tokens:
            continue
        for kind in cast("list[str]", row["kinds"]):
            out[kind] = str(row["code"])
    return out


@pytest.fixture(scope="session")
def issued_samples(platform: Any, departments: dict[str, str]) -> dict[str, Any]:
    """One licence of each kind, issued once for the session from the samples."""
    from licence_svc.services.issuing import issue

    return {k: issue(platform, kind=k, data=load_sample(k), department=departments[k]) for k in KINDS}


@pytest.fixture(scope="session")
def run_cli(platform_env: dict[str, str], platform: Any) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``cli.py ...`` in this process (click's CliRunner) against the session's platform: exit
    code, stdout and stderr as the real command gives them (``env`` adds to its environment). Usable
    from module-scoped fixtures too; ``timeout`` is accepted for the subprocess variant's callers.
    Not thread-safe (the runner swaps sys.stdout and os.environ): call it from one thread."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = cli_in_process(*args, env={**platform_env, **(env or {})})
        if check and proc.returncode != 0:
            raise AssertionError(f"cli {args} exited {proc.returncode}: {proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="session")
def run_cli_subprocess(platform_env: dict[str, str], platform: Any) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real ``python cli.py ...`` in a subprocess against the session's platform (``env`` adds
    to its environment): for what only a process shows, its exit status and a kill -9. Thread-safe."""

    def run(*args: str, env: dict[str, str] | None = None, check: bool = False, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        proc = cli_subprocess(*args, env={**platform_env, **(env or {})}, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"cli {args} exited {proc.returncode}: {proc.stderr}")
        return proc

    return run
