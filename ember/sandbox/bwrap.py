"""The bubblewrap command line of one environment: namespaces, the filesystem it sees, its user.

Inside: new mount, PID, IPC and UTS namespaces (the network namespace is Ember's, made
per environment by `network`, or the host's); the host's system folders (`/usr` and its
merged-/usr links) and a short list of `/etc` entries read-only; the caller's folders
bound read-only where it asks (`/var/task`, `/opt`, ...);
a private /tmp (the environment's own disk filesystem from `scratch`, else a size-limited
tmpfs); fresh `/proc` and `/dev`. Nothing else of the
host: not `/root`, `/home`, Ember's data directory or another environment's folders.

Started by root, the program runs as Lambda's sandbox user (uid 993, `sbx_user1051`)
through `setpriv`, with no capabilities and no way to gain any; started by anyone else,
bubblewrap maps that uid in a user namespace over the caller's own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

SANDBOX_UID = 993  # Lambda's sbx_user1051
SANDBOX_GID = 990
SANDBOX_USER = "sbx_user1051"
HOSTNAME = "localhost"

# Host folders bound read-only (merged-/usr hosts have most of them as links into /usr).
SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
# The /etc an environment sees: name resolution, certificates, the dynamic loader, time zones.
ETC_ENTRIES = (
    "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "ssl", "pki",
    "ca-certificates", "ca-certificates.conf", "crypto-policies", "localtime", "timezone",
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "mime.types", "protocols",
    "services", "os-release", "debian_version",
)  # fmt: skip

PASSWD = (
    "root:x:0:0:root:/root:/sbin/nologin\n"
    f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}::/home/{SANDBOX_USER}:/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
)
GROUP = f"root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_GID}:\nnogroup:x:65534:\n"


def write_identity_files(folder: Path) -> tuple[Path, Path]:
    """The sandbox's /etc/passwd and /etc/group (blocking; once per server)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "passwd", folder / "group"
    for path, text in zip(paths, (PASSWD, GROUP), strict=True):
        if not path.is_file() or path.read_text() != text:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o644)
            os.replace(tmp, path)
    return paths


def drop_privileges(setpriv: str) -> list[str]:
    """The prefix that makes root's sandboxed program Lambda's unprivileged user."""
    return [
        setpriv, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_GID}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]  # fmt: skip


# In a container image's root: where the host's /usr is seen, so that the host's setpriv
# and env (which drop root and set the loader variables) run there on the host's own
# libraries, whatever the image holds. Inside /dev: bubblewrap's own tmpfs, so nothing is
# added to the image's read-only root.
HOST_USR = "/dev/.ember-host-usr"
_LOADER = "/lib64/ld-linux-x86-64.so.2"


def host_tool(path: str, *, image: bool) -> list[str]:
    """The argv prefix that runs the host program `path` (under /usr) inside a sandbox:
    itself on the host's root; in an image's root, through the host's dynamic loader."""
    if not image:
        return [path]
    real, loader = os.path.realpath(path), os.path.realpath(_LOADER)
    if not (real.startswith("/usr/") and loader.startswith("/usr/")):
        return [path]  # not a merged-/usr host: the image must bring its own
    inside = HOST_USR + loader.removeprefix("/usr")
    return [inside, "--library-path", os.path.dirname(inside), HOST_USR + real.removeprefix("/usr")]


def _image_args(root: str, *, own_hosts: bool) -> list[str]:
    """An image's root read-only at /, with the host's name resolution files over its own
    (the unpacked root has empty ones to mount on: see control.rootfs.MOUNT_FILES)."""
    args = ["--ro-bind", root, "/"]
    for name in ("resolv.conf",) if own_hosts else ("hosts", "resolv.conf"):
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return args


def _system_args(root: str = "/", *, own_hosts: bool = False) -> list[str]:
    # bubblewrap makes missing parents 0700: make the shared ones readable first.
    args = ["--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/var"]
    for name in SYSTEM_DIRS:
        path = os.path.join(root, name)
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), f"/{name}"]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, f"/{name}"]
    for name in ETC_ENTRIES:
        if own_hosts and name == "hosts":
            continue
        path = os.path.join(root, "etc", name)
        if os.path.lexists(path):
            args += ["--ro-bind-try", path, f"/etc/{name}"]
    return args


def command(
    bwrap: str,
    *,
    binds: Sequence[tuple[str, str]],
    identity: tuple[Path, Path] | None,
    tmp_bytes: int,
    tmp_dir: str | None = None,  # a host folder to bind at /tmp; None: a tmpfs of tmp_bytes
    cwd: str,
    info_fd: int,
    unprivileged: bool,
    env_fd: int = -1,
    seccomp_fd: int = -1,  # the filter for `--seccomp` (seccomp.pipe()); -1: none
    hosts: Path | None = None,
    image_root: str | None = None,  # a container image's root file system, at /
) -> list[str]:
    """bwrap's argv up to (not including) the program: namespaces, mounts, `info_fd`
    (where bwrap writes the sandbox's pid 1 as JSON). The program's environment is only
    what `env_fd` holds (`environment_args`, read by bubblewrap: never on a command line);
    `hosts` replaces the host's /etc/hosts."""
    args = [
        bwrap, "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", HOSTNAME,
        "--die-with-parent", "--new-session", "--info-fd", str(info_fd), "--clearenv",
    ]  # fmt: skip
    if env_fd >= 0:
        args += ["--args", str(env_fd)]
    if seccomp_fd >= 0:
        args += ["--seccomp", str(seccomp_fd)]
    if unprivileged:
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
    if image_root is not None:
        args += _image_args(image_root, own_hosts=hosts is not None)
    else:
        args += _system_args(own_hosts=hosts is not None)
    if hosts is not None:
        args += ["--ro-bind", str(hosts), "/etc/hosts"]
    if identity is not None:
        args += ["--ro-bind", str(identity[0]), "/etc/passwd"]
        args += ["--ro-bind", str(identity[1]), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    if image_root is not None:
        args += ["--ro-bind", "/usr", HOST_USR]
    if tmp_dir is not None:
        args += ["--bind", tmp_dir, "/tmp"]
    else:
        args += ["--perms", "1777", "--size", str(tmp_bytes), "--tmpfs", "/tmp"]
    targets = {target for _, target in binds}
    for source, target in binds:
        args += ["--ro-bind", source, target]
    if "/opt" not in targets and image_root is None:
        args += ["--perms", "0755", "--dir", "/opt"]
    args += ["--chdir", cwd, "--"]
    return args


def environment_args(env: Mapping[str, str]) -> bytes:
    """`--setenv NAME VALUE` for each variable, NUL-separated, as `--args FD` reads them."""
    parts: list[str] = []
    for name, value in env.items():
        parts += ["--setenv", name, value]
    return b"".join(os.fsencode(part) + b"\0" for part in parts)
