"""Ember's Python runtime: the program that runs function code inside an environment.

Started as `<python3.X> -S -B bootstrap.py` for Runtime python3.8 to python3.14. It
owns init (sys.path, importing `$_HANDLER`, init errors), the invoke loop against the
Lambda Runtime API 2018-06-01 at `$AWS_LAMBDA_RUNTIME_API`, the context object, and
what function code sees of stdout and logging; every shape a function or its caller can
observe follows awslambdaric, AWS's own Python runtime client. It runs on every
supported interpreter with `site` off: stdlib only, 3.8 syntax, no `ember` imports.

This file only starts the `_ember_*` modules beside it: a script is compiled on every
run (3-5 ms of each cold start), an imported module's bytecode is cached. Precompile
them once per interpreter with `python3.X -m compileall -q <this folder>`.
"""

import sys

TYPE_CHECKING = False

# The folder of these modules, which Python put first on sys.path (unless -P or
# PYTHONSAFEPATH); function code must not import them by accident, so it goes after.
_here = __file__.rpartition("/")[0] or "."
if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]
sys.path.insert(0, _here)
# -B keeps function code from writing __pycache__ into its code; the runtime's own
# modules may cache theirs (silently skipped where this folder is read-only).
_no_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, False
try:
    if TYPE_CHECKING:  # mypy's name for this folder (see _ember_runtime.py)
        from ember.runtimes.python._ember_runtime import main
    else:
        from _ember_runtime import main
finally:
    sys.dont_write_bytecode = _no_bytecode
    del sys.path[0]

main()
