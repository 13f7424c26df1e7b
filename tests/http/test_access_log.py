"""Black box: the logs of a real gunicorn, run with the settings `scripts/serve` uses (the project's
gunicorn.conf.py: access log on stdout through MaskedLogger), carry no personal data.

A full run: each of the five samples issued through the API, listed by holder (in the query string,
the way that used to put a full ID number in every access line, and by POST body), read,
downloaded, verified by QR text, by verify page and by PDF upload; an ID card shared and the share
code opened (/S/<code>, a bearer secret in the path), redeemed and used for a materials check (ID
number and share code in the query); a holder sign-in; requests with an ID number or a name in the
path. Then every line gunicorn and the platform wrote is searched for every sample's ID numbers,
credit code and names, as they are and URL-encoded: none may appear, nor any share code.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.helpers import ROOT, load_sample
from tests.http.live_server import Answer, call, log_tail, start_gunicorn, stop, wait_healthy

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")
PERSONAL_FIELDS = {"name", "id_number", "licence_number", "credit_code", "legal_representative", "legal_representative_id_number"}


def serve_options() -> list[str]:
    """The gunicorn options of `scripts/serve` that shape its logs, read from the script itself, so
    this test cannot drift from what operators run."""
    line = next(line for line in (ROOT / "scripts" / "serve").read_text(encoding="utf-8").splitlines() if line.startswith("exec "))
    words = shlex.split(line)
    options: list[str] = []
    for i, word in enumerate(words):
        if word in ("--config", "-c", "--access-logfile", "--access-logformat", "--error-logfile", "--log-level", "--logger-class"):
            options += [word, words[i + 1]]
        elif word.startswith(("--capture-output", "--disable-redirect-access-to-syslog")):
            options.append(word)
    return options


def personal_values(value: Any, key: str = "") -> set[str]:
    """The names, ID numbers and credit codes in a sample record, members included."""
    if isinstance(value, dict):
        return set().union(*(personal_values(v, k) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(personal_values(v, key) for v in value)) if value else set()
    return {value} if key in PERSONAL_FIELDS and isinstance(value, str) and value else set()


@pytest.fixture(scope="module")
def served(platform: Any, platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Any]]:
    """gunicorn with scripts/serve's log options, its whole output in a file: (origin, log, process)."""
    log = tmp_path_factory.mktemp("access-log") / "gunicorn.log"
    options = (*serve_options(), "--timeout", "120", "--graceful-timeout", "3")
    origin, proc = start_gunicorn(platform_env, workers=2, log=log, options=options)
    try:
        wait_healthy(origin, proc, log)
        yield origin, log, proc
    finally:
        stop(proc)


def test_scripts_serve_logs_through_the_masked_logger() -> None:
    options = serve_options()
    assert options[:2] == ["--config", "gunicorn.conf.py"], options
    conf = (ROOT / "gunicorn.conf.py").read_text(encoding="utf-8")
    assert 'logger_class = "licence_svc.web.accesslog.MaskedLogger"' in conf and 'accesslog = "-"' in conf


def _ok(answer: Answer, *statuses: int) -> Answer:
    assert answer.status in (statuses or (200,)), (answer.status, answer.body[:500])
    return answer


def test_a_full_run_leaves_no_personal_data_in_the_logs(served: tuple[str, Path, Any], platform: Any, departments: dict[str, str]) -> None:
    from dataclasses import replace

    from licence_svc.services import shares
    from licence_svc.services.setup import DEMO_WINDOW, demo_code

    origin, log, proc = served
    api = origin + "/api/v1"
    here = replace(platform, settings=replace(platform.settings, base_url=origin))
    window = platform.demo_tokens[demo_code(DEMO_WINDOW[0])]
    secrets: set[str] = set()  # values that must not appear: personal data and share codes
    issued: dict[str, dict[str, Any]] = {}
    claim_codes: dict[str, str] = {}

    for kind in KINDS:
        data = load_sample(kind)
        secrets |= personal_values(data)
        token = platform.demo_tokens[departments[kind]]
        out = _ok(call("POST", f"{api}/licences", json={"kind": kind, "data": data}, token=token), 201).json()
        issued[kind] = out
        claim_codes[kind] = out["claim_codes"][0]["code"]
        holder = data.get("id_number") or data.get("licence_number") or data.get("credit_code") or data["members"][0]["id_number"]
        # The listing by holder: in the query string (as it was), and in a body.
        listing = _ok(call("GET", f"{api}/licences?holder={holder}&kind={kind}&limit=5", token=token)).json()
        assert out["identifier"] in [i["identifier"] for i in listing["items"]]
        _ok(call("POST", f"{api}/licences/search", json={"holder": holder, "kind": kind}, token=token))
        _ok(call("GET", f"{api}/licences/{out['identifier']}", token=token))
        pdf = _ok(call("GET", f"{api}/licences/{out['identifier']}/pdf", token=token)).body
        # Verification three ways: the API with the QR text, the page the QR opens, a PDF upload.
        assert _ok(call("POST", f"{api}/verify", json={"qr": out["qr_text"]})).json()["verdict"] == "valid"
        _ok(call("GET", origin + "/V/" + out["qr_text"].rsplit("/", 1)[1]))
        _ok(call("POST", f"{api}/verify", files={"file": ("licence.pdf", pdf, "application/pdf")}))
        # Mistakes a client makes: an ID number or a name where an identifier belongs.
        _ok(call("GET", f"{api}/licences/{holder}", token=token), 422)
        _ok(call("GET", f"{api}/licences/{quote(data.get('name') or data['members'][0]['name'])}", token=token), 422)

    # A holder shares the ID card; the share link is opened, redeemed and used for a materials check.
    card = load_sample("id_card")
    grant, code = shares.create_grant(here, holder=card["id_number"], licence=issued["id_card"]["identifier"], purpose="办理居住证", scope="data", recipient=None, hours=1)
    secrets.add(code)
    secrets.add(code.replace("-", ""))
    link = shares.share_qr_text(here, code)
    _ok(call("GET", link))
    _ok(call("GET", link.replace("/S/", "/s/").lower()))
    redeemed = _ok(call("POST", f"{api}/shares/redeem", json={"code": code}, token=window)).json()
    assert redeemed["data"]["id_number"] == card["id_number"]
    _ok(call("GET", f"{api}/matters/BDCDJ-002/materials?holder={card['id_number']}&grant={code}", token=window), 200, 404)
    _ok(call("POST", f"{api}/matters/BDCDJ-002/materials", json={"holder": card["id_number"], "grants": [code]}, token=window), 200, 404)
    # The holder signs in with the claim code (a form body) and gets the sign-in page back.
    _ok(call("GET", origin + "/me/sign-in"))
    secrets.add(claim_codes["id_card"])

    stop(proc)  # flush and close: every line is in the file
    text = log.read_text(encoding="utf-8", errors="replace")
    assert proc.returncode is not None
    # The access log was on, and it shows the requests (targets masked).
    assert re.search(r'"GET /api/v1/licences\?holder=\*\*\*&kind=id_card&limit=5 HTTP/1\.1" 200', text), log_tail(log)
    assert '"GET /S/*** HTTP/1.1" 200' in text and '"GET /s/*** HTTP/1.1" 200' in text
    assert re.search(r'"GET /api/v1/matters/BDCDJ-002/materials\?holder=\*\*\*&grant=\*\*\* HTTP/1\.1" (200|404)', text)
    assert '"POST /api/v1/licences/search HTTP/1.1" 200' in text
    assert f'"GET /api/v1/licences/{issued["id_card"]["identifier"]} HTTP/1.1" 200' in text  # identifiers stay
    leaks = sorted(
        value
        for value in secrets
        for form in {value, value.lower(), quote(value), quote(value).lower()}
        if form in text
    )
    assert not leaks, f"personal data or share codes in the server's log: {leaks}\n{log_tail(log)}"
