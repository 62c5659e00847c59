"""Running a command while sampling the resident memory of its whole process tree."""

from __future__ import annotations

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


def measure(cmd: list[str], env: dict[str, str] | None = None) -> Run:
    """Wall time and peak summed PSS (sampled every 250 ms) of ``cmd`` and its children."""
    start = time.perf_counter()
    # standard error goes to a file: a pipe nobody reads would fill and block the command
    err_file = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err_file)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, sum(_rss_kb(p) for p in _tree(proc.pid)))
        time.sleep(0.25)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        err_file.seek(0)
        err = err_file.read().decode(errors="replace")
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {err[-2000:]}")
    return Run(seconds, peak / 1024, proc.returncode)
