"""Normalisation of ids and emails (docs/ARCHITECTURE.md), as properties."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from breachdesk.domain.identity import (
    TokenKind,
    email_token,
    mask_email,
    normalize_email,
    normalize_id,
    user_id_token,
)


@given(st.text())
def test_email_normalisation_is_idempotent(text: str) -> None:
    once = normalize_email(text)
    assert normalize_email(once) == once


@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1))
def test_email_normalisation_ignores_space_and_composition(local: str) -> None:
    email = f"{local}@Example.ORG"
    variants = [email, f"  {email}\t", unicodedata.normalize("NFD", email)]
    assert len({normalize_email(v) for v in variants}) == 1


@given(st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1))
def test_email_normalisation_ignores_case(local: str) -> None:
    # (outside ASCII, upper-casing is not undone by casefold: Turkish dotless i)
    email = f"{local}@Example.ORG"
    assert normalize_email(email.upper()) == normalize_email(email.lower())


def test_no_dot_or_tag_removal() -> None:
    assert normalize_email("A.B+tag@X.org") == "a.b+tag@x.org"
    assert normalize_email("Straße@x.de") == "strasse@x.de"


@given(st.integers())
def test_integer_ids_become_decimal(value: int) -> None:
    assert normalize_id(value) == str(value)
    token = user_id_token(value)
    assert token is not None and token.value == str(value)
    # a 32- or 64-digit number is hex-shaped too: it is also tried as a hashed email
    hex_shaped = value >= 0 and len(str(value)) in (32, 64)
    assert token.kind is (TokenKind.HASHED_EMAIL if hex_shaped else TokenKind.USER_ID)


def test_id_shapes() -> None:
    assert user_id_token(" Bob@Example.org ") == email_token("bob@example.org")
    assert user_id_token("a" * 32).kind is TokenKind.HASHED_EMAIL  # type: ignore[union-attr]
    assert user_id_token("F" * 64).kind is TokenKind.HASHED_EMAIL  # type: ignore[union-attr]
    assert user_id_token("a" * 33).kind is TokenKind.USER_ID  # type: ignore[union-attr]
    assert user_id_token(True) is None
    assert user_id_token("") is None
    assert user_id_token(12.0).value == "12"  # type: ignore[union-attr]


@given(st.emails())
def test_masked_email_hides_the_local_part(email: str) -> None:
    local, domain = email.split("@", 1)
    assert mask_email(email) == f"{local[0]}***@{domain}"
