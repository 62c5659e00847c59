"""The scan against its reference: the fast path (hit-level fast pass, grouped identities)
and the plain-Python statement of the same computation give the same results on the same
units — counts, fields, samples, identity pairs, findings — whatever the records hold."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any
from urllib.parse import quote

import orjson
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachdesk.engine.aggregate import UnitResult
from breachdesk.engine.reference import reference_scan
from breachdesk.engine.scan import ScanConfig, Worker, scan_with
from breachdesk.sources.framing import LineBlock, RecordBatch
from breachdesk.sources.registry import get_reader, readers

CONFIG = ScanConfig(
    keys={r.name: r.keys for r in readers()},
    hmac_key=b"k" * 32,
    max_record=4096,
)
FAST = Worker(CONFIG)
REFERENCE = Worker(CONFIG)

CARD = "4111111111111111"
SECRETS = [
    f"paid with {CARD} thanks",
    "4111 1111 1111 1111",
    CARD,
    f"id-{CARD}-x",
    "https://app.example.com/login?password=hunter22&next=/",
    "https://app.example.com/#pin=4821",
    "https://app.example.com/reset?reset_token=Zx81LmQp2RtV9sKw3YhN7cBf",
    "https://deploy:s3cret-Pa55@git.example.com/r.git",
    "https://app.example.com/share?to=ann%40example.org",
    "https://app.example.com/x?next=%2Flogin%3Fpassword%3Dsunshine1",
    "ssn 536-22-1234",
    "a536-22-1234",
    "DE89370400440532013000",
    "ref-DE89370400440532013000-2",
    "sk-proj-Qx7Lm2Vn9Rt4Kp1Zs8Wd3Yb6Hc0Jf5GaT3BlbkFJu2Ne7Mq4Xr9Lt1Vk6Pz3Ws8Hd0Yc5Bf2Ja",
    base64.b64encode(f"state card {CARD} end".encode()).decode(),
    base64.b64encode(b"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 and more").decode(),
    quote(f"q=my card {CARD}"),
    json.dumps({"note": f"card {CARD}", "pwd": "x"}),
    "José 4111111111111111",
    "e4123fa692a0e1-d688a8bf31ecb4b-14b21401",
    "$direct",
    "",
    "plain words",
]
KEYS = ["distinct_id", "$user_id", "$email", "$device_id", "org_id", "company_id", "time",
        "mp_country_code", "$current_url", "$referrer", "search_query", "card_number",
        "order_id", "userSSN", "note", "plan_seats"]  # fmt: skip
SCALARS = st.one_of(
    st.sampled_from(SECRETS),
    st.sampled_from(["u1", "u2", "ann@example.org", " BOB@Example.org ", "$device:abc", "DE"]),
    st.text(max_size=12),
    st.integers(min_value=-(10**17), max_value=10**17),
    st.sampled_from([4111111111111111, 1760000000123, 1760000000, 17.5]),
    st.booleans(),
    st.none(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    ),
    max_leaves=6,
)
PROPS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)
LINES = st.lists(
    st.one_of(
        PROPS.map(lambda p: ("event", p)),
        st.sampled_from([b"", b"   ", b"{not json", b"[1, 2]", b'"text"', b'{"a": 1}', b"\xff"]),
    ),
    min_size=1,
    max_size=25,
)


def _encode(item: tuple[str, dict[str, Any]] | bytes, escaped: bool) -> bytes:
    if isinstance(item, bytes):
        return item
    event = {"event": "Page View", "properties": item[1]}
    if escaped:  # every non-ASCII character and every slash escaped, as some exporters do
        return json.dumps(event, ensure_ascii=True).replace("/", "\\/").encode()
    return orjson.dumps(event)


def _pairs(result: UnitResult) -> list[tuple[Any, ...]]:
    if not result.pairs:
        return []
    table = pa.ipc.open_stream(result.pairs).read_all()
    return sorted(tuple(row.values()) for row in table.to_pylist())


def assert_same(fast: UnitResult, ref: UnitResult) -> None:
    for name in ("lines", "blank", "read", "numbered", "anonymous", "scanned_values", "size"):
        assert getattr(fast, name) == getattr(ref, name), name
    assert fast.rejects == ref.rejects
    assert fast.present == ref.present
    assert fast.empty_paths == ref.empty_paths
    assert fast.samples == ref.samples
    assert fast.scanned_fields == ref.scanned_fields
    assert fast.shapes == ref.shapes
    assert _pairs(fast) == _pairs(ref)
    assert fast.org_ids == ref.org_ids
    assert fast.finding_kinds == ref.finding_kinds
    assert (fast.time_first, fast.time_last) == (ref.time_first, ref.time_last)
    assert fast.findings == ref.findings


def _both(unit: LineBlock | RecordBatch) -> tuple[UnitResult, UnitResult]:
    return scan_with(FAST, unit), reference_scan(REFERENCE, unit)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES, st.booleans(), st.booleans())
def test_fast_scan_equals_reference(
    items: list[tuple[str, dict[str, Any]] | bytes], escaped: bool, final_newline: bool
) -> None:
    data = b"\n".join(_encode(item, escaped) for item in items) + (b"\n" if final_newline else b"")
    fast, ref = _both(LineBlock(0, "mixpanel.events", 7, data))
    assert_same(fast, ref)


@settings(max_examples=60, deadline=None)
@given(st.lists(PROPS, min_size=1, max_size=15))
def test_fast_scan_equals_reference_on_framed_records(records: list[dict[str, Any]]) -> None:
    batch = RecordBatch(
        0, "mixpanel.people", [(i + 2, i + 1, dict(r)) for i, r in enumerate(records)], 1
    )
    fast, ref = _both(batch)
    assert_same(fast, ref)


def test_findings_of_the_fixed_cases() -> None:
    """The reference finds what item 3 of issue 11 asks, and the fast path finds the same."""
    lines = [
        {"search_query": f"paid with {CARD} thanks"},  # card inside text, no context word
        {"order_id": CARD},  # a whole-value digit string needs a card-like field name
        {"card_number": int(CARD)},  # a bare number in a card field
        {"mp_processing_time_ms": int(CARD)},  # a bare number elsewhere
        {"$current_url": "https://a.example/login?password=hunter22"},
        {"$current_url": "https://a.example/#pin=4821"},
        {"$current_url": "https://a.example/login?password=xxxx"},  # placeholder
        {"ref": f"id-{CARD}-x"},  # glued into a hyphenated id
        {"ref": "a536-22-1234 ssn"},  # glued to a letter
    ]
    data = b"\n".join(orjson.dumps({"event": "e", "properties": p}) for p in lines) + b"\n"
    fast, ref = _both(LineBlock(0, "mixpanel.events", 1, data))
    assert_same(fast, ref)
    found = {(f.line, f.rule) for f in fast.findings}
    assert found == {
        (1, "payment-card"),
        (3, "payment-card"),
        (5, "url-password-param"),
        (6, "url-password-param"),
    }


def test_a_block_of_blank_lines_is_not_read_line_by_line() -> None:
    data = b'{"event": "e", "properties": {"distinct_id": "u1"}}\n' + b"\n" * 2_000_000
    fast, ref = _both(LineBlock(0, "mixpanel.events", 1, data))
    assert_same(fast, ref)
    assert fast.lines == 2_000_001 and fast.blank == 2_000_000 and fast.read == 1


def test_gzip_of_newlines_costs_milliseconds(tmp_path: Any) -> None:
    """A small gzip of newlines (a decompression bomb of blank lines) is read as blank
    blocks: no line-by-line work, no data shipped to the scanning processes."""
    from breachdesk.sources.files import find_inputs, open_inputs
    from breachdesk.sources.framing import BLOCK_BYTES, BlankLines, frame

    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"event": "e", "properties": {"distinct_id": "u1"}}\n')
        for _ in range(16):
            fh.write(b"\n" * (1 << 22))
        fh.write(b'{"event": "e", "properties": {"distinct_id": "u2"}}\n')
    found = find_inputs([path])
    (item,) = open_inputs(found.files, found.hidden)
    units = list(frame(item, 0, get_reader("mixpanel.events"), 1 << 20))
    blank = [u for u in units if isinstance(u, BlankLines)]
    carried = sum(len(u.data) for u in units if isinstance(u, LineBlock))
    assert sum(u.count for u in blank) >= 15 * (1 << 22)
    # only the two blocks holding a record travel; the blank megabytes stay where they are read
    assert carried <= 2 * BLOCK_BYTES + 1024
    results = [scan_with(FAST, u) for u in units]
    assert sum(r.lines for r in results) == 2 + 16 * (1 << 22)
    assert sum(r.read for r in results) == 2
    lines = sorted((r.lines, r.blank) for r in results)
    assert all(blank_lines <= lines_ for lines_, blank_lines in lines)


def test_a_flag_under_an_identity_key_is_no_id_whatever_came_before() -> None:
    # True == 1 and False == 0 in Python: as dict keys they are one key
    def line(distinct_id: object) -> bytes:
        return orjson.dumps({"event": "e", "properties": {"distinct_id": distinct_id}})

    for first, second in ((1, True), (True, 1), (0, False), (False, 0)):
        data = line(first) + b"\n" + line(second) + b"\n"
        unit = LineBlock(0, "mixpanel.events", 1, data)
        fast = scan_with(Worker(CONFIG), unit)  # a fresh cache each time
        assert_same(fast, reference_scan(Worker(CONFIG), unit))
        assert fast.anonymous == 1  # the flag's record
        number = first if type(first) is int else second
        assert sorted((s, n) for s, _, n, *_ in _pairs(fast)) == sorted(
            [("[]", 1), (f'[["user_id","{number}"]]', 1)]
        )
    # and across units: the worker's cache of combinations keeps them apart too
    worker = Worker(CONFIG)
    scan_with(worker, LineBlock(0, "mixpanel.events", 1, line(1) + b"\n"))
    later = scan_with(worker, LineBlock(0, "mixpanel.events", 2, line(True) + b"\n"))
    assert later.anonymous == 1 and [s for s, *_ in _pairs(later)] == ["[]"]
