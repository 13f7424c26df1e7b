"""The copy section of an annotated copy (加注件) as a verifier reads it from untrusted bytes, and
the notice it prints."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from licence_svc.core.annotate import PLATFORM_CODE, CopySection
from licence_svc.core.checkdigits import credit_code_problem

SECTION = CopySection(
    grant="g1",
    redemption="r1",
    recipient_code="11110000000000001X",
    recipient_name="示例市政务服务中心综合窗口（演示）",
    purpose="企业开办",
    expires_at=datetime(2030, 1, 2, 4, 5, tzinfo=timezone.utc),
    original_pdf_sha256="0" * 64,
)


def test_platform_code_is_a_valid_credit_code() -> None:
    assert credit_code_problem(PLATFORM_CODE) is None


def test_round_trip() -> None:
    assert CopySection.parse(SECTION.as_attachment()) == SECTION


def test_notice_names_organisation_purpose_and_beijing_expiry() -> None:
    assert SECTION.notice() == (
        "加注件：仅供【示例市政务服务中心综合窗口（演示）】办理“企业开办”使用，有效期至【2030年01月02日 12:05】，逾期无效；复制、转作他用无效"
    )
    assert SECTION.in_force_text().endswith("2030年01月02日 12:05前有效")


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: None,
        lambda s: [s],
        lambda s: {**s, "grant": 7},
        lambda s: {k: v for k, v in s.items() if k != "purpose"},
        lambda s: {**s, "recipient": "窗口"},
        lambda s: {**s, "recipient": {"code": "x"}},
        lambda s: {**s, "expires_at": "tomorrow"},
        lambda s: {**s, "expires_at": "2030-01-02T04:05:00"},  # no zone: ambiguous by eight hours
        # no Beijing time a datetime can hold, or none a licence platform can mean (were 500s)
        lambda s: {**s, "expires_at": "9999-12-31T23:59:59-05:00"},
        lambda s: {**s, "expires_at": "9999-12-31T20:00:00+00:00"},
        lambda s: {**s, "expires_at": "0001-01-01T00:00:00+08:00"},
        lambda s: {**s, "expires_at": "1970-01-01T00:00:00+00:00"},
        lambda s: {**s, "expires_at": "2200-01-01T00:00:00+00:00"},
        # the register's keys: never a NUL or a megabyte sent on to the database
        lambda s: {**s, "redemption": "r1\x00"},
        lambda s: {**s, "grant": "g" * 65},
        lambda s: {**s, "purpose": "\ud800"},  # a lone surrogate no response can encode
    ],
)
def test_damaged_sections_are_refused(damage: Any) -> None:
    assert CopySection.parse(damage(SECTION.as_attachment())) is None


def test_expiry_keeps_its_zone() -> None:
    parsed = CopySection.parse({**SECTION.as_attachment(), "expires_at": "2030-01-02T12:05:00+08:00"})
    assert parsed is not None and parsed.expires_at == SECTION.expires_at
    assert parsed.expires_at - timedelta(seconds=1) < SECTION.expires_at


@pytest.mark.parametrize("expires_at", ["2000-01-01T00:00:00+00:00", "2199-12-31T23:59:59+00:00", "2199-12-31T23:59:59+14:00"])
def test_expiry_at_the_ends_of_the_plausible_range(expires_at: str) -> None:
    parsed = CopySection.parse({**SECTION.as_attachment(), "expires_at": expires_at})
    assert parsed is not None
    assert "年" in parsed.notice() and parsed.as_attachment()["expires_at"]
