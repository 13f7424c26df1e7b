"""The verdict page a phone opens gives every date and time in Beijing time, in the Chinese form
the PDF and the holder pages use: no UTC, no ISO dates."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from licence_svc.core.dates import CHINA, cn_date


def test_the_verdict_page_speaks_beijing_time(client: Any, issued_samples: dict[str, Any]) -> None:
    issued = issued_samples["driving_licence"]
    page = client.get("/v/" + issued.qr_text.rsplit("/", 1)[-1])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    report = client.post("/api/v1/verify", json={"qr": issued.qr_text}).get_json()
    assert "UTC" not in html and not re.search(r"\d{4}-\d{2}-\d{2}", html)
    issued_day = cn_date(datetime.fromisoformat(report["licence"]["issued_at"]).astimezone(CHINA).date())
    assert f"<tr><th>签发时间</th><td>{issued_day}</td></tr>" in html
    expiry = re.search(r"<tr><th>有效期至</th><td>([^<]+)</td></tr>", html)
    assert expiry and expiry.group(1) in {c["reason_zh"].removeprefix("有效期至") for c in report["checks"]} | {"长期"}  # the day the check itself names
    assert re.search(r"核验时间：\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}:\d{2}（北京时间）", html)
