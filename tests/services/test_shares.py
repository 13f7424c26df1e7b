"""Share grants: a holder authorises a service window, for a purpose and a time, to verify, fetch
or download one licence; the window redeems the code and gets exactly that, with a signed receipt.
Every security property has a test that fails when it breaks: forged, expired, revoked and
reused codes, another holder's licence, another department's redemption, guessing codes."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licence_svc.core.masking import mask_number
from licence_svc.core.signeddoc import open_document
from licence_svc.errors import Gone, InvalidInput, NotAuthorised, NotFound, RateLimited, UnreadableEvidence
from licence_svc.services import shares, usage
from licence_svc.services.platform import utcnow
from licence_svc.services.tokens import Principal
from tests.helpers import credit_code, load_sample, person_id


@pytest.fixture()
def make_window(platform: Any) -> Callable[..., Principal]:
    """A new service window department (no kinds) and a principal with the redeem scope."""
    from licence_svc.services.setup import add_department

    def make(name: str = "测试区政务服务中心窗口") -> Principal:
        code = credit_code()
        add_department(platform, code, name, [], issue_key=False)
        return Principal(code, secrets.token_hex(4), frozenset(), frozenset({"redeem"}))

    return make


@pytest.fixture()
def holder_licence(platform: Any, departments: dict[str, str]) -> Callable[[], tuple[str, str]]:
    """Issue an ID card to a fresh holder: (licence identifier, holder id number)."""
    from licence_svc.services.issuing import issue

    def make() -> tuple[str, str]:
        number = person_id()  # born 1990-03-07, male: agrees with the id_card sample
        issued = issue(platform, kind="id_card", data={**load_sample("id_card"), "id_number": number}, department=departments["id_card"])
        assert [h for h, _ in issued.claim_codes] == [number]
        return issued.identifier, number

    return make


@pytest.fixture()
def held(holder_licence: Callable[[], tuple[str, str]]) -> tuple[str, str]:
    return holder_licence()


def events_of(licence: str, action: str) -> list[dict[str, Any]]:
    return [e for e in usage.events([licence]) if e["action"] == action]


# ---- the code ----------------------------------------------------------------------------------


@given(st.text(alphabet=shares.ALPHABET, min_size=10, max_size=10))
def test_code_round_trips_through_every_way_of_presenting_it(raw: str) -> None:
    code = f"{raw[:5]}-{raw[5:]}"
    assert shares.parse_share_code(code) == code
    assert shares.parse_share_code(raw.lower()) == code
    assert shares.parse_share_code(f" {raw[:3]} {raw[3:]} ") == code
    assert shares.parse_share_code(f"https://licence.example.gov.cn/S/{raw.lower()}") == code
    assert shares.code_hash(raw.lower()) == shares.code_hash(code)


def test_codes_are_short_unguessable_and_only_hashed(platform: Any, held: tuple[str, str]) -> None:
    codes = {shares.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 11 and c[5] == "-" and set(c.replace("-", "")) <= set(shares.ALPHABET) for c in codes)
    assert shares.CODE_CHARS * 5 >= 50  # bits of entropy
    grant, code = shares.create_grant(platform, holder=held[1], licence=held[0], purpose="办理居住证", scope="verify")
    qr = shares.share_qr_text(platform, code)
    assert qr == f"{platform.settings.base_url.rstrip('/')}/S/{code}" and len(qr) < 80
    assert shares.parse_share_code(qr) == code
    from licence_svc.storage.models import ShareGrant

    row = ShareGrant.get_by_id(grant.grant_id)
    assert row.code_hash == hashlib.sha256(f"share:{code}".encode()).hexdigest()
    assert code not in json.dumps(list(ShareGrant.select().where(ShareGrant.grant_id == grant.grant_id).dicts()), default=str)


@pytest.mark.parametrize("text", ["", "   ", "K7Q2M-9XA3", "K7Q2M-9XA3PP", "K7Q2M-9XA3U", "https://x/S/", "?" * 10, "x" * 301])
def test_malformed_codes_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        shares.parse_share_code(text)
    assert info.value.problems[0].field == "code"


# ---- creating, listing, revoking ---------------------------------------------------------------


def test_create_grant_defaults_and_log(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    window = make_window("测试市不动产登记中心")
    before = utcnow()
    grant, _code = shares.create_grant(platform, holder=holder, licence=licence, purpose="  不动产登记  ", scope="data", recipient=window.department.lower())
    assert grant.purpose == "不动产登记" and grant.recipient == window.department and grant.recipient_name == "测试市不动产登记中心"
    assert grant.state == "active" and grant.kind == "id_card" and grant.bound_to is None
    assert timedelta(hours=24) - timedelta(seconds=5) <= grant.expires_at - before <= timedelta(hours=24, seconds=5)
    assert grant.allows("verify") and grant.allows("data") and not grant.allows("pdf")
    public = grant.as_dict()
    assert holder not in json.dumps(public, ensure_ascii=False) and "holder" not in public
    assert [g.grant_id for g in shares.grants_of(holder)] == [grant.grant_id]
    assert [g.grant_id for g in shares.grants_of(holder, licence)] == [grant.grant_id]
    (event,) = events_of(licence, "share")
    assert event["purpose"] == "不动产登记" and event["grant"] == grant.grant_id and event["organisation"] == window.department
    from licence_svc.storage.audit import events_for

    trail = [e for e in events_for(licence) if e["action"] == "share"]
    assert trail and trail[-1]["actor"] == f"holder:{mask_number(holder)}"
    assert all(holder not in (e["actor"] + (e["detail"] or "")) for e in events_for(licence))

    longest, _ = shares.create_grant(platform, holder=holder, licence=licence, purpose="x" * 200, scope="pdf", hours=720)
    assert longest.expires_at - longest.created_at == timedelta(days=30)


def test_invalid_grants_name_every_field(platform: Any, held: tuple[str, str]) -> None:
    licence, holder = held
    with pytest.raises(InvalidInput) as info:
        shares.create_grant(platform, holder=holder, licence=licence, purpose=" ", scope="all", hours=721, recipient="911100000000000000")
    assert {p.field for p in info.value.problems} == {"purpose", "scope", "hours", "recipient"}
    for kwargs, field in (
        ({"purpose": "x" * 201}, "purpose"),
        ({"purpose": "两行\n事由"}, "purpose"),
        ({"hours": 0}, "hours"),
        ({"hours": True}, "hours"),
        ({"hours": "24"}, "hours"),
        ({"scope": "PDF"}, "scope"),
        ({"recipient": "not a code"}, "recipient"),
    ):
        args: dict[str, Any] = {"purpose": "办理业务", "scope": "verify", **kwargs}
        with pytest.raises(InvalidInput) as info:
            shares.create_grant(platform, holder=holder, licence=licence, **args)
        assert [p.field for p in info.value.problems] == [field], kwargs
    assert events_of(licence, "share") == []  # nothing was written


def test_only_the_current_licence_in_force_can_be_shared(platform: Any, holder_licence: Callable[[], tuple[str, str]]) -> None:
    from licence_svc.services import lifecycle

    licence, holder = holder_licence()
    newer = lifecycle.new_version(platform, licence, data={**load_sample("id_card"), "id_number": holder, "address": "北京市东城区新址1号"}, actor="test")
    with pytest.raises(InvalidInput, match="superseded") as info:
        shares.create_grant(platform, holder=holder, licence=licence, purpose="办理业务", scope="verify")
    assert info.value.problems[0].field == "licence"
    shares.create_grant(platform, holder=holder, licence=newer.identifier, purpose="办理业务", scope="verify")
    lifecycle.revoke(newer.identifier, reason="注销", actor="test")
    with pytest.raises(InvalidInput, match="revoked"):
        shares.create_grant(platform, holder=holder, licence=newer.identifier, purpose="办理业务", scope="verify")


def test_a_holder_cannot_share_or_revoke_another_holders_licence(platform: Any, holder_licence: Callable[[], tuple[str, str]], departments: dict[str, str]) -> None:
    from licence_svc.core.identifiers import new_licence_id
    from licence_svc.core.kinds import KINDS

    (mine, me), (theirs, them) = holder_licence(), holder_licence()
    with pytest.raises(NotFound) as other:
        shares.create_grant(platform, holder=me, licence=theirs, purpose="冒用他人证照", scope="pdf")
    guessed = str(new_licence_id(KINDS["id_card"].kind_code, departments["id_card"]))
    with pytest.raises(NotFound) as unknown:
        shares.create_grant(platform, holder=me, licence=guessed, purpose="猜测标识", scope="pdf")
    assert str(other.value) == str(unknown.value)  # another's licence looks exactly like none at all
    with pytest.raises(NotFound):
        shares.create_grant(platform, holder=me, licence=theirs, purpose="", scope="bad")  # no field errors leak either
    their_grant, _ = shares.create_grant(platform, holder=them, licence=theirs, purpose="本人办理", scope="verify")
    with pytest.raises(NotFound):
        shares.revoke_grant(holder=me, grant_id=their_grant.grant_id)
    with pytest.raises(NotFound):
        shares.revoke_grant(holder=me, grant_id="0" * 16)
    assert shares.grants_of(me) == [] and shares.grants_of(me, theirs) == []
    assert shares.grants_of(them)[0].state == "active"
    assert events_of(theirs, "share")[0]["grant"] == their_grant.grant_id and events_of(mine, "share") == []


# ---- redeeming ---------------------------------------------------------------------------------


def test_redeem_per_scope(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    window = make_window()
    for scope in shares.SCOPES:
        _grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose=f"办理{scope}业务", scope=scope, recipient=window.department)
        out = shares.redeem(platform, window, code.lower().replace("-", ""))
        assert out["grant"]["scope"] == scope and out["grant"]["bound_to"] is None
        seen = out["licence"]
        assert seen["identifier"] == licence and seen["valid"] and seen["verdict"] == "valid" and seen["status"] == "valid"
        assert seen["holder"] == "张*明" and seen["holder_id"] == mask_number(holder) and seen["issuer"]["name"]
        assert ("data" in out) is (scope != "verify")
        assert ("pdf_url" in out) is (scope == "pdf")
        if scope != "verify":
            assert out["data"]["id_number"] == holder and out["data"]["name"] == "张晓明"
        if scope == "pdf":
            assert out["pdf_url"] == f"/api/v1/shares/redemptions/{out['redemption_id']}/pdf"
            pdf = shares.redemption_copy(platform, window, out["redemption_id"])
            assert pdf.startswith(b"%PDF-")
            from licence_svc.storage.models import Redemption

            assert Redemption.get_by_id(out["redemption_id"]).copy_sha256 == hashlib.sha256(pdf).hexdigest()
    redeemed = events_of(licence, "redeem")
    assert [e["purpose"] for e in redeemed] == ["办理pdf业务", "办理data业务", "办理verify业务"]
    assert all(e["organisation"] == window.department and e["organisation_name"] == "测试区政务服务中心窗口" and e["outcome"] == "ok" for e in redeemed)
    assert events_of(licence, "download")[0]["organisation"] == window.department
    from licence_svc.storage.audit import events_for

    trail = events_for(licence)
    assert [e["actor"] for e in trail if e["action"] == "redeem"] == [window.actor] * 3
    assert all(holder not in json.dumps(e, default=str) for e in trail)  # no full id number in the trail


def test_receipt_is_signed_and_a_changed_byte_fails(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    window = make_window()
    grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="申领营业执照", scope="data", recipient=window.department, hours=2)
    out = shares.redeem(platform, window, code)
    receipt = out["receipt"]
    body = open_document(receipt, platform.root_cert())
    assert body["type"] == "ShareReceipt" and body["licence"] == licence and body["grant"] == grant.grant_id
    assert body["redemption"] == out["redemption_id"] and body["purpose"] == "申领营业执照" and body["scope"] == "data"
    assert body["department"] == {"code": window.department, "name": "测试区政务服务中心窗口"}
    assert body["grant_expires_at"] == grant.expires_at.isoformat() and body["redeemed_at"]
    from licence_svc.storage.models import Redemption

    assert json.loads(Redemption.get_by_id(out["redemption_id"]).receipt) == receipt
    payload = bytearray(base64.urlsafe_b64decode(receipt["payload"] + "=" * (-len(receipt["payload"]) % 4)))
    payload[payload.index(b"\xe7\x94\xb3")] ^= 1  # one byte of the purpose
    tampered = {**receipt, "payload": base64.urlsafe_b64encode(bytes(payload)).decode().rstrip("=")}
    with pytest.raises(UnreadableEvidence, match="does not verify"):
        open_document(tampered, platform.root_cert())
    sig = bytearray(base64.urlsafe_b64decode(receipt["signature"] + "=" * (-len(receipt["signature"]) % 4)))
    sig[-1] ^= 1
    with pytest.raises(UnreadableEvidence):
        open_document({**receipt, "signature": base64.urlsafe_b64encode(bytes(sig)).decode().rstrip("=")}, platform.root_cert())


def test_expired_and_revoked_grants_are_gone(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    window = make_window()
    expired, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="过期授权", scope="data", recipient=window.department, hours=1, now=utcnow() - timedelta(hours=2))
    assert shares.grants_of(holder, licence)[0].state == "expired"
    with pytest.raises(Gone, match="expired"):
        shares.redeem(platform, window, code)
    with pytest.raises(Gone):  # one second before expiry it still worked; the boundary itself is closed
        shares.redeem(platform, window, code, now=expired.expires_at)
    assert shares.redeem(platform, window, code, now=expired.expires_at - timedelta(seconds=1))["grant"]["grant_id"] == expired.grant_id

    grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="随后撤销", scope="pdf", recipient=window.department)
    out = shares.redeem(platform, window, code)
    revoked = shares.revoke_grant(holder=holder, grant_id=grant.grant_id)
    assert revoked.state == "revoked" and revoked.revoked_at is not None
    assert shares.revoke_grant(holder=holder, grant_id=grant.grant_id).revoked_at == revoked.revoked_at  # twice is harmless
    with pytest.raises(Gone, match="revoked"):
        shares.redeem(platform, window, code)
    with pytest.raises(Gone):  # the copy handed out earlier cannot be fetched any more
        shares.redemption_copy(platform, window, out["redemption_id"])
    assert len(events_of(licence, "unshare")) == 1
    outcomes = [e["outcome"] for e in events_of(licence, "redeem") if not e["authorised"]]
    assert outcomes.count("expired") == 2 and outcomes.count("revoked") == 1


def test_forged_code_is_not_found(platform: Any, make_window: Callable[..., Principal]) -> None:
    window = make_window()
    with pytest.raises(NotFound):
        shares.redeem(platform, window, shares.new_code())


def test_grant_for_one_department_is_refused_to_another_and_the_holder_sees_it(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    meant, other = make_window("指定窗口"), make_window("其他窗口")
    _grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="指定部门办理", scope="data", recipient=meant.department)
    with pytest.raises(NotAuthorised, match="another department"):
        shares.redeem(platform, other, code)
    assert shares.redeem(platform, meant, code)["data"]["id_number"] == holder
    refused = [e for e in events_of(licence, "redeem") if e["outcome"] == "refused"]
    assert [(e["organisation"], e["organisation_name"], e["authorised"], e["purpose"]) for e in refused] == [(other.department, "其他窗口", False, "指定部门办理")]


def test_any_window_grant_binds_to_the_first_department(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    first, second = make_window("先用窗口"), make_window("后用窗口")
    grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="任意窗口办理", scope="pdf")
    assert grant.recipient is None
    out = shares.redeem(platform, first, code)
    assert out["grant"]["bound_to"] == first.department
    with pytest.raises(NotAuthorised, match="already been used"):
        shares.redeem(platform, second, code)
    with pytest.raises(NotAuthorised):  # nor the copy the first window was given
        shares.redemption_copy(platform, second, out["redemption_id"])
    assert shares.redeem(platform, first, code)["grant"]["grant_id"] == grant.grant_id  # the bound window may come back
    assert shares.grants_of(holder, licence)[0].bound_to == first.department
    refused = [e for e in events_of(licence, "redeem") if e["outcome"] == "refused"]
    assert [e["organisation"] for e in refused] == [second.department]


def test_copy_only_for_the_pdf_scope(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    window = make_window()
    _grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="只读数据", scope="data", recipient=window.department)
    out = shares.redeem(platform, window, code)
    with pytest.raises(NotAuthorised, match="does not allow"):
        shares.redemption_copy(platform, window, out["redemption_id"])
    for bad in ("0" * 24, "../../etc/passwd", ""):
        with pytest.raises(NotFound):
            shares.redemption_copy(platform, window, bad)


def test_guessing_codes_is_throttled_per_department(platform: Any, held: tuple[str, str], make_window: Callable[..., Principal]) -> None:
    licence, holder = held
    guesser, honest = make_window("猜码窗口"), make_window("正常窗口")
    _grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="办理业务", scope="verify")
    for _ in range(shares.MAX_FAILURES):
        with pytest.raises(NotFound):
            shares.redeem(platform, guesser, shares.new_code())
    with pytest.raises(RateLimited):
        shares.redeem(platform, guesser, code)  # even a real code: the department must wait
    with pytest.raises(RateLimited):
        shares.find_active_grant(code, guesser)
    assert shares.redeem(platform, honest, code)["licence"]["identifier"] == licence  # others are not affected
    later = utcnow() + shares.FAILURE_WINDOW + timedelta(seconds=1)
    with pytest.raises(NotAuthorised):  # the window passed; the grant is now bound to the honest window
        shares.redeem(platform, guesser, code, now=later)


def test_a_licence_revoked_after_sharing_is_reported_not_copied(platform: Any, holder_licence: Callable[[], tuple[str, str]], make_window: Callable[..., Principal]) -> None:
    from licence_svc.services import lifecycle

    licence, holder = holder_licence()
    window = make_window()
    _grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="办理业务", scope="pdf", recipient=window.department)
    lifecycle.revoke(licence, reason="证件作废", actor="test")
    out = shares.redeem(platform, window, code)
    assert out["licence"]["verdict"] == "revoked" and out["licence"]["valid"] is False
    assert "pdf_url" not in out  # no annotated copy of a licence no longer in force
    assert open_document(out["receipt"], platform.root_cert())["verdict"] == "revoked"


def test_a_grant_names_one_version_and_reports_a_newer_one(platform: Any, holder_licence: Callable[[], tuple[str, str]], make_window: Callable[..., Principal]) -> None:
    from licence_svc.services import lifecycle

    licence, holder = holder_licence()
    window = make_window()
    _grant, code = shares.create_grant(platform, holder=holder, licence=licence, purpose="办理业务", scope="pdf", recipient=window.department)
    newer = lifecycle.new_version(platform, licence, data={**load_sample("id_card"), "id_number": holder, "address": "北京市东城区新址2号"}, actor="test")
    out = shares.redeem(platform, window, code)
    assert out["licence"]["verdict"] == "superseded" and out["licence"]["superseded_by"] == newer.identifier
    assert "pdf_url" not in out and out["data"]["address"] != "北京市东城区新址2号"
