"""The bubblewrap command line and the sandbox's identity files."""

from __future__ import annotations

from pathlib import Path

from ember.sandbox import bwrap


def _pairs(args: list[str], flag: str) -> list[tuple[str, str]]:
    return [(args[i + 1], args[i + 2]) for i, a in enumerate(args) if a == flag]


def test_namespaces_mounts_and_tmp() -> None:
    args = bwrap.command(
        "/usr/bin/bwrap",
        binds=[("/data/code/abc", "/var/task"), ("/data/opt/x", "/opt")],
        identity=(Path("/s/passwd"), Path("/s/group")),
        tmp_bytes=512 << 20,
        cwd="/var/task",
        info_fd=17,
        unprivileged=False,
    )
    for flag in ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"):
        assert flag in args
    # Ember makes each environment's network namespace itself (its Runtime API is inside).
    assert "--unshare-net" not in args
    assert "--clearenv" in args  # the program's variables come only through --args
    assert "--unshare-user" not in args  # root drops to the sandbox user with setpriv
    assert args[args.index("--info-fd") + 1] == "17"
    binds = _pairs(args, "--ro-bind")
    assert ("/data/code/abc", "/var/task") in binds
    assert ("/data/opt/x", "/opt") in binds
    assert ("/s/passwd", "/etc/passwd") in binds
    assert not any(target in ("/root", "/home") for _, target in binds)
    tmp = args.index("--tmpfs")
    assert args[tmp - 4 : tmp + 2] == [
        "--perms",
        "1777",
        "--size",
        str(512 << 20),
        "--tmpfs",
        "/tmp",
    ]
    assert args[-3:] == ["--chdir", "/var/task", "--"]


def test_without_layers_opt_is_an_empty_folder_and_the_unprivileged_map_a_user() -> None:
    args = bwrap.command(
        "bwrap", binds=[], identity=None, tmp_bytes=1, cwd="/", info_fd=3, unprivileged=True
    )
    assert args[args.index("--unshare-user") : args.index("--unshare-user") + 5] == [
        "--unshare-user", "--uid", "993", "--gid", "990",
    ]  # fmt: skip
    opt = args.index("/opt")
    assert args[opt - 3 : opt + 1] == ["--perms", "0755", "--dir", "/opt"]


def test_dropping_privileges_leaves_nothing() -> None:
    prefix = bwrap.drop_privileges("/usr/bin/setpriv")
    assert "--reuid=993" in prefix
    assert "--clear-groups" in prefix
    assert "--bounding-set=-all" in prefix
    assert "--no-new-privs" in prefix
    assert prefix[-1] == "--"


def test_identity_files(tmp_path: Path) -> None:
    passwd, group = bwrap.write_identity_files(tmp_path)
    assert "sbx_user1051:x:993:990:" in passwd.read_text()
    assert "sbx_user1051:x:990:" in group.read_text()
    assert passwd.stat().st_mode & 0o777 == 0o644
    assert bwrap.write_identity_files(tmp_path) == (passwd, group)  # idempotent


def test_the_environment_comes_through_a_pipe_and_hosts_is_ours() -> None:
    args = bwrap.command(
        "bwrap", binds=[], identity=None, tmp_bytes=1, cwd="/", info_fd=3, unprivileged=False,
        env_fd=12, hosts=Path("/s/etc/hosts"),
    )  # fmt: skip
    assert args[args.index("--args") + 1] == "12"
    binds = _pairs(args, "--ro-bind") + _pairs(args, "--ro-bind-try")
    assert [source for source, target in binds if target == "/etc/hosts"] == ["/s/etc/hosts"]
    assert bwrap.environment_args({"A": "1", "B": "x y"}) == (
        b"--setenv\0A\0001\0--setenv\0B\0x y\0"
    )
