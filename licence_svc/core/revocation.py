"""Why a licence stopped being in force, as the public may be told it.

The department's free-text reason can name people, cases or internal matters, so verification
reports show only one of these fixed categories; the free text stays with the department.
"""

from __future__ import annotations

CATEGORIES = {
    "revoked": "吊销",
    "cancelled": "注销",
    "lost": "遗失作废",
    "damaged": "损毁作废",
    "error": "错误签发作废",
    "other": "其他原因作废",
}
"""Category code (API and CLI) → what the public reads."""

GENERIC = "吊销/注销"
"""What the public reads for a licence revoked without a category (before categories existed)."""


def public_label(category: str | None) -> str:
    return CATEGORIES.get(category or "", GENERIC)
