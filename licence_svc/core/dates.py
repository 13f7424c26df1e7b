"""Beijing time and the way Chinese documents and pages write dates. One definition, used by the
PDF, the annotated copy, the verification reasons and the holder's pages; and the range of moments
the platform treats as plausible in anything it reads back."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))  # 北京时间; licences expire at the end of a Beijing day

EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)
"""Moments read from evidence (a copy's expiry, a signed list's dates) must lie in [EARLIEST, LATEST):
no e-licence predates 2000 or runs past 2200, and near the ends of ``datetime`` (year 1, year 9999)
moving a moment into another zone is not even representable (OverflowError)."""


def plausible(moment: datetime) -> bool:
    """Whether ``moment`` is aware and within [EARLIEST, LATEST). Comparing aware moments never
    overflows, whatever their offsets, so this is safe on any parsed value."""
    return moment.tzinfo is not None and moment.utcoffset() is not None and EARLIEST <= moment < LATEST


def cn_date(day: date) -> str:
    """2020-05-01 → 2020年05月01日."""
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def cn_datetime(moment: datetime, *, seconds: bool = False) -> str:
    """An aware moment in Beijing time: 2026年11月29日 04:01 (with ``seconds``: 04:01:09).

    Raises ValueError when the moment has no Beijing time a ``datetime`` can hold (within hours of
    year 1 or year 9999): callers show only :func:`plausible` moments."""
    try:
        t = moment.astimezone(CHINA)
    except OverflowError as exc:
        raise ValueError(f"{moment.isoformat()} has no representable Beijing time") from exc
    return f"{cn_date(t.date())} {t.hour:02d}:{t.minute:02d}" + (f":{t.second:02d}" if seconds else "")
