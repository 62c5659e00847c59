"""What assess states as evidence adds up: each zip member's own size and SHA-256 (and its
archive's, once), every line accounted for, and unmatched identities told apart without
showing them."""

from __future__ import annotations

import csv
import hashlib
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import orjson

from breachdesk import AssessRequest, assess
from breachdesk.detect.scanner import keyed_fingerprint
from breachdesk.store import read_events
from helpers import open_ws, store_of


def _events(users: range, extra: str = "") -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "event": "Page View",
                "properties": {"distinct_id": f"u{i}", "time": 1700000000 + i, "note": extra},
            }
        )
        + b"\n"
        for i in users
    )


def test_zip_members_carry_their_own_size_and_hash(tmp_path: Path) -> None:
    """Two members of different content: each listed with the size and SHA-256 of its own
    bytes, the archive once as their container with its own; a re-run records the same."""
    export = tmp_path / "export"
    export.mkdir()
    first, second = _events(range(3)), _events(range(3, 40), "x" * 200)
    archive = export / "pages.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("people/page-0001.jsonl", first)
        zf.writestr("people/page-0002.jsonl", second)
    ws = tmp_path / "ws"
    request = AssessRequest([export], ws, workers=1)
    provenance = assess(request).impact["provenance"]
    container = str(archive.resolve())
    members = {
        f"{container}!people/page-0001.jsonl": first,
        f"{container}!people/page-0002.jsonl": second,
    }
    assert [(i["path"], i["bytes"], i["sha256"], i["container"]) for i in provenance["inputs"]] == [
        (path, len(data), hashlib.sha256(data).hexdigest(), container)
        for path, data in members.items()
    ]
    whole = archive.read_bytes()
    assert provenance["containers"] == [
        {"path": container, "bytes": len(whole), "sha256": hashlib.sha256(whole).hexdigest()}
    ]
    html = (ws / "report.html").read_text()
    for data in (first, second, whole):
        assert hashlib.sha256(data).hexdigest() in html
        assert f"{len(data):,}" in html
    # a re-run (--replace) records each member's own hash in the log, as the first run did
    assess(replace(request, replace=True))
    store = store_of(ws)
    try:
        finished = [e.payload for e in read_events(store) if e.action == "assess.finished"]
    finally:
        store.close()
    assert len(finished) == 2
    for payload in finished:
        assert payload["inputs"] == {p: hashlib.sha256(d).hexdigest() for p, d in members.items()}
        assert payload["containers"] == {container: hashlib.sha256(whole).hexdigest()}


def test_a_plain_file_has_no_container(small: tuple[Path, Path], tmp_path: Path) -> None:
    export, directory = small
    impact = assess(AssessRequest([export], tmp_path / "ws", directory=directory)).impact
    for item in impact["provenance"]["inputs"]:
        path = Path(item["path"].split("!", 1)[0])
        if "!" in item["path"]:
            assert item["container"] == str(path)
        else:
            assert "container" not in item
            assert item["bytes"] == path.stat().st_size
            assert item["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [c["path"] for c in impact["provenance"]["containers"]] == [
        str((export / "more.zip").resolve())
    ]


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_every_line_is_accounted_for(tmp_path: Path) -> None:
    """Good lines, a blank line and a rejected line: what the report and the summary show
    adds up to the lines of the file."""
    export = tmp_path / "export"
    export.mkdir()
    good = _events(range(3))
    (export / "events.jsonl").write_bytes(good + b"\n" + b'{"event": "broken\n' + _events(range(5)))
    result = assess(AssessRequest([export], tmp_path / "ws", workers=1))
    records = result.impact["records"]
    assert (records["lines"], records["read"], records["rejected"], records["blank"]) == (
        10,
        8,
        1,
        1,
    )
    html = (tmp_path / "ws" / "report.html").read_text()
    shown = re.search(r'<p id="lines">(.*?)</p>', html, re.S)
    assert shown is not None
    text = re.sub(r" \([^)]*\)", "", shown.group(1))  # the reasons, inside the rejected count
    parts = re.match(r"Lines ([\d,]+): read ([\d,]+), rejected ([\d,]+), blank ([\d,]+)\.", text)
    assert parts is not None, text
    total, *counts = map(_number, parts.groups())
    assert (total, counts) == (10, [8, 1, 1])
    assert sum(counts) == total


def _unmatched(ws: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (ws / "unmatched.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or ()), list(reader)


def test_unmatched_identities_are_told_apart_and_add_up(
    small: tuple[Path, Path], tmp_path: Path
) -> None:
    """Three former customers whose addresses mask alike, each profile holding a user id and
    an email neither in the directory: three rows of one masked text, told apart by keyed
    fingerprints; the records column adds up to twice the unmatched records, and says so."""
    _, directory = small
    export = tmp_path / "former"
    export.mkdir()
    people = [(f"gone-{n}", f"f{n}@gone.example") for n in range(1, 4)]
    (export / "former.jsonl").write_bytes(
        b"".join(
            orjson.dumps({"$distinct_id": uid, "$properties": {"$email": email}}) + b"\n"
            for uid, email in people
        )
    )
    ws = tmp_path / "ws"
    request = AssessRequest([export], ws, directory=directory, workers=1)
    impact = assess(request).impact
    header, rows = _unmatched(ws)
    assert header == ["identity_masked", "kind", "records", "reason", "fingerprint"]
    text = (ws / "unmatched.csv").read_text()
    assert not any(value in text for person in people for value in person)
    with open_ws(ws) as opened:
        key = opened.key
    fingerprints = {r["fingerprint"]: r for r in rows}
    assert len(fingerprints) == len(rows)  # every row told apart
    for uid, email in people:
        for kind, value in (("user_id", uid), ("email", email)):
            row = fingerprints[keyed_fingerprint(key, kind, value)]
            assert (row["kind"], row["records"]) == (kind, "1")
    emails = [r["identity_masked"] for r in rows if r["kind"] == "email"]
    assert len(emails) == 3 and len(set(emails)) == 1  # they mask alike
    # the summary counts records, the CSV identities: both stated, and the difference said
    listed = sum(int(r["records"]) for r in rows)
    assert impact["affected"]["unmatched_identity_records"] == listed
    assert (listed, impact["records"]["unmatched_records"]) == (6, 3)  # each counted twice
    html = (ws / "report.html").read_text()
    said = re.search(r'<p id="unmatched">(.*?)</p>', html, re.S)
    assert said is not None
    assert f"adds up to {listed:,}, not the {listed - 3:,} unmatched records" in said.group(1)
    # a re-run keeps the workspace's key: the same fingerprints; --reveal adds the identity last
    assess(replace(request, replace=True, reveal=True))
    header, again = _unmatched(ws)
    assert header[-2:] == ["fingerprint", "identity"]
    by_print = {r["fingerprint"]: r["identity"] for r in again}
    assert set(by_print) == set(fingerprints)
    for uid, email in people:
        assert by_print[keyed_fingerprint(key, "email", email)] == email
        assert by_print[keyed_fingerprint(key, "user_id", uid)] == uid
