"""The Segment reader on a hand-written S3 archive in Segment's documented shape.

Sources for the shape:
- Segment Spec, common fields (``anonymousId``, ``userId``, ``messageId``, ``type``,
  ``context.ip``, ``context.location.country`` as a name such as "United States",
  ``context.device.id``/``advertisingId``, ``context.page``, ``context.traits``, ``timestamp``
  ISO 8601): https://www.twilio.com/docs/segment/connections/spec/common
- the S3 destination's layout, "gzipped, newline-separated JSON containing the full call",
  ``s3://{bucket}/segment-logs/{source-id}/{received-day}/filename.gz``, the day a Unix time
  in milliseconds: https://github.com/segmentio/segment-docs/pull/8114/files
  (src/connections/storage/catalog/amazon-s3/index.md)
"""

from __future__ import annotations

import csv
from pathlib import Path

from reader_samples import assess_sample, check_golden


def test_segment_archive_matches_golden(tmp_path: Path) -> None:
    ws, impact = assess_sample("segment", tmp_path)
    inputs = impact["provenance"]["inputs"]
    assert [i["reader"] for i in inputs] == ["segment.messages"] * 2
    assert inputs[0]["path"].endswith(
        "segment-logs/Xq3PsT7oYz/1714521600000/1714557600000.Xq3PsT7oYz.6b1f2a.gz"
    )
    records = impact["records"]
    # a page before sign-in (alice's browser), a kiosk two people share, an invite sent by
    # erin's browser: stitched; an iPhone nobody signs in on: anonymous; a former user
    assert (records["read"], records["rejected"]) == (12, 1)
    assert (records["stitched"], records["anonymous"], records["unmatched_records"]) == (3, 1, 1)
    assert records["country_unmapped"] == 1  # "Atlantis"
    with (ws / "affected_users.csv").open(newline="") as fh:
        users = {r["user_id"]: r["exposed"].split(";") for r in csv.DictReader(fh)}
    assert sorted(users) == ["42", "u1", "u3", "u5", "u6"]
    # the kiosk's page view counts for both people who signed in on it
    assert "user.behavior.browsing_history" in users["42"]
    fields = {f["path"]: f["category"] for f in impact["fields"]}
    assert fields["context.page.url"] == "user.behavior.browsing_history"
    assert fields["context.ip"] == "user.device.ip_address"
    assert fields["context.device.advertisingId"] == "user.device.cookie_id"
    assert fields["name"] == "user.behavior.browsing_history"  # a page's name, not a person's
    assert fields["context.library.name"] == "system.operations"
    assert impact["provenance"]["event_time"] == {
        "first": "2024-05-01T09:58:00+00:00",
        "last": "2024-05-02T11:00:00+00:00",
    }
    check_golden("segment", ws)
