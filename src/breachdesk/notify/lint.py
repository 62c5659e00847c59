"""The lint every rendered notice passes before it may be queued (the notice rules).

A message is refused, with every reason found, when it: links anywhere but an official
domain, holds more than one distinct link, carries an attachment or any part beyond its
plain-text and HTML alternatives, loads anything (images, scripts, forms, styles from
outside), has a header with a line break, comes from outside the official domains, has no
DKIM key, or when its two parts disagree on any list (the exposed categories first, then what
was not exposed, what to do, what was done).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import parseaddr
from html.parser import HTMLParser

from breachdesk.notify.compose import Composed
from breachdesk.notify.message import HEADERS

_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"')\]]+")
# anything shaped like a host name (a dotted name ending in letters), "Example.Inc" included:
# a false alarm costs a look, a missed lookalike domain costs the notice its point
_BARE_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,24}\b")
_ALLOWED_TAGS = frozenset(
    [
        "html",
        "head",
        "meta",
        "title",
        "body",
        "h1",
        "h2",
        "h3",
        "p",
        "ul",
        "ol",
        "li",
        "strong",
        "em",
        "br",
        "span",
        "div",
    ]
)
_LOADING_ATTRIBUTES = frozenset({"src", "srcset", "background", "action", "formaction", "poster"})


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.problems: list[str] = []
        self._skip = 0
        self.lists: list[list[str]] = []  # the items of each <ul> and <ol>, in order
        self._item: list[str] | None = None
        self._open: list[str] = []  # the lists (ul, ol) around the current point

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(v or "" for k, v in attrs if k == "href")
        elif tag not in _ALLOWED_TAGS:
            self.problems.append(f"HTML element <{tag}> is not allowed in a notice")
        for name, value in attrs:
            if name in _LOADING_ATTRIBUTES or name.startswith("on"):
                self.problems.append(f"HTML attribute {name}= on <{tag}> loads or runs something")
            if name == "style" and value and "url(" in value.lower():
                self.problems.append(f"a style on <{tag}> loads a resource")
        if tag in ("title", "head"):
            self._skip += 1
        elif tag in ("ul", "ol"):
            self._open.append(tag)
            self.lists.append([])
        elif tag == "li" and self._open:
            self._item = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("title", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in ("ul", "ol") and self._open:
            self._open.pop()
        elif tag == "li" and self._item is not None and self.lists:
            self.lists[-1].append(" ".join("".join(self._item).split()))
            self._item = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)
        if self._item is not None:
            self._item.append(data)


def _host(url: str) -> str:
    rest = re.sub(r"(?i)^https?://", "", url)
    host = re.split(r"[/?#:]", rest, maxsplit=1)[0]
    return host.rsplit("@", 1)[-1].lower().rstrip(".")


def _official(host: str, domains: Sequence[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _links(text: str) -> list[str]:
    return [u.rstrip(".,;:!?") for u in _URL.findall(text)]


def lint(composed: Composed, raw: bytes, domains: Sequence[str], dkim_ready: bool) -> list[str]:
    """Every reason to refuse the message ``raw`` (as it would go on the wire, unsigned);
    empty when it may be queued."""
    problems: list[str] = []
    if not dkim_ready:
        problems.append("no DKIM key is configured for the sender's domain")
    head = raw.partition(b"\r\n\r\n")[0]
    if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
        problems.append("a bare CR or LF in the headers")
    message = message_from_bytes(raw, policy=compat32)
    names = [name.lower() for name in message]
    if sorted(names) != sorted(h.lower() for h in HEADERS):
        extra = sorted(set(names) - {h.lower() for h in HEADERS})
        problems.append(f"unexpected or repeated headers: {', '.join(extra) or 'repeated'}")
    sender = parseaddr(str(message.get("From", "")))[1].rpartition("@")[2].lower()
    if not _official(sender, domains):
        problems.append(f"sender domain {sender or '?'} is not an official domain")
    parts = list(message.walk())
    kinds = [p.get_content_type() for p in parts]
    if kinds != ["multipart/alternative", "text/plain", "text/html"]:
        problems.append(f"structure {'+'.join(kinds)}: only a text and an HTML part are allowed")
    for part in parts:
        if part.get("Content-Disposition") or part.get_filename():
            problems.append(f"{part.get_content_type()} part is an attachment")
    bodies = {p.get_content_type(): _payload(p) for p in parts[1:]}
    text = bodies.get("text/plain", "")
    if text != composed.text or bodies.get("text/html", "") != composed.html:
        problems.append("the encoded parts do not decode to the composed text")
    html = _Html()
    html.feed(bodies.get("text/html", ""))
    html.close()
    problems.extend(dict.fromkeys(html.problems))
    visible = " ".join(html.text)
    links = set(_links(text)) | set(_links(visible)) | set(html.hrefs)
    for link in sorted(links):
        host = _host(link)
        if not _official(host, domains):
            problems.append(f"link to {host or link!r}, outside the official domains")
    if len(links) > 1:
        problems.append(f"{len(links)} distinct links; a notice has at most one")
    for source, body in (("text", text), ("HTML", visible)):
        for host in _BARE_HOST.findall(body):
            if not _official(host.lower(), domains):
                problems.append(f"{source} part names the host {host}, not an official domain")
    text_lists = _text_lists(text)
    exposed_text = text_lists[0] if text_lists else []
    exposed_html = html.lists[0] if html.lists else []
    if exposed_text != exposed_html:
        problems.append("the text and HTML parts disagree on the exposed categories")
    if sorted(exposed_text) != sorted(composed.labels):
        problems.append("the exposed categories listed differ from this recipient's")
    if text_lists[1:] != html.lists[1:]:
        problems.append(
            "the text and HTML parts disagree on a list (what was not exposed, what to do, "
            "what was done)"
        )
    return problems


def _payload(part: Message) -> str:
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else ""
    return text.replace("\r\n", "\n")


def _text_lists(text: str) -> list[list[str]]:
    """The runs of "- " lines of the plain-text part."""
    runs: list[list[str]] = []
    previous = False
    for line in text.splitlines():
        item = line.startswith("- ")
        if item:
            if not previous:
                runs.append([])
            runs[-1].append(" ".join(line[2:].split()))
        previous = item
    return runs
