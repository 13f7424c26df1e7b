"""Private keys and certificates on disk: 0600 files, encrypted when a passphrase is set.

Keys are never overwritten unless the caller says ``force``; a key readable by group or others
is refused, so a mis-deployed service fails at start instead of leaking.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..core.pki import Credentials
from ..errors import ConfigurationError, InsecureKeyFile

PrivateKey = Union[ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey]


class KeyStore:
    """The layout of ``keys/``: root CA, time-stamping key, and one folder per department."""

    def __init__(self, base: Path, passphrase: bytes | None = None) -> None:
        self.base = base
        self._passphrase = passphrase

    @property
    def root_key_path(self) -> Path:
        return self.base / "root-ca.key"

    @property
    def root_cert_path(self) -> Path:
        return self.base / "root-ca.pem"

    @property
    def tsa_key_path(self) -> Path:
        return self.base / "tsa.key"

    @property
    def tsa_cert_path(self) -> Path:
        return self.base / "tsa.pem"

    def department_key_path(self, code: str, kid_hex: str) -> Path:
        return self.base / "departments" / code / f"{kid_hex}.key"

    def department_cert_path(self, code: str, kid_hex: str) -> Path:
        return self.base / "departments" / code / f"{kid_hex}.pem"

    def has_root(self) -> bool:
        return self.root_key_path.exists() and self.root_cert_path.exists()

    def has_tsa(self) -> bool:
        return self.tsa_key_path.exists() and self.tsa_cert_path.exists()

    # -- writing -------------------------------------------------------------------------------

    def write_key(self, path: Path, key: PrivateKey, *, force: bool = False) -> None:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        os.chmod(self.base, 0o700)
        if force:
            tmp = path.with_suffix(".key.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise ConfigurationError(f"{path} exists; refusing to overwrite a private key without --force") from exc
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())

    def write_cert(self, path: Path, cert: x509.Certificate) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".pem.tmp")
        tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        os.replace(tmp, path)

    def destroy_key(self, path: Path) -> bool:
        """Overwrite and delete a private key that must never sign again (a retired or withdrawn
        department key); its certificate stays, so what it signed before still verifies. Returns
        whether there was a key to destroy. Overwriting is best effort on journalling or
        copy-on-write file systems, which is why keys should also be encrypted at rest."""
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            return False
        with os.fdopen(fd, "r+b") as fh:
            size = os.fstat(fh.fileno()).st_size
            fh.write(os.urandom(size))
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
        return True

    # -- reading -------------------------------------------------------------------------------

    def read_key(self, path: Path) -> PrivateKey:
        check_key_file(path)
        data = path.read_bytes()
        encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
        if encrypted and not self._passphrase:
            raise ConfigurationError(f"{path.name} is encrypted: set LICENCE_KEY_PASSPHRASE")
        try:
            key = serialization.load_pem_private_key(data, password=self._passphrase if encrypted else None)
        except ValueError as exc:
            raise ConfigurationError(f"{path.name} cannot be decrypted with LICENCE_KEY_PASSPHRASE") from exc
        if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
            raise ConfigurationError(f"{path.name} holds an unsupported key type")
        return key

    @staticmethod
    def read_cert(path: Path) -> x509.Certificate:
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except FileNotFoundError as exc:
            raise ConfigurationError(f"{path} is missing: run `python cli.py init`") from exc

    def root_cert(self) -> x509.Certificate:
        return self.read_cert(self.root_cert_path)

    def root(self) -> Credentials:
        return Credentials(self.read_key(self.root_key_path), self.root_cert())

    def tsa(self) -> Credentials:
        return Credentials(self.read_key(self.tsa_key_path), self.read_cert(self.tsa_cert_path))

    def department(self, code: str, kid_hex: str, cert: x509.Certificate) -> Credentials:
        return Credentials(self.read_key(self.department_key_path(code, kid_hex)), cert)

    def check_permissions(self) -> None:
        """Refuse to run when any private key under keys/ is readable by group or others."""
        if not self.base.exists():
            return
        for path in self.base.rglob("*.key"):
            check_key_file(path)


def check_key_file(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ConfigurationError(f"private key {path} is missing: run `python cli.py init`") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecureKeyFile(f"private key {path} has mode {stat.S_IMODE(mode):04o}; it must be 0600 (chmod 600)")
