"""What the process may use (interp.memory) and the heavy-job slots it gives (interp.jobs.quota_slots): cgroup
files planted in a temporary root, each with its known answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from interp import jobs, memory
from interp.memory import MB, Limits, MemoryConfigError, cgroup_limits


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


def own(tmp_path: Path, lines: str) -> Path:
    """A stand-in for /proc/self/cgroup."""
    path = tmp_path / "proc-self-cgroup"
    path.write_text(lines)
    return path


# -- cgroup v2 ---------------------------------------------------------------------------------------------------


def test_v2_quota_and_memory_limit(tmp_path):
    root = plant(
        tmp_path / "fs", {"cgroup.controllers": "cpu memory", "cpu.max": "150000 100000", "memory.max": "2700000000"}
    )
    assert cgroup_limits(root, own(tmp_path, "0::/\n")) == Limits(cpus=1.5, memory=2_700_000_000)


def test_v2_without_limits_reads_none(tmp_path):
    root = plant(tmp_path / "fs", {"cgroup.controllers": "cpu memory", "cpu.max": "max 100000", "memory.max": "max"})
    assert cgroup_limits(root, own(tmp_path, "0::/\n")) == Limits(None, None)


def test_v2_the_tightest_of_the_process_cgroup_and_those_above_it(tmp_path):
    root = plant(
        tmp_path / "fs",
        {
            "cgroup.controllers": "cpu memory",
            "cpu.max": "max 100000",
            "memory.max": "max",
            "app/cpu.max": "400000 100000",  # 4 CPUs for the app's slice ...
            "app/memory.max": "1000000000",  # ... and 1 GB: tighter than its child's
            "app/web/cpu.max": "200000 100000",  # 2 CPUs for the process's own cgroup
            "app/web/memory.max": "3000000000",
            "other/cpu.max": "10000 100000",  # a sibling: none of ours
        },
    )
    assert cgroup_limits(root, own(tmp_path, "0::/app/web\n")) == Limits(cpus=2.0, memory=1_000_000_000)


# -- cgroup v1 and hybrid -----------------------------------------------------------------------------------------


def test_v1_quota_period_and_an_unlimited_memory(tmp_path):
    root = plant(
        tmp_path / "fs",
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "200000",
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": "9223372036854771712",  # v1's "no limit"
        },
    )
    lines = "4:memory:/\n3:cpu,cpuacct:/\n"
    assert cgroup_limits(root, own(tmp_path, lines)) == Limits(cpus=2.0, memory=None)


def test_v1_nested_path_and_no_quota(tmp_path):
    """As on this machine: cgroup v1 with the memory limit on the process's own path, no CPU quota."""
    root = plant(
        tmp_path / "fs",
        {
            "cpu/cpu.cfs_quota_us": "-1",
            "cpu/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": "9223372036854771712",
            "memory/process_api/abc/memory.limit_in_bytes": "2900000000",
        },
    )
    lines = "4:memory:/process_api/abc\n1:cpu:/\n0::/\n"
    assert cgroup_limits(root, own(tmp_path, lines)) == Limits(cpus=None, memory=2_900_000_000)


def test_v1_without_a_cgroup_namespace_reads_the_mounted_root(tmp_path):
    """Docker without a cgroup namespace: /proc says /docker/<id>, but the container sees its own cgroup as the
    mount's root."""
    root = plant(
        tmp_path / "fs",
        {
            "cpu/cpu.cfs_quota_us": "50000",
            "cpu/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": "536870912",
        },
    )
    lines = "4:memory:/docker/0123abcd\n2:cpu:/docker/0123abcd\n"
    assert cgroup_limits(root, own(tmp_path, lines)) == Limits(cpus=0.5, memory=536_870_912)


def test_no_cgroup_files_at_all(tmp_path):
    assert cgroup_limits(tmp_path / "missing", tmp_path / "missing-too") == Limits(None, None)
    garbage = plant(tmp_path / "fs", {"cgroup.controllers": "", "cpu.max": "lots", "memory.max": "-5"})
    assert cgroup_limits(garbage, own(tmp_path, "nonsense")) == Limits(None, None)


# -- from limits to CPUs, memory and slots ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limits, affinity, expected",
    [
        (Limits(cpus=None), 8, 8),  # no quota: the affinity
        (Limits(cpus=2.0), 64, 2),  # Community Cloud: 2 CPUs of a big host
        (Limits(cpus=1.5), 64, 2),  # a fraction counts up
        (Limits(cpus=0.2), 64, 1),
        (Limits(cpus=8.0), 2, 2),  # pinned to 2 cores: the affinity
    ],
)
def test_usable_cpus(limits, affinity, expected):
    assert memory.usable_cpus(limits, affinity=affinity) == expected


def test_memory_limit_is_the_cgroup_or_the_ram():
    assert memory.memory_limit(Limits(memory=2_700_000_000), ram=64_000_000_000) == 2_700_000_000
    assert memory.memory_limit(Limits(memory=None), ram=16_000_000_000) == 16_000_000_000
    assert memory.memory_limit(Limits(memory=32_000_000_000), ram=8_000_000_000) == 8_000_000_000


@pytest.mark.parametrize(
    "cpus, limit, budget, expected",
    [
        (2, 2_700 * MB, 1_800 * MB, 2),  # Community Cloud: the 2 CPUs; memory would allow (1800 - 700) // 350 = 3
        (64, 2_700 * MB, None, 5),  # 64 visible cores, 2.7 GB: (2700 - 700) // 350 = 5, not 64
        (64, 2_700 * MB, 1_800 * MB, 3),  # ... and where the budget is kept: 3
        (8, 1_000 * MB, None, 1),  # a 1 GB container: one at a time
        (4, 64_000 * MB, None, 4),  # a workstation: its cores
    ],
)
def test_quota_slots(cpus, limit, budget, expected):
    assert jobs.quota_slots(cpus=cpus, memory_limit=limit, budget=budget) == expected


def test_default_slots_follow_the_quota_and_the_variable_overrides(monkeypatch):
    monkeypatch.delenv(jobs.SLOTS_ENV, raising=False)
    monkeypatch.delenv(memory.BUDGET_ENV, raising=False)
    monkeypatch.setattr(memory, "system_limits", lambda: Limits(cpus=2.0, memory=2_700 * MB))
    monkeypatch.setattr(memory, "affinity_cpus", lambda: 96)  # what os.cpu_count() would say on a big host
    assert jobs.default_slots() == 2
    monkeypatch.setenv(jobs.SLOTS_ENV, "6")
    assert jobs.default_slots() == 6


def test_this_machine_reads_sane_numbers():
    assert 1 <= memory.usable_cpus() <= (os.cpu_count() or 1)
    limit = memory.memory_limit()
    assert limit is None or limit > 100 * MB
    resident = memory.resident_bytes()
    assert resident is None or 10 * MB < resident < (limit or resident + 1)
    assert 1 <= jobs.quota_slots()


# -- the budget ---------------------------------------------------------------------------------------------------


@pytest.fixture
def unarmed(monkeypatch):
    monkeypatch.delenv(memory.BUDGET_ENV, raising=False)
    memory.disarm()
    yield
    memory.disarm()


def test_no_budget_unless_armed_or_set(unarmed, monkeypatch):
    assert memory.budget() is None and memory.room(10**12) is None  # a script or the CLI is never refused
    monkeypatch.setattr(memory, "memory_limit", lambda: 64_000 * MB)
    memory.arm()
    assert memory.budget() == memory.DEFAULT_BUDGET == 1_800 * MB
    monkeypatch.setattr(memory, "memory_limit", lambda: 1_500 * MB)  # a small container: two thirds of it
    assert memory.budget() == 1_000 * MB


@pytest.mark.parametrize("text, expected", [("2500", 2_500 * MB), ("2500MB", 2_500 * MB), ("off", None), ("0", None)])
def test_the_budget_variable(unarmed, monkeypatch, text, expected):
    monkeypatch.setenv(memory.BUDGET_ENV, text)
    assert memory.budget() == expected


@pytest.mark.parametrize("text", ["lots", "50", "-1", "nan", "inf"])
def test_a_bad_budget_variable_says_what_to_write(unarmed, monkeypatch, text):
    monkeypatch.setenv(memory.BUDGET_ENV, text)
    with pytest.raises(MemoryConfigError, match=r"INTERP_MEMORY_BUDGET=.*in MB, at least 200 \(e\.g\. 1800\), or off"):
        memory.budget()


def test_room_compares_the_resident_size_and_what_is_asked(unarmed, monkeypatch):
    monkeypatch.setenv(memory.BUDGET_ENV, "1000")
    monkeypatch.setattr(memory, "resident_bytes", lambda: 700 * MB)
    assert memory.room(300 * MB) is None  # exactly at the budget: fits
    assert memory.room(301 * MB) == (700 * MB, 1_000 * MB)
    monkeypatch.setattr(memory, "resident_bytes", lambda: None)  # cannot be read: not enforced
    assert memory.room(10**12) is None


def test_megabytes_are_decimal_and_said_one_way():
    assert [memory.megabytes(n) for n in (25_000_000, 268_435_456, 1_850_000_000, 123_456)] == [
        "25.0 MB",
        "268 MB",
        "1,850 MB",
        "0.1 MB",
    ]
