"""The pids all environments may have together, and the group above theirs that holds it."""

from __future__ import annotations

from pathlib import Path

from ember.sandbox import cgroups, host_pids
from ember.sandbox.spec import PIDS_MAX


def test_environments_get_three_quarters_of_the_host_less_what_runs() -> None:
    assert host_pids.share(32768, 100) == 24576 - 100
    assert host_pids.share(4_194_304, 2_000) == 3_145_728 - 2_000


def test_a_crowded_host_still_runs_one_environment() -> None:
    assert host_pids.share(32768, 30_000) == PIDS_MAX


def test_this_hosts_share_leaves_it_a_quarter() -> None:
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    assert PIDS_MAX <= host_pids.host_share() <= pid_max * 3 // 4


def _v1_host(root: Path) -> Path:
    """A mountinfo naming plain folders as the v1 controllers' mounts."""
    lines = []
    for i, controller in enumerate(cgroups.V1_CONTROLLERS):
        (root / controller).mkdir()
        lines.append(
            f"{30 + i} 25 0:{30 + i} / {root / controller} rw - cgroup cgroup rw,{controller}"
        )
    info = root / "mountinfo"
    info.write_text("\n".join(lines) + "\n")
    return info


def test_the_servers_group_gets_the_total_and_reads_it_back(tmp_path: Path) -> None:
    tree = cgroups.open_tree("1", str(_v1_host(tmp_path)), pids_total=777)
    assert (tmp_path / "pids" / "ember" / "1" / "pids.max").read_text() == "777"
    assert (tree.pids_total, tree.read_pids_total()) == (777, 777)


def test_the_total_defaults_to_the_hosts_share(tmp_path: Path) -> None:
    tree = cgroups.open_tree("1", str(_v1_host(tmp_path)))
    assert tree.read_pids_total() == tree.pids_total >= PIDS_MAX
