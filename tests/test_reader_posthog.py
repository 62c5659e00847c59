"""The PostHog reader on a hand-written batch export in PostHog's documented shape.

Sources for the shape:
- the batch export's events model: ``uuid``, ``event``, ``distinct_id``, ``person_id``,
  ``properties`` and ``person_properties`` (nested objects in JSON Lines),
  ``elements_chain`` ("the chain of DOM elements for $autocapture events"), ``timestamp``,
  ``created_at``, ``_inserted_at`` (ISO 8601 in JSON Lines):
  https://posthog.com/docs/data-pipelines/batch-exports/s3
- the elements chain's ``text=`` and ``href=`` values, which PostHog itself extracts as
  ``elements_chain_texts`` and ``elements_chain_href``:
  https://www.skills.sh/posthog/skills/exploring-autocapture-events
"""

from __future__ import annotations

import csv
from pathlib import Path

from breachdesk.sources.posthog import parse_elements_chain
from reader_samples import assess_sample, check_golden


def test_posthog_batch_export_matches_golden(tmp_path: Path) -> None:
    ws, impact = assess_sample("posthog", tmp_path)
    assert [i["reader"] for i in impact["provenance"]["inputs"]] == ["posthog.events"]
    records = impact["records"]
    # carol's browser before and after her session, and heidi's second browser through her
    # person_id: stitched; a visitor nobody knows: anonymous; a hashed id and an unknown email
    assert (records["lines"], records["read"], records["rejected"]) == (10, 8, 1)
    assert (records["stitched"], records["anonymous"], records["unmatched_records"]) == (3, 1, 1)
    with (ws / "affected_users.csv").open(newline="") as fh:
        users = {r["user_id"]: r["exposed"].split(";") for r in csv.DictReader(fh)}
    assert sorted(users) == ["42", "u3"]  # heidi signed in with her email as distinct_id
    assert "user.content" in users["u3"]  # what the button she clicked said
    fields = {f["path"]: f["category"] for f in impact["fields"]}
    assert fields["elements_chain.text[]"] == "user.content"
    assert fields["properties.$geoip_postal_code"] == "user.location.imprecise"
    assert fields["properties.$geoip_latitude"] == "user.location.precise"
    with (ws / "unmatched.csv").open(newline="") as fh:
        kinds = sorted(r["kind"] for r in csv.DictReader(fh))
    assert kinds == ["email", "hashed_email"]
    check_golden("posthog", ws)


def test_elements_chain_keeps_every_character_once() -> None:
    chain = (
        'a.nav:attr__href="/x?t=1"href="/x?t=1"nth-child="2"text="Say \\"hi\\"";'
        'div.menu:attr__id="m"nth-child="1"'
    )
    parsed = parse_elements_chain(chain)
    assert parsed["text"] == ['Say "hi"']
    assert parsed["href"] == ["/x?t=1"]  # href and attr__href: one link
    assert parsed["elements"] == 'a.nav:nth-child="2";div.menu:attr__id="m"nth-child="1"'
    assert parse_elements_chain("") == {}
