"""The PDF is on disk, name included, before the record naming it commits: the file is synced,
renamed into place, then its folder (and every folder created for it) is synced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from licence_svc.storage import pdfstore
from licence_svc.storage.pdfstore import FileSystemPdfStore, pdf_key

IDENTIFIER = "1.2.156.3005.2.11100000000019000B001.11110000000019001J.4ASTYT74343L6SSL.001.H"


def _journal(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What put does to the disk, in order: file syncs, renames, folder syncs."""
    done: list[tuple[str, str]] = []
    fsync, rename, sync_folder = os.fsync, os.replace, pdfstore._sync_folder

    def record_fsync(fd: int) -> None:
        done.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def record_rename(src: str | Path, dst: str | Path) -> None:
        done.append(("rename", str(dst)))
        rename(src, dst)

    def record_folder(folder: Path) -> None:
        done.append(("folder", str(folder)))
        sync_folder(folder)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "replace", record_rename)
    monkeypatch.setattr(pdfstore, "_sync_folder", record_folder)
    return done


def test_the_file_then_its_name_then_new_folders_are_synced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileSystemPdfStore(tmp_path / "pdfs")
    done = _journal(monkeypatch)
    key = pdf_key(IDENTIFIER)
    path = (tmp_path / "pdfs" / key).resolve()
    store.put(key, b"%PDF-1")
    shard, top, base = path.parent, path.parent.parent, path.parent.parent.parent
    file_synced = [d for d in done if d[0] == "fsync"]
    assert file_synced and file_synced[0][1].endswith(".pdf.tmp")  # the data, before it has its name
    order = [d for d in done if d[0] != "fsync" or d[1].endswith(".tmp")]
    assert order[0][0] == "fsync" and order[1] == ("rename", str(path))
    assert [d[1] for d in done if d[0] == "folder"] == [str(shard), str(top), str(base), str(base.parent)]
    assert path.read_bytes() == b"%PDF-1"

    done.clear()
    other = pdf_key(IDENTIFIER[:-1] + "J")
    store.put(other, b"%PDF-2")  # another shard under an existing base: its folders are new
    new_shard = (tmp_path / "pdfs" / other).resolve().parent
    assert [d[1] for d in done if d[0] == "folder"][0] == str(new_shard)

    done.clear()
    store.put(key, b"%PDF-3")  # the same folder again: only the name's folder is synced
    assert [d[1] for d in done if d[0] == "folder"] == [str(shard)]
    assert store.get(key) == b"%PDF-3"


def test_a_failed_folder_sync_fails_the_put(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record must not commit when the name may not be on disk: the error reaches the caller."""
    store = FileSystemPdfStore(tmp_path / "pdfs")

    def broken(folder: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(pdfstore, "_sync_folder", broken)
    with pytest.raises(OSError, match="Input/output"):
        store.put(pdf_key(IDENTIFIER), b"%PDF-1")
