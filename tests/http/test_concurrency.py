"""Black box under load: a real gunicorn with 4 workers, 50 departments' systems issuing at once,
and a client retrying one request concurrently with the same Idempotency-Key.

Runs on the session's database: SQLite (WAL, BEGIN IMMEDIATE for writers, 10 s busy timeout) by
default, PostgreSQL when DATABASE_URL is set.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from licence_svc.core.identifiers import parse_licence_id
from licence_svc.services.audit import seal_all
from licence_svc.storage.models import AuditEvent, IdempotencyKey, Licence
from tests.http.live_server import Answer, call, live_server

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")
REQUESTS = 50
THREADS = 50
RETRIES = 10


@pytest.fixture(scope="module")
def server(platform: Any, platform_env: dict[str, str]) -> Iterator[str]:
    with live_server(platform_env, workers=4) as origin:
        yield origin


def pdf_files(platform: Any) -> set[Path]:
    return set(Path(platform.settings.pdf_dir).rglob("*.pdf"))


def fire(n: int, send: Callable[[int], Answer]) -> list[Answer]:
    """``n`` requests from ``n`` threads, released together by a barrier."""
    barrier = threading.Barrier(n)

    def one(i: int) -> Answer:
        barrier.wait()
        return send(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_fifty_concurrent_issues_are_fifty_licences(
    server: str, platform: Any, run_cli: Callable[..., Any], departments: dict[str, str], sample: Callable[[str], dict[str, Any]]
) -> None:
    rows_before = Licence.select().count()
    files_before = pdf_files(platform)

    def send(i: int) -> Answer:
        kind = KINDS[i % len(KINDS)]
        token = platform.demo_tokens[departments[kind]]
        return call("POST", server + "/api/v1/licences", token=token, json={"kind": kind, "data": sample(kind)}, timeout=120)

    started = time.monotonic()
    answers = fire(REQUESTS, send)
    elapsed = time.monotonic() - started
    statuses = Counter(a.status for a in answers)
    assert statuses == {201: REQUESTS}, (
        f"{dict(statuses)} in {elapsed:.1f} s on {platform.settings.database_url.split(':')[0]}; "
        f"first failure: {next((a.body[:500] for a in answers if a.status != 201), b'')!r}"
    )
    idents = [a.json()["identifier"] for a in answers]
    assert len(set(idents)) == REQUESTS
    for ident in idents:
        assert parse_licence_id(ident).version == 1

    # 50 rows, exactly these, each with its own status list position and its stored PDF.
    assert Licence.select().count() == rows_before + REQUESTS
    rows = list(Licence.select().where(Licence.identifier.in_(idents)))
    assert len(rows) == REQUESTS
    assert all(r.status == "valid" for r in rows)
    positions = Counter((r.issuer_id, r.status_index) for r in Licence.select(Licence.issuer, Licence.status_index))
    assert max(positions.values()) == 1
    new_files = pdf_files(platform) - files_before
    assert {p.name for p in new_files} == {f"{i}.pdf" for i in idents}

    # One "issue" event each, one chain for all four workers once sealed.
    seal_all()
    issue_events = Counter(
        e.licence for e in AuditEvent.select().where((AuditEvent.licence.in_(idents)) & (AuditEvent.action == "issue"))
    )
    assert issue_events == Counter(idents)
    proc = run_cli("audit", "verify")
    assert proc.returncode == 0 and "audit trail intact" in proc.stdout, proc.stdout + proc.stderr


def test_concurrent_retries_with_one_idempotency_key_mint_one_licence(
    server: str, platform: Any, run_cli: Callable[..., Any], departments: dict[str, str], sample: Callable[[str], dict[str, Any]]
) -> None:
    kind = "driving_licence"
    dept = departments[kind]
    token = platform.demo_tokens[dept]
    key = f"retry-{os.getpid()}-{time.time_ns()}"
    body = {"kind": kind, "data": sample(kind)}
    rows_before = Licence.select().count()
    files_before = pdf_files(platform)

    answers = fire(
        RETRIES,
        lambda _i: call("POST", server + "/api/v1/licences", token=token, json=body, headers={"Idempotency-Key": key}, timeout=120),
    )

    assert [a.status for a in answers] == [201] * RETRIES, [a.body[:300] for a in answers if a.status != 201]
    idents = {a.json()["identifier"] for a in answers}
    assert len(idents) == 1
    (ident,) = idents
    assert {a.json()["qr_text"] for a in answers} == {answers[0].json()["qr_text"]}
    assert sum(a.headers.get("idempotent-replayed") != "true" for a in answers) == 1  # one minted, the rest replayed

    assert Licence.select().count() == rows_before + 1
    assert IdempotencyKey.select().where((IdempotencyKey.department == dept) & (IdempotencyKey.key == key)).count() == 1
    seal_all()
    assert AuditEvent.select().where((AuditEvent.licence == ident) & (AuditEvent.action == "issue")).count() == 1
    # the losers of the race removed their PDFs: only the winner's is stored
    assert {p.name for p in pdf_files(platform) - files_before} == {f"{ident}.pdf"}

    # A later retry still answers with the same licence; another body under the key is refused.
    again = call("POST", server + "/api/v1/licences", token=token, json=body, headers={"Idempotency-Key": key})
    assert again.status == 201 and again.json()["identifier"] == ident and again.headers.get("idempotent-replayed") == "true"
    other = {"kind": kind, "data": {**sample(kind), "address": "广东省深圳市福田区福华一路6号"}}
    clash = call("POST", server + "/api/v1/licences", token=token, json=other, headers={"Idempotency-Key": key})
    assert clash.status == 409 and clash.content_type == "application/problem+json"

    proc = run_cli("audit", "verify")
    assert proc.returncode == 0 and "audit trail intact" in proc.stdout, proc.stdout + proc.stderr
