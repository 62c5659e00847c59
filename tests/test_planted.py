"""The planted corpus: every finding kind in every field shape is found, no decoy is, and
the fast scan agrees with the reference on all of it; without a kind's rules its statement
turns to "absent" and the corpus shows the loss."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import orjson
import pytest

from breachdesk.detect.rules import RuleSet, default_rules
from breachdesk.engine.aggregate import UnitResult
from breachdesk.engine.reference import reference_scan
from breachdesk.engine.scan import ScanConfig, Worker, scan_with
from breachdesk.sources.framing import LineBlock
from breachdesk.sources.registry import readers
from planted import Plant, cases, plant
from test_scan_reference import assert_same

CONFIG = ScanConfig(
    keys={r.name: r.keys for r in readers()},
    hmac_key=b"k" * 32,
    max_record=1 << 20,
)


def _corpus(seed: int) -> tuple[bytes, dict[int, Plant]]:
    rng = random.Random(seed)
    lines: list[bytes] = []
    truth: dict[int, Plant] = {}
    for kind, shape in cases():
        for decoy in (False, True):
            props: dict[str, Any] = {
                "distinct_id": str(rng.randrange(100000, 200000)),
                "time": 1760000000 + len(lines),
                "$current_url": f"https://app.devplatform.example/p/{len(lines)}",
                "$referrer": "https://www.google.com/",
                "mp_processing_time_ms": 1760000000123 + len(lines),
                "$insert_id": f"{rng.getrandbits(64):016x}",
            }
            truth[len(lines) + 1] = plant(rng, props, kind, shape, decoy)
            lines.append(orjson.dumps({"event": "Page View", "properties": props}))
    return b"\n".join(lines) + b"\n", truth


def _scan(worker: Worker, data: bytes, fast: bool = True) -> UnitResult:
    unit = LineBlock(0, "mixpanel.events", 1, data)
    return scan_with(worker, unit) if fast else reference_scan(worker, unit)


def _missed(result: UnitResult, truth: dict[int, Plant]) -> tuple[list[Plant], list[Plant]]:
    found = {(f.line, f.field, f.kind.value) for f in result.findings}
    fields = {(f.line, f.field) for f in result.findings}
    missed = [
        p for line, p in truth.items() if not p.decoy and (line, p.field, p.kind) not in found
    ]
    fired = [p for line, p in truth.items() if p.decoy and (line, p.field) in fields]
    return missed, fired


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_kind_in_every_shape_is_found_and_no_decoy_is(seed: int) -> None:
    data, truth = _corpus(seed)
    worker = Worker(CONFIG)
    fast = _scan(worker, data)
    missed, fired = _missed(fast, truth)
    assert missed == [] and fired == []
    # nothing is reported outside the planted fields
    planted_at = {(line, p.field) for line, p in truth.items()}
    assert {(f.line, f.field) for f in fast.findings} <= planted_at
    assert_same(fast, _scan(worker, data, fast=False))


def test_the_corpus_covers_every_kind_and_shape() -> None:
    kinds = Counter(k for k, _ in cases())
    shapes = Counter(s for _, s in cases())
    assert set(kinds) == {"api_key", "credential", "payment_card", "bank_account",
                          "government_id", "email_in_url"}  # fmt: skip
    assert len(shapes) == 13


@pytest.mark.parametrize("kind", ["api_key", "payment_card", "bank_account", "government_id"])
def test_without_a_kinds_rules_its_statement_turns_absent_and_the_corpus_shows_it(
    kind: str,
) -> None:
    """Remove every rule of one kind: that kind's findings vanish (its statement would read
    "absent"), the corpus reports each planted value of the kind as missed, and every other
    kind is still found in full."""
    data, truth = _corpus(7)
    rules = RuleSet([r for r in default_rules().rules if r.kind.value != kind])
    worker = Worker(CONFIG)
    worker.scanner = type(worker.scanner)(rules, CONFIG.hmac_key)
    result = _scan(worker, data)
    assert kind not in {f.kind.value for f in result.findings}
    missed, fired = _missed(result, truth)
    assert {p.kind for p in missed} == {kind}
    assert len(missed) == sum(1 for p in truth.values() if p.kind == kind and not p.decoy)
    assert fired == []
