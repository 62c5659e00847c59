"""Domain names as they go on the wire: IDNA 2008 through the ``idna`` package, with no
mapping that could change which domain is meant.

The decision (issue 10): a domain is NFC-normalised (canonically equivalent text: the same
name) and, where it holds non-ASCII, lower-cased, since IDNA 2008 writes U-labels in lower
case and DNS ignores case. UTS 46 mapping is accepted only where it would do no more than
that. Where UTS 46 (non-transitional) would map the name to anything else — full-width or
compatibility forms, a character folded into another — the domain is refused rather than
sent to a name the directory did not give. IDNA 2003 and transitional UTS 46 are never used:
they turn ``straße.de`` into ``strasse.de``, another domain; here ß stays ß
(``xn--strae-oqa.de``). ASCII labels keep the case they were written in.

Reasons never quote the domain: they end up in ``notify status`` and the dashboard.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

import idna

_CODEPOINT = re.compile(r"U\+[0-9A-F]{4,6}")


class DomainError(ValueError):
    """The domain cannot go on the wire; the message says why, without the domain."""


def ascii_domain(domain: str) -> str:
    """``domain`` in its ASCII (A-label) form under IDNA 2008; DomainError if it does not
    survive IDNA 2008 unchanged (see the module's docstring)."""
    name = unicodedata.normalize("NFC", domain)
    if not name or name.startswith(".") or name.endswith(".") or ".." in name:
        raise DomainError("the domain is not a host name (an empty label)")
    if "." not in name:
        raise DomainError("the domain is not a host name (a single label)")
    if not name.isascii():
        lowered = name.lower()
        try:
            mapped: str | None = idna.uts46_remap(name, std3_rules=True, transitional=False)
        except idna.IDNAError:
            mapped = None  # the strict encoding below names the reason
        if mapped is not None and mapped != lowered:
            raise DomainError(
                "the domain is not valid under IDNA 2008 as written; mapping it (width or "
                "compatibility forms) could make it another domain"
            )
        name = lowered
    try:
        return idna.encode(name, uts46=False).decode("ascii")
    except idna.IDNAError as exc:
        raise DomainError(_reason(exc)) from None


def _reason(exc: idna.IDNAError) -> str:
    message = str(exc)
    found = _CODEPOINT.search(message)
    where = f" ({found.group()})" if found else ""
    if isinstance(exc, idna.InvalidCodepointContext):
        return f"the domain holds a character out of the context IDNA 2008 allows{where}"
    if isinstance(exc, idna.InvalidCodepoint):
        return f"the domain holds a character IDNA 2008 does not allow{where}"
    if isinstance(exc, idna.IDNABidiError):
        return "the domain mixes right-to-left and left-to-right text as IDNA 2008 forbids"
    if "'" in message or '"' in message:  # a message quoting the label: not shown
        return "the domain is not valid under IDNA 2008"
    return f"the domain is not valid under IDNA 2008: {message.rstrip('.')}"


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_verify_url(url: str) -> None:
    """ValueError unless ``url`` is an ``https://`` link to a host name: no other scheme
    (``javascript:``, ``http:``, ``ftp:``), no user part, port, IP address, control character
    or space, and a host that is a domain under IDNA 2008. Whether that host is on one of the
    incident's official domains is checked where those are known (when notices are made)."""
    if any(c.isspace() or unicodedata.category(c)[0] == "C" for c in url):
        raise ValueError("the verify URL holds a space or control character")
    parts = urlsplit(url)
    if parts.scheme != "https" or not url.startswith("https://"):
        raise ValueError("the verify URL must start with https://")
    if "@" in parts.netloc or parts.port is not None or parts.netloc.endswith(":"):
        raise ValueError("the verify URL must name the host alone (no user part, no port)")
    host = parts.hostname or ""
    if not host or is_ip_literal(host):
        raise ValueError("the verify URL must name a host on an official domain, not an address")
    try:
        ascii_domain(host)
    except DomainError as exc:
        raise ValueError(f"the verify URL's host: {exc}") from None
