"""Black box: POST /api/v1/checks answers what its OpenAPI document says, returns match flags
only, signed with the platform root, refuses without the check scope, purpose or authorisation,
and is rate-limited per department."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from hypothesis import HealthCheck, Phase, given, settings

from licence_svc.core.signeddoc import open_document
from tests.helpers import credit_code, person_id
from tests.http.contract import bearer

API = "/api/v1"
PATH = f"{API}/checks"
PURPOSE = "办理不动产登记，核验申请人信息"


@pytest.fixture(scope="module")
def demo_window(platform: Any) -> tuple[str, str]:
    """The demo service window (token scopes redeem, check; no check scopes): (code, token)."""
    from licence_svc.services.setup import DEMO_WINDOW, demo_code

    code = demo_code(DEMO_WINDOW[0])
    return code, platform.demo_tokens[code]


def _new_checker(platform: Any) -> tuple[str, str]:
    """A window of its own with check scopes for every kind and a check-only token: (code, token)."""
    from licence_svc.services import checks
    from licence_svc.services.setup import add_department
    from licence_svc.services.tokens import create_token

    code = credit_code()
    add_department(platform, code, "测试核验窗口", [])
    for kind in ("id_card", "driving_licence", "household_register", "degree_certificate", "business_licence"):
        checks.grant_check_scope(code, kind)
    return code, create_token(code, [], scopes=["check"])[1]


@pytest.fixture(scope="module")
def checker(platform: Any) -> Iterator[tuple[str, str]]:
    """A window of its own with check scopes for every kind and a check-only token: (code, token)."""
    yield _new_checker(platform)


@pytest.fixture()
def id_card(make_licence: Callable[..., Any], sample: Callable[[str], dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    data = {**sample("id_card"), "id_number": person_id()}
    return make_licence("id_card", **data).identifier, data


def post(client: Any, contract: Any, token: str, body: Any, addr: str = "127.0.0.1") -> tuple[int, dict[str, Any]]:
    resp = client.post(PATH, json=body, headers=bearer(token), environ_base={"REMOTE_ADDR": addr})
    return resp.status_code, contract.check(resp, "POST", PATH)


def test_check_answers_flags_only_and_signed(client: Any, contract: Any, checker: tuple[str, str], id_card: tuple[str, dict[str, Any]]) -> None:
    _, data = id_card
    status, body = post(client, contract, checker[1], {"kind": "id_card", "holder": data["id_number"], "claims": {"name": data["name"], "id_number": data["id_number"]}, "purpose": PURPOSE})
    assert status == 200
    assert body["licence_exists"] and body["valid"] and body["fields"] == {"name": True, "id_number": True}
    assert body["authorised_by"] == "department_scope"
    root = x509.load_pem_x509_certificate(client.get(f"{API}/root-certificate").get_data())
    assert open_document(body["signature"], root) == {k: v for k, v in body.items() if k != "signature"}

    resp = client.post(PATH, json={"kind": "id_card", "holder": data["id_number"], "claims": {"name": "王五"}, "purpose": PURPOSE}, headers=bearer(checker[1]))
    text = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.get_json()["fields"] == {"name": False}
    assert resp.headers["Cache-Control"] == "no-store"
    for stored in (data["name"], data["id_number"], data["address"], data["birth_date"]):
        assert stored not in text and json.dumps(stored)[1:-1] not in text


def test_driving_licence_on_a_date(client: Any, contract: Any, checker: tuple[str, str], make_licence: Callable[..., Any], sample: Callable[[str], dict[str, Any]]) -> None:
    data = {**sample("driving_licence"), "licence_number": person_id("19850119"), "vehicle_class": ["C1"]}
    make_licence("driving_licence", **data)
    base = {"kind": "driving_licence", "holder": data["licence_number"], "purpose": PURPOSE}
    _, body = post(client, contract, checker[1], {**base, "claims": {"vehicle_class": "C2"}, "on": "2025-01-01"})
    assert body["fields"] == {"vehicle_class": True} and body["valid"]
    _, body = post(client, contract, checker[1], {**base, "claims": {"vehicle_class": "A1"}})
    assert body["fields"] == {"vehicle_class": False}
    _, body = post(client, contract, checker[1], {**base, "claims": {"vehicle_class": "C1"}, "on": "2028-04-13"})
    assert not body["valid"] and body["licence_exists"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"claims": {"colour": "red"}}, "claims.colour"),
        ({"purpose": None}, "purpose"),
        ({"purpose": ""}, "purpose"),
        ({"kind": "passport"}, "kind"),
        ({"on": "2025-13-01"}, "on"),
        ({"extra": 1}, "extra"),
        ({"claims": "name"}, "claims"),
    ],
)
def test_invalid_input(client: Any, contract: Any, checker: tuple[str, str], body: dict[str, Any], field: str) -> None:
    full = {"kind": "id_card", "holder": "110101199003071233", "claims": {"name": "张三"}, "purpose": PURPOSE, **body}
    full = {k: v for k, v in full.items() if v is not None}
    status, problem = post(client, contract, checker[1], full)
    assert status == 422 and field in {e["field"] for e in problem["errors"]}


def test_refused_without_authorisation_reveals_nothing(client: Any, contract: Any, demo_window: tuple[str, str], id_card: tuple[str, dict[str, Any]]) -> None:
    _, data = id_card
    answers = []
    for holder in (data["id_number"], person_id()):
        resp = client.post(PATH, json={"kind": "id_card", "holder": holder, "claims": {"name": data["name"]}, "purpose": PURPOSE}, headers=bearer(demo_window[1]))
        contract.check(resp, "POST", PATH)
        answers.append((resp.status_code, resp.get_json()))
    assert answers[0] == answers[1] and answers[0][0] == 403
    assert "authorisation required" in answers[0][1]["detail"]


def test_grant_authorises(client: Any, contract: Any, platform: Any, demo_window: tuple[str, str], id_card: tuple[str, dict[str, Any]]) -> None:
    from licence_svc.services import shares, usage

    ident, data = id_card
    grant, code = shares.create_grant(platform, holder=data["id_number"], licence=ident, purpose="办理公积金", scope="verify", recipient=demo_window[0])
    status, body = post(client, contract, demo_window[1], {"kind": "id_card", "holder": data["id_number"], "claims": {"name": data["name"]}, "purpose": PURPOSE, "grant": shares.share_qr_text(platform, code)})
    assert status == 200 and body["authorised_by"] == "grant" and body["grant"] == grant.grant_id
    [event] = [e for e in usage.events([ident]) if e["action"] == "check"]
    assert event["authorised"] and event["grant"] == grant.grant_id and event["organisation"] == demo_window[0]
    # the same code does not let the window ask about somebody else
    status, problem = post(client, contract, demo_window[1], {"kind": "id_card", "holder": person_id(), "claims": {}, "purpose": PURPOSE, "grant": code})
    assert status == 403 and "does not cover" in problem["detail"]
    shares.revoke_grant(holder=data["id_number"], grant_id=grant.grant_id)
    status, _ = post(client, contract, demo_window[1], {"kind": "id_card", "holder": data["id_number"], "claims": {}, "purpose": PURPOSE, "grant": code})
    assert status == 410


def test_authentication_and_scope(client: Any, contract: Any, platform: Any, departments: dict[str, str]) -> None:
    body = {"kind": "id_card", "holder": "110101199003071233", "claims": {}, "purpose": PURPOSE}
    resp = client.post(PATH, json=body, environ_base={"REMOTE_ADDR": "198.51.100.77"})
    assert resp.status_code == 401
    contract.check(resp, "POST", PATH)
    status, problem = post(client, contract, platform.demo_tokens[departments["id_card"]], body)  # issue scope only
    assert status == 403 and "check scope" in problem["detail"]


def test_rate_limited(app: Any, client: Any, contract: Any, platform: Any, id_card: tuple[str, dict[str, Any]]) -> None:
    from licence_svc.services import checks
    from licence_svc.services.setup import add_department
    from licence_svc.services.tokens import create_token

    code = credit_code()
    add_department(platform, code, "测试限流窗口（接口）", [])
    checks.grant_check_scope(code, "id_card")
    token = create_token(code, [], scopes=["check"])[1]
    body = {"kind": "id_card", "holder": id_card[1]["id_number"], "claims": {}, "purpose": PURPOSE}
    app.extensions["licence_platform"] = dataclasses.replace(platform, settings=dataclasses.replace(platform.settings, check_rate_per_minute=1))
    try:
        assert post(client, contract, token, body)[0] == 200
        resp = client.post(PATH, json=body, headers=bearer(token))
        assert resp.status_code == 429 and resp.headers["Retry-After"]
        contract.check(resp, "POST", PATH)
    finally:
        app.extensions["licence_platform"] = platform


def test_fuzzed_requests_conform(app: Any, platform: Any) -> None:
    """Schemathesis, with a token that has the check scope and a scope for every kind, so generated
    bodies reach the validation and matching code (the suite-wide fuzz uses an issuing token). A
    window of its own: its requests must not use up the checks per minute of the module's `checker`."""
    checker = _new_checker(platform)
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    seen: set[int] = set()
    op = schema[PATH]["POST"]
    for strategy in [op.as_strategy(generation_mode=m) for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)] + op.get_strategies_from_examples():

        @given(case=strategy)
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate], derandomize=True, database=None)
        def run(case: Any) -> None:
            resp = case.call_and_validate(headers=bearer(checker[1]), environ_base={"REMOTE_ADDR": "198.51.100.233"}, checks=[not_a_server_error, status_code_conformance, response_schema_conformance])
            seen.add(resp.status_code)

        run()
    assert {200, 422} <= seen
