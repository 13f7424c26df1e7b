"""Black box: GET /api/v1/openapi.json is valid OpenAPI 3.1, covers every /api/v1 route, and every
real response (successes and the main errors) has a documented status, content type, headers and a
body its schema accepts; /api/docs renders it without external resources."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from licence_svc.core.identifiers import new_licence_id
from licence_svc.core.kinds import KINDS as KIND_SPECS
from tests.helpers import load_sample as sample_data
from tests.http.contract import API, Contract, bearer

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")


@pytest.fixture()
def tokens(platform: Any, departments: dict[str, str]) -> dict[str, str]:
    """kind → demo bearer token of the department that issues it (never revoked here: shared)."""
    return {kind: platform.demo_tokens[code] for kind, code in departments.items()}


@pytest.fixture()
def issue_api(client: Any, contract: Contract, tokens: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """Issue a licence of ``kind`` through the API (sample data); returns the checked 201 body."""

    def issue(kind: str, **overrides: Any) -> dict[str, Any]:
        resp = client.post(f"{API}/licences", json={"kind": kind, "data": {**sample_data(kind), **overrides}}, headers=bearer(tokens[kind]))
        assert resp.status_code == 201, resp.get_data(as_text=True)
        return contract.check(resp, "POST", f"{API}/licences")  # type: ignore[no-any-return]

    return issue


# ---- the document itself -----------------------------------------------------------------------


def test_document_is_valid_openapi_3_1(contract: Contract) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    assert contract.doc["openapi"].startswith("3.1.")
    try:
        validate(contract.doc)
    except OpenAPIValidationError as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"not valid OpenAPI 3.1: {exc}")
    for name, schema in contract.doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name


def test_every_api_route_is_documented_and_nothing_else(app: Any, contract: Contract) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/") or rule.rule == API:
            path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, item in contract.doc["paths"].items() for m in item if m in ("get", "post", "put", "patch", "delete")}
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented operations the server does not have"


def test_kind_schemas_follow_the_field_specs(contract: Contract) -> None:
    schemas = contract.doc["components"]["schemas"]
    for kind, spec in KIND_SPECS.items():
        data = schemas["".join(p.capitalize() for p in kind.split("_")) + "Data"]
        assert data["additionalProperties"] is False
        assert set(data["properties"]) == {f.name for f in spec.fields}
        assert set(data["required"]) == {f.name for f in spec.fields if not f.optional}
    assert schemas["IdCardData"]["properties"]["id_number"]["pattern"] == "^[1-9][0-9]{16}[0-9X]$"
    assert schemas["IdCardData"]["properties"]["valid_until"]["type"] == ["string", "null"]
    assert schemas["BusinessLicenceData"]["properties"]["term_until"]["type"] == ["string", "null"]
    assert schemas["DrivingLicenceData"]["properties"]["valid_until"]["type"] == "string"


@pytest.mark.parametrize("kind", KINDS)
def test_samples_satisfy_their_kind_schema(contract: Contract, kind: str) -> None:
    """The valid sample of each kind is a valid LicenceRequest (the schema is not stricter than the data)."""
    v = contract.validator("components", "schemas", "LicenceRequest")
    assert list(v.iter_errors({"kind": kind, "data": sample_data(kind)})) == []
    assert list(v.iter_errors({"kind": kind, "data": {**sample_data(kind), "extra": "x"}})) != []
    wrong = "business_licence" if kind != "business_licence" else "id_card"
    assert list(v.iter_errors({"kind": wrong, "data": sample_data(kind)})) != []


def test_docs_page_is_readable_and_self_contained(client: Any, contract: Contract) -> None:
    resp = client.get("/api/docs")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    for path, item in contract.doc["paths"].items():
        assert path in html
        for op in item.values():
            assert op["operationId"] in html
    for name in contract.doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in html
    assert "接口文档" in html and "API documentation" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "external resource on the docs page"
    links = re.findall(r"<link[^>]*>", html)  # the stylesheets are the platform's own (no inline style under the CSP)
    assert links and all(re.search(r'href="/static/css/[a-z_]+\.css"', link) for link in links), links
    assert "@import" not in html


# ---- public operations -------------------------------------------------------------------------


def test_public_documents(client: Any, contract: Contract) -> None:
    for path in ("trust-list", "status", "root-certificate", "openapi.json"):
        contract.check(client.get(f"{API}/{path}"), "GET", f"{API}/{path}")


def test_verify_qr_and_its_errors(client: Any, contract: Contract, issue_api: Callable[..., dict[str, Any]], tokens: dict[str, str]) -> None:
    path = f"{API}/verify"
    issued = issue_api("driving_licence")
    report = contract.check(client.post(path, json={"qr": issued["qr_text"]}), "POST", path)
    assert report["verdict"] == "valid" and report["licence"]["holder_id"]
    resp = client.post(f"{API}/licences/{issued['identifier']}/revoke", json={"reason": "test"}, headers=bearer(tokens["driving_licence"]))
    contract.check(resp, "POST", f"{API}/licences/{{identifier}}/revoke")
    report = contract.check(client.post(path, json={"qr": issued["qr_text"]}), "POST", path)
    assert report["verdict"] == "revoked"
    for body, field in (({"qr": "not a licence"}, None), ({}, "qr"), ({"qr": "x", "more": 1}, "more"), ([1], "body")):
        problem = contract.check(client.post(path, json=body), "POST", path)
        assert problem["status"] == 422
        assert (problem.get("errors") or [{}])[0].get("field") == field
    contract.check(client.post(path, data=b"qr=1", content_type="text/plain"), "POST", path)


def test_verify_uploads(client: Any, contract: Contract, issue_api: Callable[..., dict[str, Any]], tokens: dict[str, str]) -> None:
    path = f"{API}/verify"
    issued = issue_api("degree_certificate")
    pdf = client.get(f"{API}/licences/{issued['identifier']}/pdf", headers=bearer(tokens["degree_certificate"]))
    pdf_bytes = contract.check(pdf, "GET", f"{API}/licences/{{identifier}}/pdf")
    report = contract.check(client.post(path, data={"file": (io.BytesIO(pdf_bytes), "l.pdf")}), "POST", path)
    assert report["verdict"] == "valid" and report["evidence"] == "pdf"
    tampered = pdf_bytes.replace(b"/Producer", b"/Producex", 1) if b"/Producer" in pdf_bytes else pdf_bytes[:-40] + b"%" * 40
    report = contract.check(client.post(path, data={"file": (io.BytesIO(tampered), "l.pdf")}), "POST", path)
    assert report["verdict"] != "valid"
    contract.check(client.post(path, data={"file": (io.BytesIO(b"not an image"), "x.png")}), "POST", path)
    problem = contract.check(client.post(path, data={"other": (io.BytesIO(b"x"), "x.png")}), "POST", path)
    assert problem["errors"][0]["field"] == "file"
    big = b"%PDF-1.7\n" + b"0" * (10 * 1024 * 1024)
    problem = contract.check(client.post(path, data={"file": (io.BytesIO(big), "big.pdf")}), "POST", path)
    assert problem["status"] == 413


# ---- department operations: success ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_issue_and_read_every_kind(client: Any, contract: Contract, issue_api: Callable[..., dict[str, Any]], tokens: dict[str, str], kind: str) -> None:
    issued = issue_api(kind)
    ident, auth = issued["identifier"], bearer(tokens[kind])
    record = contract.check(client.get(f"{API}/licences/{ident}", headers=auth), "GET", f"{API}/licences/{{identifier}}")
    assert record["kind"] == kind and record["data"]
    contract.check(client.get(f"{API}/licences/{ident}/events", headers=auth), "GET", f"{API}/licences/{{identifier}}/events")


def test_list_and_page(client: Any, contract: Contract, issue_api: Callable[..., dict[str, Any]], tokens: dict[str, str]) -> None:
    path = f"{API}/licences"
    auth = bearer(tokens["id_card"])
    issue_api("id_card")
    issue_api("id_card")
    page = contract.check(client.get(path, query_string={"kind": "id_card", "limit": 1, "status": "valid"}, headers=auth), "GET", path)
    assert len(page["items"]) == 1 and page["next_cursor"]
    contract.check(client.get(path, query_string={"cursor": page["next_cursor"], "limit": 1}, headers=auth), "GET", path)
    contract.check(client.get(path, query_string={"holder": sample_data("id_card")["id_number"], "issued_after": "2020-01-01"}, headers=auth), "GET", path)
    for bad in ({"limit": 0}, {"limit": "x"}, {"status": "gone"}, {"issued_after": "yesterday"}, {"cursor": "!!"}, {"colour": "red"}):
        problem = contract.check(client.get(path, query_string=bad, headers=auth), "GET", path)
        assert problem["status"] == 422 and problem["errors"]


def test_lifecycle(client: Any, contract: Contract, issue_api: Callable[..., dict[str, Any]], tokens: dict[str, str]) -> None:
    auth = bearer(tokens["business_licence"])
    ident = issue_api("business_licence")["identifier"]
    one = f"{API}/licences/{{identifier}}"

    def post(action: str, body: Any) -> dict[str, Any]:
        return contract.check(client.post(f"{API}/licences/{ident}/{action}", json=body, headers=auth), "POST", f"{one}/{action}")  # type: ignore[no-any-return]

    assert post("suspend", {"reason": "年报未报"})["status"] == "suspended"
    assert post("suspend", {"reason": "again"})["status"] == 409
    assert post("reinstate", {"reason": "已补报"})["status"] == "valid"
    assert post("reinstate", {"reason": "again"})["status"] == 409
    newer = post("versions", {"data": {**sample_data("business_licence"), "registered_capital": "2000万元人民币"}})
    assert newer["version"] == 2
    old = contract.check(client.get(f"{API}/licences/{ident}", headers=auth), "GET", one)
    assert old["status"] == "superseded" and old["superseded_by"] == newer["identifier"]
    assert post("versions", {"data": sample_data("business_licence")})["status"] == 409  # superseded
    assert post("revoke", {"reason": "x"})["status"] == 409  # superseded: not in force
    ident = newer["identifier"]
    assert post("revoke", {"reason": "注销登记"})["status"] == "revoked"
    assert post("revoke", {"reason": "again"})["status"] == 409
    assert post("reinstate", {"reason": "x"})["status"] == 409
    history = contract.check(client.get(f"{API}/licences/{ident}/events", headers=auth), "GET", f"{one}/events")
    assert [c["to"] for c in history["status_changes"]] == ["revoked"]
    for body, field in (({}, "reason"), ({"reason": " "}, "reason"), ({"reason": 3}, "reason"), ({"reason": "x" * 201}, "reason"), ({"reason": "x", "why": 1}, "why")):
        problem = post("suspend", body)
        assert problem["status"] == 422 and problem["errors"][0]["field"] == field
    problem = post("versions", {"data": {"name": "x"}})
    assert problem["status"] == 409  # revoked comes first: only a licence in force can be changed


def test_idempotency(client: Any, contract: Contract, tokens: dict[str, str]) -> None:
    path = f"{API}/licences"
    headers = {**bearer(tokens["id_card"]), "Idempotency-Key": "openapi-test-1"}
    body = {"kind": "id_card", "data": sample_data("id_card")}
    first = contract.check(client.post(path, json=body, headers=headers), "POST", path)
    again = client.post(path, json=body, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert contract.check(again, "POST", path)["identifier"] == first["identifier"]
    body["data"]["address"] = "北京市东城区另一个地址1号"
    problem = contract.check(client.post(path, json=body, headers=headers), "POST", path)
    assert problem["status"] == 409
    for key in ("", "k" * 101):
        problem = contract.check(client.post(path, json=body, headers={**headers, "Idempotency-Key": key}), "POST", path)
        assert problem["errors"][0]["field"] == "Idempotency-Key"


# ---- department operations: errors ------------------------------------------------------------

DEPT_OPS = (
    ("POST", "/licences"),
    ("GET", "/licences"),
    ("GET", "/licences/{identifier}"),
    ("GET", "/licences/{identifier}/pdf"),
    ("GET", "/licences/{identifier}/events"),
    ("POST", "/licences/{identifier}/versions"),
    ("POST", "/licences/{identifier}/revoke"),
    ("POST", "/licences/{identifier}/suspend"),
    ("POST", "/licences/{identifier}/reinstate"),
)
BODIES = {"/licences": {"kind": "id_card", "data": {}}, "/versions": {"data": {}}}


def call(client: Any, method: str, template: str, ident: str, headers: dict[str, str], addr: str = "127.0.0.1") -> Any:
    url = API + template.replace("{identifier}", ident)
    body = BODIES.get(template[template.rfind("/"):], {"reason": "test"}) if method == "POST" else None
    return client.open(url, method=method, json=body, headers=headers, environ_base={"REMOTE_ADDR": addr})


@pytest.mark.parametrize(("n", "op"), list(enumerate(DEPT_OPS)))
def test_unauthenticated(client: Any, contract: Contract, n: int, op: tuple[str, str], departments: dict[str, str]) -> None:
    ident = str(new_licence_id(KIND_SPECS["id_card"].kind_code, departments["id_card"]))
    for i, headers in enumerate(({}, {"Authorization": "Bearer lic_00000000_" + "A" * 43}, {"Authorization": "Basic eDp5"})):
        resp = call(client, op[0], op[1], ident, headers, addr=f"198.51.100.{10 + n}")
        assert resp.status_code == 401, f"{op} {i}"
        contract.check(resp, op[0], API + op[1])


def test_rate_limited(client: Any, contract: Contract, tokens: dict[str, str]) -> None:
    addr = "203.0.113.99"
    for _ in range(20):
        contract.check(call(client, "GET", "/licences", "", {}, addr), "GET", f"{API}/licences")
    resp = call(client, "GET", "/licences", "", bearer(tokens["id_card"]), addr)
    assert resp.status_code == 429
    contract.check(resp, "GET", f"{API}/licences")


@pytest.mark.parametrize("op", DEPT_OPS[2:])
def test_other_department_and_unknown_licence(
    client: Any, contract: Contract, op: tuple[str, str], issue_api: Callable[..., dict[str, Any]], tokens: dict[str, str], departments: dict[str, str]
) -> None:
    ident = issue_api("degree_certificate")["identifier"]
    resp = call(client, op[0], op[1], ident, bearer(tokens["business_licence"]))
    assert resp.status_code == 404  # another department's licence answers as an unknown one
    contract.check(resp, op[0], API + op[1])
    unknown = str(new_licence_id(KIND_SPECS["degree_certificate"].kind_code, departments["degree_certificate"]))
    resp = call(client, op[0], op[1], unknown, bearer(tokens["degree_certificate"]))
    assert resp.status_code == 404
    contract.check(resp, op[0], API + op[1])
    resp = call(client, op[0], op[1], ident[:-1] + ("0" if ident[-1] != "0" else "1"), bearer(tokens["degree_certificate"]))
    assert resp.status_code == 422
    assert contract.check(resp, op[0], API + op[1])["errors"][0]["field"] == "identifier"


def test_out_of_scope_kind(client: Any, contract: Contract, departments: dict[str, str], platform: Any, issue_api: Callable[..., dict[str, Any]]) -> None:
    from licence_svc.services.tokens import create_token, revoke_token

    code = departments["id_card"]
    other = next(k for k, c in departments.items() if c == code and k != "id_card")
    token_id, token = create_token(code, ["id_card"], label="openapi test")
    try:
        auth = bearer(token)
        resp = client.post(f"{API}/licences", json={"kind": other, "data": sample_data(other)}, headers=auth)
        assert resp.status_code == 403
        contract.check(resp, "POST", f"{API}/licences")
        resp = client.get(f"{API}/licences", query_string={"kind": other}, headers=auth)
        assert resp.status_code == 403
        contract.check(resp, "GET", f"{API}/licences")
        ident = issue_api(other)["identifier"]
        resp = client.get(f"{API}/licences/{ident}", headers=auth)
        assert resp.status_code == 403
        contract.check(resp, "GET", f"{API}/licences/{{identifier}}")
        resp = client.post(f"{API}/licences", json={"kind": "business_licence", "data": sample_data("business_licence")}, headers=auth)
        assert resp.status_code == 403  # a kind the department may not issue at all
        contract.check(resp, "POST", f"{API}/licences")
    finally:
        revoke_token(token_id)
    resp = client.get(f"{API}/licences", headers=bearer(token), environ_base={"REMOTE_ADDR": "198.51.100.200"})
    assert resp.status_code == 401
    contract.check(resp, "GET", f"{API}/licences")


def test_invalid_data(client: Any, contract: Contract, tokens: dict[str, str]) -> None:
    path = f"{API}/licences"
    auth = bearer(tokens["id_card"])
    data = {**sample_data("id_card"), "id_number": "110101199003071234", "sex": "未知", "extra": 1}
    problem = contract.check(client.post(path, json={"kind": "id_card", "data": data}, headers=auth), "POST", path)
    fields = {e["field"] for e in problem["errors"]}
    assert {"data.id_number", "data.sex", "data.extra"} <= fields
    for body, field in (
        ({"kind": "passport", "data": {}}, "kind"),
        ({"kind": "id_card"}, "data"),
        ({"kind": "id_card", "data": [], "x": 1}, "x"),
        ([], "body"),
    ):
        problem = contract.check(client.post(path, json=body, headers=auth), "POST", path)
        assert problem["status"] == 422 and field in {e["field"] for e in problem["errors"]}
    problem = contract.check(client.post(path, data="{", content_type="application/json", headers=auth), "POST", path)
    assert problem["errors"][0]["field"] == "body"
    huge = json.dumps({"kind": "id_card", "data": {"photo": "A" * (2 * 1024 * 1024)}})
    problem = contract.check(client.post(path, data=huge, content_type="application/json", headers=auth), "POST", path)
    assert problem["status"] == 413


# ---- request bodies: the schema an operation declares is the one applied ----------------------


def _json_body_operations(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (path, method.upper())
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]


def test_every_json_body_is_checked_against_its_declared_schema(app: Any, contract: Contract) -> None:
    """Each operation with a JSON body has a validator built from the served document, and it
    refuses what that schema refuses: a field the schema does not have, a body that is no object."""
    from licence_svc.errors import FieldProblem
    from licence_svc.web.bodies import SCHEMAS

    schemas = app.extensions[SCHEMAS]
    operations = _json_body_operations(contract.doc)
    assert len(operations) == 10
    routes = {re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", r.rule): r.rule for r in app.url_map.iter_rules()}
    for path, method in operations:
        rule = routes[path]
        assert FieldProblem("zz_unknown", "unknown field") in schemas.problems(rule, method, {"zz_unknown": 1}), path
        assert schemas.problems(rule, method, []) == [FieldProblem("body", "must be a JSON object")], path


@pytest.mark.parametrize(
    ("path", "body", "problems"),
    [
        ("/licences", {"kind": 7, "data": {}}, [("kind", "must be one of id_card, household_register, degree_certificate, driving_licence, business_licence")]),
        ("/licences", {"data": {}}, [("kind", "missing")]),
        ("/licences", {"kind": "id_card", "data": [], "x": 1}, [("x", "unknown field"), ("data", "must be a JSON object")]),
        ("/licences/search", {"limit": True, "status": "lost"}, [("status", "must be one of valid, suspended, revoked, superseded"), ("limit", "must be an integer")]),
        ("/licences/search", {"limit": 1000}, [("limit", "must be at most 100")]),
        ("/licences/{identifier}/revoke", {"reason": "", "category": "x"}, [("reason", "must not be empty"), ("category", "must be one of revoked, cancelled, lost, damaged, error, other")]),
        ("/verify", {"qr": "x" * 4097}, [("qr", "longer than 4096 characters")]),
        ("/matters/{code}/materials", {"holder": 1, "grants": ["a", 7]}, [("holder", "must be a string"), ("grants", "item 2: must be a string")]),
        ("/checks", {"kind": "id_card", "holder": "110101199003071233", "claims": {"colour": "red", "name": 5}, "purpose": "x"},
         [("claims.colour", "unknown field"), ("claims.name", "must be a string, a JSON array or null")]),
    ],
)
def test_structure_problems_name_the_field_and_say_why(app: Any, path: str, body: Any, problems: list[tuple[str, str]]) -> None:
    """jsonschema's errors said as {field, reason}: a dotted field, an item of a list of values by
    its list and number, the alternative a LicenceRequest's ``kind`` picks, every problem at once."""
    from licence_svc.web.bodies import SCHEMAS

    rule = re.sub(r"\{([a-z_]+)\}", r"<\1>", API + path)
    found = app.extensions[SCHEMAS].problems(rule, "POST", body)
    assert [(p.field, p.reason) for p in found] == problems


def test_licence_data_is_left_to_the_kind_s_own_validation(client: Any, contract: Contract, tokens: dict[str, str]) -> None:
    """A kind's data is checked by core.kinds, which accepts input forms the stored form in the
    schema does not (汉族 for 汉) and names every problem at once, check digits included."""
    path = f"{API}/licences"
    auth = bearer(tokens["id_card"])
    issued = contract.check(client.post(path, json={"kind": "id_card", "data": {**sample_data("id_card"), "ethnicity": "汉族"}}, headers=auth), "POST", path)
    assert issued["kind"] == "id_card"
    data = {**sample_data("id_card"), "id_number": "110101199003071234", "nickname": "小明"}
    problem = contract.check(client.post(path, json={"kind": "id_card", "data": data}, headers=auth), "POST", path)
    assert {(e["field"], e["reason"]) for e in problem["errors"]} >= {("data.id_number", "check digit mismatch"), ("data.nickname", "unknown field")}


@pytest.mark.summary  # runs after the other tests of this module, whatever the order (tests/conftest.py)
def test_every_documented_error_status_was_seen(contract: Contract) -> None:
    """Runs last in this module: the statuses above exercise the documented ones that can be provoked."""
    statuses = {s for _m, _p, s in contract.seen}
    assert {"200", "201", "401", "403", "404", "409", "413", "422", "429"} <= statuses


@pytest.mark.parametrize(
    "query",
    [
        {"holder": "\x00"},
        {"cursor": "WyIyMDIwLTAxLTAxIiwgIlx1MDAwMCJd"},  # ["2020-01-01", "\u0000"]
        {"issued_after": "9999-12-31T23:59:59-23:59"},
    ],
    ids=["nul-holder", "nul-in-cursor", "issued-after-out-of-range"],
)
def test_list_queries_the_database_cannot_hold_are_answered(client: Any, contract: Contract, tokens: dict[str, str], query: dict[str, str]) -> None:
    """Found by fuzzing on PostgreSQL (NUL in a string literal, a time zone displacement out of range):
    the answer must be a documented one (200 or 422), never a 500."""
    resp = client.get(f"{API}/licences", query_string=query, headers=bearer(tokens["id_card"]))
    contract.check(resp, "GET", f"{API}/licences")

