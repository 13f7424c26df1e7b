"""Annotated copies (加注件): the platform identity that signs them, the ``copy`` section of their
embedded data, and the notice drawn over every page.

A copy handed to a service window through a holder's share grant is not the licence: it is valid
only for the named organisation, the purpose and until the expiry. The notice says so on paper;
the ``copy`` section says so to a verifier; the platform (not the issuing department) signs it,
so a copy can never pass for an original and a department can never make a copy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from reportlab.lib.colors import Color, white
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from . import fonts
from .checkdigits import credit_code_check_char
from .dates import cn_datetime, plausible

# The platform's own signing identity: a pseudo-department with no kinds, so the trust list names
# its key but it can never be authorised to issue a licence. Configuration data, like kinds.MPS_CODE.
PLATFORM_CODE = "11100000000099001" + credit_code_check_char("11100000000099001")
COPY_SIGNER_NAME = "电子证照共享平台（加注件签章）"  # the certificate CN adds 电子证照签章: at most 64 bytes
COPY_SIGNING_REASON = "加注件签章"

PAGE_W, PAGE_H = A4
RED = Color(0.80, 0.05, 0.07)
DARK_RED = Color(0.62, 0.02, 0.04)
BAND_FILL = Color(1.0, 0.95, 0.95)
BAND_X0, BAND_X1 = 12.6 * mm, PAGE_W - 12.6 * mm
BAND_TOP, BAND_BOTTOM = PAGE_H - 12.6 * mm, PAGE_H - 31.0 * mm  # between the frame and the title
TAG_W = 20 * mm
WATERMARK_Y, WATERMARK_ANGLE = 165 * mm, 30.0  # the body's middle; the QR code ends at 77 mm
_SIZES = (10.0, 9.0, 8.0, 7.0, 6.5, 6.0, 5.5, 5.0, 4.5)
# What a verifier accepts in a copy section read from untrusted bytes: grant and redemption ids are
# the register's keys (hex tokens; never a NUL or a megabyte sent on to the database), and free text
# is bounded by far more than any grant allows.
_TOKEN = re.compile(r"[0-9A-Za-z_-]{1,64}")
_MAX_TEXT = 1000


def _fits(text: str) -> bool:
    """At most :data:`_MAX_TEXT` characters, and UTF-8 (JSON may carry a lone surrogate, which no
    page or API response can encode)."""
    if len(text) > _MAX_TEXT:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class CopySection:
    """What makes a copy a copy: who may use it, for what, until when, and where it came from."""

    grant: str
    redemption: str
    recipient_code: str
    recipient_name: str
    purpose: str
    expires_at: datetime  # aware
    original_pdf_sha256: str

    def as_attachment(self) -> dict[str, Any]:
        return {
            "grant": self.grant,
            "redemption": self.redemption,
            "recipient": {"code": self.recipient_code, "name": self.recipient_name},
            "purpose": self.purpose,
            "expires_at": self.expires_at.astimezone(timezone.utc).isoformat(),
            "original_pdf_sha256": self.original_pdf_sha256,
        }

    @classmethod
    def parse(cls, section: object) -> CopySection | None:
        """The section of an embedded licence.json; None when it is not well formed (untrusted input)."""
        if not isinstance(section, Mapping):
            return None
        recipient = section.get("recipient")
        strings = [section.get(k) for k in ("grant", "redemption", "purpose", "expires_at", "original_pdf_sha256")]
        if not isinstance(recipient, Mapping) or not all(isinstance(s, str) for s in strings):
            return None
        code, name = recipient.get("code"), recipient.get("name")
        if not isinstance(code, str) or not isinstance(name, str):
            return None
        if not (_TOKEN.fullmatch(str(section["grant"])) and _TOKEN.fullmatch(str(section["redemption"]))):
            return None
        if not all(_fits(s) for s in (code, name, str(section["purpose"]), str(section["original_pdf_sha256"]))):
            return None
        try:
            expires_at = datetime.fromisoformat(str(section["expires_at"]))
        except ValueError:
            return None
        if not plausible(expires_at):  # no zone (ambiguous by eight hours), or year 1 / 9999 ± a zone
            return None
        return cls(
            grant=str(section["grant"]),
            redemption=str(section["redemption"]),
            recipient_code=code,
            recipient_name=name,
            purpose=str(section["purpose"]),
            expires_at=expires_at,
            original_pdf_sha256=str(section["original_pdf_sha256"]),
        )

    def notice(self) -> str:
        """The annotation every page carries."""
        return (
            f"加注件：仅供【{self.recipient_name}】办理“{self.purpose}”使用，"
            f"有效期至【{cn_datetime(self.expires_at)}】，逾期无效；复制、转作他用无效"
        )

    def in_force_text(self) -> str:
        """What a verifier reports while the copy is in force."""
        return f"加注件：仅供【{self.recipient_name}】办理“{self.purpose}”使用，{cn_datetime(self.expires_at)}前有效"

    def expired_text(self) -> str:
        return f"加注件已过期：仅供【{self.recipient_name}】办理“{self.purpose}”使用，有效期至{cn_datetime(self.expires_at)}，逾期无效"


def _printable(text: str) -> str:
    """Free text (a purpose the holder typed) as the fonts can set it: a character without a glyph
    prints as ？ rather than failing the copy; the embedded data keeps the exact text."""
    return "".join(" " if ch.isspace() else (ch if fonts.can_render(ch) else "？") for ch in text)


def _fit(text: str, width: float, height: float) -> tuple[float, list[str]]:
    """The largest size at which ``text`` wraps into the box."""
    for size in _SIZES:
        lines = fonts.wrap(text, width, size)
        if len(lines) * size * 1.25 <= height:
            return size, lines
    return _SIZES[-1], fonts.wrap(text, width, _SIZES[-1])  # 4.5 pt fits every purpose validation allows


def overlay(section: CopySection) -> Callable[[Canvas, int, int], None]:
    """A ``render_pdf`` overlay: a red band with the notice across the head of every page, a faint
    diagonal 加注件 over the body, and the grant and copy ids in the foot margin."""
    notice = _printable(section.notice())
    text_w = BAND_X1 - BAND_X0 - TAG_W - 5 * mm
    size, lines = _fit(notice, text_w, BAND_TOP - BAND_BOTTOM - 3 * mm)
    footer = _printable(
        f"加注件编号：{section.redemption}　授权编号：{section.grant}　签章：{COPY_SIGNER_NAME}"
    )
    watermark = _printable(f"加注件 · {cn_datetime(section.expires_at)}前有效")

    def draw(c: Canvas, number: int, count: int) -> None:
        c.saveState()
        # a faint diagonal mark across the body, well clear of the QR code (a print must still scan)
        c.saveState()
        c.translate(PAGE_W / 2, WATERMARK_Y)
        c.rotate(WATERMARK_ANGLE)
        c.setFillColor(RED, alpha=0.16)
        fonts.draw_text(c, 0, 0, watermark, 24, align="center")
        c.restoreState()
        # the band: a tag, then the notice
        c.setFillColor(BAND_FILL)
        c.setStrokeColor(RED)
        c.setLineWidth(1.2)
        c.rect(BAND_X0, BAND_BOTTOM, BAND_X1 - BAND_X0, BAND_TOP - BAND_BOTTOM, stroke=1, fill=1)
        c.setFillColor(RED)
        c.rect(BAND_X0, BAND_BOTTOM, TAG_W, BAND_TOP - BAND_BOTTOM, stroke=0, fill=1)
        c.setFillColor(white)
        middle = (BAND_TOP + BAND_BOTTOM) / 2
        fonts.draw_text(c, BAND_X0 + TAG_W / 2, middle - 1.5 * mm, "加注件", 13, align="center")
        c.setFillColor(DARK_RED)
        leading = size * 1.25
        y = middle + (len(lines) - 1) * leading / 2 - 0.34 * size
        for line in lines:
            fonts.draw_text(c, BAND_X0 + TAG_W + 2.5 * mm, y, line, size)
            y -= leading
        # foot margin, below the frame
        c.setFillColor(RED)
        fonts.draw_text(c, PAGE_W / 2, 4.5 * mm, footer, 6.5, align="center")
        c.restoreState()

    return draw
