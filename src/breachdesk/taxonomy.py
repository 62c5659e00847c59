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
