"""Service matters: loading replaces the catalogue atomically; the materials check counts only
licences the applicant shared with this window, in force now, and logs each one for its holders."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from licence_svc.errors import Gone, InvalidInput, NotAuthorised, NotFound
from licence_svc.services import matters, shares, usage
from licence_svc.services.platform import utcnow
from licence_svc.services.tokens import Principal
from tests.helpers import SAMPLES, credit_code, person


CATALOGUE = [
    {
        "code": "SVC-QYKB",
        "name": "企业印章刻制",
        "materials": [
            {"id": "yyzz", "name": "营业执照", "kind": "business_licence"},
            {"id": "fddbr", "name": "法定代表人身份证", "kind": "id_card", "holder_role": "legal_representative"},
            {"id": "sqb", "name": "申请表", "kind": None},
        ],
    },
    {
        "code": "SVC-LH",
        "name": "人才引进落户",
        "materials": [
            {"id": "hkb", "name": "户口簿", "kind": "household_register"},
            {"id": "sfz", "name": "身份证", "kind": "id_card"},
            {"id": "xw", "name": "学位证书", "kind": "degree_certificate"},
            {"id": "ht", "name": "劳动合同", "kind": None, "required": False},
        ],
    },
]


@pytest.fixture(scope="module")
def window(platform: Any) -> str:
    from licence_svc.services.setup import DEMO_WINDOW, demo_code

    return demo_code(DEMO_WINDOW[0])


@pytest.fixture()
def as_window(window: str) -> Principal:
    return Principal(department=window, token_id="t0000001", kinds=frozenset(), scopes=frozenset({"redeem", "check"}))


@pytest.fixture()
def loaded(platform: Any) -> None:
    matters.load(json.dumps(CATALOGUE, ensure_ascii=False), actor="test")


@pytest.fixture()
def licence_of(platform: Any, departments: dict[str, str], sample: Callable[[str], dict[str, Any]]) -> Callable[..., str]:
    """Issue a licence of ``kind`` to the person ``who`` (or a company); returns its identifier."""
    from licence_svc.services.issuing import issue

    def make(kind: str, who: tuple[str, str, str], **overrides: Any) -> str:
        number, birth, sex = who
        data = sample(kind)
        if kind in ("id_card", "degree_certificate"):
            data.update(id_number=number, birth_date=birth, sex=sex)
        elif kind == "driving_licence":
            data.update(licence_number=number, birth_date=birth, sex=sex)
        elif kind == "household_register":
            data["members"][0].update(id_number=number, birth_date=birth, sex=sex)
        data.update(overrides)
        return issue(platform, kind=kind, data=data, department=departments[kind]).identifier

    return make


def grant(platform: Any, holder: str, licence: str, recipient: str, **kw: Any) -> str:
    return shares.create_grant(platform, holder=holder, licence=licence, purpose="办理落户", scope="verify", recipient=recipient, **kw)[1]


# ---- loading -------------------------------------------------------------------------------------


def test_load_replaces_the_catalogue(platform: Any, tmp_path: Path) -> None:
    result = matters.load_file(SAMPLES / "matters.json", actor="test")
    assert (result.matters, result.materials) == (5, sum(len(m["materials"]) for m in json.loads((SAMPLES / "matters.json").read_text("utf-8"))))
    assert "QYKB-001" in {m.code for m in matters.catalogue()}
    path = tmp_path / "one.yaml"
    path.write_text("matters:\n- code: ONLY-1\n  name: 唯一事项\n  materials:\n  - {id: a, name: 身份证, kind: id_card}\n", encoding="utf-8")
    assert matters.load_file(path, actor="test") == matters.LoadResult(1, 1)
    assert [m.code for m in matters.catalogue()] == ["ONLY-1"]
    with pytest.raises(NotFound):
        matters.get_matter("QYKB-001")


def test_invalid_catalogue_leaves_the_old_one(platform: Any, tmp_path: Path) -> None:
    matters.load(json.dumps(CATALOGUE, ensure_ascii=False), actor="test")
    before = matters.catalogue()
    broken = [*CATALOGUE, {**CATALOGUE[0], "name": ""}]
    with pytest.raises(InvalidInput) as exc:
        matters.load(json.dumps(broken), actor="test")
    assert {p.field for p in exc.value.problems} == {"matters[2].code", "matters[2].name"}
    with pytest.raises(InvalidInput, match="not found"):
        matters.load_file(tmp_path / "missing.json", actor="test")
    (tmp_path / "latin1.json").write_bytes("[{\"name\": \"caf\xe9\"}]".encode("latin-1"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        matters.load_file(tmp_path / "latin1.json", actor="test")
    assert matters.catalogue() == before


# ---- the materials check -------------------------------------------------------------------------


def test_legal_representative_id_card_counts_for_the_company(
    platform: Any, loaded: None, window: str, as_window: Principal, licence_of: Callable[..., str]
) -> None:
    rep = person()
    company = credit_code()
    bl = licence_of("business_licence", rep, credit_code=company, legal_representative_id_number=rep[0])
    card = licence_of("id_card", rep)
    codes = [grant(platform, company, bl, window), grant(platform, rep[0], card, window)]
    report = matters.materials(as_window, "SVC-QYKB", holder=company, grants=codes)
    assert [(a["id"], a["satisfied"]) for a in report["materials"]] == [("yyzz", True), ("fddbr", True), ("sqb", False)]
    assert report["paper_needed"] == ["申请表"] and not report["all_electronic"]
    assert report["holder"] == company[:4] + "*" * 10 + company[-4:]

    # A stranger's ID card is another holder's grant, even for a legal representative's material.
    stranger = person()
    other = grant(platform, stranger[0], licence_of("id_card", stranger), window)
    with pytest.raises(NotAuthorised, match="another holder"):
        matters.materials(as_window, "SVC-QYKB", holder=company, grants=[codes[0], other])
    # The representative's ID card does not stand in for the company's own licence.
    report = matters.materials(as_window, "SVC-QYKB", holder=company, grants=[codes[1]])
    assert [a["satisfied"] for a in report["materials"]] == [False, True, False]


def test_household_register_of_another_member_counts(
    platform: Any, loaded: None, window: str, as_window: Principal, licence_of: Callable[..., str], sample: Callable[[str], dict[str, Any]]
) -> None:
    """The register belongs to every member: the head's grant satisfies it for the spouse."""
    head, spouse = person(), person()
    members = sample("household_register")["members"][:2]
    members[1].update(id_number=spouse[0], birth_date=spouse[1], sex=spouse[2])
    register = licence_of("household_register", head, members=[{**members[0], "id_number": head[0], "birth_date": head[1], "sex": head[2]}, members[1]])
    report = matters.materials(as_window, "SVC-LH", holder=spouse[0].lower(), grants=[grant(platform, head[0], register, window)])
    assert [a["satisfied"] for a in report["materials"]] == [True, False, False, False]
    assert report["materials"][0]["licence"] == register
    assert report["paper_needed"] == ["身份证", "学位证书"]  # 劳动合同 is optional


def test_usage_and_audit_name_the_window_and_the_matter(
    platform: Any, loaded: None, window: str, as_window: Principal, licence_of: Callable[..., str]
) -> None:
    from licence_svc.services.audit import seal_all
    from licence_svc.storage.audit import iter_events

    who = person()
    card, degree = licence_of("id_card", who), licence_of("degree_certificate", who)
    unshared = licence_of("driving_licence", who)
    codes = [grant(platform, who[0], card, window), grant(platform, who[0], degree, window)]
    matters.materials(as_window, "SVC-LH", holder=who[0], grants=codes, client="192.0.2.7")
    for ident in (card, degree):
        event = next(e for e in usage.events([ident]) if e["action"] == "materials")
        assert event["organisation"] == window and event["organisation_name"]
        assert event["purpose"] == "办理人才引进落户" and event["grant"] and event["outcome"] == "ok"
        assert event["action_label"] == usage.ACTION_LABELS["materials"]
    assert not [e for e in usage.events([unshared]) if e["action"] != "share"]
    seal_all()
    audited = [e for e in iter_events() if e["action"] == "materials" and e["licence"] in (card, degree)]
    assert len(audited) == 2 and all(e["client"] == "192.0.2.7" and who[0] not in (e["detail"] or "") for e in audited)


def test_expired_licence_is_not_satisfied(
    platform: Any, loaded: None, window: str, as_window: Principal, licence_of: Callable[..., str]
) -> None:
    who = person()
    card = licence_of("id_card", who, valid_from="2005-01-01", valid_until="2025-01-01")
    code = grant(platform, who[0], card, window)
    report = matters.materials(as_window, "SVC-LH", holder=who[0], grants=[code])
    answer = report["materials"][1]
    assert not answer["satisfied"] and answer["licence"] is None and "已过有效期" in answer["reason"]
    assert next(e for e in usage.events([card]) if e["action"] == "materials")["outcome"] == "expired"


def test_grant_that_expired_is_gone(platform: Any, loaded: None, window: str, as_window: Principal, licence_of: Callable[..., str]) -> None:
    who = person()
    card = licence_of("id_card", who)
    code = grant(platform, who[0], card, window, hours=1, now=utcnow() - timedelta(hours=2))
    with pytest.raises(Gone):
        matters.materials(as_window, "SVC-LH", holder=who[0], grants=[code])


@pytest.mark.parametrize(
    ("holder", "grants", "error", "field"),
    [
        ("110101199003071234", [], InvalidInput, "holder"),
        ("", [], InvalidInput, "holder"),
        (None, [], InvalidInput, "holder"),
        ("110101199003071233", ["not a code"], InvalidInput, "grant"),
        ("110101199003071233", ["ABCDE-FGHJK"] * 21, InvalidInput, "grant"),
        ("110101199003071233", ["ABCDE-FGHJK"], NotFound, None),
    ],
)
def test_bad_input(loaded: None, as_window: Principal, holder: Any, grants: list[str], error: type[Exception], field: str | None) -> None:
    with pytest.raises(error) as exc:
        matters.materials(as_window, "SVC-LH", holder=holder, grants=grants)
    if field:
        assert [p.field for p in exc.value.problems] == [field]  # type: ignore[attr-defined]


def test_needs_the_redeem_scope_and_a_known_matter(loaded: None, as_window: Principal) -> None:
    issuer = Principal(department=as_window.department, token_id="t0000002", kinds=frozenset(), scopes=frozenset({"issue", "check"}))
    with pytest.raises(NotAuthorised, match="redeem"):
        matters.materials(issuer, "SVC-LH", holder="110101199003071233", grants=[])
    with pytest.raises(NotFound, match="NO-SUCH"):
        matters.materials(as_window, "NO-SUCH", holder="110101199003071233", grants=[])
