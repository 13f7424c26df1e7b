"""Beijing time and the way Chinese documents and pages write dates. One definition, used by the
PDF, the annotated copy, the verification reasons and the holder's pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8))  # 北京时间; licences expire at the end of a Beijing day


def cn_date(day: date) -> str:
    """2020-05-01 → 2020年05月01日."""
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


def cn_datetime(moment: datetime) -> str:
    """An aware moment in Beijing time: 2026年11月29日 04:01."""
    t = moment.astimezone(CHINA)
    return f"{cn_date(t.date())} {t.hour:02d}:{t.minute:02d}"
