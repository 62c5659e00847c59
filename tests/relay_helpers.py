"""Helpers of the relay tests: a vendors.yaml pointing at a stand-in, and the relay served
by uvicorn on a free loopback port in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import uvicorn

from breachdesk.vendors.forward import ForwardSettings
from breachdesk.vendors.relay import Relay, RelayConfig
from vendor_standin import free_port

VENDORS = """\
schema: breachdesk.vendors/1
company: Example   # the company whose users these are
vendors:
  - id: mixpanel                      # product analytics, through the relay
    name: Mixpanel, Inc.
    purpose: product analytics
    owner: growth
    tier: 1
    dpa: signed
    locations: [US]
    breach_contact: security@vendor.example
    last_review: 2026-06-01
    hosts: [api-js.mixpanel.com, cdn.mxpnl.com]
    upstream: {upstream}
    protocol: mixpanel
    status: active                     # active | cut
    flows:
      - surface: browser
        events: ["*"]
        fields:
          distinct_id: pseudonymise
          $device_id: pseudonymise
          $user_id: pseudonymise
          $current_url: strip_query
          $referrer: strip_query
          $browser: keep
          $browser_version: coarsen_ua
          $os: keep
          mp_lib: keep
          plan: keep
          ip: truncate_ip
          $insert_id: drop
        keep_query: [utm_source, utm_medium, utm_campaign]
  - id: segment
    name: Segment
    purpose: customer data platform
    owner: data
    tier: 2
    dpa: missing
    locations: [US, IE]
    breach_contact: security@segment.example
    last_review: 2025-01-15
    hosts: [cdn.segment.com, api.segment.io]
    upstream: {upstream}
    protocol: segment
    status: active
    flows:
      - surface: browser
        events: [Signed Up, Page Viewed, page, identify]
        fields:
          userId: pseudonymise
          anonymousId: pseudonymise
          context.page.url: strip_query
          context.userAgent: coarsen_ua
          context.ip: truncate_ip
          properties.plan: keep
          traits.plan: keep
        keep_query: [utm_source]
  - id: zendesk
    name: Zendesk, Inc.
    purpose: support desk
    owner: support
    tier: 2
    dpa: signed
    locations: [US]
    breach_contact: security@zendesk.example
    last_review: 2026-03-01
    hosts: [static.zdassets.com]
    status: active
    flows:
      - surface: server
        events: ["*"]
        fields:
          email: keep
          name: keep
"""


def write_vendors(folder: Path, upstream: str) -> Path:
    path = folder / "vendors.yaml"
    path.write_text(VENDORS.format(upstream=upstream), encoding="utf-8")
    return path


@contextmanager
def serve_relay(
    vendors: Path, settings: ForwardSettings | None = None, max_body: int = 1 << 20
) -> Iterator[tuple[str, Relay]]:
    relay = Relay(
        RelayConfig(vendors, vendors.parent / "relay-state", max_body=max_body,
                    forward=settings or ForwardSettings(), observed_seconds=0.5)
    )  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(relay, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", relay
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def wait_for(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def settled(base: str) -> bool:
    """Nothing waits in the relay's queues or is on its way to a vendor."""
    health = httpx.get(base + "/healthz").json()
    return all(v["queue"] == 0 and v.get("in_flight", 0) == 0 for v in health["vendors"].values())


def metric(base: str, name: str, **labels: str) -> float:
    text = httpx.get(base + "/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line == name or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            found = head[len(name) :].strip("{}")
            parts = dict(p.split("=", 1) for p in found.split(",") if p)
            if all(parts.get(k) == f'"{v}"' for k, v in labels.items()):
                total += float(value)
    del want
    return total
