"""Black box: hostile or malformed JSON bodies on every endpoint that reads JSON are a 422 problem
naming ``body`` and the reason (413 when too large), never a 500, and change nothing.

Before web/bodies.py: a lone surrogate in a key gave 500 (the problem document naming the unknown
field could not be encoded), and nesting 50,000 deep gave 500 (RecursionError in json.loads).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import credit_code, load_sample
from tests.http.contract import API, Contract, bearer

PROBLEM = "application/problem+json"

# name -> (raw body, words the reason must contain)
BODIES: dict[str, tuple[bytes, str]] = {
    "surrogate-key": (b'{"\\ud800": 1}', "surrogate"),
    "surrogate-value": (b'{"qr": "\\udfff", "code": "\\udfff", "reason": "\\udfff"}', "surrogate"),
    "surrogate-utf8-bytes": (b'{"reason": "\xed\xa0\x80"}', "surrogate"),
    "deep-array-50000": (b"[" * 50_000 + b"]" * 50_000, "nested deeper than"),
    "deep-object-100000": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested deeper than"),
    "deep-array-40-in-object": (b'{"data": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper than"),
    "nan": (b'{"reason": NaN}', "NaN"),
    "infinity": (b'{"reason": -Infinity}', "Infinity"),
    "duplicate-key": (b'{"reason": "a", "reason": "b"}', "duplicate key"),
    "huge-integer": (b'{"reason": ' + b"9" * 5000 + b"}", "too many digits"),
    "not-utf8": (b'{"reason": "\xff\xfe"}', "UTF-8"),
    "truncated": (b'{"reason": "a', "not JSON"),
    "empty": (b"", "empty"),
}
# The verify endpoint takes at most 64 KiB of JSON: its deep bodies must fit to reach the parser.
VERIFY_BODIES = {
    **{k: v for k, v in BODIES.items() if not k.startswith("deep")},
    "deep-array-30000": (b"[" * 30_000 + b"]" * 30_000, "nested deeper than"),
}


@pytest.fixture(scope="module")
def tokens(platform: Any, departments: dict[str, str]) -> dict[str, str]:
    """issue: the police's demo token; window: a service window's token with redeem and check."""
    from licence_svc.services.setup import add_department
    from licence_svc.services.tokens import create_token

    window = credit_code()
    add_department(platform, window, "测试区政务服务中心", [], issue_key=False)
    return {
        "issue": platform.demo_tokens[departments["id_card"]],
        "window": create_token(window, [], label="hostile json", scopes=["redeem", "check"])[1],
    }


@pytest.fixture(scope="module")
def licence(platform: Any, departments: dict[str, str]) -> str:
    from licence_svc.services.issuing import issue

    return issue(platform, kind="id_card", data=load_sample("id_card"), department=departments["id_card"]).identifier


# (method, documented path, token name or None) of every endpoint whose body is JSON
ENDPOINTS = [
    ("POST", f"{API}/verify", None),
    ("POST", f"{API}/licences", "issue"),
    ("POST", f"{API}/licences/{{identifier}}/versions", "issue"),
    ("POST", f"{API}/licences/{{identifier}}/revoke", "issue"),
    ("POST", f"{API}/licences/{{identifier}}/suspend", "issue"),
    ("POST", f"{API}/licences/{{identifier}}/reinstate", "issue"),
    ("POST", f"{API}/licences/search", "issue"),
    ("POST", f"{API}/shares/redeem", "window"),
    ("POST", f"{API}/checks", "window"),
    ("POST", f"{API}/matters/{{code}}/materials", "window"),
]


def _send(client: Any, method: str, path: str, token: str | None, body: bytes, licence: str) -> Any:
    headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
    return client.open(path.replace("{identifier}", licence).replace("{code}", "QYKB-001"), method=method, data=body, headers=headers)


@pytest.mark.parametrize("method, path, token", ENDPOINTS, ids=[p.removeprefix(API + "/") for _, p, _ in ENDPOINTS])
def test_hostile_json_is_a_422_naming_the_body(
    client: Any, contract: Contract, tokens: dict[str, str], licence: str, method: str, path: str, token: str | None
) -> None:
    from licence_svc.storage.models import Licence

    bodies = VERIFY_BODIES if path.endswith("/verify") else BODIES
    for name, (raw, words) in bodies.items():
        resp = _send(client, method, path, tokens[token] if token else None, raw, licence)
        assert resp.status_code == 422, (name, resp.status_code, resp.get_data(as_text=True)[:300])
        assert resp.mimetype == PROBLEM, name
        problem = contract.check(resp, method, path)
        assert [e["field"] for e in problem["errors"]] == ["body"], (name, problem)
        assert words in problem["errors"][0]["reason"], (name, problem)
    row = Licence.get_by_id(licence)
    assert (row.status, row.superseded_by) == ("valid", None), "a refused body changed the licence"


def test_deep_json_over_the_verify_cap_is_413(client: Any, contract: Contract) -> None:
    resp = _send(client, "POST", f"{API}/verify", None, b"[" * 100_000 + b"]" * 100_000, "")
    assert resp.status_code == 413 and contract.check(resp, "POST", f"{API}/verify")["detail"] == "JSON body larger than 64 KiB"


def test_a_surrogate_named_as_an_unknown_field_is_encodable(client: Any, tokens: dict[str, str], licence: str) -> None:
    """The 500 of before: the unknown field's name went into the problem document as it was."""
    resp = _send(client, "POST", f"{API}/licences", tokens["issue"], b'{"kind": "id_card", "data": {}, "x\\ud83d": 1}', licence)
    assert resp.status_code == 422 and "surrogate" in resp.get_json(force=True)["errors"][0]["reason"]


def test_long_unknown_field_names_are_cut_in_the_answer(client: Any, tokens: dict[str, str], licence: str) -> None:
    resp = _send(client, "POST", f"{API}/licences", tokens["issue"], b'{"kind": "id_card", "data": {}, "' + b"k" * 100_000 + b'": 1}', licence)
    assert resp.status_code == 422
    assert [e["field"] for e in resp.get_json(force=True)["errors"]] == ["k" * 100]
    assert len(resp.get_data()) < 2000


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/licences/%ED%A0%80",
        "/api/v1/licences?holder=%ED%A0%80",
        "/api/v1/licences?holder=%FF%FE",
        "/v/%ED%A0%80",
        "/V/%FF",
        "/me/licences/%ED%A0%80",
        "/api/v1/matters/%ED%A0%80/materials?holder=%ED%A0%80",
    ],
)
def test_undecodable_paths_and_queries_are_not_500(client: Any, tokens: dict[str, str], path: str) -> None:
    resp = client.get(path, headers=bearer(tokens["issue"] if "/licences" in path else tokens["window"]))
    assert resp.status_code < 500, (path, resp.status_code, resp.get_data(as_text=True)[:300])


def test_well_formed_json_still_works(client: Any, contract: Contract, tokens: dict[str, str], make_licence: Callable[..., Any]) -> None:
    """The parser's checks leave ordinary bodies alone: unicode escapes of real characters, a
    supplementary-plane name, a household register's members."""
    issued = make_licence("id_card")
    body = '{"reason": "\\u8bc1\\u4ef6\\u9057\\u5931 \U00020000"}'.encode()
    resp = _send(client, "POST", f"{API}/licences/{{identifier}}/suspend", tokens["issue"], body, issued.identifier)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert contract.check(resp, "POST", f"{API}/licences/{{identifier}}/suspend")["status_reason"] == "证件遗失 \U00020000"


def test_a_problem_document_survives_a_lone_surrogate(app: Any) -> None:
    """The last line of defence: whatever reaches a problem's detail, the answer is encodable."""
    from licence_svc.web.problems import problem

    with app.test_request_context("/x"):
        resp = problem(422, "invalid-input", "Invalid input", "field \ud800 is odd", errors=[{"field": "\udfff", "reason": "x"}])
    assert resp.status_code == 422 and resp.get_json()["detail"] == "field ? is odd"
