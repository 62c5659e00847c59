"""Forwarding minimised items to vendors: per vendor a bounded queue in memory, workers
that coalesce items into the protocol's batches and send them through one pooled httpx
client with retries, and a bounded on-disk spool for when the vendor is down.

A request that keeps failing marks the vendor down for a while: its batches then go
straight to the spool, and one prober resends the spool oldest first until the vendor
answers again. A vendor that is cut off forwards nothing: what waits in its queue and
spool is dropped (and counted), and nothing more is sent from the moment it is cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx

from breachdesk.vendors.metrics import RelayMetrics
from breachdesk.vendors.protocols import IngestProtocol, UpstreamRequest
from breachdesk.vendors.spool import Spool

log = logging.getLogger("breachdesk.relay")


@dataclass(frozen=True)
class ForwardSettings:
    queue_batches: int = 2000  # batches in memory per vendor before they go to the spool
    workers: int = 8  # concurrent upstream requests per vendor
    retries: int = 2  # tries after the first, before a batch is spooled
    backoff_seconds: float = 0.1  # doubled at each retry
    down_seconds: float = 2.0  # how long a vendor that keeps failing is left alone
    probe_max_seconds: float = 5.0  # longest wait between two tries of the spool
    timeout_seconds: float = 5.0
    spool_max_bytes: int = 256 << 20


@dataclass
class _Pending:
    group: tuple[str, ...]
    items: list[dict[str, Any]]


class VendorLane:
    """One vendor's queue, workers, spool and state."""

    def __init__(
        self,
        vendor: str,
        protocol: IngestProtocol,
        upstream: str,
        spool: Spool,
        client: httpx.AsyncClient,
        metrics: RelayMetrics,
        settings: ForwardSettings,
    ) -> None:
        self.vendor = vendor
        self.protocol = protocol
        self.upstream = upstream
        self.spool = spool
        self.client = client
        self.metrics = metrics
        self.settings = settings
        self.queue: asyncio.Queue[_Pending] = asyncio.Queue(settings.queue_batches)
        self.active = True
        self.down_until = 0.0
        self.spool_full = False
        self.in_flight = 0  # batches taken from the queue and not yet sent or spooled
        self.tasks: list[asyncio.Task[None]] = []
        self._events = metrics.events
        self._dropped = metrics.dropped_events
        metrics.spool_bytes.labels(vendor).set(spool.bytes)

    def start(self) -> None:
        for _ in range(self.settings.workers):
            self.tasks.append(asyncio.create_task(self._worker()))
        self.tasks.append(asyncio.create_task(self._prober()))

    async def stop(self) -> None:
        """Stop the workers; what still waits in memory goes to the spool, not lost."""
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
        while not self.queue.empty():
            pending = self.queue.get_nowait()
            if self.active:
                self._to_spool(self.protocol.encode(pending.group, pending.items))

    def submit(self, group: tuple[str, ...], items: list[dict[str, Any]]) -> None:
        """Take minimised items (from a request handler: never waits)."""
        if not self.active:
            self._dropped.labels(self.vendor, "cut").inc(len(items))
            return
        pending = _Pending(group, items)
        if time.monotonic() < self.down_until:
            self._to_spool(self.protocol.encode(group, items))
            return
        try:
            self.queue.put_nowait(pending)
        except asyncio.QueueFull:
            self._to_spool(self.protocol.encode(group, items))

    def cut(self) -> None:
        """Forward nothing from now on; drop (and count) what waits in memory and on disk."""
        self.active = False
        waiting = 0
        while not self.queue.empty():
            waiting += len(self.queue.get_nowait().items)
        waiting += self.spool.purge()
        if waiting:
            self._dropped.labels(self.vendor, "cut").inc(waiting)
        self._gauges()

    def restore(self) -> None:
        self.active = True
        self.down_until = 0.0

    def _gauges(self) -> None:
        self.metrics.queue.labels(self.vendor).set(self.queue.qsize())
        self.metrics.spool_bytes.labels(self.vendor).set(self.spool.bytes)
        self.metrics.spool_full.labels(self.vendor).set(1 if self.spool_full else 0)

    def _to_spool(self, request: UpstreamRequest) -> None:
        if self.spool.put(request):
            self._events.labels(self.vendor, "spooled").inc(request.events)
            if self.spool_full and self.spool.bytes < self.spool.max_bytes * 0.9:
                self.spool_full = False
                log.warning("relay: the spool of %s has room again", self.vendor)
        else:
            self._dropped.labels(self.vendor, "spool_full").inc(request.events)
            if not self.spool_full:
                self.spool_full = True
                log.warning(
                    "relay: the spool of %s reached its bound (%d bytes): events are dropped "
                    "until the vendor answers again",
                    self.vendor,
                    self.spool.max_bytes,
                )
        self._gauges()

    async def _worker(self) -> None:
        carry: _Pending | None = None
        limit = self.protocol.max_batch
        while True:
            if carry is None:
                pending = await self.queue.get()
                self.in_flight += 1
            else:
                pending, carry = carry, None
            taken = 1
            items = list(pending.items)
            while len(items) < limit and not self.queue.empty():
                following = self.queue.get_nowait()
                self.in_flight += 1
                if following.group == pending.group and len(items) + len(following.items) <= limit:
                    items.extend(following.items)
                    taken += 1
                else:
                    carry = following
                    break
            try:
                await self._send_items(pending.group, items)
            finally:
                self.in_flight -= taken

    async def _send_items(self, group: tuple[str, ...], items: list[dict[str, Any]]) -> None:
        if not self.active:
            self._dropped.labels(self.vendor, "cut").inc(len(items))
            return
        for request in self._requests(group, items):
            if time.monotonic() < self.down_until:
                self._to_spool(request)
            elif not await self._deliver(request, self.settings.retries):
                self.down_until = time.monotonic() + self.settings.down_seconds
                if self.active:
                    self._to_spool(request)

    def _requests(
        self, group: tuple[str, ...], items: list[dict[str, Any]]
    ) -> list[UpstreamRequest]:
        """Upstream requests within the protocol's item and byte bounds."""
        found = []
        for chunk in _chunks(items, self.protocol.max_batch):
            request = self.protocol.encode(group, chunk)
            if len(request.body) > self.protocol.max_bytes and len(chunk) > 1:
                half = len(chunk) // 2
                found += self._requests(group, list(chunk[:half]))
                found += self._requests(group, list(chunk[half:]))
            else:
                found.append(request)
        return found

    async def _deliver(self, request: UpstreamRequest, retries: int) -> bool:
        """Send one request; True once the vendor took it (or refused it for good, or the
        vendor was cut meanwhile), False when it should be kept for later."""
        headers = dict(request.headers)
        for attempt in range(retries + 1):
            if not self.active:
                self._dropped.labels(self.vendor, "cut").inc(request.events)
                return True
            try:
                response = await self.client.post(
                    self.upstream + request.path, content=request.body, headers=headers
                )
            except httpx.TransportError:
                status = 0
            else:
                status = response.status_code
            if 200 <= status < 300:
                self.metrics.upstream.labels(self.vendor, "ok").inc()
                self._events.labels(self.vendor, "forwarded").inc(request.events)
                return True
            if status and status != 429 and status < 500:
                self.metrics.upstream.labels(self.vendor, "refused").inc()
                self._dropped.labels(self.vendor, "upstream_refused").inc(request.events)
                return True
            self.metrics.upstream.labels(self.vendor, "failed").inc()
            if attempt < retries:
                await asyncio.sleep(self.settings.backoff_seconds * 2**attempt)
        return False

    async def _prober(self) -> None:
        """Resend the spool, oldest first, whenever it holds something."""
        delay = 0.2
        while True:
            await asyncio.sleep(delay)
            self._gauges()
            if not self.active or not self.spool.files:
                delay = 0.2
                continue
            found = self.spool.oldest()
            if found is None:
                continue
            path, request = found
            if await self._deliver(request, 0):
                self.spool.remove(path)
                self.down_until = 0.0
                delay = 0.0
            else:
                self.down_until = time.monotonic() + self.settings.down_seconds
                delay = min(max(delay * 2, 0.5), self.settings.probe_max_seconds)


def _chunks(items: Sequence[dict[str, Any]], size: int) -> list[Sequence[dict[str, Any]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
