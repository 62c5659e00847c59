"""A sending campaign: lease a batch from the outbox, prepare it (compose, lint, sign),
hand each message to the mailer at the configured pace, and record every attempt.

Results are recorded a few at a time (one transaction per group of in-flight sends), so a
process killed at any moment has sent, unrecorded, at most one group: those notices are
sent again, each with its fixed Message-ID. Batch-level events (leased, done with the hash
of its attempt rows, paused, resumed) go to the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_hex

from breachdesk.domain.identity import mask_addresses
from breachdesk.errors import DeliveryError
from breachdesk.notify.compose import Context
from breachdesk.notify.mailer import Mailer, Pacer, Reply
from breachdesk.notify.prepare import Prepared, Preparer, helper_pool, prepare_batch
from breachdesk.settings import NotifySettings
from breachdesk.store import Store, append_event, outbox

MAX_BACKOFF = 6 * 3600.0


@dataclass
class SendSummary:
    outcomes: Counter[str] = field(default_factory=Counter)  # sent | retry | failed | refused
    batches: int = 0
    remaining: int = 0  # still queued when the run ended (retries not yet due, a pause)
    paused: str = ""  # why the run stopped early, if it did


ProgressFn = Callable[[Counter[str]], None]


@dataclass
class Campaign:
    store: Store
    workspace: Path
    context: Context
    selectors: tuple[str, ...]  # DKIM: the RSA selector first, then any second one
    settings: NotifySettings
    mailer: Mailer
    helpers: int = 1  # helper processes that prepare batches; 0 = prepare here
    wait_for_retries: bool = True
    in_flight: int = 8  # sends between two records: at most this many resent after a crash
    progress: ProgressFn | None = None
    worker: str = field(default_factory=outbox.worker_id)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._preparer = Preparer(self.context, self.workspace, self.selectors)
        self._pacer = Pacer(self.settings.per_second, self.settings.per_domain_per_second)
        self._summary = SendSummary()
        self._pool: ProcessPoolExecutor | None = None
        self._lost_in_a_row = 0

    async def run(self) -> SendSummary:
        reclaimed = outbox.reclaim_dead(self.store)
        resumed = reclaimed > 0 or outbox.has_attempts(self.store)
        append_event(
            self.store,
            "notify.campaign_resumed" if resumed else "notify.campaign_started",
            {"worker": self.worker, "leases_reclaimed": reclaimed},
        )
        if self.helpers:
            self._pool = helper_pool(self.helpers, self.context, self.workspace, self.selectors)
        try:
            await self.mailer.open()
            await self._loop()
        except DeliveryError as exc:
            self._summary.paused = str(exc)
        finally:
            outbox.release(self.store, self.worker)
            await self.mailer.close()
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
        self._summary.remaining = outbox.queued_count(self.store)
        if self._summary.paused or self.stop.is_set():
            reason = self._summary.paused or "stopped by the operator"
            self._summary.paused = reason
            append_event(
                self.store,
                "notify.campaign_paused",
                {"worker": self.worker, "reason": reason, **self._counts()},
            )
        else:
            append_event(
                self.store, "notify.campaign_finished", {"worker": self.worker, **self._counts()}
            )
        return self._summary

    def _counts(self) -> dict[str, int]:
        return {**self._summary.outcomes, "remaining": self._summary.remaining}

    async def _loop(self) -> None:
        ahead: tuple[str, list[outbox.Leased], Future[list[Prepared]] | None] | None = None
        while not self.stop.is_set():
            current = ahead or self._lease()
            ahead = None
            if current is None:
                due = outbox.next_due(self.store)
                if due is None or not self.wait_for_retries:
                    return
                await self._sleep(max(0.05, min(due - time.time(), 5.0)))
                continue
            if self._pool is not None:
                ahead = self._lease()  # the helper prepares the next batch meanwhile
            batch, leased, future = current
            prepared = (
                await asyncio.wrap_future(future)
                if future is not None
                else [self._preparer.prepare(item.notice, item.linted) for item in leased]
            )
            await self._send_batch(batch, leased, prepared)
        if ahead is not None:
            outbox.release(self.store, self.worker)

    def _lease(self) -> tuple[str, list[outbox.Leased], Future[list[Prepared]] | None] | None:
        batch = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{token_hex(4)}"
        leased = outbox.lease(
            self.store, self.worker, batch, self.settings.batch, self.settings.lease_seconds
        )
        if not leased:
            return None
        self._summary.batches += 1
        append_event(
            self.store,
            "notify.batch_leased",
            {"batch": batch, "worker": self.worker, "notices": len(leased),
             "first_id": leased[0].notice.id, "last_id": leased[-1].notice.id},
        )  # fmt: skip
        future = None
        if self._pool is not None:
            future = self._pool.submit(
                prepare_batch, [item.notice for item in leased], [item.linted for item in leased]
            )
        return batch, leased, future

    async def _send_batch(
        self, batch: str, leased: list[outbox.Leased], prepared: list[Prepared]
    ) -> None:
        digest = hashlib.sha256()
        counts: Counter[str] = Counter()
        attempts = {item.notice.id: item.attempts for item in leased}
        group = self.in_flight
        lease_started = time.monotonic()
        for start in range(0, len(prepared), group):
            if self.stop.is_set():
                break
            chunk = prepared[start : start + group]
            results = await asyncio.gather(
                *(self._deliver(p, attempts[p.notice_id]) for p in chunk)
            )
            outbox.record(self.store, self.worker, batch, results, digest)
            for r in results:
                counts[r.outcome] += 1
                self._summary.outcomes[r.outcome] += 1
            if self.progress is not None:
                self.progress(self._summary.outcomes)
            if time.monotonic() - lease_started > self.settings.lease_seconds / 2:
                outbox.extend(self.store, self.worker, batch, self.settings.lease_seconds)
                lease_started = time.monotonic()
            if self._lost_in_a_row >= 3 * group:
                raise DeliveryError(
                    f"SMTP {getattr(self.mailer, 'where', 'server')}: {self._lost_in_a_row} "
                    "sends in a row got no reply; the rest stays queued — run send again"
                )
        append_event(
            self.store,
            "notify.batch_done",
            {
                "batch": batch,
                "worker": self.worker,
                **counts,
                "attempts_sha256": digest.hexdigest(),
            },
        )

    async def _deliver(self, item: Prepared, attempts: int) -> outbox.Result:
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        if item.refused:
            return outbox.Result(item.notice_id, "refused", 0, item.refused, item.message_id,
                                 item.body_hash, item.template_version, at)  # fmt: skip
        await self._pacer.wait(item.recipient.rpartition("@")[2].lower())
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        reply = await self.mailer.send(self.context.sender, item.recipient, item.data)
        self._lost_in_a_row = self._lost_in_a_row + 1 if reply.code == 0 or reply.session else 0
        outcome, not_before = self._judge(reply, attempts)
        # masked before it is stored: the record keeps the code and the server's words,
        # not the addresses a server may echo (they would show on status pages)
        text = mask_addresses(reply.text, item.recipient)
        return outbox.Result(item.notice_id, outcome, reply.code, text, item.message_id,
                             item.body_hash, item.template_version, at, not_before)  # fmt: skip

    def _judge(self, reply: Reply, attempts: int) -> tuple[str, float]:
        if 200 <= reply.code < 300:
            return "sent", 0.0
        if 500 <= reply.code < 600 and not reply.session:
            return "failed", 0.0
        if attempts + 1 >= self.settings.max_attempts:
            return "failed", 0.0
        delay = min(MAX_BACKOFF, self.settings.backoff_seconds * 2**attempts)
        return "retry", time.time() + delay * random.uniform(0.9, 1.1)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
