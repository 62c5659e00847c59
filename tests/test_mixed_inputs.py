"""One assess over several vendors' files at once: each file read by its own reader and named
in provenance, the figures those of each reader added up, and device ids compared only within
their vendor (the same id string in two vendors' files ties nothing)."""

from __future__ import annotations

import json
from pathlib import Path

from breachdesk import AssessRequest, assess
from conftest import build_small_export
from reader_samples import DIRECTORY, SAMPLES, assess_sample, pack


def test_every_vendor_in_one_assess(tmp_path: Path) -> None:
    alone = {}
    for vendor in ("segment", "amplitude", "posthog", "ga4"):
        _, impact = assess_sample(vendor, tmp_path / vendor)
        alone[vendor] = impact["records"]
    _, mapped = assess_sample(
        "mapping", tmp_path / "mapping", SAMPLES / "mapping" / "acme-crm.toml"
    )
    alone["mapping"] = mapped["records"]
    small, _ = build_small_export(tmp_path / "mixpanel")
    alone["mixpanel"] = assess(AssessRequest([small], tmp_path / "mixpanel" / "ws",
                                             directory=DIRECTORY, workers=1)).impact["records"]  # fmt: skip
    exports = [tmp_path / v / "export" for v in ("segment", "amplitude", "posthog", "ga4",
                                                  "mapping")] + [small]  # fmt: skip
    result = assess(
        AssessRequest(exports, tmp_path / "ws", directory=DIRECTORY, workers=2,
                      mapping=SAMPLES / "mapping" / "acme-crm.toml")
    )  # fmt: skip
    readers = {i["reader"].split(".")[0] for i in result.impact["provenance"]["inputs"]}
    assert readers == {"segment", "amplitude", "posthog", "ga4", "mapping", "mixpanel"}
    records = result.impact["records"]
    for key in ("lines", "read", "rejected", "stitched", "anonymous", "country_unmapped"):
        assert records[key] == sum(r[key] for r in alone.values()), key


def test_device_ids_tie_only_within_their_vendor(tmp_path: Path) -> None:
    segment = {"type": "page", "messageId": "m1", "anonymousId": "browser-1", "name": "Home"}
    amplitude = {"event_type": "x", "amplitude_id": 7, "device_id": "browser-1",
                 "user_id": "u2"}  # fmt: skip
    (tmp_path / "s.jsonl").write_text(json.dumps(segment) + "\n")
    (tmp_path / "a.jsonl").write_text(json.dumps(amplitude) + "\n")
    result = assess(AssessRequest([tmp_path / "s.jsonl", tmp_path / "a.jsonl"], tmp_path / "ws",
                                  directory=DIRECTORY, workers=1))  # fmt: skip
    assert (result.impact["records"]["stitched"], result.impact["records"]["anonymous"]) == (0, 1)
    # the same two records from one vendor do tie
    seg_user = {"type": "track", "messageId": "m2", "anonymousId": "browser-1", "userId": "u2"}
    (tmp_path / "a.jsonl").write_text(json.dumps(seg_user) + "\n")
    result = assess(AssessRequest([tmp_path / "s.jsonl", tmp_path / "a.jsonl"], tmp_path / "ws2",
                                  directory=DIRECTORY, workers=1))  # fmt: skip
    assert (result.impact["records"]["stitched"], result.impact["records"]["anonymous"]) == (1, 0)


def test_without_a_directory_tied_records_are_counted_as_stitched(tmp_path: Path) -> None:
    export = pack("segment", tmp_path)
    result = assess(AssessRequest([export], tmp_path / "ws", workers=1))
    records = result.impact["records"]
    assert result.impact["affected"] is None
    # device-only records whose device a record with a user id or email also carries
    assert (records["stitched"], records["anonymous"]) == (3, 1)
