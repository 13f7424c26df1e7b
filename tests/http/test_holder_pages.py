"""The holder's pages through the Flask test client: claim code, password, sessions, CSRF, rate
limits, and above all that a holder sees only their own licences (a second holder guessing
identifiers gets exactly what a non-existent identifier gets).

The helpers at the top (signing in through the real forms) are imported by the OIDC and browser
tests too.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import client_address, code_for, credit_code, person_id

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
GENERIC_FAILURE = "证件号码或领证码/密码不正确"
PASSWORD = "春眠不觉晓-处处闻啼鸟"


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def sign_in(client: Any, holder: str, secret: str) -> Any:
    page = client.get("/me/sign-in")
    return client.post("/me/sign-in", data={"csrf": csrf_of(page.get_data(as_text=True)), "holder_id": holder, "secret": secret})


def set_password(client: Any, password: str = PASSWORD, confirm: str | None = None) -> Any:
    page = client.get("/me/set-password")
    token = csrf_of(page.get_data(as_text=True))
    return client.post("/me/set-password", data={"csrf": token, "password": password, "confirm": password if confirm is None else confirm})


def claim(client: Any, issued: Any, holder: str, password: str = PASSWORD) -> None:
    """First sign-in with the claim code, then the password: the holder ends on /me."""
    resp = sign_in(client, holder, code_for(issued, holder))
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/me/set-password"), resp.get_data(as_text=True)
    resp = set_password(client, password)
    assert resp.status_code == 303, resp.get_data(as_text=True)


def session_csrf(client: Any) -> str:
    return csrf_of(client.get("/me").get_data(as_text=True))


def new_client(app: Any) -> Any:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = client_address()
    return c


def random_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def licence_row(identifier: str) -> Any:
    from licence_svc.storage.models import Licence

    return Licence.get_by_id(identifier)


@pytest.fixture()
def holder_client(app: Any) -> Callable[[], Any]:
    """A fresh browser (cookie jar) from an address of its own."""
    return lambda: new_client(app)


@pytest.fixture()
def id_card(make_licence: Callable[..., Any]) -> Callable[[], tuple[Any, str]]:
    """A fresh identity card of a fresh holder: (issued, holder id)."""

    def make() -> tuple[Any, str]:
        holder = person_id()
        return make_licence("id_card", id_number=holder), holder

    return make


# --- sign-in --------------------------------------------------------------------------------


def test_claim_code_then_password_then_sign_out_and_in_again(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    issued, holder = id_card()
    c = holder_client()
    resp = sign_in(c, holder.lower(), "  " + code_for(issued, holder).lower().replace("-", " "))  # as typed from the notice
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/me/set-password")
    # Nothing but setting the password until it is set.
    for path in ("/me", f"/me/licences/{issued.identifier}", f"/me/licences/{issued.identifier}/pdf"):
        resp = c.get(path)
        assert resp.status_code == 303 and resp.headers["Location"].endswith("/me/set-password"), path
    for weak, reason in (("short-1", "至少需要10个字符"), ("1234567890123", "不能全部是数字"), (f"x{holder}y", "不能包含您的证件号码")):
        resp = set_password(c, weak)
        assert resp.status_code == 422 and reason in resp.get_data(as_text=True)
    resp = set_password(c, PASSWORD, confirm=PASSWORD + "!")
    assert resp.status_code == 422 and "两次输入的密码不一致" in resp.get_data(as_text=True)
    assert set_password(c).status_code == 303

    page = c.get("/me")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "居民身份证" in html and "有效" in html and issued.identifier in html
    assert "密码已设置" in c.get("/me?password=set").get_data(as_text=True)
    for button in ("下载PDF", "出示二维码", "授权使用", "使用记录"):
        assert button in html
    assert holder not in html  # the holder's own number is shown masked
    old_cookie = c.get_cookie("lic_holder", path="/me").value

    resp = c.post("/me/sign-out", data={"csrf": csrf_of(html)})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/me/sign-in")
    assert c.get("/me").headers["Location"].endswith("/me/sign-in")
    replay = holder_client()
    replay.set_cookie("lic_holder", old_cookie, path="/me")
    assert replay.get("/me").status_code == 303, "a signed-out session must not come back"

    resp = sign_in(c, holder, PASSWORD)
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/me")
    assert issued.identifier in c.get("/me").get_data(as_text=True)


def test_claim_code_works_once(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    issued, holder = id_card()
    claim(holder_client(), issued, holder)
    resp = sign_in(holder_client(), holder, code_for(issued, holder))
    assert resp.status_code == 401 and GENERIC_FAILURE in resp.get_data(as_text=True)


def test_reminted_claim_code_resets_a_forgotten_password(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    from licence_svc.services.claim_codes import remint

    issued, holder = id_card()
    first = holder_client()
    claim(first, issued, holder, "old-password-1")
    [(who, code)] = remint(issued.identifier)
    assert who == holder
    c = holder_client()
    resp = sign_in(c, holder, code)
    assert resp.headers["Location"].endswith("/me/set-password")
    assert set_password(c, "new-password-2").status_code == 303
    assert sign_in(holder_client(), holder, "old-password-1").status_code == 401
    assert sign_in(holder_client(), holder, "new-password-2").status_code == 303
    assert first.get("/me").status_code == 303, "a new password ends the sessions opened with the old one"


def test_failures_say_the_same_and_are_rate_limited(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    from licence_svc.services.holders import MAX_FAILURES

    issued, holder = id_card()
    c = holder_client()
    unknown = sign_in(c, person_id(), "ABCD-EFGH-JKMN")
    wrong = sign_in(c, holder, "ABCD-EFGH-JKMN")
    garbage = sign_in(c, "not an id", "x")
    for resp in (unknown, wrong, garbage):
        assert resp.status_code == 401
        assert GENERIC_FAILURE in resp.get_data(as_text=True)
        assert "lic_holder" not in (resp.headers.get("Set-Cookie") or "")
    for _ in range(MAX_FAILURES - 3):
        assert sign_in(c, holder, "ABCD-EFGH-JKMN").status_code == 401
    limited = sign_in(c, holder, code_for(issued, holder))  # even the right code, from this address
    assert limited.status_code == 429 and "登录尝试次数过多" in limited.get_data(as_text=True)
    assert limited.headers["Retry-After"] == "900"
    # The right code still works from elsewhere (the account itself saw fewer than MAX_FAILURES).
    assert sign_in(holder_client(), holder, code_for(issued, holder)).status_code == 303


def test_guessing_one_account_from_many_addresses_is_limited(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    from licence_svc.services.holders import MAX_FAILURES

    issued, holder = id_card()
    for _ in range(MAX_FAILURES):
        assert sign_in(holder_client(), holder, random_password()).status_code == 401
    resp = sign_in(holder_client(), holder, code_for(issued, holder))
    assert resp.status_code == 429


def test_sign_in_is_audited_with_a_masked_id(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    from licence_svc.core.masking import mask_number
    from licence_svc.services.audit import seal_all
    from licence_svc.storage.models import AuditEvent

    issued, holder = id_card()
    sign_in(holder_client(), holder, "WRONG-CODE-0000")
    claim(holder_client(), issued, holder)
    seal_all()
    events = list(AuditEvent.select().where(AuditEvent.actor == f"holder:{mask_number(holder)}").order_by(AuditEvent.seq))
    assert [(e.action, e.outcome) for e in events][:3] == [("holder_sign_in", "failed"), ("holder_sign_in", "ok"), ("holder_set_password", "ok")]
    assert not any(holder in f"{e.actor}{e.detail}" for e in AuditEvent.select().where(AuditEvent.actor.startswith("holder:")))


# --- cookies, sessions, CSRF ----------------------------------------------------------------------


def _cookie_header(resp: Any, name: str) -> str:
    [header] = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    return header


def test_session_cookie_attributes(app: Any, holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    issued, holder = id_card()
    resp = sign_in(holder_client(), holder, code_for(issued, holder))
    cookie = _cookie_header(resp, "lic_holder")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/me" in cookie and "Secure" in cookie
    assert len(cookie.split(";")[0].split("=", 1)[1]) >= 40
    pre = _cookie_header(holder_client().get("/me/sign-in"), "lic_csrf")
    assert "HttpOnly" in pre and "SameSite=Lax" in pre and "Secure" in pre

    platform = app.extensions["licence_platform"]
    plain = dataclasses.replace(platform, settings=dataclasses.replace(platform.settings, cookie_secure=False))
    monkeypatch.setitem(app.extensions, "licence_platform", plain)
    issued2, other = id_card()
    cookie = _cookie_header(sign_in(holder_client(), other, code_for(issued2, other)), "lic_holder")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_token_is_stored_hashed_and_expires_when_idle(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    import hashlib

    from licence_svc.storage.models import HolderSession

    issued, holder = id_card()
    c = holder_client()
    claim(c, issued, holder)
    token = c.get_cookie("lic_holder", path="/me").value
    assert HolderSession.get_or_none(HolderSession.token_hash == token) is None
    row = HolderSession.get_by_id(hashlib.sha256(token.encode()).hexdigest())
    assert row.holder == holder and row.method == "password"
    HolderSession.update(expires_at=row.created_at - timedelta(seconds=1)).where(HolderSession.token_hash == row.token_hash).execute()
    assert c.get("/me").headers["Location"].endswith("/me/sign-in")


def test_password_is_stored_as_scrypt(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    from licence_svc.services.holders import verify_password
    from licence_svc.storage.models import HolderAccount

    (a, holder_a), (b, holder_b) = id_card(), id_card()
    claim(holder_client(), a, holder_a, PASSWORD)
    claim(holder_client(), b, holder_b, PASSWORD)
    stored_a = HolderAccount.get_by_id(holder_a).password_hash
    stored_b = HolderAccount.get_by_id(holder_b).password_hash
    assert stored_a.startswith("scrypt$16384$8$1$") and PASSWORD not in stored_a
    assert stored_a != stored_b, "each hash has its own salt"
    assert verify_password(PASSWORD, stored_a) and not verify_password(PASSWORD + "x", stored_a)


def test_post_without_the_right_csrf_token_changes_nothing(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    from licence_svc.services import shares

    issued, holder = id_card()
    # Sign-in: the double-submit token must match the cookie.
    c = holder_client()
    c.get("/me/sign-in")
    for token in (None, "forged-" + secrets.token_urlsafe(32)):
        data = {"holder_id": holder, "secret": code_for(issued, holder)} | ({"csrf": token} if token else {})
        resp = c.post("/me/sign-in", data=data)
        assert resp.status_code == 403 and "页面已失效" in resp.get_data(as_text=True)
        assert "lic_holder" not in (resp.headers.get("Set-Cookie") or "")
    # The code was not used up by the refused attempts.
    claim(c, issued, holder)
    grant, _ = shares.create_grant(c.application.extensions["licence_platform"], holder=holder, licence=issued.identifier, purpose="测试", scope="verify")
    for token in (None, "forged"):
        extra = {"csrf": token} if token else {}
        assert c.post(f"/me/grants/{grant.grant_id}/revoke", data=extra).status_code == 403
        assert c.post("/me/sign-out", data=extra).status_code == 403
        resp = c.post(f"/me/licences/{issued.identifier}/share", data=extra | {"purpose": "x", "scope": "verify", "hours": "1"})
        assert resp.status_code == 403
    assert [g.state for g in shares.grants_of(holder, issued.identifier)] == ["active"]
    assert c.get("/me").status_code == 200, "still signed in"
    # Another session's token does not do either.
    other = holder_client()
    issued_other, other_holder = id_card()
    claim(other, issued_other, other_holder)
    assert c.post(f"/me/grants/{grant.grant_id}/revoke", data={"csrf": session_csrf(other)}).status_code == 403
    assert [g.state for g in shares.grants_of(holder, issued.identifier)] == ["active"]


def test_personal_pages_are_not_cached(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    issued, holder = id_card()
    c = holder_client()
    claim(c, issued, holder)
    for path in ("/me", f"/me/licences/{issued.identifier}", f"/me/licences/{issued.identifier}/pdf", f"/me/licences/{issued.identifier}/share", "/me/sign-in"):
        assert c.get(path).headers["Cache-Control"] == "no-store", path


# --- whose licences -----------------------------------------------------------------------


def test_a_second_holder_cannot_see_download_or_share_by_guessing(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    from licence_svc.core.identifiers import parse_licence_id
    from licence_svc.services import shares

    (a, holder_a), (b, holder_b) = id_card(), id_card()
    ca, cb = holder_client(), holder_client()
    claim(ca, a, holder_a)
    claim(cb, b, holder_b)
    assert a.identifier not in cb.get("/me").get_data(as_text=True)
    assert b.identifier in cb.get("/me").get_data(as_text=True)

    nonexistent = str(parse_licence_id(a.identifier).next_version())  # well-formed, never issued
    token = session_csrf(cb)
    answers = {}
    for ident in (a.identifier, nonexistent, "../" + a.identifier, "x" * 300):
        answers[ident] = [
            cb.get(f"/me/licences/{ident}"),
            cb.get(f"/me/licences/{ident}/pdf"),
            cb.get(f"/me/licences/{ident}/share"),
            cb.post(f"/me/licences/{ident}/share", data={"csrf": token, "purpose": "冒用", "scope": "pdf", "hours": "24"}),
        ]
    for ident, responses in answers.items():
        assert [r.status_code for r in responses] == [404, 404, 404, 404], ident
    assert [r.get_data() for r in answers[a.identifier]] == [r.get_data() for r in answers[nonexistent]]
    assert shares.grants_of(holder_b) == []
    # Nor revoke A's grant.
    grant, _ = shares.create_grant(ca.application.extensions["licence_platform"], holder=holder_a, licence=a.identifier, purpose="测试", scope="verify")
    assert cb.post(f"/me/grants/{grant.grant_id}/revoke", data={"csrf": token}).status_code == 404
    assert [g.state for g in shares.grants_of(holder_a)] == ["active"]


def test_every_household_member_sees_the_register(holder_client: Callable[[], Any], make_licence: Callable[..., Any], sample: Callable[[str], dict[str, Any]]) -> None:
    members = sample("household_register")["members"]
    for m in members:
        m["id_number"] = person_id(m["birth_date"].replace("-", ""), male=m["sex"] == "男")
    issued = make_licence("household_register", members=members)
    for m in members:
        c = holder_client()
        claim(c, issued, m["id_number"])
        html = c.get("/me").get_data(as_text=True)
        assert issued.identifier in html and "居民户口簿" in html
        detail = c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
        assert all(other["name"] in detail for other in members)
        assert not any(other["id_number"] in detail for other in members)
    # A member's code is no key for anyone else.
    assert sign_in(holder_client(), person_id(), code_for(issued, members[0]["id_number"])).status_code == 401


def test_business_licence_belongs_to_the_company_and_its_legal_representative(holder_client: Callable[[], Any], make_licence: Callable[..., Any]) -> None:
    company, rep = credit_code(), person_id()
    issued = make_licence("business_licence", credit_code=company, legal_representative_id_number=rep)
    assert set(dict(issued.claim_codes)) == {company, rep}
    for holder in (company, rep):
        c = holder_client()
        claim(c, issued, holder)
        assert issued.identifier in c.get("/me").get_data(as_text=True)
        assert c.get(f"/me/licences/{issued.identifier}/pdf").status_code == 200


# --- the licence page, downloads and grants ---------------------------------------------------


def test_licence_page_shows_qr_details_and_usage(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]], departments: dict[str, str]) -> None:
    import base64
    import io

    import zxingcpp
    from PIL import Image

    from licence_svc.services import usage
    from licence_svc.services.audit import seal_all

    issued, holder = id_card()
    c = holder_client()
    claim(c, issued, holder)
    usage.record(issued.identifier, "check", organisation=departments["id_card"], purpose="核对身份信息", authorised=False)
    assert "公众查验" not in c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
    assert c.post("/api/v1/verify", json={"qr": issued.qr_text}).get_json()["verdict"] == "valid"  # someone scans it
    html = c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
    assert "张晓明" in html and "北京市公安局东城分局" in html
    assert holder not in html and holder[:4] in html  # masked
    assert "谁使用了我的证照" in html and "核对身份信息" in html and "未经授权的核验" in html
    assert html.count("<strong>公众查验</strong> · 扫码/文件查验") == 1  # the check, recorded and not yet sealed
    seal_all()
    assert c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True).count("<strong>公众查验</strong> · 扫码/文件查验") == 1  # sealed: still once
    src = re.search(r'<img class="qr" src="data:image/png;base64,([^"]+)"', html)
    assert src, "the QR is an inline PNG"
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(base64.b64decode(src.group(1)))))
    assert found.text == issued.qr_text


def test_download_pdf_is_an_attachment_and_logged(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]]) -> None:
    issued, holder = id_card()
    c = holder_client()
    claim(c, issued, holder)
    resp = c.get(f"/me/licences/{issued.identifier}/pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf" and resp.data.startswith(b"%PDF")
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{issued.identifier}.pdf"'
    assert resp.data == issued.pdf
    html = c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
    assert "本人下载" in html


def test_share_and_revoke_from_the_pages(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]], platform: Any) -> None:
    from licence_svc.services import shares
    from licence_svc.services.setup import DEMO_WINDOW, demo_code

    window = demo_code(DEMO_WINDOW[0])
    issued, holder = id_card()
    c = holder_client()
    claim(c, issued, holder)
    form = c.get(f"/me/licences/{issued.identifier}/share").get_data(as_text=True)
    assert "任意窗口" in form and "示例市政务服务中心综合窗口（演示）" in form and 'value="24"' in form
    token = csrf_of(form)
    bad = c.post(f"/me/licences/{issued.identifier}/share", data={"csrf": token, "recipient": window, "purpose": "", "scope": "data", "hours": "721"})
    assert bad.status_code == 422
    assert "请填写申请事由" in bad.get_data(as_text=True) and "有效期为1至720小时" in bad.get_data(as_text=True)
    assert shares.grants_of(holder) == []

    resp = c.post(f"/me/licences/{issued.identifier}/share", data={"csrf": token, "recipient": window, "purpose": "办理居住证", "scope": "data", "hours": "48"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    code = re.search(r'id="share-code">([0-9A-Z-]+)<', html).group(1)
    assert shares.parse_share_code(code) == code and "办理居住证" in html and "data:image/png;base64," in html
    [grant] = shares.grants_of(holder)
    assert (grant.recipient, grant.purpose, grant.scope, grant.expires_at - grant.created_at) == (window, "办理居住证", "data", timedelta(hours=48))

    page = c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
    assert f'data-grant="{grant.grant_id}" data-state="active"' in page and "撤销授权" in page and "创建授权" in page
    resp = c.post(f"/me/grants/{grant.grant_id}/revoke", data={"csrf": csrf_of(page)})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/me/licences/{issued.identifier}#grants")
    assert [g.state for g in shares.grants_of(holder)] == ["revoked"]
    page = c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
    assert f'data-state="revoked"' in page and "撤销授权" in page


def test_superseded_and_revoked_licences(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]], platform: Any) -> None:
    from licence_svc.core.identifiers import parse_licence_id
    from licence_svc.services import lifecycle
    from licence_svc.services.issuing import issue

    issued, holder = id_card()
    c = holder_client()
    claim(c, issued, holder)
    row = licence_row(issued.identifier)
    data = sample_data_of(row)
    data["address"] = "北京市东城区新地址1号"
    v2 = issue(platform, kind="id_card", data=data, department=row.issuer_id, previous=parse_licence_id(issued.identifier))
    html = c.get("/me").get_data(as_text=True)
    assert v2.identifier in html and f'data-identifier="{issued.identifier}"' not in html, "one card per licence: the newest version"
    old = c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
    assert "已变更" in old and "查看最新版本" in old and "授权使用</a>" not in old
    lifecycle.revoke(v2.identifier, reason="测试吊销", actor="test")
    html = c.get("/me").get_data(as_text=True)
    assert "已吊销" in html and f"/me/licences/{v2.identifier}/share" not in html


def sample_data_of(row: Any) -> dict[str, Any]:
    import json

    return json.loads(row.data_json)  # type: ignore[no-any-return]


def test_the_printed_authority_and_the_issuing_department_are_named_apart(holder_client: Callable[[], Any], id_card: Callable[[], tuple[Any, str]], client: Any) -> None:
    """An ID card prints its 签发机关 (a police bureau branch); the department that made the
    electronic licence is its 电子证照制证单位. One label each, on the holder's page and the verdict page."""
    issued, holder = id_card()
    c = holder_client()
    claim(c, issued, holder)
    html = c.get(f"/me/licences/{issued.identifier}").get_data(as_text=True)
    assert html.count("<dt>签发机关</dt>") == 1 and "<dt>签发机关</dt><dd>北京市公安局东城分局</dd>" in html
    assert html.count("<dt>电子证照制证单位</dt>") == 1
    verdict = client.get("/v/" + issued.qr_text.rsplit("/", 1)[-1]).get_data(as_text=True)
    assert "<th>签发机关</th>" not in verdict and verdict.count("<th>电子证照制证单位</th>") == 1
