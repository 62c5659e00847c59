"""The engine's matcher (DuckDB) against the reference matcher (plain Python), on random
directories and records that mix every kind of identity, device ids included: stitching
(ties, shared devices, one hop, namespaces), exposed categories and record counts."""

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
from breachdesk.engine.match import CATEGORY_BITS, SignatureRow, categories_of, match_impact
from breachdesk.taxonomy import Category

# a few devices in two vendors' namespaces: the same raw id in both is two devices
DEVICES = [Token(TokenKind.DEVICE_ID, f"{ns}:{d}") for ns in ("mixpanel", "segment") for d in "abc"]
MASKS = [CATEGORY_BITS[c] for c in (Category.EMAIL, Category.COOKIE_ID, Category.BROWSING_HISTORY)]
Record = tuple[frozenset[Token], frozenset[str]]

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
def incidents(draw: st.DrawFn) -> tuple[Directory, list[Record], list[int]]:
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
    masks = []
    for _ in range(draw(st.integers(0, 14))):
        tokens = set()
        for value in draw(st.lists(values, max_size=3)):
            token = user_id_token(value)
            if token is not None:
                tokens.add(token)
        if draw(st.booleans()):
            token = email_token(draw(st.sampled_from(EMAILS)))
            assert token is not None
            tokens.add(token)
        tokens |= set(draw(st.lists(st.sampled_from(DEVICES), max_size=2)))
        org_keys = frozenset(draw(st.lists(st.sampled_from([*orgs, "o-x"]), max_size=2)))
        records.append((frozenset(tokens), org_keys))
        masks.append(draw(st.sampled_from(MASKS)))
    return directory, records, masks


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(incidents())
def test_engine_agrees_with_reference(case: tuple[Directory, list[Record], list[int]]) -> None:
    directory, records, masks = case
    expected = match_reference(
        records, list(directory.iter_users()), list(directory.iter_memberships()), directory.org_ids
    )
    grouped: dict[tuple[Token, ...], list[int]] = defaultdict(lambda: [0, 0])
    orgs_seen: set[str] = set()
    for (tokens, org_keys), mask in zip(records, masks, strict=True):
        row = grouped[tuple(sorted(tokens))]
        row[0] += 1
        row[1] |= mask
        orgs_seen |= org_keys
    rows = [SignatureRow(sig, n, mask, "") for sig, (n, mask) in grouped.items()]
    got = match_impact(rows, orgs_seen, directory, list(range(len(rows))))
    assert set(got.users.column("user_id").to_pylist()) == set(expected.affected_users)
    assert got.stitched_records == expected.stitched_records
    assert got.anonymous_records == expected.anonymous_records
    exposed: dict[str, int] = defaultdict(int)
    for users, mask in zip(expected.users_by_record, masks, strict=True):
        for user in users:
            exposed[user] |= mask
    got_exposed = dict(zip(got.users.column("user_id").to_pylist(),
                           got.users.column("exposed").to_pylist(), strict=True))  # fmt: skip
    assert got_exposed == {u: ";".join(categories_of(m)) for u, m in exposed.items()}
    assert {o.org_id for o in got.organizations} == set(expected.affected_orgs)
    assert {o.org_id: frozenset(o.admins_to_notify) for o in got.organizations} == dict(
        expected.admins_to_notify
    )
    assert got.unmatched_records == expected.unmatched_records
    assert {Token(u.kind, u.value) for u in got.unmatched} == set(expected.unmatched_identities)
    for (tokens, _), users in zip(records, expected.users_by_record, strict=True):
        index = list(grouped).index(tuple(sorted(tokens)))
        # each user once, in order, though a signature may name one by id and by email
        assert got.users_by_signature.get(index, ()) == tuple(sorted(users))
    for org in got.organizations:
        members = {m.user_id for m in directory.iter_memberships() if m.org_id == org.org_id}
        assert org.affected_members == len(members & set(expected.affected_users))


def test_device_ids_are_anonymous() -> None:
    """Mixpanel's ``$device:``-prefixed distinct_id is the device id it holds, so it is the
    same device as the ``$device_id`` beside it."""
    assert user_id_token("$device:abc") == Token(TokenKind.DEVICE_ID, "abc")
    assert user_id_token("$device: ") is None


def test_stitching_cases() -> None:
    """Ties, a shared device, one hop only, namespaces and an unmatched owner, by hand."""
    users = [
        DirectoryUser(f"u{i}", (f"u{i}@x.org",), "en", "", "", None, True) for i in range(1, 4)
    ]
    directory = Directory.from_records(users, [], [], Path("."))

    def dev(name: str) -> Token:
        return Token(TokenKind.DEVICE_ID, name)

    def uid(name: str) -> Token:
        return Token(TokenKind.USER_ID, name)

    none: frozenset[str] = frozenset()
    records: list[Record] = [
        (frozenset({uid("u1"), dev("mp:laptop")}), none),  # ties laptop to u1
        (frozenset({uid("u2"), dev("mp:family")}), none),  # family is shared …
        (frozenset({uid("u3"), dev("mp:family")}), none),  # … by u2 and u3
        (frozenset({dev("mp:laptop")}), none),  # stitched to u1
        (frozenset({dev("mp:family")}), none),  # stitched to u2 and u3
        (frozenset({dev("mp:laptop"), dev("mp:phone")}), none),  # u1 (phone untied)
        (frozenset({dev("mp:phone")}), none),  # no hop through the record above
        (frozenset({dev("seg:laptop")}), none),  # another vendor's "laptop"
        (frozenset({uid("ghost"), dev("mp:tablet")}), none),  # unmatched owner
        (frozenset({dev("mp:tablet")}), none),  # tied to nobody in the directory
        (frozenset(), none),  # no identifier at all
    ]
    expected = match_reference(records, users, [])
    assert expected.users_by_record[3:] == (
        frozenset({"u1"}),
        frozenset({"u2", "u3"}),
        frozenset({"u1"}),
        none,
        none,
        none,
        none,
        none,
    )
    assert (expected.stitched_records, expected.anonymous_records) == (3, 4)
    assert expected.unmatched_records == 1
    rows = [SignatureRow(tuple(sorted(t)), 1, 0, "") for t, _ in records]
    got = match_impact(rows, set(), directory, list(range(len(rows))))
    assert (got.stitched_records, got.anonymous_records, got.unmatched_records) == (3, 4, 1)
    assert {i: set(u) for i, u in got.users_by_signature.items()} == {
        i: set(u) for i, u in enumerate(expected.users_by_record) if u
    }
