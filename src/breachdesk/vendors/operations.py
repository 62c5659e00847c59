"""The field operations a flow in vendors.yaml names (README, "Vendors"), each a pure
function of one value.

``keep``, ``strip_query``, ``truncate_ip`` and ``coarsen_ua`` never let an email address
through: a value that still holds one after the operation is dropped (pseudonymise such a
field instead). Each function returns the new value, or :data:`DROPPED` with no value.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import Any, Final
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from ua_parser import parse_user_agent

from breachdesk.detect.urls import looks_secret
from breachdesk.vendors.model import FieldOp


class _Dropped:
    def __repr__(self) -> str:
        return "DROPPED"


DROPPED: Final = _Dropped()
ID = ":id"

# anything shaped like local@domain.tld, after one level of percent-decoding
_EMAIL = re.compile(r"[^\s@]+@[^\s@/?#&=<>\"']+\.[^\s@/?#&=<>\"'.]{2,}")
_DIGITS = re.compile(r"\d{3,}")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_HEX = re.compile(r"[0-9a-f]{16,}", re.I)
_B64 = re.compile(r"[A-Za-z0-9+_=-]{20,}")
_VERSION = re.compile(r"^\s*v?(\d+)(?:[._]\d+)*\s*$")


def holds_email(value: Any) -> bool:
    """Whether a string (or any string inside a list or object) holds an email address."""
    if isinstance(value, str):
        if "@" in value and _EMAIL.search(value):
            return True
        return "%" in value and "%40" in value.upper() and _EMAIL.search(unquote(value)) is not None
    if isinstance(value, dict):
        return any(holds_email(k) or holds_email(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_email(v) for v in value)
    return False


def keep(value: Any) -> Any:
    return DROPPED if holds_email(value) else value


def looks_like_id(segment: str) -> bool:
    """A path segment or parameter value that identifies someone or something: a run of
    three or more digits, a UUID, a long hex or base64 run, an email, a token."""
    text = unquote(segment)
    if "@" in text or _DIGITS.search(text) or _UUID.search(text) or _HEX.search(text):
        return True
    run = _B64.search(text)
    if run and any(c.isdigit() for c in run.group()) and any(c.isalpha() for c in run.group()):
        return True
    return looks_secret(text, min_length=20, min_entropy=3.5)


def strip_query(value: Any, keep_query: Collection[str]) -> Any:
    """The URL without userinfo, fragment and query parameters other than ``keep_query``;
    path segments that look like ids, emails or tokens become ``:id``."""
    if not isinstance(value, str):
        return DROPPED
    return _strip_url(value, frozenset(keep_query))


@lru_cache(maxsize=8192)
def _strip_url(text: str, keep_query: frozenset[str]) -> Any:
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return DROPPED
    host = (parts.hostname or "") if parts.netloc else ""
    if host and "@" in host:
        return DROPPED
    netloc = f"{host}:{port}" if host and port else host
    segments = [ID if s and looks_like_id(s) else s for s in parts.path.split("/")]
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name in keep_query and not looks_like_id(value)
    ]
    path = "/".join(quote(unquote(s), safe=":$@!*'(),;=+~") for s in segments)
    result = urlunsplit((parts.scheme, netloc, path, urlencode(kept), ""))
    return DROPPED if holds_email(result) else result


def truncate_ip(value: Any) -> Any:
    """IPv4 to its /24, IPv6 to its /48 (the network address)."""
    if not isinstance(value, str):
        return DROPPED
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return DROPPED
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


# bare names that coarsen_ua lets through as they are (what SDKs send as $browser or $os);
# any other text becomes "Other": a free-text field must not carry a name or an id out
FAMILIES = frozenset(
    s.casefold()
    for s in (
        "Chrome", "Chrome Mobile", "Chrome Mobile iOS", "Chrome iOS", "Chromium", "Firefox",
        "Firefox Mobile", "Firefox iOS", "Safari", "Mobile Safari", "Edge", "Microsoft Edge",
        "Opera", "Opera Mobile", "Samsung Internet", "Internet Explorer", "Brave", "Vivaldi",
        "Android Browser", "Facebook Mobile", "Instagram", "Yandex Browser", "UC Browser",
        "Electron", "Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Chrome OS", "iOS",
        "iPadOS", "Android", "Other",
    )
)  # fmt: skip


def coarsen_ua(value: Any) -> Any:
    """A user agent to its browser family and major version (``Chrome 120``); a version
    to its major number; a known family name (``Chrome``, ``Mac OS X``) stays; any other
    text becomes ``Other``."""
    if isinstance(value, bool):
        return DROPPED
    if isinstance(value, (int, float)):
        return int(value)
    if not isinstance(value, str):
        return DROPPED
    return _coarse_ua(value[:1024])


@lru_cache(maxsize=4096)
def _coarse_ua(text: str) -> Any:
    version = _VERSION.match(text)
    if version:
        return version.group(1)
    if "/" in text or "(" in text:
        found = parse_user_agent(text)
        if found is None:
            return "Other"
        return f"{found.family} {found.major}" if found.major else found.family
    return text if text.strip().casefold() in FAMILIES else "Other"


Pseudonymiser = Callable[[Any], Any]


def pseudonymiser(key: bytes) -> Pseudonymiser:
    """Keyed HMAC-SHA256 pseudonyms (32 hex digits), stable for one value and key."""

    @lru_cache(maxsize=65536)
    def digest(text: str) -> str:
        return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def apply(value: Any) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, bool):
            return DROPPED
        if isinstance(value, (str, int, float)):
            return digest(str(value))
        if isinstance(value, list):
            items = [apply(v) for v in value]
            return [v for v in items if v is not DROPPED]
        return DROPPED

    return apply


def operation(op: FieldOp, key: bytes, keep_query: Collection[str]) -> Callable[[Any], Any]:
    """The function that applies ``op`` to a value."""
    if op is FieldOp.KEEP:
        return keep
    if op is FieldOp.DROP:
        return lambda _value: DROPPED
    if op is FieldOp.PSEUDONYMISE:
        return pseudonymiser(key)
    if op is FieldOp.STRIP_QUERY:
        names = frozenset(keep_query)
        return lambda value: strip_query(value, names)
    if op is FieldOp.TRUNCATE_IP:
        return truncate_ip
    return coarsen_ua
