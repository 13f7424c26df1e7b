"""The operator loads the service-matter catalogue from JSON or YAML with `matters load` and reads it
back with `matters list`; a broken file is refused with every problem listed and changes nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.helpers import SAMPLES

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_load_and_list(run_cli: Run) -> None:
    sample = json.loads((SAMPLES / "matters.json").read_text(encoding="utf-8"))
    proc = run_cli("matters", "load", str(SAMPLES / "matters.yaml"))
    assert proc.returncode == 0, proc.stderr
    assert f"loaded 5 matters with {sum(len(m['materials']) for m in sample)} materials" in proc.stdout
    listed = json.loads(run_cli("matters", "list", "--json", check=True).stdout)
    assert [m["code"] for m in listed] == sorted(m["code"] for m in sample)
    by_code = {m["code"]: m for m in listed}
    for m in sample:
        assert [x["id"] for x in by_code[m["code"]]["materials"]] == [x["id"] for x in m["materials"]]
    text = run_cli("matters", "list", check=True).stdout
    assert "QYKB-001" in text and "营业执照  [营业执照]" in text and "[纸质材料]" in text and "(可选)" in text


def test_broken_file_lists_every_problem_and_keeps_the_catalogue(run_cli: Run, tmp_path: Path) -> None:
    run_cli("matters", "load", str(SAMPLES / "matters.json"), check=True)
    before = run_cli("matters", "list", "--json", check=True).stdout
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            [
                {"code": "A-1", "name": "甲", "materials": [{"id": "m1", "name": "护照", "kind": "passport"}]},
                {"code": "A-1", "name": "", "materials": [{"id": "m1", "name": "表", "kind": None}]},
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    proc = run_cli("matters", "load", str(broken))
    assert proc.returncode == 2
    assert "matters[0].materials[0].kind: unknown licence kind" in proc.stderr
    assert "matters[1].code: duplicate code A-1" in proc.stderr and "matters[1].name: must not be empty" in proc.stderr
    proc = run_cli("matters", "load", str(tmp_path / "absent.json"))
    assert proc.returncode == 2 and "not found" in proc.stderr
    assert run_cli("matters", "list", "--json", check=True).stdout == before
