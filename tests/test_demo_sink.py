"""The demo's SMTP sink files every delivered notice readable by its owner only: a notice
names its reader and their address."""

from __future__ import annotations

import smtplib
import socket
import stat
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from breachdesk.services.demo import private_mailbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_delivered_messages_are_private(tmp_path: Path) -> None:
    maildir = tmp_path / "sink"
    port = _free_port()
    controller = Controller(private_mailbox(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for n in range(3):
                msg = EmailMessage()
                msg["From"] = "security@example.com"
                msg["To"] = f"reader{n}@example.org"
                msg["Subject"] = "notice"
                msg.set_content("Dear Ana Pop, …")
                smtp.send_message(msg)
    finally:
        controller.stop()
    delivered = [p for p in maildir.rglob("*") if p.is_file()]
    assert len(delivered) == 3
    assert {stat.S_IMODE(p.stat().st_mode) for p in delivered} == {0o600}
