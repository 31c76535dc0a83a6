"""Content-addressed blobs (code and layer zips), each written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ember.errors import ServiceError


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """`<root>/<sha256 hex>`: the name is the content's hash, so a blob never changes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> str:
        """Store `data`; return its hex SHA-256. Blocking: call off the loop."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.is_file():
            return digest
        try:
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            fsync_dir(self.root)
        except OSError as exc:
            raise ServiceError(f"cannot write blob {digest}: {exc}") from exc
        return digest

    def read(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except OSError as exc:
            raise ServiceError(f"cannot read blob {digest}: {exc}") from exc

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)
