"""Finding the cgroup hierarchy, and Lambda's CPU share."""

from __future__ import annotations

from pathlib import Path

import pytest

from ember.sandbox import cgroups
from ember.sandbox.capabilities import Capabilities, Isolation

MOUNTINFO = """\
25 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
28 25 0:25 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu
29 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
30 25 0:27 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
31 25 0:28 / /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
32 25 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpuacct
"""


def test_mounts_by_controller() -> None:
    v1, v2 = cgroups._mounts(MOUNTINFO.splitlines())
    assert v1 == {
        "cpu": Path("/sys/fs/cgroup/cpu"),
        "memory": Path("/sys/fs/cgroup/memory"),
        "pids": Path("/sys/fs/cgroup/pids"),
        "freezer": Path("/sys/fs/cgroup/freezer"),
    }
    assert v2 == Path("/sys/fs/cgroup/unified")


def test_no_usable_hierarchy_says_why(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text("\n".join(MOUNTINFO.splitlines()[:3]) + "\n")  # only cpu, and a v2 mount
    with pytest.raises(cgroups.CgroupError, match="no memory, pids, freezer controller"):
        cgroups.open_tree("1", str(info))


def test_quota_has_the_kernels_floor() -> None:
    assert cgroups.quota_us(1.0) == cgroups.CPU_PERIOD_US
    assert cgroups.quota_us(0.001) == 1000


@pytest.mark.parametrize(
    ("memory", "cores", "cpus"),
    [
        (1769, 8, 1.0),
        (128, 8, 128 / 1769),
        (10240, 8, 10240 / 1769),
        (10240, 2, 2),
        (3538, 16, 2.0),
    ],
)
def test_cpu_share_follows_memory_as_on_lambda(memory: int, cores: int, cpus: float) -> None:
    host = Capabilities(mode=Isolation.AUTO, cores=cores)
    assert host.cpus(memory) == pytest.approx(cpus)


def test_guarantees_name_what_stands_in() -> None:
    host = Capabilities(
        mode=Isolation.AUTO, cores=2, bwrap_problem="not installed", cgroup_problem="read-only"
    )
    held = {g.what: g for g in host.guarantees()}
    assert not held["namespaces"].held
    assert "not installed" in held["namespaces"].how
    assert "RLIMIT_DATA" in held["memory"].how
    assert "SIGSTOP" in held["freezer"].how
    assert host.rlimits
    assert "plain processes (not installed)" in host.summary()
    assert all(not g.held for g in Capabilities(mode=Isolation.NONE, cores=1).guarantees())
