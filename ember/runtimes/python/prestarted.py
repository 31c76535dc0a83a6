"""Ember's Python runtime started ahead of its function (a pre-started sandbox).

Started as `<python3.X> -S prestarted.py` in a sandbox whose /var/task and /opt are still
empty, with only Lambda's fixed variables. It loads what the runtime needs from the
stdlib, then blocks reading its assignment from the pipe whose number is its argument: one
JSON document `{"env": {...}}`, written by the server once it has mounted the function's
code and layers and set its limits, then closed. It takes the function's variables as its
whole environment, enters the (now mounted) task root and goes on as bootstrap.py does:
Ember's runtime modules are imported only now, since they read their settings from the
environment when imported. End of file without an assignment (the server let this
sandbox go unused): it exits.

Stdlib only, 3.8 syntax, no `ember` imports (see bootstrap.py).
"""

import ctypes
import importlib  # noqa: F401  (ahead of need: the runtime imports the handler with it)
import json
import os
import sys
import time

ROOM = "_EMBER_ROOM"  # a placeholder variable: where the function's variables are shown

_here = __file__.rpartition("/")[0] or "."
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]


def _show_environment(env: "dict[str, str]") -> None:
    """Write the function's variables where /proc/<pid>/environ reads them: the memory the
    kernel put the first variables in, in the room the placeholder kept, so that the
    process shows them as if it had started with them. The other first variables (the
    dynamic loader keeps pointers into them) stay as they are."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end
        block = ctypes.string_at(start, end - start)
        at = block.find(b"\0" + ROOM.encode() + b"=")
        at = at + 1 if at >= 0 else (0 if block.startswith(ROOM.encode() + b"=") else -1)
        if at < 0:
            return
        room = block.index(b"\0", at) - at
        first = {}
        for item in block.split(b"\0"):
            name, _, value = item.partition(b"=")
            first[name] = value
        shown = b"".join(
            b"%s=%s\0" % (name, value)
            for name, value in ((k.encode(), v.encode()) for k, v in env.items())
            if first.get(name) != value
        )
        if len(shown) <= room:
            ctypes.memmove(start + at, shown + b"\0" * (room - len(shown)), room)
    except (OSError, ValueError, IndexError, UnicodeError):
        pass


_fd = int(sys.argv[1]) if len(sys.argv) > 1 else -1
_chunks = []
while _fd >= 0:
    _chunk = os.read(_fd, 65536)
    if not _chunk:
        break
    _chunks.append(_chunk)
if _fd >= 0:
    os.close(_fd)
if not _chunks:
    sys.exit(0)
_env = json.loads(b"".join(_chunks))["env"]
os.environ.clear()
os.environ.update(_env)
_show_environment(_env)
del _env, _chunks, _chunk
time.tzset()  # TZ is the function's now
# The code was mounted over the folder this process started in: enter the mount.
os.chdir(os.environ.get("LAMBDA_TASK_ROOT") or "/var/task")
sys.argv[:] = [_here + "/bootstrap.py"]

sys.path.insert(0, _here)
_no_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, False
try:
    TYPE_CHECKING = False
    if TYPE_CHECKING:  # mypy's name for this folder (see _ember_runtime.py)
        from ember.runtimes.python._ember_runtime import main
    else:
        from _ember_runtime import main
finally:
    sys.dont_write_bytecode = _no_bytecode
    del sys.path[0]

main()
