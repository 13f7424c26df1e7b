"""Claim codes handed out with a licence, the holder index behind them, and token scopes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from licence_svc.core.masking import mask_number
from licence_svc.services import tokens as token_service
from licence_svc.services.claim_codes import ALPHABET, code_hash, normalise
from licence_svc.services.setup import DEMO_WINDOW, demo_code
from licence_svc.storage.holders import holders_of, use_claim_code
from licence_svc.storage.models import ClaimCode
from tests.helpers import load_sample

API = "/api/v1/licences"


sample_data = load_sample


def post(client: Any, token: str, path: str, body: Any = None) -> Any:
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})


def test_issuing_returns_one_claim_code_per_household_member(client: Any, platform: Any, departments: dict[str, str]) -> None:
    data = sample_data("household_register")
    resp = post(client, platform.demo_tokens[departments["household_register"]], API, {"kind": "household_register", "data": data})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    members = [m["id_number"] for m in data["members"]]
    assert [c["holder"] for c in body["claim_codes"]] == [mask_number(m) for m in members]
    assert sorted(holders_of(body["identifier"])) == sorted(members)
    # Only hashes are stored; the codes are readable and each works once, for its own holder only.
    now = datetime.now(timezone.utc)
    codes = [c["code"] for c in body["claim_codes"]]
    assert all(len(normalise(c)) == 12 and set(normalise(c)) <= set(ALPHABET) for c in codes)
    assert not ClaimCode.select().where(ClaimCode.code_hash.in_(codes)).exists()
    assert use_claim_code(code_hash(codes[0]), members[1], now) is None  # another member's code
    assert use_claim_code(code_hash(codes[0].lower().replace("-", " ")), members[0], now) == body["identifier"]
    assert use_claim_code(code_hash(codes[0]), members[0], now) is None  # one time only


def test_expired_claim_code_is_refused(client: Any, platform: Any, departments: dict[str, str]) -> None:
    body = post(client, platform.demo_tokens[departments["id_card"]], API, {"kind": "id_card", "data": sample_data("id_card")}).get_json()
    holder = sample_data("id_card")["id_number"]
    later = datetime.now(timezone.utc) + timedelta(days=181)
    assert use_claim_code(code_hash(body["claim_codes"][0]["code"]), holder, later) is None


def test_business_licence_belongs_to_the_company_and_its_legal_representative(client: Any, platform: Any, departments: dict[str, str]) -> None:
    data = sample_data("business_licence") | {"legal_representative_id_number": "110101199003071233"}
    resp = post(client, platform.demo_tokens[departments["business_licence"]], API, {"kind": "business_licence", "data": data})
    assert resp.status_code == 201, resp.get_json()
    ident = resp.get_json()["identifier"]
    assert sorted(holders_of(ident)) == sorted([data["credit_code"], "110101199003071233"])
    bad = sample_data("business_licence") | {"legal_representative_id_number": "110101199003071234"}
    resp = post(client, platform.demo_tokens[departments["business_licence"]], API, {"kind": "business_licence", "data": bad})
    assert resp.status_code == 422
    assert [p["field"] for p in resp.get_json()["errors"]] == ["data.legal_representative_id_number"]


def test_department_can_reissue_claim_codes_and_old_ones_stop_working(client: Any, platform: Any, departments: dict[str, str]) -> None:
    token = platform.demo_tokens[departments["id_card"]]
    first = post(client, token, API, {"kind": "id_card", "data": sample_data("id_card")}).get_json()
    again = post(client, token, f"{API}/{first['identifier']}/claim-codes")
    assert again.status_code == 200
    holder = sample_data("id_card")["id_number"]
    now = datetime.now(timezone.utc)
    assert use_claim_code(code_hash(first["claim_codes"][0]["code"]), holder, now) is None
    assert use_claim_code(code_hash(again.get_json()["claim_codes"][0]["code"]), holder, now) == first["identifier"]
    # Another department may not mint codes for a licence it did not issue: to it, there is no such licence.
    other = post(client, platform.demo_tokens[departments["degree_certificate"]], f"{API}/{first['identifier']}/claim-codes")
    assert other.status_code == 404


def test_window_token_cannot_issue_and_issuing_token_defaults_to_issue_scope(client: Any, platform: Any, departments: dict[str, str]) -> None:
    window = platform.demo_tokens[demo_code(DEMO_WINDOW[0])]
    resp = post(client, window, API, {"kind": "id_card", "data": sample_data("id_card")})
    assert resp.status_code == 403
    assert "issue" in resp.get_json()["detail"]
    _, redeem_only = token_service.create_token(departments["id_card"], scopes=["redeem"])
    assert post(client, redeem_only, API, {"kind": "id_card", "data": sample_data("id_card")}).status_code == 403
    _, default = token_service.create_token(departments["id_card"])
    assert post(client, default, API, {"kind": "id_card", "data": sample_data("id_card")}).status_code == 201


def test_unknown_scope_is_refused(departments: dict[str, str], platform: Any) -> None:
    from licence_svc.errors import InvalidInput

    with pytest.raises(InvalidInput, match="scopes"):
        token_service.create_token(departments["id_card"], scopes=["everything"])


def test_cli_reissues_claim_codes(run_cli: Any, client: Any, platform: Any, departments: dict[str, str]) -> None:
    body = post(client, platform.demo_tokens[departments["id_card"]], API, {"kind": "id_card", "data": sample_data("id_card")}).get_json()
    proc = run_cli("claim-codes", body["identifier"])
    assert proc.returncode == 0, proc.stderr
    assert mask_number(sample_data("id_card")["id_number"]) in proc.stderr
    assert sample_data("id_card")["id_number"] not in proc.stderr + proc.stdout
    wrong_check = "0" if body["identifier"][-1] != "0" else "1"  # a different check character: no such licence
    assert run_cli("claim-codes", body["identifier"][:-1] + wrong_check).returncode != 0


def test_share_qr_opened_in_a_browser_explains_itself_and_reveals_nothing(client: Any) -> None:
    resp = client.get("/S/K7Q2M-9XA3P")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "授权码" in page and "/api/v1/shares/redeem" in page


def test_a_malformed_check_rate_is_a_configuration_error(run_cli: Any) -> None:
    proc = run_cli("departments", env={"LICENCE_CHECK_RATE_PER_MINUTE": "lots"})
    assert proc.returncode == 6
    assert "LICENCE_CHECK_RATE_PER_MINUTE" in proc.stderr and "Traceback" not in proc.stderr
