"""The engine's matcher (DuckDB) against the reference matcher (plain Python), on random
directories and records that mix every kind of identity."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from breachdesk.directory import Directory
from breachdesk.domain.directory import DirectoryUser, Membership, Role
from breachdesk.domain.identity import (
    Token,
    TokenKind,
    email_token,
    normalize_email,
    user_id_token,
)
from breachdesk.domain.matching import match_reference
from breachdesk.engine.match import SignatureRow, match_impact

EMAILS = [
    "a@x.org",
    "B@x.org",
    "b@x.org ",
    "José@x.org",
    "jose\u0301@x.org",
    "c+tag@x.org",
    "c@x.org",
]


@st.composite
def incidents(draw: st.DrawFn) -> tuple[Directory, list[tuple[frozenset[Token], frozenset[str]]]]:
    n_users = draw(st.integers(1, 8))
    user_ids = [f"u{i}" for i in range(n_users)]
    pool = list(dict.fromkeys(normalize_email(e) for e in EMAILS))
    emails = draw(st.permutations(pool))
    users = [
        DirectoryUser(
            user_id=uid,
            emails=(emails[i],) if i < len(emails) else (),
            locale="en",
            country=draw(st.sampled_from(["", "US", "DE"])),
            region="",
            mfa_enabled=draw(st.sampled_from([True, False, None])),
            active=draw(st.booleans()),
        )
        for i, uid in enumerate(user_ids)
    ]
    orgs = ["o1", "o2", "o3"]
    memberships = [
        Membership(uid, org, draw(st.sampled_from(list(Role))))
        for uid in user_ids
        for org in draw(st.lists(st.sampled_from(orgs), max_size=2, unique=True))
    ]
    directory = Directory.from_records(users, memberships, orgs, Path("."))

    def md5(e: str) -> str:
        return hashlib.md5(normalize_email(e).encode(), usedforsecurity=False).hexdigest()

    def sha(e: str) -> str:
        return hashlib.sha256(normalize_email(e).encode()).hexdigest()

    values = st.one_of(
        st.sampled_from([*user_ids, "ghost", "u99", "$device:1"]),
        st.sampled_from([*EMAILS, "nobody@x.org"]).map(str),
        st.sampled_from([*EMAILS, "nobody@x.org"]).map(md5),
        st.sampled_from(EMAILS).map(lambda e: sha(e).upper()),
        st.integers(0, 3),
    )
    records = []
    for _ in range(draw(st.integers(0, 12))):
        tokens = set()
        for value in draw(st.lists(values, max_size=3)):
            token = user_id_token(value)
            if token is not None:
                tokens.add(token)
        if draw(st.booleans()):
            token = email_token(draw(st.sampled_from(EMAILS)))
            assert token is not None
            tokens.add(token)
        org_keys = frozenset(draw(st.lists(st.sampled_from([*orgs, "o-x"]), max_size=2)))
        records.append((frozenset(tokens), org_keys))
    return directory, records


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incidents())
def test_engine_agrees_with_reference(
    case: tuple[Directory, list[tuple[frozenset[Token], frozenset[str]]]],
) -> None:
    directory, records = case
    expected = match_reference(
        records, list(directory.iter_users()), list(directory.iter_memberships()), directory.org_ids
    )
    grouped: dict[tuple[Token, ...], int] = defaultdict(int)
    orgs_seen: set[str] = set()
    for tokens, org_keys in records:
        grouped[tuple(sorted(tokens))] += 1
        orgs_seen |= org_keys
    rows = [SignatureRow(sig, n, 0, "") for sig, n in grouped.items()]
    got = match_impact(rows, orgs_seen, directory, list(range(len(rows))))
    assert set(got.users.column("user_id").to_pylist()) == set(expected.affected_users)
    assert {o.org_id for o in got.organizations} == set(expected.affected_orgs)
    assert {o.org_id: frozenset(o.admins_to_notify) for o in got.organizations} == dict(
        expected.admins_to_notify
    )
    assert got.unmatched_records == expected.unmatched_records
    assert {Token(u.kind, u.value) for u in got.unmatched} == set(expected.unmatched_identities)
    for (tokens, _), users in zip(records, expected.users_by_record, strict=True):
        index = list(grouped).index(tuple(sorted(tokens)))
        assert set(got.users_by_signature.get(index, ())) == users
    for org in got.organizations:
        members = {m.user_id for m in directory.iter_memberships() if m.org_id == org.org_id}
        assert org.affected_members == len(members & set(expected.affected_users))


def test_device_ids_are_anonymous() -> None:
    """Mixpanel's ``$device:``-prefixed distinct_id is the device id it holds, so it is the
    same device as the ``$device_id`` beside it."""
    assert user_id_token("$device:abc") == Token(TokenKind.DEVICE_ID, "abc")
    assert user_id_token("$device: ") is None
