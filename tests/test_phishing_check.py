"""Is this message really from us? Genuine notices, rendered and DKIM-signed by notify (and
one delivered over SMTP), come out authentic; the same notice with one link swapped,
re-signed with another key, sent from a lookalike domain, its body altered, or with a
forged Authentication-Results header does not — each with its own verdict."""

from __future__ import annotations

import binascii
import json
import mailbox
import re
import shutil
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

from breachdesk.cli import app
from breachdesk.notify.dkim import Signer, create_key
from breachdesk.phishing.message import MessageCheck
from breachdesk.services.phishing import check_json, checker
from conftest import build_small_export
from helpers import open_ws, store_of, within

runner = CliRunner()
VERIFY_URL = "https://example.com/security/notice"


def make_workspace(root: Path) -> Path:
    """The small incident assessed, its vendor recorded, a DKIM key made, notices planned."""
    from breachdesk import AssessRequest, assess
    from breachdesk.services.notify import ensure_dkim_key
    from breachdesk.services.notify_plan import plan_notices
    from conftest import record_identity

    export, directory = build_small_export(root)
    workspace = root / "ws"
    assess(AssessRequest([export], workspace, directory=directory, workers=1))
    with open_ws(workspace) as ws:
        record_identity(ws)
        ensure_dkim_key(ws)
        plan_notices(ws)
    return workspace


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """A workspace and genuine signed notices of it: every kind and language."""
    from breachdesk.services.notify import preview

    workspace = make_workspace(tmp_path_factory.mktemp("desk"))
    add_notices(workspace, [
        {"kind": "user", "user_id": "ja1", "email": "taro@example.org", "locale": "ja-JP",
         "reference": "BD-JAPAN-USER2", "facts": '{"categories": ["user.name",'
         ' "user.authorization.credentials"], "mfa": "off"}'},
        {"kind": "admin", "user_id": "ja2", "email": "hanako@example.org", "locale": "ja",
         "org_id": "o-ja", "reference": "BD-JAPAN-ADMN2",
         "facts": '{"categories": ["user.name"], "affected_members": 3, "members_without_mfa": 1}'},
    ])  # fmt: skip
    notices = [p.eml.read_bytes() for p in within(workspace, preview, sample=12)]
    return workspace, notices


def add_notices(workspace: Path, rows: list[dict[str, str]]) -> None:
    """Planned notices beside the plan (the small incident has no Japanese reader)."""
    from sqlalchemy import insert

    from breachdesk.store import models as m

    store = store_of(workspace)
    plain = {"incident_id": store.incident_id(), "org_id": "", "name": "", "status": "planned",
             "created_at": datetime(2026, 11, 27, tzinfo=UTC)}  # fmt: skip
    with store.session() as session, session.begin():
        session.execute(insert(m.Notice), [{**plain, **row} for row in rows])
    store.close()


@pytest.fixture(scope="module")
def notice(desk: tuple[Path, list[bytes]]) -> bytes:
    """One genuine user notice in English."""
    return next(n for n in desk[1] if b"Content-Language: en" in n and b"your account" in n)


def check(workspace: Path, data: bytes) -> MessageCheck:
    return within(workspace, checker).check(data)


def unsigned(signed: bytes) -> bytes:
    """The message without its DKIM-Signature fields (they are on top, folded)."""
    lines = signed.split(b"\r\n")
    i = 0
    while i < len(lines) and (lines[i].startswith(b"DKIM-Signature:") or lines[i][:1] == b"\t"):
        i += 1
    return b"\r\n".join(lines[i:])


def signatures(signed: bytes) -> bytes:
    return signed[: len(signed) - len(unsigned(signed))]


def edit_body(message: bytes, old: str, new: str) -> bytes:
    """``old`` replaced by ``new`` in the decoded text of every quoted-printable part, the
    parts encoded again: what an attacker does to a notice's body."""
    head, _, body = message.partition(b"\r\n\r\n")
    pieces = re.split(rb"(--=_bd_[0-9a-f]+(?:--)?\r\n)", body)
    edited = []
    for piece in pieces:
        part_head, sep, part_body = piece.partition(b"\r\n\r\n")
        if sep and b"quoted-printable" in part_head:
            text = binascii.a2b_qp(part_body).decode("utf-8").replace(old, new)
            encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
            piece = part_head + sep + encoded + b"\r\n"
        edited.append(piece)
    return head + b"\r\n\r\n" + b"".join(edited)


def with_header(message: bytes, field: bytes) -> bytes:
    """A header field added on top (below the signatures, as a relay adds one)."""
    sigs = signatures(message)
    return sigs + field + b"\r\n" + message[len(sigs) :]


@pytest.fixture(scope="module")
def attacker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Someone else's key folder: a DKIM key with our selector's name."""
    folder = tmp_path_factory.mktemp("attacker")
    create_key(folder, "bd2026")
    create_key(folder, "s1")
    return folder


def test_every_genuine_notice_is_authentic(desk: tuple[Path, list[bytes]]) -> None:
    workspace, notices = desk
    languages = set()
    message_checker = within(workspace, checker)
    for data in notices:
        result = message_checker.check(data)
        assert result.verdict == "authentic", result.reasons
        assert result.from_domain == "example.com"
        assert [(s.d, s.s, s.valid) for s in result.dkim] == [("example.com", "bd2026", True)]
        assert [(h.host, h.official) for h in result.links] == [("example.com", True)]
        languages.add(re.search(rb"Content-Language: (\w+)", data).group(1))  # type: ignore[union-attr]
    assert languages >= {b"en", b"de", b"ja", b"ro"}
    subjects = b" ".join(re.findall(rb"Subject: ([^\r]*)", n)[0] for n in notices)
    assert b"your account" in subjects and b"for your organization" in subjects


def test_a_notice_saved_with_bare_line_feeds_is_still_authentic(
    desk: tuple[Path, list[bytes]], notice: bytes
) -> None:
    assert check(desk[0], notice.replace(b"\r\n", b"\n")).verdict == "authentic"


def test_the_json_answer_has_the_designed_shape(
    desk: tuple[Path, list[bytes]], notice: bytes, tmp_path: Path
) -> None:
    eml = tmp_path / "notice.eml"
    eml.write_bytes(notice)
    result = runner.invoke(app, ["phishing", "check", str(eml), "--workspace", str(desk[0]),
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert list(answer) == ["verdict", "reasons", "from_domain", "dkim", "links"]
    assert answer["verdict"] == "authentic" and answer["from_domain"] == "example.com"
    assert answer["dkim"] == [{"d": "example.com", "s": "bd2026", "valid": True}]
    assert answer["links"] == [{"host": "example.com", "official": True}]
    shown = runner.invoke(app, ["phishing", "check", str(eml), "--workspace", str(desk[0])])
    assert shown.exit_code == 0 and shown.stdout.startswith("verdict: authentic\n")


def test_one_link_swapped_for_a_lookalike(desk: tuple[Path, list[bytes]], notice: bytes) -> None:
    forged = edit_body(notice, VERIFY_URL, "https://examp1e.com/security/notice")
    result = check(desk[0], forged)
    assert result.verdict == "lookalike"
    assert any(
        "a link goes to examp1e.com, a lookalike of example.com" in r for r in result.reasons
    )
    assert any("body was changed" in r for r in result.reasons)


def test_one_link_swapped_for_another_host(desk: tuple[Path, list[bytes]], notice: bytes) -> None:
    forged = edit_body(notice, VERIFY_URL, "https://notice-check.net/security/notice")
    result = check(desk[0], forged)
    assert result.verdict == "unauthenticated"
    assert any("the body was changed after it was signed" in r for r in result.reasons)
    assert any("notice-check.net, not an official domain" in r for r in result.reasons)
    assert {"host": "notice-check.net", "official": False} in check_json(result)["links"]  # type: ignore[operator]


def test_the_body_altered(desk: tuple[Path, list[bytes]], notice: bytes) -> None:
    forged = edit_body(notice, "We removed the analytics SDK", "We kept the analytics SDK")
    assert forged != notice
    result = check(desk[0], forged)
    assert result.verdict == "unauthenticated"
    assert result.dkim[0].valid is False
    assert "DKIM signature d=example.com s=bd2026: the body was changed after it was signed" in (
        result.reasons
    )


def test_re_signed_with_another_key(
    desk: tuple[Path, list[bytes]], notice: bytes, attacker: Path
) -> None:
    forged = Signer.load(attacker, "example.com", "bd2026").sign(unsigned(notice))
    result = check(desk[0], forged)
    assert result.verdict == "unauthenticated"
    assert any("does not verify" in r for r in result.reasons)


def test_sent_from_a_lookalike_domain(
    desk: tuple[Path, list[bytes]], notice: bytes, attacker: Path
) -> None:
    body = unsigned(notice).replace(b"<security@example.com>", b"<security@examp1e.com>")
    forged = Signer.load(attacker, "examp1e.com", "s1").sign(body)
    result = check(desk[0], forged)
    assert result.verdict == "lookalike"
    assert result.from_domain == "examp1e.com"
    assert "the From address is at examp1e.com, a lookalike of example.com (homoglyph)" in (
        result.reasons
    )
    assert any(r.startswith("signed by examp1e.com") for r in result.reasons)
    cyrillic = unsigned(notice).replace(
        b"security@example.com", "security@ex\u0430mple.com".encode()
    )
    result = check(desk[0], cyrillic)
    assert result.verdict == "lookalike" and result.from_domain == "xn--exmple-4nf.com"


def test_a_forged_authentication_results_header_is_not_believed(
    desk: tuple[Path, list[bytes]], notice: bytes
) -> None:
    forged = (
        b"Authentication-Results: mx.evil.net; dkim=pass header.d=example.com header.s=bd2026;"
        b" dmarc=pass header.from=example.com\r\n" + unsigned(notice)
    )
    result = check(desk[0], forged)
    assert result.verdict == "unauthenticated"
    assert "Authentication-Results from mx.evil.net ignored: not a server we trust" in (
        result.reasons
    )
    assert any("carries no valid signature of ours" in r for r in result.reasons)


@pytest.fixture
def trusting(desk: tuple[Path, list[bytes]]) -> Iterator[Path]:
    """The workspace's settings, for one test, believing mx.example.com."""
    settings = desk[0] / "breachdesk.toml"
    before = settings.read_bytes()
    data = tomllib.loads(before.decode())
    data["phishing"]["trusted_authserv_ids"] = ["mx.example.com"]
    settings.write_text(tomli_w.dumps(data))
    yield desk[0]
    settings.write_bytes(before)


def test_results_from_a_trusted_server_are_believed_but_never_replace_the_signature(
    trusting: Path, notice: bytes
) -> None:
    passed = b"Authentication-Results: mx.example.com; dkim=pass header.d=example.com"
    failed = b"Authentication-Results: mx.example.com; dmarc=fail header.from=example.com"
    believed = check(trusting, with_header(notice, passed))
    assert believed.verdict == "authentic"
    assert "mx.example.com reported dkim=pass for example.com" in believed.reasons
    stripped = check(trusting, passed + b"\r\n" + unsigned(notice))
    assert stripped.verdict == "unauthenticated"
    assert any("changed after it arrived" in r for r in stripped.reasons)
    refused = check(trusting, with_header(notice, failed))
    assert refused.verdict == "unauthenticated"
    assert "mx.example.com reported dmarc=fail for example.com" in refused.reasons


def test_headers_added_on_the_way(desk: tuple[Path, list[bytes]], notice: bytes) -> None:
    """DKIM signs neither Reply-To nor a second Subject: the check looks at them anyway."""
    reply = check(desk[0], with_header(notice, b"Reply-To: help@notice-desk.net"))
    assert reply.verdict == "suspicious"
    assert "replies would go to notice-desk.net, not an official domain" in reply.reasons
    look = check(desk[0], with_header(notice, b"Reply-To: security@example-security.com"))
    assert look.verdict == "lookalike"
    twice = check(desk[0], with_header(notice, b"Subject: Action required: verify your account"))
    assert twice.verdict == "unauthenticated"
    assert "the Subject header appears 2 times: one was added on the way" in twice.reasons
    path = check(desk[0], with_header(notice, b"Return-Path: <bounce@examp1e.com>"))
    assert path.verdict == "lookalike"
    provider = check(desk[0], with_header(notice, b"Return-Path: <bounces@mail-provider.net>"))
    assert provider.verdict == "authentic"  # a mail provider's bounce address is normal


def test_a_notice_delivered_over_smtp_is_authentic(
    notify_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from breachdesk.services.notify import send
    from smtp_sink import Sink, start

    handler = Sink()
    controller, port = start(handler)
    try:
        monkeypatch.setenv("BREACHDESK_SMTP__PORT", str(port))
        within(notify_ws, send, live=True, per_second=0, per_domain_per_second=0)
    finally:
        controller.stop()
    assert handler.received
    message_checker = within(notify_ws, checker)
    for _, _, data in handler.received:
        result = message_checker.check(data)
        assert result.verdict == "authentic", result.reasons
    # what the demo prints: one delivered notice, and the same with its link swapped
    from breachdesk.services.demo import demo_checks

    maildir = mailbox.Maildir(notify_ws.parent / "sink", create=True)
    maildir.add(handler.received[0][2])
    checks = within(notify_ws, demo_checks, notify_ws.parent / "sink",
                    notify_ws.parent / "phishing")  # fmt: skip
    assert [c[2].verdict for c in checks] == ["authentic", "lookalike"]
    assert all(oct(c[1].stat().st_mode)[-3:] == "600" for c in checks)


def test_a_second_ed25519_signature_is_verified_too(tmp_path: Path) -> None:
    from breachdesk.services.notify import ensure_dkim_key, preview

    workspace = make_workspace(tmp_path)
    settings = workspace / "breachdesk.toml"
    settings.write_text(
        re.sub(
            r"dkim_selectors = \[[^\]]*\]",
            'dkim_selectors = ["bd2026", "ed2026"]',
            settings.read_text(),
        )
    )
    within(workspace, ensure_dkim_key)
    data = within(workspace, preview, sample=1)[0].eml.read_bytes()
    result = check(workspace, data)
    assert result.verdict == "authentic", result.reasons
    assert sorted((s.s, s.valid) for s in result.dkim) == [("bd2026", True), ("ed2026", True)]


def test_retired_selectors_keep_their_window(tmp_path: Path) -> None:
    """Rotation: what the old selector signed before its retirement stays authentic; a
    signature by the old key dated after it, or before the key existed, does not."""
    from breachdesk.services.notify import preview

    workspace = make_workspace(tmp_path)
    old = within(workspace, preview, sample=1)[0].eml.read_bytes()
    stolen = tmp_path / "stolen"
    (stolen / "keys" / "dkim").mkdir(parents=True)
    shutil.copy(workspace / "keys" / "dkim" / "bd2026.pem", stolen / "keys" / "dkim")
    refused = runner.invoke(app, ["notify", "keys", str(workspace), "--retire", "bd2026"])
    assert refused.exit_code == 2 and "still signs" in refused.output
    settings = workspace / "breachdesk.toml"
    settings.write_text(re.sub(r"dkim_selectors = \[[^\]]*\]", 'dkim_selectors = ["bd2027"]',
                               settings.read_text()))  # fmt: skip
    made = runner.invoke(app, ["notify", "keys", str(workspace)])
    assert made.exit_code == 0, made.output
    retired = runner.invoke(app, ["notify", "keys", str(workspace), "--retire", "bd2026"])
    assert retired.exit_code == 0, retired.output
    assert not (workspace / "keys" / "dkim" / "bd2026.pem").exists()
    again = runner.invoke(app, ["notify", "keys", str(workspace), "--retire", "bd2026"])
    assert again.exit_code == 2 and "was retired on" in again.output

    assert check(workspace, old).verdict == "authentic"
    new = within(workspace, preview, sample=1)[0].eml.read_bytes()
    result = check(workspace, new)
    assert result.verdict == "authentic" and result.dkim[0].s == "bd2027"

    import time

    signer = Signer.load(stolen, "example.com", "bd2026")
    late = check(workspace, signer.sign(unsigned(old), now=int(time.time()) + 120))
    assert late.verdict == "unauthenticated"
    assert any("signed after selector bd2026 was retired" in r for r in late.reasons)
    early = check(workspace, Signer.load(workspace, "example.com", "bd2027").sign(
        unsigned(new), now=int(time.time()) - 86_400))  # fmt: skip
    assert early.verdict == "unauthenticated"
    assert any("dated before selector bd2027 existed" in r for r in early.reasons)
    reuse = workspace / "breachdesk.toml"
    reuse.write_text(re.sub(r"dkim_selectors = \[[^\]]*\]", 'dkim_selectors = ["bd2026"]',
                            reuse.read_text()))  # fmt: skip
    reused = runner.invoke(app, ["notify", "keys", str(workspace)])
    assert reused.exit_code == 2 and "was retired" in reused.output


def test_the_command_refuses_what_is_not_a_message(
    desk: tuple[Path, list[bytes]], tmp_path: Path
) -> None:
    workspace = str(desk[0])
    missing = runner.invoke(app, ["phishing", "check", str(tmp_path / "no.eml"), "--workspace",
                                  workspace])  # fmt: skip
    assert missing.exit_code == 2 and "no.eml: cannot be read" in missing.output
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"\r\n")
    result = runner.invoke(app, ["phishing", "check", str(empty), "--workspace", workspace])
    assert result.exit_code == 2 and "empty, not a message" in result.output
    big = tmp_path / "big.eml"
    big.write_bytes(b"From: a@b.c\r\n\r\n" + b"x" * 200)
    small = runner.invoke(app, ["phishing", "check", str(big), "--workspace", workspace],
                          env={"BREACHDESK_PHISHING__MAX_MESSAGE_BYTES": "100"})  # fmt: skip
    assert small.exit_code == 2 and "more than the 100 a message may have" in small.output
    phish = tmp_path / "phish.eml"
    phish.write_bytes(b"From: Example Security <alerts@account-notices.net>\r\nSubject: hi\r\n\r\n"
                      b"Confirm your password at https://account-notices.net/login\r\n")  # fmt: skip
    answer = runner.invoke(app, ["phishing", "check", str(phish), "--workspace", workspace])
    assert answer.exit_code == 1 and answer.stdout.startswith("verdict: unauthenticated\n")
