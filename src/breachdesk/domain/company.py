"""The company's identity as its notices and reports state it: its name, the controller and
the DPO, the contact address for questions, the official domains, the sender and the page
where a reader checks a notice. Pure: the checks here are run when the details are set and
again when notices are made, so that a notice never carries an inconsistent identity.

Checked together: the sender, the contact address and the verify URL's host must each be on
an official domain (the domain itself or a subdomain of it) — the lint refuses any notice
naming another host, and a reader is told that genuine messages come only from those.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from breachdesk.domain.hostname import check_verify_url

# a host name as the notice lint sees one (a dotted name ending in letters)
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,24}\b")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}$")
MAX_NAME = 120
MAX_TEXT = 500

# what notices cannot go without, in the order a person is told: (field, option, in words)
NOTICE_FIELDS = (
    ("company", "--company", "company"),
    ("official_domains", "--official-domain", "official domain"),
    ("sender", "--sender", "sender"),
    ("contact_email", "--contact-email", "contact email"),
    ("verify_url", "--verify-url", "verify URL"),
)


@dataclass(frozen=True)
class CompanyIdentity:
    company: str = ""
    controller: str = ""  # the legal entity and its address, for the authority
    dpo: str = ""  # the data protection officer (or other contact point) and how to reach them
    contact_email: str = ""  # where readers of a notice write with questions (Art. 34(2))
    official_domains: tuple[str, ...] = ()
    sender: str = ""
    verify_url: str = ""

    def missing_for_notices(self) -> list[tuple[str, str]]:
        """(option of ``incident set``, in words) of each detail notices still need."""
        return [(option, words) for name, option, words in NOTICE_FIELDS
                if not getattr(self, name)]  # fmt: skip

    def problems(self) -> list[str]:
        """Every inconsistency among the details that are set (a missing one is no problem
        here; see :meth:`missing_for_notices`)."""
        found: list[str] = []
        domains = self.official_domains
        for domain in domains:
            if not _DOMAIN.match(domain):
                found.append(f"official domain {domain!r} is not a host name")
        if self.company:
            found.extend(text_problems("the company's name", self.company, MAX_NAME, domains))
        for what, value in (("the controller", self.controller), ("the DPO", self.dpo)):
            if value:
                found.extend(text_problems(what, value, MAX_TEXT, None))
        for what, address in (("sender", self.sender), ("contact email", self.contact_email)):
            if not address:
                continue
            if not _ADDRESS.match(address):
                found.append(f"{what} {address!r} is not an email address")
            elif not on_official_domain(address.rpartition("@")[2], domains):
                found.append(f"{what} {address!r} is not on an official domain{_listed(domains)}")
        if self.verify_url:
            try:
                check_verify_url(self.verify_url)
            except ValueError as exc:
                found.append(str(exc))
            else:
                host = urlsplit(self.verify_url).hostname or ""
                if not on_official_domain(host, domains):
                    found.append(
                        f"the verify URL {self.verify_url!r} is not on an official domain"
                        f"{_listed(domains)}"
                    )
        return found


def on_official_domain(host: str, domains: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in domains)


def _listed(domains: tuple[str, ...]) -> str:
    return f" ({', '.join(domains)})" if domains else " (none recorded: --official-domain)"


def text_problems(what: str, value: str, limit: int, domains: tuple[str, ...] | None) -> list[str]:
    """``domains``: the host names the text may name, when it goes into notices."""
    found = []
    if len(value) > limit:
        found.append(f"{what} is longer than {limit} characters")
    if any(unicodedata.category(c)[0] == "C" for c in value):
        found.append(f"{what} holds a line break or control character")
    for host in _HOST.findall(value) if domains is not None else ():
        if not on_official_domain(host, domains or ()):
            found.append(
                f"{what} names the host {host}, which is not an official domain: every notice "
                "would be refused by the lint"
            )
    return found
