"""The audit trail as a hash chain (全过程留痕), tampered with directly in the database: an edited,
deleted or reordered event, a truncated tail, and a chain rewritten consistently after a signed
checkpoint are each found by `python cli.py audit verify` (exit 1, naming the first broken event);
an untouched chain is intact (exit 0).

These tests damage the trail, so they run on a platform of their own (own keys, own PDF folder,
own SQLite file or PostgreSQL database), never on the session's; each case restores the trail."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from licence_svc.core.audit import GENESIS, event_hash
from licence_svc.storage.audit import end_stream
from tests.helpers import SAMPLES, cli_in_process, load_sample, scratch_env

TABLES = {
    "auditevent": ("seq", "at", "actor", "action", "licence", "client", "outcome", "detail", "prev_hash", "hash"),
    "audithead": ("id", "seq", "hash"),
    "auditcheckpoint": ("seq", "hash", "at", "signature"),
    "auditintake": ("id", "stream", "stream_seq", "at", "actor", "action", "licence", "client", "outcome", "detail", "prev_hash", "hash"),
    "auditstream": ("id", "seq", "hash", "sealed_seq", "sealed_hash"),
}
ORDER = {"auditevent": "seq", "audithead": "id", "auditcheckpoint": "seq", "auditintake": "id", "auditstream": "id"}


@dataclass
class Trail:
    """A platform of its own: its environment, a CLI runner and raw SQL on its database."""

    env: dict[str, str]
    url: str
    tmp: Path
    identifiers: list[str]
    plain: dict[str, list[tuple[Any, ...]]] | None = None  # the trail without a checkpoint
    checkpointed: dict[str, list[tuple[Any, ...]]] | None = None  # ... and with one at its head

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return cli_in_process(*args, env=self.env)  # `python cli.py ...` on this platform, without a process's start-up

    def connect(self) -> Any:
        if self.url.startswith("sqlite:///"):
            return sqlite3.connect(self.url.removeprefix("sqlite:///"))
        import psycopg2

        return psycopg2.connect(self.url)

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction (``?`` placeholders on either database)."""
        con = self.connect()
        try:
            cur = con.cursor()
            cur.execute(statement if self.url.startswith("sqlite") else statement.replace("?", "%s"), params)
            rows = cur.fetchall() if cur.description else []
            con.commit()
            return rows
        finally:
            con.close()

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {t: self.sql(f"SELECT {', '.join(cols)} FROM {t} ORDER BY {ORDER[t]}") for t, cols in TABLES.items()}

    def restore(self, snap: dict[str, list[tuple[Any, ...]]]) -> None:
        con = self.connect()
        mark = "?" if self.url.startswith("sqlite") else "%s"
        try:
            cur = con.cursor()
            for table, cols in TABLES.items():
                cur.execute(f"DELETE FROM {table}")
                for row in snap[table]:
                    cur.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})", row)
            con.commit()
        finally:
            con.close()
        assert self.snapshot() == snap
        end_stream()  # this process's writer must not link to events the restore removed

    def events(self) -> list[dict[str, Any]]:
        cols = TABLES["auditevent"]
        return [dict(zip(cols, row)) for row in self.sql(f"SELECT {', '.join(cols)} FROM auditevent ORDER BY seq")]

    def rehash_from(self, seq: int) -> None:
        """Recompute every hash from event ``seq`` on, and the head: the chain is consistent again."""
        events = self.events()
        prev = GENESIS
        for event in events:
            if event["seq"] >= seq:
                digest = event_hash(event, prev)
                self.sql("UPDATE auditevent SET prev_hash = ?, hash = ? WHERE seq = ?", prev, digest, event["seq"])
                event["hash"] = digest
            prev = event["hash"]
        self.sql("UPDATE audithead SET seq = ?, hash = ? WHERE id = 1", events[-1]["seq"], prev)

    def verify(self) -> tuple[int, str]:
        proc = self.cli("audit", "verify")
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.returncode, proc.stdout


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trail]:
    """init --demo; issue an id card, change it (变更), suspend the new version, verify its QR:
    five events — issue, change, supersede, suspend, verify."""
    tmp = tmp_path_factory.mktemp("trail")
    with scratch_env(tmp, "audit") as scratch:
        t = Trail(scratch.env, scratch.url, tmp, [])
        steps = [
            ("init", "--demo"),
            ("issue", "--kind", "id_card", "--data", str(SAMPLES / "id_card.json"), "--out", str(tmp / "v1.pdf")),
        ]
        for step in steps:
            proc = t.cli(*step)
            assert proc.returncode == 0, proc.stderr
        first = proc.stdout.splitlines()[-1]
        changed = {**load_sample("id_card"), "address": "北京市东城区景山前街4号院2号楼3单元502室"}
        (tmp / "changed.json").write_text(json.dumps(changed, ensure_ascii=False), encoding="utf-8")
        proc = t.cli("change", first, "--data", str(tmp / "changed.json"), "--out", str(tmp / "v2.pdf"))
        assert proc.returncode == 0, proc.stderr
        second = proc.stdout.splitlines()[-1]
        proc = t.cli("suspend", second, "--reason", "证件遗失")
        assert proc.returncode == 0, proc.stderr
        [(qr,)] = t.sql("SELECT qr_text FROM licence WHERE identifier = ?", second)
        proc = t.cli("verify", "--qr", qr)
        assert proc.returncode == 1 and "verdict: suspended" in proc.stdout, proc.stdout + proc.stderr
        t.identifiers = [first, second]
        assert t.sql("SELECT COUNT(*) FROM auditevent") == [(0,)]  # recorded in the intake, not yet sealed
        assert len(t.sql("SELECT id FROM auditintake")) == 5
        proc = t.cli("audit", "seal")
        assert proc.returncode == 0 and proc.stdout.startswith("sealed 5 events; chain head at event 5"), proc.stdout + proc.stderr
        assert t.sql("SELECT COUNT(*) FROM auditintake") == [(0,)]
        t.plain = t.snapshot()
        proc = t.cli("audit", "checkpoint")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("signed checkpoint at event 5: ")
        t.checkpointed = t.snapshot()
        t.restore(t.plain)
        yield t


@pytest.fixture()
def plain(trail: Trail) -> Iterator[Trail]:
    """The trail without a checkpoint, restored after the test."""
    assert trail.plain is not None
    trail.restore(trail.plain)
    yield trail
    trail.restore(trail.plain)


@pytest.fixture()
def checkpointed(trail: Trail) -> Iterator[Trail]:
    """The trail with a signed checkpoint at its head (event 5), restored after the test."""
    assert trail.checkpointed is not None
    trail.restore(trail.checkpointed)
    yield trail
    trail.restore(trail.plain)  # type: ignore[arg-type]


def broken_at(output: str) -> tuple[int, str]:
    match = re.search(r"^BROKEN at event (\d+): (.+)$", output, re.M)
    assert match, output
    return int(match.group(1)), match.group(2)


# -- what is recorded -------------------------------------------------------------------------


def test_each_step_is_one_event_of_the_chain(plain: Trail) -> None:
    first, second = plain.identifiers
    events = plain.events()
    assert [(e["seq"], e["action"], e["licence"], e["outcome"]) for e in events] == [
        (1, "issue", first, "ok"),
        (2, "change", second, "ok"),
        (3, "supersede", first, "ok"),
        (4, "suspend", second, "ok"),
        (5, "verify", second, "suspended"),
    ]
    assert all(e["actor"].startswith("cli") for e in events)
    assert events[2]["detail"] == f"by {second}"
    assert events[0]["prev_hash"] == GENESIS
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:]))
    assert plain.sql("SELECT seq, hash FROM audithead") == [(5, events[-1]["hash"])]


def test_events_hold_no_personal_data(plain: Trail) -> None:
    sample = load_sample("id_card")
    personal = [sample["name"], sample["id_number"], sample["address"], sample["birth_date"], "3单元502室", sample["photo"][:40]]
    for row in plain.snapshot()["auditevent"]:
        text = json.dumps(row, ensure_ascii=False, default=str)
        assert not [v for v in personal if v in text], row


# -- untouched --------------------------------------------------------------------------------


def test_untouched_chain_is_intact(plain: Trail) -> None:
    code, out = plain.verify()
    assert code == 0, out
    assert "5 events, head at 5, 0 signed checkpoints" in out
    assert out.splitlines()[-1] == "audit trail intact"


def test_untouched_chain_with_a_checkpoint_is_intact(checkpointed: Trail) -> None:
    code, out = checkpointed.verify()
    assert code == 0, out
    assert "5 events, head at 5, 1 signed checkpoints" in out
    assert out.splitlines()[-1] == "audit trail intact"


# -- tampering --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "column, value",
    [("outcome", "forbidden"), ("at", "2020-01-01T00:00:00.000000+00:00")],
)
def test_edited_middle_event(plain: Trail, column: str, value: Any) -> None:
    plain.sql(f"UPDATE auditevent SET {column} = ? WHERE seq = 3", value)
    code, out = plain.verify()
    assert code == 1
    assert broken_at(out) == (3, "event content does not match its hash (edited)")


def test_edited_middle_event_with_its_own_hash_recomputed(plain: Trail) -> None:
    """Re-hashing the edited event alone breaks the next link."""
    plain.sql("UPDATE auditevent SET outcome = 'forbidden' WHERE seq = 3")
    [event] = [e for e in plain.events() if e["seq"] == 3]
    plain.sql("UPDATE auditevent SET hash = ? WHERE seq = 3", event_hash(event, event["prev_hash"]))
    code, out = plain.verify()
    assert code == 1
    assert broken_at(out) == (4, "previous-hash link does not match the event before it")


def test_deleted_middle_event(plain: Trail) -> None:
    plain.sql("DELETE FROM auditevent WHERE seq = 3")
    code, out = plain.verify()
    assert code == 1
    assert broken_at(out) == (4, "sequence jumps from 2 to 4: events missing or reordered")


def test_reordered_events(plain: Trail) -> None:
    plain.sql("UPDATE auditevent SET seq = -2 WHERE seq = 2")
    plain.sql("UPDATE auditevent SET seq = 2 WHERE seq = 3")
    plain.sql("UPDATE auditevent SET seq = 3 WHERE seq = -2")
    assert [e["action"] for e in plain.events()][1:3] == ["supersede", "change"]
    code, out = plain.verify()
    assert code == 1
    assert broken_at(out) == (2, "previous-hash link does not match the event before it")


def test_deleted_last_event_is_caught_by_the_head(plain: Trail) -> None:
    plain.sql("DELETE FROM auditevent WHERE seq = 5")
    code, out = plain.verify()
    assert code == 1
    assert "4 events, head at 5" in out
    assert broken_at(out) == (4, "chain head does not match the last event (events removed from the end)")


def test_all_events_deleted(plain: Trail) -> None:
    plain.sql("DELETE FROM auditevent")
    code, out = plain.verify()
    assert code == 1
    assert broken_at(out) == (1, "events missing: the chain head records more than the trail holds")


def _rewrite_history(t: Trail) -> None:
    """Make the first event another actor's, re-hash everything after it and move the head."""
    t.sql("UPDATE auditevent SET actor = 'cli:somebody-else' WHERE seq = 1")
    t.rehash_from(1)


def _drop_and_renumber(t: Trail) -> None:
    """Delete event 3 and renumber the rest, re-hashed: a gap-free chain of four events."""
    t.sql("DELETE FROM auditevent WHERE seq = 3")
    t.sql("UPDATE auditevent SET seq = 3 WHERE seq = 4")
    t.sql("UPDATE auditevent SET seq = 4 WHERE seq = 5")
    t.rehash_from(3)


def _truncate_tail(t: Trail) -> None:
    """Delete the last event and roll the head back to the one before: the head cannot tell."""
    t.sql("DELETE FROM auditevent WHERE seq = 5")
    [(digest,)] = t.sql("SELECT hash FROM auditevent WHERE seq = 4")
    t.sql("UPDATE audithead SET seq = 4, hash = ? WHERE id = 1", digest)


def _rewrite_checkpoint_row_too(t: Trail) -> None:
    """Rewrite the chain and the checkpoint row's hash; the signature still holds the old head."""
    _rewrite_history(t)
    [(digest,)] = t.sql("SELECT hash FROM auditevent WHERE seq = 5")
    t.sql("UPDATE auditcheckpoint SET hash = ? WHERE seq = 5", digest)


@pytest.mark.parametrize(
    "rewrite, reason",
    [
        (_rewrite_history, "chain differs from the signed checkpoint (rewritten)"),
        (_drop_and_renumber, "chain differs from the signed checkpoint (rewritten)"),
        (_truncate_tail, "chain differs from the signed checkpoint (rewritten)"),
        (_rewrite_checkpoint_row_too, "checkpoint row differs from what was signed"),
    ],
    ids=["edit-and-rehash", "delete-and-renumber", "truncate-and-move-head", "checkpoint-row-too"],
)
def test_consistent_rewrite_is_caught_by_the_signed_checkpoint(checkpointed: Trail, rewrite: Callable[[Trail], None], reason: str) -> None:
    rewrite(checkpointed)
    events = checkpointed.events()
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:]))  # the chain itself is consistent
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    code, out = checkpointed.verify()
    assert code == 1, out
    assert broken_at(out) == (5, reason)


# -- events recorded and not yet sealed -------------------------------------------------------


@pytest.fixture()
def pending(trail: Trail) -> Iterator[Trail]:
    """The sealed trail, then three checks of the second licence recorded in one stream and not
    yet sealed; restored after the test."""
    assert trail.plain is not None
    trail.restore(trail.plain)
    [(qr,)] = trail.sql("SELECT qr_text FROM licence WHERE identifier = ?", trail.identifiers[1])
    for _ in range(3):
        assert trail.cli("verify", "--qr", qr).returncode == 1  # suspended
    yield trail
    trail.restore(trail.plain)


def intake(t: Trail) -> list[dict[str, Any]]:
    cols = TABLES["auditintake"]
    return [dict(zip(cols, row)) for row in t.sql(f"SELECT {', '.join(cols)} FROM auditintake ORDER BY stream_seq")]


def stream_broken_at(output: str) -> tuple[str, str, str]:
    match = re.search(r"^BROKEN at stream (\w+) event (\w+): (.+)$", output, re.M)
    assert match, output
    return match.group(1), match.group(2), match.group(3)


def test_unsealed_events_are_checked_and_intact(pending: Trail) -> None:
    rows = intake(pending)
    assert [(r["stream_seq"], r["action"], r["outcome"]) for r in rows] == [(n, "verify", "suspended") for n in (1, 2, 3)]
    assert len({r["stream"] for r in rows}) == 1
    code, out = pending.verify()
    assert code == 0, out
    assert "5 events, head at 5" in out and "3 events recorded and not yet sealed, in 1 streams" in out


def test_edited_unsealed_event(pending: Trail) -> None:
    pending.sql("UPDATE auditintake SET outcome = 'valid' WHERE stream_seq = 2")
    code, out = pending.verify()
    assert code == 1
    stream = intake(pending)[0]["stream"]
    assert stream_broken_at(out) == (stream, "2", "event content does not match its hash (edited)")


def test_deleted_unsealed_event(pending: Trail) -> None:
    pending.sql("DELETE FROM auditintake WHERE stream_seq = 2")
    code, out = pending.verify()
    assert code == 1
    assert stream_broken_at(out)[1:] == ("3", "stream sequence jumps from 1 to 3: events missing or reordered")


def test_deleted_last_unsealed_event_is_caught_by_the_stream_head(pending: Trail) -> None:
    pending.sql("DELETE FROM auditintake WHERE stream_seq = 3")
    code, out = pending.verify()
    assert code == 1
    assert stream_broken_at(out)[2] == "stream head does not match its last event (events deleted, or the head rewritten)"


def test_reordered_unsealed_events(pending: Trail) -> None:
    pending.sql("UPDATE auditintake SET stream_seq = -1 WHERE stream_seq = 1")
    pending.sql("UPDATE auditintake SET stream_seq = 1 WHERE stream_seq = 2")
    pending.sql("UPDATE auditintake SET stream_seq = 2 WHERE stream_seq = -1")
    code, out = pending.verify()
    assert code == 1
    assert stream_broken_at(out)[1:] == ("1", "previous-hash link does not match the event before it")


def test_unsealed_events_without_their_stream_head(pending: Trail) -> None:
    pending.sql("DELETE FROM auditstream")
    code, out = pending.verify()
    assert code == 1
    assert stream_broken_at(out)[2] == "events of a stream with no recorded head"


def test_the_sealer_never_seals_over_a_broken_link(pending: Trail) -> None:
    """An edited event stops its stream: the events before it are sealed, it and those after stay
    in the intake, and `audit verify` keeps naming it."""
    pending.sql("UPDATE auditintake SET outcome = 'valid' WHERE stream_seq = 2")
    proc = pending.cli("audit", "seal")
    assert proc.returncode == 0 and proc.stdout.startswith("sealed 1 events; chain head at event 6"), proc.stdout
    assert [r["stream_seq"] for r in intake(pending)] == [2, 3]
    assert [e["outcome"] for e in pending.events()][-1] == "suspended"
    code, out = pending.verify()
    assert code == 1 and "6 events, head at 6" in out
    assert stream_broken_at(out)[1:] == ("2", "event content does not match its hash (edited)")


def test_sealing_moves_every_event_once_and_the_trail_stays_intact(pending: Trail) -> None:
    before = intake(pending)
    proc = pending.cli("audit", "seal")
    assert proc.returncode == 0 and proc.stdout.startswith("sealed 3 events; chain head at event 8"), proc.stdout
    assert intake(pending) == []
    sealed = pending.events()[5:]
    assert [(e["seq"], e["at"], e["outcome"]) for e in sealed] == [(6 + n, r["at"], r["outcome"]) for n, r in enumerate(before)]
    assert pending.sql("SELECT seq, sealed_seq FROM auditstream WHERE id = ?", before[0]["stream"]) == [(3, 3)]
    code, out = pending.verify()
    assert code == 0, out
    assert "8 events, head at 8" in out and "0 events recorded and not yet sealed" in out
