"""The sealer keeps up: a burst of public check records, then how long until every one is sealed
into the audit chain by the background sealer (docs/audit.md), and the recording rate.

Run: .venv/bin/python bench/sealer.py [--n 10000] [--threads 4] [--json bench/results/sealer.json]
SQLite in a temporary directory unless DATABASE_URL is set (the schema there is dropped first).
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

from common import emit, throwaway_platform


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    platform, _ = throwaway_platform(prefix="licence-sealer-", empty_database=bool(os.environ.get("DATABASE_URL")))

    from licence_svc.services import audit
    from licence_svc.storage import audit as trail
    from licence_svc.storage import db

    sealer = audit.Sealer(platform).start()  # as in a web process: records committed lazily, sealed in the background
    per_thread = args.n // args.threads

    def burst(n: int) -> None:
        try:
            for i in range(per_thread):
                audit.record_public("verify", actor="public", outcome="valid", licence=f"bench-{n}", client="127.0.0.1", detail="qr")
        finally:
            db.close()

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(args.threads)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorded = time.perf_counter()
    while trail.pending_count() > 0:
        time.sleep(0.05)
    sealed = time.perf_counter()
    sealer.stop()
    report = audit.verify_trail(platform)
    results = {
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "records": per_thread * args.threads,
        "writer_threads": args.threads,
        "burst_seconds": round(recorded - start, 2),
        "records_per_second": round(per_thread * args.threads / (recorded - start)),
        "sealed_within_seconds_after_burst": round(sealed - recorded, 2),
        "chain_events": report.events,
        "checkpoints": report.checkpoints,
        "trail_intact": report.broken is None,
    }
    emit(results, args.json)


if __name__ == "__main__":
    main()
