"""Starting, limiting, freezing, thawing and killing one execution environment's processes.

Owns: the OS side of an environment (a process tree in its own session, its output
pipe, its exit, its resource peak). Knows nothing of functions or invocations: it is
told an argv, an environment and a folder. Must never import any other `ember` package
but `errors` and `config`.
"""

from ember.sandbox.process import LaunchError, ProcessSandbox, SandboxSpec

__all__ = ["LaunchError", "ProcessSandbox", "SandboxSpec"]
