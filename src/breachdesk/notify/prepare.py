"""Preparing notices for the wire: compose, render, lint and sign, as one step that runs in
the sending process or in a helper process (a batch at a time, so both cores work)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from breachdesk.errors import NoticeError
from breachdesk.notify.compose import TEMPLATE_VERSION, Composer, Context, NoticeRow
from breachdesk.notify.dkim import Signer
from breachdesk.notify.lint import lint
from breachdesk.notify.message import recipient, render


@dataclass(frozen=True)
class Prepared:
    notice_id: int
    message_id: str
    body_hash: str
    data: bytes  # signed, ready to send; empty when refused
    refused: str  # the lint's reasons, joined; empty when the message may go
    recipient: str
    template_version: str = TEMPLATE_VERSION


class Preparer:
    def __init__(self, context: Context, workspace: Path, selector: str) -> None:
        self.context = context
        self.composer = Composer(context)
        domain = context.sender.rsplit("@", 1)[1].lower()
        try:
            self.signer: Signer | None = Signer.load(workspace, domain, selector)
        except NoticeError:
            self.signer = None  # the lint refuses every message, naming the missing key

    def prepare(self, notice: NoticeRow, when: datetime | None = None) -> Prepared:
        try:
            composed = self.composer.compose(notice)
        except ValueError as exc:
            return Prepared(notice.id, "", "", b"", str(exc), "")
        try:
            raw = render(composed, self.context, when or datetime.now(UTC))
            to = recipient(composed.to)
        except ValueError as exc:
            return Prepared(notice.id, composed.message_id, composed.body_hash, b"",
                            f"recipient address: {exc}", "")  # fmt: skip
        problems = lint(composed, raw, self.context.official_domains, self.signer is not None)
        if problems:
            return Prepared(notice.id, composed.message_id, composed.body_hash, b"",
                            "; ".join(problems), "")  # fmt: skip
        assert self.signer is not None
        return Prepared(
            notice.id, composed.message_id, composed.body_hash, self.signer.sign(raw), "", to
        )


_worker: Preparer | None = None


def init_worker(context: Context, workspace: Path, selector: str) -> None:
    global _worker
    _worker = Preparer(context, workspace, selector)


def prepare_batch(notices: Sequence[NoticeRow]) -> list[Prepared]:
    """In a helper process started with :func:`init_worker`."""
    assert _worker is not None
    return [_worker.prepare(n) for n in notices]
