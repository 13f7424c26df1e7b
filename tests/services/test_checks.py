"""Field-match checks (核验) through the service: match flags only, signed, authorised by a grant or
a check scope, audited, in the holder's usage log, rate-limited; a refusal reveals nothing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from licence_svc.core.signeddoc import b64url, open_document, unb64url
from licence_svc.errors import Gone, InvalidInput, NotAuthorised, NotFound, RateLimited, UnreadableEvidence
from licence_svc.services import checks, shares, usage
from licence_svc.services.issuing import issue
from licence_svc.services.platform import utcnow
from licence_svc.services.tokens import Principal
from tests.helpers import credit_code, person_id

PURPOSE = "办理企业开办，核验申请人身份"


@pytest.fixture(scope="module")
def window(platform: Any) -> str:
    """A service window of its own, so counts and scopes of other tests do not mix in."""
    from licence_svc.services.setup import add_department

    code = credit_code()
    add_department(platform, code, "测试综合窗口（核验）", [])
    return code


def principal_of(department: str, scopes: tuple[str, ...] = ("check", "redeem")) -> Principal:
    return Principal(department, "test0001", frozenset(), frozenset(scopes))


@pytest.fixture()
def scoped(window: str) -> Callable[[str], None]:
    """Give the window a check scope for a kind (removed again after the test)."""
    added: list[str] = []

    def grant(kind: str) -> None:
        checks.grant_check_scope(window, kind)
        added.append(kind)

    yield grant  # type: ignore[misc]
    for kind in added:
        checks.revoke_check_scope(window, kind)


@pytest.fixture()
def licence(platform: Any, departments: dict[str, str], sample: Callable[[str], dict[str, Any]]) -> Callable[..., tuple[str, dict[str, Any]]]:
    """Issue a licence of ``kind`` for a fresh holder: (identifier, data)."""

    def make(kind: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
        data = sample(kind)
        if kind in ("id_card", "degree_certificate"):
            data["id_number"] = person_id(data["birth_date"].replace("-", ""), data["sex"] == "男")
        elif kind == "driving_licence":
            data["licence_number"] = person_id(data["birth_date"].replace("-", ""), data["sex"] == "男")
        elif kind == "household_register":
            for m in data["members"]:
                m["id_number"] = person_id(m["birth_date"].replace("-", ""), m["sex"] == "男")
        elif kind == "business_licence":
            data["credit_code"] = credit_code()
        data.update(overrides)
        issued = issue(platform, kind=kind, data=data, department=departments[kind])
        return issued.identifier, data

    return make


def run(platform: Any, department: str, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("purpose", PURPOSE)
    kwargs.setdefault("claims", {})
    return checks.check(platform, principal_of(department), **kwargs)


def assert_signed(platform: Any, answer: dict[str, Any]) -> None:
    body = {k: v for k, v in answer.items() if k != "signature"}
    assert open_document(answer["signature"], platform.root_cert()) == body


def usage_of(identifier: str) -> list[dict[str, Any]]:
    return [e for e in usage.events([identifier]) if e["action"] == "check"]


# ---- answers ---------------------------------------------------------------------------------


def test_id_card_name_and_number(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    scoped("id_card")
    ident, data = licence("id_card")
    answer = run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": data["name"], "id_number": data["id_number"]})
    assert answer["licence_exists"] and answer["valid"]
    assert answer["fields"] == {"name": True, "id_number": True}
    assert answer["holder"] == data["id_number"][:4] + "*" * 10 + data["id_number"][-4:]
    assert answer["authorised_by"] == "department_scope" and answer["grant"] is None
    assert answer["purpose"] == PURPOSE and answer["department"] == window
    assert_signed(platform, answer)


def test_wrong_name_is_false_and_never_shows_the_stored_one(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    scoped("id_card")
    ident, data = licence("id_card")
    answer = run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": "李四", "birth_date": data["birth_date"]})
    assert answer["fields"] == {"name": False, "birth_date": True}
    text = json.dumps(answer, ensure_ascii=False) + unb64url(answer["signature"]["payload"]).decode("utf-8")
    for stored in (data["name"], data["id_number"], data["birth_date"], data["address"], data["name"][0] + "*"):
        assert stored not in text


def test_degree(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    scoped("degree_certificate")
    _, data = licence("degree_certificate")
    answer = run(platform, window, kind="degree_certificate", holder=data["id_number"], claims={"institution": " 南京大学 ", "degree": "硕士"})
    assert answer["fields"] == {"institution": True, "degree": True} and answer["valid"]
    answer = run(platform, window, kind="degree_certificate", holder=data["id_number"], claims={"institution": "北京大学", "degree": "博士"})
    assert answer["fields"] == {"institution": False, "degree": False}


def test_driving_licence_classes_and_dates(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    scoped("driving_licence")
    _, data = licence("driving_licence", vehicle_class=["C1"])
    holder = data["licence_number"]
    answer = run(platform, window, kind="driving_licence", holder=holder, claims={"vehicle_class": "C2"}, on="2025-06-01")
    assert answer["fields"] == {"vehicle_class": True} and answer["valid"] and answer["on"] == "2025-06-01"
    assert run(platform, window, kind="driving_licence", holder=holder, claims={"vehicle_class": "A1"})["fields"] == {"vehicle_class": False}
    after = (date.fromisoformat(data["valid_until"]) + timedelta(days=1)).isoformat()
    late = run(platform, window, kind="driving_licence", holder=holder, claims={"vehicle_class": "C1"}, on=after)
    assert late["licence_exists"] and not late["valid"] and late["fields"] == {"vehicle_class": False}
    today = run(platform, window, kind="driving_licence", holder=holder, claims={})
    assert today["on"] == (utcnow() + timedelta(hours=8)).date().isoformat()


def test_household_member(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    scoped("household_register")
    _, data = licence("household_register")
    spouse, head = data["members"][1], data["members"][0]
    answer = run(platform, window, kind="household_register", holder=spouse["id_number"], claims={"name": spouse["name"], "relation": "配偶", "address": data["address"]})
    assert answer["fields"] == {"name": True, "relation": True, "address": True}
    answer = run(platform, window, kind="household_register", holder=spouse["id_number"], claims={"name": head["name"]})
    assert answer["fields"] == {"name": False}


def test_business_licence_by_company_and_by_legal_representative(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    scoped("business_licence")
    rep = person_id()
    _, data = licence("business_licence", legal_representative_id_number=rep)
    for holder in (data["credit_code"], rep):
        answer = run(platform, window, kind="business_licence", holder=holder, claims={"legal_representative": "赵文博", "name": data["name"]})
        assert answer["fields"] == {"legal_representative": True, "name": True}, holder
    answer = run(platform, window, kind="business_licence", holder=data["credit_code"], claims={"legal_representative": "赵武博"})
    assert answer["fields"] == {"legal_representative": False}


def test_no_licence_all_false(platform: Any, window: str, scoped: Callable[[str], None]) -> None:
    scoped("id_card")
    answer = run(platform, window, kind="id_card", holder=person_id(), claims={"name": "张三", "id_number": "110101199003071233"})
    assert not answer["licence_exists"] and not answer["valid"] and answer["fields"] == {"name": False, "id_number": False}
    assert_signed(platform, answer)


def test_revoked_and_superseded(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any], departments: dict[str, str]) -> None:
    from licence_svc.services import lifecycle

    scoped("id_card")
    ident, data = licence("id_card")
    newer = lifecycle.new_version(platform, ident, data={**data, "name": "张晓亮"}, actor="test")
    answer = run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": "张晓亮"})
    assert answer["fields"] == {"name": True} and answer["valid"]  # the version in force, not the superseded one
    lifecycle.revoke(newer.identifier, reason="test", actor="test")
    answer = run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": "张晓亮"})
    assert answer["licence_exists"] and not answer["valid"]


# ---- input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fields"),
    [
        ({"claims": {"colour": "红"}}, {"claims.colour"}),
        ({"claims": {"photo": "x"}}, {"claims.photo"}),
        ({"purpose": None}, {"purpose"}),
        ({"purpose": "  "}, {"purpose"}),
        ({"purpose": "x" * 201}, {"purpose"}),
        ({"purpose": "a\nb\x00"}, {"purpose"}),
        ({"kind": "passport"}, {"kind"}),
        ({"holder": "12345"}, {"holder"}),
        ({"holder": "110101199003071234"}, {"holder"}),
        ({"on": "2025-02-30"}, {"on"}),
        ({"on": "tomorrow"}, {"on"}),
        ({"claims": ["name"]}, {"claims"}),
        ({"claims": {"birth_date": "soon"}, "purpose": ""}, {"claims.birth_date", "purpose"}),
    ],
)
def test_invalid_input_names_the_field(platform: Any, window: str, kwargs: dict[str, Any], fields: set[str]) -> None:
    args = {"kind": "id_card", "holder": "110101199003071233", "claims": {"name": "张三"}, "purpose": PURPOSE, **kwargs}
    with pytest.raises(InvalidInput) as exc:
        checks.check(platform, principal_of(window), **args)
    assert {p.field for p in exc.value.problems} == fields


def test_token_without_check_scope(platform: Any, window: str, scoped: Callable[[str], None]) -> None:
    scoped("id_card")
    with pytest.raises(NotAuthorised, match="check scope"):
        checks.check(platform, principal_of(window, ("redeem",)), kind="id_card", holder="110101199003071233", claims={}, purpose=PURPOSE)


# ---- authorisation ---------------------------------------------------------------------------


def test_refused_without_grant_or_scope_and_reveals_nothing(platform: Any, window: str, licence: Callable[..., Any]) -> None:
    ident, data = licence("id_card")
    refusals = []
    for holder in (data["id_number"], person_id()):  # with a licence, and without any
        with pytest.raises(NotAuthorised) as exc:
            run(platform, window, kind="id_card", holder=holder, claims={"name": data["name"]})
        refusals.append((type(exc.value), exc.value.detail))
    assert refusals[0] == refusals[1]
    assert "authorisation required" in refusals[0][1]
    assert usage_of(ident) == []


def test_check_scope_allows_and_is_reported_to_the_holder(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    ident, data = licence("id_card")
    scoped("degree_certificate")  # a scope for another kind does not help
    with pytest.raises(NotAuthorised):
        run(platform, window, kind="id_card", holder=data["id_number"])
    scoped("id_card")
    run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": data["name"]})
    [event] = usage_of(ident)
    assert event["organisation"] == window and event["organisation_name"] == "测试综合窗口（核验）"
    assert event["purpose"] == PURPOSE and event["authorised"] is False and event["grant"] is None
    assert {r["kind"] for r in checks.list_check_scopes(window)} == {"id_card", "degree_certificate"}


def test_grant_authorises_and_is_logged_with_it(platform: Any, window: str, licence: Callable[..., Any]) -> None:
    ident, data = licence("id_card")
    grant, code = shares.create_grant(platform, holder=data["id_number"], licence=ident, purpose="办理社保卡", scope="verify", recipient=window)
    answer = run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": data["name"]}, grant=code.lower().replace("-", ""))
    assert answer["fields"] == {"name": True} and answer["authorised_by"] == "grant" and answer["grant"] == grant.grant_id
    assert_signed(platform, answer)
    [event] = usage_of(ident)
    assert event["authorised"] is True and event["grant"] == grant.grant_id and event["organisation"] == window


def test_grant_for_a_household_covers_each_member(platform: Any, window: str, licence: Callable[..., Any]) -> None:
    ident, data = licence("household_register")
    head, child = data["members"][0], data["members"][2]
    _, code = shares.create_grant(platform, holder=head["id_number"], licence=ident, purpose="入学登记", scope="verify", recipient=window)
    answer = run(platform, window, kind="household_register", holder=child["id_number"], claims={"relation": child["relation"]}, grant=code)
    assert answer["fields"] == {"relation": True}


def test_grant_of_another_holder_or_kind_is_refused(platform: Any, window: str, licence: Callable[..., Any]) -> None:
    ident, data = licence("id_card")
    other_ident, other = licence("id_card")
    _, code = shares.create_grant(platform, holder=other["id_number"], licence=other_ident, purpose="办理社保卡", scope="verify", recipient=window)
    with pytest.raises(NotAuthorised, match="does not cover"):
        run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": data["name"]}, grant=code)
    with pytest.raises(NotAuthorised, match="does not cover"):
        run(platform, window, kind="degree_certificate", holder=other["id_number"], claims={}, grant=code)
    assert usage_of(ident) == []


def test_grant_for_another_department_expired_revoked_and_forged(platform: Any, window: str, licence: Callable[..., Any], departments: dict[str, str]) -> None:
    ident, data = licence("id_card")
    holder = data["id_number"]
    _, elsewhere = shares.create_grant(platform, holder=holder, licence=ident, purpose="x", scope="verify", recipient=departments["degree_certificate"])
    with pytest.raises(NotAuthorised):
        run(platform, window, kind="id_card", holder=holder, grant=elsewhere)
    old, expired = shares.create_grant(platform, holder=holder, licence=ident, purpose="x", scope="verify", recipient=window, hours=1, now=utcnow() - timedelta(hours=2))
    with pytest.raises(Gone):
        run(platform, window, kind="id_card", holder=holder, grant=expired)
    grant, revoked = shares.create_grant(platform, holder=holder, licence=ident, purpose="x", scope="verify", recipient=window)
    shares.revoke_grant(holder=holder, grant_id=grant.grant_id)
    with pytest.raises(Gone):
        run(platform, window, kind="id_card", holder=holder, grant=revoked)
    with pytest.raises(NotFound):
        run(platform, window, kind="id_card", holder=holder, grant="ABCDE-FGHJK")
    with pytest.raises(InvalidInput) as exc:
        run(platform, window, kind="id_card", holder=holder, grant="not a code")
    assert exc.value.problems[0].field == "grant"
    assert usage_of(ident) == []


# ---- evidence --------------------------------------------------------------------------------


def test_the_signature_covers_the_answer(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    scoped("id_card")
    _, data = licence("id_card")
    answer = run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": "李四"})
    envelope = answer["signature"]
    body = open_document(envelope, platform.root_cert())
    assert body["type"] == "FieldCheckResult" and body["fields"] == {"name": False}
    # an answer edited after the fact no longer agrees with what was signed
    forged = {**{k: v for k, v in answer.items() if k != "signature"}, "fields": {"name": True}}
    assert open_document(envelope, platform.root_cert()) != forged
    # and a payload edited to say so does not verify
    payload = unb64url(envelope["payload"]).replace(b'"name":false', b'"name":true')
    assert payload != unb64url(envelope["payload"])
    with pytest.raises(UnreadableEvidence, match="does not verify"):
        open_document({**envelope, "payload": b64url(payload)}, platform.root_cert())


def test_every_check_is_audited_without_personal_data(platform: Any, window: str, scoped: Callable[[str], None], licence: Callable[..., Any]) -> None:
    from licence_svc.services.audit import seal_all
    from licence_svc.storage import audit as trail

    scoped("id_card")
    ident, data = licence("id_card")
    answer = run(platform, window, kind="id_card", holder=data["id_number"], claims={"name": data["name"]})
    assert [e["action"] for e in trail.events_for(ident) if e["seq"] is None][-1] == "check"  # recorded at once, not yet sealed
    seal_all()
    events = [e for e in trail.iter_events() if e["action"] == "check" and e["licence"] == ident]
    assert len(events) == 1 and answer["check_id"] in events[0]["detail"]
    text = json.dumps(events, ensure_ascii=False, default=str)
    assert data["name"] not in text and data["id_number"] not in text and PURPOSE not in text


# ---- rate limit ------------------------------------------------------------------------------


def test_rate_limit_per_department(platform: Any, licence: Callable[..., Any]) -> None:
    from licence_svc.services.setup import add_department

    dept = credit_code()
    add_department(platform, dept, "测试限流窗口", [])
    checks.grant_check_scope(dept, "id_card")
    slow = dataclasses.replace(platform, settings=dataclasses.replace(platform.settings, check_rate_per_minute=2))
    _, data = licence("id_card")
    now = utcnow()
    for holder in (data["id_number"], person_id()):  # a check that finds nothing counts too
        run(slow, dept, kind="id_card", holder=holder, now=now)
    with pytest.raises(RateLimited):
        run(slow, dept, kind="id_card", holder=data["id_number"], now=now + timedelta(seconds=30))
    run(slow, dept, kind="id_card", holder=data["id_number"], now=now + timedelta(seconds=61))


# ---- scopes ----------------------------------------------------------------------------------


def test_scope_management(window: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        checks.grant_check_scope("91110101000000000X", "id_card")
    assert exc.value.problems[0].field == "department"
    with pytest.raises(InvalidInput) as exc:
        checks.grant_check_scope(window, "passport")
    assert exc.value.problems[0].field == "kind"
    assert checks.grant_check_scope(window.lower(), "business_licence") is True
    assert checks.grant_check_scope(window, "business_licence") is False
    checks.revoke_check_scope(window, "business_licence")
    with pytest.raises(NotFound):
        checks.revoke_check_scope(window, "business_licence")
    assert "business_licence" not in {r["kind"] for r in checks.list_check_scopes(window)}


def test_cli_check_scope(run_cli: Callable[..., Any], window: str) -> None:
    granted = run_cli("check-scope", "grant", "--department", window, "--kind", "driving_licence", check=True)
    assert "granted" in granted.stdout
    listed = run_cli("check-scope", "list", "--department", window, "--json", check=True)
    assert any(r["kind"] == "driving_licence" and r["department"] == window for r in json.loads(listed.stdout))
    assert run_cli("check-scope", "revoke", "--department", window, "--kind", "driving_licence", check=True).returncode == 0
    again = run_cli("check-scope", "revoke", "--department", window, "--kind", "driving_licence")
    assert again.returncode == 4 and "no check scope" in again.stderr
    bad = run_cli("check-scope", "grant", "--department", window, "--kind", "passport")
    assert bad.returncode == 2 and "kind" in bad.stderr
