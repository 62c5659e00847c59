"""The phishing pages of both apps.

Dashboard (signed in): ``/phishing`` shows the lookalike watch list of the official
domains, with the technique of each, and takes a message a user forwarded (``.eml``) for
the same verdict and reasons as ``breachdesk phishing check``.

Public check: ``/message`` takes a reader's ``.eml`` and answers with the verdict and the
reasons only. The upload is read into memory, never onto disk (the body is parsed as it
streams in, and refused past the size limit), is never stored or logged, and each client
gets a few uploads a minute.

(No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
and their dependencies are local names.)
"""

from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from python_multipart.multipart import MultipartParser, parse_options_header

from breachdesk.errors import InputError
from breachdesk.phishing.classify import Watch
from breachdesk.phishing.message import MessageCheck, MessageChecker
from breachdesk.services.phishing import check_basis, check_bytes, published_basis
from breachdesk.services.workspace import Workspace
from breachdesk.store import append_event
from breachdesk.web import auth
from breachdesk.web.app_common import client

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

UPLOAD_LIMIT = 512 * 1024  # public uploads; a genuine notice is about 10 kB
DESK_LIMIT = 5 * 1024 * 1024  # support staff upload forwarded messages, attachments included
UPLOAD_COST = 5  # an upload counts as five code checks: a client gets 6 a minute of 30
ROWS = 100
_OVERHEAD = 16 * 1024  # the form's own fields and boundaries around the file


class Limiter(Protocol):
    def allow(self, who: str) -> bool: ...


async def read_upload(request: Request, limit: int) -> tuple[bytes, dict[str, bytes]]:
    """The message sent by a form (``multipart/form-data``, field ``message``) or as the
    body itself (``message/rfc822``), and the form's fields, kept in memory;
    :class:`InputError` past ``limit``."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _OVERHEAD:
        raise _TooLarge(limit)
    if kind == b"message/rfc822":
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _TooLarge(limit)
        return bytes(body), {}
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InputError("send the message as a file (form field 'message') or as message/rfc822")
    found = _Parts()
    parser = MultipartParser(boundary, found.callbacks(), max_size=limit + _OVERHEAD)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit + _OVERHEAD:
            raise _TooLarge(limit)
        parser.write(chunk)
    parser.finalize()
    data = found.fields.get("message", b"")
    if len(data) > limit:
        raise _TooLarge(limit)
    return data, found.fields


class _TooLarge(InputError):
    http_status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"the message is larger than the {limit // 1024:,} kB allowed")


class _Parts:
    """The fields of a multipart body, in memory (each part's name from its headers)."""

    def __init__(self) -> None:
        self.fields: dict[str, bytes] = {}
        self._name = ""
        self._header = b""
        self._value = b""
        self._data = bytearray()

    def callbacks(self) -> "MultipartCallbacks":
        def header_field(data: bytes, start: int, end: int) -> None:
            self._header += data[start:end]

        def header_value(data: bytes, start: int, end: int) -> None:
            self._value += data[start:end]

        def header_end() -> None:
            if self._header.lower() == b"content-disposition":
                _, options = parse_options_header(self._value)
                self._name = options.get(b"name", b"").decode("utf-8", "replace")
            self._header, self._value = b"", b""

        def part_begin() -> None:
            self._name, self._data = "", bytearray()

        def part_data(data: bytes, start: int, end: int) -> None:
            self._data += data[start:end]

        def part_end() -> None:
            if self._name and self._name not in self.fields:
                self.fields[self._name] = bytes(self._data)

        return {
            "on_header_field": header_field,
            "on_header_value": header_value,
            "on_header_end": header_end,
            "on_part_begin": part_begin,
            "on_part_data": part_data,
            "on_part_end": part_end,
        }


def answer(result: MessageCheck) -> dict[str, Any]:
    """What a page shows: the verdict and the reasons, nothing of the message itself."""
    return {"verdict": result.verdict, "reasons": list(result.reasons)}


def add_desk_pages(
    app: FastAPI,
    ws: Workspace,
    who: Callable[..., Any],
    page: Callable[..., Response],
) -> None:
    """``/phishing`` on the dashboard (any signed-in user: checking changes nothing)."""

    @cache
    def watch() -> Watch:
        return Watch(check_basis(ws).official_domains)

    @cache
    def checker() -> MessageChecker:
        return check_basis(ws).checker(watch())

    def watch_page(request: Request, user: Any, q: str, technique: str, page_no: int,
                   result: dict[str, Any] | None, error: str) -> Response:  # fmt: skip
        items = watch().lookalikes
        counts = Counter(x.technique for x in items)
        needle = q.strip().lower()
        chosen = [x for x in items if (not technique or x.technique == technique)
                  and (not needle or needle in x.domain or needle in x.unicode)]  # fmt: skip
        start = (page_no - 1) * ROWS
        return page(request, "phishing.html.j2", user, official=sorted(watch().official),
                    counts=counts.most_common(), total=len(items), rows=chosen[start:start + ROWS],
                    matching=len(chosen), q=q, technique=technique, page_no=page_no,
                    pages=max(1, -(-len(chosen) // ROWS)), result=result, error=error)  # fmt: skip

    @app.get("/phishing", response_class=HTMLResponse, include_in_schema=False)
    def phishing(
        request: Request,
        user: Annotated[Any, Depends(who)],
        q: Annotated[str, Query(max_length=200)] = "",
        technique: Annotated[str, Query(max_length=40)] = "",
        page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    ) -> Response:
        return watch_page(request, user, q, technique, page_no, None, "")

    @app.post("/phishing/check", response_class=HTMLResponse, include_in_schema=False)
    async def check_upload(request: Request, user: Annotated[Any, Depends(who)]) -> Response:
        try:
            data, fields = await read_upload(request, DESK_LIMIT)
            if not auth.csrf_ok(user, fields.get("csrf", b"").decode("ascii", "replace")):
                return JSONResponse({"detail": "missing or wrong CSRF token"}, status_code=403)
            result = answer(check_bytes(checker(), data, DESK_LIMIT))
        except InputError as exc:
            response = watch_page(request, user, "", "", 1, None, str(exc))
            response.status_code = exc.http_status
            return response
        append_event(ws.store, "desk.message_checked", {"verdict": result["verdict"]},
                     actor=user.username)  # fmt: skip
        return watch_page(request, user, "", "", 1, result, "")


def add_public_page(app: FastAPI, published: Path, pages: Any, limiter: Limiter) -> None:
    """``/message`` on the public check, when ``verify publish`` wrote the check's basis."""
    basis = published_basis(published)
    if basis is None:
        return
    checker = basis.checker()

    def show(request: Request, result: dict[str, Any] | None, error: str, status: int) -> Response:
        response: Response = pages.TemplateResponse(request, "message.html.j2",
                                          {"result": result, "error": error,
                                           "limit_kb": UPLOAD_LIMIT // 1024})  # fmt: skip
        response.status_code = status
        return response

    @app.get("/message", response_class=HTMLResponse, include_in_schema=False)
    def message_form(request: Request) -> Response:
        return show(request, None, "", 200)

    @app.post("/message", response_class=HTMLResponse, include_in_schema=False)
    async def message_check(request: Request) -> Response:
        if not limiter.allow(client(request)):
            return JSONResponse({"detail": "too many checks; wait a minute"}, status_code=429,
                                headers={"Retry-After": "60"})  # fmt: skip
        try:
            data, _ = await read_upload(request, UPLOAD_LIMIT)
            result = answer(check_bytes(checker, data, UPLOAD_LIMIT))
        except InputError as exc:
            return show(request, None, str(exc), exc.http_status)
        return show(request, result, "", 200)
