"""The GA4 reader on a hand-written BigQuery export in Google's documented shape.

Sources for the shape:
- the GA4 BigQuery export schema: ``event_date``, ``event_timestamp`` (microseconds, UTC),
  ``event_name``, ``event_params`` and ``user_properties`` as repeated key/value records
  with ``string_value``/``int_value``/``float_value``/``double_value`` (and
  ``set_timestamp_micros``), ``user_id``, ``user_pseudo_id``, ``device.*``, ``geo.*``,
  ``traffic_source.*``, ``items``: https://support.google.com/analytics/answer/7029846 and
  https://developers.google.com/analytics/bigquery/event-schema
- exported as JSON, "INT64 (integer) data types are encoded as JSON strings to preserve
  64-bit precision": https://cloud.google.com/bigquery/docs/exporting-data
"""

from __future__ import annotations

import csv
from pathlib import Path

from reader_samples import assess_sample, check_golden


def test_ga4_export_matches_golden(tmp_path: Path) -> None:
    ws, impact = assess_sample("ga4", tmp_path)
    assert [i["reader"] for i in impact["provenance"]["inputs"]] == ["ga4.events"]
    records = impact["records"]
    # a page view before sign-in on a browser two people later sign in on: stitched to both
    assert (records["read"], records["stitched"], records["anonymous"]) == (7, 1, 2)
    assert (records["unmatched_records"], records["country_unmapped"]) == (1, 1)  # "Narnia"
    with (ws / "affected_users.csv").open(newline="") as fh:
        users = {r["user_id"]: r["exposed"].split(";") for r in csv.DictReader(fh)}
    assert sorted(users) == ["u10", "u11", "u9"]
    fields = {f["path"]: f for f in impact["fields"]}
    # key/value arrays are plain fields, named as a person knows them
    assert fields["event_params.page_location"]["category"] == "user.behavior.browsing_history"
    assert fields["user_properties.plan"]["present"] == 2
    assert not any("string_value" in path or ("[]" in path and "event_params" in path)
                   for path in fields)  # fmt: skip
    assert fields["geo.country"]["category"] == "user.location.imprecise"
    with (ws / "affected_organizations.csv").open(newline="") as fh:
        orgs = [r["org_id"] for r in csv.DictReader(fh)]
    assert orgs == ["o4", "o5", "o6"]  # event_params org_id / company_id, and u11's o6
    found = {f["kind"]: f["fields"] for f in impact["findings"] if f["count"]}
    assert found == {"email_in_url": ["event_params.page_location"]}
    assert impact["provenance"]["event_time"]["first"] == "2024-05-01T09:00:00+00:00"
    check_golden("ga4", ws)
