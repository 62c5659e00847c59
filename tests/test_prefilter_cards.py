"""The payment-card prefilter never hides a card the rule would find: for any value made of
digit groups, separators, letters and quotes, in any field shape of a JSON line, whenever
the full rule finds a card the fast pass fires on that line. And what it stopped firing on
(GA4's 64-bit integers written as strings, a UUID's all-digit groups) holds no card."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from breachdesk.detect.rules import default_rules
from breachdesk.detect.scanner import Scanner
from breachdesk.engine.scan import _strings

SCANNER = Scanner(default_rules(), b"k" * 32)
CARD = next(i for i, r in enumerate(SCANNER.rules) if r.id == "payment-card")
CARDS = ["4111111111111111", "5500000000000004", "378282246310005", "6011111111111117"]


def _fires(line: bytes) -> bool:
    """Whether the fast pass asks for the card rule on this line: the raw bytes' triggers,
    then (where an escape, percent or base64 trigger fired) the decoded strings', as the
    scan does."""
    ids = SCANNER.triggers(line + b"\n").get(0, set())
    wanted = SCANNER.wanted(ids, _strings(orjson.loads(line)))
    return CARD in wanted.rules


def _finds(field: str, value: object) -> bool:
    return any(h.kind.value == "payment_card" for h in SCANNER.scan_value(field, value))


_piece = st.one_of(
    st.sampled_from(CARDS),
    st.sampled_from([c[:4] + " " + c[4:8] + " " + c[8:12] + " " + c[12:] for c in CARDS]),
    st.sampled_from([c[:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:] for c in CARDS]),
    st.text("0123456789", min_size=1, max_size=20),
    st.sampled_from([" ", "-", "_", "x", "a-", '"', "'", "(", ":", "=", "/", "#", "é", "\n"]),
)


@settings(max_examples=400, deadline=None)
@given(pieces=st.lists(_piece, min_size=1, max_size=6),
       field=st.sampled_from(["q", "search", "note", "event_params.value"]),
       shape=st.sampled_from(["top", "nested", "list", "json_in_string"]))  # fmt: skip
def test_the_fast_pass_fires_wherever_the_rule_finds_a_card(
    pieces: list[str], field: str, shape: str
) -> None:
    value = "".join(pieces)
    record: object = {field: value}
    if shape == "nested":
        record = {"properties": {field: value}}
    elif shape == "list":
        record = {"items": [value, "x"]}
    elif shape == "json_in_string":
        record = {"payload": orjson.dumps({field: value}).decode()}
    line = orjson.dumps(record)
    inner = orjson.dumps({field: value}).decode() if shape == "json_in_string" else value
    if _finds(field, inner):
        assert _fires(line), line


def test_what_it_no_longer_fires_on() -> None:
    ga4 = b'{"event_timestamp":"1714521600000000","user_id":"u1","event_name":"page_view"}'
    uuid = b'{"person_id":"0190f3a1-0001-7000-8000-000000000001"}'
    assert not _fires(ga4) and not _fires(uuid)
    assert not _finds("event_timestamp", "1714521600000000")
    assert not _finds("person_id", "0190f3a1-0001-7000-8000-000000000001")
    # the same digits as text, or in a field named for cards, still fire and are found
    assert _fires(b'{"q":"4111111111111111 refund"}') and _finds("q", "4111111111111111 refund")
    assert _fires(b'{"card_number":"4111111111111111"}')
    assert _finds("card_number", "4111111111111111")
    assert _fires(b'{"q":"paid 4111-1111-1111-1111"}') and _fires(b'{"q":"-4111 1111 1111 1111"}')
