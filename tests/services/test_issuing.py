"""Issuing in-process: identifiers, the register record and the stored PDF, concurrency between
processes, and expiry as the QR claims and the verifier see it."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cbor2
import pytest

from licence_svc.core.identifiers import parse_licence_id
from licence_svc.services.issuing import issue
from licence_svc.services.verifying import check_pdf, check_qr
from licence_svc.storage.models import Licence
from tests.helpers import ROOT, load_sample

BEIJING = timezone(timedelta(hours=8))
SERIAL = re.compile(r"^[0-9A-Z]{16}$")


def qr_claims(text: str) -> dict[int, Any]:
    """Decode the QR text by hand (RFC 4648 base32, RFC 9052 COSE_Sign1, CBOR claims)."""
    payload = text.rsplit("/", 1)[1]
    cose = cbor2.loads(base64.b32decode(payload + "=" * (-len(payload) % 8)))
    assert isinstance(cose, cbor2.CBORTag) and cose.tag == 18
    claims = cbor2.loads(cose.value[2])
    assert isinstance(claims, dict)
    return claims


K_SERIAL, K_EXPIRES = 1, 6  # claim keys of format version 1


# -- identifiers, records, stored files ------------------------------------------------------


@pytest.fixture(scope="module")
def batch(platform: Any, departments: dict[str, str]) -> list[Any]:
    """Seven licences: the same person's id card issued again and again, plus one of each other kind."""
    out = [issue(platform, kind="id_card", data=load_sample("id_card"), department=departments["id_card"]) for _ in range(3)]
    for kind in ("household_register", "degree_certificate", "driving_licence", "business_licence"):
        out.append(issue(platform, kind=kind, data=load_sample(kind), department=departments[kind]))
    return out


def test_identifiers_are_distinct_and_well_formed(batch: list[Any], issued_samples: dict[str, Any]) -> None:
    every = batch + list(issued_samples.values())
    ids = [i.identifier for i in every]
    assert len(set(ids)) == len(ids)
    serials = [parse_licence_id(i).serial for i in ids]
    assert len(set(serials)) == len(serials)
    assert all(SERIAL.match(s) for s in serials), serials
    assert all(parse_licence_id(i).version == 1 for i in ids)
    for licence in every:
        assert qr_claims(licence.qr_text)[K_SERIAL] == parse_licence_id(licence.identifier).serial


def test_record_holds_the_digest_of_the_stored_pdf(batch: list[Any], platform: Any) -> None:
    pdf_dir = Path(platform.settings.pdf_dir)
    for licence in batch:
        row = Licence.get_by_id(licence.identifier)
        stored = pdf_dir / row.pdf_key
        assert stored.is_file()
        on_disk = stored.read_bytes()
        assert on_disk == licence.pdf
        assert row.pdf_sha256 == hashlib.sha256(on_disk).hexdigest() == licence.pdf_sha256
        assert platform.pdfs.get(row.pdf_key) == on_disk
        assert (row.status, row.version, row.kind) == ("valid", 1, licence.kind)
        assert json.loads(row.data_json) == load_sample(licence.kind)


def test_pdf_store_is_sharded(batch: list[Any], platform: Any) -> None:
    pdf_dir = Path(platform.settings.pdf_dir)
    assert [p for p in pdf_dir.iterdir() if p.is_file()] == []  # nothing directly at the root
    files = [p for p in pdf_dir.rglob("*") if p.is_file()]
    assert len(files) >= len(batch)
    folders = set()
    for path in files:
        rel = path.relative_to(pdf_dir).parts
        assert len(rel) >= 2, rel  # at least one sub-folder level
        assert rel[-1].endswith(".pdf") and not rel[-1].endswith(".tmp"), rel
        folders.add(rel[0])
    assert len(folders) > 1  # a dozen licences do not all land in one folder


# -- two processes issuing at once -----------------------------------------------------------

WORKER = r"""
import json, sys, time
from pathlib import Path
from licence_svc.services.platform import Platform
from licence_svc.services.issuing import issue

start, n, dept = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
data = json.loads(Path("samples/id_card.json").read_text(encoding="utf-8"))
platform = Platform.open()
time.sleep(max(0.0, start - time.time()))  # both processes begin together
for _ in range(n):
    print(issue(platform, kind="id_card", data=data, department=dept).identifier, flush=True)
"""


def test_two_processes_issue_concurrently(platform_env: dict[str, str], platform: Any, departments: dict[str, str]) -> None:
    env = {**os.environ, **platform_env}
    start = time.time() + 2.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(start), "5", departments["id_card"]],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, results):
        assert proc.returncode == 0, err
    ids = [line for out, _ in results for line in out.split()]
    assert len(ids) == 10
    assert len(set(ids)) == 10
    pdf_dir = Path(platform.settings.pdf_dir)
    for identifier in ids:
        row = Licence.get_by_id(identifier)
        assert row.status == "valid"
        assert hashlib.sha256((pdf_dir / row.pdf_key).read_bytes()).hexdigest() == row.pdf_sha256


# -- expiry ----------------------------------------------------------------------------------


def test_id_card_claims_expire_at_the_end_of_valid_until_beijing_time(issued_samples: dict[str, Any]) -> None:
    claims = qr_claims(issued_samples["id_card"].qr_text)
    valid_until = load_sample("id_card")["valid_until"]  # 2040-05-01
    end = datetime.fromisoformat(valid_until).replace(hour=23, minute=59, second=59, tzinfo=BEIJING)
    assert claims[K_EXPIRES] == int(end.timestamp())
    assert datetime.fromtimestamp(claims[K_EXPIRES], timezone.utc) == datetime(2040, 5, 1, 15, 59, 59, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def expired(platform: Any, departments: dict[str, str]) -> Any:
    data = load_sample("id_card")
    data.update(valid_from="2000-01-01", valid_until="2010-01-01")
    return issue(platform, kind="id_card", data=data, department=departments["id_card"])


@pytest.mark.parametrize("evidence", ["qr", "pdf"])
def test_past_validity_verifies_as_expired(evidence: str, expired: Any, platform: Any) -> None:
    report = check_qr(platform, expired.qr_text) if evidence == "qr" else check_pdf(platform, expired.pdf)
    assert report.verdict == "expired"
    (failed,) = [c for c in report.checks if c.passed is False]
    assert failed.name == "not_expired"
    assert "2010-01-01" in failed.reason


def test_expiry_boundary_is_midnight_beijing_time(expired: Any, platform: Any) -> None:
    last_second = datetime(2010, 1, 1, 23, 59, 59, tzinfo=BEIJING)
    assert check_qr(platform, expired.qr_text, now=last_second).verdict == "valid"
    assert check_qr(platform, expired.qr_text, now=last_second + timedelta(seconds=1)).verdict == "expired"


def test_business_licence_without_term_never_expires(issued_samples: dict[str, Any], platform: Any) -> None:
    licence = issued_samples["business_licence"]
    assert load_sample("business_licence")["term_until"] is None
    assert K_EXPIRES not in qr_claims(licence.qr_text)
    far_future = datetime(2200, 1, 1, tzinfo=timezone.utc)
    for report in (check_qr(platform, licence.qr_text, now=far_future), check_pdf(platform, licence.pdf)):
        assert report.verdict == "valid"
        assert report.licence is not None and report.licence["expires_at"] is None
        (expiry,) = [c for c in report.checks if c.name == "not_expired"]
        assert expiry.passed is True
    assert Licence.get_by_id(licence.identifier).expires_at is None
