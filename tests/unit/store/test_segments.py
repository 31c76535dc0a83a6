"""Segment files: layout, long names, reloading, the flat layout of earlier versions."""

from __future__ import annotations

from pathlib import Path

from ember.store.segments import SegmentFiles


def test_written_segments_load_back(tmp_path: Path) -> None:
    files = SegmentFiles(tmp_path)
    files.create_folder("/aws/lambda/f", 10)
    files.create_stream("/aws/lambda/f", "2026/01/01/[$LATEST]x", 11)
    files.append("/aws/lambda/f", "2026/01/01/[$LATEST]x", 0, b'{"t": 5, "m": "a"}\n')
    files.append("/aws/lambda/f", "2026/01/01/[$LATEST]x", 1, b'{"t": 6, "m": "b"}\n')
    files.close()
    (folder,) = SegmentFiles(tmp_path).load().values()
    assert (folder.name, folder.created) == ("/aws/lambda/f", 10)
    (stream,) = folder.streams.values()
    assert (stream.name, stream.created) == ("2026/01/01/[$LATEST]x", 11)
    assert [(s.number, s.first) for s in stream.segments] == [(0, 5), (1, 6)]
    assert files.read("/aws/lambda/f", stream.name, 1) == b'{"t": 6, "m": "b"}\n'


def test_names_too_long_for_a_file_name(tmp_path: Path) -> None:
    files = SegmentFiles(tmp_path)
    group, stream = "/" + "g" * 511, "é" * 512
    files.create_folder(group, 1)
    files.create_stream(group, stream, 2)
    files.append(group, stream, 0, b'{"t": 1, "m": "x"}\n')
    files.close()
    loaded = SegmentFiles(tmp_path).load()
    assert list(loaded[group].streams) == [stream]
    files.remove_folder(group)
    assert list(tmp_path.iterdir()) == []


def test_the_flat_layout_is_moved_into_segments(tmp_path: Path) -> None:
    old = tmp_path / "%2Faws%2Flambda%2Ff"
    old.mkdir()
    (old / "s%2F1.jsonl").write_bytes(b'{"t": 3, "m": "old"}\n')
    (folder,) = SegmentFiles(tmp_path).load().values()
    assert folder.name == "/aws/lambda/f"
    assert [s.first for s in folder.streams["s/1"].segments] == [3]
