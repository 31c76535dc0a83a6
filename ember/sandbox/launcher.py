"""The two small shell programs that start an environment's processes in the right order.

`ENTER` runs first, as the server's user, outside any namespace: it moves itself into the
environment's cgroups (so everything it becomes and starts is counted from the first
instruction), applies rlimits where there are no cgroups, then execs the rest.

`COMPANIONS` runs inside the sandbox when companion programs (Lambda's external extensions)
must start before the main program: it starts each, reports each one's exit on a pipe, and
execs the main program only when the server says so on another pipe (Extension Init, then
Runtime Init). ENTER is POSIX sh (about a millisecond); COMPANIONS needs bash, whose
redirections reach the pipes' fd numbers (10 and up; dash stops at 9).

The function's variables never reach a process that runs with more privilege than the
function: the host-side steps (ENTER, bubblewrap) start with `LAUNCH_ENV` only, and the
variables that make the dynamic loader or libc load code or files (`loader_variable`:
LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH, GCONV_PATH, ...) are added by `env` as the last step
before the program, after root has been dropped (`with_loader_variables`).
"""

from __future__ import annotations

from collections.abc import Mapping

SH = "/bin/sh"
BASH = "/bin/bash"
ENV = "/usr/bin/env"
# All a host-side launcher process gets (sh, bubblewrap, setpriv).
LAUNCH_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

# glibc's UNSECURE_ENVVARS (sysdeps/generic/unsecvars.h): what it strips for setuid
# programs because it makes the loader or libc read attacker-chosen files.
_UNSECURE = frozenset({
    "GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
    "MALLOC_TRACE", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR",
    "TZDIR",
})  # fmt: skip

# $@: cgroup files to write "0" to, or `-d KB` style ulimit pairs; then "--" and the argv.
ENTER = r"""
while [ "$1" != -- ]; do
  case $1 in
    -?) ulimit "$1" "$2" || exit 125; shift 2 ;;
    *) echo 0 > "$1" || exit 125; shift ;;
  esac
done
shift
exec "$@"
"""

# $1: fd to wait on for the go line; $2: fd to report "<status> <name>" lines on; then
# the companions' paths, "--", the main argv. The fds are moved to 3 and 4 (Ember passes
# numbers of 10 and up) and closed in everything started from here.
COMPANIONS = r"""
exec 3<&"$1" 4>&"$2"
eval "exec $1<&- $2>&-"
shift 2
while [ "$1" != -- ]; do
  { "$1" 3<&- 4>&-; echo "$? ${1##*/}" >&4; } 3<&- &
  shift
done
shift
exec 4>&-
read -r _ <&3 || exit 125
exec 3<&- "$@"
"""


def loader_variable(name: str) -> bool:
    """Whether `name` makes a process load code or files it names (LD_*, GCONV_PATH, ...)."""
    return name.startswith(("LD_", "MALLOC_")) or name in _UNSECURE


def split_environment(env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the rest, the loader variables) of `env`."""
    rest: dict[str, str] = {}
    loader: dict[str, str] = {}
    for name, value in env.items():
        (loader if loader_variable(name) else rest)[name] = value
    return rest, loader


def with_loader_variables(loader: Mapping[str, str], argv: list[str]) -> list[str]:
    """`argv` started by `env` with the loader variables added to what it inherits."""
    if not loader:
        return argv
    return [ENV, *(f"{name}={value}" for name, value in loader.items()), *argv]


def enter(files: list[str], limits: list[str], argv: list[str]) -> list[str]:
    return [SH, "-c", ENTER, "ember-enter", *files, *limits, "--", *argv]


def with_companions(
    go_fd: int, report_fd: int, companions: list[str], argv: list[str]
) -> list[str]:
    return [
        BASH,
        "-c",
        COMPANIONS,
        "ember-init",
        str(go_fd),
        str(report_fd),
        *companions,
        "--",
        *argv,
    ]
