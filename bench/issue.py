"""The whole benchmark in one run: (a) the naive baseline, (b) our issuance on one core,
(c) bulk import on all cores, (d) QR verification next to bare ECDSA verify, (e) PDF
verification next to bare pyhanko validation. Prints a table with the ratios and writes JSON.

Run: .venv/bin/python bench/issue.py [--n 40] [--bulk 10000] [--json bench/results/latest.json]
Each part runs in its own process on a throw-away platform (SQLite unless DATABASE_URL is set).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, load_sample, write_json

BENCH = Path(__file__).resolve().parent


def run_part(script: str, *args: str, env: dict[str, str]) -> dict:  # type: ignore[type-arg]
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    subprocess.run([sys.executable, str(BENCH / script), *args, "--json", str(out)], check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())  # type: ignore[no-any-return]


def fresh_env() -> dict[str, str]:
    tmp = Path(tempfile.mkdtemp(prefix="licence-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LICENCE_")}
    env.update(LICENCE_DATA_DIR=str(tmp / "var"), LICENCE_KEYS_DIR=str(tmp / "keys"))
    return env


def write_stock(path: Path, rows: int) -> None:
    """A CSV of ``rows`` distinct, valid ID card records, as a department would export them."""
    from licence_svc.core.checkdigits import id_number_check_char

    base = load_sample()
    base.pop("photo")
    names = "张王李赵刘陈杨黄周吴"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        fields = list(base) + ["record_number"]
        writer.writerow(fields)
        for i in range(rows):
            year, day = 1950 + i % 50, 1 + i % 28
            seq = (i // 1400) % 500 * 2 + 1
            first17 = f"{110101 + (i // 700000) % 10}{year}03{day:02d}{seq:03d}"
            number = first17 + id_number_check_char(first17)
            row = dict(base, name=names[i % 10] + names[(i // 10) % 10] + "明", id_number=number, birth_date=f"{year}-03-{day:02d}", record_number=f"R{i:08d}")
            writer.writerow([row[f] for f in fields])


def bulk(rows: int, env: dict[str, str], workers: int | None) -> dict:  # type: ignore[type-arg]
    """Import ``rows`` on all cores through the real CLI; peak memory of the CLI and its workers."""
    tmp = Path(env["LICENCE_DATA_DIR"]).parent
    stock = tmp / "stock.csv"
    write_stock(stock, rows)
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "init", "--demo"], check=True, env=env, capture_output=True)
    dept = json.loads(subprocess.run([sys.executable, str(ROOT / "cli.py"), "departments", "--json"], check=True, env=env, capture_output=True, text=True).stdout)
    code = next(d["code"] for d in dept if "id_card" in d["kinds"])
    cmd = [sys.executable, str(ROOT / "cli.py"), "import", str(stock), "--kind", "id_card", "--department", code]
    if workers:
        cmd += ["--workers", str(workers)]
    # Peak RSS of the whole tree: the CLI and each worker, measured by a wrapper process.
    wrapper = (
        "import resource, subprocess, sys, json, time\n"
        "t = time.perf_counter(); p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "el = time.perf_counter() - t\n"
        "print(json.dumps({'rc': p.returncode, 'seconds': el, 'tail': p.stdout.strip().splitlines()[-1:],"
        " 'children_max_rss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
    )
    res = json.loads(subprocess.run([sys.executable, "-c", wrapper, *cmd], check=True, env=env, capture_output=True, text=True).stdout)
    return {
        "rows": rows,
        "workers": workers or os.cpu_count(),
        "seconds": round(res["seconds"], 1),
        "per_second": round(rows / res["seconds"], 1),
        "peak_rss_of_largest_process_mb": round(res["children_max_rss_kb"] / 1024, 1),
        "summary": res["tail"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="licences per pipeline for (a) and (b)")
    ap.add_argument("--bulk", type=int, default=10_000, help="rows for (c)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    started = time.time()
    speed = run_part("issue_speed.py", "--n", str(args.n), "--kind", "id_card", env=fresh_env())
    verify = run_part("verify.py", "--seconds", "3", env=fresh_env())
    bulk_result = bulk(args.bulk, fresh_env(), args.workers)

    naive_rate = speed["overall"]["licences_per_second_one_core"]["naive"]
    ours_rate = speed["overall"]["licences_per_second_one_core"]["ours"]
    naive_wall_rate = 1000 / speed["overall"]["naive_median_ms"]["wall"]
    table = [
        ("(a) naive baseline, one core", f"{naive_rate} licences/s (median {speed['overall']['naive_median_ms']['cpu']} ms CPU)", "1.00x", ""),
        ("(b) our issuance, one core", f"{ours_rate} licences/s (median {speed['overall']['ours_median_ms']['cpu']} ms CPU)", f"{ours_rate / naive_rate:.2f}x", "target >= 3x"),
        (f"(c) bulk import, {bulk_result['rows']} rows, {bulk_result['workers']} workers", f"{bulk_result['per_second']} licences/s", f"{bulk_result['per_second'] / naive_rate:.2f}x", "target >= 5x naive one-core"),
        ("(c) peak memory, largest process", f"{bulk_result['peak_rss_of_largest_process_mb']} MB", "", "target < 500 MB"),
        ("(d) bare ECDSA P-256 verify", f"{verify['bare_ecdsa_p256_verify_per_s']}/s", "1.00x", ""),
        ("(d) QR verification in-process", f"{verify['qr_verify_offline_per_s']}/s", f"{verify['qr_offline_to_ecdsa_ratio']:.2f}x", "target >= 0.5x"),
        ("(e) bare pyhanko validate_pdf_signature", f"{verify['pdf_bare_pyhanko_validate_median_ms']} ms", "1.00x", ""),
        ("(e) our PDF verification (pipeline)", f"{verify['pdf_verify_pipeline_median_ms']} ms", f"{verify['pdf_verify_pipeline_median_ms'] / verify['pdf_bare_pyhanko_validate_median_ms']:.2f}x time", ""),
    ]
    width = max(len(r[0]) for r in table)
    for name, value, ratio, target in table:
        print(f"{name:<{width}}  {value:<42} {ratio:>10}  {target}")
    result = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "load_average_at_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "naive_wall_rate_per_s": round(naive_wall_rate, 1),
        "issue": speed,
        "verify": verify,
        "bulk": bulk_result,
        "table": [dict(zip(("measure", "value", "ratio", "target"), r)) for r in table],
    }
    write_json(result, args.json, ensure_ascii=False)


if __name__ == "__main__":
    main()
