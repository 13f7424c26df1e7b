"""In real Chromium against a real gunicorn: the pages work under their Content-Security-Policy
(no violation reported, by the browser's console or by a securitypolicyviolation listener), and
they show the new verdicts and notices.

* The console: scanner input, PDF and picture uploads, and the camera (Chromium's fake camera), each
  reaching the API and rendering its answer.
* The holder pages: sign-in with a claim code, password, licence list, a licence with its QR (a
  data: image), a share grant.
* The verdict page a phone opens.
* Notices (report["warnings"]) shown prominently: a photo of a licence whose QR links to another
  host than this platform (a real report from the API), and a picture report with a printed_text
  check and its notice.
* ``unchecked`` (genuine, status not checked) in amber, never green or red, with its reason: the
  report is the real offline pipeline's (``services.verifying.check_qr(offline=True)``), handed to
  the console as the API's answer and rendered by the verdict page's template, until the register
  falls back to ``unchecked`` by itself when it is unavailable.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import load_sample, person_id
from tests.http.conftest_browser import CHROMIUM, CHROMIUM_ARGS, LiveServer, _fontconfig, _set_up_while_gunicorn_boots, gunicorn_started, in_a_thread, live_server  # noqa: F401  (fixtures)
from tests.http.test_holder_pages import PASSWORD

GREEN, RED, AMBER = "rgb(30, 132, 73)", "rgb(192, 57, 43)", "rgb(185, 119, 14)"  # --green, --red, --amber of static/css/base.css
RESULT_TIMEOUT_MS = 30_000
# Registered before any page script runs: every CSP violation the page meets, as the page sees it.
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber);
});
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium with a fake camera that needs no permission prompt (the console's camera)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: the browser tests need Debian's chromium")
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "FONTCONFIG_FILE": str(_fontconfig(tmp_path_factory.mktemp("fontconfig")))}
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=args, env=env)
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page and what its console said about the Content-Security-Policy."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))

    def violations(self) -> list[str]:
        seen = [m for m in self.console if "Content Security Policy" in m or "Content-Security-Policy" in m or "Refused to" in m]
        try:
            seen += self.page.evaluate("window.__csp || []")
        except Exception:  # noqa: BLE001  (a page in the middle of navigating)
            pass
        return seen


@pytest.fixture()
def watched(browser: Any) -> Iterator[Any]:
    """``watched(**context_options)`` → a Watched page in a new context with the CSP listener."""
    contexts: list[Any] = []

    def make(**options: Any) -> Watched:
        context = browser.new_context(locale="zh-CN", **options)
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        return Watched(context.new_page())

    yield make
    for context in contexts:
        context.close()


def _issue(platform: Any, departments: dict[str, str], **overrides: Any) -> Any:
    from licence_svc.services.issuing import issue

    return in_a_thread(issue, platform, kind="id_card", data={**load_sample("id_card"), **overrides}, department=departments["id_card"])


def _verdict(page: Any) -> Any:
    verdict = page.locator("#result [data-verdict]")
    verdict.wait_for(timeout=RESULT_TIMEOUT_MS)
    return verdict


def _clear(page: Any) -> None:
    page.evaluate("document.getElementById('result').textContent = ''")


def _scan(page: Any, text: str) -> None:
    page.locator("#qr").click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def _background(locator: Any) -> str:
    return locator.evaluate("e => getComputedStyle(e).backgroundColor")  # type: ignore[no-any-return]


# -- everything works under the policy --------------------------------------------------------


def test_console_scanner_uploads_and_camera_work_under_the_csp(
    watched: Any, live_server: LiveServer, departments: dict[str, str], scan_of: Any, tmp_path: Path  # noqa: F811
) -> None:
    issued = _issue(live_server.platform, departments)
    w = watched(viewport={"width": 1280, "height": 900}, permissions=["camera"])
    page = w.page
    response = page.goto(live_server.url("/verify"))
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    assert page.evaluate("document.activeElement.id") == "qr"

    _scan(page, issued.qr_text)  # the USB scanner
    assert _verdict(page).get_attribute("data-verdict") == "valid"
    assert _background(_verdict(page)) == GREEN
    said = page.locator("#result").inner_text()
    assert "UTC" not in said and re.search(r"核验时间：\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}:\d{2}（北京时间）", said), said

    pdf, png = tmp_path / "licence.pdf", tmp_path / "licence.png"
    pdf.write_bytes(issued.pdf)
    png.write_bytes(scan_of(issued.pdf))
    for upload, evidence, said in ((pdf, "pdf", "PDF 文件"), (png, "image", "图片（照片或扫描）")):
        _clear(page)
        page.set_input_files("#file", str(upload))
        assert _verdict(page).get_attribute("data-verdict") == "valid", page.locator("#result").inner_text()
        assert page.locator("#result [data-evidence]").get_attribute("data-evidence") == evidence
        assert f"证据：{said}" in page.locator("#result").inner_text()

    # The camera: Chromium's fake device (a test pattern, no QR in it) -> the snapshot is sent and
    # the API's answer (unreadable: 无法识别) is shown.
    _clear(page)
    page.click("#camera-btn")
    page.locator("#snap").wait_for(state="visible", timeout=RESULT_TIMEOUT_MS)
    assert page.locator("#camera").is_visible()
    page.wait_for_function("document.getElementById('camera').videoWidth > 0", timeout=RESULT_TIMEOUT_MS)
    with page.expect_response(lambda r: r.url.endswith("/api/v1/verify")) as answer:
        page.click("#snap")
    assert answer.value.status == 422 and answer.value.request.headers["content-type"].startswith("multipart/form-data")
    assert _verdict(page).get_attribute("data-verdict") == "unreadable"
    assert w.violations() == []


def test_holder_pages_work_under_the_csp(watched: Any, live_server: LiveServer, departments: dict[str, str]) -> None:  # noqa: F811
    holder = person_id()
    issued = _issue(live_server.platform, departments, id_number=holder)
    w = watched(viewport={"width": 375, "height": 812}, is_mobile=True, has_touch=True)
    page = w.page
    page.goto(live_server.url("/me"))
    page.fill("#holder_id", holder)
    page.fill("#secret", dict(issued.claim_codes)[holder])
    page.click("#sign-in button[type=submit]")
    page.wait_for_url("**/me/set-password")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("#set-password button[type=submit]")
    page.wait_for_url("**/me?password=set")
    assert _background(page.locator(f'.licence[data-identifier="{issued.identifier}"] .status')) == GREEN  # the stylesheet applies
    page.goto(live_server.url(f"/me/licences/{issued.identifier}"))
    assert page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth > 0"), "the QR (a data: image) did not load"
    page.goto(live_server.url(f"/me/licences/{issued.identifier}/share"))
    page.fill("#purpose", "办理居住证")
    page.click("#share button[type=submit]")
    page.locator("#share-code").wait_for()
    assert page.locator("img.qr").evaluate("img => img.complete && img.naturalWidth > 0")
    assert w.violations() == []


def test_verdict_page_works_under_the_csp(watched: Any, live_server: LiveServer, departments: dict[str, str]) -> None:  # noqa: F811
    issued = _issue(live_server.platform, departments)
    w = watched(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    response = w.page.goto(issued.qr_text)
    assert response is not None and response.status == 200
    assert response.headers["cache-control"] == "no-store" and response.headers["x-frame-options"] == "DENY"
    assert _background(w.page.locator("[data-verdict]")) == GREEN
    for path in ("/", "/api/docs", "/s/K7Q2M-9XA3P"):
        w.page.goto(live_server.url(path))
        assert w.page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(178, 34, 34)", path
    assert w.violations() == []


def test_the_violation_watch_sees_an_inline_script(watched: Any, live_server: LiveServer) -> None:  # noqa: F811
    """The control for the tests above: a page with inline script and style under the platform's
    headers is reported, by the console and by the listener."""
    from licence_svc.web.headers import HEADERS

    w = watched()
    url = live_server.url("/csp-control")
    body = "<!doctype html><style>body{color:red}</style><p>x</p><script>document.title='ran'</script>"
    w.page.route(url, lambda route: route.fulfill(status=200, content_type="text/html", headers=dict(HEADERS), body=body))
    w.page.goto(url)
    w.page.wait_for_timeout(300)
    assert w.page.title() != "ran"
    seen = w.violations()
    assert any("script-src" in v for v in seen) and any("style-src" in v for v in seen), seen


def test_the_console_cannot_be_framed(watched: Any, live_server: LiveServer) -> None:  # noqa: F811
    w = watched()
    w.page.set_content(f'<iframe id="f" src="{live_server.url("/verify")}"></iframe>')
    w.page.wait_for_timeout(1500)
    frame = w.page.frame_locator("#f")
    assert frame.locator("#qr").count() == 0, "the console loaded inside a frame"


# -- notices and the new verdicts ---------------------------------------------------------------


def _upload(watched: Any, live_server: LiveServer, path: Path) -> tuple[Any, Any, dict[str, Any]]:  # noqa: F811
    """The console, a file chosen in it, and the API's answer: (watched browser, page, report)."""
    w = watched(viewport={"width": 1280, "height": 900})
    page = w.page
    page.goto(live_server.url("/verify"))
    with page.expect_response(lambda r: r.url.endswith("/api/v1/verify")) as answer:
        page.set_input_files("#file", str(path))
    report = answer.value.json()
    assert _verdict(page).get_attribute("data-verdict") == report["verdict"]
    return w, page, report


def test_a_photo_whose_qr_links_elsewhere_shows_the_notice(
    watched: Any, live_server: LiveServer, platform: Any, departments: dict[str, str], scan_of: Any, tmp_path: Path  # noqa: F811
) -> None:
    """A real report from the API: a licence issued while the platform's address was another
    (the session platform's http://127.0.0.1:8000), photographed and uploaded at the console."""
    issued = _issue(platform, departments)
    assert not issued.qr_text.upper().startswith(live_server.origin.upper())
    png = tmp_path / "photo.png"
    png.write_bytes(scan_of(issued.pdf))
    w, page, report = _upload(watched, live_server, png)
    assert report["evidence"] == "image"
    assert "other_host" in [n["code"] for n in report["warnings"]], report["warnings"]
    _assert_rendered(page, report)
    assert w.violations() == []
    page.screenshot(path=str(tmp_path / "console-other-host.png"), full_page=True)


def _assert_rendered(page: Any, report: dict[str, Any]) -> None:
    """The console shows every notice in Chinese in the notices box (above the licence), and every
    check with its Chinese label and reason."""
    notices = page.locator("#result .notices")
    if report["warnings"]:
        assert notices.is_visible()
        assert notices.evaluate("e => getComputedStyle(e).borderTopColor") == AMBER
        for n in report["warnings"]:
            item = notices.locator(f'li[data-notice="{n["code"]}"]')
            assert item.inner_text() == n["message_zh"]
        box = notices.bounding_box()
        first_row = page.locator("#result table").first
        if first_row.count():
            assert box["y"] < first_row.bounding_box()["y"], "the notices must come before the licence details"
    shown = page.locator("#result li[data-check]").evaluate_all("lis => lis.map(li => [li.dataset.check, li.innerText])")
    assert shown == [[c["name"], f'{c["label"]}：{c["reason_zh"]}'] for c in report["checks"]]
    text = page.locator("#result").inner_text()
    assert not any(n["message"] in text for n in report["warnings"]), "English notice shown"


def test_a_picture_report_with_printed_text_and_its_notice(
    watched: Any, live_server: LiveServer, departments: dict[str, str], scan_of: Any, tmp_path: Path  # noqa: F811
) -> None:
    """The API's picture report (OCR of the printed text, 印刷文字) and the notice telling the clerk
    to compare it, as the console shows them."""
    from licence_svc.core.verify import PRINTED_TEXT

    issued = _issue(live_server.platform, departments)
    png = tmp_path / "scan.png"
    png.write_bytes(scan_of(issued.pdf))
    w, page, report = _upload(watched, live_server, png)
    assert "compare_printed_text" in [n["code"] for n in report["warnings"]]
    printed = page.locator(f'#result li[data-check="{PRINTED_TEXT}"]')
    assert printed.first.inner_text().startswith("印刷文字：")
    _assert_rendered(page, report)
    assert w.violations() == []
    page.screenshot(path=str(tmp_path / "console-printed-text.png"), full_page=True)


@pytest.fixture()
def unchecked_report(live_server: LiveServer, departments: dict[str, str]) -> tuple[Any, dict[str, Any]]:  # noqa: F811
    """(issued licence, its report from the real pipeline with no status source: unchecked)."""
    from licence_svc.services.verifying import check_qr

    issued = _issue(live_server.platform, departments)
    report = in_a_thread(check_qr, live_server.platform, issued.qr_text, offline=True).as_dict()
    assert report["verdict"] == "unchecked", report["verdict"]
    return issued, json.loads(json.dumps(report, default=str))


def test_unchecked_is_amber_on_the_console(
    watched: Any, live_server: LiveServer, unchecked_report: tuple[Any, dict[str, Any]], tmp_path: Path  # noqa: F811
) -> None:
    issued, report = unchecked_report
    w = watched(viewport={"width": 1280, "height": 900})
    page = w.page
    page.route("**/api/v1/verify", lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(report)))
    page.goto(live_server.url("/verify"))
    _scan(page, issued.qr_text)
    verdict = _verdict(page)
    assert verdict.get_attribute("data-verdict") == "unchecked"
    assert _background(verdict) == AMBER
    text = verdict.inner_text()
    assert text.startswith("真实，状态未核验")
    assert "不能作为有效证照使用" in text and "未核验：离线核验（无登记库或状态列表）" in text
    assert "有效" not in text.replace("不能作为有效证照使用", "")
    _assert_rendered(page, report)
    assert w.violations() == []
    page.screenshot(path=str(tmp_path / "console-unchecked.png"), full_page=True)


def test_unchecked_is_amber_on_the_verdict_page(
    watched: Any, app: Any, live_server: LiveServer, unchecked_report: tuple[Any, dict[str, Any]], tmp_path: Path  # noqa: F811
) -> None:
    """The verdict page's template renders the report; served at the QR link on the live origin
    with the platform's headers, so its stylesheet and policy are the real ones."""
    from flask import render_template

    from licence_svc.core.verify import VERDICT_LABELS
    from licence_svc.web.headers import HEADERS

    issued, report = unchecked_report
    with app.test_request_context("/V/x"):
        html = render_template("verdict.html", report=report, error=None, labels=VERDICT_LABELS)
    w = watched(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = w.page
    link = live_server.url("/V/" + issued.qr_text.rsplit("/", 1)[1])
    page.route(link, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", headers=dict(HEADERS), body=html))
    page.goto(link)
    verdict = page.locator("[data-verdict]")
    assert verdict.get_attribute("data-verdict") == "unchecked"
    assert _background(verdict) == AMBER
    assert page.locator("[data-verdict] .big").inner_text() == "真实，状态未核验"
    assert "未核验：离线核验（无登记库或状态列表）" in page.locator("[data-verdict] .reason").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "sideways scrolling on a phone"
    assert w.violations() == []
    page.screenshot(path=str(tmp_path / "phone-unchecked.png"), full_page=True)


def test_notices_on_the_verdict_page(
    watched: Any, app: Any, live_server: LiveServer, departments: dict[str, str], tmp_path: Path  # noqa: F811
) -> None:
    """A QR link of a licence issued while the platform's address was another: the verdict page
    (rendered by the live server itself) shows the notice above the licence, in Chinese."""
    from licence_svc.services.verifying import check_qr

    other = replace(live_server.platform, settings=replace(live_server.platform.settings, base_url="http://127.0.0.1:8000"))
    issued = _issue(other, departments)
    report = in_a_thread(check_qr, live_server.platform, issued.qr_text).as_dict()
    [notice] = [n for n in report["warnings"] if n["code"] == "other_host"]
    w = watched(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = w.page
    # The same payload under this server's own address: the page is the live server's answer.
    page.goto(live_server.url("/V/" + issued.qr_text.rsplit("/", 1)[1]))
    assert page.locator("[data-verdict]").get_attribute("data-verdict") == "valid"
    assert page.locator(".notices").count() == 0, "a link to this very platform has no notice"
    with app.test_request_context("/V/x"):
        from flask import render_template

        from licence_svc.core.verify import VERDICT_LABELS
        from licence_svc.web.headers import HEADERS

        html = render_template("verdict.html", report=report, error=None, labels=VERDICT_LABELS)
    link = live_server.url("/V/notice-test")
    page.route(link, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", headers=dict(HEADERS), body=html))
    page.goto(link)
    notices = page.locator(".notices")
    assert notices.is_visible() and notices.get_attribute("role") == "alert"
    assert notices.locator('li[data-notice="other_host"]').inner_text() == notice["message_zh"]
    assert notices.bounding_box()["y"] < page.locator(".card table").first.bounding_box()["y"]
    assert _background(page.locator("[data-verdict]")) == GREEN  # a notice does not change the verdict
    assert w.violations() == []
    page.screenshot(path=str(tmp_path / "phone-notice.png"), full_page=True)
