"""Addresses delivered as written (issue 10): normalised only to compare, sent to the
directory's address — the domain in IDNA 2008 (ß stays ß), the local part as written — and
an address whose domain does not survive IDNA 2008 refused with a reason that names no
address. End to end through the real aiosmtpd sink."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import idna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.domain.hostname import DomainError, ascii_domain
from breachdesk.notify.message import recipient
from conftest import record_identity
from helpers import store_of, within
from smtp_sink import Sink, start

runner = CliRunner()

WRITTEN = {
    "victim@straße.de": "victim@xn--strae-oqa.de",
    "Ana.Müller@Bücher.example": "Ana.Müller@xn--bcher-kva.example",
    "Bob.Builder@Example.ORG": "Bob.Builder@Example.ORG",
    "ｊｏｈｎ@example.com": "ｊｏｈｎ@example.com",  # a local part is the mailbox's business
    "user@σίσυφος.gr": "user@xn--kxa6ajbbmh.gr",  # final sigma kept (non-transitional)
}


@pytest.mark.parametrize(("written", "wire"), WRITTEN.items())
def test_the_address_goes_out_as_written(written: str, wire: str) -> None:
    assert recipient(written) == wire
    local, _, domain = wire.rpartition("@")
    assert local == written.rpartition("@")[0]
    shown = idna.decode(domain) if "xn--" in domain else domain
    assert shown.lower() == written.rpartition("@")[2].lower()


REFUSED = {
    "a@ｅｘａｍｐｌｅ.com": "mapping it (width or compatibility forms)",  # full-width: maps to example.com
    "a@ℌello.com": "mapping it (width or compatibility forms)",  # compatibility form: maps to "hello"
    "a@fa\u200dx.com": "out of the context IDNA 2008 allows (U+200D)",
    "a@exa_mple.com": "does not allow (U+005F)",
    "a@-bad.example": "hyphen",
    "a@xn--zz.example": "not valid under IDNA 2008",
    "a@localhost": "single label",
    "a@example.org.": "empty label",
}


@pytest.mark.parametrize(("address", "reason"), REFUSED.items())
def test_a_domain_that_does_not_survive_idna_2008_is_refused(address: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        recipient(address)
    message = str(caught.value)
    assert reason in message
    assert message.isascii()  # no non-ASCII label can be in it
    for label in address.rpartition("@")[2].split(".")[:-1]:
        assert label not in message  # no part of the address in the reason


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30))
def test_an_accepted_domain_decodes_to_the_one_written(label: str) -> None:
    domain = f"{label}.de"
    try:
        wire = ascii_domain(domain)
    except DomainError as exc:
        assert str(exc).isascii()  # reasons quote no label
        return
    assert wire.isascii()
    written = unicodedata.normalize("NFC", domain)
    decoded = idna.decode(wire) if not written.isascii() else wire
    assert decoded == (written.lower() if not written.isascii() else written)


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    controller, port = start(handler)
    yield handler, port
    controller.stop()


def _incident(tmp_path: Path) -> Path:
    """Three directory users, each named by the export: two deliverable as written, one
    whose domain is only deliverable after a mapping that changes it."""
    from breachdesk import AssessRequest, assess
    from breachdesk.services.notify import ensure_dkim_key
    from breachdesk.services.notify_plan import plan_notices

    directory = tmp_path / "directory"
    directory.mkdir()
    (directory / "users.csv").write_text(
        "user_id,email,name,locale,country,mfa_enabled,status\n"
        "u1,victim@straße.de,Victim,de,DE,true,active\n"
        "u2,Ana.Müller@Example.ORG,Ana Müller,de,DE,true,active\n"
        "u3,wide@ｅｘａｍｐｌｅ.com,Wide,en,US,true,active\n",
        encoding="utf-8",
    )
    (directory / "organizations.csv").write_text("org_id,name\no1,Acme\n")
    (directory / "memberships.csv").write_text("user_id,org_id,role\n")
    export = tmp_path / "export"
    export.mkdir()
    (export / "events.jsonl").write_text(
        "".join(
            f'{{"event":"Sign In","properties":{{"time":1700000000,"distinct_id":"{u}"}}}}\n'
            for u in ("u1", "u2", "u3")
        )
    )
    workspace = tmp_path / "ws"
    assess(AssessRequest([export], workspace, directory=directory, workers=1))
    within(workspace, record_identity)
    within(workspace, ensure_dkim_key)
    within(workspace, plan_notices)
    return workspace


def test_delivered_to_the_directory_address_through_smtp(
    tmp_path: Path, sink: tuple[Sink, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, port = sink
    monkeypatch.setenv("BREACHDESK_SMTP__PORT", str(port))
    workspace = _incident(tmp_path)
    sent = runner.invoke(app, ["notify", "send", str(workspace), "--live", "--helpers", "0"])
    assert sent.exit_code == 1, sent.output  # one notice refused
    envelope = {rcpt: data for rcpt, _, data in handler.received}
    # casefolding or IDNA 2003 made this victim@strasse.de: another domain, another person
    assert set(envelope) == {"victim@xn--strae-oqa.de", "Ana.Müller@Example.ORG"}
    for rcpt, data in envelope.items():
        assert f"To: {rcpt}\r\n".encode() in data  # UTF-8 as written (RFC 6532)
        assert str(message_from_bytes(data, policy=default)["To"]) == rcpt
    status = runner.invoke(app, ["notify", "status", str(workspace)])
    assert status.exit_code == 0, status.output
    assert "refused: 1 — recipient address: the domain is not valid under IDNA 2008" in " ".join(
        status.stdout.split()
    )
    assert "ｅｘａｍｐｌｅ" not in status.stdout and "wide@" not in status.stdout


def test_planning_again_restores_the_written_address(tmp_path: Path) -> None:
    """A plan made before addresses were kept as written holds their casefolded form;
    planning again puts the directory's address back on notices not sent yet."""
    from sqlalchemy import select, update

    from breachdesk.services.notify_plan import plan_notices
    from breachdesk.store import models as m

    workspace = _incident(tmp_path)
    store = store_of(workspace)
    with store.session() as session, session.begin():
        session.execute(update(m.Notice).where(m.Notice.user_id == "u1")
                        .values(email="victim@strasse.de"))  # fmt: skip
    within(workspace, plan_notices)
    with store.session() as session:
        emails = {u: e for u, e in session.execute(select(m.Notice.user_id, m.Notice.email))}
    store.close()
    assert emails["u1"] == "victim@straße.de" and emails["u2"] == "Ana.Müller@Example.ORG"
