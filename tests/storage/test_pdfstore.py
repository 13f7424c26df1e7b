"""The filesystem PDF store: round trip, atomic writes, keys confined to the base folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from licence_svc.storage.pdfstore import FileSystemPdfStore, pdf_key

IDENTIFIER = "1.2.156.3005.2.11100000000019000B001.11110000000019001J.4ASTYT74343L6SSL.001.H"


@pytest.fixture()
def store(tmp_path: Path) -> FileSystemPdfStore:
    return FileSystemPdfStore(tmp_path / "pdfs")


def _files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def test_put_get_delete_round_trip(store: FileSystemPdfStore) -> None:
    key = pdf_key(IDENTIFIER)
    data = b"%PDF-1.7\n" + bytes(range(256)) * 40
    store.put(key, data)
    assert store.get(key) == data
    assert (store.base / key).read_bytes() == data
    store.put(key, b"%PDF-1.7\nreplaced")
    assert store.get(key) == b"%PDF-1.7\nreplaced"
    store.delete(key)
    with pytest.raises(FileNotFoundError):
        store.get(key)
    store.delete(key)  # deleting twice is fine
    assert _files(store.base) == []


def test_key_is_sharded_by_a_hash_of_the_identifier() -> None:
    key = pdf_key(IDENTIFIER)
    first, second, name = key.split("/")
    assert len(first) == len(second) == 2 and all(c in "0123456789abcdef" for c in first + second)
    assert name == f"{IDENTIFIER}.pdf"
    assert pdf_key(IDENTIFIER) == key  # stable
    assert pdf_key(IDENTIFIER[:-1] + "J") != key


def test_atomic_write_leaves_no_temporary_file(store: FileSystemPdfStore) -> None:
    for i in range(5):
        store.put(pdf_key(f"{IDENTIFIER}{i}"), b"%PDF-" + bytes([i]) * 1000)
    files = _files(store.base)
    assert len(files) == 5
    assert not [p for p in files if p.name.endswith(".tmp") or not p.name.endswith(".pdf")]


def test_failed_write_keeps_the_previous_file(store: FileSystemPdfStore, monkeypatch: pytest.MonkeyPatch) -> None:
    key = pdf_key(IDENTIFIER)
    store.put(key, b"%PDF-old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        store.put(key, b"%PDF-new but never complete")
    monkeypatch.undo()
    assert store.get(key) == b"%PDF-old"


def test_failed_write_leaves_no_temporary_file(store: FileSystemPdfStore, monkeypatch: pytest.MonkeyPatch) -> None:
    key = pdf_key(IDENTIFIER)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        store.put(key, b"%PDF-never complete")
    monkeypatch.undo()
    assert _files(store.base) == []


@pytest.mark.parametrize("key", ["../x", "../pdfs-evil/x.pdf", "ab/../../x.pdf", "/etc/passwd", "", "."])
def test_keys_escaping_the_base_are_refused(key: str, store: FileSystemPdfStore, tmp_path: Path) -> None:
    store.base.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "x"
    outside.write_bytes(b"outside")
    with pytest.raises(ValueError, match="escapes"):
        store.put(key, b"%PDF-evil")
    with pytest.raises(ValueError, match="escapes"):
        store.get(key)
    with pytest.raises(ValueError, match="escapes"):
        store.delete(key)
    assert outside.read_bytes() == b"outside"
    assert not (tmp_path / "pdfs-evil").exists()


def test_symlink_out_of_the_base_is_refused(store: FileSystemPdfStore, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    store.base.mkdir(parents=True)
    (store.base / "ab").symlink_to(elsewhere)
    with pytest.raises(ValueError, match="escapes"):
        store.put("ab/x.pdf", b"%PDF-evil")
    assert list(elsewhere.iterdir()) == []
