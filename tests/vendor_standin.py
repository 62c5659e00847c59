"""A stand-in for a vendor's ingestion endpoint: a real HTTP server (uvicorn) on a loopback
port that records every request and answers as Mixpanel or Segment would. It can be
stopped and started again on the same port (the vendor down, then back)."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import orjson
import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def items(self) -> list[dict[str, Any]]:
        """The events or messages in this request, decoded as the vendor would."""
        if self.path.startswith("/v1/"):
            data = orjson.loads(self.body)
            return list(data["batch"]) if "batch" in data else [data]
        form = dict(parse_qsl(self.body.decode()))
        raw = form["data"]
        text = raw if raw[:1] in "[{" else base64.b64decode(raw).decode()
        value = orjson.loads(text)
        return value if isinstance(value, list) else [value]

    def text(self) -> str:
        """Everything that arrived, decoded (base64 and percent-encoding undone)."""
        decoded = unquote_plus(self.body.decode("utf-8", "replace"))
        with contextlib.suppress(ValueError, KeyError, TypeError):  # unreadable to the vendor too
            decoded += orjson.dumps(self.items()).decode()
        return f"{self.path}?{self.query}\n{self.headers}\n{decoded}"


@dataclass
class StandIn:
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0
    record: bool = True  # False: count requests only (benchmarks)
    count: int = 0
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        self.count += 1
        if self.status == 200 and self.record:
            with self.lock:
                self.received.append(
                    Received(
                        scope["path"],
                        scope["query_string"].decode(),
                        {k.decode(): v.decode() for k, v in scope["headers"]},
                        b"".join(chunks),
                    )
                )
        body = (
            b'{"success":true}'
            if scope["path"].startswith("/v1/")
            else b'{"status":1,"error":null}'
        )
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def start(self) -> StandIn:
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="error",
                                lifespan="off", access_log=False)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the stand-in did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
        self.server = None

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [item for r in self.received for item in r.items()]

    def all_text(self) -> str:
        with self.lock:
            return "\n".join(r.text() for r in self.received)
