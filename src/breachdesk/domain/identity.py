"""Identity keys and their normalisation (docs/ARCHITECTURE.md).

A record identifies people through *identity tokens*: a kind and a normalised value.
Ids compare as strings (an integer becomes its decimal form); emails are trimmed, NFC
normalised and casefolded, with no removal of dots or ``+tags``. A user id prefixed
``$device:`` (Mixpanel's anonymous id) is a device id, the prefix removed. A user id that looks
like an email is an email token; a 32- or 64-hex-digit id is a ``hashed_email`` token, which
matches a directory user id equal to it or the MD5 / SHA-256 of a directory email.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from enum import StrEnum
from typing import NamedTuple

import idna


class TokenKind(StrEnum):
    USER_ID = "user_id"
    EMAIL = "email"
    HASHED_EMAIL = "hashed_email"
    DEVICE_ID = "device_id"


class Token(NamedTuple):
    """One identity a record carries."""

    kind: TokenKind
    value: str


EMAIL_SHAPE = re.compile(r"[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+")
_HEX = re.compile(r"[0-9a-fA-F]+")
DEVICE_PREFIX = "$device:"


def normalize_email(value: str) -> str:
    """Trim, NFC-normalise and casefold an email address."""
    return unicodedata.normalize("NFC", value.strip()).casefold()


def normalize_address(value: str) -> str:
    """An address as a person may type it, in the one form it is compared by: trimmed, NFC,
    the local part casefolded as :func:`normalize_email` does, the domain in its IDNA 2008
    ASCII form (UTS 46 mapping, so case and width do not matter) — ``straße.de`` typed in
    Unicode or as ``xn--strae-oqa.de`` is one domain, and ``strasse.de`` is another. A
    domain IDNA 2008 refuses is casefolded as it is."""
    text = unicodedata.normalize("NFC", value.strip())
    local, sep, domain = text.rpartition("@")
    if not sep:
        return text.casefold()
    # an ASCII domain comes out of IDNA lower-cased or is refused (then casefolded, which
    # for ASCII is the same): skip the costly checks of the common case
    return f"{local.casefold()}@{domain.lower() if domain.isascii() else idna_domain(domain)}"


def idna_domain(domain: str) -> str:
    """A domain in its IDNA 2008 ASCII form (UTS 46 mapping), or casefolded as it is when
    IDNA 2008 refuses it."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return domain.casefold()


def normalize_id(value: object) -> str | None:
    """An id as the string it is compared by, or None when the value is no id."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        text = value.strip()
        return text or None
    return None


def is_email_shaped(text: str) -> bool:
    return EMAIL_SHAPE.fullmatch(text.strip()) is not None


def is_hashed_shape(text: str) -> bool:
    return len(text) in (32, 64) and _HEX.fullmatch(text) is not None


def user_id_token(value: object) -> Token | None:
    """The token for a value found under a user-id key."""
    text = normalize_id(value)
    if text is None:
        return None
    if text.startswith(DEVICE_PREFIX):  # Mixpanel's anonymous id: the device id it holds
        device = text[len(DEVICE_PREFIX) :].strip()
        return Token(TokenKind.DEVICE_ID, device) if device else None
    if is_email_shaped(text):
        return Token(TokenKind.EMAIL, normalize_email(text))
    if is_hashed_shape(text):
        return Token(TokenKind.HASHED_EMAIL, text)
    return Token(TokenKind.USER_ID, text)


def email_token(value: object) -> Token | None:
    """The token for a value found under an email key."""
    if not isinstance(value, str):
        return None
    text = normalize_email(value)
    return Token(TokenKind.EMAIL, text) if text else None


def device_token(value: object) -> Token | None:
    text = normalize_id(value)
    return Token(TokenKind.DEVICE_ID, text) if text is not None else None


def email_digests(email: str) -> tuple[str, str]:
    """MD5 and SHA-256 hex digests of a normalised email, as analytics tools hash them."""
    raw = email.encode("utf-8")
    return (
        hashlib.md5(raw, usedforsecurity=False).hexdigest(),
        hashlib.sha256(raw).hexdigest(),
    )


def mask_email(email: str) -> str:
    """``alice@example.org`` → ``a***@example.org``."""
    local, sep, domain = email.partition("@")
    if not sep:
        return mask_text(email)
    return f"{local[:1]}***@{domain}"


def mask_whole_email(email: str) -> str:
    """``alice@example.org`` → ``a***@e***.org``: the domain masked too, for text sent to
    someone else (a notice to an admin): recognisable, not usable, nothing host-shaped."""
    local, _, domain = email.partition("@")
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    return f"{local[:1]}***@{domain[:1]}***" + (f".{tld}" if tld else "")


_ADDRESS_IN_TEXT = re.compile(r"[^@\s<>()\[\],;:\"']+@[^@\s<>()\[\],;:\"']+")


def mask_addresses(text: str, recipient: str = "") -> str:
    """``text`` (an SMTP reply) with every address-shaped run masked as :func:`mask_email`
    does, and the ``recipient``'s local part too where it stands alone (``<victim>... User
    unknown``): a reply is stored for the record and shown on status pages."""
    masked = _ADDRESS_IN_TEXT.sub(lambda found: mask_email(found.group()), text)
    local = recipient.rpartition("@")[0]
    if len(local) >= 3:
        alone = re.compile(rf"(?<![\w.+-]){re.escape(local)}(?![\w+-]|\.\w)", re.IGNORECASE)
        masked = alone.sub(local[:1] + "***", masked)
    return masked


def mask_text(value: str, keep: int = 4) -> str:
    """A masked form that shows the shape and a few characters, never the whole value."""
    if len(value) <= keep * 2 + 2:
        return value[:1] + "***" if value else ""
    return f"{value[:keep]}…{value[-keep:]}"


def mask_token(token: Token) -> str:
    if token.kind is TokenKind.EMAIL:
        return mask_email(token.value)
    return mask_text(token.value, keep=3)
