"""Preparing notices for the wire: compose, render, lint and sign, as one step that runs in
the sending process or in helper processes (a batch at a time, so every core works).

A notice is linted when it is queued; its *wire hash* (SHA-256 of the unsigned message
without its Date line) is stored then. At send time the message is rendered again and, when
the hash is the one that passed, not linted twice: the bytes are those the lint approved.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from breachdesk.errors import NoticeError
from breachdesk.notify.compose import TEMPLATE_VERSION, Composer, Context, NoticeRow
from breachdesk.notify.dkim import Signer
from breachdesk.notify.lint import lint
from breachdesk.notify.message import recipient, render
from breachdesk.workers import process_pool

_DATE = re.compile(rb"^Date: [^\r\n]*\r\n", re.MULTILINE)


@dataclass(frozen=True)
class Prepared:
    notice_id: int
    message_id: str
    body_hash: str  # the wire hash
    data: bytes  # signed, ready to send; empty when refused or not signed
    refused: str  # the lint's reasons, joined; empty when the message may go
    recipient: str
    template_version: str = TEMPLATE_VERSION


def wire_hash(raw: bytes) -> str:
    return hashlib.sha256(_DATE.sub(b"", raw, count=1)).hexdigest()


class Preparer:
    def __init__(self, context: Context, workspace: Path, selectors: Sequence[str]) -> None:
        """``selectors``: the first signs (RSA, required); a later one whose key exists
        (Ed25519) adds a second signature."""
        self.context = context
        self.composer = Composer(context)
        domain = context.sender.rsplit("@", 1)[1].lower()
        try:
            self.signer: Signer | None = Signer.load(workspace, domain, selectors[0])
        except NoticeError:
            self.signer = None  # the lint refuses every message, naming the missing key
        self.extra: list[Signer] = []
        for selector in selectors[1:]:
            with contextlib.suppress(NoticeError):  # an optional key not made yet
                self.extra.append(Signer.load(workspace, domain, selector))

    def prepare(
        self, notice: NoticeRow, linted: str = "", sign: bool = True, when: datetime | None = None
    ) -> Prepared:
        """The notice ready to send (``sign``) or only linted. ``linted``: the wire hash that
        passed the lint before; a message with that hash is not linted again."""
        version = self.composer.version
        try:
            composed = self.composer.compose(notice)
        except ValueError as exc:
            return Prepared(notice.id, "", "", b"", str(exc), "", version)
        try:
            raw = render(composed, self.context, when or datetime.now(UTC))
            to = recipient(composed.to)
        except ValueError as exc:
            return Prepared(notice.id, composed.message_id, "", b"",
                            f"recipient address: {exc}", "", version)  # fmt: skip
        digest = wire_hash(raw)
        if digest != linted:
            problems = lint(composed, raw, self.context.official_domains, self.signer is not None)
            if problems:
                return Prepared(notice.id, composed.message_id, digest, b"",
                                "; ".join(problems), "", version)  # fmt: skip
        if not sign:
            return Prepared(notice.id, composed.message_id, digest, b"", "", to, version)
        if self.signer is None:
            return Prepared(notice.id, composed.message_id, digest, b"",
                            "no DKIM key is configured for the sender's domain", "",
                            version)  # fmt: skip
        signed = self.signer.sign(raw)
        for extra in self.extra:  # each signature covers the message without the others
            signed = extra.sign(raw)[: -len(raw)] + signed
        return Prepared(notice.id, composed.message_id, digest, signed, "", to, version)


_worker: Preparer | None = None


def init_worker(context: Context, workspace: Path, selectors: Sequence[str]) -> None:
    global _worker
    _worker = Preparer(context, workspace, selectors)


def prepare_batch(
    notices: Sequence[NoticeRow], linted: Sequence[str] = (), sign: bool = True
) -> list[Prepared]:
    """In a helper process started with :func:`init_worker`."""
    assert _worker is not None
    hashes = list(linted) or [""] * len(notices)
    return [_worker.prepare(n, h, sign) for n, h in zip(notices, hashes, strict=True)]


def helper_pool(
    workers: int, context: Context, workspace: Path, selectors: Sequence[str]
) -> ProcessPoolExecutor:
    """Processes that prepare batches (see :mod:`breachdesk.workers`)."""
    return process_pool(workers, init_worker, (context, workspace, tuple(selectors)))
