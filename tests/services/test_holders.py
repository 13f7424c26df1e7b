"""Holder accounts below the pages: password hashing and policy, session expiry, the claim code
used once even under concurrency, and what a holder's licence list holds."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from licence_svc.errors import InvalidInput, NotAuthorised, NotFound, RateLimited, Unauthenticated
from licence_svc.services import holders
from licence_svc.services.platform import utcnow
from tests.helpers import client_address, code_for, person_id


def _issue_card(platform: Any, departments: dict[str, str], sample: Callable[[str], dict[str, Any]]) -> tuple[Any, str]:
    from licence_svc.services.issuing import issue

    holder = person_id()
    data = sample("id_card") | {"id_number": holder}
    return issue(platform, kind="id_card", data=data, department=departments["id_card"]), holder


@pytest.fixture()
def new_card(platform: Any, departments: dict[str, str], sample: Callable[[str], dict[str, Any]]) -> Callable[[], tuple[Any, str]]:
    return lambda: _issue_card(platform, departments, sample)


@pytest.fixture()
def card(new_card: Callable[[], tuple[Any, str]]) -> tuple[Any, str]:
    return new_card()


def test_password_hash_is_self_describing_salted_scrypt() -> None:
    stored = holders.hash_password("correct horse battery")
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
    assert holders.verify_password("correct horse battery", stored)
    assert not holders.verify_password("correct horse batterY", stored)
    assert holders.hash_password("correct horse battery") != stored


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "scrypt$16384$8$1$!!$!!", "bcrypt$x$y$z$a$b", "scrypt$abc$8$1$AAAA$AAAA"],
)
def test_malformed_stored_hashes_never_match(stored: str) -> None:
    assert not holders.verify_password("anything", stored)


def test_tampered_hash_fails() -> None:
    stored = holders.hash_password("correct horse battery")
    head, digest = stored.rsplit("$", 1)
    raw = bytearray(base64.b64decode(digest))
    raw[0] ^= 1
    assert not holders.verify_password("correct horse battery", f"{head}${base64.b64encode(bytes(raw)).decode()}")


@pytest.mark.parametrize(
    ("password", "field", "reason"),
    [
        ("short", "password", "至少需要10个字符"),
        ("12345678901234", "password", "不能全部是数字"),
        ("my110101199003071233pw", "password", "不能包含您的证件号码"),
        ("MY110101199003071233PW".lower(), "password", "不能包含您的证件号码"),
        ("x" * 201, "password", "不能超过200个字符"),
    ],
)
def test_password_policy(password: str, field: str, reason: str) -> None:
    [problem] = holders.password_problems(password, password, "110101199003071233")
    assert (problem.field, reason in problem.reason) == (field, True)


def test_good_password_needs_a_matching_confirmation() -> None:
    assert holders.password_problems("春眠不觉晓处处闻啼鸟", "春眠不觉晓处处闻啼鸟", "110101199003071233") == []
    [problem] = holders.password_problems("春眠不觉晓处处闻啼鸟", "春眠不觉晓", "110101199003071233")
    assert problem.field == "confirm"


def test_session_idle_and_absolute_expiry(new_card: Callable[[], tuple[Any, str]]) -> None:
    issued, holder = new_card()
    signed = holders.sign_in_with_secret(holder, code_for(issued, holder), client=client_address())
    start = utcnow()
    # Activity pushes the idle expiry on, 30 minutes at a time, up to 8 hours after sign-in.
    t = start
    while t < start + timedelta(hours=7, minutes=50):
        t += timedelta(minutes=25)
        assert holders.open_session(signed.token, now=t) is not None, t - start
    assert holders.open_session(signed.token, now=start + holders.SESSION_MAX + timedelta(minutes=1)) is None
    # Idle for more than 30 minutes: gone.
    issued, holder = new_card()
    idle = holders.sign_in_with_secret(holder, code_for(issued, holder), client=client_address())
    assert holders.open_session(idle.token, now=utcnow() + timedelta(minutes=29)) is not None
    assert holders.open_session(idle.token, now=utcnow() + timedelta(minutes=29 + 31)) is None


def test_unknown_or_forged_session_tokens(card: tuple[Any, str]) -> None:
    assert holders.open_session(None) is None
    assert holders.open_session("") is None
    assert holders.open_session("x" * 500) is None
    issued, holder = card
    signed = holders.sign_in_with_secret(holder, code_for(issued, holder), client=client_address())
    assert holders.open_session(signed.token[:-1] + ("A" if signed.token[-1] != "A" else "B")) is None
    assert holders.open_session(signed.session.token_hash) is None, "the stored hash is not a token"


def test_claim_code_used_once_under_concurrency(card: tuple[Any, str]) -> None:
    issued, holder = card
    code = code_for(issued, holder)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        from licence_svc.storage.db import close

        barrier.wait()
        try:
            holders.sign_in_with_secret(holder, code, client=client_address())
            results.append("ok")
        except Unauthenticated:
            results.append("refused")
        finally:
            close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]


def test_set_password_only_from_a_claim_code_session(card: tuple[Any, str]) -> None:
    issued, holder = card
    signed = holders.sign_in_with_secret(holder, code_for(issued, holder), client=client_address())
    with pytest.raises(InvalidInput) as weak:
        holders.set_password(signed.session, "1234567890", "1234567890")
    assert weak.value.problems[0].field == "password"
    fresh = holders.set_password(signed.session, "a-good-passphrase", "a-good-passphrase")
    assert fresh.session.method == "password" and not fresh.session.needs_password
    assert holders.open_session(signed.token) is None, "the claim-code session ends"
    with pytest.raises(NotAuthorised):
        holders.set_password(fresh.session, "another-passphrase", "another-passphrase")


def test_rate_limit_per_address(card: tuple[Any, str]) -> None:
    issued, holder = card
    address = client_address()
    for _ in range(holders.MAX_FAILURES):
        with pytest.raises(Unauthenticated, match=holders.SIGN_IN_FAILED):
            holders.sign_in_with_secret(person_id(), "XXXX-XXXX-XXXX", client=address)
    with pytest.raises(RateLimited):
        holders.sign_in_with_secret(holder, code_for(issued, holder), client=address)


def test_a_holder_sees_only_licences_in_the_holder_index(card: tuple[Any, str], platform: Any, departments: dict[str, str], sample: Callable[[str], dict[str, Any]]) -> None:
    issued, holder = card
    other, other_holder = _issue_card(platform, departments, sample)
    assert [lic.identifier for lic in holders.my_licences(holder)] == [issued.identifier]
    with pytest.raises(NotFound):
        holders.my_licence(holder, other.identifier)
    with pytest.raises(NotFound):
        holders.download_pdf(platform, holder, other.identifier)
    assert holders.download_pdf(platform, other_holder, other.identifier) == other.pdf
    assert holders.my_licence(holder, issued.identifier).status_label == "有效"
