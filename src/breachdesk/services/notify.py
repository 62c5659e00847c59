"""The notify use cases after planning: DKIM keys, previews, queueing through the lint,
sending (dry run unless told otherwise), and the campaign's status."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from breachdesk.domain.incident import TimelineEntry
from breachdesk.errors import InputError, NoticeError
from breachdesk.notify.compose import TEMPLATES, Composer, Context, NoticeRow
from breachdesk.notify.delivery import Campaign, ProgressFn, SendSummary
from breachdesk.notify.dkim import Signer, create_key, key_path
from breachdesk.notify.keystore import read_keys, record_key, retire_key
from breachdesk.notify.locales import negotiate
from breachdesk.notify.mailer import Mailer, SmtpMailer
from breachdesk.notify.message import render
from breachdesk.notify.prepare import Prepared, Preparer, helper_pool, prepare_batch
from breachdesk.private import write_private
from breachdesk.services.workspace import Workspace
from breachdesk.settings import Settings, SmtpSettings
from breachdesk.store import Store, append_event, outbox
from breachdesk.store import incident as record
from breachdesk.store.models import NoticeStatus

QUEUE_CHUNK = 1000


def notice_context(store: Store, settings: Settings, workspace: Path | None = None) -> Context:
    """What every notice of the incident shares: the incident record (the company's identity,
    with breachdesk.toml where the record holds none), its facts and its measures. Refused,
    naming what is missing, until everything a notice states is recorded.
    ``workspace``: where a ``templates/`` folder may override the built-in templates."""
    from breachdesk.services.incident import ready_for_notices

    view = record.view(store)
    found = ready_for_notices(view, settings, workspace or Path("WORKSPACE"))
    aware = {a.party: a.aware_at for a in view.awareness}
    learned = aware.get("company") or (min(aware.values()) if aware else None)
    templates = workspace / TEMPLATES if workspace is not None else None
    return Context(
        company=found.company,
        sender=found.sender,
        official_domains=found.official_domains,
        verify_url=found.verify_url,
        vendor=view.vendor,
        learned_at=learned,
        timezone=view.timezone or "UTC",
        incident_id=view.id,
        contact_email=found.contact_email,
        measures=tuple(m.summary for m in view.measures if not m.language),
        measures_in=_by_language(view.measures),
        vendor_aware_at=aware.get("vendor"),
        vendor_incident_start=view.vendor_incident_start,
        vendor_incident_end=view.vendor_incident_end,
        own_systems_breached=view.own_systems_breached,
        templates=str(templates) if templates is not None and templates.is_dir() else "",
    )


@dataclass(frozen=True)
class KeyInfo:
    path: Path
    created: bool
    algorithm: str
    dns_name: str
    dns_record: str


def ensure_dkim_key(ws: Workspace, selector: str | None = None) -> list[KeyInfo]:
    """The DKIM keys of the configured selectors (created when missing: RSA-2048 for the
    first, Ed25519 for a second, signing beside it), with the TXT records to publish."""
    from breachdesk.services.incident import identity

    workspace, settings = ws.path, ws.settings
    chosen = [selector] if selector else list(settings.dkim_selectors)
    found = identity(ws)
    problems = found.problems()
    if not found.sender or problems:
        raise InputError(
            problems[0]
            if problems
            else f"the DKIM key signs for the sender's domain: "
            f"breachdesk incident set {workspace} --official-domain DOMAIN --sender ADDRESS"
        )
    domain = found.sender.rpartition("@")[2].lower()
    keys = []
    known = read_keys(workspace)
    for i, name in enumerate(chosen):
        retired = known[name].retired if name in known else None
        if retired is not None:
            raise NoticeError(
                f"DKIM selector {name!r} was retired on {retired:%Y-%m-%d}; name a new "
                "selector in dkim_selectors (breachdesk.toml)"
            )
        kind = "ed25519" if i > 0 else "rsa"
        path, created = create_key(workspace, name, kind)
        signer = Signer.load(workspace, domain, name)
        record_key(workspace, name, datetime.now(UTC) if created else None)
        if created:
            append_event(
                ws.store,
                "notify.dkim_key_created",
                {"selector": name, "algorithm": signer.algorithm},
            )
        keys.append(
            KeyInfo(path, created, signer.algorithm, f"{name}._domainkey.{domain}",
                    signer.dns_record())
        )  # fmt: skip
    return keys


def retire_dkim_key(ws: Workspace, selector: str) -> KeyInfo:
    """Retire a selector that no longer signs: its private key is deleted, its public key
    kept so that the notices it signed still check as authentic, and a signature dated
    after now is refused."""
    if selector in ws.settings.dkim_selectors:
        raise NoticeError(
            f"DKIM selector {selector!r} still signs (dkim_selectors in breachdesk.toml); "
            "configure its successor there first"
        )
    domain = notice_context(ws.store, ws.settings).sender.rpartition("@")[2].lower()
    # the key file changes inside the transaction that logs it: a refusal logs nothing, and
    # the entry commits right after the change (the store's writer lock held throughout)
    with ws.store.write() as tx:
        found = retire_key(ws.path, selector)
        tx.audit("notify.dkim_key_retired", {"selector": selector, "algorithm": found.algorithm})
    return KeyInfo(key_path(ws.path, selector), False, found.algorithm,
                   f"{selector}._domainkey.{domain}", found.public)  # fmt: skip


@dataclass
class QueueSummary:
    queued: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # reason -> notices


def _chunks(store: Store, status: tuple[NoticeStatus, ...]) -> Iterator[list[NoticeRow]]:
    ids = outbox.ids_in(store, status)
    for start in range(0, len(ids), QUEUE_CHUNK):
        yield outbox.notices(store, ids[start : start + QUEUE_CHUNK])


def _prepared(
    store: Store,
    status: tuple[NoticeStatus, ...],
    preparer: Preparer,
    pool: Executor | None,
    sign: bool,
) -> Iterator[tuple[list[NoticeRow], list[Prepared]]]:
    """Every notice of ``status``, prepared a chunk at a time (on every core with a pool)."""
    chunks = _chunks(store, status)
    if pool is None:
        for notices in chunks:
            yield notices, [preparer.prepare(n, sign=sign) for n in notices]
        return
    pending: list[tuple[list[NoticeRow], Future[list[Prepared]]]] = []
    for notices in chunks:
        pending.append((notices, pool.submit(prepare_batch, notices, (), sign)))
        if len(pending) > 4:
            notices, future = pending.pop(0)
            yield notices, future.result()
    for notices, future in pending:
        yield notices, future.result()


def queue_planned(store: Store, preparer: Preparer, pool: Executor | None = None) -> QueueSummary:
    """Every planned notice through compose and lint: queued, or refused with the reason."""
    summary = QueueSummary()
    for _, prepared in _prepared(store, (NoticeStatus.PLANNED,), preparer, pool, sign=False):
        ok, refused = [], []
        for p in prepared:
            if p.refused:
                refused.append((p.notice_id, p.refused))
                summary.refused[p.refused] += 1
            else:
                ok.append((p.notice_id, p.message_id, p.body_hash))
        outbox.mark_queued(store, ok, refused, preparer.composer.version)
        summary.queued += len(ok)
    if summary.queued or summary.refused:
        append_event(
            store,
            "notify.queued",
            {"queued": summary.queued, "refused": sum(summary.refused.values()),
             "template_version": preparer.composer.version},
        )  # fmt: skip
    return summary


@dataclass
class SendResult:
    live: bool
    queue: QueueSummary
    send: SendSummary | None  # None on a dry run
    would_send: Counter[str] = field(default_factory=Counter)  # dry run: kind/language -> n


def send(
    ws: Workspace,
    live: bool = False,
    *,
    wait_for_retries: bool = True,
    helpers: int | None = None,
    progress: ProgressFn | None = None,
    mailer: Mailer | None = None,
    smtp: SmtpSettings | None = None,
    on_start: Callable[[Campaign], None] | None = None,
    **overrides: float | None,
) -> SendResult:
    """Queue what is planned (through the lint), then deliver what is queued.

    Without ``live`` nothing is written and nothing sent: every notice is composed, linted
    and signed, and the result says what would go out.
    """
    workspace, settings, store = ws.path, ws.settings, ws.store
    pace = settings.notify.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    context = notice_context(store, settings, workspace)
    preparer = Preparer(context, workspace, settings.dkim_selectors)
    if preparer.signer is None:
        raise NoticeError(
            f"no DKIM key for selector {settings.dkim_selectors[0]!r}: "
            f"breachdesk notify keys {workspace}"
        )
    cores = min(os.cpu_count() or 1, 8)  # lint and queue on every core, within reason
    with helper_pool(cores, context, workspace, settings.dkim_selectors) as pool:
        if not live:
            return _dry_run(store, preparer, pool)
        queued = queue_planned(store, preparer, pool)
    campaign = Campaign(
        store=store,
        workspace=workspace,
        context=context,
        selectors=tuple(settings.dkim_selectors),
        settings=pace,
        mailer=mailer or SmtpMailer(smtp or settings.smtp),
        helpers=1 if helpers is None else helpers,
        wait_for_retries=wait_for_retries,
        progress=progress,
        in_flight=(smtp or settings.smtp).connections * 2,
    )
    if on_start is not None:
        on_start(campaign)
    return SendResult(True, queued, _run(campaign))


def _run(campaign: Campaign) -> SendSummary:
    async def main() -> SendSummary:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # outside the main thread there are no signal handlers: the caller stops it
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, campaign.stop.set)
        return await campaign.run()

    return asyncio.run(main())


def _dry_run(store: Store, preparer: Preparer, pool: Executor | None) -> SendResult:
    result = SendResult(False, QueueSummary(), None)
    for notices, prepared in _prepared(
        store, (NoticeStatus.PLANNED, NoticeStatus.QUEUED), preparer, pool, sign=True
    ):
        for notice, p in zip(notices, prepared, strict=True):
            if p.refused:
                result.queue.refused[p.refused] += 1
            else:
                result.would_send[f"{notice.kind} {negotiate(notice.locale)}"] += 1
    result.queue.queued = sum(result.would_send.values())
    append_event(
        store,
        "notify.dry_run",
        {"would_send": sum(result.would_send.values()),
         "refused": sum(result.queue.refused.values())},
    )  # fmt: skip
    return result


@dataclass(frozen=True)
class Preview:
    reference: str
    kind: str
    language: str
    eml: Path
    html: Path
    problems: tuple[str, ...]


def preview(ws: Workspace, sample: int = 5, out: Path | None = None) -> list[Preview]:
    """Render ``sample`` notices (one per kind and language first) as .eml and .html."""
    if sample < 1:
        raise InputError("--sample must be at least 1")
    workspace, settings, store = ws.path, ws.settings, ws.store
    folder = out or workspace / "previews"
    context = notice_context(store, settings, workspace)
    composer = Composer(context)
    preparer = Preparer(context, workspace, settings.dkim_selectors)
    candidates = outbox.preview_candidates(store)
    if not candidates:
        raise InputError(f"{workspace}: no notice planned; run breachdesk notify plan first")
    chosen: list[int] = []
    seen: set[tuple[str, str]] = set()
    for notice_id, kind, locale in candidates:  # one of each kind and language first
        if (kind, negotiate(locale)) not in seen and len(chosen) < sample:
            seen.add((kind, negotiate(locale)))
            chosen.append(notice_id)
    chosen += [c[0] for c in candidates if c[0] not in set(chosen)][: sample - len(chosen)]
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    previews = []
    for notice in outbox.notices(store, chosen):
        composed = composer.compose(notice)
        prepared = preparer.prepare(notice)
        data = prepared.data or render(composed, context, datetime.now(UTC))
        eml = folder / f"{notice.reference}.eml"
        page = folder / f"{notice.reference}.html"
        write_private(eml, data)
        write_private(page, composed.html.encode("utf-8"))
        problems = tuple(prepared.refused.split("; ")) if prepared.refused else ()
        previews.append(
            Preview(notice.reference, notice.kind, composed.language, eml, page, problems)
        )
    append_event(store, "notify.previewed", {"notices": len(previews)})
    return previews


@dataclass(frozen=True)
class Status:
    by_kind: dict[str, Counter[str]]  # kind -> status -> notices
    by_language: dict[str, Counter[str]]
    failures: list[tuple[str, str, int]]
    attempts: int
    held: list[tuple[str, int]] = field(default_factory=list)  # (reason, notices)


def status(ws: Workspace) -> Status:
    by_kind: dict[str, Counter[str]] = {}
    by_language: dict[str, Counter[str]] = {}
    for kind, locale, state, n in outbox.counts(ws.store):
        by_kind.setdefault(kind, Counter())[state] += n
        by_language.setdefault(negotiate(locale), Counter())[state] += n
    return Status(
        by_kind, by_language, outbox.failures(ws.store), outbox.attempt_count(ws.store),
        outbox.held_reasons(ws.store),
    )  # fmt: skip


def _by_language(measures: Sequence[TimelineEntry]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(language, its measures in record order) for the measures written in a language."""
    found: dict[str, list[str]] = {}
    for measure in measures:
        if measure.language:
            found.setdefault(measure.language, []).append(measure.summary)
    return tuple((language, tuple(texts)) for language, texts in sorted(found.items()))
