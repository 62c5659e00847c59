"""URL analysis: secrets in userinfo, query and fragment parameters and path segments, and
emails anywhere in a URL. Percent-encoding is decoded one level before judging.

``URL_TRIGGERS`` are the fast pass's patterns for this analysis: a URL is analysed only in a
record where one of them fires, so each must fire wherever the analysis could report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import parse_qsl, unquote, urlsplit

from breachdesk.detect.validators import shannon_entropy
from breachdesk.taxonomy import FindingKind

URL_IN_TEXT = re.compile(r"""[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s"'<>`]+""")
SECRET_PARAMS = frozenset(
    {
        "token", "access_token", "id_token", "refresh_token", "auth_token", "reset_token",
        "session_token", "csrf_token", "api_token", "password", "passwd", "pwd", "pass",
        "secret", "client_secret", "api_key", "apikey", "key", "private_key", "sig",
        "signature", "session", "sessionid", "session_id", "sid", "jwt", "otp", "auth",
        "x-amz-signature", "x-goog-signature", "invite_token", "magic_token",
        "verification_token", "confirmation_token",
    }
)  # fmt: skip
# Parameters that hold a password: any value of 4+ characters that is not a placeholder is one.
PASSWORD_PARAMS = frozenset({"password", "passwd", "pwd", "pass", "secret", "pin"})
OAUTH_PATH = re.compile(r"callback|oauth|authorize|/auth\b|redirect|signin|login|sso", re.I)
_PATH_WORDS = ("reset", "reset-password", "reset_password", "password-reset", "password_reset",
               "invite", "invitation", "verify", "verification", "confirm", "confirmation",
               "magic", "magic-link", "activate", "activation", "token")  # fmt: skip
SECRET_PATH_WORDS = re.compile(f"^(?:{'|'.join(map(re.escape, _PATH_WORDS))})$", re.I)
EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_PLACEHOLDER = re.compile(
    r"^(?:\$\{.*\}|\{\{.*\}\}|<.*>|%s|\*+|x+|\.+|redacted|null|undefined)$", re.I
)
_NOT_SECRET = frozenset({"true", "false", "yes", "no", "null", "none", "undefined", "1", "0"})


def _names(words: Iterable[str]) -> bytes:
    return b"|".join(re.escape(w).encode() for w in sorted(words, key=lambda w: (-len(w), w)))


# What makes a URL worth analysing, for the fast pass over raw bytes. Each is a superset of
# what ``analyse_url`` can report: userinfo with a password, a parameter named like a secret
# (``parse_qsl`` strips spaces and a trailing ``[]``), a secret path word before a segment,
# an ``@`` (or ``%40``) after ``://``. Percent-encoded forms are found on the decoded line.
URL_TRIGGERS = (
    rb"://[^/?#\s\"]*:[^/?#\s\"]*@",
    rb"(?i:[?&#;][ \t+]*(?:"
    + _names(SECRET_PARAMS | PASSWORD_PARAMS | {"code"})
    + rb")[\[\] \t+]*=)",
    # a secret path word as a whole segment, then a segment long enough to be a secret
    rb"(?i:/(?:" + _names(_PATH_WORDS) + rb")/+[^/?#\s\"]{20})",
    rb"://[^\s\"]*(?:@|%40)",
)


@dataclass(frozen=True, slots=True)
class UrlHit:
    kind: FindingKind
    rule: str
    secret: str
    detail: str


def looks_secret(value: str, min_length: int = 16, min_entropy: float = 3.0) -> bool:
    """Length and entropy of a secret, not a flag, word, number or placeholder."""
    if len(value) < min_length or value.lower() in _NOT_SECRET or _PLACEHOLDER.match(value):
        return False
    if value.isdigit() or _UUID.fullmatch(value):
        return False
    return shannon_entropy(value) >= min_entropy


def looks_like_password(value: str) -> bool:
    """4+ characters that are not a flag, a placeholder or one repeated character."""
    text = value.strip()
    if len(text) < 4 or text.lower() in _NOT_SECRET or _PLACEHOLDER.match(text):
        return False
    return len(set(text)) > 1


def find_urls(text: str) -> Iterator[str]:
    yield from (m.group(0) for m in URL_IN_TEXT.finditer(text))


def analyse_url(url: str) -> Iterator[UrlHit]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    netloc = parts.netloc
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        _, sep, password = userinfo.partition(":")
        password = unquote(password)
        if sep and password and not _PLACEHOLDER.match(password):
            yield UrlHit(FindingKind.CREDENTIAL, "url-userinfo-password", password, "userinfo")
    for where, query in (("query", parts.query), ("fragment", parts.fragment)):
        if "=" not in query:
            continue
        for name, value in parse_qsl(query, keep_blank_values=False):
            key = name.strip().lower().rstrip("[]")
            if key == "code" and OAUTH_PATH.search(parts.path):
                if looks_secret(value, min_length=10, min_entropy=2.5):
                    yield UrlHit(FindingKind.CREDENTIAL, "url-oauth-code", value, f"{where}:code")
                continue
            if key in SECRET_PARAMS and looks_secret(value):
                yield UrlHit(FindingKind.CREDENTIAL, "url-secret-param", value, f"{where}:{key}")
            elif key in PASSWORD_PARAMS and looks_like_password(value):
                yield UrlHit(FindingKind.CREDENTIAL, "url-password-param", value, f"{where}:{key}")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    for before, segment in pairwise(segments):
        if SECRET_PATH_WORDS.match(before) and looks_secret(
            segment, min_length=20, min_entropy=3.5
        ):
            yield UrlHit(FindingKind.CREDENTIAL, "url-secret-path", segment, f"path:{before}")
    decoded = unquote(url)
    for match in EMAIL_IN_TEXT.finditer(decoded):
        email = match.group(0)
        if "@" in netloc and email in unquote(netloc):
            continue  # user@host is userinfo, not an email
        yield UrlHit(FindingKind.EMAIL_IN_URL, "url-email", email, "")
