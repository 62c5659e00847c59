"""Writing files that may hold personal data: owner-only (0600), atomically."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def private_file(path: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` (0600) only once it is complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temporary name, then rename), mode 0600.

    Returns the SHA-256 of what was written.
    """
    with private_file(path) as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()
