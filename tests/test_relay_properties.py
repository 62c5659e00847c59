"""Property: whatever an SDK posts, no email address, no name and no unlisted field ever
reaches the vendor (a stand-in on loopback recording everything that arrives)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay_helpers import serve_relay, settled, wait_for, write_vendors
from vendor_standin import StandIn

LISTED = {"distinct_id", "$device_id", "$user_id", "$current_url", "$referrer", "$browser",
          "$browser_version", "$os", "mp_lib", "plan", "ip"}  # fmt: skip
NAME_FIELDS = ["$name", "name", "$first_name", "last_name", "full_name", "display_name"]
EMAIL_FIELDS = ["$email", "email", "e-mail", "user_email", "contact"]

emails = st.emails().map(lambda e: e.lower())
markers = st.integers(0, 10**9).map(lambda n: f"Zq{n:09d}")
names = st.tuples(st.sampled_from(["Alice", "Bogdan", "Chiara", "Daniel"]), markers).map(
    lambda t: f"{t[0]} {t[1]}"
)


def url_with(email: str, param: str) -> str:
    path = quote(email) if len(email) % 2 else email
    return f"https://app.example.com/u/{path}?{param}={email}&utm_medium=x#{email}"


params = st.sampled_from(["q", "email", "utm_source", "next"])
urls = st.builds(url_with, emails, params)
scalars = st.one_of(
    st.text(max_size=30), st.integers(-(2**63), 2**63 - 1), st.booleans(), st.none(), emails, urls
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)  # fmt: skip


@st.composite
def events(draw: Any) -> tuple[dict[str, Any], list[str], list[str], list[str]]:
    """One event, and the emails, names and unlisted field names planted in it."""
    planted_emails: list[str] = []
    planted_names: list[str] = []
    unlisted: list[str] = []
    props: dict[str, Any] = {"token": "tok"}
    for field in draw(st.lists(st.sampled_from(sorted(LISTED)), max_size=6, unique=True)):
        kind = draw(st.sampled_from(["email", "url", "value"]))
        if kind == "email":
            email = draw(emails)
            planted_emails.append(email)
            props[field] = draw(st.sampled_from([email, f"x {email} y", [email], {"k": email}]))
        elif kind == "url":
            email = draw(emails)
            planted_emails.append(email)
            props[field] = url_with(email, draw(params))
        else:
            props[field] = draw(values)
    for field in draw(st.lists(st.sampled_from(EMAIL_FIELDS), max_size=2, unique=True)):
        email = draw(emails)
        planted_emails.append(email)
        props[field] = email
    for field in draw(st.lists(st.sampled_from(NAME_FIELDS), max_size=2, unique=True)):
        name = draw(names)
        planted_names.append(name)
        props[field] = name
    for marker in draw(st.lists(markers, max_size=3, unique=True)):
        field = f"custom_{marker}"
        unlisted.append(field)
        props[field] = draw(st.one_of(markers, values))
    event = draw(st.one_of(st.sampled_from(["Page View", "Sign In"]), emails))
    if "@" in event:
        planted_emails.append(event)
    return {"event": event, "properties": props}, planted_emails, planted_names, unlisted


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, StandIn]]:
    vendor = StandIn().start()
    vendors = write_vendors(tmp_path_factory.mktemp("prop"), vendor.url)
    with serve_relay(vendors) as (base, _app):
        yield base, vendor
    vendor.stop()


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(batch=st.lists(events(), min_size=1, max_size=5), b64=st.booleans())
def test_no_email_name_or_unlisted_field_reaches_the_vendor(
    relay: tuple[str, StandIn], batch: list[Any], b64: bool
) -> None:
    base, vendor = relay
    with vendor.lock:
        vendor.received.clear()
    data = orjson.dumps([e for e, _, _, _ in batch])
    value = base64.b64encode(data).decode() if b64 else data.decode()
    r = httpx.post(f"{base}/v/mixpanel/track/", content=b"data=" + quote(value, safe="").encode(),
                   headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 200
    wait_for(lambda: settled(base))
    text = vendor.all_text().lower()
    for _, planted_emails, planted_names, unlisted in batch:
        for email in planted_emails:
            assert email.lower() not in text
        for name in planted_names:
            assert name.lower() not in text
        for field in unlisted:
            assert field.lower() not in text
    for event in vendor.events():
        assert set(event["properties"]) <= LISTED | {"token"}


SEGMENT_LISTED = {"userId", "anonymousId", "context.page.url", "context.userAgent",
                  "context.ip", "properties.plan", "traits.plan"}  # fmt: skip
ENVELOPE = {"type", "event", "messageId", "timestamp", "writeKey"}


def _leaves(node: Any, prefix: str = "") -> set[str]:
    """Dotted paths down to a listed field (whose value passes whole) or a leaf."""
    if prefix[:-1] in SEGMENT_LISTED:
        return {prefix[:-1]}
    if isinstance(node, dict) and node:
        return {leaf for k, v in node.items() for leaf in _leaves(v, f"{prefix}{k}.")}
    return {prefix[:-1]}


@st.composite
def segment_messages(draw: Any) -> tuple[dict[str, Any], list[str]]:
    """One analytics.js message with emails and names planted in listed and unlisted paths."""
    planted: list[str] = []

    def pii() -> str:
        value = draw(st.one_of(emails, names))
        planted.append(value)
        return value

    kind = draw(st.sampled_from(["track", "page", "identify"]))
    msg: dict[str, Any] = {"type": kind, "messageId": "m", "userId": draw(st.one_of(emails, markers)),
                           "anonymousId": draw(markers)}  # fmt: skip
    if "@" in msg["userId"]:
        planted.append(msg["userId"])
    if kind == "track":
        msg["event"] = draw(st.sampled_from(["Signed Up", "Exported"]))
    msg["context"] = {"page": {"url": url_with(pii(), draw(params)), "title": pii()},
                      "userAgent": draw(st.text(max_size=20)) if draw(st.booleans()) else pii(),
                      "ip": draw(st.sampled_from(["203.0.113.9", "2001:db8::1", "x"])),
                      "traits": {"email": pii(), "name": pii()}}  # fmt: skip
    msg["traits"] = {"email": pii(), "plan": draw(st.one_of(markers, emails)),
                     draw(markers): pii()}  # fmt: skip
    if "@" in str(msg["traits"]["plan"]):
        planted.append(msg["traits"]["plan"])
    msg["properties"] = {"plan": draw(values), "name": pii(), "url": url_with(pii(), "q")}
    return msg, planted


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(batch=st.lists(segment_messages(), min_size=1, max_size=4))
def test_segment_batches_leak_nothing(relay: tuple[str, StandIn], batch: list[Any]) -> None:
    base, vendor = relay
    with vendor.lock:
        vendor.received.clear()
    body = orjson.dumps({"batch": [m for m, _ in batch], "writeKey": "wk"})
    r = httpx.post(f"{base}/v/segment/v1/b", content=body, headers={"content-type": "text/plain"})
    assert r.status_code == 200
    wait_for(lambda: settled(base))
    text = vendor.all_text().lower()
    for _, planted in batch:
        for value in planted:
            assert value.lower() not in text
    for message in vendor.events():
        assert _leaves(message) <= SEGMENT_LISTED | ENVELOPE
