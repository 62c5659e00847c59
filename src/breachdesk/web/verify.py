"""The public notice check, meant for the official domain and nothing else on it:
``create_verify_app(PUBLISHED_DIR, key=KEY_FILE)``. The reader gives the reference printed in
the message and the address it came to; the app knows keyed hashes of those pairs and their
sent dates, answers "genuine, sent on …" or "not a notice of ours", limits each client's
rate, and answers every pair in the same time. Addresses travel in the request body only
(never a URL, which proxies log) and are neither stored nor logged."""

import asyncio
import gc
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from breachdesk.services.verify import MAX_ADDRESS, MAX_CODE, load
from breachdesk.web.app_common import SecureHeaders, client, templates
from breachdesk.web.phishing import UPLOAD_COST, add_public_page

PUBLISHED_ENV = "BREACHDESK_VERIFY_PUBLISHED"
KEY_ENV = "BREACHDESK_VERIFY_KEY"
PROXY_ENV = "BREACHDESK_VERIFY_TRUST_PROXY"
RATE_ENV = "BREACHDESK_VERIFY_PER_MINUTE"
FLOOR_SECONDS = 0.004  # every answer takes at least this long, found or not
RATE = 30  # checks per client per minute


class CheckRequest(BaseModel):
    """A reference code as printed in the message, and the address the message came to."""

    code: str = Field(min_length=1, max_length=MAX_CODE)
    address: str = Field(min_length=1, max_length=MAX_ADDRESS)


class CheckAnswer(BaseModel):
    genuine: bool
    sent_on: str | None


class _Limiter:
    """A token bucket per client address (the oldest clients forgotten past 100,000)."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, who: str) -> bool:
        now = time.monotonic()
        tokens, last = self.buckets.pop(who, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1
        self.buckets[who] = (tokens - 1 if allowed else tokens, now)
        if len(self.buckets) > 100_000:
            self.buckets.popitem(last=False)
        return allowed


def create_verify_app(
    published: Path,
    per_minute: int = RATE,
    trust_proxy: str | None = None,
    key: Path | None = None,
) -> FastAPI:
    """``key``: the key file ``verify publish`` wrote (by default ``PUBLISHED.key``).
    ``trust_proxy``: the address(es) of a reverse proxy whose X-Forwarded-For names the
    client, so that the rate limit counts readers rather than the proxy."""
    notices = load(published, key)
    gc.collect()
    gc.freeze()  # a million hashes stay out of the collector's full passes
    pages = templates()
    limiter = _Limiter(per_minute)
    app = FastAPI(title="notice check", version="2", docs_url=None, redoc_url=None)
    app.add_middleware(SecureHeaders)
    if trust_proxy:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trust_proxy)

    async def check(code: str, address: str) -> CheckAnswer:
        started = time.perf_counter()
        sent = notices.sent_on(code, address)
        answer = CheckAnswer(genuine=sent is not None, sent_on=sent)
        await asyncio.sleep(max(0.0, FLOOR_SECONDS - (time.perf_counter() - started)))
        return answer

    def limited(request: Request) -> Response | None:
        if limiter.allow(client(request)):
            return None
        return JSONResponse({"detail": "too many checks; wait a minute"}, status_code=429,
                            headers={"Retry-After": "60"})  # fmt: skip

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def form(request: Request) -> Response:
        return pages.TemplateResponse(request, "verify.html.j2", {"answer": None})

    @app.post("/", response_class=HTMLResponse, include_in_schema=False)
    async def check_form(
        request: Request,
        code: Annotated[str, Form(max_length=MAX_CODE)],
        address: Annotated[str, Form(max_length=MAX_ADDRESS)],
    ) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        answer = await check(code, address)
        return pages.TemplateResponse(request, "verify.html.j2", {"answer": answer})

    @app.post("/api/check", response_model=CheckAnswer)
    async def check_api(request: Request, asked: CheckRequest) -> Any:
        """Whether ``code`` is the reference of a notice we sent to ``address``, and the day
        it was sent. Any other pair — a real reference with another address included — is
        not genuine."""
        refused = limited(request)
        if refused is not None:
            return refused
        return await check(asked.code, asked.address)

    add_public_page(app, published, pages, _Limiter(max(1, per_minute // UPLOAD_COST)))
    return app


def app_from_environment() -> FastAPI:
    """The app for ``breachdesk verify serve --workers N`` (each worker has its own limiter:
    a client may then make up to N times the rate; put a proxy's limit in front if it
    matters)."""
    return create_verify_app(
        Path(os.environ[PUBLISHED_ENV]),
        int(os.environ[RATE_ENV]),
        os.environ.get(PROXY_ENV) or None,
        Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None,
    )
