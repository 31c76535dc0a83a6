"""Layers applied to a root file system: whiteouts, links kept inside, what is refused."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from ember.control.images import parse_uri, resolved_uri
from ember.control.rootfs import InvalidImageError, Unpacker
from ember.scheduler.spec import ImageRun


def _layer(folder: Path, name: str, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    path = folder / name
    with tarfile.open(path, "w") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                info = tarfile.TarInfo(member[0])
                info.size = len(member[1])
                info.mode = 0o4755 if member[0].endswith("suid") else 0o644
                tar.addfile(info, io.BytesIO(member[1]))
    return path


def _info(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755
    return info


def test_whiteouts_and_opaque_folders(tmp_path: Path) -> None:
    root = tmp_path / "root"
    unpacker = Unpacker(root)
    base = [("a/keep", b"1"), ("a/drop", b"2"), ("b/old", b"3"), ("b/sub/old", b"4")]
    unpacker.apply(_layer(tmp_path, "1.tar", list(base)), "")
    upper = [("a/.wh.drop", b""), ("b/.wh..wh..opq", b""), ("b/new", b"5"), ("c", b"6")]
    unpacker.apply(_layer(tmp_path, "2.tar", list(upper)), "")
    assert (root / "a" / "keep").read_bytes() == b"1"
    assert not (root / "a" / "drop").exists()
    assert sorted(p.name for p in (root / "b").iterdir()) == ["new"]
    assert (root / "c").read_bytes() == b"6"


def test_links_never_lead_a_write_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    unpacker = Unpacker(root)
    links = [_info("etc2", tarfile.SYMTYPE, str(outside)), _info("up", tarfile.SYMTYPE, "../..")]
    unpacker.apply(_layer(tmp_path, "1.tar", list(links)), "")
    unpacker.apply(_layer(tmp_path, "2.tar", [("etc2/x", b"in"), ("up/y", b"in")]), "")
    assert list(outside.iterdir()) == []
    # Resolved as inside the image: the absolute link's target is below the root.
    assert (root / str(outside).lstrip("/") / "x").read_bytes() == b"in"
    assert (root / "y").read_bytes() == b"in"
    assert (root / "etc2").is_symlink()  # links themselves are kept as written


def test_refused_entries(tmp_path: Path) -> None:
    root = tmp_path / "root"
    with pytest.raises(InvalidImageError, match="outside"):
        Unpacker(root).apply(_layer(tmp_path, "1.tar", [("../escape", b"x")]), "")
    assert not (tmp_path / "escape").exists()
    hard = [_info("h", tarfile.LNKTYPE, "../../etc/passwd")]
    with pytest.raises(InvalidImageError):
        Unpacker(tmp_path / "r2").apply(_layer(tmp_path, "2.tar", list(hard)), "")
    with pytest.raises(InvalidImageError, match="larger"):
        Unpacker(tmp_path / "r3", limit=3).apply(_layer(tmp_path, "3.tar", [("f", b"1234")]), "")
    (tmp_path / "4.tar").write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(InvalidImageError, match="not a valid tar"):
        Unpacker(tmp_path / "r4").apply(tmp_path / "4.tar", "")


def test_devices_skipped_and_setuid_dropped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    members = [_info("dev/null", tarfile.CHRTYPE), _info("fifo", tarfile.FIFOTYPE)]
    Unpacker(root).apply(_layer(tmp_path, "1.tar", [*members, ("bin/suid", b"x")]), "")
    assert not (root / "dev" / "null").exists()
    assert not (root / "fifo").exists()
    assert (root / "bin" / "suid").stat().st_mode & 0o7777 == 0o755


def test_mount_points_replace_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    unpacker = Unpacker(root)
    link = _info("etc/resolv.conf", tarfile.SYMTYPE, "/run/systemd/resolve/stub-resolv.conf")
    unpacker.apply(_layer(tmp_path, "1.tar", [link]), "")
    unpacker.add_mount_points()
    for name in ("proc", "dev", "tmp"):
        assert (root / name).is_dir()
    resolv = root / "etc" / "resolv.conf"
    assert resolv.is_file()
    assert not resolv.is_symlink()


def test_image_uri_forms() -> None:
    assert parse_uri("/srv/img:v1").kind == "oci"
    assert parse_uri("/srv/img:v1").tag == "v1"
    assert parse_uri("oci-archive:/x/i.tar").location == "/x/i.tar"
    assert parse_uri("docker-archive:/x/d.tar").kind == "docker-archive"
    registry = parse_uri("123.dkr.ecr.us-east-1.amazonaws.com/repo:latest")
    assert registry.kind == "registry"
    assert resolved_uri("123.dkr.ecr.us-east-1.amazonaws.com/repo:latest", "ab") == (
        "123.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:ab"
    )
    assert resolved_uri("localhost:5000/repo", "ab") == "localhost:5000/repo@sha256:ab"
    assert resolved_uri("oci:/srv/img:v1", "ab") == "oci:/srv/img@sha256:ab"


def test_image_config_overrides_the_image() -> None:
    meta = {"entrypoint": ["/e"], "cmd": ["a.h"], "workdir": "/w", "env": ["A=1", "bad"]}
    run = ImageRun.of(meta, None)
    assert run.argv == ("/e", "a.h")
    assert run.workdir == "/w"
    assert run.env == (("A", "1"),)
    run = ImageRun.of(meta, {"Command": ["b.h"], "WorkingDirectory": "/x"})
    assert run.argv == ("/e", "b.h")
    assert run.workdir == "/x"
    assert run.command == ("b.h",)
    assert ImageRun.of(None, None).workdir == "/"
