"""Black box over a real gunicorn (2 workers): the whole life of a licence of every kind through the
department API — issue, fetch, download, change (变更), suspend, reinstate, revoke (吊销) — with a
verification through POST /api/v1/verify after each step, by QR text and by PDF upload, the
licence's events, and an intact audit chain at the end (`python cli.py audit verify`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from licence_svc.core import fonts
from licence_svc.core.identifiers import parse_licence_id
from licence_svc.core.kinds import validate
from tests.http.live_server import Answer, call, live_server

KINDS = ("id_card", "household_register", "degree_certificate", "driving_licence", "business_licence")

# One realistic change (变更) per kind: a move, a new registered domicile, a new discipline name.
CHANGES: dict[str, tuple[str, str]] = {
    "id_card": ("address", "北京市西城区西长安街1号院5号楼2单元302室"),
    "household_register": ("address", "北京市东城区和平里街道青年湖社区8号"),
    "degree_certificate": ("discipline", "软件工程"),
    "driving_licence": ("address", "广东省深圳市福田区福华一路6号"),
    "business_licence": ("domicile", "北京市东城区东直门外大街42号宇飞大厦6层"),
}


@pytest.fixture(scope="module")
def server(platform: Any, platform_env: dict[str, str]) -> Iterator[str]:
    with live_server(platform_env, workers=2) as origin:
        yield origin


class Api:
    """The department API of one department, and the public verify endpoint, at ``origin``."""

    def __init__(self, origin: str, token: str) -> None:
        self.origin = origin
        self.token = token

    def __call__(self, method: str, path: str, **kwargs: Any) -> Answer:
        return call(method, self.origin + "/api/v1" + path, token=self.token, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        answer = self(method, path, **kwargs)
        assert answer.status == status, (method, path, answer.status, answer.body[:1000])
        return answer.json() if answer.content_type.endswith("json") else answer.body

    def verify_qr(self, text: str) -> dict[str, Any]:
        answer = call("POST", self.origin + "/api/v1/verify", json={"qr": text})
        assert answer.status == 200, answer.body[:1000]
        return answer.json()  # type: ignore[no-any-return]

    def verify_pdf(self, pdf: bytes) -> dict[str, Any]:
        answer = call("POST", self.origin + "/api/v1/verify", files={"file": ("licence.pdf", pdf, "application/pdf")})
        assert answer.status == 200, answer.body[:1000]
        return answer.json()  # type: ignore[no-any-return]


def expect(report: dict[str, Any], verdict: str, identifier: str, evidence: str) -> None:
    """The report's verdict, the licence it is about, and the status check that decided it."""
    assert report["verdict"] == verdict, (verdict, report["verdict"], [c for c in report["checks"] if c["passed"] is False])
    assert report["valid"] is (verdict == "valid")
    assert report["evidence"] == evidence
    assert report["licence"]["identifier"] == identifier
    assert report["freshness"]["status_source"] == "register"
    status = [c for c in report["checks"] if c["name"] == "status"]
    assert len(status) == 1
    assert status[0]["passed"] is (verdict == "valid"), status[0]
    if verdict != "valid":
        assert verdict in status[0]["reason"], status[0]
    # the public report is masked: neither the holder's full name nor full ID number
    assert "*" in report["licence"]["holder"] and "*" in report["licence"]["holder_id"]


def check_both(api: Api, qr: str, pdf: bytes, verdict: str, identifier: str) -> None:
    expect(api.verify_qr(qr), verdict, identifier, "qr")
    expect(api.verify_pdf(pdf), verdict, identifier, "pdf")


@pytest.mark.parametrize("kind", KINDS)
def test_licence_lifecycle_over_http(
    kind: str,
    server: str,
    platform: Any,
    departments: dict[str, str],
    sample: Callable[[str], dict[str, Any]],
) -> None:
    dept = departments[kind]
    api = Api(server, platform.demo_tokens[dept])
    data = sample(kind)
    expected = validate(kind, sample(kind), can_render=fonts.can_render)

    # 1. Issue.
    issued = api.ok("POST", "/licences", 201, json={"kind": kind, "data": data})
    ident = issued["identifier"]
    lid = parse_licence_id(ident)
    assert (lid.version, lid.issuer_code) == (1, dept)
    assert (issued["kind"], issued["status"], issued["version"]) == (kind, "valid", 1)
    assert issued["pdf_url"] == f"{server}/api/v1/licences/{ident}/pdf"
    assert issued["qr_text"].upper().startswith(server.upper() + "/V/")

    # 2. Fetch: the full record holds exactly the (normalised) sample.
    record = api.ok("GET", f"/licences/{ident}")
    assert record["data"] == expected
    assert (record["identifier"], record["kind"], record["issuer"]) == (ident, kind, dept)
    assert (record["status"], record["version"], record["superseded_by"]) == ("valid", 1, None)
    assert record["qr_text"] == issued["qr_text"]

    # 3. Download: the PDF is the one the register vouches for.
    pdf_answer = api("GET", f"/licences/{ident}/pdf")
    assert pdf_answer.status == 200 and pdf_answer.content_type == "application/pdf"
    pdf_v1 = pdf_answer.body
    assert pdf_v1.startswith(b"%PDF-")
    assert hashlib.sha256(pdf_v1).hexdigest() == record["pdf_sha256"]
    check_both(api, issued["qr_text"], pdf_v1, "valid", ident)

    # 4. Change: version 002 with the new data; 001 superseded, by QR and by PDF.
    field, value = CHANGES[kind]
    assert data[field] != value
    changed_data = {**sample(kind), field: value}
    changed = api.ok("POST", f"/licences/{ident}/versions", 201, json={"data": changed_data})
    new_ident = changed["identifier"]
    new_lid = parse_licence_id(new_ident)
    assert new_ident.split(".")[-2] == "002"
    assert (new_lid.serial, new_lid.version, changed["version"], changed["status"]) == (lid.serial, 2, 2, "valid")
    old = api.ok("GET", f"/licences/{ident}")
    assert (old["status"], old["superseded_by"]) == ("superseded", new_ident)
    new = api.ok("GET", f"/licences/{new_ident}")
    assert new["data"] == {**expected, field: value}
    assert new["qr_text"] == changed["qr_text"] != issued["qr_text"]
    pdf_v2 = api.ok("GET", f"/licences/{new_ident}/pdf")
    assert hashlib.sha256(pdf_v2).hexdigest() == new["pdf_sha256"]
    check_both(api, issued["qr_text"], pdf_v1, "superseded", ident)
    old_report = api.verify_qr(issued["qr_text"])
    assert old_report["licence"]["superseded_by"] == new_ident
    check_both(api, changed["qr_text"], pdf_v2, "valid", new_ident)

    # 5. Suspend, 6. reinstate, 7. revoke: each seen at once by the next verification.
    for action, status, verdict in (("suspend", "suspended", "suspended"), ("reinstate", "valid", "valid"), ("revoke", "revoked", "revoked")):
        reason = f"{action} by the black-box test"
        summary = api.ok("POST", f"/licences/{new_ident}/{action}", json={"reason": reason})
        assert (summary["identifier"], summary["status"], summary["status_reason"]) == (new_ident, status, reason)
        check_both(api, changed["qr_text"], pdf_v2, verdict, new_ident)

    # A revoked licence stays revoked; the superseded one cannot be changed again.
    assert api("POST", f"/licences/{new_ident}/reinstate", json={"reason": "again"}).status == 409
    assert api("POST", f"/licences/{ident}/versions", json={"data": data}).status == 409

    # 8. Events: every step of both versions, in order, with the reasons of the status changes.
    events_v1 = api.ok("GET", f"/licences/{ident}/events")
    actions_v1 = [e["action"] for e in events_v1["events"] if e["action"] not in ("verify", "read")]
    assert actions_v1 == ["issue", "download", "supersede"]
    assert any(e["action"] == "read" for e in events_v1["events"])  # reading the full record leaves a trace
    assert sum(e["action"] == "verify" for e in events_v1["events"]) == 5  # 2 while valid, 3 once superseded
    assert [(c["from"], c["to"]) for c in events_v1["status_changes"]] == [("valid", "superseded")]
    events_v2 = api.ok("GET", f"/licences/{new_ident}/events")
    actions_v2 = [e["action"] for e in events_v2["events"] if e["action"] not in ("verify", "read")]
    assert actions_v2 == ["change", "download", "suspend", "reinstate", "revoke"]
    assert all(e["outcome"] == "ok" for e in events_v2["events"] if e["action"] != "verify")
    assert [e["outcome"] for e in events_v2["events"] if e["action"] == "verify"] == ["valid"] * 2 + ["suspended"] * 2 + ["valid"] * 2 + ["revoked"] * 2
    assert [(c["from"], c["to"], c["reason"]) for c in events_v2["status_changes"]] == [
        ("valid", "suspended", "suspend by the black-box test"),
        ("suspended", "valid", "reinstate by the black-box test"),
        ("valid", "revoked", "revoke by the black-box test"),
    ]
    seqs = [e["seq"] for e in events_v1["events"] + events_v2["events"] if e["seq"] is not None]  # null: not yet sealed
    assert len(set(seqs)) == len(seqs)

    # 9. The listing shows both versions with their final status.
    listed = api.ok("GET", f"/licences?kind={kind}&limit=100")
    statuses = {item["identifier"]: item["status"] for item in listed["items"]}
    assert statuses[ident] == "superseded" and statuses[new_ident] == "revoked"


def test_audit_chain_intact_after_the_http_lifecycle(server: str, run_cli: Callable[..., Any]) -> None:
    """Runs after the lifecycle tests of this module (same file, later): many workers appended to one chain."""
    proc = run_cli("audit", "verify")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "audit trail intact" in proc.stdout
    assert "BROKEN" not in proc.stdout
