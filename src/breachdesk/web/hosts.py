"""Which names a web app answers to, and redirects that never repeat a client's Host header.

A request whose ``Host`` is not on the allowlist gets 400 before any route runs (Starlette's
TrustedHostMiddleware), and every redirect leaves as a relative one: even a redirect built
from the request's URL (a trailing slash, a static folder) names no host.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

import idna
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from breachdesk.errors import InputError

_WILDCARD_BINDS = {"0.0.0.0", "::", ""}  # noqa: S104 - names of "every address", to refuse


def allowed_host(name: str) -> str:
    """One allowlist entry as a Host header carries it: lower case, an IPv6 literal in
    brackets, an internationalised name in its ASCII form; ``*.example.org`` allows every
    subdomain."""
    text = name.strip().lower()
    if text == "*":
        raise InputError("--allowed-host '*' would allow any host; name the hosts instead")
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:
        return f"[{ip}]" if ip.version == 6 else str(ip)
    wildcard = text.startswith("*.")
    rest = text[2:] if wildcard else text
    try:
        ascii_name = idna.encode(rest, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise InputError(f"--allowed-host {name!r}: not a host name or IP address") from None
    return ("*." if wildcard else "") + ascii_name


def default_hosts(bind: str) -> list[str]:
    """The names a server bound to ``bind`` answers to unless told otherwise: the bound
    address, and ``localhost``/``127.0.0.1``/``[::1]`` when it is a loopback address. A
    server bound to every address has no default: it must be told its names."""
    if bind in _WILDCARD_BINDS:
        raise InputError(
            f"--host {bind or '(empty)'} listens on every address: name the host(s) clients "
            "use with --allowed-host"
        )
    own = allowed_host(bind)
    loopback = bind == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(bind.strip("[]")).is_loopback
    extra = ["localhost", "127.0.0.1", "[::1]"] if loopback else []
    return list(dict.fromkeys([own, *extra]))


def allowlist(bind: str, given: Iterable[str]) -> list[str]:
    """``--allowed-host`` values (normalised), or the defaults of ``bind`` when none."""
    names = [allowed_host(n) for n in given]
    return list(dict.fromkeys(names)) if names else default_hosts(bind)


def _relative(location: str) -> str:
    parts = urlsplit(location)
    path = "/" + (parts.path or "/").lstrip("/\\")  # never //host or /\host
    return path + (f"?{parts.query}" if parts.query else "")


class RelativeRedirects:
    """ASGI middleware: the ``Location`` of every response becomes a path on this server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relative(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, _relative(value.decode("latin-1")).encode("latin-1"))
                    if name.lower() == b"location"
                    else (name, value)
                    for name, value in message.get("headers", [])
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, relative)
