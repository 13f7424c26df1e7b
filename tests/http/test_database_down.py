"""Black box: with the register's database unreachable, issuing answers 503 problem+json and
verification never answers "valid" (it answers 503 too); when the database is back, both work again.

How "down" is simulated without touching the session's database: a platform of its own (keys, PDF
folder and database, initialised with the demo departments in a subprocess) is served by a real
gunicorn (create_app needs the database at start), used once to issue and verify a licence, and
then its database is made unreachable under the running server:

* SQLite: the database file (with its -wal/-shm) is moved away and a directory is put at its path,
  so opening it fails ("unable to open database file"); moving it back restores it.
* PostgreSQL: the platform has its own database ``licence_down_<random>`` on the session's server;
  ``ALTER DATABASE ... ALLOW_CONNECTIONS false`` and ``pg_terminate_backend`` on its sessions make
  every (re)connection fail; ``ALLOW_CONNECTIONS true`` restores it. The database is dropped at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import scratch_env
from tests.http.live_server import ROOT, Answer, call, live_server

INIT = r"""
import json
from licence_svc.services.platform import Platform
from licence_svc.services.setup import initialise, list_departments

result = initialise(Platform.open(create_schema=True), demo=True)
kinds = {kind: row["code"] for row in list_departments() for kind in row["kinds"]}
print(json.dumps({"tokens": result.demo_tokens, "departments": kinds}))
"""


@dataclass
class DownPlatform:
    env: dict[str, str]
    tokens: dict[str, str]
    departments: dict[str, str]
    sqlite_file: Path | None  # SQLite: the database file
    pg_admin_url: str | None  # PostgreSQL: a database on the same server to run ALTER DATABASE from
    pg_name: str | None


def _pg(url: str) -> Any:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="module")
def down_platform(platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[DownPlatform]:
    with scratch_env(tmp_path_factory.mktemp("down"), "licence_down") as scratch:
        proc = subprocess.run([sys.executable, "-c", INIT], cwd=ROOT, env=scratch.env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        made = json.loads(proc.stdout.strip().splitlines()[-1])
        yield DownPlatform(scratch.env, made["tokens"], made["departments"], scratch.sqlite_file, scratch.pg_admin_url, scratch.pg_name)


@contextmanager
def unreachable(down: DownPlatform) -> Iterator[None]:
    """The platform's database cannot be opened inside the block; it is back, unchanged, after it."""
    if down.sqlite_file is not None:
        path = down.sqlite_file
        moved = [(p, p.with_name(p.name + ".away")) for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")) if p.exists()]
        for src, dst in moved:
            src.rename(dst)
        path.mkdir()
        try:
            yield
        finally:
            path.rmdir()
            for src, dst in moved:
                dst.rename(src)
        return
    assert down.pg_admin_url and down.pg_name
    conn = _pg(down.pg_admin_url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{down.pg_name}" ALLOW_CONNECTIONS false')
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (down.pg_name,))
        yield
    finally:
        with conn.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{down.pg_name}" ALLOW_CONNECTIONS true')
        conn.close()


def assert_unavailable(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.body[:500])
    assert answer.content_type == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 503 and problem["type"].endswith("/unavailable"), problem
    assert answer.headers.get("retry-after")


def test_database_down_means_503_never_valid(down_platform: DownPlatform, sample: Any) -> None:
    kind = "id_card"
    token = down_platform.tokens[down_platform.departments[kind]]
    with live_server(down_platform.env, workers=2) as origin:
        def issue() -> Answer:
            return call("POST", origin + "/api/v1/licences", token=token, json={"kind": kind, "data": sample(kind)})

        def verify_qr(text: str) -> Answer:
            return call("POST", origin + "/api/v1/verify", json={"qr": text})

        def verify_pdf(pdf: bytes) -> Answer:
            return call("POST", origin + "/api/v1/verify", files={"file": ("licence.pdf", pdf, "application/pdf")})

        # Up: the licence is issued and verifies as valid, by QR and by PDF.
        first = issue()
        assert first.status == 201, first.body[:500]
        licence = first.json()
        pdf = call("GET", licence["pdf_url"], token=token).body
        assert pdf.startswith(b"%PDF-")
        assert verify_qr(licence["qr_text"]).json()["verdict"] == "valid"
        assert verify_pdf(pdf).json()["verdict"] == "valid"

        # Down: every answer, from either worker, is 503 problem+json; nothing says valid.
        with unreachable(down_platform):
            for _ in range(3):
                assert_unavailable(issue())
                for answer in (verify_qr(licence["qr_text"]), verify_pdf(pdf)):
                    assert_unavailable(answer)
                    assert b"valid" not in answer.body  # no verdict, not even a partial report
                assert_unavailable(call("GET", f"{origin}/api/v1/licences/{licence['identifier']}", token=token))

        # Back: the same server reconnects; the licence is still valid and issuing works again.
        report = verify_qr(licence["qr_text"])
        assert report.status == 200 and report.json()["verdict"] == "valid", report.body[:500]
        again = issue()
        assert again.status == 201, again.body[:500]
        assert again.json()["identifier"] != licence["identifier"]
