"""Merging layer folders: later ones win, made once per list."""

from __future__ import annotations

import os
from pathlib import Path

from ember.sandbox.overlay import merged


def _folder(root: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def test_later_layers_overwrite_earlier_files(tmp_path: Path) -> None:
    one = _folder(tmp_path / "one", {"python/shared.py": "1", "python/a.py": "a", "bin/x": "x"})
    two = _folder(tmp_path / "two", {"python/shared.py": "2", "python/b.py": "b"})
    out = merged([one, two], tmp_path / "opt")
    assert (out / "python/shared.py").read_text() == "2"
    assert (out / "python/a.py").read_text() == "a"
    assert (out / "python/b.py").read_text() == "b"
    assert (out / "bin/x").read_text() == "x"
    # Hard links: the merge costs inodes, not a copy of the bytes.
    assert os.stat(out / "python/a.py").st_ino == os.stat(tmp_path / "one/python/a.py").st_ino
    reversed_out = merged([two, one], tmp_path / "opt")
    assert reversed_out != out
    assert (reversed_out / "python/shared.py").read_text() == "1"


def test_a_file_replaces_a_folder_and_links_stay_links(tmp_path: Path) -> None:
    one = _folder(tmp_path / "one", {"lib/thing/inner.txt": "i"})
    two = _folder(tmp_path / "two", {"lib/thing": "now a file"})
    (tmp_path / "two" / "lib" / "link").symlink_to("thing")
    out = merged([one, two], tmp_path / "opt")
    assert (out / "lib/thing").read_text() == "now a file"
    assert os.readlink(out / "lib/link") == "thing"


def test_the_same_list_is_merged_once(tmp_path: Path) -> None:
    one = _folder(tmp_path / "one", {"f": "1"})
    out = merged([one], tmp_path / "opt")
    (out / "marker").write_text("kept")
    assert merged([one], tmp_path / "opt") == out
    assert (out / "marker").read_text() == "kept"
    assert [p.name for p in (tmp_path / "opt").iterdir()] == [out.name]  # no temp folders left
