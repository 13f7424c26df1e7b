"""Fixtures for the browser tests: a real gunicorn serving the session's platform, and headless
Chromium driven by playwright. Imported by test_browser.py (this is not a conftest.py)."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FONTS_DIR = ROOT / "licence_svc" / "fonts"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    origin: str  # http://127.0.0.1:<port>
    process: subprocess.Popen[bytes]
    log: Path
    platform: Any  # the session platform with base_url set to this server: its QR texts link here

    def url(self, path: str) -> str:
        return self.origin + path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


WORKERS = 2
READY = "test-worker-ready"
# post_worker_init runs once a worker has built the app (create_app: schema check, keys): counting
# these lines tells that every worker is past start-up, which /healthz alone does not.
GUNICORN_CONF = f"def post_worker_init(worker):\n    print('{READY}', worker.pid, flush=True)\n"


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if log.read_text(errors="replace").count(READY) >= WORKERS:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not healthy after {timeout:.0f} s ({last}):\n{log.read_text(errors='replace')[-4000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def gunicorn_started(platform: Any, platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real gunicorn (2 sync workers) on 127.0.0.1 and a free port, serving the session platform;
    started, perhaps not yet answering (take ``live_server`` for that): its boot overlaps the browser's.

    LICENCE_BASE_URL points at the server itself, and the ``platform`` it carries issues with that
    base URL, so an issued licence's QR text is a link a browser can open.
    """
    gunicorn = Path(sys.executable).parent / "gunicorn"
    if not gunicorn.exists():
        pytest.fail(f"gunicorn not installed next to {sys.executable}")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {**os.environ, **platform_env, "LICENCE_BASE_URL": origin}
    work = tmp_path_factory.mktemp("gunicorn")
    log = work / "gunicorn.log"
    conf = work / "gunicorn_conf.py"
    conf.write_text(GUNICORN_CONF, encoding="utf-8")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(gunicorn), "--config", str(conf), "--workers", str(WORKERS), "--worker-class", "sync",
             "--bind", f"127.0.0.1:{port}", "--timeout", "60", "--graceful-timeout", "5", "--no-control-socket", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal does not reach it; we stop it
        )
    try:
        here = dataclasses.replace(platform, settings=dataclasses.replace(platform.settings, base_url=origin))
        yield LiveServer(origin, proc, log, here)
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def live_server(gunicorn_started: LiveServer) -> LiveServer:
    """The gunicorn server, once both workers have built the app and GET /healthz answers (30 s at most)."""
    _wait_healthy(gunicorn_started.origin + "/healthz", gunicorn_started.process, gunicorn_started.log)
    return gunicorn_started


def _fontconfig(tmp: Path) -> Path:
    """A fontconfig file adding the platform's packaged CJK font (WenQuanYi Zen Hei) to the system
    fonts, so the screenshots show Chinese as a phone or a Windows PC with CJK fonts would, even on
    a server with no CJK font installed. The pages themselves load no fonts."""
    conf = tmp / "fonts.conf"
    conf.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>\n'
        f"  <dir>{FONTS_DIR}</dir>\n"
        f"  <cachedir>{tmp / 'fccache'}</cachedir>\n"
        "</fontconfig>\n",
        encoding="utf-8",
    )
    return conf


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium through playwright's sync API (no downloaded browsers)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: the browser tests need Debian's chromium")
    from playwright.sync_api import sync_playwright

    conf = _fontconfig(tmp_path_factory.mktemp("fontconfig"))
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, env=env)
        try:
            yield b
        finally:
            b.close()

