"""Every link a message holds, read the way a mail client and a browser would read it:
``href``, ``src`` and ``action`` attributes of the HTML part with the text shown for each
link, bare URLs in the text (``https://…``, ``www.…``), and host names merely named in
the text (``log in at examp1e-security.com``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import unquote

MAX_LINKS = 5000  # links read from one message; a message with more says so
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "background", "poster", "data"})
_HIDDEN = frozenset({"script", "style", "title", "head", "template"})
_BARE_URL = re.compile(r"(?i)(?<![\w@/])(?:(?:https?|ftp)://|www\.)[^\s<>\"'\[\]{}|\\^`]+")
# a host name written out: labels of letters (any script), digits and hyphens, then a
# top-level label of letters; whether that label is a real one is checked afterwards
_NAMED_HOST = re.compile(r"(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}")
# what separates the words of a text; a host name is looked for only in words with a dot
_SPACES = re.compile(r"[\s<>()\[\]{}\"'\u201c\u201d\u2018\u2019\u00ab\u00bb,;!?*|]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_INVISIBLE = re.compile(r"[\t\n\r\x00-\x1f\x7f]")


@dataclass
class HtmlLinks:
    """What the HTML part links to and shows."""

    links: list[tuple[str, str]] = field(default_factory=list)  # (url, text shown for it)
    text: list[str] = field(default_factory=list)
    truncated: bool = False
    malformed: bool = False


class _Reader(HTMLParser):
    def __init__(self, found: HtmlLinks) -> None:
        super().__init__(convert_charrefs=True)
        self.found = found
        self._hidden = 0
        self._anchor: list[str] | None = None
        self._anchor_url = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        for name, value in attrs:
            if name in _URL_ATTRIBUTES and value:
                if tag == "a" and name == "href":
                    self._close_anchor()
                    self._anchor, self._anchor_url = [], value
                else:
                    self._add(value, "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        hidden = self._hidden
        self.handle_starttag(tag, attrs)
        self._hidden = hidden  # <script/> opens nothing

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "a":
            self._close_anchor()

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        self.found.text.append(data)
        if self._anchor is not None:
            self._anchor.append(data)

    def _close_anchor(self) -> None:
        if self._anchor is not None:
            self._add(self._anchor_url, " ".join("".join(self._anchor).split())[:300])
            self._anchor = None

    def _add(self, url: str, text: str) -> None:
        if len(self.found.links) >= MAX_LINKS:
            self.found.truncated = True
            return
        self.found.links.append((url, text))

    def finish(self) -> None:
        self._close_anchor()


def html_links(html: str) -> HtmlLinks:
    found = HtmlLinks()
    reader = _Reader(found)
    try:
        reader.feed(html)
        reader.close()
    except (AssertionError, ValueError, IndexError):
        # the stdlib parser gives up on a few malformed constructs (``<![x[``): what was
        # read before stays, and the message is said to be malformed
        found.malformed = True
    reader.finish()
    return found


def bare_urls(text: str) -> list[str]:
    if "://" not in text and "www." not in text.lower():
        return []
    return [u.rstrip(".,;:!?)'\"") for u in _BARE_URL.findall(text)[:MAX_LINKS]]


def named_hosts(text: str) -> list[str]:
    """Host-shaped words of ``text`` (``example.com``, ``exаmple.com``, the domain of an
    address, the host of a URL), each once."""
    found: dict[str, None] = {}
    for word in _SPACES.split(text):
        if "." not in word:
            continue
        word = word.rpartition("@")[2].rpartition("://")[2].split("/", 1)[0].strip(".:-")
        if _NAMED_HOST.fullmatch(word):
            found[word] = None
            if len(found) >= MAX_LINKS:
                break
    return list(found)


Kind = Literal["web", "mail", "script", "other", "relative"]


@dataclass(frozen=True)
class Target:
    """Where a link goes: its kind, its host as written (percent-decoded; maybe not a valid
    name), and the user-info before an ``@`` that hides the real host."""

    kind: Kind
    host: str
    userinfo: str = ""


def target(url: str) -> Target:
    """Where ``url`` leads, read as a browser would (backslashes as slashes, tabs and line
    breaks inside removed, a scheme-relative ``//host`` and a bare ``www.`` included)."""
    text = _INVISIBLE.sub("", url.strip())
    scheme_match = _SCHEME.match(text)
    scheme = scheme_match.group(1).lower() if scheme_match else ""
    if scheme in ("javascript", "vbscript", "data"):
        return Target("script", "")
    if scheme == "mailto":
        address = unquote(text[7:].split("?", 1)[0].split(",", 1)[0])
        return Target("mail", address.rpartition("@")[2].strip().strip("<>"))
    if scheme in ("http", "https", "ftp"):
        rest = text[len(scheme) + 1 :].lstrip("/\\")
    elif not scheme and text.startswith(("//", "\\\\")):
        rest = text.lstrip("/\\")
    elif not scheme and text.lower().startswith("www."):
        rest = text
    elif scheme:
        return Target("other", "")
    else:
        return Target("relative", "")
    authority = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
    userinfo, _, hostport = authority.rpartition("@")
    if hostport.startswith("["):
        host = hostport.split("]", 1)[0] + "]"
    else:
        host = hostport.split(":", 1)[0]
    return Target("web", unquote(host).strip(), unquote(userinfo))
