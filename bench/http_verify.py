"""HTTP verification throughput next to a bare Flask app, under the same gunicorn settings.

One run starts, for each database asked for, the platform (fresh demo keys, one issued ID card)
and bench/hello_app.py, each under gunicorn with the project's gunicorn.conf.py and the same
worker count, and loads them with ``wrk`` (Debian package ``wrk``) from another process:
POST /api/v1/verify {"qr": ...} and GET /v/<payload> of a valid licence. Rounds alternate between
the apps so both see the same machine. Prints req/s, p50 and p99 of each and the ratio.

Run: .venv/bin/python bench/http_verify.py [--db sqlite,postgresql] [--seconds 8] [--rounds 2]
     [--workers 2] [--connections 8] [--json bench/results/http_verify.json]
PostgreSQL: DATABASE_URL, or postgresql://postgres@127.0.0.1:5432/bench_http (created if missing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, emit

PG_URL = "postgresql://postgres@127.0.0.1:5432/bench_http"
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def gunicorn(app: str, port: int, workers: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [
        str(Path(PYTHON).parent / "gunicorn"),
        "--config", str(ROOT / "gunicorn.conf.py"),
        "--workers", str(workers),
        "--bind", f"127.0.0.1:{port}",
        "--no-control-socket",
        app,
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def parse_ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, seconds: int, connections: int, body: str | None) -> dict[str, Any]:
    script = None
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency"]
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {json.dumps(body)}\n')
        script.close()
        cmd += ["-s", script.name]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    if script:
        os.unlink(script.name)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": parse_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": parse_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def prepare(db: str, tmp: Path) -> tuple[dict[str, str], str]:
    """Environment of a fresh platform on ``db`` with one issued ID card; returns its QR text."""
    env = dict(os.environ, LICENCE_DATA_DIR=str(tmp / "var"), LICENCE_KEYS_DIR=str(tmp / "keys"), PYTHONPATH=str(ROOT))
    if db == "postgresql":
        url = os.environ.get("DATABASE_URL") or PG_URL
        if not os.environ.get("DATABASE_URL"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", "CREATE DATABASE bench_http"], capture_output=True)
        env["DATABASE_URL"] = url
    else:
        env.pop("DATABASE_URL", None)
    code = (
        "import json, sys\n"
        "sys.path.insert(0, 'bench')\n"
        "from common import throwaway_platform, department_code, load_sample\n"
        "from licence_svc.services.issuing import issue\n"
        f"platform, _ = throwaway_platform(empty_database={db == 'postgresql'})\n"
        "issued = issue(platform, kind='id_card', data=load_sample(), department=department_code())\n"
        "print(json.dumps({'qr': issued.qr_text}))\n"
    )
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr)
    return env, json.loads(out.stdout.strip().splitlines()[-1])["qr"]


def run_db(db: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="licence-http-"))
    port, hello_port = free_port(), free_port()
    env, qr = prepare(db, tmp)
    env["LICENCE_BASE_URL"] = f"http://127.0.0.1:{port}"
    payload = qr.rsplit("/", 1)[-1]
    body = json.dumps({"qr": qr}, ensure_ascii=False)
    servers = [
        gunicorn("wsgi:app", port, args.workers, env, tmp / "platform.log"),
        gunicorn("bench.hello_app:app", hello_port, args.workers, env, tmp / "hello.log"),
    ]
    try:
        wait_up(f"http://127.0.0.1:{port}/healthz", servers[0])
        wait_up(f"http://127.0.0.1:{hello_port}/v/x", servers[1])
        targets = {
            "hello_post": (f"http://127.0.0.1:{hello_port}/api/v1/verify", body),
            "verify_post": (f"http://127.0.0.1:{port}/api/v1/verify", body),
            "hello_page": (f"http://127.0.0.1:{hello_port}/v/{payload}", None),
            "verify_page": (f"http://127.0.0.1:{port}/v/{payload}", None),
        }
        for url, b in targets.values():  # warm up: imports, caches, connections
            wrk(url, 1, args.connections, b)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, b) in targets.items():
                samples[name].append(wrk(url, args.seconds, args.connections, b))
    finally:
        for s in servers:
            s.terminate()
        for s in servers:
            s.wait(30)
    result: dict[str, Any] = {}
    for name, runs in samples.items():
        result[name] = {
            "rps": round(statistics.median(r["rps"] for r in runs), 1),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
            "p99_ms": round(statistics.median(r["p99_ms"] for r in runs), 2),
            "non_2xx": sum(r["non_2xx"] for r in runs),
            "rounds_rps": [r["rps"] for r in runs],
        }
    result["ratio_post"] = round(result["verify_post"]["rps"] / result["hello_post"]["rps"], 3)
    result["ratio_page"] = round(result["verify_page"]["rps"] / result["hello_page"]["rps"], 3)
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    results = {"workers": args.workers, "connections": args.connections, "seconds": args.seconds, "rounds": args.rounds}
    for db in args.db.split(","):
        results[db] = run_db(db, args)
        r = results[db]
        for name in ("hello_post", "verify_post", "hello_page", "verify_page"):
            print(f"{db:10} {name:12} {r[name]['rps']:8.1f} req/s  p50 {r[name]['p50_ms']:6.2f} ms  p99 {r[name]['p99_ms']:7.2f} ms  non-2xx {r[name]['non_2xx']}", file=sys.stderr)
        print(f"{db:10} verify/hello {r['ratio_post']:.1%}   page/hello {r['ratio_page']:.1%}", file=sys.stderr)
    emit(results, args.json)


if __name__ == "__main__":
    main()
