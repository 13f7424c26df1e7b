"""Bulk conversion of paper stock (存量证照电子制证): stream rows, issue on every core, resume safely.

Each row has a natural key (kind + the kind's uniqueness rule, ``KindSpec.key_fields``, + the
department's own record number, or an explicit key column). The key is stored in the same
transaction as the licence, so rerunning a file after a crash issues what is missing and
duplicates nothing. Progress is reported through ``on_progress``; drawing it is the caller's.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..core.kinds import KINDS, get_kind, validate
from ..core.strictjson import JsonRefused, parse_json
from ..errors import Conflict, FieldProblem, InvalidInput, LicenceError

log = logging.getLogger(__name__)

KEY_COLUMN = "record_number"
CHUNK = 16  # rows per task sent to a worker
WINDOW_PER_WORKER = 4  # tasks in flight per worker: memory stays flat whatever the file size


@dataclass(frozen=True)
class Row:
    number: int  # 1-based data row number (header excluded)
    data: dict[str, Any] | None
    key: str | None
    problems: tuple[FieldProblem, ...] = ()


@dataclass
class Summary:
    issued: int = 0
    skipped: int = 0
    rejected: int = 0
    seconds: float = 0.0
    errors: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.issued + self.skipped + self.rejected

    def as_dict(self) -> dict[str, Any]:
        return {"issued": self.issued, "skipped": self.skipped, "rejected": self.rejected, "seconds": round(self.seconds, 2)}


# -- reading ------------------------------------------------------------------------------------


def _checked(kind: str, number: int, data: dict[str, Any], record_number: Any, key_column: str) -> Row:
    """Validate here, in the reading process: the natural key and the request fingerprint are
    then taken over the normalised record, so ' 1101…' and '1101…', or 'x' and 'X', are the same
    row on a rerun; and a bad row is reported without a round trip to a worker."""
    from ..core import fonts

    problems: list[FieldProblem] = []
    if record_number is None or str(record_number).strip() == "":
        problems.append(FieldProblem(key_column, "missing: every row needs the department's record number (or give --key-column)"))
    try:
        clean = validate(kind, data, can_render=fonts.can_render)
    except InvalidInput as exc:
        problems.extend(exc.problems)
        clean = None
    if problems or clean is None:
        return Row(number, None, None, tuple(problems))
    return Row(number, clean, f"import:{kind}:{KINDS[kind].natural_key(clean)}:{str(record_number).strip()}")


def read_rows(stream: TextIO, *, kind: str, fmt: str, key_column: str = KEY_COLUMN) -> Iterator[Row]:
    """Yield rows one at a time (CSV with or without BOM, header = field names; or JSON Lines).

    The key column is dropped from the record unless it is one of the kind's fields (a
    certificate number, say, can be the key and stay in the data)."""
    spec = KINDS[kind]
    fields = {f.name for f in spec.fields}
    if fmt == "csv":
        reader = csv.DictReader(stream)
        if reader.fieldnames:
            reader.fieldnames = [f.lstrip("\ufeff").strip() for f in reader.fieldnames]
        for number, raw in enumerate(reader, start=1):
            try:
                data = {k: spec.csv_cell(k, v or "") for k, v in raw.items() if k is not None and (k != key_column or k in fields)}
            except InvalidInput as exc:  # a cell the kind cannot read (KindSpec.csv_cell)
                yield Row(number, None, None, tuple(exc.problems))
                continue
            if None in raw:
                yield Row(number, None, None, (FieldProblem("row", "more cells than header columns"),))
                continue
            yield _checked(kind, number, data, raw.get(key_column), key_column)
        return
    for number, line in enumerate(stream, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = parse_json(line)
        except JsonRefused as exc:  # one hostile line is that row's problem, not the batch's
            yield Row(number, None, None, (FieldProblem("line", str(exc)),))
            continue
        if not isinstance(obj, dict):
            yield Row(number, None, None, (FieldProblem("line", "must be a JSON object"),))
            continue
        record_number = obj.get(key_column) if key_column in fields else obj.pop(key_column, None)
        yield _checked(kind, number, obj, record_number, key_column)


def open_input(path: Path) -> tuple[TextIO, str]:
    fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    return open(path, encoding="utf-8-sig", newline="" if fmt == "csv" else None), fmt


def count_rows(path: Path) -> int:
    """A fast pass for the progress bar's ETA (CSV records, not lines: cells may hold newlines)."""
    stream, fmt = open_input(path)
    with stream:
        if fmt == "csv":
            return max(sum(1 for _ in csv.reader(stream)) - 1, 0)
        return sum(1 for line in stream if line.strip())


# -- issuing (in worker processes) --------------------------------------------------------------

_worker_platform: Any = None


def _init_worker(env: dict[str, str]) -> None:
    os.environ.update(env)
    global _worker_platform
    from ..core import fonts
    from .platform import Platform

    _worker_platform = Platform.open()
    fonts.ensure_loaded()


def _issue_chunk(kind: str, department: str, actor: str, rows: list[Row]) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """Issue a chunk of rows; per row: (number, outcome, problems) with outcome issued/skipped/rejected."""
    from .issuing import issue

    out: list[tuple[int, str, list[tuple[str, str]]]] = []
    for row in rows:
        if row.problems or row.data is None or row.key is None:
            out.append((row.number, "rejected", [(p.field, p.reason) for p in row.problems]))
            continue
        try:
            issued = issue(_worker_platform, kind=kind, data=row.data, department=department, actor=actor, idempotency_key=row.key, load_replay_pdf=False, with_claim_codes=False)
        except InvalidInput as exc:
            out.append((row.number, "rejected", [(p.field, p.reason) for p in exc.problems]))
        except Conflict as exc:
            out.append((row.number, "rejected", [(KEY_COLUMN, f"already issued with other data ({exc.detail})")]))
        except LicenceError as exc:
            out.append((row.number, "rejected", [("row", f"{exc.title}: {exc.detail}")]))
        else:
            out.append((row.number, "skipped" if issued.replayed else "issued", []))
    return out


# -- the run ------------------------------------------------------------------------------------


def run_import(
    path: Path,
    *,
    kind: str,
    department: str,
    actor: str,
    workers: int | None = None,
    key_column: str = KEY_COLUMN,
    errors_path: Path | None = None,
    on_progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Issue every row of ``path``; rejected rows go to the error report, never stop the run.

    ``on_progress(summary)`` is called after every finished chunk with the counts so far (the same
    ``Summary`` object, updated in place); the caller draws a bar or stores them.
    """
    get_kind(kind)
    from .issuing import resolve_department

    resolve_department(KINDS[kind], department)  # refuse unknown departments and kinds up front
    workers = workers or os.cpu_count() or 1
    summary = Summary()
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k.startswith("LICENCE_") or k == "DATABASE_URL"}
    stream, fmt = open_input(path)
    errors_path = errors_path or path.with_name(path.name + ".errors.csv")
    with stream, open(errors_path, "w", encoding="utf-8-sig", newline="") as err_file:
        writer = csv.writer(err_file)
        writer.writerow(["row", "field", "reason"])

        def collect(results: list[tuple[int, str, list[tuple[str, str]]]]) -> None:
            for number, outcome, problems in results:
                setattr(summary, outcome, getattr(summary, outcome) + 1)
                for f, reason in problems:
                    writer.writerow([number, f, reason])
            err_file.flush()
            summary.seconds = time.monotonic() - started
            if on_progress:
                on_progress(summary)

        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(env,)) as pool:
            pending: set[Future[Any]] = set()
            chunk: list[Row] = []
            rows = read_rows(stream, kind=kind, fmt=fmt, key_column=key_column)
            for row in rows:
                chunk.append(row)
                if len(chunk) == CHUNK:
                    pending.add(pool.submit(_issue_chunk, kind, department, actor, chunk))
                    chunk = []
                    while len(pending) >= workers * WINDOW_PER_WORKER:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in done:
                            collect(fut.result())
            if chunk:
                pending.add(pool.submit(_issue_chunk, kind, department, actor, chunk))
            for fut in pending:
                collect(fut.result())
    summary.seconds = time.monotonic() - started
    return summary
