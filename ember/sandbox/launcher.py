"""The two small shell programs that start an environment's processes in the right order.

`ENTER` runs first, as the server's user, outside any namespace: it moves itself into the
environment's cgroups (so everything it becomes and starts is counted from the first
instruction), applies rlimits where there are no cgroups, then execs the rest.

`COMPANIONS` runs inside the sandbox when companion programs (Lambda's external extensions)
must start before the main program: it starts each, reports each one's exit on a pipe, and
execs the main program only when the server says so on another pipe (Extension Init, then
Runtime Init). ENTER is POSIX sh (about a millisecond); COMPANIONS needs bash, whose
redirections reach the pipes' fd numbers (10 and up; dash stops at 9).
"""

from __future__ import annotations

SH = "/bin/sh"
BASH = "/bin/bash"

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
