"""Composing notices: one user or admin notice rendered from Jinja2 templates in the reader's
language, as a plain-text and an HTML part that say the same thing.

Everything a notice says comes from the plan (this recipient's exposed categories, counts,
MFA state), the incident record and the settings; the only text from outside is the
recipient's name, echoed only when :func:`safe_name` accepts it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_name
from babel.lists import format_list
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from breachdesk.display import finalize, visible_controls
from breachdesk.errors import NoticeError
from breachdesk.notify.locales import negotiate, translations
from breachdesk.notify.names import safe_name
from breachdesk.taxonomy import Category

# Bump when a template or a catalog changes: recorded with every delivery attempt.
TEMPLATE_VERSION = "notice/2026-11.1"


def N_(message: str) -> str:
    return message


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
        self._folder = str(resources.files("breachdesk.notify") / "templates")

    def environment(self, language: str) -> Environment:
        found = self._environments.get(language)
        if found is None:
            found = Environment(
                loader=FileSystemLoader(self._folder),
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

    def compose(self, notice: NoticeRow) -> Composed:
        """The notice in its reader's language. ValueError when this notice's plan cannot
        make a message; NoticeError when no notice can be composed (a template error)."""
        language = negotiate(notice.locale)
        gettext = translations(language).gettext
        shared = self._shared.get(language)
        if shared is None:
            shared = self._shared[language] = {
                "learned_at": self._date(language),
                "domains": format_list(list(self.context.official_domains), locale=language),
                "labels": {c: gettext(label) for c, label in LABELS.items()},
            }
        labels = shared["labels"]
        categories: Sequence[str] = notice.facts.get("categories", ())
        exposed = [c for c in LABELS if c in categories]
        if not exposed:
            raise ValueError("no exposed category in the plan of this notice")
        domain = self.context.sender.rsplit("@", 1)[1]
        org = notice.org_id if _ORG_ID.match(notice.org_id) else ""
        values: dict[str, Any] = {
            "lang": language,
            "name": safe_name(notice.name) or "",
            "company": self.context.company,
            "vendor": self.context.vendor,
            "learned_at": shared["learned_at"],
            "exposed": [labels[c] for c in exposed],
            "not_exposed": [labels[c] for c in REASSURED if c not in categories],
            "credentials_exposed": Category.CREDENTIALS in categories,
            "mfa": notice.facts.get("mfa", "unknown"),
            "verify_url": self.context.verify_url,
            "reference": notice.reference,
            "domains": shared["domains"],
            "org": org,
            "affected_members": int(notice.facts.get("affected_members", 0)),
            "members_without_mfa": int(notice.facts.get("members_without_mfa", 0)),
            "without_mfa_sample": format_list(
                [str(a) for a in notice.facts.get("without_mfa_sample", [])], locale=language
            )
            if notice.facts.get("without_mfa_sample")
            else "",
        }
        values["subject"] = visible_controls(  # a header, outside the templates' finalize
            gettext(_SUBJECTS[notice.kind])
            % {"company": self.context.company, "reference": notice.reference}
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
            message_id=f"<{notice.reference}.{self.context.incident_id}@{domain}>",
        )

    def _date(self, language: str) -> str:
        if self.context.learned_at is None:
            return ""
        local = self.context.learned_at.astimezone(self._zone)
        day = format_date(local, "long", locale=language)
        time = format_time(local, "short", locale=language)
        zone = get_timezone_name(local, width="long", locale=language)
        return f"{day} {time} ({zone})"
