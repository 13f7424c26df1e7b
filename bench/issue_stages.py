"""Issuance benchmark: median time to issue one licence, and where that time goes.

Run: .venv/bin/python bench/issue_stages.py [--n 50] [--kind id_card] [--json bench/results/issue.json]
Uses a throw-away platform (temporary keys, SQLite, PDF store) unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--kind", default="id_card")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="licence-bench-"))
    os.environ.setdefault("LICENCE_DATA_DIR", str(tmp / "var"))
    os.environ.setdefault("LICENCE_KEYS_DIR", str(tmp / "keys"))

    from licence_svc.core import fonts
    from licence_svc.core.identifiers import new_licence_id
    from licence_svc.core.kinds import KINDS, validate
    from licence_svc.core.masking import mask_name
    from licence_svc.core.payload import Claims, data_digest, qr_text, sign_claims
    from licence_svc.core.pdfsign import sign_licence_pdf
    from licence_svc.core.qr import qr_matrix
    from licence_svc.core.render import RenderRequest, render_pdf
    from licence_svc.services.issuing import issue
    from licence_svc.services.platform import Platform
    from licence_svc.services.setup import initialise, list_departments

    platform = Platform.open(create_schema=True)
    initialise(platform, demo=True)
    dept = next(d for d in list_departments() if args.kind in d["kinds"])  # type: ignore[operator]
    data = json.loads((ROOT / "samples" / f"{args.kind}.json").read_text("utf-8"))
    spec = KINDS[args.kind]

    issue(platform, kind=args.kind, data=data, department=dept["code"])  # warm-up: fonts, keys, signer
    totals = []
    for _ in range(args.n):
        t = time.perf_counter()
        issue(platform, kind=args.kind, data=data, department=dept["code"])
        totals.append(time.perf_counter() - t)

    # The same steps one by one, to see where the time goes.
    from licence_svc.storage.models import Department

    d = Department.get_by_id(dept["code"])
    _, signer, creds = platform.signer_for(d)
    stages: dict[str, list[float]] = {k: [] for k in ("validate", "sign_qr_payload", "qr_matrix", "render_page", "sign_pdf", "store_pdf")}
    for _ in range(args.n):
        t0 = time.perf_counter()
        clean = validate(args.kind, data, can_render=fonts.can_render)
        t1 = time.perf_counter()
        lid = new_licence_id(spec.kind_code, d.code)
        claims = Claims(str(lid), args.kind, d.code, 1_800_000_000, None, mask_name(spec.holder_name(clean)), data_digest(clean))
        text = qr_text(platform.settings.base_url, sign_claims(claims, creds.key, creds.kid))  # type: ignore[arg-type]
        t2 = time.perf_counter()
        qr_matrix(text)
        t3 = time.perf_counter()
        page = render_pdf(RenderRequest(spec, clean, str(lid), d.name, __import__("datetime").date(2026, 1, 1), text))
        t4 = time.perf_counter()
        pdf = sign_licence_pdf(page, attachment=json.dumps(clean, ensure_ascii=False).encode(), signer=signer, reason="bench")
        t5 = time.perf_counter()
        platform.pdfs.put(f"bench/{lid.serial}.pdf", pdf)
        t6 = time.perf_counter()
        for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            stages[name].append(dt)
    result = {
        "kind": args.kind,
        "n": args.n,
        "database": platform.settings.database_url.split(":", 1)[0],
        "issue_median_ms": median_ms(totals),
        "issue_p90_ms": round(sorted(totals)[int(0.9 * len(totals))] * 1000, 2),
        "stages_median_ms": {k: median_ms(v) for k, v in stages.items()},
        "note": "render_page includes drawing the QR (it builds its own matrix); qr_matrix is shown alone for reference",
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
