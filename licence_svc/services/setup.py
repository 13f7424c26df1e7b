"""Creating the platform: schema, PKI and (for demos) departments with API tokens."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization

from ..core import pki
from ..core.annotate import COPY_SIGNER_NAME, PLATFORM_CODE
from ..core.checkdigits import credit_code_problem
from ..core.kinds import KINDS
from ..errors import FieldProblem, InvalidInput
from ..storage import db
from ..storage.models import Department, SigningKey
from . import tokens
from .platform import Platform, utcnow

log = logging.getLogger(__name__)

# Demo departments: clearly named as such, so nobody mistakes their licences for real ones.
DEMO_DEPARTMENTS = (
    ("11110000000019001", "示例市公安局（演示）", ("id_card", "household_register", "driving_licence")),
    ("11110000000012001", "示例市教育局（演示）", ("degree_certificate",)),
    ("11110000000014001", "示例市市场监督管理局（演示）", ("business_licence",)),
)
# A service window (综合窗口): issues nothing; redeems holders' share codes and runs field checks.
DEMO_WINDOW = ("11110000000000001", "示例市政务服务中心综合窗口（演示）")


def demo_code(first17: str) -> str:
    from ..core.checkdigits import credit_code_check_char

    return first17 + credit_code_check_char(first17)


@dataclass
class InitResult:
    created: list[str] = field(default_factory=list)
    demo_tokens: dict[str, str] = field(default_factory=dict)  # department code → token, shown once


def initialise(platform: Platform, *, demo: bool = False, force: bool = False) -> InitResult:
    """Create what is missing; with ``force`` replace the root, TSA and every department key."""
    result = InitResult()
    db.create_schema()
    keys = platform.keys
    now = utcnow()
    if force or not keys.has_root():
        root_key = pki.new_ec_key()
        root_cert = pki.make_root(root_key, now=now)
        keys.write_key(keys.root_key_path, root_key, force=force)
        keys.write_cert(keys.root_cert_path, root_cert)
        result.created.append("root CA")
    root = keys.root()
    if force or not keys.has_tsa():
        tsa_key = pki.new_tsa_key()
        keys.write_key(keys.tsa_key_path, tsa_key, force=force)
        keys.write_cert(keys.tsa_cert_path, pki.make_tsa_cert(tsa_key, root_cert=root.cert, root_key=root.key, now=now))  # type: ignore[arg-type]
        result.created.append("time-stamping certificate")
    if demo:
        for first17, name, kinds in DEMO_DEPARTMENTS:
            code = demo_code(first17)
            if Department.get_or_none(Department.code == code) is None:
                add_department(platform, code, name, list(kinds), issue_key=False)
                result.created.append(f"demo department {code} {name}")
                result.demo_tokens[code] = tokens.create_token(code, list(kinds), label="demo")[1]
        code = demo_code(DEMO_WINDOW[0])
        if Department.get_or_none(Department.code == code) is None:
            add_department(platform, code, DEMO_WINDOW[1], [])
            result.created.append(f"demo service window {code} {DEMO_WINDOW[1]}")
            result.demo_tokens[code] = tokens.create_token(code, [], label="demo window", scopes=["redeem", "check"])[1]
    if Department.get_or_none(Department.code == PLATFORM_CODE) is None:
        add_department(platform, PLATFORM_CODE, COPY_SIGNER_NAME, [])
        result.created.append(f"platform copy-signing identity {PLATFORM_CODE} {COPY_SIGNER_NAME}")
    for dept in Department.select():
        if not dept.kind_list and dept.code != PLATFORM_CODE:
            continue  # a service window signs nothing; the platform signs annotated copies (加注件)
        if ensure_signing_key(platform, dept, root, force=force):
            result.created.append(f"signing key for {dept.code}")
    return result


def ensure_signing_key(platform: Platform, dept: Department, root: pki.Credentials, *, force: bool = False) -> bool:
    """Issue a signing certificate when the department has no usable one (or on ``force``)."""
    keys = platform.keys
    active = [
        row
        for row in SigningKey.select().where((SigningKey.department == dept.code) & SigningKey.active)
        if keys.department_key_path(dept.code, row.kid).exists()
    ]
    if active and not force:
        return False
    now = utcnow()
    key = pki.new_ec_key()
    cert = pki.make_department_cert(
        key, department_code=dept.code, department_name=dept.name, root_cert=root.cert, root_key=root.key, now=now  # type: ignore[arg-type]
    )
    kid = pki.key_id(cert).hex()
    keys.write_key(keys.department_key_path(dept.code, kid), key)
    keys.write_cert(keys.department_cert_path(dept.code, kid), cert)
    with db.database.atomic():
        retiring = [r.kid for r in SigningKey.select(SigningKey.kid).where((SigningKey.department == dept.code) & SigningKey.active)]
        SigningKey.update(active=False).where(SigningKey.department == dept.code).execute()
        # Taken after the update: an issue still holding the old key (storage.licences.insert_licence
        # re-checks it in its transaction) is dated before this, so nothing genuine post-dates it.
        SigningKey.update(retired_at=utcnow()).where(SigningKey.kid.in_(retiring) & SigningKey.retired_at.is_null()).execute()
        SigningKey.create(
            kid=kid,
            department=dept.code,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
            active=True,
            created_at=now,
        )
    for old in retiring:
        keys.destroy_key(keys.department_key_path(dept.code, old))
    return True


def rotate_key(platform: Platform, department_code: str) -> str:
    """Give a department a new signing key; the old one is retired but stays on the trust list,
    so what it signed still verifies. Returns the new key id."""
    dept = Department.get_or_none(Department.code == department_code)
    if dept is None:
        raise InvalidInput.single("department", f"no department with code {department_code}")
    ensure_signing_key(platform, dept, platform.keys.root(), force=True)
    row = SigningKey.select().where((SigningKey.department == dept.code) & SigningKey.active).order_by(SigningKey.created_at.desc()).first()
    return str(row.kid)


def withdraw_key(platform: Platform, kid: str, *, reason: str) -> None:
    """Withdraw a signing key: every licence it signed fails verification, with ``reason``; its
    private half is destroyed (the certificate stays on the trust list, marked withdrawn)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput.single("reason", "required")
    row = SigningKey.get_or_none(SigningKey.kid == kid.lower())
    if row is None:
        raise InvalidInput.single("kid", f"no signing key {kid}")
    with db.database.atomic():
        SigningKey.update(active=False, withdrawn_at=utcnow(), withdrawn_reason=reason[:200]).where(SigningKey.kid == row.kid).execute()
    platform.keys.destroy_key(platform.keys.department_key_path(row.department_id, row.kid))


def add_department(platform: Platform, code: str, name: str, kinds: list[str], *, issue_key: bool = True) -> Department:
    """Register a department and the kinds it may issue; give it a signing key. With no kinds it
    is a service window (综合窗口): it redeems share codes and checks fields, and signs nothing."""
    problems = []
    if credit_code_problem(code):
        problems.append(FieldProblem("code", credit_code_problem(code) or ""))
    if not name.strip() or len(name) > 100:
        problems.append(FieldProblem("name", "must be 1-100 characters"))
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        problems.append(FieldProblem("kinds", f"unknown kind(s) {', '.join(unknown)}"))
    if not problems and Department.get_or_none(Department.code == code) is not None:
        problems.append(FieldProblem("code", "department already exists"))
    if problems:
        raise InvalidInput(problems)
    with db.database.atomic():
        dept = Department.create(code=code, name=name.strip(), kinds=",".join(kinds), created_at=utcnow())
    if issue_key and kinds:
        ensure_signing_key(platform, dept, platform.keys.root())
    return dept


def has_demo_departments() -> bool:
    codes = [demo_code(first17) for first17, _, _ in DEMO_DEPARTMENTS] + [demo_code(DEMO_WINDOW[0])]
    return Department.select().where(Department.code.in_(codes)).exists()


def list_departments() -> list[dict[str, object]]:
    return [
        {"code": d.code, "name": d.name, "kinds": d.kind_list}
        for d in Department.select().order_by(Department.code)
    ]
