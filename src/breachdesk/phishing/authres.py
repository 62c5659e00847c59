"""Authentication-Results header fields (RFC 8601), read well enough to know who wrote
each (its authserv-id) and what it found (``dkim=pass header.d=example.com``).

Anyone can write such a header into a message, so the check believes one only when its
authserv-id is in the workspace's configured list of its own receiving servers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"([A-Za-z0-9_.-]+)(?:/[0-9]+)?\s*=\s*([A-Za-z0-9_-]+)")
_PROPERTY = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


@dataclass(frozen=True)
class Result:
    """One method's result: ``dkim`` ``pass``, with properties such as
    (``header.d``, ``example.com``)."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str:
        return next((v for k, v in self.properties if k == name), "")


@dataclass(frozen=True)
class AuthenticationResults:
    authserv_id: str
    results: tuple[Result, ...]


def parse(value: str) -> AuthenticationResults | None:
    """One header field's value; None when it has no authserv-id."""
    text = value.replace("\r", " ").replace("\n", " ")[:8192]
    for _ in range(4):  # comments may nest a little
        text = _COMMENT.sub(" ", text)
    head, *statements = text.split(";")
    words = head.split()
    if not words:
        return None
    results = []
    for statement in statements[:32]:
        found = _RESULT.match(statement.strip())
        if found is None:
            continue
        rest = statement.strip()[found.end() :]
        properties = tuple(
            (f"{ptype.lower()}.{prop.lower()}", val.strip('"').lower())
            for ptype, prop, val in _PROPERTY.findall(rest)
        )
        results.append(Result(found.group(1).lower(), found.group(2).lower(), properties))
    return AuthenticationResults(words[0].lower(), tuple(results))
