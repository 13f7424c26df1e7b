"""A real gunicorn serving the session's platform, and a small urllib client for it.

Not a conftest: test modules import ``live_server`` (a context manager) and ``call``. Only the
standard library is used (``requests`` is not a dependency of the project).
"""

from __future__ import annotations

import json as jsonlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
HEALTH_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def json(self) -> Any:
        return jsonlib.loads(self.body)


def call(
    method: str,
    url: str,
    *,
    json: Any = None,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    files: Mapping[str, tuple[str, bytes, str]] | None = None,
    timeout: float = 60.0,
) -> Answer:
    """Send one request; 4xx and 5xx are answers too (no exception). ``files``: field → (filename, bytes, type)."""
    hdrs = dict(headers or {})
    body: bytes | None = None
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    if json is not None:
        body = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
        hdrs["Content-Type"] = "application/json"
    elif files is not None:
        boundary = "----licence" + secrets.token_hex(12)
        parts = []
        for name, (filename, data, ctype) in files.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n".encode() + data + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        hdrs["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    req = urllib.request.Request(url, data=body, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return Answer(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


def log_tail(log: Path, chars: int = 4000) -> str:
    """The last ``chars`` characters of a server log ("" if it cannot be read)."""
    try:
        return log.read_text(encoding="utf-8", errors="replace")[-chars:]
    except OSError:
        return ""


def start_gunicorn(
    platform_env: Mapping[str, str],
    *,
    workers: int,
    log: Path,
    options: Sequence[str] = ("--timeout", "120", "--graceful-timeout", "3"),
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start ``gunicorn --workers N --bind 127.0.0.1:<free port> <options> wsgi:app`` from the project
    root on the platform of ``platform_env`` (over os.environ), with LICENCE_BASE_URL pointing at
    itself and its output in ``log``; return its origin (``http://127.0.0.1:<port>``) and process
    without waiting for it. Raises RuntimeError if gunicorn is not installed next to Python."""
    if not GUNICORN.exists():
        raise RuntimeError(f"gunicorn not installed next to {sys.executable}")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {**os.environ, **platform_env, "LICENCE_BASE_URL": origin}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(GUNICORN), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", *options, "--no-control-socket", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal does not reach it; we stop it
        )
    return origin, proc


def wait_healthy(
    origin: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    *,
    timeout: float = HEALTH_TIMEOUT,
    ready: Callable[[], bool] | None = None,
) -> None:
    """Return once ``ready()`` (if given) is true and GET /healthz answers 200. Raises RuntimeError,
    with the end of the log, if the server exits or is not healthy within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log_tail(log)}")
        if ready is not None and not ready():
            last = "not ready"
        else:
            try:
                answer = call("GET", origin + "/healthz", timeout=2)
                if answer.status == 200:
                    return
                last = f"HTTP {answer.status}"
            except OSError as exc:  # refused or reset: not up yet
                last = exc
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn not healthy after {timeout:.0f} s ({last}):\n{log_tail(log)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def live_server(
    platform_env: Mapping[str, str],
    *,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
) -> Iterator[str]:
    """Run ``gunicorn --workers N --bind 127.0.0.1:<free port> wsgi:app`` from the project root on the
    platform of ``platform_env`` (plus ``env``), with LICENCE_BASE_URL pointing at itself; yield its
    origin (``http://127.0.0.1:<port>``) once GET /healthz answers 200, and stop it afterwards
    (SIGTERM, then SIGKILL after 15 s). Raises RuntimeError, with the server's log, if it does not
    come up within 30 s; the log (a temporary file) is written to stderr and kept when the block fails."""
    log = Path(tempfile.mkstemp(prefix="gunicorn-", suffix=".log", dir=log_dir)[1])
    origin, proc = start_gunicorn({**platform_env, **(env or {})}, workers=workers, log=log)
    try:
        wait_healthy(origin, proc, log)
        yield origin
    except BaseException:
        sys.stderr.write(f"--- gunicorn log ({log}) ---\n{log_tail(log)}\n")
        raise
    else:
        log.unlink(missing_ok=True)  # kept only when something went wrong
    finally:
        stop(proc)
