"""Deployment packages: check a zip as Lambda does and unpack it safely, once per digest.

What a zip may hold (function code and layers alike); anything else is refused with
InvalidParameterValueException before anything is stored:
- at most MAX_ENTRIES entries, counted on the central directory's bytes before zipfile
  builds an object per entry;
- names: relative, no `..`, no NUL, no backslash, each part at most 255 bytes, the whole at
  most 4,096 bytes and MAX_DEPTH parts; no name twice, nothing under a file or a symlink;
- symlinks whose targets stay inside the folder, resolved part by part through the links
  the archive itself defines (as the kernel would resolve them once unpacked);
- contents that really decompress to their declared sizes with their CRCs, 250 MB in all.
Unpacked files get 0644, or 0755 when the zip marks them executable; folders 0755.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import os
import shutil
import stat
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from ember.errors import InvalidParameterValueError, RequestEntityTooLargeError

MAX_ZIPPED = 52_428_800  # Lambda: 50 MB for a direct upload
MAX_UNZIPPED = 262_144_000  # Lambda: 250 MB, code and layers together
# Lambda documents no entry limit. The classic zip format's own (65,535; more needs Zip64)
# keeps inspection near 0.3 s and 40 MB and an unpack to seconds; real packages, even
# unbundled node_modules, stay well below it.
MAX_ENTRIES = 65_535
MAX_DEPTH = 128  # parts in one name: deep enough for nested node_modules
MAX_NAME_PART = 255  # bytes: Linux's NAME_MAX
MAX_NAME = 4096  # bytes: Linux's PATH_MAX
_MAX_LINK = 4096  # longest symlink target accepted (PATH_MAX)
_MAX_HOPS = 40  # links followed while resolving one target (Linux's MAXSYMLINKS)
# Parts visited while resolving every link of one archive: a budget, so that thousands of
# long, chained targets cannot make inspection slow.
_RESOLVE_BUDGET = 1_000_000
_CHUNK = 1 << 20  # bytes decompressed at a time
_UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."

# End of central directory records (APPNOTE 4.3.16, 4.3.14, 4.3.15).
_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL_HEADER = b"PK\x01\x02"


@dataclasses.dataclass(frozen=True, slots=True)
class CodeInfo:
    digest: str  # hex SHA-256: the blob's and the unpacked folder's name
    sha256_b64: str  # what AWS calls CodeSha256
    size: int
    unzipped_size: int


@dataclasses.dataclass(frozen=True, slots=True)
class _Entry:
    info: zipfile.ZipInfo
    path: str  # normalised: parts joined by "/", no ".", no trailing "/"
    kind: int  # stat.S_IFDIR, S_IFREG or S_IFLNK


def _bad_zip(detail: str) -> InvalidParameterValueError:
    return InvalidParameterValueError(f"{_UNZIP_FAILED} ({detail})")


def _too_big() -> InvalidParameterValueError:
    return InvalidParameterValueError(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")


def inspect_zip(data: bytes) -> CodeInfo:
    """Check sizes, names, symlinks and contents without writing anything, so that
    CreateFunction, UpdateFunctionCode and PublishLayerVersion refuse a bad zip at once."""
    if len(data) > MAX_ZIPPED:
        raise RequestEntityTooLargeError(f"Zipped size must be smaller than {MAX_ZIPPED} bytes")
    with _open(data) as archive:
        entries = _check(archive)
        total = sum(e.info.file_size for e in entries)
        for entry in entries:
            if entry.kind == stat.S_IFREG:
                for _ in _contents(archive, entry):
                    pass  # decompressed and CRC-checked, kept nowhere
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
        with _open(data) as archive:
            _extract(archive, _check(archive), tmp)
        tmp.chmod(0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # someone else won the race: theirs is identical
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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


# -- reading ------------------------------------------------------------------------


def _open(data: bytes) -> zipfile.ZipFile:
    count = _central_directory_entries(data)
    if count is not None and count > MAX_ENTRIES:
        raise _bad_zip(f"more than {MAX_ENTRIES} entries")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise InvalidParameterValueError(_UNZIP_FAILED) from None
    if len(archive.infolist()) > MAX_ENTRIES:  # cannot happen after the count; kept as a guard
        archive.close()
        raise _bad_zip(f"more than {MAX_ENTRIES} entries")
    return archive


def _central_directory_entries(data: bytes) -> int | None:
    """How many central directory headers the bytes zipfile will read hold (an upper bound:
    a name may contain the signature); None without an end record (zipfile refuses it)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - _EOCD.size - 0xFFFF))
    if end < 0 or end + _EOCD.size > len(data):
        return None
    size = _EOCD.unpack_from(data, end)[5]
    # As zipfile reads it: a Zip64 end record sits right before its locator, before ours.
    locator = end - _ZIP64_LOCATOR_SIZE
    record = locator - _ZIP64_EOCD.size
    zip64 = data[locator : locator + 4] == b"PK\x06\x07"
    if record >= 0 and zip64 and data[record : record + 4] == b"PK\x06\x06":
        size = _ZIP64_EOCD.unpack_from(data, record)[8]
        end = record
    return data.count(_CENTRAL_HEADER, max(0, end - size), end)


def _contents(archive: zipfile.ZipFile, entry: _Entry) -> Iterator[bytes]:
    """The entry's bytes in chunks; refused if they are not what its header says."""
    left = entry.info.file_size
    try:
        with archive.open(entry.info) as stream:  # stops at file_size, checks the CRC
            while chunk := stream.read(_CHUNK):
                left -= len(chunk)
                yield chunk
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise _bad_zip(f"entry {entry.info.filename!r}: {exc}") from None
    except (OSError, ValueError, EOFError, RuntimeError):
        # zlib/bz2/lzma errors, encrypted entries: the same refusal, without their text.
        raise _bad_zip(f"entry {entry.info.filename!r} cannot be read") from None
    if left != 0:
        raise _bad_zip(f"entry {entry.info.filename!r} is shorter than its header says")


# -- checking -----------------------------------------------------------------------


def _check(archive: zipfile.ZipFile) -> list[_Entry]:
    """Every entry normalised and checked; the whole archive refused at the first fault."""
    entries: list[_Entry] = []
    kinds: dict[str, int] = {}  # normalised path -> kind, for duplicates and links
    total = 0
    for info in archive.infolist():
        path = _normalise(info.orig_filename)
        mode = (info.external_attr >> 16) & 0o177777
        kind = (
            stat.S_IFDIR
            if info.is_dir() or stat.S_ISDIR(mode)
            else stat.S_IFLNK
            if stat.S_ISLNK(mode)
            else stat.S_IFREG
        )
        if not path:
            if kind == stat.S_IFDIR:  # "./": the folder itself
                continue
            raise _bad_zip(f"entry {info.orig_filename!r} has no name")
        if path in kinds:
            raise _bad_zip(f"entry {path!r} appears more than once")
        kinds[path] = kind
        total += info.file_size
        entries.append(_Entry(info, path, kind))
    if total > MAX_UNZIPPED:
        raise _too_big()
    links = {e.path: _link_target(archive, e) for e in entries if e.kind == stat.S_IFLNK}
    _Resolver(links).check_all()
    for entry in entries:
        # Nothing is unpacked under a file or through a symlink: every parent is a folder.
        parent = entry.path.rpartition("/")[0]
        while parent:
            if kinds.get(parent, stat.S_IFDIR) != stat.S_IFDIR:
                raise _bad_zip(f"entry {entry.path!r} lies under a file or symlink {parent!r}")
            parent = parent.rpartition("/")[0]
    return entries


def _normalise(name: str) -> str:
    if "\0" in name:
        raise _bad_zip(f"entry {name!r} has a NUL in its name")
    if "\\" in name:
        raise _bad_zip(f"entry {name!r} has a backslash in its name (use '/' between folders)")
    if name.startswith("/"):
        raise _bad_zip(f"entry {name!r} points outside the function's folder")
    encoded = len(name.encode("utf-8", "surrogateescape"))
    if encoded > MAX_NAME:
        raise _bad_zip(f"entry {name[:64]!r}... has a name longer than {MAX_NAME} bytes")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _bad_zip(f"entry {name!r} points outside the function's folder")
    if len(parts) > MAX_DEPTH:
        raise _bad_zip(f"entry {name[:64]!r}... is more than {MAX_DEPTH} folders deep")
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_PART:
            raise _bad_zip(f"entry {name[:64]!r}... has a part longer than {MAX_NAME_PART} bytes")
    return "/".join(parts)


def _link_target(archive: zipfile.ZipFile, entry: _Entry) -> str:
    if entry.info.file_size > _MAX_LINK:
        raise _bad_zip(f"symlink {entry.path!r} has a target longer than {_MAX_LINK} bytes")
    target = b"".join(_contents(archive, entry))
    if not target or b"\0" in target:
        raise _bad_zip(f"symlink {entry.path!r} has an empty or invalid target")
    return target.decode("utf-8", "surrogateescape")


class _Resolver:
    """Resolves link targets part by part, as the kernel will once they are unpacked: a
    `..` after a link climbs from where the link points, not from where it sits (so
    `a -> x/y` then `b -> a/../..` is caught, which normalising the text alone misses)."""

    def __init__(self, links: dict[str, str]) -> None:
        self._links = links  # normalised path of the link -> its target text
        self._budget = _RESOLVE_BUDGET

    def check_all(self) -> None:
        for path, target in self._links.items():
            hops = [0]
            # Where the link sits may itself run through links (refused later, as nothing
            # may lie under a link; resolved here so that the message says where it leads).
            folder = self._resolve(path, [], path.rpartition("/")[0], hops)
            self._resolve(path, folder, target, hops)

    def _resolve(self, link: str, folder: list[str], target: str, hops: list[int]) -> list[str]:
        """The parts of `target` resolved from `folder`; refused if it leaves the root."""
        if target.startswith("/"):
            raise _bad_zip(f"symlink {link!r} points outside the function's folder")
        here = list(folder)
        for part in target.split("/"):
            self._budget -= 1
            if self._budget < 0:
                raise _bad_zip("symlinks too many or too long to check")
            if part in ("", "."):
                continue
            if part == "..":
                if not here:
                    raise _bad_zip(f"symlink {link!r} points outside the function's folder")
                here.pop()
                continue
            here.append(part)
            through = self._links.get("/".join(here))
            if through is not None:
                hops[0] += 1
                if hops[0] > _MAX_HOPS:
                    raise _bad_zip(f"symlink {link!r}: too many levels of symbolic links")
                here = self._resolve(link, here[:-1], through, hops)
        return here


# -- writing ------------------------------------------------------------------------


def _extract(archive: zipfile.ZipFile, entries: list[_Entry], root: Path) -> None:
    """Write checked entries under `root`: no entry lies under a link (checked), and files
    are created with O_EXCL | O_NOFOLLOW, so nothing written ever follows a link."""
    made = {""}  # folders that exist, as normalised paths
    written = 0
    for entry in entries:
        parent = entry.path.rpartition("/")[0]
        _make_folders(root, parent, made)
        dest = os.path.join(root, entry.path)
        if entry.kind == stat.S_IFDIR:
            _make_folders(root, entry.path, made)
        elif entry.kind == stat.S_IFLNK:
            os.symlink(_link_target(archive, entry), dest)
        else:
            mode = (entry.info.external_attr >> 16) & 0o111
            # Lambda's modes: readable by the runtime's user, never writable by others.
            perms = 0o755 if mode else 0o644
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perms)
            try:
                os.fchmod(fd, perms)  # whatever the umask
                for chunk in _contents(archive, entry):
                    written += len(chunk)
                    if written > MAX_UNZIPPED:  # cannot pass the checks above; kept as a guard
                        raise _too_big()
                    _write_all(fd, chunk)
            finally:
                os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _make_folders(root: Path, path: str, made: set[str]) -> None:
    if path in made:
        return
    parent = path.rpartition("/")[0]
    _make_folders(root, parent, made)
    folder = os.path.join(root, path)
    os.mkdir(folder, 0o755)
    os.chmod(folder, 0o755)  # whatever the umask; just made, so not a link
    made.add(path)
