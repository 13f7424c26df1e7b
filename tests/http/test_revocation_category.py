"""Black box: a revocation carries a public category (core.revocation.CATEGORIES) next to the
department's free-text reason; the department API reads both back, and only revoke takes one."""

from __future__ import annotations

from typing import Any

import pytest

from licence_svc.core.revocation import CATEGORIES
from licence_svc.storage.models import Licence, StatusEvent
from tests.helpers import load_sample
from tests.http.contract import API, Contract, bearer

LICENCE = f"{API}/licences/{{identifier}}"


def _issue(client: Any, token: str) -> str:
    resp = client.post(f"{API}/licences", json={"kind": "id_card", "data": load_sample("id_card")}, headers=bearer(token))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()["identifier"]  # type: ignore[no-any-return]


def _post(client: Any, token: str, identifier: str, action: str, body: Any) -> Any:
    return client.post(f"{API}/licences/{identifier}/{action}", json=body, headers=bearer(token))


@pytest.fixture()
def token(platform: Any, departments: dict[str, str]) -> str:
    return platform.demo_tokens[departments["id_card"]]  # type: ignore[no-any-return]


@pytest.mark.parametrize("category", list(CATEGORIES))
def test_revoke_with_a_category_stores_it_with_the_reason(client: Any, contract: Contract, token: str, category: str) -> None:
    identifier = _issue(client, token)
    resp = _post(client, token, identifier, "revoke", {"reason": "持证人张晓明于派出所申报遗失", "category": category})
    out = contract.check(resp, "POST", f"{LICENCE}/revoke")
    assert resp.status_code == 200
    assert (out["status"], out["status_reason"], out["status_category"]) == ("revoked", "持证人张晓明于派出所申报遗失", category)
    record = contract.check(client.get(f"{API}/licences/{identifier}", headers=bearer(token)), "GET", LICENCE)
    assert (record["status_reason"], record["status_category"]) == ("持证人张晓明于派出所申报遗失", category)
    row = Licence.get_by_id(identifier)
    assert (row.status, row.status_category) == ("revoked", category)


def test_revoke_without_a_category_leaves_it_null(client: Any, contract: Contract, token: str) -> None:
    identifier = _issue(client, token)
    out = contract.check(_post(client, token, identifier, "revoke", {"reason": "注销"}), "POST", f"{LICENCE}/revoke")
    assert (out["status"], out["status_category"]) == ("revoked", None)


@pytest.mark.parametrize("category", ["stolen", "LOST", "", 7, None, ["lost"]], ids=["unknown", "upper-case", "empty", "number", "null", "list"])
def test_an_unknown_category_is_422_naming_it_and_changes_nothing(client: Any, contract: Contract, token: str, category: Any) -> None:
    identifier = _issue(client, token)
    resp = _post(client, token, identifier, "revoke", {"reason": "遗失", "category": category})
    problem = contract.check(resp, "POST", f"{LICENCE}/revoke")
    assert resp.status_code == 422 and [e["field"] for e in problem["errors"]] == ["category"], problem
    assert Licence.get_by_id(identifier).status == "valid"
    assert not StatusEvent.select().where(StatusEvent.licence == identifier).exists()


@pytest.mark.parametrize("action", ["suspend", "reinstate"])
def test_only_revoke_takes_a_category(client: Any, contract: Contract, token: str, action: str) -> None:
    identifier = _issue(client, token)
    if action == "reinstate":
        assert _post(client, token, identifier, "suspend", {"reason": "暂扣"}).status_code == 200
    resp = _post(client, token, identifier, action, {"reason": "x", "category": "lost"})
    problem = contract.check(resp, "POST", f"{LICENCE}/{action}")
    assert resp.status_code == 422 and [e["field"] for e in problem["errors"]] == ["category"]


def test_suspend_and_reinstate_leave_the_category_null(client: Any, contract: Contract, token: str) -> None:
    identifier = _issue(client, token)
    out = contract.check(_post(client, token, identifier, "suspend", {"reason": "暂扣"}), "POST", f"{LICENCE}/suspend")
    assert (out["status"], out["status_reason"], out["status_category"]) == ("suspended", "暂扣", None)
    out = contract.check(_post(client, token, identifier, "reinstate", {"reason": "恢复"}), "POST", f"{LICENCE}/reinstate")
    assert (out["status"], out["status_category"]) == ("valid", None)
    out = contract.check(_post(client, token, identifier, "revoke", {"reason": "损毁", "category": "damaged"}), "POST", f"{LICENCE}/revoke")
    assert out["status_category"] == "damaged"


def test_reinstate_clears_a_category_left_on_the_row(platform: Any, departments: dict[str, str], make_licence: Any) -> None:
    """Only a revocation has a category: a reinstated licence never carries one, even if a row
    had one (set by hand, or by an older release) while suspended."""
    from licence_svc.services import lifecycle

    issued = make_licence("id_card")
    lifecycle.suspend(issued.identifier, reason="暂扣", actor="test")
    Licence.update(status_category="lost").where(Licence.identifier == issued.identifier).execute()
    row = lifecycle.reinstate(issued.identifier, reason="恢复", actor="test")
    assert (row.status, row.status_category) == ("valid", None)
    assert Licence.get_by_id(issued.identifier).status_category is None


def test_category_is_stored_in_the_same_transaction_as_the_status(platform: Any, make_licence: Any) -> None:
    """A revoke whose audit write fails leaves neither the status nor the category behind."""
    from unittest import mock

    from licence_svc.services import lifecycle
    from licence_svc.storage import audit as trail

    issued = make_licence("id_card")
    with mock.patch.object(trail, "append", side_effect=RuntimeError("disk full")), pytest.raises(RuntimeError):
        lifecycle.revoke(issued.identifier, reason="遗失", category="lost", actor="test")
    row = Licence.get_by_id(issued.identifier)
    assert (row.status, row.status_category) == ("valid", None)
