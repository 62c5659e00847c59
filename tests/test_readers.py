"""Readers as properties: every line is counted once, rejects keep their physical line,
keys first seen late and late type changes are kept."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachdesk import AssessRequest, assess

GOOD = st.fixed_dictionaries(
    {"event": st.sampled_from(["a", "b"])},
    optional={},
).map(lambda e: {**e, "properties": {"distinct_id": "u1", "time": 1700000000}})
BAD = st.sampled_from([b"{", b"[1]", b'"s"', b"\xff\xfe", b'{"x": 1}'])
_SHARED: dict[str, Path] = {}  # the workspace the examples below share


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.one_of(GOOD.map(lambda o: json.dumps(o).encode()), BAD, st.just(b"")), max_size=30
    ),
    crlf=st.booleans(),
    bom=st.booleans(),
    gz=st.booleans(),
)
def test_jsonl_lines_are_all_accounted(
    tmp_path_factory: object, lines: list[bytes], crlf: bool, bom: bool, gz: bool
) -> None:
    import pytest  # noqa: F401

    base: Path = tmp_path_factory.mktemp("r")  # type: ignore[attr-defined]
    # one workspace for every example, each assess replacing the last: a new workspace's
    # store (its migrations) cost more than the reading this test is about
    ws = _SHARED.setdefault("ws", base / "ws")
    # a first good line so the file is recognised as an event export
    first = json.dumps({"event": "a", "properties": {"distinct_id": "u0"}}).encode()
    body = [first, *lines]
    data = (b"\r\n" if crlf else b"\n").join(body) + b"\n"
    if bom:
        data = b"\xef\xbb\xbf" + data
    path = base / ("e.jsonl.gz" if gz else "e.jsonl")
    path.write_bytes(gzip.compress(data) if gz else data)
    result = assess(AssessRequest([path], ws, workers=1, replace=True))
    records = result.impact["records"]
    blank = sum(1 for line in body if not line)
    bad = [
        i + 1
        for i, line in enumerate(body)
        if line and line in (b"{", b"[1]", b'"s"', b"\xff\xfe", b'{"x": 1}')
    ]
    assert records["lines"] == len(body)
    assert records["rejected"] == len(bad)
    assert records["read"] == len(body) - blank - len(bad)
    rejected = (ws / "rejected.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[1]) for r in rejected] == bad


def test_late_keys_and_late_type_changes(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("w") as fh:
        for i in range(30_000):
            props = {"distinct_id": f"u{i % 7}", "time": 1700000000 + i, "seats": 20}
            if i >= 29_990:
                props["seats"] = "twenty"
            if i == 29_999:
                props["late_contact"] = "late@example.org"
            fh.write(json.dumps({"event": "x", "properties": props}) + "\n")
    result = assess(AssessRequest([path], tmp_path / "ws", workers=2))
    fields = {f["path"]: f for f in result.impact["fields"]}
    assert fields["late_contact"]["present"] == 1
    assert fields["late_contact"]["category"] == "user.contact.email"
    assert fields["seats"]["present"] == 30_000
    assert result.impact["records"]["read"] == 30_000


def test_csv_quoted_newlines_keep_record_and_line(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "Distinct ID,Email,Notes\r\n"
        'u1,a@example.org,"two\nlines"\r\n'
        'u2,b@example.org,"card 4111 1111 1111 1111"\r\n'
    )
    assess(AssessRequest([path], tmp_path / "ws", workers=1, engine=engine))
    rows = (tmp_path / "ws" / "findings.csv").read_text().splitlines()
    assert rows[1].startswith("people.csv,4,2,Notes,payment_card,")


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lengths=st.lists(st.integers(0, 300), min_size=1, max_size=25),
    block=st.integers(16, 200),
    max_record=st.integers(40, 260),
)
def test_cutting_is_the_same_for_ranges_and_streams(
    tmp_path_factory: object, lengths: list[int], block: int, max_record: int
) -> None:
    """Plain files (byte ranges) and gzip streams (carried data) give the same records and
    rejects, whatever the block size and however long the lines."""
    from breachdesk.sources import framing
    from breachdesk.sources.files import open_inputs
    from breachdesk.sources.registry import get_reader

    base: Path = tmp_path_factory.mktemp("cut")  # type: ignore[attr-defined]
    lines = [b""] * len(lengths)
    for i, n in enumerate(lengths):
        if n:
            pad = "x" * max(0, n - 60)
            lines[i] = json.dumps(
                {"event": "e", "properties": {"distinct_id": f"u{i}", "p": pad}}
            ).encode()
    data = b"\xef\xbb\xbf" + b"\n".join(lines)
    (base / "a.jsonl").write_bytes(data)
    (base / "a.jsonl.gz").write_bytes(gzip.compress(data))
    reader = get_reader("mixpanel.events")
    old = framing.BLOCK_BYTES
    framing.BLOCK_BYTES = block
    try:
        got = []
        for item in open_inputs([base / "a.jsonl", base / "a.jsonl.gz"]):
            units = []
            for unit in framing.frame(item, 0, reader, max_record):
                if isinstance(unit, framing.LineRange):
                    unit = unit.read()
                units.append(unit)
            blocks = [u for u in units if isinstance(u, framing.LineBlock)]
            text = b"".join(u.data for u in blocks)
            rejects = [(u.line, u.reason) for u in units if isinstance(u, framing.Reject)]
            # each record with the number of the line it starts on (blank lines may travel
            # in a block or be counted where they are read: either way they hold no record)
            numbered = [
                (u.first_line + n, line)
                for u in blocks
                for n, line in enumerate(u.data.split(b"\n"))
                if line.strip()
            ]
            got.append((numbered, rejects))
    finally:
        framing.BLOCK_BYTES = old
    assert got[0] == got[1]
    _, rejects = got[0]
    # every line is either carried whole or rejected as too large, in order
    kept = text.split(b"\n")
    assert len([k for k in kept if k]) + len(rejects) == len([line for line in lines if line])


def test_json_array_documents_keep_lines(tmp_path: Path, engine: str) -> None:
    events = [
        {"event": "a", "properties": {"distinct_id": "u1", "time": 1700000000}},
        {"event": "b", "properties": {"distinct_id": "u2", "card_number": "4111111111111111"}},
    ]
    (tmp_path / "events.json").write_text(json.dumps(events, indent=2))
    people = [{"$distinct_id": 7, "$properties": {"$email": "a@example.org"}}, "oops"]
    (tmp_path / "people.json").write_text(json.dumps(people, indent=2))
    result = assess(
        AssessRequest(
            [tmp_path / "events.json", tmp_path / "people.json"],
            tmp_path / "ws",
            workers=1,
            engine=engine,
        )
    )
    readers = sorted(i["reader"] for i in result.impact["provenance"]["inputs"])
    assert readers == ["mixpanel.events_array", "mixpanel.people_array"]
    assert result.impact["records"]["read"] == 3
    assert result.impact["records"]["rejected"] == 1
    findings = (tmp_path / "ws" / "findings.csv").read_text().splitlines()
    # the second event starts on line 9 of the pretty-printed array; it is record 2
    assert findings[1].startswith("events.json,9,2,card_number,payment_card,")
    rejected = (tmp_path / "ws" / "rejected.csv").read_text().splitlines()
    assert rejected[1].startswith("people.json,8,not_an_object")


def test_lines_starting_with_a_malformed_array_line_are_still_lines(
    tmp_path: Path, engine: str
) -> None:
    path = tmp_path / "events.jsonl"
    good = json.dumps({"event": "a", "properties": {"distinct_id": "u1"}})
    path.write_text("[1, 2]\n" + good + "\n" + good + "\n")
    result = assess(AssessRequest([path], tmp_path / "ws", workers=1, engine=engine))
    assert result.impact["provenance"]["inputs"][0]["reader"] == "mixpanel.events"
    assert (result.impact["records"]["read"], result.impact["records"]["rejected"]) == (2, 1)


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_csv_exports_with_other_delimiters(tmp_path: Path, delimiter: str) -> None:
    rows = [
        ["Distinct ID", "Email", "City"],
        ["u1", "a@example.org", "Cluj; Napoca"],
        ["u2", "b@example.org", "Iași"],
    ]
    import csv as csv_module
    import io

    buffer = io.StringIO()
    csv_module.writer(buffer, delimiter=delimiter).writerows(rows)
    path = tmp_path / "people.csv"
    path.write_text(buffer.getvalue())
    result = assess(AssessRequest([path], tmp_path / "ws", workers=1))
    assert result.impact["provenance"]["inputs"][0]["reader"] == "mixpanel.csv"
    assert (result.impact["records"]["read"], result.impact["records"]["rejected"]) == (2, 0)
    fields = {f["path"]: f["category"] for f in result.impact["fields"]}
    assert fields["$email"] == "user.contact.email"


def test_a_document_past_the_limit_is_refused_not_half_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from breachdesk.sources import framing

    monkeypatch.setattr(framing, "MAX_DOCUMENT_BYTES", 200)
    events = [{"event": "a", "properties": {"distinct_id": f"u{i}"}} for i in range(10)]
    (tmp_path / "events.json").write_text(json.dumps(events))
    result = assess(AssessRequest([tmp_path / "events.json"], tmp_path / "ws", workers=1))
    assert result.impact["records"]["read"] == 0
    assert "too_large" in (tmp_path / "ws" / "rejected.csv").read_text()


def test_csv_headers_for_identity_keys_in_any_spelling(tmp_path: Path) -> None:
    from breachdesk.sources.mixpanel import canonical_column

    assert canonical_column("Organization ID") == "organization_id"
    assert canonical_column("ORG_ID") == "org_id"
    assert canonical_column(" $Email ") == "$email"
    assert canonical_column("Distinct ID") == "$distinct_id"
    assert canonical_column("Plan") == "Plan"  # other properties keep their spelling
