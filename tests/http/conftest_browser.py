"""Fixtures for the browser tests: a real gunicorn serving the session's platform, and headless
Chromium driven by playwright. Imported by test_browser.py and test_holder_browser.py (this is not
a conftest.py); they import the autouse ``_set_up_while_gunicorn_boots`` too, which orders set-up."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.http.live_server import GUNICORN, ROOT, start_gunicorn, stop, wait_healthy

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


@dataclass
class LiveServer:
    origin: str  # http://127.0.0.1:<port>
    process: subprocess.Popen[bytes]
    log: Path
    platform: Any  # the session platform with base_url set to this server: its QR texts link here

    def url(self, path: str) -> str:
        return self.origin + path


WORKERS = 2
READY = "test-worker-ready"
# post_worker_init runs once a worker has built the app (create_app: schema check, keys): counting
# these lines tells that every worker is past start-up, which /healthz alone does not.
GUNICORN_CONF = f"def post_worker_init(worker):\n    print('{READY}', worker.pid, flush=True)\n"


@pytest.fixture(scope="module")
def gunicorn_started(platform: Any, platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real gunicorn (2 sync workers) on 127.0.0.1 and a free port, serving the session platform;
    started, perhaps not yet answering (take ``live_server`` for that): its boot overlaps the browser's.

    LICENCE_BASE_URL points at the server itself, and the ``platform`` it carries issues with that
    base URL, so an issued licence's QR text is a link a browser can open.
    """
    if not GUNICORN.exists():
        pytest.fail(f"gunicorn not installed next to {sys.executable}")
    work = tmp_path_factory.mktemp("gunicorn")
    log = work / "gunicorn.log"
    conf = work / "gunicorn_conf.py"
    conf.write_text(GUNICORN_CONF, encoding="utf-8")
    options = ("--config", str(conf), "--worker-class", "sync", "--timeout", "60", "--graceful-timeout", "5")
    origin, proc = start_gunicorn(platform_env, workers=WORKERS, log=log, options=options)
    try:
        here = dataclasses.replace(platform, settings=dataclasses.replace(platform.settings, base_url=origin))
        yield LiveServer(origin, proc, log, here)
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def live_server(gunicorn_started: LiveServer) -> LiveServer:
    """The gunicorn server, once both workers have built the app and GET /healthz answers (30 s at most)."""
    log = gunicorn_started.log

    def workers_ready() -> bool:
        return log.read_text(errors="replace").count(READY) >= WORKERS

    wait_healthy(gunicorn_started.origin, gunicorn_started.process, log, ready=workers_ready)
    return gunicorn_started


@pytest.fixture(scope="module", autouse=True)
def _set_up_while_gunicorn_boots(gunicorn_started: LiveServer, browser: Any, live_server: LiveServer) -> None:
    """Order of module set-up: start gunicorn, launch the browser while its workers boot, then wait
    for them. Licences are issued only once both workers are up: a worker's start-up (create_app ->
    create_schema) racing an issue deadlocks on PostgreSQL (see the report in test_browser.py's
    docstring). Autouse in every module that imports it."""


def in_a_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a service call in a worker thread: playwright's sync API keeps an asyncio loop running in
    this thread, and PDF signing (pyhanko) calls asyncio.run, which refuses to run inside one."""
    from licence_svc.storage.db import database

    def call() -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            if not database.is_closed():
                database.close()  # this thread's connection

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result(timeout=120)


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

