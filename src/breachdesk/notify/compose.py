"""Composing notices: one user or admin notice rendered from Jinja2 templates in the reader's
language, as a plain-text and an HTML part that say the same thing.

Everything a notice says comes from the plan (this recipient's exposed categories, counts,
MFA state, credentials to replace) and the incident record (the company's identity, the
vendor's incident, the measures taken); the only text from outside is the recipient's name,
an organization's name and the names of an admin's members without MFA, each echoed only
when :func:`safe_name` accepts it.

Templates: a workspace's ``templates/`` folder comes first, then the built-in ones, so a
company can reword a notice (or one part of it); the lint applies to the result either way,
and the template version recorded with every delivery attempt names the override.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_name
from babel.lists import format_list
from babel.numbers import format_decimal
from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from breachdesk.display import finalize, visible_controls
from breachdesk.errors import NoticeError
from breachdesk.notify.locales import negotiate, translations
from breachdesk.notify.names import safe_name
from breachdesk.taxonomy import Category

# Bump when a template or a catalog changes: recorded with every delivery attempt.
TEMPLATE_VERSION = "notice/2026-12.1"
TEMPLATES = "templates"  # a workspace's folder of templates that override the built-in ones


def N_(message: str) -> str:
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:
    """A message with a plural form, marked for extraction (``ngettext`` at use)."""
    return singular, plural


# Neutral labels (they describe a user's data and an organization's members' data alike).
LABELS: dict[str, str] = {
    Category.NAME: N_("names"),
    Category.EMAIL: N_("email addresses"),
    Category.PHONE: N_("phone numbers"),
    Category.LOCATION_IMPRECISE: N_("approximate location (city, region, country)"),
    Category.LOCATION_PRECISE: N_("precise location"),
    Category.IP_ADDRESS: N_("IP addresses"),
    Category.USER_AGENT: N_("operating system and browser"),
    Category.COOKIE_ID: N_("device and browser identifiers"),
    Category.BROWSING_HISTORY: N_("pages visited on our website and the sites that linked there"),
    Category.UNIQUE_ID: N_("user IDs on our platform"),
    Category.ORGANIZATION_ID: N_("organization IDs"),
    Category.CONTENT: N_("text written in our product"),
    Category.CREDENTIALS: N_("passwords, access tokens or API keys"),
    Category.CREDIT_CARD: N_("payment card numbers"),
    Category.BANK_ACCOUNT: N_("bank account numbers"),
    Category.GOVERNMENT_ID: N_("government ID numbers"),
}
# Said "not exposed" whenever true for this recipient: what readers fear most.
REASSURED = (
    Category.CREDENTIALS,
    Category.CREDIT_CARD,
    Category.BANK_ACCOUNT,
    Category.GOVERNMENT_ID,
    Category.CONTENT,
)
_SUBJECTS = {
    "user": N_("Security notice from %(company)s about your account (reference %(reference)s)"),
    "admin": N_("Security notice from %(company)s for your organization (reference %(reference)s)"),
}
_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
# credentials found in the data, per finding kind: what the reader is told to replace
_CREDENTIALS = {
    "api_key": N_plural("%(num)s API key", "%(num)s API keys"),
    "credential": N_plural(
        "%(num)s password, access token or private key",
        "%(num)s passwords, access tokens or private keys",
    ),
}
# members who share a name are one entry with their number: the admin sees how many to look for
_NAMESAKES = N_plural("%(name)s (%(num)s account)", "%(name)s (%(num)s accounts)")
MAX_NAMED = 50  # members without MFA named in one admin notice; the rest are counted
ORG_PUNCTUATION = ",&"  # allowed in an organization's name beyond a person's ("Smith, Jones & Co.")


@dataclass(frozen=True)
class Context:
    """What every notice of one incident shares."""

    company: str
    sender: str  # the From address, on an official domain
    official_domains: tuple[str, ...]
    verify_url: str
    vendor: str
    learned_at: datetime | None
    timezone: str
    incident_id: int
    contact_email: str = ""  # where readers ask questions (Art. 34(2))
    measures: tuple[str, ...] = ()  # "What we did", from the incident record
    # (language, measures written in it): stated in that language's notices instead
    measures_in: tuple[tuple[str, tuple[str, ...]], ...] = ()
    vendor_aware_at: datetime | None = None
    vendor_incident_start: datetime | None = None
    vendor_incident_end: datetime | None = None
    own_systems_breached: bool | None = None  # False: notices say they were not breached
    templates: str = ""  # a workspace's templates folder, searched before the built-in one


@dataclass(frozen=True)
class NoticeRow:
    """One planned notice, as the outbox holds it."""

    id: int
    kind: str  # user | admin
    user_id: str
    org_id: str
    email: str
    name: str
    locale: str
    reference: str
    facts: Mapping[str, Any]


@dataclass(frozen=True)
class Composed:
    notice_id: int
    kind: str
    to: str
    subject: str
    text: str
    html: str
    language: str
    labels: tuple[str, ...]  # the exposed categories, as the reader sees them
    all_labels: tuple[str, ...]  # every category label in the reader's language
    reference: str
    message_id: str

    @cached_property
    def body_hash(self) -> str:
        return hashlib.sha256(f"{self.subject}\0{self.text}\0{self.html}".encode()).hexdigest()


class Composer:
    """Renders notices of one incident; one Jinja2 environment per language."""

    def __init__(self, context: Context) -> None:
        if not context.vendor.strip():
            raise NoticeError(
                "the incident's vendor is not recorded: breachdesk incident set --vendor NAME"
            )
        if "@" not in context.sender:
            raise NoticeError(f"sender {context.sender!r} is not an address")
        self.context = context
        self._zone = ZoneInfo(context.timezone)
        self._environments: dict[str, Environment] = {}
        self._shared: dict[str, dict[str, Any]] = {}  # per language: what every notice says
        builtin = str(resources.files("breachdesk.notify") / "templates")
        loaders: list[BaseLoader] = [FileSystemLoader(builtin)]
        if context.templates:
            loaders.insert(0, FileSystemLoader(context.templates))
        self._loader = ChoiceLoader(loaders)
        self.version = template_version(context.templates)

    def environment(self, language: str) -> Environment:
        found = self._environments.get(language)
        if found is None:
            # sandboxed: a workspace's own template may not reach into Python
            found = SandboxedEnvironment(
                loader=self._loader,
                autoescape=select_autoescape(["html.j2"], default_for_string=False),
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                finalize=finalize,  # bidi controls shown, never obeyed
            )
            found.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
            self._environments[language] = found
        return found

    def _common(self, language: str) -> dict[str, Any]:
        """What every notice in ``language`` says, rendered once."""
        shared = self._shared.get(language)
        if shared is None:
            gettext = translations(language).gettext
            ctx = self.context
            shared = self._shared[language] = {
                "learned_at": self._date(ctx.learned_at, language, with_time=True),
                "vendor_aware_at": self._date(ctx.vendor_aware_at, language),
                "vendor_start": self._date(ctx.vendor_incident_start, language),
                "vendor_end": self._date(ctx.vendor_incident_end, language),
                "domains": format_list(list(ctx.official_domains), locale=language),
                "labels": {c: gettext(label) for c, label in LABELS.items()},
            }
        return shared

    def compose(self, notice: NoticeRow) -> Composed:
        """The notice in its reader's language. ValueError when this notice's plan cannot
        make a message; NoticeError when no notice can be composed (a template error)."""
        language = negotiate(notice.locale)
        translation = translations(language)
        shared = self._common(language)
        labels = shared["labels"]
        facts = notice.facts
        categories: Sequence[str] = facts.get("categories", ())
        exposed = [c for c in LABELS if c in categories]
        if not exposed:
            raise ValueError("no exposed category in the plan of this notice")
        domain = self.context.sender.rsplit("@", 1)[1]
        ctx = self.context

        def number(n: int) -> str:
            return format_decimal(n, locale=language)

        credentials = [
            translation.ngettext(*_CREDENTIALS[kind], int(n)) % {"num": number(int(n))}
            for kind, n in sorted(dict(facts.get("credentials", {})).items())
            if kind in _CREDENTIALS and int(n) > 0
        ]
        given = list(facts.get("without_mfa_names", []))[:MAX_NAMED]
        named = [n for n in (safe_name(str(x)) for x in given) if n]
        # members past the cap are left out to keep the message short; the rest of the
        # unnamed have no name that reads as one (never shown in a notice)
        cut = max(0, int(facts.get("without_mfa_listable", len(given))) - len(given))
        shared_names = Counter(named)
        listed = [
            name
            if shared_names[name] == 1
            else translation.ngettext(*_NAMESAKES, shared_names[name])
            % {"name": name, "num": number(shared_names[name])}
            for name in dict.fromkeys(named)
        ]
        without_mfa = int(facts.get("members_without_mfa", 0))
        affected_members = int(facts.get("affected_members", 0))
        values: dict[str, Any] = {
            "lang": language,
            "name": safe_name(notice.name) or "",
            "company": ctx.company,
            "vendor": ctx.vendor,
            "learned_at": shared["learned_at"],
            "vendor_aware_at": shared["vendor_aware_at"],
            "vendor_start": shared["vendor_start"],
            "vendor_end": shared["vendor_end"],
            "own_systems_not_breached": ctx.own_systems_breached is False,
            "measures": list(dict(ctx.measures_in).get(language) or ctx.measures),
            "contact_email": ctx.contact_email,
            "exposed": [labels[c] for c in exposed],
            "not_exposed": [labels[c] for c in REASSURED if c not in categories],
            "credentials_exposed": Category.CREDENTIALS in categories,
            "credentials": format_list(credentials, locale=language) if credentials else "",
            "mfa": facts.get("mfa", "unknown"),
            "verify_url": ctx.verify_url,
            "reference": notice.reference,
            "domains": shared["domains"],
            "org": _org_label(notice.org_id, str(facts.get("org_name", ""))),
            "affected_members": affected_members,
            "affected_members_n": number(affected_members),
            "members_without_mfa": without_mfa,
            "members_without_mfa_n": number(without_mfa),
            "without_mfa_names": format_list(listed, locale=language) if listed else "",
            # the list ending a sentence: "…, Scott Garcia Jr." takes no second full stop
            "without_mfa_names_end": (
                format_list(listed, locale=language) if listed else ""
            ).removesuffix("."),
            "without_mfa_cut": cut,
            "without_mfa_cut_n": number(cut),
            "without_mfa_withheld": max(0, without_mfa - len(named) - cut),
            "without_mfa_withheld_n": number(max(0, without_mfa - len(named) - cut)),
        }
        values["subject"] = visible_controls(  # a header, outside the templates' finalize
            translation.gettext(_SUBJECTS[notice.kind])
            % {"company": ctx.company, "reference": notice.reference}
        )
        environment = self.environment(language)
        try:
            text = environment.get_template(f"{notice.kind}.txt.j2").render(values)
            html = environment.get_template(f"{notice.kind}.html.j2").render(values)
        except TemplateError as exc:
            raise NoticeError(f"template {notice.kind} ({language}): {exc}") from None
        return Composed(
            notice_id=notice.id,
            kind=notice.kind,
            to=notice.email,
            subject=values["subject"],
            text=text,
            html=html,
            language=language,
            labels=tuple(values["exposed"]),
            all_labels=tuple(labels.values()),
            reference=notice.reference,
            message_id=f"<{notice.reference}.{ctx.incident_id}@{domain}>",
        )

    def _date(self, when: datetime | None, language: str, with_time: bool = False) -> str:
        if when is None:
            return ""
        local = when.astimezone(self._zone)
        day = format_date(local, "long", locale=language)
        if not with_time:
            return day
        time = format_time(local, "short", locale=language)
        zone = get_timezone_name(local, width="long", locale=language)
        return f"{day} {time} ({zone})"


def _org_label(org_id: str, name: str) -> str:
    """How an admin notice names the organization: its name from the directory when it reads
    as a name, else its id when plain, else nothing (the notice says "your organization")."""
    return safe_name(name, max_words=8, also=ORG_PUNCTUATION) or (
        org_id if _ORG_ID.match(org_id) else ""
    )


def template_version(folder: str) -> str:
    """The built-in templates' version, plus a digest of a workspace's overriding templates."""
    if not folder:
        return TEMPLATE_VERSION
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*.j2")):
        digest.update(f"{path.relative_to(folder)}\0".encode() + path.read_bytes() + b"\0")
    return f"{TEMPLATE_VERSION}+ws.{digest.hexdigest()[:12]}"
