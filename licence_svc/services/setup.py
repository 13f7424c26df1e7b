"""Creating the platform: schema, PKI and (for demos) departments with API tokens."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization

from ..core import pki
from ..core.annotate import COPY_SIGNER_NAME, PLATFORM_CODE
from ..core.checkdigits import credit_code_check_char, credit_code_problem
from ..core.kinds import KINDS
from ..errors import FieldProblem, InvalidInput
from ..storage import departments as registry
from ..storage import migrations
from ..storage.db import transaction
from ..storage.departments import DepartmentRecord
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
    return first17 + credit_code_check_char(first17)


@dataclass
class InitResult:
    created: list[str] = field(default_factory=list)
    demo_tokens: dict[str, str] = field(default_factory=dict)  # department code → token, shown once


def initialise(platform: Platform, *, demo: bool = False, force: bool = False) -> InitResult:
    """Create what is missing; with ``force`` replace the root, TSA and every department key."""
    result = InitResult()
    migrations.create_schema()
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
            if not registry.department_exists(code):
                add_department(platform, code, name, list(kinds), issue_key=False)
                result.created.append(f"demo department {code} {name}")
                result.demo_tokens[code] = tokens.create_token(code, list(kinds), label="demo")[1]
        code = demo_code(DEMO_WINDOW[0])
        if not registry.department_exists(code):
            add_department(platform, code, DEMO_WINDOW[1], [])
            result.created.append(f"demo service window {code} {DEMO_WINDOW[1]}")
            result.demo_tokens[code] = tokens.create_token(code, [], label="demo window", scopes=["redeem", "check"])[1]
    if not registry.department_exists(PLATFORM_CODE):
        add_department(platform, PLATFORM_CODE, COPY_SIGNER_NAME, [])
        result.created.append(f"platform copy-signing identity {PLATFORM_CODE} {COPY_SIGNER_NAME}")
    for dept in registry.departments():
        if not dept.kinds and dept.code != PLATFORM_CODE:
            continue  # a service window signs nothing; the platform signs annotated copies (加注件)
        if ensure_signing_key(platform, dept, root, force=force):
            result.created.append(f"signing key for {dept.code}")
    return result


def ensure_signing_key(platform: Platform, dept: DepartmentRecord, root: pki.Credentials, *, force: bool = False) -> bool:
    """Issue a signing certificate when the department has no usable one (or on ``force``)."""
    keys = platform.keys
    active = [row for row in registry.active_keys(dept.code) if keys.department_key_path(dept.code, row.kid).exists()]
    if active and not force:
        return False
    _new_signing_key(platform, dept, root)
    return True


def _new_signing_key(platform: Platform, dept: DepartmentRecord, root: pki.Credentials) -> str:
    """Give ``dept`` a new signing key, retiring (and destroying) the ones it had; the new key id.

    The key files are written first; the register changes in one transaction."""
    keys = platform.keys
    now = utcnow()
    key = pki.new_ec_key()
    cert = pki.make_department_cert(
        key, department_code=dept.code, department_name=dept.name, root_cert=root.cert, root_key=root.key, now=now  # type: ignore[arg-type]
    )
    kid = pki.key_id(cert).hex()
    keys.write_key(keys.department_key_path(dept.code, kid), key)
    keys.write_cert(keys.department_cert_path(dept.code, kid), cert)
    with transaction():
        retiring = registry.deactivate_keys(dept.code)
        # Dated after the update: an issue still holding the old key (it re-checks the key in its
        # transaction, FOR SHARE) is dated before this, so nothing genuine post-dates it.
        registry.set_retired(retiring, utcnow())
        registry.add_key(kid=kid, department=dept.code, cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), created_at=now)
    for old in retiring:
        keys.destroy_key(keys.department_key_path(dept.code, old))
    return kid


def rotate_key(platform: Platform, department_code: str) -> str:
    """Give a department a new signing key; the old one is retired but stays on the trust list,
    so what it signed still verifies. Returns the new key id."""
    dept = registry.find_department(department_code)
    if dept is None:
        raise InvalidInput.single("department", f"no department with code {department_code}")
    return _new_signing_key(platform, dept, platform.keys.root())


def withdraw_key(platform: Platform, kid: str, *, reason: str) -> None:
    """Withdraw a signing key: every licence it signed fails verification, with ``reason``; its
    private half is destroyed (the certificate stays on the trust list, marked withdrawn)."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput.single("reason", "required")
    row = registry.find_key(kid.lower())
    if row is None:
        raise InvalidInput.single("kid", f"no signing key {kid}")
    with transaction():
        registry.withdraw_key(row.kid, at=utcnow(), reason=reason[:200])
    platform.keys.destroy_key(platform.keys.department_key_path(row.department, row.kid))


def add_department(platform: Platform, code: str, name: str, kinds: list[str], *, issue_key: bool = True) -> DepartmentRecord:
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
    if not problems and registry.department_exists(code):
        problems.append(FieldProblem("code", "department already exists"))
    if problems:
        raise InvalidInput(problems)
    with transaction():
        dept = registry.add_department(code=code, name=name.strip(), kinds=kinds, created_at=utcnow())
    if issue_key and kinds:
        ensure_signing_key(platform, dept, platform.keys.root())
    return dept


def has_demo_departments() -> bool:
    codes = [demo_code(first17) for first17, _, _ in DEMO_DEPARTMENTS] + [demo_code(DEMO_WINDOW[0])]
    return registry.any_department(codes)


def list_departments() -> list[dict[str, object]]:
    return [
        {"code": d.code, "name": d.name, "kinds": d.kind_list}
        for d in registry.departments()
    ]
