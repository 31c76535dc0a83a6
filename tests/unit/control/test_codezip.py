import io
import stat
import zipfile
from pathlib import Path

import pytest

from ember.control import codezip
from ember.errors import InvalidParameterValueError, RequestEntityTooLargeError


def _zip(entries: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (modes or {}).get(name, 0o100644) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def test_inspect_reports_aws_style_hashes_and_sizes() -> None:
    data = _zip({"app.py": b"x = 1\n"})
    info = codezip.inspect_zip(data)
    assert info.size == len(data)
    assert info.unzipped_size == 6
    assert len(info.digest) == 64
    assert info.sha256_b64.endswith("=")


def test_not_a_zip_is_refused_with_aws_message() -> None:
    with pytest.raises(InvalidParameterValueError) as info:
        codezip.inspect_zip(b"definitely not a zip")
    assert info.value.message == (
        "Could not unzip uploaded file. Please check your file, then try to upload again."
    )


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil", "a/../../evil", "..\\evil.py"])
def test_entries_escaping_the_folder_are_refused(name: str, tmp_path: Path) -> None:
    data = _zip({name: b"boom"})
    with pytest.raises(InvalidParameterValueError, match="outside the function's folder"):
        codezip.inspect_zip(data)
    with pytest.raises(InvalidParameterValueError):
        codezip.unpack(data, tmp_path / "code")
    assert not (tmp_path / "evil.py").exists()
    assert not (tmp_path / "code").exists()


def test_zipped_size_limit() -> None:
    with pytest.raises(RequestEntityTooLargeError, match="52428800"):
        codezip.inspect_zip(b"\0" * (codezip.MAX_ZIPPED + 1))


def test_unzipped_size_limit_from_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codezip, "MAX_UNZIPPED", 10)
    with pytest.raises(InvalidParameterValueError, match="Unzipped size must be smaller than 10"):
        codezip.inspect_zip(_zip({"a": b"x" * 11}))


def test_unpack_keeps_execute_bits_and_is_atomic(tmp_path: Path) -> None:
    data = _zip({"bootstrap": b"#!/bin/sh\n", "lib/x.py": b""}, {"bootstrap": 0o100755})
    target = tmp_path / "code"
    codezip.unpack(data, target)
    assert (target / "bootstrap").stat().st_mode & stat.S_IXUSR
    assert (target / "lib" / "x.py").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["code"]  # no temp folder left


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    data = _zip({"link": b"/etc/passwd"}, {"link": 0o120777})
    with pytest.raises(InvalidParameterValueError, match="symlink"):
        codezip.unpack(data, tmp_path / "code")


def test_zip_folder_round_trips(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "app.py").write_text("x")
    (tmp_path / "src" / "pkg" / "m.py").write_text("y")
    names = zipfile.ZipFile(io.BytesIO(codezip.zip_folder(tmp_path / "src"))).namelist()
    assert names == ["app.py", "pkg/m.py"]
