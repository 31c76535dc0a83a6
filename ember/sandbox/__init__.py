"""Starting, limiting, freezing, thawing and killing one execution environment's processes.

Owns: the OS side of an environment — bubblewrap namespaces and mounts (`bwrap`), cgroup
limits, the freezer and the memory peak (`cgroups`), the shell steps that start processes in
order (`launcher`), the process tree and its output pipe (`process`), merging layer folders
(`overlay`), and what the host allows (`capabilities`: probed once, shown by `ember doctor`).
Knows nothing of functions or invocations: it is told an argv, an environment, folders and
limits (`spec`; `command` assembles the command line). Must never import any other `ember`
package but `errors`, `config` and `blocking`.
"""

from ember.sandbox.capabilities import (
    Capabilities,
    Guarantee,
    Isolation,
    IsolationUnavailableError,
    probe,
)
from ember.sandbox.process import ProcessSandbox
from ember.sandbox.spec import LaunchError, SandboxSpec, describe_exit

__all__ = [
    "Capabilities",
    "Guarantee",
    "Isolation",
    "IsolationUnavailableError",
    "LaunchError",
    "ProcessSandbox",
    "SandboxSpec",
    "describe_exit",
    "probe",
]
