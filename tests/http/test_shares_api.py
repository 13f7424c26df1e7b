"""Black box: a service window redeems holders' share codes over POST /api/v1/shares/redeem and
downloads the annotated copy; every answer, refusals included, is what the OpenAPI document says."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from licence_svc.core.signeddoc import open_document
from tests.helpers import credit_code, load_sample, person_id
from tests.http.contract import Contract, bearer

API = "/api/v1"
REDEEM = f"{API}/shares/redeem"
COPY = f"{API}/shares/redemptions/{{redemption_id}}/pdf"


@pytest.fixture()
def window(platform: Any) -> Callable[..., tuple[str, str]]:
    """A new service window department and a token of it: (department code, token)."""
    from licence_svc.services.setup import add_department
    from licence_svc.services.tokens import create_token

    def make(name: str = "测试区政务服务中心窗口", scopes: tuple[str, ...] = ("redeem",)) -> tuple[str, str]:
        code = credit_code()
        add_department(platform, code, name, [], issue_key=False)
        return code, create_token(code, [], label="test window", scopes=list(scopes))[1]

    return make


@pytest.fixture()
def grant(platform: Any, departments: dict[str, str]) -> Callable[..., tuple[str, str, Any]]:
    """Issue an ID card to a fresh holder and share it: (share code, holder id, grant)."""
    from licence_svc.services import shares
    from licence_svc.services.issuing import issue

    def make(scope: str, recipient: str | None = None, **kwargs: Any) -> tuple[str, str, Any]:
        holder = person_id()  # born 1990-03-07, male, as the sample; unique per session
        data = {**load_sample("id_card"), "id_number": holder}
        issued = issue(platform, kind="id_card", data=data, department=departments["id_card"])
        g, code = shares.create_grant(platform, holder=holder, licence=issued.identifier, purpose=kwargs.pop("purpose", "办理居住证"), scope=scope, recipient=recipient, **kwargs)
        return code, holder, g

    return make


def redeem(client: Any, contract: Contract, token: str, body: Any, addr: str = "127.0.0.1") -> tuple[int, dict[str, Any]]:
    resp = client.post(REDEEM, json=body, headers=bearer(token), environ_base={"REMOTE_ADDR": addr})
    return resp.status_code, contract.check(resp, "POST", REDEEM)


def download(client: Any, contract: Contract, token: str, redemption_id: str) -> Any:
    resp = client.get(COPY.replace("{redemption_id}", redemption_id), headers=bearer(token))
    body = contract.check(resp, "GET", COPY)
    return resp.status_code, body


def test_redeem_each_scope(client: Any, contract: Contract, platform: Any, window: Callable[..., tuple[str, str]], grant: Callable[..., tuple[str, str, Any]]) -> None:
    from licence_svc.services import usage

    dept, token = window()
    for scope in ("verify", "data", "pdf"):
        code, holder, g = grant(scope, recipient=dept, purpose=f"办理{scope}")
        status, out = redeem(client, contract, token, {"code": code})
        assert status == 200
        assert out["grant"]["grant_id"] == g.grant_id and out["licence"]["verdict"] == "valid" and out["licence"]["holder_id"] != holder
        assert holder not in json.dumps({k: v for k, v in out.items() if k != "data"})
        assert ("data" in out) is (scope != "verify") and ("pdf_url" in out) is (scope == "pdf")
        body = open_document(out["receipt"], platform.root_cert())
        assert (body["type"], body["grant"], body["redemption"], body["purpose"], body["department"]["code"]) == ("ShareReceipt", g.grant_id, out["redemption_id"], f"办理{scope}", dept)
        if scope == "data":
            assert out["data"]["id_number"] == holder
        if scope == "pdf":
            resp = client.get(out["pdf_url"], headers=bearer(token))
            pdf = contract.check(resp, "GET", COPY)
            assert resp.status_code == 200 and pdf.startswith(b"%PDF-") and resp.headers["Cache-Control"] == "no-store"
            assert body["copy_sha256"] == hashlib.sha256(pdf).hexdigest()
        (event,) = [e for e in usage.events([g.licence]) if e["action"] == "redeem"]
        assert (event["organisation"], event["organisation_name"], event["purpose"], event["grant"]) == (dept, "测试区政务服务中心窗口", f"办理{scope}", g.grant_id)


def test_the_demo_window_redeems_a_code_or_its_qr_link(client: Any, contract: Contract, platform: Any, grant: Callable[..., tuple[str, str, Any]]) -> None:
    from licence_svc.services import shares
    from licence_svc.services.setup import DEMO_WINDOW, demo_code

    code, _holder, g = grant("verify")
    status, out = redeem(client, contract, platform.demo_tokens[demo_code(DEMO_WINDOW[0])], {"code": shares.share_qr_text(platform, code)})
    assert status == 200 and out["grant"]["bound_to"] == demo_code(DEMO_WINDOW[0]) and out["grant"]["licence"] == g.licence


def test_refusals(client: Any, contract: Contract, platform: Any, window: Callable[..., tuple[str, str]], grant: Callable[..., tuple[str, str, Any]]) -> None:
    from licence_svc.services import shares, usage
    from licence_svc.services.platform import utcnow

    (dept, token), (_other, other_token) = window(), window("别的窗口")
    status, problem = redeem(client, contract, token, {"code": shares.new_code()})
    assert status == 404
    code, holder, g = grant("data", recipient=dept)
    status, problem = redeem(client, contract, other_token, {"code": code})
    assert status == 403 and "another department" in problem["detail"]
    assert [e["outcome"] for e in usage.events([g.licence]) if e["action"] == "redeem"] == ["refused"]
    shares.revoke_grant(holder=holder, grant_id=g.grant_id)
    status, problem = redeem(client, contract, token, {"code": code})
    assert status == 410 and problem["title"] == "Gone" and "revoked" in problem["detail"]
    code, _holder, _g = grant("verify", recipient=dept, hours=1, now=utcnow() - timedelta(hours=3))
    status, problem = redeem(client, contract, token, {"code": code})
    assert status == 410 and "expired" in problem["detail"]
    for body, field in (({}, "code"), ({"code": 7}, "code"), ({"code": "K7Q2M"}, "code"), ({"code": "K7Q2M-9XA3P", "scope": "pdf"}, "scope"), ([], "body")):
        status, problem = redeem(client, contract, token, body)
        assert status == 422 and problem["errors"][0]["field"] == field, body


def test_token_needs_the_redeem_scope(client: Any, contract: Contract, window: Callable[..., tuple[str, str]], grant: Callable[..., tuple[str, str, Any]], platform: Any, departments: dict[str, str]) -> None:
    dept, checker = window(scopes=("check",))
    code, _holder, g = grant("pdf", recipient=dept)
    status, problem = redeem(client, contract, checker, {"code": code})
    assert status == 403 and "redeem" in problem["detail"]
    issuer_token = platform.demo_tokens[departments["id_card"]]  # an issuing department's token: issue scope only
    assert redeem(client, contract, issuer_token, {"code": code})[0] == 403
    resp = client.post(REDEEM, json={"code": code}, environ_base={"REMOTE_ADDR": "198.51.100.77"})
    assert resp.status_code == 401
    contract.check(resp, "POST", REDEEM)
    from licence_svc.services import usage

    assert [e for e in usage.events([g.licence]) if e["action"] == "redeem"] == []  # nothing reached the grant


def test_guessing_codes_gets_429(client: Any, contract: Contract, window: Callable[..., tuple[str, str]], grant: Callable[..., tuple[str, str, Any]]) -> None:
    from licence_svc.services import shares

    _dept, token = window("猜码窗口")
    for _ in range(shares.MAX_FAILURES):
        assert redeem(client, contract, token, {"code": shares.new_code()})[0] == 404
    code, _holder, _g = grant("verify")
    resp = client.post(REDEEM, json={"code": code}, headers=bearer(token))
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    contract.check(resp, "POST", REDEEM)


def test_the_copy_only_for_the_redeeming_department_and_the_pdf_scope(
    client: Any, contract: Contract, window: Callable[..., tuple[str, str]], grant: Callable[..., tuple[str, str, Any]]
) -> None:
    from licence_svc.services import shares

    (dept, token), (_other, other_token) = window(), window("别的窗口")
    code, holder, g = grant("pdf", recipient=dept)
    status, out = redeem(client, contract, token, {"code": code})
    rid = out["redemption_id"]
    assert download(client, contract, other_token, rid)[0] == 403
    assert download(client, contract, token, "0" * 24)[0] == 404
    assert download(client, contract, token, "not-an-id")[0] == 404
    assert download(client, contract, token, rid)[0] == 200
    code_data, _h, _g = grant("data", recipient=dept)
    status, out_data = redeem(client, contract, token, {"code": code_data})
    assert "pdf_url" not in out_data
    assert download(client, contract, token, out_data["redemption_id"])[0] == 403
    shares.revoke_grant(holder=holder, grant_id=g.grant_id)
    status, problem = download(client, contract, token, rid)
    assert status == 410 and problem["status"] == 410
