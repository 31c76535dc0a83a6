"""Finding the cgroup hierarchy, and Lambda's CPU share."""

from __future__ import annotations

import os
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


def _v1_group(tmp_path: Path, name: str = "g") -> cgroups.V1Group:
    dirs = {c: tmp_path / c / name for c in cgroups.V1_CONTROLLERS}
    for directory in dirs.values():
        directory.mkdir(parents=True)
        (directory / "cgroup.procs").write_text("")
    (dirs["freezer"] / "freezer.state").write_text("THAWED")
    (dirs["memory"] / "memory.max_usage_in_bytes").write_text("")  # unreadable as a number
    (dirs["memory"] / "memory.usage_in_bytes").write_text(str(42 << 20))
    (dirs["memory"] / "memory.failcnt").write_text("3")
    return cgroups.V1Group(name, dirs)


def test_oom_counter_falls_back_to_the_limit_hits(tmp_path: Path) -> None:
    """Without memory.oom_control's oom_kill (old kernels, or a failed read) an OOM kill
    is still seen: the group hit its limit."""
    group = _v1_group(tmp_path)
    assert group.oom_kills() == 3  # memory.oom_control is missing: failcnt stands in
    (tmp_path / "memory" / "g" / "memory.oom_control").write_text("oom_kill_disable 0\n")
    assert group.oom_kills() == 3  # no oom_kill line (before Linux 4.13)
    (tmp_path / "memory" / "g" / "memory.oom_control").write_text("oom_kill 1\n")
    assert group.oom_kills() == 1
    (tmp_path / "memory" / "g" / "memory.oom_control").unlink()
    (tmp_path / "memory" / "g" / "memory.failcnt").unlink()
    with pytest.raises(cgroups.CgroupError):
        group.oom_kills()  # nothing to tell by: the caller decides, it is not "no"


def test_peak_memory_falls_back_to_the_current_use(tmp_path: Path) -> None:
    group = _v1_group(tmp_path)
    assert group.peak_bytes() == 42 << 20
    (tmp_path / "memory" / "g" / "memory.usage_in_bytes").unlink()
    with pytest.raises(cgroups.CgroupError):
        group.peak_bytes()  # never a silent 0


def test_pids_fall_back_to_other_controllers_then_to_proc(tmp_path: Path) -> None:
    group = _v1_group(tmp_path)
    (tmp_path / "pids" / "g" / "cgroup.procs").unlink()
    (tmp_path / "pids" / "g" / "cgroup.procs").mkdir()  # reading it fails
    (tmp_path / "freezer" / "g" / "cgroup.procs").write_text("7\n8\n")
    assert group.pids() == [7, 8]
    # Every listing unreadable: the processes that /proc says are in the group.
    own = [
        line.rsplit("/", 1)[1]
        for line in Path("/proc/self/cgroup").read_text().splitlines()
        if line.rsplit("/", 1)[1]
    ]
    if not own:
        pytest.skip("this process sits in root cgroups only")
    mine = _v1_group(tmp_path / "mine", own[0])
    for controller in cgroups.V1_CONTROLLERS:
        procs = tmp_path / "mine" / controller / own[0] / "cgroup.procs"
        procs.unlink()
        procs.mkdir()
    assert os.getpid() in mine.pids()
