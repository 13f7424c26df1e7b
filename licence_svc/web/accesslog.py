"""Gunicorn's logger with personal data and bearer secrets masked (gunicorn.conf.py uses it).

An access log line would otherwise carry the whole request target: ``?holder=<id number>`` of a
department's listing, ``?holder=…&grant=<share code>`` of a materials check, and the share code in
``/s/<code>``, which is as good as the holder's permission. So every query value is masked except
those that say nothing about anyone (kind, status, limit, issued_after, cursor), share codes in
paths are masked, and as a safety net any ID number, credit code or percent-encoded text (a name)
left in a path segment is masked too. Licence identifiers stay: they hold only the department's
code and a random serial, and they are what an operator looks for. The error log and the
application's loggers get the same scrubbing, for the URLs and exception messages they print.

Only the standard library and gunicorn are used here; gunicorn's master imports this module (and
so licence_svc.web's imports) before it forks the workers, and builds no app.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, quote

from gunicorn.glogging import Logger

MASK = "***"
PUBLIC_PARAMS = frozenset({"kind", "status", "limit", "issued_after", "cursor"})
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key"})

_SHARE_PATH = re.compile(r"^/[sS]/[^/?#]*")
# An ID number (6-digit area, birth date, sequence, check) or a unified social credit code, as a
# token of its own: not inside a licence identifier (dotted) or a longer hex id.
_ID_NUMBER = r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
_CREDIT_CODE = r"[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}\d{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{9}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]"
_NUMBERS = re.compile(rf"(?<![0-9A-Za-z.])(?:{_ID_NUMBER}|{_CREDIT_CODE})(?![0-9A-Za-z.])")
_ENCODED = re.compile(r"%[89A-Fa-f][0-9A-Fa-f]")  # a percent-encoded byte of non-ASCII text (a name)
_QUERY_IN_TEXT = re.compile(r"\?[^\s\"']*")
_SHARE_IN_TEXT = re.compile(r"(/[sS]/)[^/?#\s\"']+")  # no other path, identifier or payload holds "/s/"
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*)(.*)$", re.S)


def _personal_segment(segment: str) -> bool:
    return bool(_ENCODED.search(segment)) or not segment.isascii() or bool(_NUMBERS.fullmatch(segment))


def mask_path(path: str) -> str:
    """A request path as the log may show it: share codes and personal-looking segments masked."""
    path = _SHARE_PATH.sub(lambda m: m.group(0)[:3] + MASK, path)
    return "/".join(MASK if _personal_segment(s) else s for s in path.split("/"))


def mask_query(query: str) -> str:
    """A query string with every value masked but those of PUBLIC_PARAMS (names are kept)."""
    if not query:
        return query
    out = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        shown = value if name in PUBLIC_PARAMS and not _personal_segment(quote(value, safe="")) else MASK
        out.append(f"{quote(name, safe='') if name.isascii() else MASK}={quote(shown, safe='*:-.')}")
    return "&".join(out)


def mask_target(target: str) -> str:
    """A request target (path, then ``?query``; or an absolute URL) as the log may show it."""
    if _URL.match(target):
        return mask_url(target)
    path, sep, query = target.partition("?")
    return mask_path(path) + sep + mask_query(query)


def mask_url(url: str) -> str:
    """A Referer: scheme and host kept, the rest as :func:`mask_target`."""
    m = _URL.match(url or "")
    if m is None:
        return mask_target(url) if url and url != "-" else url
    return m.group(1) + mask_target(m.group(2))


def scrub(text: str) -> str:
    """Free text (an error message, a traceback): query strings, share codes in paths, ID numbers
    and credit codes masked."""
    text = _QUERY_IN_TEXT.sub(lambda m: "?" + mask_query(m.group(0)[1:]), text)
    text = _SHARE_IN_TEXT.sub(lambda m: m.group(1) + MASK, text)
    return _NUMBERS.sub(MASK, text)


class ScrubFilter(logging.Filter):
    """Rewrites each record's message (and its traceback) through :func:`scrub`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


# environ (…e) and header (…i, …o) atoms that hold a target, a URL or a secret
_TARGET_ATOMS = {"{raw_uri}e": mask_target, "{request_uri}e": mask_target, "{query_string}e": mask_query, "{path_info}e": mask_path}
_URL_ATOMS = {"{referer}i", "{http_referer}e"}


class MaskedLogger(Logger):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn's Logger: access log atoms masked (``%(r)s``, ``%(U)s``, ``%(q)s``, ``%(f)s`` and
    any header or environ atom a custom format names); error log and the platform's loggers
    scrubbed (:class:`ScrubFilter`)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # Only the atoms the access log format names reach the log: only those are masked (a
        # check's answer carries a dozen headers; scrubbing each cost it ~80 µs).
        self._used_atoms = frozenset(re.findall(r"%\(([^)]+)\)", cfg.access_log_format or ""))
        scrubber = ScrubFilter()
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.addFilter(scrubber)
        # The platform's own loggers (licence_svc.*) go to the error log, scrubbed, at its level;
        # setup runs again on SIGHUP with new handlers, so the old ones are dropped first.
        app = logging.getLogger("licence_svc")
        for handler in [h for h in app.handlers if getattr(h, "_gunicorn_error_log", False)]:
            app.removeHandler(handler)
        for handler in self.error_log.handlers:
            handler._gunicorn_error_log = True
            app.addHandler(handler)
        app.setLevel(self.error_log.level)
        app.propagate = False

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        target = mask_target(environ.get("RAW_URI") or "")
        atoms["r"] = f"{environ.get('REQUEST_METHOD', '-')} {target} {environ.get('SERVER_PROTOCOL', '-')}"
        atoms["U"] = mask_path(atoms.get("U") or "")
        atoms["q"] = mask_query(atoms.get("q") or "")
        atoms["f"] = mask_url(atoms.get("f") or "-")
        for key in getattr(self, "_used_atoms", atoms.keys()) & atoms.keys():
            value = atoms[key]
            if not key.startswith("{") or not isinstance(value, str):
                continue
            name = key[1:-2]
            if name in SECRET_HEADERS or name.removeprefix("http_").replace("_", "-") in SECRET_HEADERS:
                atoms[key] = MASK
            elif key in _TARGET_ATOMS:
                atoms[key] = _TARGET_ATOMS[key](value)
            elif key in _URL_ATOMS:
                atoms[key] = mask_url(value)
            else:
                atoms[key] = scrub(value)
        used = getattr(self, "_used_atoms", None)
        return atoms if used is None else {k: v for k, v in atoms.items() if k in used}  # nothing unmasked rides along
