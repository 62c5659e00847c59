"""Measures in the reader's language: a measure recorded with --language is stated in the
notices of that language instead of the measures recorded in the company's own words, which
every other notice states; the report for the authority lists the company's own words; the
language is audited and replayed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.notify.compose import Composer, NoticeRow
from breachdesk.services.notify import notice_context
from breachdesk.store.measures import measures
from helpers import open_ws

runner = CliRunner()
GERMAN = "Wir haben das Analyse-SDK von unserer Website entfernt."


def _measure(ws: Path, summary: str, *more: str) -> str:
    result = runner.invoke(app, ["incident", "event", str(ws), "--measure", "--at",
                                 "2026-11-21T08:00:00Z", "--summary", summary, *more])  # fmt: skip
    return f"{result.exit_code}:{result.output}"


def _notice(locale: str) -> NoticeRow:
    facts: dict[str, object] = {"categories": ["user.contact.email", "user.name"], "mfa": "on"}
    return NoticeRow(1, "user", "u1", "", "ana@example.org", "Ana Pop", locale,
                     "BD-7KQ4M-2XPAR", facts)  # fmt: skip


def test_a_measure_in_german_is_stated_in_german_notices_only(notify_ws: Path) -> None:
    assert _measure(notify_ws, GERMAN, "--language", "de").startswith("0:")
    with open_ws(notify_ws) as ws:
        context = notice_context(ws.store, ws.settings, ws.path)
        own_words, _ = measures(ws.store)
    composer = Composer(context)
    german = composer.compose(_notice("de-DE")).text
    english = composer.compose(_notice("en-US")).text
    japanese = composer.compose(_notice("ja-JP")).text
    assert GERMAN in german
    assert GERMAN not in english and GERMAN not in japanese
    untranslated = context.measures
    assert untranslated and all(m in english and m in japanese for m in untranslated)
    assert not any(m in german for m in untranslated)  # stated instead, not beside
    # the report for the authority lists the company's own words, not the translation
    assert [summary for _, summary in own_words] == list(untranslated)
    for view in ("show", "timeline"):
        shown = runner.invoke(app, ["incident", view, str(notify_ws)])
        assert "measure (de)" in shown.output, view


def test_the_language_is_audited_and_an_edit_behind_the_log_is_caught(notify_ws: Path) -> None:
    assert _measure(notify_ws, GERMAN, "--language", "de").startswith("0:")
    assert runner.invoke(app, ["audit", "verify", str(notify_ws)]).exit_code == 0
    with sqlite3.connect(notify_ws / "desk.db") as db:
        db.execute("UPDATE timeline_event SET language = 'ja' WHERE language = 'de'")
    verdict = runner.invoke(app, ["audit", "verify", str(notify_ws)])
    assert verdict.exit_code == 1 and "timeline_event" in verdict.output


def test_a_language_is_for_a_known_notice_language_and_a_measure(notify_ws: Path) -> None:
    unknown = _measure(notify_ws, "Nous avons retiré le SDK.", "--language", "fr")
    assert unknown.startswith("2:")
    assert "notices are written in en, ro, de, ja" in " ".join(unknown.split())
    plain = runner.invoke(app, ["incident", "event", str(notify_ws), "--at",
                                "2026-11-21T08:00:00Z", "--summary", "Call", "--language",
                                "de"])  # fmt: skip
    assert plain.exit_code == 2 and "add --measure" in plain.output


def test_translations_alone_do_not_make_notices_ready(
    tmp_path: Path, small: tuple[Path, Path]
) -> None:
    """Every notice without a text of its language states the company's own words: with
    only a German measure recorded, planning says what is missing."""
    from breachdesk import AssessRequest, assess
    from conftest import record_identity

    export, directory = small
    workspace = tmp_path / "ws"
    assess(AssessRequest([export], workspace, directory=directory, workers=1))
    with open_ws(workspace) as ws:
        record_identity(ws, measure=False)
    assert _measure(workspace, GERMAN, "--language", "de").startswith("0:")
    planned = runner.invoke(app, ["notify", "plan", str(workspace)])
    assert planned.exit_code == 2
    assert "a measure taken without --language" in " ".join(planned.output.split())
