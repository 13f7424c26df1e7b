"""A register created by an earlier release gains the new columns when `init` runs again."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
from licence_svc.storage import db
db.open_database("sqlite:///" + sys.argv[1])
db.create_schema()
"""


def test_create_schema_adds_columns_missing_from_an_older_register(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    subprocess.run([sys.executable, "-c", SCRIPT, str(path)], check=True, cwd=Path(__file__).resolve().parents[2])
    con = sqlite3.connect(path)
    # An older release's token table: no scopes column; one existing token.
    con.executescript(
        "ALTER TABLE apitoken DROP COLUMN scopes;"
        "INSERT INTO department VALUES ('11110000000019001J', 'x', 'id_card', '2026-01-01', 131072);"
        "INSERT INTO apitoken (token_id, department_id, token_hash, kinds, label, created_at) "
        "VALUES ('abcd0123', '11110000000019001J', 'h', 'id_card', '', '2026-01-01');"
    )
    con.commit()
    assert "scopes" not in [r[1] for r in con.execute("PRAGMA table_info(apitoken)")]
    con.close()
    subprocess.run([sys.executable, "-c", SCRIPT, str(path)], check=True, cwd=Path(__file__).resolve().parents[2])
    con = sqlite3.connect(path)
    assert "scopes" in [r[1] for r in con.execute("PRAGMA table_info(apitoken)")]
    assert con.execute("SELECT scopes FROM apitoken WHERE token_id = 'abcd0123'").fetchone() == ("issue",)
