"""Acceptance in a real browser: gunicorn serves the platform, headless Chromium is the holder.

The holder signs in with the claim code from the paper notice, sets a password, sees the licence,
downloads the PDF and authorises the demo service window to use it for a purpose; the window
redeems the share code over the API with its token; the holder reloads the licence page and sees
that use (organisation and purpose) in "谁使用了我的证照". Once at a desktop size, once on a
375 px wide phone, where no page may scroll sideways.

The session cookie is Secure (the default, ``cookie_secure``) although the server speaks plain
http: Chromium treats http://127.0.0.1 as a secure context and keeps Secure cookies from it,
which this test relies on (it would fail at the first page after sign-in otherwise).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import load_sample, person_id
from tests.http.conftest_browser import LiveServer, _set_up_while_gunicorn_boots, browser, gunicorn_started, in_a_thread, live_server  # noqa: F401  (fixtures)
from tests.http.live_server import call
from tests.http.test_holder_pages import PASSWORD

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 375, "height": 812}}
WINDOW_NAME = "示例市政务服务中心综合窗口（演示）"
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("holder-screenshots")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_holder_claims_downloads_shares_and_sees_the_window_use_it(
    browser: Any,  # noqa: F811
    live_server: LiveServer,  # noqa: F811
    platform: Any,
    departments: dict[str, str],
    shots: Path,
    size: str,
) -> None:
    from licence_svc.services.issuing import issue
    from licence_svc.services.setup import DEMO_WINDOW, demo_code

    holder = person_id()
    data = load_sample("id_card") | {"id_number": holder}
    issued = in_a_thread(issue, live_server.platform, kind="id_card", data=data, department=departments["id_card"])
    claim_code = dict(issued.claim_codes)[holder]
    window = demo_code(DEMO_WINDOW[0])
    phone = size == "phone"

    context = browser.new_context(viewport=VIEWPORTS[size], locale="zh-CN", accept_downloads=True, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    try:

        def no_sideways_scroll(what: str) -> None:
            if phone:
                assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{what} scrolls sideways at 375 px"

        # 1. Signed out, /me leads to the sign-in form; the claim code from the notice, as typed.
        page.goto(live_server.url("/me"))
        assert page.url.endswith("/me/sign-in")
        no_sideways_scroll("the sign-in page")
        page.fill("#holder_id", holder)
        page.fill("#secret", claim_code.lower())
        page.click("#sign-in button[type=submit]")
        page.wait_for_url("**/me/set-password")
        [cookie] = [c for c in context.cookies() if c["name"] == "lic_holder"]
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/me"

        # 2. A password, then the licence list.
        page.fill("#password", PASSWORD)
        page.fill("#confirm", PASSWORD)
        page.click("#set-password button[type=submit]")
        page.wait_for_url("**/me?password=set")
        card = page.locator(f'.licence[data-identifier="{issued.identifier}"]')
        assert card.is_visible()
        assert "居民身份证" in card.inner_text() and "有效" in card.inner_text()
        no_sideways_scroll("/me")
        page.screenshot(path=str(shots / f"{size}-licences.png"), full_page=True)

        # 3. The PDF downloads as a file.
        with page.expect_download() as download:
            card.get_by_text("下载PDF").click()
        pdf = Path(download.value.path()).read_bytes()
        assert pdf.startswith(b"%PDF") and download.value.suggested_filename == f"{issued.identifier}.pdf"

        # 4. Authorise the demo window for a purpose.
        card.get_by_text("授权使用").click()
        page.wait_for_url(f"**/me/licences/{issued.identifier}/share")
        no_sideways_scroll("the share form")
        page.select_option("#recipient", window)
        page.fill("#purpose", "办理居住证申请")
        page.check("input[name=scope][value=data]")
        page.click("#share button[type=submit]")
        code = page.locator("#share-code").inner_text().strip()
        assert len(code) == 11 and code[5] == "-"
        assert page.locator("img.qr").evaluate("img => img.naturalWidth") > 100
        no_sideways_scroll("the share code page")
        page.screenshot(path=str(shots / f"{size}-share-code.png"), full_page=True)

        # 5. The window redeems it over the API with its own token.
        answer = call("POST", live_server.url("/api/v1/shares/redeem"), json={"code": code}, token=platform.demo_tokens[window])
        assert answer.status == 200, answer.body[:500]
        body = answer.json()
        assert body["grant"]["purpose"] == "办理居住证申请" and body["licence"]["identifier"] == issued.identifier

        # 6. The holder sees it: which window, what for.
        page.goto(live_server.url(f"/me/licences/{issued.identifier}"))
        redeemed = page.locator("#usage li[data-action=redeem]")
        assert redeemed.count() == 1
        text = redeemed.inner_text()
        assert WINDOW_NAME in text and "办理居住证申请" in text and "凭授权码使用" in text
        assert page.locator("#usage li[data-action=holder_download]").count() == 1
        assert page.locator("#qr img.qr").evaluate("img => img.naturalWidth") > 100
        no_sideways_scroll("the licence page")
        page.screenshot(path=str(shots / f"{size}-licence.png"), full_page=True)

        # 7. Signing out ends the session.
        page.locator("form[action='/me/sign-out'] button").click()
        page.wait_for_url("**/me/sign-in")
        page.goto(live_server.url("/me"))
        assert page.url.endswith("/me/sign-in")
    finally:
        context.close()
