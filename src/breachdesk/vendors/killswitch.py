"""The kill switch: a vendor's ``status`` flipped in vendors.yaml itself, and the front-end
configuration that follows from the file.

The file is edited in place by replacing the one ``status`` value (ruamel.yaml finds its
line and column), so comments, order, quoting and layout stay exactly as they were; the new
text is validated, checked to differ in that value only, and renamed over the old one
under a lock, so two cuts at once cannot lose one another's change.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from breachdesk.errors import InputError, SettingsError
from breachdesk.vendors.inventory import parse_document, plain, validate_document
from breachdesk.vendors.model import Inventory


@contextmanager
def locked(path: Path) -> Iterator[None]:
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def write_in_place(path: Path, text: str) -> None:
    """Replace the file's content atomically, keeping its mode."""
    mode = path.stat().st_mode & 0o777
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def set_field(text: str, source: str, vendor_id: str, key: str, value: str) -> tuple[str, str]:
    """``text`` with one vendor's scalar ``key`` set to ``value``: (new text, old value)."""
    document = parse_document(text, source)
    validate_document(document, source)
    vendors = document["vendors"]
    index = next((i for i, v in enumerate(vendors) if v["id"] == vendor_id), None)
    if index is None:
        known = ", ".join(str(v["id"]) for v in vendors) or "none"
        raise InputError(f"{source}: no vendor {vendor_id!r} (vendors: {known})")
    entry = vendors[index]
    old = entry[key]
    old_text = old.isoformat() if hasattr(old, "isoformat") else str(old)
    if old_text == value:
        return text, old_text
    line, col = entry.lc.value(key)
    lines = text.splitlines(keepends=True)
    found = re.compile(r"""("[^"]*"|'[^']*'|[^\s#,\]}]+)""").match(lines[line], col)
    if found is None:
        raise SettingsError(f"{source}:{line + 1}: cannot find the value of {key}")
    token = found.group(0)
    quote = token[0] if token[0] in "\"'" else ""
    lines[line] = lines[line][:col] + f"{quote}{value}{quote}" + lines[line][found.end() :]
    new_text = "".join(lines)
    after = parse_document(new_text, source)
    validate_document(after, source)
    expected = plain(document)
    expected["vendors"][index][key] = value
    if plain(after) != expected:
        raise SettingsError(f"{source}:{line + 1}: rewriting {key} would change more than it")
    return new_text, old_text


def frontend_policy(inventory: Inventory) -> tuple[str, list[dict[str, object]]]:
    """The Content-Security-Policy of the front end and its enabled SDKs: only vendors that
    are not cut off, and their hosts in ``script-src`` and ``connect-src``."""
    enabled = [v for v in inventory.vendors if not v.cut and v.hosts]
    hosts = sorted({h for v in enabled for h in v.hosts})
    sources = " ".join(["'self'", *hosts])
    csp = (
        f"default-src 'self'; script-src {sources}; connect-src {sources}; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
    )
    sdks: list[dict[str, object]] = [
        {"id": v.id, "name": v.name, "hosts": list(v.hosts)} for v in enabled
    ]
    return csp, sdks
