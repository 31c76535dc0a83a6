"""Deployment packages: check a zip as Lambda does and unpack it safely, once per digest."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ember.errors import InvalidParameterValueError, RequestEntityTooLargeError

MAX_ZIPPED = 52_428_800  # Lambda: 50 MB for a direct upload
MAX_UNZIPPED = 262_144_000  # Lambda: 250 MB, code and layers together
_UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
_MAX_LINK = 4096  # longest symlink target accepted (Linux's PATH_MAX)
_VIRTUAL_ROOT = PurePosixPath("/r")  # stands for the function's folder when checking names


@dataclasses.dataclass(frozen=True, slots=True)
class CodeInfo:
    digest: str  # hex SHA-256: the blob's and the unpacked folder's name
    sha256_b64: str  # what AWS calls CodeSha256
    size: int
    unzipped_size: int


def _bad_zip(detail: str) -> InvalidParameterValueError:
    return InvalidParameterValueError(f"{_UNZIP_FAILED} ({detail})")


def _safe_member_path(name: str) -> PurePosixPath:
    """Refuse names that would land outside the function's folder."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or name.startswith("/"):
        raise _bad_zip(f"entry {name!r} points outside the function's folder")
    return path


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK((info.external_attr >> 16) & 0o177777)


def _link_escapes(base: str, target: str, root: str) -> bool:
    """Whether a link in folder `base` pointing at `target` leaves `root` (or is `root`)."""
    if os.path.isabs(target):
        return True
    resolved = os.path.normpath(os.path.join(base, target))
    return not resolved.startswith(root + os.sep)


def inspect_zip(data: bytes) -> CodeInfo:
    """Check size limits, every entry's name and every symlink's target without unpacking,
    so that CreateFunction and UpdateFunctionCode refuse such a zip before storing it."""
    if len(data) > MAX_ZIPPED:
        raise RequestEntityTooLargeError(f"Zipped size must be smaller than {MAX_ZIPPED} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            links = {
                info.filename: archive.read(info).decode("utf-8", "replace")
                for info in infos
                if _is_symlink(info) and info.file_size <= _MAX_LINK
            }
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise InvalidParameterValueError(_UNZIP_FAILED) from None
    total = 0
    for info in infos:
        rel = _safe_member_path(info.filename)
        if _is_symlink(info):
            target = links.get(info.filename)
            # Checked on the names alone here; unpacking checks again on the real paths.
            if target is None or _link_escapes(str(_VIRTUAL_ROOT / rel.parent), target, "/r"):
                raise _bad_zip(f"symlink {str(rel)!r} points outside the function's folder")
        total += info.file_size
    if total > MAX_UNZIPPED:
        raise InvalidParameterValueError(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
    digest = hashlib.sha256(data).digest()
    return CodeInfo(
        digest=digest.hex(),
        sha256_b64=base64.b64encode(digest).decode(),
        size=len(data),
        unzipped_size=total,
    )


def unpack(data: bytes, target: Path) -> None:
    """Unpack into `target` atomically (a temp folder renamed into place)."""
    if target.is_dir():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        _extract_all(data, tmp)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # someone else won the race: theirs is identical
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _extract_all(data: bytes, root: Path) -> None:
    written = 0
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise InvalidParameterValueError(_UNZIP_FAILED) from None
    real_root = os.path.realpath(root)
    with archive:
        for info in archive.infolist():
            rel = _safe_member_path(info.filename)
            if not rel.parts:  # "./": the folder itself
                continue
            dest = root.joinpath(*rel.parts)
            # A symlink unpacked earlier may sit on this entry's path: where it really lands
            # must still be inside the folder.
            if _link_escapes(os.path.realpath(dest.parent), rel.name, real_root):
                raise _bad_zip(f"entry {info.filename!r} points outside the function's folder")
            mode = (info.external_attr >> 16) & 0o177777
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                content = archive.read(info)  # verifies the CRC
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise _bad_zip(f"entry {info.filename!r}: {exc}") from None
            written += len(content)
            if written > MAX_UNZIPPED:  # the header's sizes may lie
                raise InvalidParameterValueError(
                    f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
                )
            if stat.S_ISLNK(mode):
                _make_symlink(dest, rel, content.decode("utf-8", "replace"), real_root)
                continue
            dest.write_bytes(content)
            perms = mode & 0o777
            # Lambda keeps execute bits (a `bootstrap` must stay executable) and makes
            # everything readable by the runtime's user.
            dest.chmod((perms | 0o444) if perms else 0o644)


def _make_symlink(link: Path, rel: PurePosixPath, target: str, real_root: str) -> None:
    # Resolved from the link's real folder: `a/b/d -> ..` then `a/b/d/l -> ../..` looks
    # inside by its names but lands above the folder.
    if _link_escapes(os.path.realpath(link.parent), target, real_root):
        raise _bad_zip(f"symlink {str(rel)!r} points outside the function's folder")
    link.symlink_to(target)


def zip_folder(folder: Path) -> bytes:
    """A deployment package of `folder`, as `cd folder && zip -r` makes it."""
    buffer = io.BytesIO()
    skip_dirs = {"__pycache__", ".git", ".venv"}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in skip_dirs)
            for name in sorted(files):
                path = Path(root) / name
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
