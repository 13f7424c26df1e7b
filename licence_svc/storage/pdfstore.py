"""Where licence PDFs live. The filesystem store is the default; anything with the same three
methods (an S3-compatible bucket, say) can replace it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol


class PdfStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


def pdf_key(identifier: str) -> str:
    """Shard by a hash of the identifier: 65,536 folders keep each to a few thousand files at 10^8 licences."""
    h = hashlib.sha256(identifier.encode("ascii")).hexdigest()
    return f"{h[:2]}/{h[2:4]}/{identifier}.pdf"


class FileSystemPdfStore:
    def __init__(self, base: Path) -> None:
        self.base = base
        self._root: Path | None = None  # the base resolved, once: resolving costs a system call per path component

    def _path(self, key: str) -> Path:
        if self._root is None:
            self._root = self.base.resolve()
        path = (self._root / key).resolve()  # symbolic links followed: one out of the base is refused too
        if self._root not in path.parents:
            raise ValueError("key escapes the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write atomically and durably: a crash leaves either the whole file or none, and once
        this returns the file and its name are on disk (the file, then its folder, synced), so the
        record naming it may commit: a power failure cannot leave a record without its PDF."""
        path = self._path(key)
        created = _make_folders(path.parent)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a failed write leaves nothing half-written behind
            raise
        for folder in dict.fromkeys([path.parent, *(c.parent for c in created)]):  # the new name, new folders' names
            _sync_folder(folder)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the folders created (each is a new entry of
    its parent, to be synced too). Usually one stat: the folder exists."""
    missing: list[Path] = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        created.mkdir(exist_ok=True)  # a concurrent writer may create it first
    return missing


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
