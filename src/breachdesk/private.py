"""Writing files that may hold personal data: owner-only (0600), atomically."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_private(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically (temporary name, then rename), mode 0600.

    Returns the SHA-256 of what was written.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()
