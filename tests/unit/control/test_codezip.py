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


@pytest.mark.parametrize("name", ["../evil.py", "/etc/evil", "a/../../evil", "./../evil.py"])
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


# -- limits on names and entries (issue 8, holes 5 and 6) ---------------------------------

LINK = 0o120777


def _refused(data: bytes, match: str, tmp_path: Path) -> None:
    """Refused on inspection and on unpacking, nothing left behind."""
    with pytest.raises(InvalidParameterValueError, match=match) as info:
        codezip.inspect_zip(data)
    assert info.value.message.startswith("Could not unzip uploaded file.")
    with pytest.raises(InvalidParameterValueError, match=match):
        codezip.unpack(data, tmp_path / "code")
    assert list(tmp_path.iterdir()) == []


def test_chained_symlinks_cannot_climb_out(tmp_path: Path) -> None:
    # `s` points two folders up, to `a`; so `t`'s `s/../..` climbs from `a`, above the
    # root, though read as text `s/..` cancels out and `t` looks like it stays inside.
    data = _zip({"a/b/c/s": b"../..", "a/b/c/t": b"s/../../x"}, {"a/b/c/s": LINK, "a/b/c/t": LINK})
    _refused(data, "symlink 'a/b/c/t' points outside", tmp_path)


@pytest.mark.parametrize(
    ("links", "culprit"),
    [
        ({"l": "/etc/passwd"}, "l"),
        ({"l": ".."}, "l"),
        ({"d/l": "../.."}, "d/l"),
        ({"up": "d/..", "l": "up/.."}, "l"),
        ({"x": "a/b", "l": "x/../../.."}, "l"),
        ({"d/e/s": "..", "l": "d/e/s/../../.."}, "l"),
    ],
)
def test_links_resolving_outside_are_refused(
    links: dict[str, str], culprit: str, tmp_path: Path
) -> None:
    data = _zip({k: v.encode() for k, v in links.items()}, dict.fromkeys(links, LINK))
    _refused(data, f"symlink '{culprit}' points outside", tmp_path)


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    data = _zip({"a": b"b", "b": b"a/x"}, {"a": LINK, "b": LINK})
    _refused(data, "too many levels of symbolic links", tmp_path)


def test_links_inside_are_unpacked_as_links(tmp_path: Path) -> None:
    entries = {
        "node_modules/pkg/cli.js": b"#!/usr/bin/env node\n",
        "node_modules/.bin/pkg": b"../pkg/cli.js",
        "lib/libz.so.1.3": b"ELF",
        "lib/libz.so.1": b"libz.so.1.3",
        "lib/libz.so": b"libz.so.1",  # a chain
        "here": b".",
        "back": b"lib/../node_modules/.bin/pkg",
    }
    modes = {name: LINK for name in ("node_modules/.bin/pkg", "lib/libz.so.1", "lib/libz.so")}
    data = _zip(entries, {**modes, "here": LINK, "back": LINK})
    codezip.inspect_zip(data)
    target = tmp_path / "code"
    codezip.unpack(data, target)
    assert (target / "node_modules/.bin/pkg").readlink() == Path("../pkg/cli.js")
    assert (target / "lib/libz.so").read_bytes() == b"ELF"
    assert (target / "back").read_bytes() == b"#!/usr/bin/env node\n"


@pytest.mark.parametrize(
    ("entries", "modes", "match"),
    [
        ({"l": b"sub", "l/evil.py": b""}, {"l": LINK}, "lies under a file or symlink 'l'"),
        ({"f": b"", "f/g": b""}, {}, "lies under a file or symlink 'f'"),
        ({"a.py": b"1", "./a.py": b"2"}, {}, "'a.py' appears more than once"),
        ({"d/": b"", "d": b"x"}, {"d": LINK}, "'d' appears more than once"),
        ({"a\\b.py": b""}, {}, "backslash"),
        ({"x" * 256: b""}, {}, "part longer than 255 bytes"),
        ({"é" * 128: b""}, {}, "part longer than 255 bytes"),  # 256 bytes in UTF-8
        ({"/".join(["d" * 200] * 21): b""}, {}, "longer than 4096 bytes"),
        ({"d/" * 128 + "f": b""}, {}, "more than 128 folders deep"),
        ({"l": b""}, {"l": LINK}, "empty or invalid target"),
    ],
)
def test_names_are_limited(
    entries: dict[str, bytes], modes: dict[str, int], match: str, tmp_path: Path
) -> None:
    _refused(_zip(entries, modes), match, tmp_path)


def test_nul_in_a_name_is_refused(tmp_path: Path) -> None:
    # zipfile cuts names at a NUL when writing: put it in the bytes afterwards.
    data = _zip({"evil_x.py": b""}).replace(b"evil_x.py", b"evil\0x.py")
    _refused(data, "NUL", tmp_path)


def test_entry_count_is_limited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codezip, "MAX_ENTRIES", 10)
    codezip.inspect_zip(_zip({f"f{n}": b"" for n in range(10)}))
    _refused(_zip({f"f{n}": b"" for n in range(11)}), "more than 10 entries", tmp_path)


def test_entry_count_is_read_before_parsing_the_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codezip, "MAX_ENTRIES", 10)
    data = _zip({f"f{n}": b"" for n in range(11)})

    def no_parsing(*args: object) -> None:
        raise AssertionError("zipfile parsed a directory that was too long")

    monkeypatch.setattr(zipfile, "ZipFile", no_parsing)
    with pytest.raises(InvalidParameterValueError, match="more than 10 entries"):
        codezip.inspect_zip(data)


def test_zip_with_prepended_bytes_counts_its_own_directory() -> None:
    # A self-extracting stub before the archive: zipfile reads it, so does the counter.
    data = b"#!/bin/sh\nexit 0\n" + _zip({"a": b"PK\x01\x02" * 4, "b": b""})
    assert codezip._central_directory_entries(data) == 2
    assert codezip.inspect_zip(data).unzipped_size == 16


def _set_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """`data` with `name`'s uncompressed size rewritten in both of its headers."""
    buffer = bytearray(data)
    local = buffer.index(b"PK\x03\x04")
    central = buffer.index(b"PK\x01\x02")
    assert buffer[local + 30 : local + 30 + len(name)] == name
    buffer[local + 22 : local + 26] = size.to_bytes(4, "little")
    buffer[central + 24 : central + 28] = size.to_bytes(4, "little")
    return bytes(buffer)


def test_lying_sizes_are_caught_on_inspection(tmp_path: Path) -> None:
    # A bomb that declares 10 bytes and inflates to 10 MB: refused before it is stored.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb", b"\0" * 10_000_000)
    _refused(_set_sizes(buffer.getvalue(), b"bomb", 10), "entry 'bomb'", tmp_path)


def test_corrupt_content_is_caught_on_inspection(tmp_path: Path) -> None:
    data = bytearray(_zip({"app.py": b"print('hello')\n"}))
    data[data.index(b"print")] ^= 0xFF
    _refused(bytes(data), "entry 'app.py'", tmp_path)


def test_high_ratio_within_the_limit_is_accepted(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros", b"\0" * 20_000_000)
    data = buffer.getvalue()
    assert len(data) < 100_000
    assert codezip.inspect_zip(data).unzipped_size == 20_000_000
    codezip.unpack(data, tmp_path / "code")
    assert (tmp_path / "code" / "zeros").stat().st_size == 20_000_000


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (0o100777, 0o755),
        (0o100666, 0o644),
        (0o104755, 0o755),  # setuid dropped
        (0o100700, 0o755),
        (0o100600, 0o644),
        (0, 0o644),  # no Unix mode (zips made on Windows)
    ],
)
def test_unpacked_modes_are_lambdas(mode: int, expected: int, tmp_path: Path) -> None:
    data = _zip({"wide/": b"", "wide/f": b"x"}, {"wide/": 0o40777, "wide/f": mode})
    target = tmp_path / "code"
    codezip.unpack(data, target)
    assert stat.S_IMODE((target / "wide" / "f").stat().st_mode) == expected
    assert stat.S_IMODE((target / "wide").stat().st_mode) == 0o755
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
