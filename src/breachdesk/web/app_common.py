"""What both web apps share: Jinja2 templates, security headers, request logs without
personal values, and a client's address for rate limits."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

log = logging.getLogger("breachdesk.web")

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
    )
    env.filters["n"] = lambda v: f"{v:,}" if isinstance(v, int) else v
    return Jinja2Templates(env=env)


def static_folder() -> str:
    return str(resources.files("breachdesk.web") / "static")


async def secure_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    started = time.perf_counter()
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    # method, route and status only: no query string (it may hold a searched name)
    log.info(
        "%s %s %d %.1fms client=%s",
        request.method,
        request.url.path[:200],
        response.status_code,
        (time.perf_counter() - started) * 1000,
        client_tag(request),
    )
    return response


def client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def client_tag(request: Request) -> str:
    """A short hash of the client's address: enough to follow one client in the logs."""
    return hashlib.sha256(client(request).encode()).hexdigest()[:10]
