"""The scan's process pool: results in input order, and a dead worker fails the run."""

from __future__ import annotations

import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from breachdesk.engine import scan
from breachdesk.engine.scan import ScanConfig, scan_units
from breachdesk.sources.base import RejectReason
from breachdesk.sources.framing import LineBlock, Reject
from breachdesk.sources.registry import get_reader

READER = get_reader("mixpanel.events")
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
