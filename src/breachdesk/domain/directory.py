"""The company directory as the matcher sees it: users, organizations, memberships."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    user_id: str
    emails: tuple[str, ...]  # normalised; the primary first
    locale: str
    country: str
    region: str
    mfa_enabled: bool | None  # None: unknown, never read as False
    active: bool


@dataclass(frozen=True, slots=True)
class Membership:
    user_id: str
    org_id: str
    role: Role
