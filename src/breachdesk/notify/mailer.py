"""Handing messages to an SMTP server: a small pool of aiosmtplib connections (STARTTLS and
authentication when configured), and a pacer that holds the overall rate and the rate per
recipient domain.

A reply about one recipient is returned, never raised: the caller records it. Only a server
that cannot be reached at all, or refuses the session (authentication, TLS), is an error.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Protocol

import aiosmtplib

from breachdesk.errors import DeliveryError
from breachdesk.settings import SmtpSettings


@dataclass(frozen=True)
class Reply:
    code: int  # 0: no reply (connection lost, timeout)
    text: str
    session: bool = False  # a problem of the session, not of this recipient


class Mailer(Protocol):
    async def open(self) -> None: ...
    async def send(self, sender: str, recipient: str, data: bytes) -> Reply: ...
    async def close(self) -> None: ...


def _tls(mode: str) -> bool | None:
    return {"auto": None, "require": True, "off": False}[mode]


class SmtpMailer:
    """``connections`` persistent SMTP sessions to one server, reconnected when dropped."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._password = os.environ.get(settings.password_env) if settings.username else None
        if settings.username and self._password is None:
            raise DeliveryError(
                f"SMTP user {settings.username} is configured but ${settings.password_env} "
                "is not set"
            )
        self._idle: asyncio.Queue[aiosmtplib.SMTP] = asyncio.Queue()
        self._clients: list[aiosmtplib.SMTP] = []

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout_seconds,
            start_tls=_tls(s.starttls), username=s.username or None,
            password=self._password, local_hostname="breachdesk.localdomain",
        )  # fmt: skip

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def open(self) -> None:
        first = self._client()
        try:
            await first.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP {self.where}: authentication refused: {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.where}: cannot connect: {_why(exc)}") from None
        self._clients = [first] + [self._client() for _ in range(self.settings.connections - 1)]
        for client in self._clients:
            self._idle.put_nowait(client)

    async def send(self, sender: str, recipient: str, data: bytes) -> Reply:
        client = await self._idle.get()
        try:
            if not client.is_connected:
                try:
                    await client.connect()
                except (aiosmtplib.SMTPException, OSError) as exc:
                    return Reply(0, f"cannot connect: {_why(exc)}", session=True)
            options = [] if recipient.isascii() else ["SMTPUTF8"]
            try:
                _, text = await client.sendmail(sender, [recipient], data, mail_options=options)
            except aiosmtplib.SMTPNotSupported:
                return Reply(553, "the server does not offer SMTPUTF8 for this address")
            except aiosmtplib.SMTPRecipientsRefused as exc:
                refused = exc.recipients[0]
                return Reply(refused.code, _one_line(refused.message))
            except aiosmtplib.SMTPSenderRefused as exc:
                return Reply(exc.code, _one_line(exc.message), session=True)
            except aiosmtplib.SMTPResponseException as exc:
                await _reset(client, drop=exc.code == 421)
                return Reply(exc.code, _one_line(exc.message))
            except (aiosmtplib.SMTPException, OSError) as exc:
                await _drop(client)
                return Reply(0, f"connection lost: {_why(exc)}")
            code, _, rest = text.partition(" ")
            return Reply(int(code) if code.isdigit() else 250, _one_line(rest or text))
        finally:
            self._idle.put_nowait(client)

    async def close(self) -> None:
        for client in self._clients:
            if client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


async def _reset(client: aiosmtplib.SMTP, drop: bool) -> None:
    """After a refused transaction: RSET, or a fresh connection next time."""
    if not drop and client.is_connected:
        try:
            await client.rset()
            return
        except (aiosmtplib.SMTPException, OSError):
            pass
    await _drop(client)


async def _drop(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500]


def _why(exc: BaseException) -> str:
    return _one_line(str(exc)) or type(exc).__name__


class Pacer:
    """Spaces sends to at most ``per_second`` overall and ``per_domain`` per recipient
    domain (0 = no limit): each send reserves the next free slot, then sleeps until it."""

    def __init__(self, per_second: float, per_domain: float) -> None:
        self._gap = 1 / per_second if per_second else 0.0
        self._domain_gap = 1 / per_domain if per_domain else 0.0
        self._next = 0.0
        self._domains: dict[str, float] = {}

    async def wait(self, domain: str) -> None:
        if not self._gap and not self._domain_gap:
            return
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next, self._domains.get(domain, 0.0))
        self._next = slot + self._gap
        if self._domain_gap:
            if len(self._domains) > 10_000:
                self._domains = {d: t for d, t in self._domains.items() if t > now}
            self._domains[domain] = slot + self._domain_gap
        if slot > now:
            await asyncio.sleep(slot - now)
