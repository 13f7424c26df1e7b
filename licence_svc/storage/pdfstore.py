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

    def _path(self, key: str) -> Path:
        path = (self.base / key).resolve()
        if self.base.resolve() not in path.parents:
            raise ValueError("key escapes the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        """Write atomically and durably: a crash leaves either the whole file or none."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
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

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
