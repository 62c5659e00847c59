"""Every data category can be produced: by a field's name, by its values, or by a finding."""

from __future__ import annotations

from breachdesk.detect.classifier import classify_field
from breachdesk.taxonomy import Category, FindingKind

EXAMPLES: dict[Category, tuple[str, list[object]]] = {
    Category.NAME: ("$name", ["Ana Pop", "Kenji Sato"]),
    Category.EMAIL: ("contact", ["a@example.org", "b@example.org"]),
    Category.PHONE: ("$phone", ["+40 721 000 000"]),
    Category.LOCATION_IMPRECISE: ("$city", ["Cluj-Napoca"]),
    Category.LOCATION_PRECISE: ("latitude", [46.77, 46.78]),
    Category.IP_ADDRESS: ("client", ["203.0.113.9", "2001:db8::1"]),
    Category.USER_AGENT: ("ua", ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"]),
    Category.COOKIE_ID: ("$device_id", ["18c3f0a2b-0c1d"]),
    Category.BROWSING_HISTORY: ("landing", ["https://example.org/a", "https://example.org/b"]),
    Category.UNIQUE_ID: ("distinct_id", ["u1", 2]),
    Category.ORGANIZATION_ID: ("org_id", ["o1"]),
    Category.CONTENT: (
        "free_text",
        ["I tried to rotate my deploy key but the dashboard keeps telling me it failed again"],
    ),
    Category.OPERATIONS: ("$insert_id", ["a1b2c3"]),
}


def test_every_category_has_a_source() -> None:
    from_findings = {k.category for k in FindingKind}
    assert set(EXAMPLES) | from_findings == set(Category)


def test_classifier_produces_each_category() -> None:
    for category, (path, values) in EXAMPLES.items():
        assert classify_field(path, values).category is category, path


def test_name_and_values_disagreeing() -> None:
    assert classify_field("email", [True, False, True]).category is None
    emails = classify_field("custom_prop_7", ["x@example.org"] * 10)
    assert emails.category is Category.EMAIL and emails.confidence >= 0.8


def test_every_key_has_a_plain_label() -> None:
    from breachdesk.taxonomy import KIND_LABELS, LABELS, label

    assert set(LABELS) == set(Category) and set(KIND_LABELS) == set(FindingKind)
    for key in [*Category, *FindingKind]:
        shown = label(key.value)
        assert shown and "." not in shown and "_" not in shown, key  # never a raw key
    assert len(set(LABELS.values())) == len(LABELS)
    assert label("user.something_new") == "other data (user.something_new)"
