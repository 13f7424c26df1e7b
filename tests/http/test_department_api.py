"""Black box: the department API (/api/v1/licences) with bearer tokens — authentication (401,
rate-limited 429 per client address), department scope (another department's licence is 404 like
an unknown one, audited) and kind scope (403, audited), the audit trail
of every issue, change, status change, download and verification, a licence's history, request
body caps and shapes (413, 422 naming the field), Idempotency-Key replays, and cursor paging.

Failed authentications are counted per client address in the session's database, so every test
sends from its own fake address."""

from __future__ import annotations

import base64
import io
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from licence_svc.core.masking import mask_number
from licence_svc.services import tokens as token_service
from licence_svc.services.claim_codes import code_hash
from licence_svc.storage.holders import use_claim_code
from licence_svc.services.tokens import MAX_FAILURES
from licence_svc.services.audit import seal_all
from licence_svc.storage.models import ApiToken, AuditEvent, Licence
from tests.helpers import load_sample

API = "/api/v1/licences"
PROBLEM = "application/problem+json"


sample_data = load_sample


def token_id_of(token: str) -> str:
    return token.split("_")[1]


# -- fixtures and helpers ---------------------------------------------------------------------

_addresses: Iterator[str] = (f"10.{secrets.randbelow(200) + 20}.{n // 250}.{n % 250 + 1}" for n in range(100_000))


@pytest.fixture()
def addr() -> Callable[[], str]:
    """A fresh fake client address per call: the failed-authentication counts live in the
    session's database and must not leak between tests."""
    return lambda: next(_addresses)


class Api:
    """The Flask test client as one department's API client: a token and a client address."""

    def __init__(self, client: Any, token: str | None, address: str) -> None:
        self.client, self.token, self.address = client, token, address

    @property
    def actor(self) -> str:
        assert self.token is not None
        row = ApiToken.get_by_id(token_id_of(self.token))
        return f"{row.department_id}/token:{row.token_id}"

    def __call__(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        all_headers = {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}
        all_headers.update(headers or {})
        return self.client.open(path, method=method, headers=all_headers, environ_base={"REMOTE_ADDR": self.address}, **kwargs)


@pytest.fixture()
def api(client: Any, addr: Callable[[], str]) -> Callable[..., Api]:
    """``api(token)`` → a client sending that token from a fresh address (or ``address=``)."""

    def make(token: str | None, address: str | None = None) -> Api:
        return Api(client, token, address or addr())

    return make


@pytest.fixture()
def police(platform: Any, departments: dict[str, str]) -> str:
    return departments["id_card"]


@pytest.fixture()
def education(platform: Any, departments: dict[str, str]) -> str:
    return departments["degree_certificate"]


def assert_problem(resp: Any, status: int, *fields: str) -> dict[str, Any]:
    """A problem+json of ``status``; with ``fields``, its ``errors`` name exactly those fields."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json(force=True)
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    if fields:
        assert sorted(e["field"] for e in body["errors"]) == sorted(fields), body
    return body  # type: ignore[no-any-return]


def events_of(licence: str) -> list[AuditEvent]:
    """The licence's events in the chain (what was recorded sealed first)."""
    seal_all()
    return list(AuditEvent.select().where(AuditEvent.licence == licence).order_by(AuditEvent.seq))


def events_from(address: str) -> list[AuditEvent]:
    seal_all()
    return list(AuditEvent.select().where(AuditEvent.client == address).order_by(AuditEvent.seq))


def issue_via_api(a: Api, kind: str = "id_card", data: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    resp = a("POST", API, json={"kind": kind, "data": data if data is not None else sample_data(kind)}, **kwargs)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return resp.get_json()  # type: ignore[no-any-return]


@pytest.fixture()
def police_licence(api: Callable[..., Api], platform: Any, police: str) -> dict[str, Any]:
    """A fresh id_card licence issued through the API by the police's demo token."""
    return issue_via_api(api(platform.demo_tokens[police]))


# -- authentication ---------------------------------------------------------------------------


def test_demo_token_authenticates(api: Callable[..., Api], platform: Any, police: str) -> None:
    resp = api(platform.demo_tokens[police])("GET", API)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert set(resp.get_json()) == {"items", "next_cursor"}


def _expired_token(department: str) -> str:
    _, token = token_service.create_token(department, label="soon expired", expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    ApiToken.update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)).where(ApiToken.token_id == token_id_of(token)).execute()
    return token


def _revoked_token(department: str) -> str:
    token_id, token = token_service.create_token(department, label="revoked")
    token_service.revoke_token(token_id)
    return token


@pytest.mark.parametrize(
    "make_header, reason",
    [
        (lambda dept: None, "missing bearer token"),
        (lambda dept: "Basic dXNlcjpwYXNz", "missing bearer token"),
        (lambda dept: "Bearer ", "missing bearer token"),
        (lambda dept: "Bearer not-a-token", "unknown token"),
        (lambda dept: f"Bearer lic_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}", "unknown token"),
        (lambda dept: f"Bearer {_expired_token(dept)}", "token expired"),
        (lambda dept: f"Bearer {_revoked_token(dept)}", "token revoked"),
    ],
    ids=["none", "basic", "empty", "garbage", "well-formed-unknown", "expired", "revoked"],
)
def test_wrong_expired_or_revoked_token_is_401(client: Any, addr: Callable[[], str], police: str, make_header: Callable[[str], str | None], reason: str) -> None:
    header = make_header(police)
    address = addr()
    resp = client.get(API, headers={"Authorization": header} if header else {}, environ_base={"REMOTE_ADDR": address})
    body = assert_problem(resp, 401)
    assert body["detail"] == reason
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    [event] = events_from(address)
    assert (event.action, event.actor, event.outcome, event.detail) == ("authenticate", "unknown", "unauthenticated", reason)


def test_a_token_with_its_last_character_changed_is_401(api: Callable[..., Api], platform: Any, police: str) -> None:
    token = platform.demo_tokens[police]
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_problem(api(forged)("GET", API), 401)
    assert api(token)("GET", API).status_code == 200


def test_expired_and_revoked_tokens_worked_before(api: Callable[..., Api], police: str) -> None:
    """The tamper twin of the 401s above: the same tokens authenticate until expired or revoked."""
    token_id, token = token_service.create_token(police, label="twin")
    assert api(token)("GET", API).status_code == 200
    ApiToken.update(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)).where(ApiToken.token_id == token_id).execute()
    assert_problem(api(token)("GET", API), 401)
    token_id, token = token_service.create_token(police, label="twin")
    assert api(token)("GET", API).status_code == 200
    token_service.revoke_token(token_id)
    assert_problem(api(token)("GET", API), 401)


def test_failed_authentication_is_rate_limited_per_address(api: Callable[..., Api], platform: Any, police: str, addr: Callable[[], str]) -> None:
    attacker = addr()
    wrong = api(f"lic_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}", attacker)
    for _ in range(MAX_FAILURES):
        assert_problem(wrong("GET", API), 401)
    limited = wrong("GET", API)
    body = assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    assert "too many" in body["detail"]
    # Even the right token is refused from that address while it is throttled ...
    assert_problem(api(platform.demo_tokens[police], attacker)("GET", API), 429)
    # ... but another address is not affected, with a right or a wrong token.
    other = addr()
    assert api(platform.demo_tokens[police], other)("GET", API).status_code == 200
    assert_problem(api("not-a-token", other)("GET", API), 401)
    assert api(platform.demo_tokens[police], "10.0.0.9")("GET", API).status_code == 200
    # The throttle answers before the token is looked at, and is still on.
    assert_problem(wrong("GET", API), 429)


def test_successful_requests_do_not_count_towards_the_limit(api: Callable[..., Api], platform: Any, police: str) -> None:
    a = api(platform.demo_tokens[police])
    for _ in range(MAX_FAILURES + 5):
        assert a("GET", API, query_string={"limit": 1}).status_code == 200


# -- department and kind scope ----------------------------------------------------------------


def test_education_token_may_not_mint_a_driving_licence(api: Callable[..., Api], platform: Any, education: str) -> None:
    a = api(platform.demo_tokens[education])
    before = Licence.select().where(Licence.kind == "driving_licence").count()
    body = assert_problem(a("POST", API, json={"kind": "driving_licence", "data": sample_data("driving_licence")}), 403)
    assert "driving_licence" in body["detail"]
    assert Licence.select().where(Licence.kind == "driving_licence").count() == before
    [event] = events_from(a.address)
    assert (event.action, event.outcome, event.actor) == ("denied", "forbidden", f"{education}/token:{token_id_of(a.token or '')}")


def test_a_token_scoped_to_fewer_kinds_may_not_mint_the_others(api: Callable[..., Api], police: str) -> None:
    _, token = token_service.create_token(police, ["id_card"], label="id cards only")
    a = api(token)
    assert_problem(a("POST", API, json={"kind": "driving_licence", "data": sample_data("driving_licence")}), 403)
    assert [(e.action, e.outcome) for e in events_from(a.address)] == [("denied", "forbidden")]
    assert issue_via_api(a, "id_card")["kind"] == "id_card"


OTHER_DEPARTMENT_CALLS = [
    ("GET", "", None),
    ("GET", "/pdf", None),
    ("GET", "/events", None),
    ("POST", "/versions", {"data": sample_data("id_card")}),
    ("POST", "/revoke", {"reason": "不是本部门的证照"}),
    ("POST", "/suspend", {"reason": "不是本部门的证照"}),
    ("POST", "/reinstate", {"reason": "不是本部门的证照"}),
    ("POST", "/claim-codes", None),
]


def unknown_like(identifier: str) -> str:
    """A fresh identifier of the same kind, issuer and version that no licence has (check character right)."""
    from dataclasses import replace

    from licence_svc.core.identifiers import new_serial, parse_licence_id

    return str(replace(parse_licence_id(identifier), serial=new_serial()))


@pytest.mark.parametrize(
    "method, suffix, body",
    [
        call
        for call in OTHER_DEPARTMENT_CALLS
    ],
    ids=[c[1].strip("/") or "record" for c in OTHER_DEPARTMENT_CALLS],
)
def test_another_departments_licence_is_404_like_an_unknown_one_and_audited(
    api: Callable[..., Api], platform: Any, education: str, police_licence: dict[str, Any], method: str, suffix: str, body: Any
) -> None:
    """No existence oracle: the answer for another department's licence is the answer for an
    identifier nobody issued, byte for byte apart from the identifier; the audit keeps the truth."""
    identifier = police_licence["identifier"]
    unknown = unknown_like(identifier)
    a = api(platform.demo_tokens[education])
    resp = a(method, f"{API}/{identifier}{suffix}", json=body)
    problem = assert_problem(resp, 404)
    assert "张晓明" not in json.dumps(problem, ensure_ascii=False)
    nobody = a(method, f"{API}/{unknown}{suffix}", json=body)
    assert_problem(nobody, 404)
    assert resp.get_data(as_text=True).replace(identifier, "ID") == nobody.get_data(as_text=True).replace(unknown, "ID")
    assert {k: v for k, v in resp.headers.items() if k != "Content-Length"} == {k: v for k, v in nobody.headers.items() if k != "Content-Length"}
    row = Licence.get_by_id(identifier)
    assert (row.status, row.superseded_by) == ("valid", None)
    denied = [e for e in events_of(identifier) if e.outcome == "forbidden"]
    assert [(e.action, e.actor, e.client) for e in denied] == [("denied", a.actor, a.address)]
    assert [(e.action, e.outcome, e.actor) for e in events_of(unknown)] == [("denied", "not_found", a.actor)]


def test_a_token_scoped_to_fewer_kinds_may_not_read_the_others(api: Callable[..., Api], platform: Any, police: str) -> None:
    licence = issue_via_api(api(platform.demo_tokens[police]), "driving_licence")["identifier"]
    _, token = token_service.create_token(police, ["id_card"], label="id cards only")
    a = api(token)
    for suffix in ("", "/pdf", "/events"):
        assert_problem(a("GET", f"{API}/{licence}{suffix}"), 403)
    assert_problem(a("POST", f"{API}/{licence}/suspend", json={"reason": "越权"}), 403)
    assert [(e.action, e.outcome, e.licence) for e in events_from(a.address)] == [("denied", "forbidden", licence)] * 4
    assert Licence.get_by_id(licence).status == "valid"
    assert_problem(a("GET", API, query_string={"kind": "driving_licence"}), 403)
    assert all(item["kind"] == "id_card" for item in a("GET", API).get_json()["items"])


def test_a_token_scoped_to_fewer_kinds_may_not_change_the_others(api: Callable[..., Api], platform: Any, police: str) -> None:
    licence = issue_via_api(api(platform.demo_tokens[police]), "driving_licence")["identifier"]
    _, token = token_service.create_token(police, ["id_card"], label="id cards only")
    a = api(token)
    assert_problem(a("POST", f"{API}/{licence}/versions", json={"data": sample_data("driving_licence")}), 403)
    assert Licence.get_by_id(licence).status == "valid"


def test_unknown_licence_is_404(api: Callable[..., Api], platform: Any, police: str, police_licence: dict[str, Any]) -> None:
    identifier = police_licence["identifier"]
    unknown = identifier[:-6] + ("X" if identifier[-6] != "X" else "Y") + identifier[-5:]
    resp = api(platform.demo_tokens[police])("GET", f"{API}/{unknown}")
    assert resp.status_code in (404, 422)
    assert resp.mimetype == PROBLEM


# -- the audit trail --------------------------------------------------------------------------


def personal_values(kind: str) -> list[str]:
    data = sample_data(kind)
    return [data[k] for k in ("name", "id_number", "licence_number", "address", "birth_date") if data.get(k)]


def test_every_step_of_a_licence_is_an_audit_event(client: Any, api: Callable[..., Api], platform: Any, police: str, education: str) -> None:
    a = api(platform.demo_tokens[police])
    first = issue_via_api(a)["identifier"]
    assert a("GET", f"{API}/{first}/pdf").status_code == 200
    second = a("POST", f"{API}/{first}/versions", json={"data": {**sample_data("id_card"), "address": "北京市东城区景山前街4号院2号楼3单元502室"}})
    assert second.status_code == 201, second.get_data(as_text=True)
    second_id = second.get_json()["identifier"]
    for action in ("suspend", "reinstate", "revoke"):
        assert a("POST", f"{API}/{second_id}/{action}", json={"reason": f"测试{action}"}).status_code == 200
    verifier = next(_addresses)
    resp = client.post("/api/v1/verify", json={"qr": second.get_json()["qr_text"]}, environ_base={"REMOTE_ADDR": verifier})
    assert resp.get_json()["verdict"] == "revoked"
    intruder = api(platform.demo_tokens[education])
    assert_problem(intruder("GET", f"{API}/{second_id}/pdf"), 404)

    def trail(licence: str) -> list[tuple[str | None, ...]]:
        return [(e.action, e.actor, e.outcome, e.client) for e in events_of(licence)]

    assert trail(first) == [
        ("issue", a.actor, "ok", a.address),
        ("download", a.actor, "ok", a.address),
        ("supersede", a.actor, "ok", a.address),
    ]
    assert trail(second_id) == [
        ("change", a.actor, "ok", a.address),
        ("suspend", a.actor, "ok", a.address),
        ("reinstate", a.actor, "ok", a.address),
        ("revoke", a.actor, "ok", a.address),
        ("verify", "public", "revoked", verifier),
        ("denied", intruder.actor, "forbidden", intruder.address),
    ]
    for event in events_of(first) + events_of(second_id):
        at = datetime.fromisoformat(event.at)
        assert at.tzinfo is not None and abs(datetime.now(timezone.utc) - at) < timedelta(minutes=10)


def test_audit_events_hold_no_personal_data(client: Any, api: Callable[..., Api], platform: Any, police: str) -> None:
    """Nothing in the trail but the identifier: no names, ID numbers, addresses, birth dates."""
    a = api(platform.demo_tokens[police])
    for kind in ("id_card", "driving_licence"):
        issued = issue_via_api(a, kind)
        a("GET", f"{API}/{issued['identifier']}")
        a("GET", f"{API}/{issued['identifier']}/pdf")
        client.post("/api/v1/verify", json={"qr": issued["qr_text"]}, environ_base={"REMOTE_ADDR": a.address})
    secrets_ = [v for kind in ("id_card", "driving_licence", "degree_certificate", "business_licence") for v in personal_values(kind)]
    secrets_ += [t for t in platform.demo_tokens.values()]
    seal_all()
    rows = list(AuditEvent.select().dicts())
    assert len(rows) > 5
    for row in rows:
        text = json.dumps(row, ensure_ascii=False, default=str)
        leaked = [v for v in secrets_ if v in text]
        assert not leaked, (row, leaked)


# -- a licence's history ----------------------------------------------------------------------


def test_history_shows_issue_download_and_status_changes_with_reasons(api: Callable[..., Api], platform: Any, police: str, police_licence: dict[str, Any]) -> None:
    identifier = police_licence["identifier"]
    a = api(platform.demo_tokens[police])
    assert a("GET", f"{API}/{identifier}/pdf").status_code == 200
    assert a("POST", f"{API}/{identifier}/suspend", json={"reason": "证件遗失，暂停使用"}).status_code == 200
    assert a("POST", f"{API}/{identifier}/reinstate", json={"reason": "证件已找回"}).status_code == 200
    seal_all()  # in the chain, each with its place
    resp = a("GET", f"{API}/{identifier}/events")
    assert resp.status_code == 200
    history = resp.get_json()
    assert history["identifier"] == identifier
    assert [e["action"] for e in history["events"]] == ["issue", "download", "suspend", "reinstate"]
    seqs = [e["seq"] for e in history["events"]]
    assert seqs == sorted(seqs)
    assert all(e["outcome"] == "ok" for e in history["events"])
    assert [(c["from"], c["to"], c["reason"]) for c in history["status_changes"]] == [
        ("valid", "suspended", "证件遗失，暂停使用"),
        ("suspended", "valid", "证件已找回"),
    ]
    assert all(c["actor"] == a.actor and datetime.fromisoformat(c["at"]).tzinfo for c in history["status_changes"])


def test_history_is_for_the_issuing_department_only(api: Callable[..., Api], platform: Any, education: str, police_licence: dict[str, Any]) -> None:
    assert_problem(api(platform.demo_tokens[education])("GET", f"{API}/{police_licence['identifier']}/events"), 404)
    assert_problem(api(None)("GET", f"{API}/{police_licence['identifier']}/events"), 401)


# -- request bodies and parameters ------------------------------------------------------------


def test_json_body_over_2_mib_is_413(api: Callable[..., Api], platform: Any, police: str) -> None:
    data = {**sample_data("id_card"), "photo": "A" * (3 * 1024 * 1024)}
    body = assert_problem(api(platform.demo_tokens[police])("POST", API, json={"kind": "id_card", "data": data}), 413)
    assert "2 MiB" in body["detail"]


def test_chunked_json_body_over_2_mib_is_413(client: Any, platform: Any, police: str, addr: Callable[[], str]) -> None:
    data = {**sample_data("id_card"), "photo": "A" * (3 * 1024 * 1024)}
    raw = json.dumps({"kind": "id_card", "data": data}).encode()
    resp = client.post(
        API,
        input_stream=io.BytesIO(raw),
        content_type="application/json",
        headers={"Authorization": f"Bearer {platform.demo_tokens[police]}", "Transfer-Encoding": "chunked"},
        environ_base={"REMOTE_ADDR": addr(), "wsgi.input_terminated": True},
    )
    assert_problem(resp, 413)


@pytest.mark.parametrize(
    "payload, fields",
    [
        ([], ("body",)),
        ("just a string", ("body",)),
        ({"kind": "id_card"}, ("data",)),
        ({"data": {}}, ("kind",)),
        ({"kind": 7, "data": {}}, ("kind",)),
        ({"kind": "id_card", "data": "not an object"}, ("data",)),
        ({"kind": "id_card", "data": {}, "department": "111100000000120010"}, ("department",)),
        ({"kind": "passport", "data": {}}, ("kind",)),
    ],
    ids=["array", "string", "no-data", "no-kind", "kind-number", "data-string", "unknown-field", "unknown-kind"],
)
def test_issue_body_of_the_wrong_shape_is_422_naming_the_field(api: Callable[..., Api], platform: Any, police: str, payload: Any, fields: tuple[str, ...]) -> None:
    assert_problem(api(platform.demo_tokens[police])("POST", API, json=payload), 422, *fields)


def test_issue_body_not_json_is_422(api: Callable[..., Api], platform: Any, police: str) -> None:
    a = api(platform.demo_tokens[police])
    assert_problem(a("POST", API, data="{not json", content_type="application/json"), 422, "body")
    assert_problem(a("POST", API, data=json.dumps({"kind": "id_card", "data": {}}), content_type="text/plain"), 422, "body")


def test_unknown_field_inside_data_is_named(api: Callable[..., Api], platform: Any, police: str) -> None:
    data = {**sample_data("id_card"), "nickname": "小明"}
    assert_problem(api(platform.demo_tokens[police])("POST", API, json={"kind": "id_card", "data": data}), 422, "data.nickname")


@pytest.mark.parametrize("action", ["revoke", "suspend", "reinstate"])
def test_status_change_body_is_checked(api: Callable[..., Api], platform: Any, police: str, police_licence: dict[str, Any], action: str) -> None:
    a = api(platform.demo_tokens[police])
    url = f"{API}/{police_licence['identifier']}/{action}"
    assert_problem(a("POST", url, json={"reason": "ok", "note": "extra"}), 422, "note")
    assert_problem(a("POST", url, json={}), 422, "reason")
    assert_problem(a("POST", url, json={"reason": 5}), 422, "reason")
    assert_problem(a("POST", url, json=["reason"]), 422, "body")
    assert Licence.get_by_id(police_licence["identifier"]).status == "valid"


def test_new_version_body_is_checked(api: Callable[..., Api], platform: Any, police: str, police_licence: dict[str, Any]) -> None:
    a = api(platform.demo_tokens[police])
    url = f"{API}/{police_licence['identifier']}/versions"
    assert_problem(a("POST", url, json={"data": sample_data("id_card"), "kind": "id_card"}), 422, "kind")
    assert_problem(a("POST", url, json={}), 422, "data")
    assert Licence.get_by_id(police_licence["identifier"]).status == "valid"


@pytest.mark.parametrize(
    "query, fields",
    [
        ({"page": "2"}, ("page",)),
        ({"kind": "id_card", "sort": "name", "offset": "3"}, ("offset", "sort")),
        ({"limit": "ten"}, ("limit",)),
        ({"limit": "0"}, ("limit",)),
        ({"limit": "101"}, ("limit",)),
        ({"status": "lost"}, ("status",)),
        ({"issued_after": "yesterday"}, ("issued_after",)),
    ],
    ids=["page", "sort-offset", "limit-text", "limit-0", "limit-101", "status", "issued-after"],
)
def test_list_query_parameters_are_checked(api: Callable[..., Api], platform: Any, police: str, query: dict[str, str], fields: tuple[str, ...]) -> None:
    assert_problem(api(platform.demo_tokens[police])("GET", API, query_string=query), 422, *fields)


# -- Idempotency-Key --------------------------------------------------------------------------


def test_same_idempotency_key_and_body_replays_the_same_licence(api: Callable[..., Api], platform: Any, police: str) -> None:
    a = api(platform.demo_tokens[police])
    key = f"order-{uuid.uuid4()}"
    before = Licence.select().where(Licence.issuer == police).count()
    first = a("POST", API, json={"kind": "id_card", "data": sample_data("id_card")}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    # The same body with its keys in another order is the same request.
    reordered = dict(reversed(list(sample_data("id_card").items())))
    second = a("POST", API, json={"data": reordered, "kind": "id_card"}, headers={"Idempotency-Key": key})
    assert second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json()["identifier"] == first.get_json()["identifier"]
    first_codes, second_codes = first.get_json().pop("claim_codes"), second.get_json().pop("claim_codes")
    assert {k: v for k, v in second.get_json().items() if k != "claim_codes"} == {
        k: v for k, v in first.get_json().items() if k != "claim_codes"
    }
    assert second.headers["Location"] == first.headers["Location"]
    # The first answer may never have arrived: the replay carries fresh claim codes, the old ones are void.
    holder = sample_data("id_card")["id_number"]
    now = datetime.now(timezone.utc)
    assert [c["holder"] for c in second_codes] == [c["holder"] for c in first_codes] == [mask_number(holder)]
    assert use_claim_code(code_hash(first_codes[0]["code"]), holder, now) is None
    assert use_claim_code(code_hash(second_codes[0]["code"]), holder, now) == first.get_json()["identifier"]
    assert Licence.select().where(Licence.issuer == police).count() == before + 1
    assert [e.action for e in events_of(first.get_json()["identifier"])] == ["issue"]


def test_same_idempotency_key_with_another_body_is_409(api: Callable[..., Api], platform: Any, police: str) -> None:
    a = api(platform.demo_tokens[police])
    key = f"order-{uuid.uuid4()}"
    first = a("POST", API, json={"kind": "id_card", "data": sample_data("id_card")}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    before = Licence.select().count()
    other = {**sample_data("id_card"), "address": "北京市东城区景山前街4号院2号楼3单元502室"}
    body = assert_problem(a("POST", API, json={"kind": "id_card", "data": other}, headers={"Idempotency-Key": key}), 409)
    assert "Idempotency-Key" in body["detail"]
    assert Licence.select().count() == before


def test_idempotency_key_is_per_department(api: Callable[..., Api], platform: Any, police: str, education: str) -> None:
    key = f"order-{uuid.uuid4()}"
    mine = issue_via_api(api(platform.demo_tokens[police]), headers={"Idempotency-Key": key})
    theirs = api(platform.demo_tokens[education])("POST", API, json={"kind": "degree_certificate", "data": sample_data("degree_certificate")}, headers={"Idempotency-Key": key})
    assert theirs.status_code == 201, theirs.get_data(as_text=True)
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["identifier"] != mine["identifier"]
    assert theirs.get_json()["kind"] == "degree_certificate"


@pytest.mark.parametrize("key", ["", "x" * 101, "bad\x01key"], ids=["empty", "too-long", "control-char"])
def test_malformed_idempotency_key_is_422(api: Callable[..., Api], platform: Any, police: str, key: str) -> None:
    resp = api(platform.demo_tokens[police])("POST", API, json={"kind": "id_card", "data": sample_data("id_card")}, headers={"Idempotency-Key": key})
    assert_problem(resp, 422, "Idempotency-Key")


# -- cursor paging ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paging_department(platform: Any) -> tuple[str, str, list[str]]:
    """A department of its own with a token and seven business licences: (code, token, identifiers)."""
    from licence_svc.services.issuing import issue
    from licence_svc.services.setup import add_department, demo_code

    code = demo_code(f"1111000000009{secrets.randbelow(9000) + 1000}")
    add_department(platform, code, "示例市测试分页局（演示）", ["business_licence"])
    _, token = token_service.create_token(code, label="paging")
    issued = [issue(platform, kind="business_licence", data=sample_data("business_licence"), department=code).identifier for _ in range(7)]
    return code, token, issued


def test_cursor_pages_cover_all_without_overlap(api: Callable[..., Api], paging_department: tuple[str, str, list[str]]) -> None:
    _, token, issued = paging_department
    a = api(token)
    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(10):
        query = {"limit": "3", "kind": "business_licence", **({"cursor": cursor} if cursor else {})}
        resp = a("GET", API, query_string=query)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        page = resp.get_json()
        pages.append([item["identifier"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [i for p in pages for i in p]
    assert len(set(flat)) == len(flat) == 7
    assert flat == list(reversed(issued))  # newest first


def test_exact_multiple_of_the_page_size_ends_with_null_cursor(api: Callable[..., Api], paging_department: tuple[str, str, list[str]]) -> None:
    _, token, issued = paging_department
    page = api(token)("GET", API, query_string={"limit": "7"}).get_json()
    assert [i["identifier"] for i in page["items"]] == list(reversed(issued))
    assert page["next_cursor"] is None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not-base64!!!",
        "abc",
        _b64(b"\xff\xfe garbage"),
        _b64(b"{\"at\": 1}"),
        _b64(b"[1, 2]"),
        _b64(b"[null, null]"),
        _b64(b"[\"not a date\", \"x\"]"),
        _b64(b"123"),
    ],
    ids=["punctuation", "short", "binary", "object", "numbers", "nulls", "bad-date", "number"],
)
def test_forged_cursor_is_422(api: Callable[..., Api], paging_department: tuple[str, str, list[str]], cursor: str) -> None:
    _, token, _ = paging_department
    assert_problem(api(token)("GET", API, query_string={"limit": "3", "cursor": cursor}), 422, "cursor")


def test_listing_shows_only_the_departments_own_licences(api: Callable[..., Api], platform: Any, paging_department: tuple[str, str, list[str]], departments: dict[str, str]) -> None:
    _, _, issued = paging_department
    demo_market = api(platform.demo_tokens[departments["business_licence"]])
    seen: set[str] = set()
    cursor = None
    while True:
        page = demo_market("GET", API, query_string={"limit": "100", **({"cursor": cursor} if cursor else {})}).get_json()
        seen |= {i["identifier"] for i in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert not seen & set(issued)
