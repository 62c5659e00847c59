"""Turning a composed notice into the bytes that go on the wire.

Exactly one shape: a multipart/alternative with a plain-text and an HTML part, both UTF-8
and quoted-printable, CRLF line endings. Headers are encoded by the stdlib (``Header`` for
RFC 2047, ``formataddr``, ``format_datetime``); the assembly is done here rather than through
``EmailMessage`` because that object model costs 2 ms a message, four times compose, lint
and signing together. The lint parses these bytes back, so what is checked is what is sent.
The boundary and the Message-ID derive from the notice: the same notice, the same body.
"""

from __future__ import annotations

import binascii
import hashlib
import unicodedata
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.utils import format_datetime, formataddr

from breachdesk.domain.hostname import ascii_domain
from breachdesk.notify.compose import Composed, Context

HEADERS = (
    "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
    "Content-Language", "Auto-Submitted",
)  # fmt: skip


def recipient(address: str) -> str:
    """The recipient's address as it goes on the wire: the directory's address as written,
    its domain in ASCII under IDNA 2008 (see :mod:`breachdesk.domain.hostname`: ``ß`` stays
    ``ß``), the local part as written (NFC, canonically the same text; a non-ASCII one goes
    by SMTPUTF8). Never casefolded: that is for comparing addresses, not for sending.
    ValueError with the reason (never the address) if it cannot be delivered to."""
    if any(c in address for c in "\r\n\t\0"):
        raise ValueError("line break or control character in the address")
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError("not an address")
    local = unicodedata.normalize("NFC", local)
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in local):
        raise ValueError("control or separator character in the local part")
    wire_domain = ascii_domain(domain)  # DomainError is a ValueError
    if any(c in local for c in ' ()<>,;:\\"[]@') or local.startswith(".") or ".." in local:
        raise ValueError("the local part needs quoting")
    if local.isascii():
        return Address(addr_spec=f"{local}@{wire_domain}").addr_spec
    return f"{local}@{wire_domain}"


def _header(name: str, value: str, utf8: bool = False) -> bytes:
    if any(c in value for c in "\r\n"):
        raise ValueError(f"header {name} holds a line break")
    if utf8:  # an internationalized address is written as UTF-8 (RFC 6532), never encoded
        return f"{name}: {value}\r\n".encode()
    if value.isascii() and len(name) + len(value) < 76:
        return f"{name}: {value}\r\n".encode("ascii")
    encoded = Header(value, "utf-8" if not value.isascii() else "us-ascii", header_name=name)
    return f"{name}: {encoded.encode(linesep=chr(13) + chr(10))}\r\n".encode("ascii")


def _part(subtype: str, body: str) -> bytes:
    encoded = binascii.b2a_qp(body.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    ).encode() + encoded


def render(composed: Composed, context: Context, when: datetime) -> bytes:
    """The notice as an RFC 5322 message (unsigned)."""
    boundary = "=_bd_" + hashlib.sha256(composed.message_id.encode()).hexdigest()[:32]
    to = recipient(composed.to)
    head = b"".join(
        (
            _header("From", formataddr((f"{context.company} Security", context.sender))),
            _header("To", to, utf8=not to.isascii()),
            _header("Subject", composed.subject),
            _header("Date", format_datetime(when)),
            _header("Message-ID", composed.message_id),
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode(),
            _header("Content-Language", composed.language),
            b"Auto-Submitted: auto-generated\r\n",
        )
    )
    fence = f"--{boundary}\r\n".encode()
    return (
        head
        + b"\r\n"
        + fence
        + _part("plain", composed.text)
        + b"\r\n"
        + fence
        + _part("html", composed.html)
        + f"\r\n--{boundary}--\r\n".encode()
    )
