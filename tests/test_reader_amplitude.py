"""The Amplitude reader on a hand-written Export API zip in Amplitude's documented shape.

Sources for the shape:
- the Export API: "a zipped archive of JSON files", several per hour, "one event JSON object
  per line", the response schema (``amplitude_id`` a long, ``device_id``, ``user_id``,
  ``event_time`` "UTC ISO-8601 formatted", ``ip_address``, ``country``/``region``/``city``/
  ``dma``, ``user_properties``, ``event_properties``, ``groups``):
  https://amplitude.com/docs/apis/analytics/export
- places from GeoIP (MaxMind) as names, ``Country`` "United States":
  https://amplitude.com/docs/en/get-started/user-property-definitions
- the Browser SDK's page properties (Page Domain, Page Location, Page Path, Page Title, Page
  URL): https://amplitude.com/docs/en/get-started/event-property-definitions
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

from breachdesk import AssessRequest, assess
from reader_samples import SAMPLES, assess_sample, check_golden


def test_amplitude_export_zip_matches_golden(tmp_path: Path) -> None:
    ws, impact = assess_sample("amplitude", tmp_path)
    inputs = impact["provenance"]["inputs"]
    assert [i["path"].rsplit("!", 1)[1] for i in inputs] == [
        "187520/187520_2024-05-01_10#0.json.gz",
        "187520/187520_2024-05-01_9#0.json.gz",
    ]
    assert {i["reader"] for i in inputs} == {"amplitude.events"}
    records = impact["records"]
    # before sign-in (alice's device), bob's phone (his amplitude_id), a family iPad two
    # people use: stitched; a lone device: anonymous; a former employee: unmatched
    assert (records["read"], records["stitched"], records["anonymous"]) == (9, 3, 1)
    assert (records["unmatched_records"], records["country_unmapped"]) == (1, 1)
    with (ws / "affected_users.csv").open(newline="") as fh:
        users = {r["user_id"]: r["exposed"].split(";") for r in csv.DictReader(fh)}
    assert sorted(users) == ["u1", "u2", "u6", "u7"]
    # the API key searched on the family iPad reached both of its users
    for user in ("u6", "u7"):
        assert "user.authorization.credentials" in users[user]
    assert "user.authorization.credentials" in users["u2"]  # reset token on bob's phone
    fields = {f["path"]: f["category"] for f in impact["fields"]}
    assert fields["event_properties.[Amplitude] Page URL"] == "user.behavior.browsing_history"
    assert fields["groups.company[]"] == "user.account.organization_id"
    with (ws / "affected_organizations.csv").open(newline="") as fh:
        orgs = [r["org_id"] for r in csv.DictReader(fh)]
    assert orgs == ["o1", "o3", "o7"]  # o7 only named in groups
    check_golden("amplitude", ws)


def test_an_hour_file_or_its_lines_alone(tmp_path: Path) -> None:
    hour = SAMPLES / "amplitude" / "187520" / "187520_2024-05-01_10#0.json"
    (tmp_path / "one.json.gz").write_bytes(gzip.compress(hour.read_bytes()))
    (tmp_path / "lines.txt").write_bytes(hour.read_bytes())
    result = assess(AssessRequest([tmp_path / "one.json.gz", tmp_path / "lines.txt"],
                                  tmp_path / "ws", workers=1))  # fmt: skip
    assert [i["reader"] for i in result.impact["provenance"]["inputs"]] == ["amplitude.events"] * 2
    assert result.impact["records"]["read"] == 10
