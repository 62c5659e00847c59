"""The scan's process pool: results in input order, and a dead worker fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from breachdesk.engine import scan
from breachdesk.engine.scan import ScanConfig, scan_units
from breachdesk.sources.base import RejectReason
from breachdesk.sources.framing import LineBlock, Reject
from breachdesk.sources.registry import get_reader
from breachdesk.workers import process_pool, stop_forkserver

READER = get_reader("mixpanel.events")
HERE = Path(__file__).parent

CONFIG = ScanConfig(
    keys={READER.name: READER.keys},
    hmac_key=b"k" * 32,
    max_record=1 << 20,
)


def _block(i: int) -> LineBlock:
    line = f'{{"event": "e", "properties": {{"distinct_id": "u{i}"}}}}\n'.encode()
    return LineBlock(0, READER.name, i + 1, line)


def test_results_come_back_in_input_order() -> None:
    results = list(scan_units((_block(i) for i in range(40)), CONFIG, workers=2))
    assert [r.read for r in results] == [1] * 40
    assert len(results) == 40


def _die(unit: object) -> None:
    os._exit(9)


def test_a_dead_worker_fails_instead_of_hanging(monkeypatch: pytest.MonkeyPatch) -> None:
    units = [Reject(0, 1, RejectReason.INVALID_JSON, "x"), _block(1)]
    monkeypatch.setattr(scan, "scan_unit", _die)
    with pytest.raises(BrokenProcessPool):
        list(scan_units(iter(units), CONFIG, workers=2))


def test_unit_files_exist_for_ranges(tmp_path: Path) -> None:
    from breachdesk.sources.framing import LineRange

    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"event": "e", "properties": {}}\n{"event": "f", "properties": {}}\n')
    unit = LineRange(0, READER.name, str(path), 0, path.stat().st_size, 1)
    results = list(scan_units(iter([unit]), CONFIG, workers=2))
    assert results[0].read == 2 and results[0].lines == 2


def _forkserver_pid() -> int | None:
    from multiprocessing import forkserver

    pid: int | None = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    return pid


def test_the_forkserver_ends_with_the_scan() -> None:
    # it would idle, with the scan's modules loaded, through the match that follows
    scanned = scan_units((_block(i) for i in range(10)), CONFIG, workers=2)
    first = next(scanned)
    server = _forkserver_pid()
    assert first.read == 1 and server is not None
    os.kill(server, 0)  # running while the scan runs
    assert len(list(scanned)) == 9
    assert _forkserver_pid() is None
    with pytest.raises(ProcessLookupError):
        os.kill(server, 0)
    # the next scan starts another
    assert [r.read for r in scan_units((_block(i) for i in range(4)), CONFIG, workers=2)] == [1] * 4
    assert _forkserver_pid() is None


def test_the_forkserver_outlives_a_scan_while_another_pool_is_live() -> None:
    # A pool of the same process (the notices' preparers, another thread's scan) still needs
    # the server: stopping it under a live pool hangs the caller (CPython waits for a server
    # that waits for the pool), so the case runs in a child process with a deadline.
    code = "import test_engine; test_engine.scan_beside_a_live_pool()"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"


def scan_beside_a_live_pool() -> None:
    with process_pool(1, _no_op, ()) as other:
        assert other.submit(os.getpid).result(timeout=30) != os.getpid()
        assert [r.read for r in scan_units((_block(i) for i in range(3)), CONFIG, workers=2)] == [
            1
        ] * 3
        server = _forkserver_pid()
        assert server is not None
        os.kill(server, 0)
        assert other.submit(os.getpid).result(timeout=30) != os.getpid()  # its workers answer
    assert stop_forkserver() and _forkserver_pid() is None
    print("ok")


def _no_op() -> None:
    pass


def test_a_pool_dropped_without_shutdown_is_not_kept_alive() -> None:
    # _LIVE holds each pool strongly: one never shut down (an exception between creating it
    # and its `with`) is never collected, so its workers live on and the forkserver is never
    # stopped again (a plain ProcessPoolExecutor's workers end when it is collected)
    code = textwrap.dedent(
        """
        import gc, os, time
        from breachdesk.workers import process_pool, stop_forkserver
        import test_engine as t
        if __name__ == "__main__":
            pool = process_pool(1, t._no_op, ())
            worker = pool.submit(os.getpid).result(timeout=60)
            del pool
            gc.collect()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(worker, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                print("worker still alive")
            print("stopped" if stop_forkserver() else "forkserver kept")
        """
    )
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["stopped"], done.stdout
