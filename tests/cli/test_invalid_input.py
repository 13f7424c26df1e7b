"""Black box: `python cli.py issue` refuses bad input with the field and the reason, and leaves
nothing behind: no register row, no stored PDF, no output file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from licence_svc.storage.models import Licence
from tests.helpers import load_sample


def _bad_id_number(d: dict[str, Any]) -> None:
    d["id_number"] = d["id_number"][:17] + ("4" if d["id_number"][17] != "4" else "5")


def _impossible_date(d: dict[str, Any]) -> None:
    d["valid_from"] = "2023-02-30"


def _missing_field(d: dict[str, Any]) -> None:
    del d["name"]


def _unknown_field(d: dict[str, Any]) -> None:
    d["nickname"] = "小明"


# (case id, kind, department kind, change to the id_card sample or raw file text, exit code, field, reason)
CASES = [
    ("bad-check-digit", "id_card", "id_card", _bad_id_number, 2, "data.id_number", "check digit"),
    ("impossible-date", "id_card", "id_card", _impossible_date, 2, "data.valid_from", "not a real date"),
    ("missing-field", "id_card", "id_card", _missing_field, 2, "data.name", "missing"),
    ("unknown-field", "id_card", "id_card", _unknown_field, 2, "data.nickname", "unknown field"),
    ("unknown-kind", "passport", "id_card", None, 2, "kind", "unknown licence kind"),
    ("not-json", "id_card", "id_card", '{"name": "张晓明", ', 2, "data", "not UTF-8 JSON"),
    ("not-authorised", "id_card", "degree_certificate", None, 3, "", "not authorised"),
]


def _footprint(platform: Any) -> tuple[int, list[Path]]:
    """Rows in the register and files in the PDF store, to compare before and after."""
    pdf_dir = Path(platform.settings.pdf_dir)
    files = sorted(p for p in pdf_dir.rglob("*") if p.is_file()) if pdf_dir.exists() else []
    return Licence.select().count(), files


@pytest.fixture()
def footprint(platform: Any) -> Callable[[], tuple[int, list[Path]]]:
    return lambda: _footprint(platform)


@dataclass(frozen=True)
class Refusal:
    proc: subprocess.CompletedProcess[str]
    folder: Path  # holds the data file and nothing else afterwards
    out: Path


@pytest.fixture(scope="module")
def refusals(run_cli: Callable[..., subprocess.CompletedProcess[str]], platform: Any, departments: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case run through `cli.py issue`, with the register and PDF store footprint before and
    after the whole batch."""
    base = tmp_path_factory.mktemp("refusals")
    commands = []
    for case, kind, dept_kind, change, *_ in CASES:
        folder = base / case
        folder.mkdir()
        data_file = folder / "data.json"
        if isinstance(change, str):
            data_file.write_text(change, encoding="utf-8")
        else:
            data = load_sample("id_card")
            if change is not None:
                change(data)
            data_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        out = folder / "out.pdf"
        commands.append((case, folder, out, ("issue", "--kind", kind, "--data", str(data_file), "--department", departments[dept_kind], "--out", str(out))))
    before = _footprint(platform)
    procs = [run_cli(*c[3]) for c in commands]
    after = _footprint(platform)
    results = {case: Refusal(proc, folder, out) for (case, folder, out, _), proc in zip(commands, procs)}
    return {"before": before, "after": after, "results": results}


@pytest.mark.parametrize(("case", "kind", "dept_kind", "change", "code", "field", "reason"), CASES, ids=[c[0] for c in CASES])
def test_invalid_issue_is_refused_with_field_and_reason(
    case: str, kind: str, dept_kind: str, change: Any, code: int, field: str, reason: str, refusals: dict[str, Any], departments: dict[str, str]
) -> None:
    refusal: Refusal = refusals["results"][case]
    proc = refusal.proc
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.strip() == ""  # no identifier printed
    if field:
        # the CLI prints one "  <field>: <reason>" line per problem
        assert any(line.strip().startswith(f"{field}:") and reason in line for line in proc.stderr.splitlines()), proc.stderr
    else:
        assert reason in proc.stderr and departments[dept_kind] in proc.stderr and kind in proc.stderr, proc.stderr
    assert not refusal.out.exists()
    assert [p.name for p in refusal.folder.iterdir()] == ["data.json"]  # no .part file either


def test_refused_issues_leave_no_record_and_no_file(refusals: dict[str, Any]) -> None:
    rows_before, files_before = refusals["before"]
    rows_after, files_after = refusals["after"]
    assert rows_after == rows_before
    assert files_after == files_before


def test_every_problem_is_reported_at_once(run_cli: Callable[..., Any], departments: dict[str, str], footprint: Callable[[], Any], tmp_path: Path) -> None:
    data = load_sample("id_card")
    _bad_id_number(data)
    _impossible_date(data)
    _unknown_field(data)
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    before = footprint()
    proc = run_cli("issue", "--kind", "id_card", "--data", str(data_file), "--department", departments["id_card"], "--out", str(tmp_path / "o.pdf"))
    assert proc.returncode == 2
    for field in ("data.id_number", "data.valid_from", "data.nickname"):
        assert f"  {field}: " in proc.stderr, proc.stderr
    assert footprint() == before


def test_invalid_input_in_process_writes_nothing(platform: Any, departments: dict[str, str], footprint: Callable[[], Any]) -> None:
    """The same promise from the service: InvalidInput / NotAuthorised with structured fields, nothing stored."""
    from licence_svc.errors import InvalidInput, NotAuthorised
    from licence_svc.services.issuing import issue

    before = footprint()
    data = load_sample("household_register")
    data["members"][1]["id_number"] = data["members"][1]["id_number"][:17] + "X"
    with pytest.raises(InvalidInput) as info:
        issue(platform, kind="household_register", data=data, department=departments["household_register"])
    assert [(p.field, p.reason) for p in info.value.problems] == [("data.members.1.id_number", "check digit mismatch")]
    with pytest.raises(NotAuthorised, match="not authorised"):
        issue(platform, kind="business_licence", data=load_sample("business_licence"), department=departments["id_card"])
    assert footprint() == before
