"""Data categories (Fideslang-style keys) and finding kinds.

The key style follows Fideslang by Ethyca; the list itself is breachdesk's own. Categories
marked ``ours`` are not in Fideslang. ``PERSONAL`` is every category except the
operational one, which describes the system and not a person.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """A kind of data, as it appears in the inventory and in a user's ``exposed`` set."""

    NAME = "user.name"
    EMAIL = "user.contact.email"
    PHONE = "user.contact.phone_number"
    LOCATION_IMPRECISE = "user.location.imprecise"
    LOCATION_PRECISE = "user.location.precise"
    IP_ADDRESS = "user.device.ip_address"
    USER_AGENT = "user.device.user_agent"  # ours: OS, browser, device model
    COOKIE_ID = "user.device.cookie_id"
    BROWSING_HISTORY = "user.behavior.browsing_history"
    UNIQUE_ID = "user.unique_id"
    ORGANIZATION_ID = "user.account.organization_id"  # ours
    CONTENT = "user.content"
    CREDENTIALS = "user.authorization.credentials"
    CREDIT_CARD = "user.financial.credit_card"
    BANK_ACCOUNT = "user.financial.bank_account"
    GOVERNMENT_ID = "user.government_id"
    OPERATIONS = "system.operations"

    @property
    def personal(self) -> bool:
        return self is not Category.OPERATIONS


class FindingKind(StrEnum):
    """What a detection rule finds; each maps to the category it exposes."""

    API_KEY = "api_key"
    CREDENTIAL = "credential"
    PAYMENT_CARD = "payment_card"
    BANK_ACCOUNT = "bank_account"
    GOVERNMENT_ID = "government_id"
    EMAIL_IN_URL = "email_in_url"

    @property
    def category(self) -> Category:
        return _KIND_CATEGORY[self]

    @property
    def sensitive(self) -> bool:
        """Sensitive kinds make assess exit 1; an email in a URL is exposure, not a secret."""
        return self is not FindingKind.EMAIL_IN_URL


_KIND_CATEGORY = {
    FindingKind.API_KEY: Category.CREDENTIALS,
    FindingKind.CREDENTIAL: Category.CREDENTIALS,
    FindingKind.PAYMENT_CARD: Category.CREDIT_CARD,
    FindingKind.BANK_ACCOUNT: Category.BANK_ACCOUNT,
    FindingKind.GOVERNMENT_ID: Category.GOVERNMENT_ID,
    FindingKind.EMAIL_IN_URL: Category.EMAIL,
}

PERSONAL = frozenset(c for c in Category if c.personal)

# What each key means to a reader outside the desk (a regulator, an executive, a person
# affected): the report for the authority and the dashboard show these, never the keys.
LABELS: dict[Category, str] = {
    Category.NAME: "names",
    Category.EMAIL: "email addresses",
    Category.PHONE: "phone numbers",
    Category.LOCATION_IMPRECISE: "approximate location (city, region, country, time zone)",
    Category.LOCATION_PRECISE: "precise location (coordinates)",
    Category.IP_ADDRESS: "IP addresses",
    Category.USER_AGENT: "device and browser details (operating system, browser, device model)",
    Category.COOKIE_ID: "device and cookie identifiers",
    Category.BROWSING_HISTORY: "pages visited in the product and the pages people came from",
    Category.UNIQUE_ID: "account identifiers (user ids)",
    Category.ORGANIZATION_ID: "the organisation (customer account) a person belongs to",
    Category.CONTENT: "free text people typed",
    Category.CREDENTIALS: "passwords, access tokens or API keys",
    Category.CREDIT_CARD: "payment card numbers",
    Category.BANK_ACCOUNT: "bank account numbers",
    Category.GOVERNMENT_ID: "government identity numbers",
    Category.OPERATIONS: "technical event data (times, event names; not about a person)",
}

KIND_LABELS: dict[FindingKind, str] = {
    FindingKind.API_KEY: "API keys",
    FindingKind.CREDENTIAL: "passwords and session, reset or access tokens",
    FindingKind.PAYMENT_CARD: "payment card numbers",
    FindingKind.BANK_ACCOUNT: "bank account numbers",
    FindingKind.GOVERNMENT_ID: "government identity numbers",
    FindingKind.EMAIL_IN_URL: "email addresses inside web addresses",
}


def label(key: str) -> str:
    """The plain-language name of a category or finding kind key; an unknown key is shown
    as "other data (key)" rather than passed off as understood."""
    for kind, table in ((Category, LABELS), (FindingKind, KIND_LABELS)):
        try:
            return table[kind(key)]  # type: ignore[index]
        except ValueError:
            continue
    return f"other data ({key})"
