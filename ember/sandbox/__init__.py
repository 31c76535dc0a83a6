"""Starting, limiting, freezing, thawing and killing one execution environment's processes.

Owns: the OS side of an environment — bubblewrap namespaces and mounts (`bwrap`), cgroup
limits, the freezer and the memory peak (`cgroups`; all environments' pids together:
`host_pids`), the server's descriptors and what environments may hold of them
(`descriptors`), the shell steps that start processes in
order (`launcher`), the process tree and its output pipe (`process`), merging layer folders
(`overlay`), each environment's network namespace and its relays to the host's loopback
(`network`, `network_relay`), its way out through the host's NAT (`outbound`, spoken to
the kernel in `netlink`), each environment's /tmp filesystem on disk (`scratch`) within
what the data dir's disk can promise (`scratch_budget`), the
seccomp filter (`seccomp`), folders handed into a running sandbox (`mounts`: pre-started
sandboxes), and what the host allows (`capabilities`: probed once, shown
by `ember doctor`).
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
