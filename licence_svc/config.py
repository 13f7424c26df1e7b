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
    # Holder sign-in: "claim_code" (default: claim code once, then a password) or "oidc" (the
    # provincial unified identity platform, 统一身份认证); switching is configuration only.
    holder_signin: str = "claim_code"
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_id_claim: str = "id_number"  # the ID token claim carrying the id number or credit code
    cookie_secure: bool = True  # holder session cookies only over HTTPS (browsers accept them on localhost)
    check_rate_per_minute: int = 120  # field-match checks per department and minute
    # Each web process seals the audit intake into the chain in a background thread (docs/audit.md);
    # off where another process does it (tests that seal explicitly, a dedicated sealer).
    background_sealer: bool = True

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
            holder_signin=env.get("LICENCE_HOLDER_SIGNIN", "claim_code"),
            oidc_issuer=env.get("LICENCE_OIDC_ISSUER") or None,
            oidc_client_id=env.get("LICENCE_OIDC_CLIENT_ID") or None,
            oidc_client_secret=env.get("LICENCE_OIDC_CLIENT_SECRET") or None,
            oidc_id_claim=env.get("LICENCE_OIDC_ID_CLAIM", "id_number"),
            cookie_secure=env.get("LICENCE_COOKIE_SECURE", "1") not in ("0", "false", "no"),
            check_rate_per_minute=_positive_int(env, "LICENCE_CHECK_RATE_PER_MINUTE", 120),
            background_sealer=env.get("LICENCE_BACKGROUND_SEALER", "1") not in ("0", "false", "no"),
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    """Raises ValueError naming the variable (Platform.open reports it as a configuration error)."""
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive integer, not {text!r}")
    return int(text)
