"""The platform PKI and departments as an operator sees them: `init`, `export-root`, `departments`,
key files on disk, encrypted keys, and refusing unsafe keys."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from licence_svc.errors import ConfigurationError, InsecureKeyFile
from tests.helpers import ROOT, cli_in_process

PASSPHRASE = "证照-test-passphrase"

# GB 32100-2015, written from the standard (independent of licence_svc.core.checkdigits).
GB32100_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
GB32100_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

DEMO_KINDS = {
    "公安局": ["id_card", "household_register", "driving_licence"],
    "教育局": ["degree_certificate"],
    "市场监督管理局": ["business_licence"],
}


def gb32100_ok(code: str) -> bool:
    if len(code) != 18 or any(c not in GB32100_ALPHABET for c in code):
        return False
    total = sum(GB32100_ALPHABET.index(c) * w for c, w in zip(code[:17], GB32100_WEIGHTS))
    return GB32100_ALPHABET[(31 - total % 31) % 31] == code[17]


def _snapshot(base: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(base)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in sorted(base.rglob("*")) if p.is_file()}


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


# -- the session platform --------------------------------------------------------------------


@pytest.fixture()
def keys_dir(platform_env: dict[str, str], platform: Any) -> Path:
    return Path(platform_env["LICENCE_KEYS_DIR"])


def test_init_twice_changes_nothing(run_cli: Callable[..., Any], keys_dir: Path) -> None:
    from licence_svc.storage.models import Department, SigningKey

    before = _snapshot(keys_dir)
    rows = (Department.select().count(), SigningKey.select().count())
    proc = run_cli("init", "--demo")
    assert proc.returncode == 0, proc.stderr
    assert "already initialised; nothing changed" in proc.stdout
    assert "created" not in proc.stdout
    assert "lic_" not in proc.stdout  # no new demo tokens
    assert _snapshot(keys_dir) == before
    assert (Department.select().count(), SigningKey.select().count()) == rows


def test_private_keys_are_0600(keys_dir: Path, departments: dict[str, str]) -> None:
    keys = sorted(keys_dir.rglob("*.key"))
    names = {p.name for p in keys}
    assert {"root-ca.key", "tsa.key"} <= names
    for code in set(departments.values()):
        assert list((keys_dir / "departments" / code).glob("*.key")), code
    for path in keys:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_root_certificate(keys_dir: Path) -> None:
    root = _cert(keys_dir / "root-ca.pem")
    assert root.subject == root.issuer
    root.verify_directly_issued_by(root)  # self-signed
    key = root.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1)
    bc = root.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign
    # the private key on disk belongs to this certificate
    private = serialization.load_pem_private_key((keys_dir / "root-ca.key").read_bytes(), password=None)
    assert private.public_key().public_numbers() == key.public_numbers()  # type: ignore[union-attr]


def test_department_certificates(keys_dir: Path, departments: dict[str, str]) -> None:
    from licence_svc.storage.models import SigningKey

    root = _cert(keys_dir / "root-ca.pem")
    for code in set(departments.values()):
        active = SigningKey.get((SigningKey.department == code) & SigningKey.active)
        cert = x509.load_pem_x509_certificate(active.cert_pem.encode("ascii"))
        assert cert.public_bytes(serialization.Encoding.PEM) == (keys_dir / "departments" / code / f"{active.kid}.pem").read_bytes()
        assert cert.issuer == root.subject
        cert.verify_directly_issued_by(root)
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ku.digital_signature and ku.content_commitment
        assert not ku.key_cert_sign
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        org_ids = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)]
        assert any(str(v).endswith(code) for v in org_ids)
        private = serialization.load_pem_private_key((keys_dir / "departments" / code / f"{active.kid}.key").read_bytes(), password=None)
        assert private.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


def test_tsa_certificate(keys_dir: Path) -> None:
    root = _cert(keys_dir / "root-ca.pem")
    tsa = _cert(keys_dir / "tsa.pem")
    tsa.verify_directly_issued_by(root)
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]


def test_export_root_prints_the_root_pem(run_cli: Callable[..., Any], keys_dir: Path) -> None:
    proc = run_cli("export-root")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (keys_dir / "root-ca.pem").read_text(encoding="ascii")
    assert proc.stdout.startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in proc.stdout


def test_departments_json_lists_the_demo_departments(run_cli: Callable[..., Any], platform: Any) -> None:
    """The demo departments are the ones `init --demo` announced with a token; other departments
    (an operator's, or another test's) may be listed beside them."""
    proc = run_cli("departments", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    demo = [r for r in rows if r["code"] in platform.demo_tokens]
    assert len(demo) == len(platform.demo_tokens) == 4  # three issuing departments and one service window
    assert all("演示" in r["name"] for r in demo)
    (window,) = [r for r in demo if "综合窗口" in r["name"]]
    assert window["kinds"] == []  # a window issues nothing
    for row in rows:
        assert len(row["code"]) == 18 and gb32100_ok(row["code"]), row
    for bureau, kinds in DEMO_KINDS.items():
        (match,) = [r for r in demo if bureau in r["name"]]
        assert sorted(match["kinds"]) == sorted(kinds)


def test_reference_gb32100_agrees_on_a_published_code() -> None:
    assert gb32100_ok("91350100M000100Y43")
    assert not gb32100_ok("91350100M000100Y44")


# -- a separate platform with encrypted keys --------------------------------------------------


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`cli.py *args` (in this process) on the platform of ``env``, not the session's."""
    return cli_in_process(*args, env=env)


def _env(base: Path, *, passphrase: str | None) -> dict[str, str]:
    """LICENCE_* and DATABASE_URL of a platform under ``base`` (nothing of the session's)."""
    env = {
        "LICENCE_DATA_DIR": str(base / "var"),
        "LICENCE_KEYS_DIR": str(base / "keys"),
        "DATABASE_URL": f"sqlite:///{base / 'var' / 'sealed.db'}",
        "LICENCE_BASE_URL": "http://127.0.0.1:8000",
    }
    if passphrase is not None:
        env["LICENCE_KEY_PASSPHRASE"] = passphrase
    return env


def _rows(base: Path) -> int:
    with sqlite3.connect(base / "var" / "sealed.db") as conn:
        return int(conn.execute("select count(*) from licence").fetchone()[0])


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform of its own (keys, PDFs, SQLite) initialised with LICENCE_KEY_PASSPHRASE."""
    base = tmp_path_factory.mktemp("sealed")
    proc = _run(_env(base, passphrase=PASSPHRASE), "init", "--demo")
    assert proc.returncode == 0, proc.stderr
    return base


@pytest.fixture(scope="module")
def sealed_police(sealed: Path) -> str:
    proc = _run(_env(sealed, passphrase=PASSPHRASE), "departments", "--json")
    return str(next(r["code"] for r in json.loads(proc.stdout) if "id_card" in r["kinds"]))


def test_passphrase_encrypts_every_private_key(sealed: Path) -> None:
    keys = sorted((sealed / "keys").rglob("*.key"))
    assert len(keys) == 6  # root, TSA, three departments, the platform (signs annotated copies)
    for path in keys:
        pem = path.read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        with pytest.raises((TypeError, ValueError)):
            serialization.load_pem_private_key(pem, password=None)
        serialization.load_pem_private_key(pem, password=PASSPHRASE.encode("utf-8"))


def _issue(sealed: Path, code: str, out: Path, *, passphrase: str | None) -> subprocess.CompletedProcess[str]:
    return _run(
        _env(sealed, passphrase=passphrase),
        "issue", "--kind", "id_card", "--data", str(ROOT / "samples" / "id_card.json"), "--department", code, "--out", str(out),
    )


def test_issuing_with_the_passphrase_works(sealed: Path, sealed_police: str, tmp_path: Path) -> None:
    out = tmp_path / "sealed.pdf"
    proc = _issue(sealed, sealed_police, out, passphrase=PASSPHRASE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("1.2.156.3005.2.")
    sig = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True, timeout=60).stdout
    assert "Signature is Valid" in sig and "Total document signed" in sig


@pytest.mark.parametrize("passphrase", [None, "wrong passphrase"], ids=["without", "wrong"])
def test_issuing_without_the_right_passphrase_fails_clearly(passphrase: str | None, sealed: Path, sealed_police: str, tmp_path: Path) -> None:
    out = tmp_path / "nope.pdf"
    rows = _rows(sealed)
    proc = _issue(sealed, sealed_police, out, passphrase=passphrase)
    assert proc.returncode == 6, proc.stderr
    assert "LICENCE_KEY_PASSPHRASE" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert _rows(sealed) == rows


@pytest.fixture()
def loose_key(sealed: Path) -> Iterator[Path]:
    """One department key made readable by everyone for the duration of a test."""
    path = sorted((sealed / "keys" / "departments").rglob("*.key"))[0]
    os.chmod(path, 0o644)
    try:
        yield path
    finally:
        os.chmod(path, 0o600)


def test_key_readable_by_others_stops_the_platform(loose_key: Path, sealed: Path) -> None:
    from licence_svc.config import Settings
    from licence_svc.services.platform import Platform
    from licence_svc.storage.keystore import KeyStore
    from licence_svc.storage.pdfstore import FileSystemPdfStore

    # Built by hand rather than Platform.open(), which would rebind the session's database.
    settings = Settings.from_env(_env(sealed, passphrase=PASSPHRASE))
    platform = Platform(settings, KeyStore(settings.keys_dir, settings.key_passphrase), FileSystemPdfStore(settings.pdf_dir))
    with pytest.raises(InsecureKeyFile, match=loose_key.name) as info:
        platform.check_ready()
    assert "0644" in str(info.value)


def test_key_readable_by_others_stops_issuing(loose_key: Path, sealed: Path, sealed_police: str, tmp_path: Path) -> None:
    out = tmp_path / "loose.pdf"
    rows = _rows(sealed)
    proc = _issue(sealed, sealed_police, out, passphrase=PASSPHRASE)
    assert proc.returncode == 6, proc.stderr
    assert str(loose_key) in proc.stderr
    assert not out.exists()
    assert _rows(sealed) == rows


# -- replacing keys needs --force ------------------------------------------------------------


def test_write_key_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    from licence_svc.storage.keystore import KeyStore

    store = KeyStore(tmp_path / "keys")
    store.write_key(store.root_key_path, ec.generate_private_key(ec.SECP256R1()))
    original = store.root_key_path.read_bytes()
    with pytest.raises(ConfigurationError, match="--force"):
        store.write_key(store.root_key_path, ec.generate_private_key(ec.SECP256R1()))
    assert store.root_key_path.read_bytes() == original
    store.write_key(store.root_key_path, ec.generate_private_key(ec.SECP256R1()), force=True)
    assert store.root_key_path.read_bytes() != original
    assert stat.S_IMODE(store.root_key_path.stat().st_mode) == 0o600
    assert [p.name for p in store.root_key_path.parent.iterdir()] == ["root-ca.key"]  # no temporary file left


def test_init_force_replaces_the_keys(tmp_path: Path) -> None:
    env = _env(tmp_path, passphrase=None)
    assert _run(env, "init").returncode == 0
    before = _snapshot(tmp_path / "keys")
    proc = _run(env, "init", "--force")
    assert proc.returncode == 0, proc.stderr
    assert "created root CA" in proc.stdout
    after = _snapshot(tmp_path / "keys")
    # the platform's copy-signing key is re-issued under the new root; the retired one keeps its
    # certificate (what it signed still verifies) but its private half is destroyed
    retired = {name for name in before if name.startswith("departments/") and name.endswith(".key")}
    assert retired and not retired & set(after)
    assert {name[:-4] + ".pem" for name in retired} <= set(after)
    assert set(before) - retired <= set(after) and all(name.startswith("departments/") for name in set(after) - set(before))
    for name in ("root-ca.key", "root-ca.pem", "tsa.key", "tsa.pem"):
        assert after[name][0] != before[name][0], name
    assert all(mode == 0o600 for name, (_, mode) in after.items() if name.endswith(".key"))
