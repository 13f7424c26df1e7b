"""The access-log masking of licence_svc/web/accesslog.py, case by case: what is masked (query
values, share codes, ID numbers, credit codes, names, secrets in headers) and what stays (licence
identifiers, verify payloads, the public query parameters)."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from licence_svc.web.accesslog import MaskedLogger, ScrubFilter, mask_target, mask_url, scrub

IDENT = "1.2.156.3005.2.11100000000019000B001.11110000000019001J.2O4RNU788PLOHJT6.001.5"


@pytest.mark.parametrize(
    "target, logged",
    [
        ("/api/v1/licences?holder=110101199003071233&kind=id_card&limit=5", "/api/v1/licences?holder=***&kind=id_card&limit=5"),
        ("/api/v1/licences?holder=11010119900307123x", "/api/v1/licences?holder=***"),
        ("/api/v1/matters/QYKB-001/materials?holder=91110101MA01ABCD19&grant=K7Q2M-9XA3P", "/api/v1/matters/QYKB-001/materials?holder=***&grant=***"),
        ("/api/v1/licences?kind=%E5%BC%A0%E6%99%93%E6%98%8E", "/api/v1/licences?kind=***"),  # a name where a kind belongs
        ("/s/K7Q2M-9XA3P", "/s/***"),
        ("/S/K7Q2M9XA3P", "/S/***"),
        ("/api/v1/licences/110101199003071233", "/api/v1/licences/***"),
        ("/api/v1/licences/91110101MA01ABCD19/pdf", "/api/v1/licences/***/pdf"),
        ("/me/licences/%E5%BC%A0%E6%99%93%E6%98%8E", "/me/licences/***"),
        (f"/api/v1/licences/{IDENT}/pdf", f"/api/v1/licences/{IDENT}/pdf"),
        ("/V/2KCE3IQBEYCERQPD7TYB2YA2OOQFQ2NKAAAQC4BSJ42FETSVG44DQUCMJ5EEUVBWAIAQ", "/V/2KCE3IQBEYCERQPD7TYB2YA2OOQFQ2NKAAAQC4BSJ42FETSVG44DQUCMJ5EEUVBWAIAQ"),
        ("/api/v1/licences?cursor=WyIyMDI2IiwgIjEuMiJd&status=revoked", "/api/v1/licences?cursor=WyIyMDI2IiwgIjEuMiJd&status=revoked"),
        ("http://127.0.0.1:8000/s/K7Q2M-9XA3P?holder=110101199003071233", "http://127.0.0.1:8000/s/***?holder=***"),
    ],
)
def test_mask_target(target: str, logged: str) -> None:
    assert mask_target(target) == logged


def test_mask_url_keeps_the_origin() -> None:
    assert mask_url("https://licence.example.gov.cn/S/K7Q2M-9XA3P") == "https://licence.example.gov.cn/S/***"
    assert mask_url("-") == "-"


def test_scrub_free_text() -> None:
    text = "Error handling request /api/v1/licences?holder=110101199003071233 Key (holder)=(110101199003071233); http://h/S/K7Q2M-9XA3P"
    out = scrub(text)
    assert "110101199003071233" not in out and "K7Q2M" not in out
    assert scrub(f"licence {IDENT} revoked") == f"licence {IDENT} revoked"


def _atoms(target: str, headers: dict[str, str]) -> dict[str, Any]:
    logger = MaskedLogger.__new__(MaskedLogger)
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": target,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": headers.get("Referer", "-"),
        "HTTP_AUTHORIZATION": headers.get("Authorization", ""),
    }
    req = SimpleNamespace(headers=list(headers.items()))
    resp = SimpleNamespace(status="200 OK", headers=[("Set-Cookie", "lic_holder=secret")], sent=10)
    return logger.atoms(resp, req, environ, timedelta(milliseconds=3))


def test_access_atoms_a_custom_format_might_name() -> None:
    atoms = _atoms(
        "/api/v1/licences?holder=110101199003071233",
        {"Authorization": "Bearer lic_0123abcd_secret", "Referer": "http://h/s/K7Q2M-9XA3P", "Cookie": "lic_holder=abc"},
    )
    assert atoms["r"] == "GET /api/v1/licences?holder=*** HTTP/1.1"
    assert (atoms["U"], atoms["q"], atoms["f"]) == ("/api/v1/licences", "holder=***", "http://h/s/***")
    assert atoms["{authorization}i"] == atoms["{cookie}i"] == atoms["{http_authorization}e"] == atoms["{set-cookie}o"] == "***"
    assert atoms["{referer}i"] == "http://h/s/***" and atoms["{raw_uri}e"].endswith("holder=***")
    flat = " ".join(str(v) for v in atoms.values())
    assert "110101199003071233" not in flat and "K7Q2M" not in flat and "secret" not in flat and "lic_holder=abc" not in flat


def test_scrub_filter_cleans_messages_and_tracebacks() -> None:
    record = logging.LogRecord("licence_svc.x", logging.ERROR, __file__, 1, "lookup %s failed", ("110101199003071233",), None)
    try:
        raise ValueError("DETAIL: Key (holder)=(110101199003071233) already exists")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert ScrubFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "110101199003071233" not in formatted and "lookup *** failed" in formatted and "ValueError" in formatted


def test_only_the_atoms_the_format_names_are_logged_masked() -> None:
    """Only what the access log format names is masked, and only that is handed to the log
    (a handler that serialises the record's arguments sees nothing unmasked)."""
    from gunicorn.config import Config

    cfg = Config()
    cfg.set("access_log_format", '%(h)s "%(r)s" %(s)s %({authorization}i)s %({raw_uri}e)s')
    cfg.set("accesslog", "-")
    logger = MaskedLogger(cfg)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/licences?holder=110101199003071233",
        "PATH_INFO": "/api/v1/licences",
        "QUERY_STRING": "holder=110101199003071233",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_AUTHORIZATION": "Bearer lic_0123abcd_secret",
    }
    req = SimpleNamespace(headers=[("Authorization", "Bearer lic_0123abcd_secret"), ("X-Holder", "110101199003071233")])
    resp = SimpleNamespace(status="200 OK", headers=[("Set-Cookie", "lic_holder=secret")], sent=10)
    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=3))
    assert set(atoms) == {"h", "r", "s", "{authorization}i", "{raw_uri}e"}
    assert atoms["r"] == "GET /api/v1/licences?holder=*** HTTP/1.1" and atoms["{raw_uri}e"].endswith("holder=***")
    assert atoms["{authorization}i"] == "***"
