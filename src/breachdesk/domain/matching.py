"""The reference matcher: small, slow and obviously correct (docs/ARCHITECTURE.md "Matching
semantics"). The engine's matcher must agree with it; property tests hold them together.

Stitching, as stated there: a device id in a record that identifies directory users (through
a user id or an email) ties those users to it; a record whose only identifiers are device ids
identifies every user tied to any of them — one hop, never through another device-only
record. Device tokens arrive already namespaced by their reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from breachdesk.domain.directory import DirectoryUser, Membership, Role
from breachdesk.domain.identity import Token, TokenKind, email_digests


@dataclass(frozen=True, slots=True)
class MatchOutcome:
    """Which directory users each record identifies, and what follows for organizations."""

    users_by_record: tuple[frozenset[str], ...]
    affected_users: frozenset[str]
    affected_orgs: frozenset[str]
    admins_to_notify: Mapping[str, frozenset[str]]  # org_id -> admin user ids
    anonymous_records: int  # no user id or email, and tied to no directory user
    unmatched_records: int
    unmatched_identities: frozenset[Token]
    stitched_records: int = 0  # identified only through a device id tied to a user


def _identifies(token: Token, user: DirectoryUser) -> bool:
    if token.kind is TokenKind.USER_ID:
        return token.value == user.user_id
    if token.kind is TokenKind.EMAIL:
        return token.value in user.emails
    if token.kind is TokenKind.HASHED_EMAIL:
        wanted = token.value.lower()
        return token.value == user.user_id or any(wanted in email_digests(e) for e in user.emails)
    return False


def match_reference(
    records: Sequence[tuple[frozenset[Token], frozenset[str]]],
    users: Sequence[DirectoryUser],
    memberships: Iterable[Membership],
    org_ids: Iterable[str] = (),
) -> MatchOutcome:
    """Match ``records`` (each: its identity tokens and its org-key values) to ``users``.

    ``org_ids`` are the directory's organizations; those named by memberships count too.
    """
    memberships = list(memberships)
    by_record: list[frozenset[str]] = []
    anonymous = unmatched = stitched = 0
    unmatched_ids: set[Token] = set()
    seen_orgs: set[str] = set()
    ties: dict[Token, set[str]] = {}
    for tokens, record_orgs in records:
        seen_orgs |= record_orgs
        found = frozenset(u.user_id for u in users for t in tokens if _identifies(t, u))
        by_record.append(found)
        personal = {t for t in tokens if t.kind is not TokenKind.DEVICE_ID}
        if personal and not found:
            unmatched += 1
            unmatched_ids |= personal
        for token in tokens - personal:
            if found:
                ties.setdefault(token, set()).update(found)
    for i, (tokens, _) in enumerate(records):
        if any(t.kind is not TokenKind.DEVICE_ID for t in tokens):
            continue
        tied = frozenset(user for t in tokens for user in ties.get(t, ()))
        by_record[i] = tied
        if tied:
            stitched += 1
        else:
            anonymous += 1
    affected = frozenset(user for found in by_record for user in found)
    known_orgs = {m.org_id for m in memberships} | set(org_ids)
    orgs = {m.org_id for m in memberships if m.user_id in affected}
    orgs |= seen_orgs & known_orgs
    active = {u.user_id for u in users if u.active}
    admins = {
        org: frozenset(
            m.user_id
            for m in memberships
            if m.org_id == org and m.role in (Role.OWNER, Role.ADMIN) and m.user_id in active
        )
        for org in orgs
    }
    return MatchOutcome(
        users_by_record=tuple(by_record),
        affected_users=affected,
        affected_orgs=frozenset(orgs),
        admins_to_notify=admins,
        anonymous_records=anonymous,
        unmatched_records=unmatched,
        unmatched_identities=frozenset(unmatched_ids),
        stitched_records=stitched,
    )
