"""The response team's dashboard: ``create_app(workspace)`` returns the FastAPI app that
``breachdesk serve`` runs. Pages render from :class:`breachdesk.services.dashboard.Desk`
and the incident services; every page needs a signed-in user, every form a CSRF token (the
sign-in form too), every action the right role; the app answers only to the Host names it
is given and redirects only to paths. Signing in is in :mod:`breachdesk.web.auth`."""

import asyncio
import contextlib
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from breachdesk.errors import BreachdeskError, InputError
from breachdesk.impact import read_impact
from breachdesk.services import incident as incident_service
from breachdesk.services.dashboard import Desk
from breachdesk.services.duties import move_duty
from breachdesk.services.tasks import edit_task
from breachdesk.services.workspace import Workspace
from breachdesk.web import auth
from breachdesk.web.app_common import SecureHeaders, client, static_folder, templates
from breachdesk.web.hosts import RelativeRedirects, default_hosts
from breachdesk.web.phishing import add_desk_pages

COOKIE = "bd_session"
LOGIN_COOKIE = "bd_login"  # the sign-in form's nonce (a signed double-submit CSRF token)
WORKSPACE_ENV = "BREACHDESK_SERVE_WORKSPACE"
STORE_ENV = "BREACHDESK_SERVE_STORE"
HOSTS_ENV = "BREACHDESK_SERVE_ALLOWED_HOSTS"  # space-separated
HOUSEKEEPING_SECONDS = 15.0
log = logging.getLogger("breachdesk.web")


def check_workspace(workspace: Path) -> None:
    """What the app needs, opened once and cheaply, so that ``serve`` fails in one line
    before its workers start (each worker then builds its own app and caches)."""
    with Workspace.open(workspace) as ws:
        read_impact(ws.output("impact.json"))


def app_from_environment() -> FastAPI:
    """The app for ``breachdesk serve --workers N``: each worker process builds its own."""
    return create_app(
        Path(os.environ[WORKSPACE_ENV]),
        os.environ.get(STORE_ENV) or None,
        allowed_hosts=os.environ.get(HOSTS_ENV, "").split() or None,
    )


class NeedsLogin(Exception):
    pass


def create_app(
    workspace: Path,
    store_url: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    throttle: auth.Throttle | None = None,
) -> FastAPI:
    """The app over one workspace, opened once: its store (migrated once, here) serves every
    request; each action commits with its audit entry. ``allowed_hosts``: the Host names the
    app answers to (normalised, see ``web.hosts.allowlist``); by default the loopback names.
    ``throttle``: the sign-in delays (the defaults of :class:`auth.Throttle`)."""
    ws = Workspace.open(workspace, store_url)
    store = ws.store
    throttle = throttle or auth.Throttle()
    login_forms = auth.LoginForms(ws.key)
    desk = Desk(ws)
    desk.warm()  # a worker starts serving with its caches filled, not on a user's request
    # the caches of a large incident are millions of long-lived objects: keep them out of
    # the collector's full passes, whose pauses would otherwise be the slowest requests
    gc.collect()
    gc.freeze()
    pages = templates()
    pages.env.globals["alerts"] = desk.alerts  # what needs doing now, on every page
    pages.env.globals["now_ts"] = time.time

    def tidy() -> None:
        try:
            auth.housekeeping(store, throttle)
        except Exception:  # the next round tries again; serving goes on
            log.exception("sign-in housekeeping failed")

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async def every() -> None:
            while True:
                await run_in_threadpool(tidy)
                await asyncio.sleep(HOUSEKEEPING_SECONDS)

        task = asyncio.create_task(every())
        try:
            yield
        finally:
            task.cancel()
            await run_in_threadpool(tidy)
            ws.close()

    app = FastAPI(title="breachdesk dashboard", version="1", docs_url=None, redoc_url=None,
                  lifespan=lifespan, redirect_slashes=False)  # fmt: skip
    app.add_middleware(RelativeRedirects)
    app.add_middleware(
        TrustedHostMiddleware,
        allowed_hosts=list(allowed_hosts or default_hosts("127.0.0.1")),
        www_redirect=False,
    )
    app.add_middleware(SecureHeaders)
    app.mount("/static", StaticFiles(directory=static_folder()), name="static")

    @app.exception_handler(NeedsLogin)
    async def _login_first(request: Request, exc: NeedsLogin) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(BreachdeskError)
    async def _known(request: Request, exc: BreachdeskError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=exc.http_status)

    def who(request: Request) -> auth.Who:
        found = auth.current(store, request.cookies.get(COOKIE))
        if found is None:
            raise NeedsLogin()
        return found

    def responder(user: Annotated[auth.Who, Depends(who)]) -> auth.Who:
        if not auth.may(user.role, "responder"):
            raise HTTPException(403, "a responder's action")
        return user

    def checked(user: auth.Who, csrf: str | None) -> None:
        if not auth.csrf_ok(user, csrf):
            raise HTTPException(403, "missing or wrong CSRF token")

    def page(request: Request, name: str, user: auth.Who | None, **values: Any) -> Response:
        return pages.TemplateResponse(
            request, name, {"user": user, "path": request.url.path, **values}
        )

    def login_page(request: Request, error: str, status: int = 200) -> Response:
        nonce = login_forms.nonce(request.cookies.get(LOGIN_COOKIE))
        response = page(request, "login.html.j2", None, error=error,
                        csrf=login_forms.token(nonce))  # fmt: skip
        response.status_code = status
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https", max_age=2 * 3600)  # fmt: skip
        return response

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> Response:
        return login_page(request, "")

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
        csrf: Annotated[str | None, Form(max_length=200)] = None,
    ) -> Response:
        if not login_forms.check(request.cookies.get(LOGIN_COOKIE), csrf):
            raise HTTPException(403, "missing or wrong CSRF token: reload the sign-in page")
        result = await auth.sign_in_queued(store, username, password, client(request), throttle)
        if not result.ok:
            # one answer for an unknown name, a wrong password and a throttled attempt
            return login_page(request, auth.REFUSED, status=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE, result.token, httponly=True, samesite="strict",
            secure=request.url.scheme == "https", max_age=auth.SESSION_SECONDS,
        )  # fmt: skip
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(
        request: Request,
        user: Annotated[auth.Who, Depends(who)],
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        checked(user, csrf)
        auth.logout(store, request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        return page(request, "overview.html.j2", user, o=desk.overview(),
                    duties=desk.obligations())  # fmt: skip

    @app.get("/fragments/progress", response_class=HTMLResponse, include_in_schema=False)
    def progress(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        return page(request, "_progress.html.j2", user, p=desk.progress())

    @app.get("/impact", response_class=HTMLResponse, include_in_schema=False)
    def impact(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        from breachdesk.report.svg import bar_chart

        categories, countries = desk.exposure()
        return page(request, "impact.html.j2", user,
                    by_category=bar_chart("Affected users by exposed category", categories),
                    by_country=bar_chart("Affected users by country", countries))  # fmt: skip

    @app.get("/organizations", response_class=HTMLResponse, include_in_schema=False)
    def organizations(
        request: Request,
        user: Annotated[auth.Who, Depends(who)],
        q: Annotated[str, Query(max_length=200)] = "",
        page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    ) -> Response:
        rows, total = desk.organizations(q, page_no)
        return page(request, "organizations.html.j2", user, rows=rows, total=total, q=q,
                    page_no=page_no, pages=max(1, -(-total // 50)))  # fmt: skip

    @app.get("/findings", response_class=HTMLResponse, include_in_schema=False)
    def findings(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        return page(request, "findings.html.j2", user, rows=desk.findings()[:500])

    @app.get("/notices", response_class=HTMLResponse, include_in_schema=False)
    def notices(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        return page(request, "notices.html.j2", user, p=desk.progress(),
                    failures=desk.notice_failures(), retried=None)  # fmt: skip

    @app.post("/notices/retry", response_class=HTMLResponse, include_in_schema=False)
    def retry(
        request: Request,
        user: Annotated[auth.Who, Depends(responder)],
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        checked(user, csrf)
        n = desk.retry_failed(user.username)
        return page(request, "notices.html.j2", user, p=desk.progress(),
                    failures=desk.notice_failures(), retried=n)  # fmt: skip

    @app.get("/timeline", response_class=HTMLResponse, include_in_schema=False)
    def timeline(
        request: Request,
        user: Annotated[auth.Who, Depends(who)],
        show: Annotated[str, Query(alias="all", max_length=3)] = "",
    ) -> Response:
        everything = show == "1"
        return page(request, "timeline.html.j2", user, entries=desk.timeline(everything),
                    everything=everything)  # fmt: skip

    @app.get("/tasks", response_class=HTMLResponse, include_in_schema=False)
    def tasks(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        return page(request, "tasks.html.j2", user, rows=desk.tasks(), error="")

    @app.get("/decisions", response_class=HTMLResponse, include_in_schema=False)
    def decisions(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        return page(request, "decisions.html.j2", user, rows=desk.decisions(), error="")

    @app.post("/decisions", response_class=HTMLResponse, include_in_schema=False)
    def decide(
        request: Request,
        user: Annotated[auth.Who, Depends(responder)],
        subject: Annotated[str, Form(max_length=200)],
        decision: Annotated[str, Form(max_length=2000)],
        rationale: Annotated[str, Form(max_length=4000)],
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        checked(user, csrf)
        try:
            incident_service.decide(ws, subject, decision, rationale, user.username)
        except InputError as exc:
            response = page(request, "decisions.html.j2", user, rows=desk.decisions(),
                            error=str(exc))  # fmt: skip
            response.status_code = 400
            return response
        return RedirectResponse("/decisions", status_code=303)

    @app.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        intact, entries, broken, events = desk.audit()
        return page(request, "audit.html.j2", user, intact=intact, entries=entries,
                    broken=broken, events=events)  # fmt: skip

    # -- duties, task edits, one organization (routes of issue 12) ------------------------------

    @app.get("/duties", response_class=HTMLResponse, include_in_schema=False)
    def duties_page(request: Request, user: Annotated[auth.Who, Depends(who)]) -> Response:
        return page(request, "duties.html.j2", user, listed=desk.duties(), error="")

    @app.post("/duties/{rule}", response_class=HTMLResponse, include_in_schema=False)
    def duty_move(
        request: Request,
        rule: str,
        user: Annotated[auth.Who, Depends(responder)],
        action: Annotated[str, Form(max_length=20)],
        owner: Annotated[str, Form(max_length=200)] = "",
        text: Annotated[str, Form(max_length=4000)] = "",
        filed_at: Annotated[str, Form(max_length=64)] = "",
        channel: Annotated[str, Form(max_length=200)] = "",
        reference: Annotated[str, Form(max_length=200)] = "",
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        checked(user, csrf)
        try:
            move_duty(ws, rule, action, user.username, owner=owner, text=text,
                      filed_at=filed_at, channel=channel, reference=reference)  # fmt: skip
        except InputError as exc:
            response = page(request, "duties.html.j2", user, listed=desk.duties(), error=str(exc))
            response.status_code = 400
            return response
        return RedirectResponse("/duties", status_code=303)

    @app.post("/tasks/{task_id}", response_class=HTMLResponse, include_in_schema=False)
    def task_edit(
        request: Request,
        task_id: int,
        user: Annotated[auth.Who, Depends(responder)],
        status: Annotated[str, Form(max_length=20)],
        owner: Annotated[str, Form(max_length=200)],
        due: Annotated[str, Form(max_length=64)] = "",
        csrf: Annotated[str | None, Form()] = None,
    ) -> Response:
        checked(user, csrf)
        try:
            edit_task(ws, task_id, status, owner, due, user.username)
        except InputError as exc:
            response = page(request, "tasks.html.j2", user, rows=desk.tasks(), error=str(exc))
            response.status_code = 400
            return response
        return RedirectResponse("/tasks", status_code=303)

    @app.get("/organizations/{org_id}", response_class=HTMLResponse, include_in_schema=False)
    def organization(
        request: Request, org_id: str, user: Annotated[auth.Who, Depends(who)]
    ) -> Response:
        found = desk.organization(org_id)
        if found is None:
            raise HTTPException(404, "no such affected organization")
        return page(request, "organization.html.j2", user, org=found)

    # -- JSON, for scripts and load tests -----------------------------------------------------

    @app.get("/api/overview")
    def api_overview(user: Annotated[auth.Who, Depends(who)]) -> dict[str, Any]:
        """Headline numbers, findings and notification progress (counts only)."""
        return desk.overview()

    @app.get("/api/organizations")
    def api_organizations(
        user: Annotated[auth.Who, Depends(who)],
        q: Annotated[str, Query(max_length=200)] = "",
        page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    ) -> dict[str, Any]:
        """Affected organizations matching ``q`` (id or name), fifty a page."""
        rows, total = desk.organizations(q, page_no)
        return {"total": total, "page": page_no,
                "rows": [{k: v for k, v in r.items() if k != "key"} for r in rows]}  # fmt: skip

    add_desk_pages(app, ws, who, page)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from breachdesk.web.vendors import add_vendor_pages

    add_vendor_pages(app, ws, who, page)
    app.state.store = store
    app.state.workspace = ws
    return app
