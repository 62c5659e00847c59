"""The scan against its reference on every vendor's record shapes: nested identity paths,
``*`` paths, lists under identity and org keys, GA4's typed key/value arrays, PostHog's
anonymous ``distinct_id`` and elements chain, ``$device:`` ids, country names and codes, ISO
and microsecond times — the fast path and the plain statement agree on all of it."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachdesk.engine.aggregate import UnitResult
from breachdesk.engine.reference import reference_scan
from breachdesk.engine.scan import ScanConfig, Worker, scan_with
from breachdesk.sources.framing import LineBlock
from breachdesk.sources.registry import readers
from test_scan_reference import assert_same

CONFIG = ScanConfig(keys={r.name: r.keys for r in readers()}, hmac_key=b"k" * 32, max_record=8192)
FAST = Worker(CONFIG)
REFERENCE = Worker(CONFIG)

IDS = st.sampled_from(
    ["u1", "u2", "42", "dev-1", "dev-2", "ann@example.org", " BOB@Example.org ",
     "$device:dev-1", "5f4dcc3b5aa765d61d8327deb882cf99", ""]
)  # fmt: skip
VALUE = st.one_of(
    IDS, st.integers(0, 50), st.none(), st.lists(IDS, max_size=3), st.booleans(), st.just({})
)
COUNTRY = st.sampled_from(
    ["US", "uk", "United States", "Germany", "Atlantis", "(not set)", "", "Côte d’Ivoire"]
)
TIME = st.one_of(
    st.sampled_from(["2024-05-01T12:00:00.000Z", "2024-05-01 13:00:00.123000", "yesterday"]),
    st.sampled_from(["1714560000123456", 1714560000123456]),
    st.none(),
)
CHAINS = [
    "",
    'a.x:href="/r?reset_token=Zx81LmQp2RtV9sKw3YhN7cBf"text="Go \\"now\\""',
    'button:text="4111 1111 1111 1111"nth-child="1";div:attr__class="c"',
]
URL = st.sampled_from(
    ["https://a.example/reset?reset_token=Zx81LmQp2RtV9sKw3YhN7cBf", "https://a.example/x", ""]
)


@st.composite
def segment(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "type": draw(st.sampled_from(["track", "identify", "page"])),
        "messageId": "m1",
        "userId": draw(VALUE),
        "previousId": draw(VALUE),
        "anonymousId": draw(VALUE),
        "traits": {"email": draw(VALUE), "company": {"id": draw(VALUE)}},
        "context": {
            "traits": {"email": draw(VALUE)},
            "device": {"id": draw(VALUE)},
            "groupId": draw(VALUE),
            "location": {"country": draw(COUNTRY)},
            "page": {"url": draw(URL)},
        },
        "properties": {"email": draw(VALUE)},
        "timestamp": draw(TIME),
    }


@st.composite
def amplitude(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "event_type": "e",
        "user_id": draw(VALUE),
        "device_id": draw(VALUE),
        "amplitude_id": draw(st.one_of(st.integers(1, 3), st.none())),
        "user_properties": {"email": draw(VALUE)},
        "groups": draw(st.dictionaries(st.sampled_from(["company", "team"]), VALUE, max_size=2)),
        "country": draw(COUNTRY),
        "event_properties": {"[Amplitude] Page URL": draw(URL)},
        "event_time": draw(TIME),
    }


@st.composite
def posthog(draw: st.DrawFn) -> dict[str, Any]:
    device = draw(VALUE)
    return {
        "uuid": "e1",
        "event": "$autocapture",
        "distinct_id": device if draw(st.booleans()) else draw(VALUE),
        "person_id": draw(VALUE),
        "properties": {
            "$device_id": device,
            "$groups": {"company": draw(VALUE)},
            "$set": {"email": draw(VALUE)},
            "email": draw(VALUE),
            "$geoip_country_code": draw(COUNTRY),
            "$current_url": draw(URL),
        },
        "person_properties": {"email": draw(VALUE)},
        "elements_chain": draw(st.sampled_from(CHAINS)),
        "timestamp": draw(TIME),
    }


def _param(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"key": key, "value": {"int_value": str(value), "string_value": None}}
    return {"key": key, "value": {"string_value": value}}


@st.composite
def ga4(draw: st.DrawFn) -> dict[str, Any]:
    keys = st.sampled_from(["org_id", "company_id", "page_location", "ga_session_id"])
    params = draw(st.lists(st.tuples(keys, st.one_of(IDS, st.integers(0, 9), URL)), max_size=4))
    return {
        "event_name": "page_view",
        "event_timestamp": draw(TIME),
        "user_id": draw(VALUE),
        "user_pseudo_id": draw(VALUE),
        "event_params": [_param(k, v) for k, v in params],
        "user_properties": [_param("plan", draw(IDS))],
        "geo": {"country": draw(COUNTRY)},
    }


SHAPES = {
    "segment.messages": segment(),
    "amplitude.events": amplitude(),
    "posthog.events": posthog(),
    "ga4.events": ga4(),
}


def _both(reader: str, records: list[dict[str, Any]]) -> tuple[UnitResult, UnitResult]:
    data = b"\n".join(orjson.dumps(r) for r in records) + b"\n"
    unit = LineBlock(0, reader, 1, data)
    return scan_with(FAST, unit), reference_scan(REFERENCE, unit)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_scan_equals_reference_for_every_vendor(data: st.DataObject) -> None:
    for reader, shape in SHAPES.items():
        records = data.draw(st.lists(shape, min_size=1, max_size=12), label=reader)
        fast, ref = _both(reader, records)
        assert_same(fast, ref)
        assert fast.country_unmapped == ref.country_unmapped


def test_posthog_anonymous_distinct_id_is_the_device() -> None:
    """distinct_id equal to $device_id is a device id; another distinct_id is a user id."""
    anonymous = {"uuid": "1", "event": "e", "distinct_id": "d9", "properties": {"$device_id": "d9"}}
    known = {"uuid": "2", "event": "e", "distinct_id": "u1", "properties": {"$device_id": "d9"}}
    fast, _ = _both("posthog.events", [anonymous, known])
    assert fast.anonymous == 1
    import pyarrow as pa

    rows = pa.ipc.open_stream(fast.pairs).read_all().to_pylist()
    signatures = {row["signature"] for row in rows}
    assert signatures == {
        '[["device_id","posthog:d9"]]',
        '[["device_id","posthog:d9"],["user_id","u1"]]',
    }


def test_ga4_params_are_plain_fields_and_64_bit_ints_numbers() -> None:
    row = {
        "event_name": "page_view",
        "event_timestamp": "1714560000123456",
        "user_pseudo_id": "123.456",
        "event_params": [
            {"key": "page_location", "value": {"string_value": "https://a.example/p"}},
            {"key": "org_id", "value": {"string_value": None, "int_value": "9007199254740993"}},
        ],
    }
    fast, _ = _both("ga4.events", [row])
    assert set(fast.present) >= {"event_params.page_location", "event_params.org_id"}
    assert fast.samples["event_params.org_id"] == [9007199254740993]
    assert fast.org_ids == {"9007199254740993"}
    assert fast.time_first == 1714560000.123456
