"""What both web apps share: Jinja2 templates, security headers, request logs without
personal values, and a client's address for rate limits."""

from __future__ import annotations

import copy
import hashlib
import hmac
import logging
import os
import secrets
import time
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from breachdesk.display import finalize

log = logging.getLogger("breachdesk.web")
LOG_KEY_ENV = "BREACHDESK_LOG_KEY"
# the client's address is logged as a keyed hash: a bare hash of an IPv4 address is
# reversed by trying all 2**32; one key per server start (every worker process shares it)
_LOG_KEY = bytes.fromhex(os.environ.get(LOG_KEY_ENV, "")) or secrets.token_bytes(16)


def server_log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging configuration plus the desk's own loggers (``breachdesk.*``: one
    line per request, never a value from the data) at ``level`` on standard error. uvicorn
    applies it in every server process, so each worker logs too."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["breachdesk"] = {"format": "%(asctime)s %(name)s: %(message)s"}
    config["handlers"]["breachdesk"] = {
        "class": "logging.StreamHandler",
        "formatter": "breachdesk",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["breachdesk"] = {
        "handlers": ["breachdesk"],
        "level": level,
        "propagate": False,
    }
    return config


def new_log_key() -> str:
    """A fresh key for the client hashes of one server start (hex, for the environment)."""
    return secrets.token_hex(16)


CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"
)


def templates() -> Jinja2Templates:
    folder = str(resources.files("breachdesk.web") / "templates")
    env = Environment(
        loader=FileSystemLoader(folder),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,  # bidi controls shown, never obeyed
    )
    env.filters["n"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    return Jinja2Templates(env=env)


def static_folder() -> str:
    return str(resources.files("breachdesk.web") / "static")


_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecureHeaders:
    """ASGI middleware: security headers on every response (no-store unless the route set
    its own caching) and one log line per request — method, path, status, time and a hash
    of the client's address; never the query string, which may hold a searched name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in _HEADERS if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
        if log.isEnabledFor(logging.INFO):
            host = (scope.get("client") or ("unknown", 0))[0]
            log.info(
                "%s %s %d %.1fms client=%s",
                scope["method"],
                scope["path"][:200],
                status,
                (time.perf_counter() - started) * 1000,
                hmac.new(_LOG_KEY, host.encode(), hashlib.sha256).hexdigest()[:10],
            )


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
