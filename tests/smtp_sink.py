"""A real SMTP server on loopback (aiosmtpd) that records what it accepts and answers
chosen recipients with chosen faults: a reply code at RCPT or DATA, or a connection dropped
in the middle of DATA."""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sink:
    received: list[tuple[str, str, bytes]] = field(default_factory=list)  # rcpt, msg-id, data
    faults: dict[str, deque[tuple[str, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # called with the message's number (1, 2, ...) once it is stored, before the reply goes
    # back: a test can act at that very moment (kill the sender, which then never hears it)
    on_received: Callable[[int], None] | None = None

    def fail(self, address: str, *steps: tuple[str, str]) -> None:
        """``steps``: (stage, reply) in order, stage "rcpt" or "data"; reply "drop" closes
        the connection mid-DATA."""
        self.faults[address.lower()] = deque(steps)

    def _fault(self, address: str, stage: str) -> str | None:
        queue = self.faults.get(address.lower())
        if queue and queue[0][0] == stage:
            return queue.popleft()[1]
        return None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:  # fmt: skip
        fault = self._fault(address, "rcpt")
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fault = self._fault(envelope.rcpt_tos[0], "data")
        if fault == "drop":
            server.transport.close()
            return "451 gone"
        if fault:
            return fault
        message_id = str(message_from_bytes(envelope.original_content)["Message-ID"])
        with self.lock:
            self.received.append((envelope.rcpt_tos[0], message_id, envelope.original_content))
            count = len(self.received)
        if self.on_received is not None:
            self.on_received(count)
        return "250 2.0.0 Ok: queued"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [m for _, m, _ in self.received]


def start(sink: Sink) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    return controller, port
