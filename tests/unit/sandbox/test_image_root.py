"""A container image's sandbox: its root at /, the host's /usr only where setpriv needs it."""

from __future__ import annotations

import os

from ember.sandbox import bwrap


def _command(image_root: str | None) -> list[str]:
    return bwrap.command(
        "bwrap", binds=(), identity=None, tmp_bytes=1 << 20, cwd="/var/task", info_fd=3,
        unprivileged=False, image_root=image_root,
    )  # fmt: skip


def test_image_root_replaces_the_host_system_folders() -> None:
    args = _command("/data/images/abc")
    pairs = list(zip(args, args[1:], args[2:], strict=False))
    assert ("--ro-bind", "/data/images/abc", "/") in pairs
    assert ("--ro-bind", "/usr", bwrap.HOST_USR) in pairs
    assert not any(a == "--ro-bind" and c == "/usr" for a, _, c in pairs)
    assert "/opt" not in args  # nothing is made in the image's read-only root
    # Zip functions keep the host's folders and get no second /usr.
    assert bwrap.HOST_USR not in _command(None)


def test_host_tools_run_by_the_host_loader_inside_an_image() -> None:
    assert bwrap.host_tool("/usr/bin/setpriv", image=False) == ["/usr/bin/setpriv"]
    prefix = bwrap.host_tool("/usr/bin/setpriv", image=True)
    if os.path.realpath("/usr/bin/setpriv").startswith("/usr/"):
        assert prefix[0].startswith(bwrap.HOST_USR)
        assert prefix[1] == "--library-path"
        assert prefix[-1] == bwrap.HOST_USR + os.path.realpath("/usr/bin/setpriv")[4:]
