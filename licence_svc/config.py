"""Settings from the environment, with an embedded default that needs nothing set up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The QR carries the base URL before ~330 payload characters; past this length the symbol
# would outgrow version 12 (docs/qr-format.md). Checked when the platform opens.
MAX_BASE_URL = 40


@dataclass(frozen=True)
class Settings:
    database_url: str
    keys_dir: Path
    pdf_dir: Path
    base_url: str
    tsa_url: str | None = None
    key_passphrase: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read LICENCE_* variables and DATABASE_URL; defaults keep everything under the project's var/."""
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("LICENCE_DATA_DIR", PROJECT_ROOT / "var"))
        passphrase = env.get("LICENCE_KEY_PASSPHRASE")
        return cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'licences.db'}",
            keys_dir=Path(env.get("LICENCE_KEYS_DIR", PROJECT_ROOT / "keys")),
            pdf_dir=Path(env.get("LICENCE_PDF_DIR", data_dir / "pdfs")),
            base_url=env.get("LICENCE_BASE_URL", "http://127.0.0.1:8000"),
            tsa_url=env.get("LICENCE_TSA_URL") or None,
            key_passphrase=passphrase.encode("utf-8") if passphrase else None,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
