"""Pictures and scans over the public API and the CLI: the printed text compared, a scan saved as
PDF verified as a scan (never "tampered" for the missing signature), offline refusing what it
cannot check."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image


def _checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in report["checks"]}


def _pdf_of(png: bytes) -> bytes:
    """The page as an image-only PDF, as a copier's "scan to PDF" makes it."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(buf, "PDF", resolution=150)
    return buf.getvalue()


def test_uploaded_photo_has_its_printed_text_compared(client: Any, issued_samples: dict[str, Any], scan_of: Callable[[bytes], bytes]) -> None:
    png = scan_of(issued_samples["driving_licence"].pdf)
    resp = client.post("/api/v1/verify", data={"file": (io.BytesIO(png), "scan.png", "image/png")}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    report = resp.get_json()
    assert report["verdict"] == "valid" and report["evidence"] == "image"
    assert _checks(report)["printed_text"]["passed"] is True
    assert "compare_printed_text" in [w["code"] for w in report["warnings"]]
    assert "陈卫国" not in resp.get_data(as_text=True)  # the printed name is compared, never echoed


def test_scan_saved_as_pdf_is_verified_as_a_scan(client: Any, issued_samples: dict[str, Any], scan_of: Callable[[bytes], bytes]) -> None:
    pdf = _pdf_of(scan_of(issued_samples["degree_certificate"].pdf))
    resp = client.post("/api/v1/verify", data={"file": (io.BytesIO(pdf), "scan.pdf", "application/pdf")}, content_type="multipart/form-data")
    report = resp.get_json()
    assert resp.status_code == 200 and report["verdict"] == "valid", report
    assert report["evidence"] == "scan"
    scan = _checks(report)["scan"]
    assert scan["passed"] is None and scan["reason_zh"] == "扫描件：仅核验二维码"
    assert "pdf_integrity" not in _checks(report)  # no signature to judge: not "tampered"


def test_cli_scan_online_is_verified_and_offline_is_refused(run_cli: Any, issued_samples: dict[str, Any], scan_of: Callable[[bytes], bytes], tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf_of(scan_of(issued_samples["id_card"].pdf)))
    online = run_cli("verify", str(path))
    assert online.returncode == 0, online.stdout + online.stderr
    assert "verdict: valid" in online.stdout and "scan" in online.stdout
    offline = run_cli("verify", "--offline", str(path))
    assert offline.returncode == 2 and "carries no signature" in offline.stderr
