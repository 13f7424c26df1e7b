"""Black box: `python cli.py revoke ID --reason … --category CODE` stores the public category with
the reason; an unknown category is exit 2 naming `category`, and nothing changes."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

from licence_svc.core.revocation import CATEGORIES
from licence_svc.storage.models import Licence
from tests.helpers import load_sample

Cli = Callable[..., subprocess.CompletedProcess[str]]


def _issue(platform: Any, departments: dict[str, str]) -> str:
    from licence_svc.services.issuing import issue

    return issue(platform, kind="id_card", data=load_sample("id_card"), department=departments["id_card"]).identifier


def test_revoke_with_a_category(run_cli: Cli, platform: Any, departments: dict[str, str]) -> None:
    identifier = _issue(platform, departments)
    proc = run_cli("revoke", identifier, "--reason", "持证人申报遗失", "--category", "lost")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{identifier} is now revoked (lost)"
    row = Licence.get_by_id(identifier)
    assert (row.status, row.status_reason, row.status_category) == ("revoked", "持证人申报遗失", "lost")


def test_revoke_without_a_category(run_cli: Cli, platform: Any, departments: dict[str, str]) -> None:
    identifier = _issue(platform, departments)
    proc = run_cli("revoke", identifier, "--reason", "注销")
    assert proc.returncode == 0, proc.stderr
    assert (Licence.get_by_id(identifier).status, Licence.get_by_id(identifier).status_category) == ("revoked", None)


def test_an_unknown_category_is_exit_2_naming_it(run_cli: Cli, platform: Any, departments: dict[str, str]) -> None:
    identifier = _issue(platform, departments)
    proc = run_cli("revoke", identifier, "--reason", "遗失", "--category", "stolen")
    assert proc.returncode == 2
    assert "category: one of " + ", ".join(CATEGORIES) in proc.stderr
    assert Licence.get_by_id(identifier).status == "valid"


def test_help_lists_the_categories_in_chinese(run_cli: Cli) -> None:
    out = run_cli("revoke", "--help").stdout
    assert all(code in out and label in out for code, label in CATEGORIES.items())
