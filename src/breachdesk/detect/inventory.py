"""The field inventory: every field path seen, how many records carry it non-empty, and
its categories from the classifier."""

from __future__ import annotations

from collections.abc import Mapping
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


def build_inventory(
    total: UnitResult, hints: Mapping[str, Category] | None = None
) -> list[FieldEntry]:
    """Every field seen, classified; ``hints``: the categories readers state for some of
    their fields (see :func:`breachdesk.detect.classifier.classify_field`)."""
    paths = set(total.present) | total.empty_paths
    hints = hints or {}
    entries = []
    for path in sorted(paths):
        hint = hints.get(path) or hints.get(path.replace("[]", ""))  # list items: same field
        found = classify_field(path, total.samples.get(path, []), hint)
        entries.append(
            FieldEntry(
                path, found.category, found.shares, found.confidence, total.present.get(path, 0)
            )
        )
    return entries
