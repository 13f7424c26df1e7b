"""Black box: the lookups that take a holder's ID number (and share codes) also take them in a JSON
body, out of the URL: POST /api/v1/licences/search answers as GET /api/v1/licences with the same
filters, POST /api/v1/matters/{code}/materials as its GET; both check their bodies field by field
and match the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import SAMPLES, load_sample, person
from tests.http.contract import API, Contract, bearer

SEARCH = f"{API}/licences/search"
MATERIALS = f"{API}/matters/{{code}}/materials"
MATTER = "HKQY-003"


@pytest.fixture(scope="module")
def issuer(platform: Any, departments: dict[str, str]) -> str:
    return platform.demo_tokens[departments["id_card"]]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def window(platform: Any) -> tuple[str, str]:
    from licence_svc.services.setup import DEMO_WINDOW, demo_code

    code = demo_code(DEMO_WINDOW[0])
    return code, platform.demo_tokens[code]


def test_search_by_body_answers_as_the_listing(client: Any, contract: Contract, issuer: str, platform: Any, departments: dict[str, str]) -> None:
    from licence_svc.services.issuing import issue

    number, birth, sex = person()
    ids = [issue(platform, kind="id_card", data={**load_sample("id_card"), "id_number": number, "birth_date": birth, "sex": sex}, department=departments["id_card"]).identifier for _ in range(3)]
    listing = contract.check(client.get(f"{API}/licences", query_string={"holder": number, "limit": "2"}, headers=bearer(issuer)), "GET", f"{API}/licences")
    resp = client.post(SEARCH, json={"holder": number, "limit": 2}, headers=bearer(issuer))
    found = contract.check(resp, "POST", SEARCH)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert found == listing and [i["identifier"] for i in found["items"]] == ids[::-1][:2]
    rest = contract.check(client.post(SEARCH, json={"holder": number, "cursor": found["next_cursor"]}, headers=bearer(issuer)), "POST", SEARCH)
    assert [i["identifier"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    everything = contract.check(client.post(SEARCH, json={}, headers=bearer(issuer)), "POST", SEARCH)
    assert everything == contract.check(client.get(f"{API}/licences", headers=bearer(issuer)), "GET", f"{API}/licences")


@pytest.mark.parametrize(
    "body, fields",
    [
        ({"holder": 110101199003071233}, ("holder",)),
        ({"limit": "5"}, ("limit",)),
        ({"limit": True}, ("limit",)),
        ({"limit": 0}, ("limit",)),
        ({"page": 2}, ("page",)),
        ({"status": "lost"}, ("status",)),
        ({"holder": "张晓明"}, ("holder",)),
        ([], ("body",)),
    ],
    ids=["holder-number", "limit-string", "limit-bool", "limit-zero", "unknown", "status", "holder-name", "array"],
)
def test_search_body_is_checked(client: Any, contract: Contract, issuer: str, body: Any, fields: tuple[str, ...]) -> None:
    resp = client.post(SEARCH, json=body, headers=bearer(issuer))
    problem = contract.check(resp, "POST", SEARCH)
    assert resp.status_code == 422 and sorted(e["field"] for e in problem["errors"]) == sorted(fields), problem


def test_search_needs_the_issue_scope(client: Any, contract: Contract, window: tuple[str, str]) -> None:
    assert contract.check(client.post(SEARCH, json={}, headers=bearer(window[1])), "POST", SEARCH)["status"] == 403
    assert contract.check(client.post(SEARCH, json={}), "POST", SEARCH)["status"] == 401


def test_materials_by_body_answers_as_the_get(client: Any, contract: Contract, platform: Any, departments: dict[str, str], window: tuple[str, str]) -> None:
    from licence_svc.services import matters, shares
    from licence_svc.services.issuing import issue

    matters.load_file(SAMPLES / "matters.json", actor="test")
    number, birth, sex = person()
    licence = issue(platform, kind="id_card", data={**load_sample("id_card"), "id_number": number, "birth_date": birth, "sex": sex}, department=departments["id_card"]).identifier
    code = shares.create_grant(platform, holder=number, licence=licence, purpose="人才引进落户", scope="verify", recipient=window[0])[1]
    path = MATERIALS.replace("{code}", MATTER)
    by_query = contract.check(client.get(path, query_string={"holder": number, "grant": [code]}, headers=bearer(window[1])), "GET", MATERIALS)
    resp = client.post(path, json={"holder": number, "grants": [code]}, headers=bearer(window[1]))
    by_body = contract.check(resp, "POST", MATERIALS)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert by_body == by_query and any(m["satisfied"] and m["licence"] == licence for m in by_body["materials"])
    for body, field in (({"holder": number, "grants": [7]}, "grants"), ({"grants": [code]}, "holder"), ({"holder": number, "grant": code}, "grant")):
        problem = contract.check(client.post(path, json=body, headers=bearer(window[1])), "POST", MATERIALS)
        assert problem["status"] == 422 and field in [e["field"] for e in problem["errors"]], problem


def test_materials_by_body_needs_the_redeem_scope_before_the_body(client: Any, contract: Contract, issuer: str) -> None:
    path = MATERIALS.replace("{code}", MATTER)
    problem = contract.check(client.post(path, data="{not json", content_type="application/json", headers=bearer(issuer)), "POST", MATERIALS)
    assert problem["status"] == 403 and "redeem" in problem["detail"]
