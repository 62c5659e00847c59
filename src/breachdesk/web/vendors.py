"""The dashboard's vendors page: vendors cut off (and how long after the company knew),
the ranked blast radius last computed for the workspace, overdue reviews and vendors
without a DPA. Added to the dashboard app by :func:`add_vendor_pages`. (No postponed
annotations here: FastAPI reads the dependencies from them.)"""

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from breachdesk.services.vendors import vendor_desk
from breachdesk.services.workspace import Workspace


def _span(delta: Any) -> str:
    if delta is None:
        return "company awareness not recorded"
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    return f"{days}d {rest // 60}h {rest % 60}m after the company became aware"


def add_vendor_pages(
    app: FastAPI, ws: Workspace, who: Callable[..., Any], page: Callable[..., Response]
) -> None:
    @app.get("/vendors", response_class=HTMLResponse, include_in_schema=False)
    def vendors(request: Request, user: Annotated[Any, Depends(who)]) -> Response:
        desk = vendor_desk(ws)
        return page(request, "vendors.html.j2", user, desk=desk, span=_span,
                    today=date.today())  # fmt: skip
