"""The relay end to end: a real HTTP client posts what the SDKs send, the relay minimises
and forwards it to a stand-in vendor (a real HTTP server on loopback) that records what
arrives; the vendor down and back, its spool bound, a cut during traffic, bad input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import orjson
import pytest

from breachdesk.services.vendors import check, cut
from breachdesk.vendors.forward import ForwardSettings
from breachdesk.vendors.keys import key_path
from relay_helpers import VENDORS, metric, serve_relay, settled, wait_for, write_vendors
from vendor_standin import StandIn

EMAIL = "alice.adams@example.com"
NAME = "Alice Adams"
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.6099.71 Safari/537.36")  # fmt: skip


def mixpanel_event(i: int = 0, event: str = "Page View") -> dict[str, Any]:
    return {
        "event": event,
        "properties": {
            "token": "project-token",
            "distinct_id": f"user-{i}",
            "$device_id": f"device-{i}",
            "$email": EMAIL,
            "$name": NAME,
            "$current_url": f"https://app.example.com/orgs/12345/members?email={EMAIL}"
            "&utm_source=news&session=Zx81LmQp2RtV9sKw3YhN7cBf4GjD6aEu#top",
            "$referrer": "$direct",
            "$browser": "Chrome",
            "$browser_version": 120.5,
            "ip": "203.0.113.77",
            "$insert_id": f"ins-{i}",
            "secret_note": "not listed anywhere",
            "plan": "team",
        },
    }


def form(events: Any, b64: bool = True) -> bytes:
    data = orjson.dumps(events)
    value = base64.b64encode(data).decode() if b64 else data.decode()
    return ("data=" + quote(value, safe="")).encode()


FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def standin() -> Any:
    server = StandIn().start()
    yield server
    server.stop()


def test_mixpanel_batch_is_minimised_and_forwarded(tmp_path: Path, standin: StandIn) -> None:
    vendors = write_vendors(tmp_path, standin.url)
    with serve_relay(vendors) as (base, _relay):
        batch = [mixpanel_event(i) for i in range(50)]
        r = httpx.post(f"{base}/v/mixpanel/track/?verbose=1&ip=1&_=1", content=form(batch),
                       headers={**FORM, "origin": "https://app.example.com"})  # fmt: skip
        assert r.status_code == 200
        assert r.json() == {"status": 1, "error": None}  # as Mixpanel answers verbose requests
        assert r.headers["access-control-allow-origin"] == "https://app.example.com"
        plain = httpx.post(f"{base}/v/mixpanel/track/", content=form(mixpanel_event(99), False),
                           headers=FORM)  # fmt: skip
        assert plain.text == "1"
        wait_for(lambda: len(standin.events()) == 51)
        assert all(r.path == "/track/" for r in standin.received)
        key = key_path(vendors, "mixpanel").read_bytes()
        first = next(e for e in standin.events() if e["properties"].get("plan"))
        props = first["properties"]
        expected = hmac.new(key, b"user-0", hashlib.sha256).hexdigest()[:32]
        assert props["distinct_id"] == expected
        assert props["$current_url"] == "https://app.example.com/orgs/:id/members?utm_source=news"
        assert props["$referrer"] == "$direct"
        assert props["ip"] == "203.0.113.0"
        assert props["$browser_version"] == 120
        assert props["token"] == "project-token"
        assert set(props) == {"token", "distinct_id", "$device_id", "$current_url", "$referrer",
                              "$browser", "$browser_version", "ip", "plan"}  # fmt: skip
        everything = standin.all_text()
        for secret in (EMAIL, NAME, "Zx81LmQp2RtV9sKw3YhN7cBf4GjD6aEu", "user-0", "device-0",
                       "not listed anywhere", "ins-0"):  # fmt: skip
            assert secret not in everything
        assert metric(base, "breachdesk_relay_dropped_fields_total", vendor="mixpanel",
                      reason="unlisted") == 51 * 3  # fmt: skip
        assert metric(base, "breachdesk_relay_dropped_fields_total", vendor="mixpanel",
                      reason="drop") == 51  # fmt: skip
        assert metric(base, "breachdesk_relay_events_total", vendor="mixpanel",
                      outcome="forwarded") == 51  # fmt: skip
    assert key_path(vendors, "mixpanel").stat().st_mode & 0o777 == 0o600


def test_profiles_and_unknown_events(tmp_path: Path, standin: StandIn) -> None:
    vendors = write_vendors(tmp_path, standin.url)
    with serve_relay(vendors) as (base, _relay):
        update = {"$token": "t", "$distinct_id": "user-1",
                  "$set": {"$email": EMAIL, "$name": NAME, "plan": "pro"}}  # fmt: skip
        r = httpx.post(f"{base}/v/mixpanel/engage/", content=form([update]), headers=FORM)
        assert r.text == "1"
        only_pii = {"$token": "t", "$distinct_id": "user-2", "$set": {"$email": EMAIL}}
        httpx.post(f"{base}/v/mixpanel/engage/", content=form(only_pii), headers=FORM)
        wait_for(lambda: len(standin.events()) == 1)
        wait_for(lambda: settled(base))
        (profile,) = standin.events()
        assert standin.received[0].path == "/engage/"
        assert profile["$set"] == {"plan": "pro"} and len(profile["$distinct_id"]) == 32
        assert metric(base, "breachdesk_relay_dropped_events_total", vendor="mixpanel",
                      reason="empty_update") == 1  # fmt: skip
        # segment's flows name their events: any other is dropped and counted
        msg = {"type": "track", "event": "Exported Data", "userId": "u1", "properties": {}}
        r = httpx.post(f"{base}/v/segment/v1/t", content=orjson.dumps(msg),
                       headers={"content-type": "text/plain"})  # fmt: skip
        assert r.json() == {"success": True}
        assert metric(base, "breachdesk_relay_dropped_events_total", vendor="segment",
                      reason="unknown_event") == 1  # fmt: skip


def test_segment_batch(tmp_path: Path, standin: StandIn) -> None:
    vendors = write_vendors(tmp_path, standin.url)
    with serve_relay(vendors) as (base, _relay):
        page = {"type": "page", "anonymousId": "anon-1", "messageId": "m1",
                "timestamp": "2026-11-30T10:00:00Z", "writeKey": "wk",
                "context": {"page": {"url": f"https://app.example.com/u/{EMAIL}?utm_source=x",
                                     "title": "Alice's page"},
                            "userAgent": UA, "ip": "2001:db8:abcd:12::1",
                            "traits": {"email": EMAIL}},
                "properties": {"url": "https://app.example.com/secret"}}  # fmt: skip
        identify = {"type": "identify", "userId": "user-7", "messageId": "m2",
                    "traits": {"email": EMAIL, "name": NAME, "plan": "team"}}  # fmt: skip
        r = httpx.post(f"{base}/v/segment/v1/b",
                       content=orjson.dumps({"batch": [page, identify], "writeKey": "wk"}),
                       headers={"content-type": "text/plain", "authorization": "Basic d2s6"})  # fmt: skip
        assert r.status_code == 200 and r.json() == {"success": True}
        wait_for(lambda: len(standin.events()) == 2)
        received = standin.received[0]
        assert received.path == "/v1/batch" and received.headers["authorization"] == "Basic d2s6"
        first, second = standin.events()
        assert first["context"] == {"page": {"url": "https://app.example.com/u/:id?utm_source=x"},
                                    "userAgent": "Chrome 120", "ip": "2001:db8:abcd::"}  # fmt: skip
        assert "properties" not in first and first["messageId"] == "m1"
        assert second["traits"] == {"plan": "team"} and len(second["userId"]) == 32
        assert EMAIL not in standin.all_text() and NAME not in standin.all_text()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"data=%%%not-base64!!", "invalid_base64"),
        (b"data=eyJub3QganNvbg", "invalid_json"),
        (b"data=" + base64.b64encode(b"[1, 2]"), "not_an_object"),
        (b"other=1", "no_data"),
        (b"data=\xff\xfe", "invalid_utf8"),
    ],
)
def test_malformed_payloads_get_400_with_a_reason(
    tmp_path: Path, standin: StandIn, body: bytes, reason: str
) -> None:
    vendors = write_vendors(tmp_path, standin.url)
    with serve_relay(vendors) as (base, _relay):
        r = httpx.post(f"{base}/v/mixpanel/track/", content=body, headers=FORM)
        assert r.status_code == 400
        assert r.json()["error"].startswith(reason)
        assert metric(base, "breachdesk_relay_rejected_requests_total", vendor="mixpanel") == 1
        bad = httpx.post(f"{base}/v/segment/v1/t", content=b"{not json")
        assert bad.status_code == 400 and bad.json()["error"].startswith("invalid_json")
        assert httpx.post(f"{base}/v/nobody/track/", content=b"").status_code == 404
    assert standin.received == []


def test_oversized_bodies_are_refused(tmp_path: Path, standin: StandIn) -> None:
    vendors = write_vendors(tmp_path, standin.url)
    with serve_relay(vendors, max_body=64 * 1024) as (base, _relay):
        big = form([mixpanel_event(i) for i in range(400)])
        assert len(big) > 64 * 1024
        r = httpx.post(f"{base}/v/mixpanel/track/", content=big, headers=FORM)
        assert r.status_code == 413 and "too_large" in r.text

        def chunks() -> Any:
            for _ in range(100):
                yield b"x" * 1024  # no content-length: read until the bound, then refused

        r = httpx.post(f"{base}/v/mixpanel/track/", content=chunks(), headers=FORM)
        assert r.status_code == 413
        assert metric(base, "breachdesk_relay_rejected_requests_total", vendor="mixpanel",
                      reason="too_large") == 2  # fmt: skip
    assert standin.received == []


FAST = ForwardSettings(retries=1, backoff_seconds=0.02, down_seconds=0.3,
                       probe_max_seconds=0.3, timeout_seconds=2.0)  # fmt: skip


def test_vendor_down_then_back(tmp_path: Path) -> None:
    standin = StandIn()  # not started: the vendor is down
    vendors = write_vendors(tmp_path, standin.url)
    with serve_relay(vendors, FAST) as (base, _relay):
        for n in range(20):
            batch = [mixpanel_event(n * 10 + i) for i in range(10)]
            r = httpx.post(f"{base}/v/mixpanel/track/", content=form(batch), headers=FORM)
            assert r.text == "1"  # the SDK is answered at once, whatever the vendor's state
        wait_for(lambda: settled(base))
        health = httpx.get(base + "/healthz").json()["vendors"]["mixpanel"]
        assert health["spool_events"] == 200
        assert len(list((tmp_path / "relay-state" / "spool" / "mixpanel").glob("*.req"))) > 0
        standin.start()
        try:
            wait_for(lambda: len(standin.events()) == 200, timeout=20)
            ids = {e["properties"]["distinct_id"] for e in standin.events()}
            assert len(ids) == 200  # each event once
            wait_for(lambda: httpx.get(base + "/healthz").json()["vendors"]["mixpanel"][
                "spool_events"] == 0)  # fmt: skip
        finally:
            standin.stop()


def test_spool_bound_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    standin = StandIn()
    vendors = write_vendors(tmp_path, standin.url)
    small = ForwardSettings(retries=0, backoff_seconds=0.01, down_seconds=5,
                            spool_max_bytes=64 * 1024)  # fmt: skip
    with serve_relay(vendors, small) as (base, _relay):
        for n in range(40):
            batch = [mixpanel_event(n * 10 + i) for i in range(10)]
            httpx.post(f"{base}/v/mixpanel/track/", content=form(batch), headers=FORM)
        wait_for(lambda: settled(base))
        health = httpx.get(base + "/healthz").json()["vendors"]["mixpanel"]
        assert health["spool_full"] is True and health["spool_bytes"] <= 64 * 1024
        dropped = metric(base, "breachdesk_relay_dropped_events_total", vendor="mixpanel",
                         reason="spool_full")  # fmt: skip
        spooled = metric(base, "breachdesk_relay_events_total", vendor="mixpanel",
                         outcome="spooled")  # fmt: skip
        assert dropped > 0 and dropped + spooled == 400
        assert metric(base, "breachdesk_relay_spool_full", vendor="mixpanel") == 1
    assert any("reached its bound" in r.getMessage() for r in caplog.records)


def test_cut_during_traffic(tmp_path: Path, standin: StandIn) -> None:
    vendors = write_vendors(tmp_path, standin.url)
    answers: list[int] = []
    stop = threading.Event()

    def traffic(base: str) -> None:
        with httpx.Client() as client:
            n = 0
            while not stop.is_set():
                r = client.post(f"{base}/v/mixpanel/track/",
                                content=form([mixpanel_event(n + i) for i in range(5)]),
                                headers=FORM)  # fmt: skip
                answers.append(r.status_code)
                n += 5

    with serve_relay(vendors) as (base, _relay):
        sender = threading.Thread(target=traffic, args=(base,))
        sender.start()
        try:
            wait_for(lambda: len(standin.events()) > 50)
            result = cut(vendors, "mixpanel", "vendor breached", "test")
            assert result.changed
            time.sleep(0.3)  # the relay polls vendors.yaml every 0.1 s
            arrived = len(standin.received)
            sent_before = len(answers)
            time.sleep(1.0)
            assert len(answers) > sent_before + 10  # traffic went on, answered 2xx
            assert len(standin.received) == arrived  # and nothing more reached the vendor
            assert httpx.get(base + "/healthz").json()["vendors"]["mixpanel"]["status"] == "cut"
        finally:
            stop.set()
            sender.join()
        assert set(answers) == {200}
        assert metric(base, "breachdesk_relay_dropped_events_total", vendor="mixpanel",
                      reason="cut") > 0  # fmt: skip
    before = VENDORS.format(upstream=standin.url)
    # one value changed, every comment and space kept
    assert vendors.read_text() == before.replace(
        "status: active                     # active | cut",
        "status: cut                     # active | cut",
    )


def test_observed_fields_feed_vendors_check(tmp_path: Path, standin: StandIn) -> None:
    vendors = write_vendors(tmp_path, standin.url)
    with serve_relay(vendors) as (base, _relay):
        httpx.post(f"{base}/v/mixpanel/track/", content=form([mixpanel_event(1)]), headers=FORM)
        wait_for(lambda: (tmp_path / "relay-state" / "observed.json").exists())
    report = check(vendors)
    fields = {(u.vendor, u.field): u.category for u in report.undeclared}
    assert fields[("mixpanel", "$email")] == "user.contact.email"
    assert fields[("mixpanel", "$name")] == "user.name"
    emails = {(c.vendor, c.category, c.source): c.fields for c in report.categories}
    assert emails[("mixpanel", "user.contact.email", "relay")] == (("$email", 1, "requests"),)
    assert ("mixpanel", "distinct_id") not in fields
