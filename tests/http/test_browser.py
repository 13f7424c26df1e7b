"""Black box in a real browser: gunicorn serves the platform, headless Chromium uses it as a service
window (the /verify console with a USB scanner and uploads) and as a phone camera (the verdict page
a QR link opens). Licences are issued and revoked in-process against the same database.

Found while writing these (PostgreSQL): every gunicorn worker runs create_app -> Platform.open(
create_schema=True) -> create_tables in one transaction; CREATE INDEX IF NOT EXISTS takes a SHARE
lock on each table even when the index exists, so a worker starting while a licence is issued
deadlocks with the issue's INSERTs (licence, then auditevent): "deadlock detected", the issue fails
as Unavailable (or the worker fails to boot). The fixtures issue only after both workers are up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import byte_range, load_sample
from tests.http.conftest_browser import LiveServer, _set_up_while_gunicorn_boots, browser, gunicorn_started, in_a_thread, live_server  # noqa: F401  (fixtures)

PHONE = {"width": 390, "height": 844}
GREEN = "rgb(30, 132, 73)"  # --green in templates/base.html
RED = "rgb(192, 57, 43)"  # --red
FULL_NAME, MASKED_NAME = "张晓明", "张*明"
FULL_ID = "110101199003071233"
RESULT_TIMEOUT_MS = 20_000  # a PDF upload is parsed in a sandbox process: the first one starts it


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go (look at them: Chinese renders, big green/red verdict)."""
    return tmp_path_factory.mktemp("screenshots")


def _issue_id_card(live_server: LiveServer, departments: dict[str, str]) -> Any:
    """A fresh identity card whose QR text links to the live server."""
    from licence_svc.services.issuing import issue

    data = load_sample("id_card")
    issued = in_a_thread(issue, live_server.platform, kind="id_card", data=data, department=departments["id_card"])
    assert issued.qr_text.upper().startswith(live_server.origin.upper() + "/V/"), issued.qr_text
    return issued


@pytest.fixture(scope="module")
def valid_card(live_server: LiveServer, departments: dict[str, str]) -> Any:  # noqa: F811
    """An identity card in force, shared by the tests that only read it."""
    return _issue_id_card(live_server, departments)


@pytest.fixture(scope="module")
def revoked_card(live_server: LiveServer, departments: dict[str, str]) -> Any:  # noqa: F811
    """An identity card revoked as lost (遗失作废), with the department's own reason 测试吊销 (never shown)."""
    from licence_svc.services import lifecycle

    issued = _issue_id_card(live_server, departments)
    in_a_thread(lifecycle.revoke, issued.identifier, reason="测试吊销", category="lost", actor="test")
    return issued


@pytest.fixture()
def requests_seen() -> list[str]:
    return []


@pytest.fixture()
def console(browser: Any, live_server: LiveServer, requests_seen: list[str]) -> Iterator[Any]:  # noqa: F811
    """The window console at a desktop size, every request it makes recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.on("request", lambda r: requests_seen.append(r.url))
    page.goto(live_server.url("/verify"))
    yield page
    context.close()


@pytest.fixture()
def phone(browser: Any, requests_seen: list[str]) -> Iterator[Any]:  # noqa: F811
    """A phone-sized page (390x844, touch), every request it makes recorded."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    page.on("request", lambda r: requests_seen.append(r.url))
    yield page
    context.close()


def scan(page: Any, text: str) -> None:
    """What a USB scanner does: type the QR text into the focused box, then Enter."""
    page.locator("#qr").click()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def verdict_in_result(page: Any) -> Any:
    verdict = page.locator("#result [data-verdict]")
    verdict.wait_for(timeout=RESULT_TIMEOUT_MS)
    return verdict


def only_local(requests: list[str], origin: str) -> None:
    assert requests, "no request recorded"
    outside = [u for u in requests if not u.startswith(origin + "/")]
    assert not outside, f"requests outside {origin}: {outside}"


def tamper_one_signed_byte(pdf: bytes) -> bytes:
    """Change one byte of the document info's /Creator text: inside the first signed byte range,
    and the file still parses."""
    a, b, _, _ = byte_range(pdf)
    pos = pdf.rindex(b"/Creator (", 0, a + b) + len(b"/Creator (") + 2
    assert a <= pos < a + b
    buf = bytearray(pdf)
    buf[pos] = ord("X") if buf[pos] != ord("X") else ord("Y")
    return bytes(buf)


# -- the window console: scanner and uploads ---------------------------------------------------


def test_console_scanner_shows_valid_with_masked_holder(
    console: Any, valid_card: Any, live_server: LiveServer, requests_seen: list[str], shots: Path  # noqa: F811
) -> None:
    issued = valid_card
    assert console.evaluate("document.activeElement.id") == "qr", "the scanner box should have the focus on load"
    scan(console, issued.qr_text)
    verdict = verdict_in_result(console)
    assert verdict.get_attribute("data-verdict") == "valid", console.locator("#result").inner_text()
    assert verdict.inner_text().startswith("有效")
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    result = console.locator("#result").inner_text()
    assert MASKED_NAME in result
    assert FULL_NAME not in result and FULL_NAME not in console.content()
    assert FULL_ID not in result and "1101**********1233" in result
    assert issued.identifier in result
    assert console.locator("#qr").input_value() == "", "the box is cleared for the next scan"
    assert console.evaluate("document.activeElement.id") == "qr", "the box keeps the focus for the next scan"
    console.screenshot(path=str(shots / "console-valid.png"), full_page=True)
    only_local(requests_seen, live_server.origin)


def test_console_scanner_shows_revoked_with_reason(console: Any, revoked_card: Any, shots: Path) -> None:
    issued = revoked_card
    scan(console, issued.qr_text)
    verdict = verdict_in_result(console)
    assert verdict.get_attribute("data-verdict") == "revoked", console.locator("#result").inner_text()
    text = verdict.inner_text()
    assert text.startswith("已吊销") and "有效" not in text.splitlines()[0]
    assert "证照已遗失作废（据登记库）" in text  # the public category in Chinese (reason_zh), not the English one
    assert "测试吊销" not in console.locator("#result").inner_text()  # never the department's own words
    assert "licence revoked" not in console.locator("#result").inner_text()
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert FULL_NAME not in console.locator("#result").inner_text()
    console.screenshot(path=str(shots / "console-revoked.png"), full_page=True)


def test_console_upload_tampered_pdf_then_genuine(console: Any, valid_card: Any, tmp_path: Path, shots: Path) -> None:
    issued = valid_card
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(tamper_one_signed_byte(issued.pdf))
    good = tmp_path / "genuine.pdf"
    good.write_bytes(issued.pdf)

    console.set_input_files("#file", str(bad))
    verdict = verdict_in_result(console)
    assert verdict.get_attribute("data-verdict") == "tampered", console.locator("#result").inner_text()
    text = verdict.inner_text()
    assert text.startswith("已被篡改")
    assert "签名与文件内容不符" in text, text  # reason_zh: people read Chinese
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    console.screenshot(path=str(shots / "console-tampered.png"), full_page=True)

    console.evaluate("document.getElementById('result').textContent = ''")  # wait for the new verdict, not the old
    console.set_input_files("#file", str(good))  # the input was cleared: the same field takes the next file
    assert verdict_in_result(console).get_attribute("data-verdict") == "valid", console.locator("#result").inner_text()
    result = console.locator("#result").inner_text()
    assert result.startswith("有效")
    assert "证据：PDF 文件" in result and issued.identifier in result
    assert MASKED_NAME in result and FULL_NAME not in result


# -- the page a phone camera opens -------------------------------------------------------------


def _open_qr_link(phone: Any, qr_text: str, live_server: LiveServer) -> Any:
    """Open the QR text as a phone does: it is a link to the server (upper-case scheme and host)."""
    response = phone.goto(qr_text)
    assert response is not None
    assert phone.url.lower().startswith(live_server.origin + "/v/"), phone.url
    return response


def _check_phone_layout(phone: Any) -> None:
    viewport = phone.locator('meta[name="viewport"]')
    assert viewport.count() == 1
    assert "width=device-width" in (viewport.get_attribute("content") or "")
    overflow = phone.evaluate("document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"], f"page is {overflow}px wide on a {PHONE['width']}px phone: sideways scrolling"


def test_qr_link_page_valid_on_a_phone(
    phone: Any, valid_card: Any, live_server: LiveServer, requests_seen: list[str], shots: Path  # noqa: F811
) -> None:
    issued = valid_card
    response = _open_qr_link(phone, issued.qr_text, live_server)
    assert response.status == 200
    verdict = phone.locator("[data-verdict]")
    assert verdict.get_attribute("data-verdict") == "valid", phone.locator("main").inner_text()
    big = phone.locator("[data-verdict] .big")
    assert big.inner_text() == "有效"
    assert float(big.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32, "the verdict should be large"
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN
    body = phone.locator("body").inner_text()
    assert MASKED_NAME in body and FULL_NAME not in phone.content()
    assert FULL_ID not in body
    _check_phone_layout(phone)
    phone.screenshot(path=str(shots / "phone-valid.png"), full_page=True)
    phone.screenshot(path=str(shots / "phone-valid-first-screen.png"))
    only_local(requests_seen, live_server.origin)


def test_qr_link_page_revoked_on_a_phone(
    phone: Any, revoked_card: Any, live_server: LiveServer, requests_seen: list[str], shots: Path  # noqa: F811
) -> None:
    issued = revoked_card
    response = _open_qr_link(phone, issued.qr_text, live_server)
    assert response.status == 200
    verdict = phone.locator("[data-verdict]")
    assert verdict.get_attribute("data-verdict") == "revoked", phone.locator("main").inner_text()
    assert phone.locator("[data-verdict] .big").inner_text() == "已吊销"
    assert "证照已遗失作废（据登记库）" in phone.locator("[data-verdict] .reason").inner_text()
    assert "测试吊销" not in phone.content()
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert "有效" not in phone.locator("[data-verdict]").inner_text()
    _check_phone_layout(phone)
    phone.screenshot(path=str(shots / "phone-revoked.png"), full_page=True)
    only_local(requests_seen, live_server.origin)


def test_qr_link_with_a_damaged_payload_says_so(phone: Any, valid_card: Any) -> None:
    """A QR link whose payload was altered is not 有效 (a forged link, or a misread)."""
    issued = valid_card
    head, payload = issued.qr_text.rsplit("/", 1)
    i = len(payload) // 2
    altered = payload[:i] + ("A" if payload[i] != "A" else "B") + payload[i + 1 :]
    response = phone.goto(f"{head}/{altered}")
    assert response is not None and response.status in (200, 422)
    verdict = phone.locator("[data-verdict]")
    assert verdict.get_attribute("data-verdict") != "valid"
    assert "有效" != phone.locator("[data-verdict] .big").inner_text()
    assert verdict.evaluate("e => getComputedStyle(e).backgroundColor") == RED


def test_qr_link_page_labels_on_one_line_on_a_phone(phone: Any, valid_card: Any) -> None:
    issued = valid_card
    phone.goto(issued.qr_text)
    lines = phone.eval_on_selector_all(
        ".card table th",
        """ths => ths.map(th => {
            const r = document.createRange(); r.selectNodeContents(th);
            return [th.textContent, new Set([...r.getClientRects()].map(x => Math.round(x.top))).size];
        })""",
    )
    assert lines, "no table on the verdict page"
    wrapped = [label for label, n in lines if n > 1]
    assert not wrapped, f"labels wrapped onto several lines at {PHONE['width']}px: {wrapped} ({lines})"
