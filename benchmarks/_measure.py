"""Running a command while sampling the resident memory and CPU time of its whole process
tree (CPU seconds are what to compare on a machine shared with other work: wall time there
depends on the neighbours)."""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int
    cpu_seconds: float = 0.0
    samples_mb: tuple[float, ...] = ()  # the tree's PSS at each sample, for flatness
    stderr: str = ""


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(_tree(int(child)))
    return found


def _rss_kb(pid: int) -> int:
    """Proportional set size: shared pages are split between the processes sharing them,
    so the tree's sum is its real footprint (forked workers share their parent's pages)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    """User + system time of one process (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return -1
    return int(fields[11]) + int(fields[12])


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Wall time, CPU time and peak summed PSS (sampled every 250 ms) of ``cmd`` and its
    children. CPU time is what the kernel accounts to the command's reaped process tree, or
    the sum of the last samples of each process if that is more (a descendant nobody reaped)."""
    start = time.perf_counter()
    # standard error goes to a file: a pipe nobody reads would fill and block the command
    err_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err_file)
    peak = 0
    samples: list[float] = []
    ticks: dict[int, int] = {}
    while proc.poll() is None:
        tree = _tree(proc.pid)
        now = sum(_rss_kb(p) for p in tree)
        samples.append(now / 1024)
        peak = max(peak, now)
        for pid in tree:
            seen = _cpu_ticks(pid)
            if seen >= 0:
                ticks[pid] = max(ticks.get(pid, 0), seen)
        time.sleep(0.25)
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = usage.ru_utime + usage.ru_stime - _CHILDREN_BEFORE[0]
    cpu = max(reaped, sum(ticks.values()) / _TICKS)
    err_file.seek(0)
    err = err_file.read().decode(errors="replace")
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}")
    _CHILDREN_BEFORE[0] = usage.ru_utime + usage.ru_stime
    return Run(seconds, peak / 1024, proc.returncode, cpu, tuple(samples), err)


_CHILDREN_BEFORE = [0.0]
