"""The minimising relay: an ASGI app between an analytics SDK and its vendor.

``POST /v/<vendor>/<endpoint>`` takes what the SDK sends (Mixpanel's and Segment's HTTP protocols:
``protocols.py``), keeps only what
the vendor's flows allow (default deny), answers the way the vendor would, and hands the
rest to the forwarder. ``GET /metrics`` serves the Prometheus counters, ``GET /healthz``
each vendor's state. The relay watches vendors.yaml: a vendor cut there forwards nothing
from the next poll on (a tenth of a second by default), while SDKs still get their 2xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx2 as httpx
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from breachdesk.errors import SettingsError
from breachdesk.vendors.forward import ForwardSettings, VendorLane
from breachdesk.vendors.inventory import load_inventory
from breachdesk.vendors.keys import vendor_key
from breachdesk.vendors.metrics import RelayMetrics
from breachdesk.vendors.model import Inventory, Vendor
from breachdesk.vendors.observed import FieldObserver
from breachdesk.vendors.policy import Tally, VendorPolicy
from breachdesk.vendors.protocols import Answer, PayloadError, get_protocol
from breachdesk.vendors.spool import Spool

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
log = logging.getLogger("breachdesk.relay")
OBSERVE_ALL = 200  # requests per vendor whose fields are all observed, then one in…
OBSERVE_EVERY = 8


@dataclass(frozen=True)
class RelayConfig:
    inventory: Path
    state: Path  # the spool and observed.json live here
    max_body: int = 1 << 20  # bytes, after decompression too
    max_events: int = 2000  # items in one request
    watch_seconds: float = 0.1
    observed_seconds: float = 5.0
    forward: ForwardSettings = field(default_factory=ForwardSettings)


def default_state(inventory: Path) -> Path:
    return inventory.resolve().parent / "relay-state"


class Relay:
    """The ASGI app; ``Relay(config)`` reads vendors.yaml at once (bad input fails here)."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self.metrics = RelayMetrics()
        self.observer = FieldObserver()
        self.inventory = load_inventory(config.inventory)
        self.policies: dict[str, VendorPolicy] = {}
        self.lanes: dict[str, VendorLane] = {}
        self.client: httpx.AsyncClient | None = None
        self._stamp = self._file_stamp()
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._requests: dict[str, int] = {}
        config.state.mkdir(parents=True, exist_ok=True)
        os.chmod(config.state, 0o700)
        self._apply(self.inventory)

    # -- configuration ------------------------------------------------------------------

    def _file_stamp(self) -> tuple[int, int, int]:
        try:
            st = os.stat(self.config.inventory)
        except OSError:
            return (0, 0, 0)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _apply(self, inventory: Inventory) -> None:
        self.inventory = inventory
        relayed = {v.id: v for v in inventory.vendors if v.protocol and v.upstream}
        for vendor_id in set(self.policies) - set(relayed):
            del self.policies[vendor_id]  # gone from the file: forward nothing
            if vendor_id in self.lanes:
                self.lanes[vendor_id].cut()
        for vendor in relayed.values():
            self.policies[vendor.id] = VendorPolicy(
                vendor, vendor_key(self.config.inventory, vendor.id)
            )
            self.metrics.cut.labels(vendor.id).set(1 if vendor.cut else 0)
            lane = self.lanes.get(vendor.id)
            if lane is None and self._started:
                lane = self._lane(vendor)
            if lane is None:
                continue
            lane.upstream = vendor.upstream or lane.upstream
            if vendor.cut and lane.active:
                lane.cut()
                log.warning("relay: %s is cut off: forwarding nothing", vendor.id)
            elif not vendor.cut and not lane.active:
                lane.restore()
                log.warning("relay: %s is restored: forwarding again", vendor.id)

    def _lane(self, vendor: Vendor) -> VendorLane:
        assert self.client is not None and vendor.protocol and vendor.upstream
        spool = Spool(self.config.state / "spool" / vendor.id, self.config.forward.spool_max_bytes)
        lane = VendorLane(
            vendor.id, get_protocol(vendor.protocol), vendor.upstream, spool, self.client,
            self.metrics, self.config.forward,
        )  # fmt: skip
        if vendor.cut:
            lane.cut()
        lane.start()
        self.lanes[vendor.id] = lane
        return lane

    def reload(self) -> bool:
        """Read vendors.yaml again if it changed; a file that does not validate is refused
        (counted and logged) and the relay keeps the last good one."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            inventory = load_inventory(self.config.inventory)
        except SettingsError as exc:
            self.metrics.config_errors.inc()
            log.warning("relay: vendors.yaml refused, keeping the last good one: %s", exc)
            return False
        self._apply(inventory)
        return True

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        settings = self.config.forward
        connections = max(8, settings.workers * max(1, len(self.policies)) + 8)
        self.client = httpx.AsyncClient(
            timeout=settings.timeout_seconds,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        for vendor_id in self.policies:
            self._lane(self.policies[vendor_id].vendor)
        self._tasks = [
            asyncio.create_task(self._watch()),
            asyncio.create_task(self._write_observed()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for lane in self.lanes.values():
            await lane.stop()
        if self.client is not None:
            await self.client.aclose()
        self._flush_observed()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.watch_seconds)
            self.reload()

    async def _write_observed(self) -> None:
        while True:
            await asyncio.sleep(self.config.observed_seconds)
            if self.observer.changed:
                self._flush_observed()

    def _flush_observed(self) -> None:
        self.observer.write(self.config.state / "observed.json")

    # -- ASGI ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if not self._started:
            await self.start()
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/v/"):
            vendor_id, _, rest = path[3:].partition("/")
            if method == "OPTIONS":
                await self._preflight(scope, send)
            elif method == "POST":
                await self._ingest(scope, receive, send, vendor_id, rest)
            else:
                await _respond(send, 405, b'{"error":"POST only"}', "application/json")
        elif path == "/metrics" and method == "GET":
            await _respond(send, 200, generate_latest(self.metrics.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz" and method == "GET":
            await _respond(send, 200, orjson.dumps(self.health()), "application/json")
        else:
            await _respond(send, 404, b'{"error":"not found"}', "application/json")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def health(self) -> dict[str, Any]:
        vendors = {}
        for vendor_id, policy in sorted(self.policies.items()):
            lane = self.lanes.get(vendor_id)
            vendors[vendor_id] = {
                "status": policy.vendor.status,
                "queue": lane.queue.qsize() if lane else 0,
                "in_flight": lane.in_flight if lane else 0,
                "spool_bytes": lane.spool.bytes if lane else 0,
                "spool_events": lane.spool.events if lane else 0,
                "spool_full": bool(lane and lane.spool_full),
            }
        return {"status": "ok", "vendors": vendors}

    async def _preflight(self, scope: Scope, send: Send) -> None:
        headers = _headers(scope)
        extra = [
            (b"access-control-allow-methods", b"POST, OPTIONS"),
            (b"access-control-allow-headers",
             headers.get("access-control-request-headers", "content-type").encode("latin-1")),
            (b"access-control-max-age", b"86400"),
        ]  # fmt: skip
        await _respond(send, 204, b"", "text/plain", _cors(headers) + extra)

    async def _ingest(
        self, scope: Scope, receive: Receive, send: Send, vendor_id: str, rest: str
    ) -> None:
        headers = _headers(scope)
        cors = _cors(headers)
        policy = self.policies.get(vendor_id)
        if policy is None or policy.vendor.protocol is None:
            self.metrics.requests.labels("unknown", "unknown_vendor").inc()
            await _respond(send, 404, b'{"error":"unknown vendor"}', "application/json", cors)
            return
        protocol = get_protocol(policy.vendor.protocol)
        endpoint = protocol.endpoint(rest)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if endpoint is None:
            self.metrics.requests.labels(vendor_id, "unknown_endpoint").inc()
            await _respond(send, 404, b'{"error":"unknown endpoint"}', "application/json", cors)
            return

        async def refuse(status: int, reason: str) -> None:
            self.metrics.requests.labels(vendor_id, "rejected").inc()
            self.metrics.rejected.labels(vendor_id, reason).inc()
            answer = protocol.refused(query, status, reason)
            await _answer(send, answer, cors)

        limit = self.config.max_body
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await refuse(413, "too_large")
            return
        body = await _read_body(receive, limit)
        if body is None:
            await refuse(413, "too_large")
            return
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding == "gzip":
            try:
                body = _gunzip(body, limit)
            except zlib.error:
                await refuse(400, "invalid_gzip")
                return
            if body is None:
                await refuse(413, "too_large")
                return
        elif encoding not in ("", "identity"):
            await refuse(415, "unsupported_encoding")
            return
        try:
            items = protocol.parse(endpoint, body, headers.get("content-type", "").lower())
        except PayloadError as exc:
            await refuse(400, f"{exc.reason}: {exc}")
            return
        if len(items) > self.config.max_events:
            await refuse(413, "too_many_events")
            return
        requests = self._requests[vendor_id] = self._requests.get(vendor_id, 0) + 1
        weight = (
            1
            if requests <= OBSERVE_ALL
            else (OBSERVE_EVERY if requests % OBSERVE_EVERY == 0 else 0)
        )
        tally = Tally(observe=weight > 0)
        kept = protocol.minimise(policy, endpoint, items, tally)
        self._count(vendor_id, len(items), tally, weight)
        lane = self.lanes.get(vendor_id)
        if kept and lane is not None:
            lane.submit(protocol.group(endpoint, headers), kept)
        await _answer(send, protocol.accepted(query), cors)

    def _count(self, vendor_id: str, received: int, tally: Tally, weight: int) -> None:
        m = self.metrics
        m.requests.labels(vendor_id, "accepted").inc()
        m.events.labels(vendor_id, "received").inc(received)
        for reason, n in tally.events.items():
            m.dropped_events.labels(vendor_id, reason).inc(n)
        for reason, n in tally.fields.items():
            m.dropped_fields.labels(vendor_id, reason).inc(n)
        if weight:
            self.observer.record(vendor_id, tally.seen, weight)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _cors(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    origin = headers.get("origin")
    if not origin:
        return []
    # the SDK sends its cookies (mixpanel-js sets withCredentials): echo, never "*"
    return [
        (b"access-control-allow-origin", origin.encode("latin-1")),
        (b"access-control-allow-credentials", b"true"),
        (b"vary", b"Origin"),
    ]


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _gunzip(body: bytes, limit: int) -> bytes | None:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    return None if len(out) > limit else out


async def _answer(send: Send, answer: Answer, extra: list[tuple[bytes, bytes]]) -> None:
    await _respond(send, answer.status, answer.body, answer.content_type, extra)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
