from pathlib import Path

import pytest

from ember.store import BlobStore, MetadataStore


def test_documents_survive_reopening(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "m.db")
    store.write(puts=[("function", "a", {"x": 1}), ("function", "b", {"x": 2})])
    store.write(deletes=[("function", "a")])
    store.close()
    again = MetadataStore(tmp_path / "m.db")
    assert again.load("function") == {"b": {"x": 2}}


def test_a_failing_batch_leaves_nothing(tmp_path: Path) -> None:
    store = MetadataStore(tmp_path / "m.db")
    store.write(puts=[("function", "a", {"x": 1})])
    with pytest.raises(TypeError):
        store.write(puts=[("function", "b", {"x": 2}), ("function", "c", {"bad": object()})])
    assert store.load("function") == {"a": {"x": 1}}


def test_blobs_are_content_addressed(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(b"hello")
    assert digest == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert blobs.put(b"hello") == digest
    assert blobs.read(digest) == b"hello"
    assert [p.name for p in (tmp_path / "blobs").iterdir()] == [digest]
