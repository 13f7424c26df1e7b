"""Black box: bulk imports over HTTP (/api/v1/batches). A JSON Lines body is accepted with 202, a
batch id and a Location; GET on it reports progress and, when done, the issued / skipped /
rejected counts and the error report rows. Only the submitting department reads its batch (another's: 404, as unknown),
an unknown id is 404, a kind outside the token's scope 403, an empty body or unknown kind 422.
The import runs in the background with worker processes, so the tests poll (up to 120 s)."""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from licence_svc.core.checkdigits import id_number_check_char
from licence_svc.services import tokens as token_service
from licence_svc.services.verifying import check_qr
from licence_svc.storage.models import Batch, Licence
from tests.helpers import SAMPLES, load_sample

API = "/api/v1/batches"
PROBLEM = "application/problem+json"
NDJSON = "application/x-ndjson"
TIMEOUT = 120.0


def id_card_rows(n: int, *, area: int, tag: str) -> list[dict[str, Any]]:
    """``n`` distinct valid id_card records (check characters right, sex digit odd as the sample's 男)."""
    base = load_sample("id_card")
    base.pop("photo")
    rows = []
    for i in range(n):
        birth = date(1960, 2, 1) + timedelta(days=211 * i)
        first17 = f"{area:06d}{birth:%Y%m%d}{2 * i + 1:03d}"
        rows.append(dict(base, birth_date=birth.isoformat(), id_number=first17 + id_number_check_char(first17), record_number=f"{tag}-{i + 1:04d}"))
    return rows


def jsonl(lines: list[dict[str, Any] | str]) -> bytes:
    return "".join((line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)) + "\n" for line in lines).encode("utf-8")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(resp: Any, status: int, *fields: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == PROBLEM
    body = resp.get_json(force=True)
    assert body["status"] == status and body["title"]
    if fields:
        assert sorted(e["field"] for e in body["errors"]) == sorted(fields), body
    return body  # type: ignore[no-any-return]


def wait_done(client: Any, token: str, batch_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll the batch until it is done or failed: (final report, every report seen)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT
    while True:
        resp = client.get(f"{API}/{batch_id}", headers=auth(token))
        assert resp.status_code == 200, resp.get_data(as_text=True)
        report = resp.get_json()
        seen.append(report)
        if report["status"] in ("done", "failed"):
            return report, seen
        assert time.monotonic() < deadline, f"batch {batch_id} not done after {TIMEOUT:.0f}s: {report}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def police(platform: Any, departments: dict[str, str]) -> tuple[str, str]:
    """(code, demo token) of the department issuing id cards and household registers."""
    code = departments["id_card"]
    return code, platform.demo_tokens[code]


@pytest.fixture(scope="module")
def education(platform: Any, departments: dict[str, str]) -> tuple[str, str]:
    code = departments["degree_certificate"]
    return code, platform.demo_tokens[code]


GOOD = id_card_rows(8, area=320201, tag="HTTP")
BAD_CHECK = dict(id_card_rows(1, area=320209, tag="HTTPBAD")[0])
BAD_CHECK["id_number"] = BAD_CHECK["id_number"][:17] + ("0" if BAD_CHECK["id_number"][17] != "0" else "1")
BODY = jsonl([GOOD[0], GOOD[1], GOOD[2], '{"name": "张三",', GOOD[3], GOOD[4], BAD_CHECK, GOOD[5], GOOD[6], GOOD[7]])


@pytest.fixture(scope="module")
def submitted(app: Any, police: tuple[str, str]) -> dict[str, Any]:
    """The batch above, POSTed once and polled until it finished."""
    client = app.test_client()
    resp = client.post(f"{API}?kind=id_card", data=BODY, content_type=NDJSON, headers=auth(police[1]))
    accepted = resp.get_json()
    final, seen = wait_done(client, police[1], accepted["batch_id"]) if resp.status_code == 202 else (None, [])
    return {"resp": resp, "accepted": accepted, "final": final, "seen": seen}


def test_post_is_accepted_with_a_batch_id_and_location(submitted: dict[str, Any]) -> None:
    resp, accepted = submitted["resp"], submitted["accepted"]
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert re.fullmatch(r"[0-9a-f]{16}", accepted["batch_id"])
    assert resp.headers["Location"] == f"{API}/{accepted['batch_id']}"
    assert accepted["kind"] == "id_card" and accepted["total"] == 10
    assert accepted["status"] in ("queued", "running", "done")
    for field in ("created_at", "updated_at"):  # an RFC 3339 date-time carries its offset, on PostgreSQL too
        assert datetime.fromisoformat(accepted[field]).utcoffset() is not None, accepted[field]


def test_progress_then_done_with_counts_and_error_rows(submitted: dict[str, Any]) -> None:
    final, seen = submitted["final"], submitted["seen"]
    assert final["status"] == "done", final
    assert (final["issued"], final["skipped"], final["rejected"], final["done"], final["total"]) == (8, 0, 2, 10, 10)
    assert final["message"] is None
    assert [(e["row"], e["field"]) for e in final["errors"]] == [(4, "line"), (7, "data.id_number")]
    assert final["errors"][0]["reason"].startswith("not JSON")
    assert final["errors"][1]["reason"] == "check digit mismatch"
    # progress never goes backwards, and the status moves only forward
    order = {"queued": 0, "running": 1, "done": 2}
    assert [order[r["status"]] for r in seen] == sorted(order[r["status"]] for r in seen)
    assert [r["done"] for r in seen] == sorted(r["done"] for r in seen)
    assert all(r["done"] == r["issued"] + r["skipped"] + r["rejected"] <= r["total"] for r in seen)


def test_the_batch_issued_each_good_row_once(submitted: dict[str, Any], platform: Any, police: tuple[str, str]) -> None:
    assert submitted["final"]["status"] == "done"
    for row in GOOD:
        (licence,) = Licence.select().where(Licence.holder == row["id_number"])
        assert licence.issuer_id == police[0] and licence.kind == "id_card"
        assert json.loads(licence.data_json)["birth_date"] == row["birth_date"]
    assert not Licence.select().where(Licence.holder == BAD_CHECK["id_number"]).exists()
    (last,) = Licence.select().where(Licence.holder == GOOD[-1]["id_number"])
    assert check_qr(platform, last.qr_text).verdict == "valid"


def test_resubmitting_the_same_body_issues_nothing_new(submitted: dict[str, Any], app: Any, police: tuple[str, str]) -> None:
    assert submitted["final"]["status"] == "done"
    client = app.test_client()
    before = Licence.select().count()
    resp = client.post(f"{API}?kind=id_card", data=BODY, content_type=NDJSON, headers=auth(police[1]))
    assert resp.status_code == 202, resp.get_data(as_text=True)
    assert resp.get_json()["batch_id"] != submitted["accepted"]["batch_id"]
    final, _ = wait_done(client, police[1], resp.get_json()["batch_id"])
    assert (final["status"], final["issued"], final["skipped"], final["rejected"]) == ("done", 0, 8, 2)
    assert Licence.select().count() == before


def test_another_department_may_not_read_the_batch(submitted: dict[str, Any], client: Any, education: tuple[str, str]) -> None:
    """It answers exactly as a batch that does not exist: no oracle for another department's ids."""
    resp = client.get(f"{API}/{submitted['accepted']['batch_id']}", headers=auth(education[1]))
    body = assert_problem(resp, 404)
    unknown = client.get(f"{API}/{'0' * 16}", headers=auth(education[1])).get_json()
    assert body["detail"].replace(submitted["accepted"]["batch_id"], "X") == unknown["detail"].replace("0" * 16, "X")
    assert "errors" not in resp.get_json() or not resp.get_json()["errors"]


def test_unknown_batch_is_404(client: Any, police: tuple[str, str]) -> None:
    assert_problem(client.get(f"{API}/0123456789abcdef", headers=auth(police[1])), 404)


def test_no_token_is_401(client: Any) -> None:
    # from an address of its own: failed authentications are counted (and limited) per address
    resp = client.post(f"{API}?kind=id_card", data=BODY, content_type=NDJSON, environ_base={"REMOTE_ADDR": "10.250.7.1"})
    assert_problem(resp, 401)


def test_a_kind_the_token_may_not_issue_is_403_and_starts_nothing(client: Any, education: tuple[str, str], police: tuple[str, str]) -> None:
    before = Batch.select().count()
    # the department may not issue the kind at all
    assert_problem(client.post(f"{API}?kind=id_card", data=BODY, content_type=NDJSON, headers=auth(education[1])), 403)
    # the department may, but this token is scoped to id cards only
    _, id_cards_only = token_service.create_token(police[0], ["id_card"], label="batches: id cards only")
    household = (SAMPLES / "household_register.json").read_text(encoding="utf-8")
    body = (json.dumps({**json.loads(household), "record_number": "HH-1"}, ensure_ascii=False) + "\n").encode("utf-8")
    assert_problem(client.post(f"{API}?kind=household_register", data=body, content_type=NDJSON, headers=auth(id_cards_only)), 403)
    assert Batch.select().count() == before


@pytest.mark.parametrize("body", [b"", b"\n  \n"], ids=["empty", "blank-lines"])
def test_an_empty_body_is_422(client: Any, police: tuple[str, str], body: bytes) -> None:
    before = Batch.select().count()
    assert_problem(client.post(f"{API}?kind=id_card", data=body, content_type=NDJSON, headers=auth(police[1])), 422, "body")
    assert Batch.select().count() == before


def test_an_unknown_kind_is_422(client: Any, police: tuple[str, str]) -> None:
    assert_problem(client.post(f"{API}?kind=passport", data=BODY, content_type=NDJSON, headers=auth(police[1])), 422, "kind")
    assert_problem(client.post(API, data=BODY, content_type=NDJSON, headers=auth(police[1])), 422, "kind")
