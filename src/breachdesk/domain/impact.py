"""The impact model: who is affected, with which data, and what follows for organizations."""

from __future__ import annotations

from dataclasses import dataclass

from breachdesk.domain.identity import TokenKind


@dataclass(frozen=True, slots=True)
class AffectedUser:
    user_id: str
    exposed: tuple[str, ...]  # category keys, sorted
    organizations: tuple[str, ...]
    mfa_enabled: bool | None
    locale: str
    country: str
    country_source: str  # directory | export | ""
    region: str
    active: bool


@dataclass(frozen=True, slots=True)
class AffectedOrganization:
    org_id: str
    affected_members: int
    admins_to_notify: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnmatchedIdentity:
    kind: TokenKind
    value: str
    records: int
    reason: str


UNMATCHED_REASONS = {
    TokenKind.EMAIL: "email not in the directory",
    TokenKind.USER_ID: "user id not in the directory",
    TokenKind.HASHED_EMAIL: "neither a directory user id nor the MD5/SHA-256 of a directory email",
}
