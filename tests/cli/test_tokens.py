"""API tokens as an operator handles them: `token create` prints the token once, alone on its last
line, and only its hash is stored; `token list` never shows it; `token revoke` ends it at once;
a token is scoped to its department and to kinds that department may issue."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import peewee
import pytest

from licence_svc.errors import Unauthenticated
from licence_svc.services import tokens as token_service
from licence_svc.services.tokens import authenticate
from licence_svc.services.audit import seal_all
from licence_svc.storage.models import ALL_MODELS, ApiToken, AuditEvent, AuditIntake
from tests.helpers import client_address as fresh_address  # failed authentications are counted per address

TOKEN = re.compile(r"lic_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")
Run = Callable[..., subprocess.CompletedProcess[str]]


def create(run_cli: Run, *args: str) -> tuple[str, str]:
    """`token create ...` → (token id, token)."""
    proc = run_cli("token", "create", *args)
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.splitlines()[-1]
    match = TOKEN.fullmatch(token)
    assert match, proc.stdout
    return match.group(1), token


def listing(run_cli: Run, *args: str) -> dict[str, dict[str, Any]]:
    proc = run_cli("token", "list", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return {row["token_id"]: row for row in json.loads(proc.stdout)}


def text_columns(models: list[type[peewee.Model]]) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value stored in ``models``' tables."""
    out = []
    for model in models:
        for row in model.select().dicts():
            for column, value in row.items():
                if value is not None:
                    out.append((model._meta.table_name, column, str(value)))
    return out


def as_utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# -- create -----------------------------------------------------------------------------------


def test_create_prints_the_token_once_alone_on_the_last_line(run_cli: Run, departments: dict[str, str]) -> None:
    police = departments["id_card"]
    proc = run_cli("token", "create", "--department", f" {police.lower()} ", "--label", "户籍系统")
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.splitlines()[-1]
    match = TOKEN.fullmatch(token)
    assert match, proc.stdout
    token_id = match.group(1)
    assert (proc.stdout + proc.stderr).count(token.split("_", 2)[2]) == 1
    assert f"token {token_id} for {police}" in proc.stderr
    row = ApiToken.get_by_id(token_id)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (row.department_id, row.label, row.revoked_at, row.expires_at) == (police, "户籍系统", None, None)
    assert row.kinds.split(",") == ["id_card", "household_register", "driving_licence"]
    principal = authenticate(f"Bearer {token}", client=fresh_address())
    assert (principal.department, principal.token_id) == (police, token_id)
    assert principal.kinds == {"id_card", "household_register", "driving_licence"}


def test_only_a_hash_is_stored(run_cli: Run, departments: dict[str, str], platform: Any) -> None:
    """Neither the token nor its secret part is in any text column of the tokens, the audit
    trail or any other table — the demo tokens `init --demo` printed included."""
    _, token = create(run_cli, "--department", departments["degree_certificate"])
    authenticate(f"Bearer {token}", client=fresh_address())
    with pytest.raises(Unauthenticated):  # a failed attempt is audited: still not with the value
        authenticate(f"Bearer {token[:-2]}xx", client=fresh_address())
    values = [token, *platform.demo_tokens.values()]
    secrets_ = values + [v.split("_", 2)[2] for v in values]
    columns = text_columns([ApiToken, AuditIntake])
    assert any(table == "apitoken" for table, _, _ in columns)
    assert any(table == "auditintake" for table, _, _ in columns)  # recorded, not yet sealed
    seal_all()
    assert any(table == "auditevent" for table, _, _ in text_columns([AuditEvent]))
    for table, column, value in text_columns(ALL_MODELS):
        leaked = [s for s in secrets_ if s in value]
        assert not leaked, f"{table}.{column} holds a token"


# -- scope ------------------------------------------------------------------------------------


def test_kinds_narrow_the_scope(run_cli: Run, departments: dict[str, str]) -> None:
    police = departments["id_card"]
    token_id, token = create(run_cli, "--department", police, "--kinds", "id_card, driving_licence")
    assert ApiToken.get_by_id(token_id).kinds == "id_card,driving_licence"
    assert authenticate(f"Bearer {token}", client=fresh_address()).kinds == {"id_card", "driving_licence"}


@pytest.mark.parametrize(
    "kind, owner",
    [("driving_licence", "degree_certificate"), ("degree_certificate", "id_card")],
    ids=["education-driving", "police-degree"],
)
def test_kinds_the_department_may_not_issue_are_refused(run_cli: Run, departments: dict[str, str], kind: str, owner: str) -> None:
    department = departments[owner]
    before = ApiToken.select().count()
    proc = run_cli("token", "create", "--department", department, "--kinds", f"{owner},{kind}")
    assert proc.returncode == 2
    assert re.search(rf"^  kinds: {kind} is not a kind {department} may issue$", proc.stderr, re.M), proc.stderr
    assert not TOKEN.search(proc.stdout + proc.stderr)
    assert ApiToken.select().count() == before


def test_unknown_kind_is_refused(run_cli: Run, departments: dict[str, str]) -> None:
    proc = run_cli("token", "create", "--department", departments["id_card"], "--kinds", "passport")
    assert proc.returncode == 2
    assert "  kinds: passport" in proc.stderr


def test_unknown_department_is_refused(run_cli: Run) -> None:
    before = ApiToken.select().count()
    proc = run_cli("token", "create", "--department", "91110000000000000X")
    assert proc.returncode == 2
    assert "  department: no department with code 91110000000000000X" in proc.stderr
    assert ApiToken.select().count() == before


# -- expiry -----------------------------------------------------------------------------------


def test_expiry_as_a_duration_then_expired(run_cli: Run, departments: dict[str, str]) -> None:
    token_id, token = create(run_cli, "--department", departments["id_card"], "--expires", "90d")
    [row] = [t for t in token_service.list_tokens(departments["id_card"]) if t["token_id"] == token_id]
    expires = as_utc(str(row["expires_at"]))
    assert abs(expires - (datetime.now(timezone.utc) + timedelta(days=90))) < timedelta(minutes=10)
    authenticate(f"Bearer {token}", client=fresh_address())
    ApiToken.update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)).where(ApiToken.token_id == token_id).execute()
    with pytest.raises(Unauthenticated, match="token expired"):
        authenticate(f"Bearer {token}", client=fresh_address())


def test_expiry_as_a_date_is_beijing_time(run_cli: Run, departments: dict[str, str]) -> None:
    token_id, _ = create(run_cli, "--department", departments["id_card"], "--expires", "2099-12-31")
    assert as_utc(listing(run_cli)[token_id]["expires_at"]) == datetime(2099, 12, 30, 16, tzinfo=timezone.utc)


@pytest.mark.parametrize("expires", ["2020-01-01", "soon"], ids=["past", "words"])
def test_expiry_in_the_past_or_unreadable_is_refused(run_cli: Run, departments: dict[str, str], expires: str) -> None:
    before = ApiToken.select().count()
    proc = run_cli("token", "create", "--department", departments["id_card"], "--expires", expires)
    assert proc.returncode == 2, proc.stdout
    assert "  expires: " in proc.stderr
    assert ApiToken.select().count() == before


# -- list -------------------------------------------------------------------------------------


def test_list_never_shows_the_token(run_cli: Run, departments: dict[str, str], platform: Any) -> None:
    education = departments["degree_certificate"]
    token_id, token = token_service.create_token(education, label="学籍系统")
    revoked_id, revoked = token_service.create_token(education, label="old")
    token_service.revoke_token(revoked_id)
    expiring_id, expiring = token_service.create_token(education, expires_at=datetime(2099, 1, 1, tzinfo=timezone.utc))
    shown = ""
    proc = run_cli("token", "list", "--json", "--department", education)
    assert proc.returncode == 0, proc.stderr
    shown += proc.stdout + proc.stderr
    rows = {r["token_id"]: r for r in json.loads(proc.stdout)}
    assert {r["department"] for r in rows.values()} == {education}
    assert rows[token_id] == {
        "token_id": token_id,
        "department": education,
        "kinds": ["degree_certificate"],
        "scopes": ["issue"],
        "label": "学籍系统",
        "created_at": rows[token_id]["created_at"],
        "expires_at": None,
        "revoked": False,
    }
    assert abs(as_utc(rows[token_id]["created_at"]) - datetime.now(timezone.utc)) < timedelta(minutes=10)
    assert rows[revoked_id]["revoked"] is True
    assert as_utc(rows[expiring_id]["expires_at"]) == datetime(2099, 1, 1, tzinfo=timezone.utc)
    proc = run_cli("token", "list")
    assert proc.returncode == 0, proc.stderr
    shown += proc.stdout + proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip()}
    assert departments["id_card"] in " ".join(lines.values())  # all departments without --department
    assert "active" in lines[token_id] and "学籍系统" in lines[token_id]
    assert "revoked" in lines[revoked_id]
    assert "expires 2099-01-01" in lines[expiring_id]
    for value in (token, revoked, expiring, *platform.demo_tokens.values()):
        assert value.split("_", 2)[2] not in shown
    for row in ApiToken.select():
        assert row.token_hash not in shown


# -- revoke -----------------------------------------------------------------------------------


def test_revoke_ends_the_token_at_once_and_only_that_one(run_cli: Run, departments: dict[str, str]) -> None:
    police = departments["id_card"]
    keep_id, keep = token_service.create_token(police)
    drop_id, drop = token_service.create_token(police)
    authenticate(f"Bearer {drop}", client=fresh_address())
    proc = run_cli("token", "revoke", drop_id)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"token {drop_id} revoked"
    with pytest.raises(Unauthenticated, match="token revoked"):
        authenticate(f"Bearer {drop}", client=fresh_address())
    assert authenticate(f"Bearer {keep}", client=fresh_address()).token_id == keep_id
    rows = listing(run_cli, "--department", police)
    assert (rows[keep_id]["revoked"], rows[drop_id]["revoked"]) == (False, True)


@pytest.mark.parametrize("which", ["again", "unknown"])
def test_revoking_a_revoked_or_unknown_token_is_refused(run_cli: Run, departments: dict[str, str], which: str) -> None:
    token_id, _ = token_service.create_token(departments["id_card"])
    if which == "again":
        token_service.revoke_token(token_id)
    else:
        token_id = next(t for t in ("0000beef", "0000dead", "0000f00d") if ApiToken.get_or_none(ApiToken.token_id == t) is None)
    proc = run_cli("token", "revoke", token_id)
    assert proc.returncode == 2
    assert f"  token_id: no active token {token_id}" in proc.stderr
