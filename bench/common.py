"""What the benchmark scripts share: a throw-away demo platform, the sample records, medians and
the JSON output. The scripts run with bench/ first on sys.path, so they import this as ``common``;
importing it puts the repository root on sys.path for ``licence_svc``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from licence_svc.services.platform import Platform
    from licence_svc.services.setup import InitResult


def median_of(samples: list[float], *, digits: int = 2) -> float:
    """The median of durations in seconds, in milliseconds rounded to ``digits``."""
    return round(statistics.median(samples) * 1000, digits)


def median_ms(fn: Callable[[], object], n: int) -> float:
    """Median milliseconds of ``n`` calls of ``fn``, after one warm-up call."""
    fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return median_of(samples)


def throwaway_platform(*, prefix: str = "licence-bench-", empty_database: bool = False) -> tuple[Platform, InitResult]:
    """A demo platform in a fresh temporary directory (unless LICENCE_DATA_DIR / LICENCE_KEYS_DIR
    are set): SQLite there unless DATABASE_URL is set. ``empty_database`` drops and recreates the
    schema first (for a DATABASE_URL that may hold an earlier run)."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.setdefault("LICENCE_DATA_DIR", str(tmp / "var"))
    os.environ.setdefault("LICENCE_KEYS_DIR", str(tmp / "keys"))

    from licence_svc.services.platform import Platform
    from licence_svc.services.setup import initialise

    if empty_database:
        from licence_svc.storage import migrations

        platform = Platform.open()
        migrations.drop_schema()
        migrations.create_schema()
    else:
        platform = Platform.open(create_schema=True)
    return platform, initialise(platform, demo=True)


def department_code(kind: str = "id_card") -> str:
    """The code of the first demo department that issues ``kind``."""
    from licence_svc.services.setup import list_departments

    return next(str(d["code"]) for d in list_departments() if kind in d["kinds"])  # type: ignore[operator]


def load_sample(kind: str = "id_card") -> dict[str, Any]:
    """The sample record of ``kind`` from samples/."""
    return json.loads((ROOT / "samples" / f"{kind}.json").read_text("utf-8"))  # type: ignore[no-any-return]


def write_json(results: object, path: Path | None, *, ensure_ascii: bool = True) -> None:
    """Write ``results`` as indented JSON to ``path`` (if given), creating its directory."""
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2, ensure_ascii=ensure_ascii))


def emit(results: object, path: Path | None, *, ensure_ascii: bool = True) -> None:
    """Print ``results`` as indented JSON and write them to ``path`` if given."""
    print(json.dumps(results, indent=2, ensure_ascii=ensure_ascii))
    write_json(results, path, ensure_ascii=ensure_ascii)
