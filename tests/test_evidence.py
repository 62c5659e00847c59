"""What assess states as evidence adds up: each zip member's own size and SHA-256 (and its
archive's, once), every line accounted for, and unmatched identities told apart without
showing them."""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import orjson

from breachdesk import AssessRequest, assess
from breachdesk.store import read_events
from helpers import store_of


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
