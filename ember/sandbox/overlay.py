"""Several read-only folders merged into one, later ones winning, by hard links.

Lambda extracts a function's layers into /opt in order, each over the ones before it. Ember
unpacks each layer once; the merge of a given list is made once (hard links, so it costs
inodes, not bytes) and reused by every environment of every function that uses that list.
bubblewrap 0.8 has no overlayfs, and stacked binds would hide, not merge, earlier layers.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path


def _place_file(source: str, dest: str) -> None:
    if os.path.lexists(dest):
        if os.path.isdir(dest) and not os.path.islink(dest):
            shutil.rmtree(dest)
        else:
            os.unlink(dest)
    if os.path.islink(source):
        os.symlink(os.readlink(source), dest)
        return
    try:
        os.link(source, dest)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            raise
        shutil.copy2(source, dest)


def _merge_into(layer: str, target: str) -> None:
    for folder, dirs, files in os.walk(layer):
        rel = os.path.relpath(folder, layer)
        here = target if rel == "." else os.path.join(target, rel)
        for name in list(dirs):
            source, dest = os.path.join(folder, name), os.path.join(here, name)
            if os.path.islink(source):  # a link to a folder is copied as a link
                dirs.remove(name)
                _place_file(source, dest)
            elif not os.path.isdir(dest) or os.path.islink(dest):
                if os.path.lexists(dest):
                    os.unlink(dest)
                os.mkdir(dest, 0o755)
        for name in files:
            _place_file(os.path.join(folder, name), os.path.join(here, name))


def merged(layers: Sequence[str], root: Path) -> Path:
    """The merge of `layers` (folders, in order) under `root`; made once, then reused.

    Blocking: call off the loop. The folder's name is a hash of the list, so a changed
    list (or a layer's new content, which lives in a new folder) gets a new merge.
    """
    target = location(layers, root)
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=root, prefix=".merge-")
    try:
        for layer in layers:
            _merge_into(layer, tmp)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # another merge of the same list won the race
                raise
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def location(layers: Sequence[str], root: Path) -> Path:
    """Where the merge of `layers` is (or will be) kept: named by a hash of the list."""
    return root / hashlib.sha256("\0".join(layers).encode()).hexdigest()[:32]


def discard(layers: Sequence[str], root: Path) -> Path | None:
    """Take the merge of `layers` out of use at once (one rename: a merge asked for after
    this is made afresh); the folder to remove, off the loop, with `remove`."""
    target = location(layers, root)
    trash = root / f".trash-{uuid.uuid4().hex}"
    try:
        os.rename(target, trash)
    except FileNotFoundError:
        return None
    return trash


def remove(folder: Path) -> None:
    """Delete a discarded merge, or every merge under `root` (at start, before any use).
    Blocking: call off the loop."""
    shutil.rmtree(folder, ignore_errors=True)
