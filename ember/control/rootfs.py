"""An OCI image's layers applied, in order, to one root file system folder (blocking).

Each layer is a tar (gzip-compressed or not) applied as the OCI image spec says: entries
replace what lower layers left at the same path, `.wh.<name>` removes `<name>`, and
`.wh..wh..opq` empties its folder of what lower layers put there. What a layer may not
do here, it is refused for (`InvalidImageError`): a path that climbs out (`..`), a hard
link to something outside the root or not a regular file, a layer that does not match its
digest, more than Lambda's 10 GB uncompressed. Device nodes and FIFOs are skipped (an
environment gets its own /dev); setuid and setgid bits are dropped. Symbolic links are
kept as written (inside an environment they resolve against the image's root); while
unpacking, every path is resolved by hand inside the root, so a link never leads a write
outside it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import shutil
import tarfile
import zlib
from pathlib import Path

MAX_UNPACKED = 10 * 1024**3  # Lambda: a container image is at most 10 GB uncompressed
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_MAX_LINKS = 40  # symbolic links followed while resolving one path (as Linux's limit)
_CHUNK = 1 << 20
# What an environment mounts over (or inside) the image's root: bubblewrap cannot create
# mount points in a read-only root, so these exist (empty) in every unpacked root.
MOUNT_DIRS = ("proc", "dev", "tmp", "etc")
MOUNT_FILES = ("etc/passwd", "etc/group", "etc/hosts", "etc/resolv.conf")


class InvalidImageError(Exception):
    """The image cannot be unpacked as it is (Lambda's StateReasonCode InvalidImage)."""


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _relative(name: str) -> list[str]:
    """An entry's path as components below the root; refuses any `..`."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidImageError(f"layer entry {name!r} points outside the image's root")
    return parts


def resolve_inside(root: str, parts: list[str], *, follow_last: bool = False) -> str:
    """The host path of `parts` below `root`, following symbolic links of the image as
    they would resolve with `root` as `/` (never leading out of it). The last component
    is followed only with `follow_last`."""
    done: list[str] = []
    todo = list(parts)
    hops = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = os.path.join(root, *done, part)
        if (todo or follow_last) and os.path.islink(candidate):
            hops += 1
            if hops > _MAX_LINKS:
                raise InvalidImageError("too many levels of symbolic links in the image")
            target = os.readlink(candidate)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        done.append(part)
    return os.path.join(root, *done)


def _clear(path: str) -> None:
    """Remove whatever is at `path` (never following a link)."""
    if os.path.islink(path) or not os.path.isdir(path):
        if os.path.lexists(path):
            os.unlink(path)
    else:
        shutil.rmtree(path)


def _check_compression(media_type: str) -> None:
    if media_type.endswith(("+zstd", ".zstd")):
        raise InvalidImageError(f"layer compression {media_type} is not supported")


class Unpacker:
    """Applies layers to `root`, counting what they unpack against `limit`."""

    def __init__(self, root: Path, *, limit: int = MAX_UNPACKED) -> None:
        self.root = str(root)
        self.limit = limit
        self.unpacked = 0
        os.makedirs(self.root, exist_ok=True)

    def apply(self, layer: Path, media_type: str) -> None:
        """One layer, its blob at `layer` (already checked against its digest)."""
        _check_compression(media_type)
        try:
            # gzip or plain, whatever the media type claims ("r|*" reads either).
            with open(layer, "rb") as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
                for member in tar:
                    self._entry(tar, member)
        except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InvalidImageError(f"layer {layer.name[:12]} is not a valid tar: {exc}") from exc

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = _relative(member.name)
        if not parts:
            return  # the root itself: its metadata stays ours
        parent = resolve_inside(self.root, parts[:-1], follow_last=True)
        name = parts[-1]
        if name == OPAQUE:
            if os.path.isdir(parent) and not os.path.islink(parent):
                for child in os.listdir(parent):
                    _clear(os.path.join(parent, child))
            return
        if name.startswith(WHITEOUT):
            target = os.path.join(parent, name[len(WHITEOUT) :])
            if os.path.lexists(target):
                _clear(target)
            return
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            return  # devices and FIFOs: an environment has its own /dev
        os.makedirs(parent, exist_ok=True)
        target = os.path.join(parent, name)
        mode = member.mode & 0o1777  # no setuid, no setgid
        if member.isdir():
            if os.path.lexists(target) and not (
                os.path.isdir(target) and not os.path.islink(target)
            ):
                _clear(target)
            os.makedirs(target, exist_ok=True)
            os.chmod(target, mode | 0o700)
            return
        if os.path.lexists(target):
            _clear(target)
        if member.issym():
            os.symlink(member.linkname, target)
        elif member.islnk():
            source = resolve_inside(self.root, _relative(member.linkname))
            if not os.path.isfile(source) or os.path.islink(source):
                raise InvalidImageError(f"hard link {member.name!r} to a missing file")
            os.link(source, target, follow_symlinks=False)
        else:
            self._count(member.size)
            extracted = tar.extractfile(member)
            if extracted is None:
                raise InvalidImageError(f"layer entry {member.name!r} cannot be read")
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(extracted, out, _CHUNK)
            os.chmod(target, mode)

    def _count(self, size: int) -> None:
        self.unpacked += size
        if self.unpacked > self.limit:
            raise InvalidImageError(
                f"the image is larger than {self.limit} bytes uncompressed (Lambda's limit)"
            )

    def add_mount_points(self) -> None:
        """Empty folders and files where an environment mounts its own (see MOUNT_DIRS):
        a link there (say /etc/resolv.conf -> /run/...) is replaced by an empty file."""
        for folder in MOUNT_DIRS:
            path = resolve_inside(self.root, _relative(folder), follow_last=True)
            if not os.path.isdir(path):
                if os.path.lexists(path):
                    _clear(path)
                os.makedirs(path, exist_ok=True)
        for file in MOUNT_FILES:
            folder = resolve_inside(self.root, _relative(posixpath.dirname(file)))
            path = os.path.join(folder, posixpath.basename(file))
            if os.path.islink(path) or (os.path.lexists(path) and not os.path.isfile(path)):
                _clear(path)
            if not os.path.lexists(path):
                with open(path, "wb"):
                    pass
                os.chmod(path, 0o644)
