"""The one root of domain errors.

Every surface maps these once: ``web/problems.py`` to RFC 9457 problem+json and
``cli.py`` to exit codes. Anything that is not a :class:`LicenceError` is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One reason a field was refused; ``field`` is a dotted path such as ``data.members.0.id_number``."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class LicenceError(Exception):
    """Root of every error the platform raises on purpose."""

    slug = "licence-error"
    title = "Licence platform error"
    http_status = 500
    exit_code = 1

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title


class InvalidInput(LicenceError):
    """The request was read but its content is wrong; nothing was written."""

    slug = "invalid-input"
    title = "Invalid input"
    http_status = 422
    exit_code = 2

    def __init__(self, problems: list[FieldProblem], detail: str = "") -> None:
        if not problems:
            raise ValueError("InvalidInput needs at least one problem")
        self.problems = list(problems)
        summary = "; ".join(f"{p.field}: {p.reason}" for p in self.problems)
        super().__init__(detail or summary)

    @classmethod
    def single(cls, field: str, reason: str) -> InvalidInput:
        return cls([FieldProblem(field, reason)])


class UnreadableEvidence(LicenceError):
    """Evidence handed in for verification cannot be read at all (not a PDF, no QR, unknown format)."""

    slug = "unreadable-evidence"
    title = "Evidence cannot be read"
    http_status = 422
    exit_code = 2


class NotAuthorised(LicenceError):
    """The caller is known but may not do this (e.g. a department issuing a kind it is not authorised for)."""

    slug = "not-authorised"
    title = "Not authorised"
    http_status = 403
    exit_code = 3


class Unauthenticated(LicenceError):
    slug = "unauthenticated"
    title = "Authentication required"
    http_status = 401
    exit_code = 3


class NotFound(LicenceError):
    slug = "not-found"
    title = "Not found"
    http_status = 404
    exit_code = 4


class Conflict(LicenceError):
    slug = "conflict"
    title = "Conflict"
    http_status = 409
    exit_code = 5


class SigningKeyRetired(Conflict):
    """The key a licence was signed with was retired or withdrawn before the licence was stored:
    the issue is signed again with the department's current key."""

    slug = "signing-key-retired"
    title = "Signing key retired during issue"


class PayloadTooLarge(LicenceError):
    """A request body or upload over its limit; nothing was read past it."""

    slug = "payload-too-large"
    title = "Upload too large"
    http_status = 413
    exit_code = 2

    @classmethod
    def check(cls, size: int | None, limit: int, what: str) -> None:
        """Raise "<what> larger than N MiB" when ``size`` (bytes; None: not known) is over ``limit``."""
        if size is not None and size > limit:
            raise cls(f"{what} larger than {limit // (1024 * 1024)} MiB")


class Gone(LicenceError):
    """A share grant that was real but has expired or been revoked: it will never work again."""

    slug = "gone"
    title = "Gone"
    http_status = 410
    exit_code = 4


class ConfigurationError(LicenceError):
    """The platform is set up wrongly (missing keys, unsafe permissions); refuse to run."""

    slug = "configuration-error"
    title = "Platform misconfigured"
    http_status = 500
    exit_code = 6


class InsecureKeyFile(ConfigurationError):
    slug = "insecure-key-file"
    title = "Private key readable by others"


class Unavailable(LicenceError):
    """A dependency (the database) is down; the caller may retry later."""

    slug = "unavailable"
    title = "Service unavailable"
    http_status = 503
    exit_code = 7


class RateLimited(LicenceError):
    slug = "rate-limited"
    title = "Too many requests"
    http_status = 429
    exit_code = 7
