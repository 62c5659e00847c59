"""The generic mapping: a TOML file makes a reader of any JSON Lines or CSV export, and a
mistake in it is refused in one line naming the file, the line and the key."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from breachdesk import AssessRequest, assess
from breachdesk.errors import InputError
from breachdesk.sources.mapping import load_mapping
from reader_samples import DIRECTORY, SAMPLES, assess_sample, check_golden

MAPPING = SAMPLES / "mapping" / "acme-crm.toml"


def test_csv_export_through_a_mapping_matches_golden(tmp_path: Path) -> None:
    ws, impact = assess_sample("mapping", tmp_path, mapping=MAPPING)
    readers = {Path(i["path"]).name: i["reader"] for i in impact["provenance"]["inputs"]}
    assert readers == {"acme-crm-contacts.csv": "mapping.acme-crm"}
    assert impact["provenance"]["mapping"]["sha256"]
    records = impact["records"]
    assert (records["read"], records["rejected"]) == (7, 1)  # c-1005: too many fields
    # rows with only a browser cookie seen beside alice's and erin's rows: stitched; a row
    # with nothing to identify anyone: anonymous; a former customer: unmatched
    assert (records["stitched"], records["anonymous"], records["unmatched_records"]) == (2, 1, 1)
    assert records["country_unmapped"] == 1  # "Elbonia"
    with (ws / "affected_users.csv").open(newline="") as fh:
        users = {r["user_id"]: r["exposed"].split(";") for r in csv.DictReader(fh)}
    assert sorted(users) == ["u1", "u5", "u6"]
    assert "user.authorization.credentials" in users["u5"]
    fields = {f["path"]: f["category"] for f in impact["fields"]}
    assert fields["Browser Cookie"] == "user.device.cookie_id"  # the mapping's [fields]
    assert fields["Contact Email"] == "user.contact.email"
    check_golden("mapping", ws)


def test_json_lines_with_nested_and_star_paths(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[reader]\nname = "helpdesk"\nformat = "jsonl"\n'
        '[keys]\nuser_ids = ["requester.id"]\nemails = ["requester.contact.email"]\n'
        'device_ids = ["session.browser"]\norg_keys = ["orgs.*"]\n'
        'countries = ["requester.country"]\n'
        '[time]\npath = "at"\nunit = "epoch"\n'
    )
    lines = [
        {"requester": {"id": "u1", "country": "United States"}, "session": {"browser": "b1"},
         "orgs": {"billing": "o1", "support": ["o7"]}, "at": 1714560000},
        {"session": {"browser": "b1"}, "body": "please reset my password", "at": 1714560300},
        {"requester": {"contact": {"email": "BOB.builder@example.org"}}, "at": 1714560600},
    ]  # fmt: skip
    (tmp_path / "tickets.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = assess(
        AssessRequest([tmp_path / "tickets.ndjson"], tmp_path / "ws", directory=DIRECTORY,
                      workers=1, mapping=mapping)
    )  # fmt: skip
    impact = result.impact
    assert impact["provenance"]["inputs"][0]["reader"] == "mapping.helpdesk"
    assert (impact["records"]["stitched"], impact["affected"]["users"]) == (1, 2)
    with (tmp_path / "ws" / "affected_organizations.csv").open(newline="") as fh:
        assert [r["org_id"] for r in csv.DictReader(fh)] == ["o1", "o7"]
    assert impact["provenance"]["event_time"]["first"] == "2024-05-01T10:40:00+00:00"


BAD = [
    ("[reader]\nname = \"x\"\nformat = \"xml\"\n[keys]\nuser_ids = [\"id\"]\n",
     "line 3: reader.format: Input should be 'jsonl' or 'csv'"),
    ("[reader]\nname = \"x\"\nformat = \"csv\"\n[keys]\nuser_ids = \"id\"\n",
     "line 5: keys.user_ids: Input should be a valid list"),
    ("[reader]\nname = \"x\"\nformat = \"csv\"\n[keys]\nuser_ids = [\"id\"]\nusers = [\"a\"]\n",
     "line 6: keys.users: Extra inputs are not permitted"),
    ("[reader]\nformat = \"csv\"\n[keys]\nuser_ids = [\"id\"]\n",
     "line 1: reader.name: Field required"),
    ("[reader]\nname = \"Acme CRM\"\nformat = \"csv\"\n[keys]\nuser_ids = [\"id\"]\n",
     "line 2: reader.name: String should match pattern"),
    ("[reader]\nname = \"x\"\nformat = \"csv\"\n[keys]\norg_keys = [\"org\"]\n",
     "line 4: keys: name at least one of user_ids, emails, device_ids"),
    ("[reader]\nname = \"x\"\nformat = \"csv\"\n[keys]\nuser_ids = [\"id\"]\n[time]\n"
     "path = \"t\"\nunit = \"days\"\n", "line 8: time.unit: Input should be"),
    ("[reader]\nname = \"x\"\nformat = \"csv\"\n[keys]\nuser_ids = [\"id\"]\n[fields]\n"
     "\"a.b\" = \"user.secret\"\n", "line 7: fields.a.b: Input should be"),
    ("[reader]\nname = \"x\"\nformat = \"csv\"\n[keys\nuser_ids = [\"id\"]\n",
     "line 4: not valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_mapping_errors_name_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "vendor.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_mapping(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {expected}"), message
    assert "\n" not in message


def test_cli_refuses_a_bad_mapping_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "m.toml").write_text('[reader]\nname = "x"\nformat = "tsv"\n')
    (tmp_path / "e.csv").write_text("id\n1\n")
    done = subprocess.run(
        [sys.executable, "-m", "breachdesk", "assess", str(tmp_path / "e.csv"), "--out",
         str(tmp_path / "ws"), "--mapping", str(tmp_path / "m.toml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "m.toml: line 3: reader.format" in lines[0]


def test_a_mapping_is_tried_before_the_built_in_readers(tmp_path: Path) -> None:
    """A file Mixpanel's reader would take is read through the mapping the user gave."""
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[reader]\nname = "mine"\nformat = "jsonl"\nrecognise = ["event", "properties.who"]\n'
        '[keys]\nuser_ids = ["properties.who"]\n'
    )
    line = {"event": "x", "properties": {"who": "u1", "distinct_id": "ignored"}}
    (tmp_path / "e.jsonl").write_text(json.dumps(line) + "\n")
    result = assess(AssessRequest([tmp_path / "e.jsonl"], tmp_path / "ws", directory=DIRECTORY,
                                  workers=1, mapping=mapping))  # fmt: skip
    assert result.impact["provenance"]["inputs"][0]["reader"] == "mapping.mine"
    assert result.impact["affected"]["users"] == 1
