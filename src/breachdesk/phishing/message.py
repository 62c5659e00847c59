"""Is this message really from us? The check of one message (bytes of an ``.eml``), offline.

Verdicts, in precedence order (the first that applies is the answer):

- ``lookalike``: a sender, reply-to, return-path, DKIM or link domain imitates an official
  one (also a display name or a link text that shows an official domain over another);
- ``unauthenticated``: it claims an official domain (or says it is the company) without a
  valid signature of ours aligned with its From, or the signed body was altered, or a
  trusted receiving server reported a failure; a message that is none of the others and
  not signed by us is also unauthenticated: nothing vouches for it;
- ``suspicious``: links to other hosts, IP-literal or shortened links, scripts, an
  attachment, or it asks for passwords, codes, keys or payment;
- ``authentic``: a valid DKIM signature by a key the workspace holds, its ``d=`` an
  official domain aligned with From, and every link on an official domain.

The checker never raises on what a message holds: whatever cannot be read is a reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from typing import Literal

from breachdesk.phishing import authres, links
from breachdesk.phishing.asks import find_asks
from breachdesk.phishing.classify import DomainVerdict, Watch
from breachdesk.phishing.names import HostError, ip_literal, public_suffix, registrable
from breachdesk.phishing.signatures import PublicKey, Signature, verify

Verdict = Literal["authentic", "lookalike", "unauthenticated", "suspicious"]
MAX_TEXT = 2_000_000  # characters of text read from one message
MAX_PARTS = 1000
_SINGLE = ("from", "sender", "reply-to", "to", "subject", "date", "message-id", "content-type")
_ASKED = {
    "password": "a password",
    "code": "a code",
    "key": "a key or token",
    "payment": "a payment",
}
_LANGUAGE = {"en": "English", "ro": "Romanian", "de": "German", "ja": "Japanese"}


@dataclass(frozen=True)
class LinkHost:
    host: str  # ASCII form, as `phishing check --json` prints it (README)
    official: bool


@dataclass(frozen=True)
class DkimResult:
    d: str
    s: str
    valid: bool


@dataclass(frozen=True)
class MessageCheck:
    """The answer: the verdict, every fact behind it, the From domain, each DKIM
    signature and each host linked to."""

    verdict: Verdict
    reasons: tuple[str, ...]
    from_domain: str | None
    dkim: tuple[DkimResult, ...]
    links: tuple[LinkHost, ...]


@dataclass(frozen=True)
class Policy:
    """What the check knows of the workspace: its official domains (with their lookalike
    watch), its DKIM public keys, the receiving servers whose Authentication-Results it
    believes, the link shorteners, and the company's name."""

    watch: Watch
    keys: Mapping[str, PublicKey]
    trusted_authserv_ids: frozenset[str] = frozenset()
    shorteners: frozenset[str] = frozenset()
    company: str = ""


@dataclass
class _Facts:
    lookalike: list[str] = field(default_factory=list)
    unauthenticated: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    def verdict(self) -> Verdict:
        """The first that applies: lookalike, unauthenticated, suspicious; else authentic
        (the check adds an unauthenticated fact whenever nothing vouches for the message)."""
        if self.lookalike:
            return "lookalike"
        if self.unauthenticated:
            return "unauthenticated"
        if self.suspicious:
            return "suspicious"
        return "authentic"

    def reasons(self) -> tuple[str, ...]:
        ordered = [*self.lookalike, *self.unauthenticated, *self.suspicious, *self.info]
        return tuple(dict.fromkeys(ordered))


def _shown(verdict: DomainVerdict) -> str:
    if verdict.unicode != verdict.ascii:
        return f"{verdict.unicode} ({verdict.ascii})"
    return verdict.ascii


def _imitates(verdict: DomainVerdict) -> str:
    return f"{_shown(verdict)}, a lookalike of {verdict.official} ({verdict.technique})"


def _header_text(value: str) -> str:
    """A raw header value as text: 8-bit bytes read as UTF-8 (RFC 6532), RFC 2047 encoded
    words decoded where they can be."""
    text = value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return text


def _values(head: Message, name: str) -> list[str]:
    """Every value of the header ``name`` (in order), as text."""
    return [_header_text(str(v)) for k, v in head.raw_items() if k.lower() == name]


class MessageChecker:
    """Checks messages against one workspace's :class:`Policy`."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.watch = policy.watch

    def check(self, data: bytes, now: int | None = None) -> MessageCheck:
        """The verdict on the message ``data``."""
        facts = _Facts()
        wire = data
        if data.count(b"\n") != data.count(b"\r\n"):  # saved with bare line feeds
            wire = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        message: Message | None = None
        try:
            head = message = message_from_bytes(wire, policy=compat32)
        except RecursionError:
            facts.suspicious.append("its MIME structure is nested too deeply to read")
            head = BytesHeaderParser(policy=compat32).parsebytes(wire)
        from_domain, from_verdict = self._senders(head, facts)
        signatures = verify(wire, self.policy.keys, self.watch.official, now or int(time.time()))
        signed = self._signatures(signatures, from_verdict, facts)
        self._authentication_results(head, signed, from_verdict, facts)
        hosts = self._body(message, facts)
        if from_verdict is not None and from_verdict.verdict == "official" and not signed:
            facts.unauthenticated.append(
                f"it claims to be from {from_verdict.ascii} but carries no valid signature "
                "of ours aligned with that address"
            )
        if not signed and not (facts.lookalike or facts.unauthenticated or facts.suspicious):
            facts.unauthenticated.append("no signature of ours: nothing shows it comes from us")
        if signed and all(h.official for h in hosts):
            facts.info.append(
                "every link is on an official domain" if hosts else "it holds no link"
            )
        return MessageCheck(
            facts.verdict(),
            facts.reasons(),
            from_domain,
            tuple(DkimResult(s.d, s.s, s.valid) for s in signatures),
            tuple(hosts),
        )

    def _classify(self, name: str) -> DomainVerdict | None:
        try:
            return self.watch.classify(name)
        except HostError:
            return None

    def _senders(self, head: Message, facts: _Facts) -> tuple[str | None, DomainVerdict | None]:
        for name in _SINGLE:
            count = len(_values(head, name))
            if count > 1:
                facts.unauthenticated.append(
                    f"the {name.title()} header appears {count} times: one was added on the way"
                )
        from_values = _values(head, "from")
        addresses = [(n, a) for n, a in getaddresses(from_values) if a or n]
        if not addresses:
            facts.unauthenticated.append("it has no From address")
            return None, None
        if len(addresses) > 1:
            facts.unauthenticated.append(f"it has {len(addresses)} From addresses")
        display, address = addresses[0]
        from_verdict = self._address("From", address, facts)
        from_domain = from_verdict.ascii if from_verdict else None
        self._display_name(display, from_verdict, facts)
        for header in ("reply-to", "sender", "return-path"):
            values = _values(head, header)
            for _, other in getaddresses(values)[:20]:
                if other:
                    found = self._address(header.title(), other, facts)
                    if (
                        found is not None
                        and found.verdict == "unrelated"
                        and header != "return-path"
                    ):
                        facts.suspicious.append(
                            f"replies would go to {_shown(found)}, not an official domain"
                            if header == "reply-to"
                            else f"the Sender is at {_shown(found)}, not an official domain"
                        )
        return from_domain, from_verdict

    def _address(self, header: str, address: str, facts: _Facts) -> DomainVerdict | None:
        domain = address.rpartition("@")[2].strip().strip("<>[]")
        verdict = self._classify(domain) if domain else None
        if verdict is None:
            facts.unauthenticated.append(f"the {header} address has no valid domain")
        elif verdict.verdict == "lookalike":
            facts.lookalike.append(f"the {header} address is at {_imitates(verdict)}")
        elif verdict.verdict == "official" and header == "From":
            facts.info.append(f"the From address claims {_shown(verdict)}, an official domain")
        return verdict

    def _display_name(self, display: str, sender: DomainVerdict | None, facts: _Facts) -> None:
        if not display:
            return
        for named in links.named_hosts(display):
            shown = self._classify(named)
            if shown is None or shown.verdict == "unrelated":
                continue
            if sender is None or registrable(shown.ascii) != registrable(sender.ascii):
                facts.lookalike.append(
                    f"the sender's name shows {_shown(shown)} but the address is at "
                    f"{_shown(sender) if sender else 'no valid domain'}"
                )
        company = self.policy.company.strip().casefold()
        official_sender = sender is not None and sender.verdict == "official"
        if company and company in display.casefold() and not official_sender:
            facts.unauthenticated.append(
                f"the sender's name says {self.policy.company} but the address is not on an "
                "official domain"
            )

    def _signatures(
        self, signatures: list[Signature], sender: DomainVerdict | None, facts: _Facts
    ) -> list[Signature]:
        aligned = []
        for sig in signatures:
            label = f"DKIM signature d={sig.d or '?'} s={sig.s or '?'}"
            if sig.d and not sig.ours:
                verdict = self._classify(sig.d)
                if verdict is not None and verdict.verdict == "lookalike":
                    facts.lookalike.append(f"signed by {_imitates(verdict)}")
                    continue
            if sig.valid:
                if sender is not None and registrable(sig.d) == registrable(sender.ascii):
                    facts.info.append(f"{label}: valid, by a key of ours, aligned with From")
                    aligned.append(sig)
                else:
                    facts.unauthenticated.append(f"{label}: valid, but not aligned with From")
            elif sig.ours:
                facts.unauthenticated.append(f"{label}: {sig.reason}")
            else:
                facts.info.append(f"{label}: {sig.reason}")
        return aligned

    def _authentication_results(
        self, head: Message, signed: list[Signature], sender: DomainVerdict | None, facts: _Facts
    ) -> None:
        for value in _values(head, "authentication-results")[:20]:
            parsed = authres.parse(value)
            if parsed is None:
                continue
            if parsed.authserv_id not in self.policy.trusted_authserv_ids:
                facts.info.append(
                    f"Authentication-Results from {parsed.authserv_id[:80]} ignored: not a "
                    "server we trust"
                )
                continue
            for result in parsed.results:
                if result.method not in ("dkim", "dmarc", "spf"):
                    continue
                about = (
                    result.get("header.d")
                    or result.get("header.from")
                    or result.get("smtp.mailfrom")
                )
                says = f"{parsed.authserv_id} reported {result.method}={result.result}"
                if result.result == "pass":
                    if result.method == "dkim" and not signed and about in self.watch.official:
                        facts.unauthenticated.append(
                            f"{says} for {about} on receipt, but no signature of ours verifies "
                            "now: the message was changed after it arrived"
                        )
                    else:
                        facts.info.append(f"{says} for {about or '?'}")
                elif result.result in ("fail", "softfail", "permerror") and (
                    sender is not None and sender.verdict == "official"
                ):
                    facts.unauthenticated.append(f"{says} for {about or sender.ascii}")

    def _body(self, message: Message | None, facts: _Facts) -> list[LinkHost]:
        texts, pairs = self._parts(message, facts) if message is not None else ([], [])
        hosts: dict[str, LinkHost] = {}
        for url, shown in pairs:
            self._link(url, shown, hosts, facts)
        for text in texts:
            for named in links.named_hosts(text):
                if public_suffix(named.lower()) is None:
                    continue  # not a real top-level domain: "notes.txt"
                verdict = self._classify(named)
                if verdict is None or verdict.ascii in hosts:
                    continue  # a link's own host: said once, as the link
                if verdict.verdict == "lookalike":
                    facts.lookalike.append(f"the text names {_imitates(verdict)}")
        for ask in find_asks(texts):
            facts.suspicious.append(f"it asks for {_ASKED[ask.what]} ({_LANGUAGE[ask.language]})")
        return list(hosts.values())

    def _parts(self, message: Message, facts: _Facts) -> tuple[list[str], list[tuple[str, str]]]:
        """The text of every readable part and every (link, text shown for it)."""
        texts: list[str] = []
        pairs: list[tuple[str, str]] = []
        budget = MAX_TEXT
        for count, part in enumerate(_walk(message)):
            if count >= MAX_PARTS:
                facts.suspicious.append(
                    f"it has more than {MAX_PARTS} parts; the rest were not read"
                )
                break
            kind = _content_type(part)
            disposition = str(part.get("content-disposition", "")).split(";", 1)[0]
            name = _filename(part)
            if disposition.strip().lower() == "attachment" or name:
                extension = name.rpartition(".")[2][:10].lower() if "." in name else "?"
                facts.suspicious.append(f"it carries an attachment (.{extension})")
                continue
            if part.is_multipart() or not kind.startswith("text/"):
                continue
            text = _decoded(part)[:budget]
            budget -= len(text)
            if kind == "text/html":
                found = links.html_links(text)
                visible = " ".join(found.text)
                pairs.extend(found.links)
                pairs.extend((url, "") for url in links.bare_urls(visible))
                texts.append(visible)
                if found.truncated:
                    facts.suspicious.append(f"it holds more than {links.MAX_LINKS} links")
                if found.malformed:
                    facts.suspicious.append("its HTML is malformed")
            else:
                texts.append(text)
                pairs.extend((url, "") for url in links.bare_urls(text))
            if budget <= 0:
                facts.suspicious.append("its text is too long to read in full")
                break
        return texts, pairs

    def _link(self, url: str, shown: str, hosts: dict[str, LinkHost], facts: _Facts) -> None:
        where = links.target(url)
        if where.kind == "script":
            facts.suspicious.append("a link runs a script or carries data (javascript:, data:)")
            return
        if where.kind in ("other", "relative"):
            return
        raw = where.host
        if not raw:
            return
        if where.kind == "web" and ip_literal(raw):
            facts.suspicious.append(f"a link goes to an IP address ({raw[:60]})")
            hosts.setdefault(raw[:60], LinkHost(raw[:60], False))
            return
        verdict = self._classify(raw)
        if verdict is None:
            facts.suspicious.append("a link goes to a host name that is not valid")
            return
        hosts.setdefault(verdict.ascii, LinkHost(verdict.ascii, verdict.verdict == "official"))
        if verdict.verdict == "lookalike":
            facts.lookalike.append(f"a link goes to {_imitates(verdict)}")
        elif verdict.verdict == "unrelated":
            if registrable(verdict.ascii) in self.policy.shorteners:
                facts.suspicious.append(f"a shortened link ({verdict.ascii}) hides where it goes")
            else:
                facts.suspicious.append(f"a link goes to {_shown(verdict)}, not an official domain")
        if where.userinfo:
            hidden = self._classify(where.userinfo.rpartition(":")[0] or where.userinfo)
            if hidden is not None and hidden.verdict != "unrelated":
                facts.lookalike.append(
                    f"a link shows {_shown(hidden)} before an @ but goes to {_shown(verdict)}"
                )
            else:
                facts.suspicious.append(
                    f"a link hides its host behind user info ({_shown(verdict)})"
                )
        if shown:
            self._link_text(shown, verdict, facts)

    def _link_text(self, shown: str, goes: DomainVerdict, facts: _Facts) -> None:
        for named in links.named_hosts(shown)[:5]:
            said = self._classify(named)
            if said is None or registrable(said.ascii) == registrable(goes.ascii):
                continue
            if said.verdict != "unrelated":
                facts.lookalike.append(f"a link shows {_shown(said)} but goes to {_shown(goes)}")
            elif public_suffix(said.ascii) is not None:
                facts.suspicious.append(f"a link shows {_shown(said)} but goes to {_shown(goes)}")


def _walk(message: Message) -> Iterable[Message]:
    """Every part, depth first, without recursion (a deep structure cannot exhaust the
    stack)."""
    stack = [message]
    while stack:
        part = stack.pop()
        yield part
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _content_type(part: Message) -> str:
    try:
        return str(part.get_content_type())
    except (ValueError, LookupError, UnicodeError, TypeError, AttributeError):
        return "application/octet-stream"


def _filename(part: Message) -> str:
    try:
        return str(part.get_filename() or "")
    except (ValueError, LookupError, UnicodeError, TypeError):
        return "?"


def _decoded(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, UnicodeError, TypeError, AssertionError):
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        return data.decode(charset, "replace")
    except (LookupError, ValueError, UnicodeError, TypeError):
        return data.decode("utf-8", "replace")
