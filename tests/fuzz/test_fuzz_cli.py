"""``cli.py verify FILE.pdf`` on PDFs that made pyhanko's parser loop: an error exit code in
seconds, never a hang or a traceback.

The file is a cross-reference stream declaring two billion entries of ``/W [0 0 0]`` (no bytes
each) over an empty stream: pyhanko read them all, from nothing, allocating as it went. Parsed in
the CLI's own process that was minutes and gigabytes; in the upload sandbox, the memory limit.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from tests.fuzz import mutate
from tests.fuzz.world import World

VERDICT_NOT_VALID, UNREADABLE = 1, 2


@pytest.mark.parametrize("where", ["alone", "appended to a licence"])
def test_verify_a_pdf_whose_xref_stream_made_pyhanko_loop(
    run_cli: Callable[..., CompletedProcess[str]], world: World, tmp_path: Path, where: str
) -> None:
    if where == "alone":
        pdf = mutate.xref_bomb_pdf()
    else:
        original = world.pdfs["licence"]
        pdf = original + mutate.hostile_update(original, random.Random(0), kind="xref_stream_index").replace(b"/Index [", b"/Index [0 2000000000 ", 1)
    path = tmp_path / "hostile.pdf"
    path.write_bytes(pdf)
    started = time.monotonic()
    proc = run_cli("verify", str(path), "--offline", timeout=60)
    assert proc.returncode in (VERDICT_NOT_VALID, UNREADABLE), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert time.monotonic() - started < 30
