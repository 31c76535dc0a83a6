from pathlib import Path

from ember.store import DataLayout


def test_the_layout_keeps_the_names_existing_data_dirs_use(tmp_path: Path) -> None:
    layout = DataLayout.at(tmp_path)
    named = {
        "metadata": "ember.db", "queue": "queue.db", "blobs": "blobs", "code": "code",
        "layers": "layers", "logs": "logs", "opt": "opt", "bin": "bin", "sandbox": "sandbox",
    }  # fmt: skip
    assert {field: getattr(layout, field) for field in named} == {
        field: tmp_path / name for field, name in named.items()
    }
    assert layout.root == tmp_path
    assert layout.code_of("abc") == tmp_path / "code" / "abc"
    assert layout.layer_of("abc") == tmp_path / "layers" / "abc"
