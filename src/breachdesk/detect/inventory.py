"""The field inventory: every field path seen, how many records carry it non-empty, and
its categories from the classifier."""

from __future__ import annotations

from dataclasses import dataclass

from breachdesk.detect.classifier import classify_field
from breachdesk.engine.aggregate import UnitResult
from breachdesk.taxonomy import Category


@dataclass(frozen=True, slots=True)
class FieldEntry:
    path: str
    category: Category | None
    shares: tuple[tuple[Category, float], ...]
    confidence: float
    present: int


def build_inventory(total: UnitResult) -> list[FieldEntry]:
    paths = set(total.present) | total.empty_paths
    entries = []
    for path in sorted(paths):
        found = classify_field(path, total.samples.get(path, []))
        entries.append(
            FieldEntry(
                path, found.category, found.shares, found.confidence, total.present.get(path, 0)
            )
        )
    return entries
