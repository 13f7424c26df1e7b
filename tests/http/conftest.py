"""Fixtures for the black-box HTTP tests: the app on the session's platform, a client, and small
factories for licences and the pictures of them a service window is handed."""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageFilter

from tests.helpers import load_sample
from tests.http.contract import API, Contract


@pytest.fixture(scope="session")
def app(platform: Any) -> Any:
    """The Flask app, built after the session platform so its settings come from the session env."""
    from licence_svc.web import create_app

    flask_app = create_app()
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture()
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture(scope="module")
def contract(app: Any) -> Iterator[Contract]:
    """The served OpenAPI document (itself checked against what it says), once per module: responses
    are checked with ``contract.check(resp, method, path)``, which also records what was seen."""
    resp = app.test_client().get(f"{API}/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    c = Contract(resp.get_json())
    c.check(resp, "GET", f"{API}/openapi.json")
    yield c


@pytest.fixture()
def make_licence(platform: Any, departments: dict[str, str]) -> Callable[..., Any]:
    """Issue a fresh licence of ``kind`` (sample data with ``overrides`` applied): for tests that change state."""
    from licence_svc.services.issuing import issue

    def make(kind: str, department: str | None = None, **overrides: Any) -> Any:
        data = {**load_sample(kind), **overrides}
        return issue(platform, kind=kind, data=data, department=department or departments[kind])

    return make


@functools.lru_cache(maxsize=8)
def _render_png(pdf: bytes) -> bytes:
    """The first page as a 150 dpi colour PNG, as a flatbed scanner hands it in."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    args = [pdftoppm, "-r", "150", "-png", "-singlefile", "-f", "1", "-l", "1", "-"]
    return subprocess.run(args, input=pdf, capture_output=True, check=True, timeout=60).stdout


def _phone_photo(scan_png: bytes, angle: float = 4.0, *, blur: float = 0.8, width: int = 1200, quality: int = 70) -> bytes:
    """The scan as a phone photographs the print-out: turned ``angle`` degrees on a grey desk, a little
    out of focus, lit from one side, ``width`` pixels wide, JPEG at ``quality``."""
    img = Image.open(io.BytesIO(scan_png)).convert("RGB")
    img = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(150, 150, 145))
    img = img.filter(ImageFilter.GaussianBlur(blur))
    ramp = Image.linear_gradient("L").rotate(-35, fillcolor=128).resize(img.size)
    img = ImageChops.multiply(img, ramp.point(lambda v: 120 + (255 - 120) * v // 255).convert("RGB"))
    img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture()
def scan_of() -> Callable[[bytes], bytes]:
    """PDF → its first page as a 150 dpi colour PNG (pdftoppm), cached per PDF."""
    return _render_png


@pytest.fixture()
def photo_of() -> Callable[..., bytes]:
    """150 dpi scan → a phone photo of it: ``photo_of(scan, angle, blur=, width=, quality=)``."""
    return _phone_photo
