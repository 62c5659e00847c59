"""The public notice check, meant for the official domain and nothing else on it:
``create_verify_app(PUBLISHED_DIR)``. It knows keyed hashes of reference codes and their
sent dates, answers "genuine, sent on …" or "not a notice of ours", limits each client's
rate, and answers a genuine and an unknown code in the same time."""

import asyncio
import gc
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from breachdesk.services.verify import code_hash, load, normalise
from breachdesk.web.app_common import SecureHeaders, client, templates
from breachdesk.web.phishing import UPLOAD_COST, add_public_page

PUBLISHED_ENV = "BREACHDESK_VERIFY_PUBLISHED"
PROXY_ENV = "BREACHDESK_VERIFY_TRUST_PROXY"
RATE_ENV = "BREACHDESK_VERIFY_PER_MINUTE"
FLOOR_SECONDS = 0.004  # every answer takes at least this long, found or not
RATE = 30  # checks per client per minute


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
    published: Path, per_minute: int = RATE, trust_proxy: str | None = None
) -> FastAPI:
    """``trust_proxy``: the address(es) of a reverse proxy whose X-Forwarded-For names the
    client, so that the rate limit counts readers rather than the proxy."""
    key, codes = load(published)
    gc.collect()
    gc.freeze()  # a million codes stay out of the collector's full passes
    pages = templates()
    limiter = _Limiter(per_minute)
    app = FastAPI(title="notice check", version="1", docs_url=None, redoc_url=None)
    app.add_middleware(SecureHeaders)
    if trust_proxy:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trust_proxy)

    async def check(code: str) -> dict[str, Any]:
        started = time.perf_counter()
        canonical = normalise(code)
        # the same work for every code: hash, look up, build the same shape of answer
        digest = code_hash(key, canonical or code[:64])
        sent = codes.get(digest) if canonical else None
        answer = {"genuine": sent is not None, "sent_on": sent}
        await asyncio.sleep(max(0.0, FLOOR_SECONDS - (time.perf_counter() - started)))
        return answer

    def limited(request: Request) -> Response | None:
        if limiter.allow(client(request)):
            return None
        return JSONResponse({"detail": "too many checks; wait a minute"}, status_code=429,
                            headers={"Retry-After": "60"})  # fmt: skip

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def form(request: Request) -> Response:
        return pages.TemplateResponse(request, "verify.html.j2", {"answer": None, "code": ""})

    @app.post("/", response_class=HTMLResponse, include_in_schema=False)
    async def check_form(request: Request, code: Annotated[str, Form(max_length=64)]) -> Response:
        refused = limited(request)
        if refused is not None:
            return refused
        answer = await check(code)
        return pages.TemplateResponse(request, "verify.html.j2", {"answer": answer, "code": ""})

    @app.get("/api/check")
    async def check_api(
        request: Request, code: Annotated[str, Query(min_length=1, max_length=64)]
    ) -> Any:
        """Whether ``code`` is the reference of a notice we sent, and the day it was sent."""
        refused = limited(request)
        if refused is not None:
            return refused
        return await check(code)

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
    )
