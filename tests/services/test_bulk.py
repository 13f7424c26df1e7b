"""Bulk conversion of paper stock (存量证照电子制证) through the real `python cli.py import`.

* CSV with and without a BOM, JSON Lines, and household registers with the members as a JSON
  column each import, with the right data, and what they issue verifies as valid;
* rejected rows (bad check digit, impossible date, missing record number, a line that is not
  JSON) go to the error report with row, field and reason, the good rows after them are issued,
  the summary counts them all and the exit code is 1;
* progress is plain ``import:`` lines with a rate when stderr is not a terminal, a bar on a pty
  (drawn by the CLI: the service only reports it through ``on_progress``, tested in-process);
* rerunning a file issues nothing new; the same natural key with other data is rejected;
* kill -9 of the whole process group (the CLI and its workers) at a random moment, then a rerun:
  what was missing is issued, nothing is duplicated, nothing is lost. This runs on a platform of
  its own (own keys, PDF folder and database), so the kill cannot disturb the session's;
* natural keys (the reader alone): the holder id as validation normalises it; a data field as
  the key column stays in the data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pty
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from licence_svc.core.checkdigits import id_number_check_char
from licence_svc.services.verifying import check_pdf, check_qr
from licence_svc.storage.models import IdempotencyKey, Licence
from tests.helpers import ROOT, load_sample, scratch_env

WORKERS = "2"
SUMMARY = re.compile(r"issued (\d+), skipped as already issued (\d+), rejected (\d+) in [\d.]+s \([\d.]+ rows/s\)")
PLAIN_PROGRESS = re.compile(r"^import: (\d+)/(\d+) issued \d+ skipped \d+ rejected \d+ · [\d.]+/s · ETA \d+s$", re.M)


# -- stock: distinct, valid records as a department exports them -----------------------------


def id_number(area: int, birth: date, seq: int) -> str:
    """A valid citizen identity number (GB 11643): area, birth date, sequence, check character."""
    first17 = f"{area:06d}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_number_check_char(first17)


def id_card_rows(n: int, *, area: int, tag: str) -> list[dict[str, Any]]:
    """``n`` distinct valid id_card records (no photo) with record numbers ``tag-00001``...; every
    test uses its own ``area`` so holders never meet another test's."""
    base = load_sample("id_card")
    base.pop("photo")
    names = "张王李赵刘陈杨黄周吴"
    rows = []
    for i in range(n):
        birth = date(1950, 1, 1) + timedelta(days=173 * i + 11)
        rows.append(
            dict(
                base,
                name=names[i % 10] + names[(i // 10) % 10] + "明",
                birth_date=birth.isoformat(),
                id_number=id_number(area, birth, 2 * (i % 400) + 1),  # odd sequence digit: 男, as the sample
                address=f"北京市东城区景山前街{i + 1}号",
                record_number=f"{tag}-{i + 1:05d}",
            )
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], *, bom: bool) -> Path:
    fields = list(rows[0])
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(fields)
        for row in rows:
            writer.writerow(["" if row.get(f) is None else (json.dumps(row[f], ensure_ascii=False) if isinstance(row[f], list) else row[f]) for f in fields])
    return path


def write_jsonl(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for line in lines:
            fh.write((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n")
    return path


def summary_of(proc: subprocess.CompletedProcess[str]) -> tuple[int, int, int]:
    """(issued, skipped, rejected) from the CLI's last summary line."""
    match = SUMMARY.search(proc.stdout)
    assert match, f"no summary in stdout={proc.stdout!r} stderr={proc.stderr!r}"
    return int(match[1]), int(match[2]), int(match[3])


def error_report(path: Path) -> list[tuple[int, str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        assert next(reader) == ["row", "field", "reason"]
        return [(int(r[0]), r[1], r[2]) for r in reader]


def licences_of(holder: str) -> list[Licence]:
    return list(Licence.select().where(Licence.holder == holder))


def assert_issued_once(rows: list[dict[str, Any]], kind: str = "id_card") -> list[Licence]:
    """Exactly one licence per row's holder, of ``kind``, carrying the row's data."""
    out = []
    for row in rows:
        holder = row["id_number"] if kind == "id_card" else row["members"][0]["id_number"]
        found = licences_of(holder)
        assert len(found) == 1, f"{holder}: {len(found)} licences"
        licence = found[0]
        assert licence.kind == kind and licence.status == "valid"
        data = json.loads(licence.data_json)
        expected = {k: v for k, v in row.items() if k != "record_number"}
        for field, value in expected.items():
            assert data[field] == value, f"{holder} {field}: {data[field]!r} != {value!r}"
        out.append(licence)
    return out


@pytest.fixture()
def import_file(run_cli: Callable[..., subprocess.CompletedProcess[str]], departments: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``import_file(path, kind, *extra)`` → the finished `cli.py import` subprocess."""

    def run(path: Path, kind: str = "id_card", *extra: str) -> subprocess.CompletedProcess[str]:
        proc = run_cli("import", str(path), "--kind", kind, "--department", departments[kind], "--workers", WORKERS, *extra)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    return run


# -- CSV with a BOM, three bad rows in the middle --------------------------------------------


@dataclass
class Imported:
    path: Path
    good: list[dict[str, Any]]
    proc: subprocess.CompletedProcess[str]


BAD_AT = {4: "check digit", 7: "impossible date", 10: "missing record_number"}  # 1-based data rows


@pytest.fixture(scope="module")
def bom_import(tmp_path_factory: pytest.TempPathFactory, run_cli: Callable[..., subprocess.CompletedProcess[str]], departments: dict[str, str]) -> Imported:
    """A UTF-8 CSV with a BOM: 12 good rows, bad rows at data rows 4, 7 and 10, imported once."""
    good = id_card_rows(12, area=320101, tag="BOM")
    bad_source = id_card_rows(3, area=320109, tag="BOMBAD")
    bad = {
        4: dict(bad_source[0], id_number=bad_source[0]["id_number"][:17] + ("0" if bad_source[0]["id_number"][17] != "0" else "1")),
        7: dict(bad_source[1], valid_from="2021-02-30"),
        10: dict(bad_source[2], record_number=""),
    }
    rows, it = [], iter(good)
    for number in range(1, len(good) + len(bad) + 1):
        rows.append(bad[number] if number in bad else next(it))
    path = write_csv(tmp_path_factory.mktemp("bom") / "stock-bom.csv", rows, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    proc = run_cli("import", str(path), "--kind", "id_card", "--department", departments["id_card"], "--workers", WORKERS, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Imported(path, good, proc)


def test_csv_with_bom_issues_every_good_row_with_its_data(bom_import: Imported, platform: Any) -> None:
    issued = assert_issued_once(bom_import.good)
    report = check_pdf(platform, platform.pdfs.get(issued[-1].pdf_key))
    assert report.verdict == "valid", report.reasons
    assert report.licence is not None


def test_rejected_rows_go_to_the_report_and_never_stop_the_run(bom_import: Imported) -> None:
    proc = bom_import.proc
    assert proc.returncode == 1, proc.stderr
    assert summary_of(proc) == (12, 0, 3)
    report_path = bom_import.path.with_name(bom_import.path.name + ".errors.csv")
    assert f"rejected rows: see {report_path}" in proc.stdout
    rows = error_report(report_path)
    assert [(r, f) for r, f, _ in rows] == [(4, "data.id_number"), (7, "data.valid_from"), (10, "record_number")]
    assert rows[0][2] == "check digit mismatch"
    assert rows[1][2] == "not a real date"
    assert rows[2][2].startswith("missing")
    # the rows after the last bad one (data rows 11-15) are issued like the ones before it
    assert all(len(licences_of(r["id_number"])) == 1 for r in bom_import.good[-5:])


def test_bad_rows_issue_nothing(bom_import: Imported) -> None:
    bad = id_card_rows(3, area=320109, tag="BOMBAD")
    assert not Licence.select().where(Licence.holder.in_([r["id_number"] for r in bad])).exists()
    assert not IdempotencyKey.select().where(IdempotencyKey.key.startswith("import:id_card:") & IdempotencyKey.key.endswith(":BOMBAD-00003")).exists()


def test_progress_is_plain_lines_with_a_rate_when_stderr_is_not_a_terminal(bom_import: Imported) -> None:
    lines = PLAIN_PROGRESS.findall(bom_import.proc.stderr)
    assert lines, bom_import.proc.stderr
    assert lines[-1] == ("15", "15")  # the final line: every data row done, of the 15 counted up front
    assert "\r" not in bom_import.proc.stderr and "[#" not in bom_import.proc.stderr


def test_rerunning_the_same_file_issues_nothing_new(bom_import: Imported, import_file: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    before = Licence.select().count()
    proc = import_file(bom_import.path)
    assert proc.returncode == 1  # the same three rows are rejected again
    assert summary_of(proc) == (0, 12, 3)
    assert Licence.select().count() == before
    assert_issued_once(bom_import.good)


# -- CSV without a BOM, and a known key with changed data ----------------------------------------


@pytest.fixture(scope="module")
def plain_import(bom_import: Imported, run_cli: Callable[..., subprocess.CompletedProcess[str]], departments: dict[str, str]) -> Imported:
    """A UTF-8 CSV without a BOM: 4 new good rows and, as row 3, a row of the BOM file (same
    holder, same record number) whose address changed."""
    good = id_card_rows(4, area=320102, tag="PLAIN")
    changed = dict(bom_import.good[0], address="上海市黄浦区南京东路1号")
    path = write_csv(bom_import.path.with_name("stock-plain.csv"), [good[0], good[1], changed, good[2], good[3]], bom=False)
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")
    proc = run_cli("import", str(path), "--kind", "id_card", "--department", departments["id_card"], "--workers", WORKERS, timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Imported(path, good, proc)


def test_csv_without_bom_imports(plain_import: Imported) -> None:
    assert summary_of(plain_import.proc) == (4, 0, 1)
    assert_issued_once(plain_import.good)


def test_same_key_with_changed_data_is_rejected_naming_record_number(plain_import: Imported, bom_import: Imported) -> None:
    assert plain_import.proc.returncode == 1
    rows = error_report(plain_import.path.with_name(plain_import.path.name + ".errors.csv"))
    assert len(rows) == 1
    number, field, reason = rows[0]
    assert (number, field) == (3, "record_number")
    assert reason.startswith("already issued with other data"), reason
    # the licence issued from the first file keeps its data
    (licence,) = licences_of(bom_import.good[0]["id_number"])
    assert json.loads(licence.data_json)["address"] == bom_import.good[0]["address"]


# -- JSON Lines, with a line that is not JSON ----------------------------------------------------


def test_jsonl_imports_and_a_bad_line_does_not_stop_it(tmp_path: Path, import_file: Callable[..., subprocess.CompletedProcess[str]], platform: Any) -> None:
    good = id_card_rows(6, area=320103, tag="JSONL")
    lines: list[dict[str, Any] | str] = [good[0], good[1], '{"name": "张三", "id_number": ', good[2], "[1, 2]", good[3], good[4], good[5]]
    path = write_jsonl(tmp_path / "stock.jsonl", lines)
    report_path = tmp_path / "report" / "errors.csv"
    report_path.parent.mkdir()
    proc = import_file(path, "id_card", "--errors", str(report_path))
    assert proc.returncode == 1
    assert summary_of(proc) == (6, 0, 2)
    assert f"rejected rows: see {report_path}" in proc.stdout
    rows = error_report(report_path)
    assert [(r, f) for r, f, _ in rows] == [(3, "line"), (5, "line")]
    assert rows[0][2].startswith("not JSON") and rows[1][2] == "must be a JSON object"
    assert not path.with_name(path.name + ".errors.csv").exists()  # --errors was honoured
    issued = assert_issued_once(good)
    report = check_qr(platform, issued[3].qr_text)
    assert report.verdict == "valid", report.reasons


# -- household registers: the members as a JSON column; a progress bar on a terminal ---------


def household_rows(n: int, *, area: int) -> list[dict[str, Any]]:
    base = load_sample("household_register")
    rows = []
    for i in range(n):
        members = []
        for j, member in enumerate(base["members"]):
            birth = date.fromisoformat(member["birth_date"]) + timedelta(days=31 * i)
            seq = 2 * (10 * i + j) + (1 if member["sex"] == "男" else 2)
            members.append(dict(member, birth_date=birth.isoformat(), id_number=id_number(area, birth, seq)))
        rows.append(dict(base, household_number=f"3201040{i:05d}", members=members, record_number=f"HH-{i + 1:04d}"))
    return rows


def run_cli_on_a_pty(platform_env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), *args],
            stdout=subprocess.PIPE,
            stderr=slave,
            env={**os.environ, **platform_env},
            cwd=ROOT,
        )
    finally:
        os.close(slave)
    shown: list[bytes] = []

    def drain() -> None:  # keep reading, or a full terminal buffer would block the writer
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO once every holder of the slave side has exited
                break
            if not data:
                break
            shown.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        stdout, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)
        os.close(master)
    return proc.returncode, stdout.decode("utf-8"), b"".join(shown).decode("utf-8", "replace")


def test_household_registers_with_members_as_a_json_column(
    tmp_path: Path, platform_env: dict[str, str], platform: Any, departments: dict[str, str]
) -> None:
    rows = household_rows(3, area=320104)
    path = write_csv(tmp_path / "households.csv", rows, bom=True)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        assert json.loads(next(iter(csv.DictReader(fh)))["members"])[1]["name"] == "王淑𠮷"
    code, stdout, terminal = run_cli_on_a_pty(
        platform_env, "import", str(path), "--kind", "household_register", "--department", departments["household_register"], "--workers", WORKERS
    )
    assert code == 0, terminal
    assert "issued 3, skipped as already issued 0, rejected 0" in stdout
    issued = assert_issued_once(rows, kind="household_register")
    assert [m["name"] for m in json.loads(issued[0].data_json)["members"]] == ["刘䶮", "王淑𠮷", "刘子涵"]
    report = check_pdf(platform, platform.pdfs.get(issued[1].pdf_key))
    assert report.verdict == "valid", report.reasons
    # on a terminal: a bar redrawn in place with rate and ETA, no plain lines
    assert "Traceback" not in terminal, terminal
    assert re.search(r"\r\[#{30}\] 100\.0% 3/3 issued 3 skipped 0 rejected 0 · [\d.]+/s · ETA +0s", terminal), terminal
    assert "import:" not in terminal


# -- kill -9 at a random moment, then rerun: a platform of this test's own ---------------------


@dataclass
class OwnPlatform:
    env: dict[str, str]
    db: Any  # a peewee Database of its own, not the session's proxy
    pdf_dir: Path
    department: str

    def cli(self, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            cwd=ROOT,
            **kwargs,
        )

    def holder_counts(self, holders: list[str]) -> dict[str, int]:
        marks = ", ".join(["%s" if "postgres" in self.env["DATABASE_URL"] else "?"] * len(holders))
        cursor = self.db.execute_sql(f"SELECT holder, COUNT(*) FROM licence WHERE holder IN ({marks}) GROUP BY holder", holders)
        return {holder: count for holder, count in cursor.fetchall()}

    def licences(self, holders: list[str]) -> list[tuple[str, str, str, str]]:
        marks = ", ".join(["%s" if "postgres" in self.env["DATABASE_URL"] else "?"] * len(holders))
        cursor = self.db.execute_sql(f"SELECT holder, data_json, pdf_key, pdf_sha256 FROM licence WHERE holder IN ({marks})", holders)
        return list(cursor.fetchall())

    def import_keys(self, tag: str) -> int:
        mark = "%s" if "postgres" in self.env["DATABASE_URL"] else "?"
        cursor = self.db.execute_sql(f"SELECT COUNT(*) FROM idempotencykey WHERE key LIKE {mark}", [f"import:id_card:%:{tag}-%"])
        return int(cursor.fetchone()[0])


@pytest.fixture(scope="module")
def own_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPlatform]:
    """`cli.py init --demo` on its own keys, PDF folder and database (SQLite file or PostgreSQL)."""
    from playhouse.db_url import connect as connect_url

    from licence_svc.services.setup import DEMO_DEPARTMENTS, demo_code

    tmp = tmp_path_factory.mktemp("bulk-kill")
    with scratch_env(tmp, "bulk_kill") as scratch:
        proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "init", "--demo"], capture_output=True, text=True, env=scratch.env, cwd=ROOT, timeout=120)
        assert proc.returncode == 0, proc.stderr
        department = next(demo_code(first17) for first17, _, kinds in DEMO_DEPARTMENTS if "id_card" in kinds)
        db = connect_url(scratch.url)
        try:
            yield OwnPlatform(scratch.env, db, tmp / "var" / "pdfs", department)
        finally:
            db.close()


def _group_alive(pgid: int) -> list[int]:
    """Processes of a process group that still run (zombies excluded)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state not in ("Z", "X"):
            alive.append(int(entry.name))
    return alive


ROWS_PER_ROUND = 60


def test_kill_minus_9_at_a_random_moment_then_rerun_issues_what_is_missing_and_duplicates_nothing(own_platform: OwnPlatform, tmp_path: Path) -> None:
    seed = int(os.environ.get("BULK_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    delays = [rng.uniform(1.0, 4.0), rng.uniform(4.0, 9.0)]
    rng.shuffle(delays)
    for round_no, delay in enumerate(delays, start=1):
        where = f"seed {seed}, round {round_no}, delay {delay:.1f}s"
        good = id_card_rows(ROWS_PER_ROUND, area=330100 + round_no, tag=f"K{round_no}")
        bad = dict(good[0], id_number=good[0]["id_number"][:17] + ("0" if good[0]["id_number"][17] != "0" else "1"), record_number=f"K{round_no}-BAD1")
        missing = dict(id_card_rows(1, area=330190 + round_no, tag="X")[0], record_number="")
        rows = good[:20] + [bad] + good[20:40] + [missing] + good[40:]
        path = write_csv(tmp_path / f"round{round_no}.csv", rows, bom=round_no % 2 == 0)
        holders = [r["id_number"] for r in good]
        args = ("import", str(path), "--kind", "id_card", "--department", own_platform.department, "--workers", WORKERS)

        # 1. start the import in a session of its own, wait for the delay (and for some rows in the
        #    register; and no longer than until about three quarters are in), SIGKILL the group
        fraction = rng.uniform(0.2, 0.75)
        started = time.monotonic()
        proc = own_platform.cli(*args, start_new_session=True)
        try:
            while True:
                assert proc.poll() is None, f"{where}: the import ended before the kill: {proc.communicate()}"
                in_register = sum(own_platform.holder_counts(holders).values())
                elapsed = time.monotonic() - started
                if in_register and (elapsed >= delay or in_register >= fraction * ROWS_PER_ROUND):
                    break
                assert elapsed < 150, f"{where}: nothing issued after {elapsed:.0f}s"
                time.sleep(0.1)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
            assert proc.returncode == -signal.SIGKILL
            deadline = time.monotonic() + 10
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _group_alive(proc.pid), f"{where}: workers survived the kill"
        finally:
            if _group_alive(proc.pid):
                os.killpg(proc.pid, signal.SIGKILL)
        counts = own_platform.holder_counts(holders)
        before = sum(counts.values())
        assert 0 < before < ROWS_PER_ROUND, f"{where}: {before} issued before the kill: not in the middle"
        assert max(counts.values()) == 1, f"{where}: duplicates before the rerun"

        # 2. rerun the same file: issues what is missing, skips what was issued, rejects the two
        rerun = own_platform.cli(*args)
        stdout, stderr = rerun.communicate(timeout=180)
        assert "Traceback" not in stderr, stderr
        assert rerun.returncode == 1, f"{where}: {stderr}"
        match = SUMMARY.search(stdout)
        assert match, f"{where}: {stdout!r} {stderr!r}"
        assert (int(match[1]), int(match[2]), int(match[3])) == (ROWS_PER_ROUND - before, before, 2), f"{where}: killed with {before} in"

        # 3. exactly one licence per natural key, each with its row's data and its PDF intact
        counts = own_platform.holder_counts(holders)
        assert counts == {h: 1 for h in holders}, f"{where}: {sorted(c for c in counts.values() if c != 1)}"
        assert own_platform.import_keys(f"K{round_no}") == ROWS_PER_ROUND
        by_holder = {r["id_number"]: r for r in good}
        for holder, data_json, pdf_key, pdf_sha in own_platform.licences(holders):
            data = json.loads(data_json)
            assert (data["name"], data["address"], data["birth_date"]) == tuple(by_holder[holder][f] for f in ("name", "address", "birth_date"))
            pdf = (own_platform.pdf_dir / pdf_key).read_bytes() if (own_platform.pdf_dir / pdf_key).exists() else None
            assert pdf is not None and hashlib.sha256(pdf).hexdigest() == pdf_sha, f"{where}: PDF of {holder} missing or changed"


# -- natural keys (in-process: the reader alone, no workers) -------------------------------------


def _read(kind: str, rows: list[dict[str, Any]], **kwargs: Any) -> list[Any]:
    import io

    from licence_svc.services.bulk import read_rows

    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    buf.seek(0)
    return list(read_rows(buf, kind=kind, fmt="csv", **kwargs))


def test_natural_key_uses_the_normalised_holder_id() -> None:
    row = dict(id_card_rows(1, area=110101, tag="NK")[0])
    first17 = next(f for f in (f"1101011990030712{d}" for d in range(10)) if id_number_check_char(f) == "X")  # ends in X
    row.update(id_number=first17 + "X", birth_date="1990-03-07", sex="男" if int(first17[16]) % 2 else "女")
    variants = [dict(row), dict(row, id_number=row["id_number"].lower()), dict(row, id_number=f" {row['id_number']} ")]
    keys = {r.key for r in _read("id_card", variants)}
    assert len(keys) == 1, keys


def test_a_data_field_can_be_the_key_column() -> None:
    degree = load_sample("degree_certificate")
    (row,) = _read("degree_certificate", [degree], key_column="certificate_number")
    assert row.key is not None and row.key.endswith(":" + degree["certificate_number"])
    assert row.data is not None and row.data.get("certificate_number") == degree["certificate_number"]


def test_hostile_lines_are_rejected_rows_not_a_failed_batch() -> None:
    """A line nested 50,000 deep, a lone surrogate in a key, NaN, a duplicate key or a members cell
    of the same: each is that row's problem, named, and the rows around it are read."""
    import io

    from licence_svc.services.bulk import read_rows

    good = json.dumps(load_sample("id_card") | {"record_number": "R1"}, ensure_ascii=False)
    lines = [good, "[" * 50_000 + "]" * 50_000, '{"\\ud800": 1}', '{"a": NaN}', '{"a": 1, "a": 2}', good.replace("R1", "R2")]
    rows = list(read_rows(io.StringIO("\n".join(lines)), kind="id_card", fmt="jsonl"))
    problems = {row.number: [(p.field, p.reason) for p in row.problems] for row in rows}
    assert problems[1] == [] and problems[6] == []
    assert problems[2] == [("line", "nested deeper than 32 levels")]
    assert "lone surrogate" in problems[3][0][1]
    assert problems[4][0][1].startswith("not JSON: NaN") and "duplicate key" in problems[5][0][1]
    header = "name,sex,ethnicity,birth_date,address,id_number,authority,valid_from,valid_until,members,record_number"
    members = '"[' + "[" * 5000 + "]" * 5000 + ']"'
    csv_rows = list(read_rows(io.StringIO(f"{header}\n" + ",".join(["x"] * 9 + [members, "R3"])), kind="household_register", fmt="csv"))
    assert csv_rows[0].problems[0].field == "members" and "nested deeper" in csv_rows[0].problems[0].reason


def test_the_service_reports_progress_by_callback_and_draws_nothing(
    tmp_path: Path, departments: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    """`run_import` in-process: every finished chunk reaches ``on_progress`` with the counts so far;
    the bar is the CLI's, so the service writes nothing to the terminal."""
    from licence_svc.services import bulk

    rows = id_card_rows(bulk.CHUNK + 3, area=320105, tag="CB")  # its own area: 320109 holds the BOM file's bad rows
    rows[2]["id_number"] = rows[2]["id_number"][:-1] + ("0" if rows[2]["id_number"][-1] != "0" else "1")
    path = write_csv(tmp_path / "callback.csv", rows, bom=False)
    seen: list[tuple[int, int, int]] = []
    summary = bulk.run_import(
        path, kind="id_card", department=departments["id_card"], actor="test", workers=1,
        on_progress=lambda s: seen.append((s.issued, s.skipped, s.rejected)),
    )
    assert (summary.issued, summary.skipped, summary.rejected) == (len(rows) - 1, 0, 1)
    assert len(seen) == 2 and seen[-1] == (len(rows) - 1, 0, 1)  # one call per chunk, the last one complete
    assert seen[0] < seen[-1]
    out, err = capfd.readouterr()
    assert "import:" not in err and "[#" not in err and "\r" not in err and out == ""
