"""Finding input files on the command line and opening them as decompressed streams.

Any mix of files and folders; plain, gzip or zip (each member is one input), recognised by
their first bytes, never by their names. Nothing is copied: every file is read in place.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, cast

from breachdesk.errors import ExportError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class InputFile:
    """One logical input: a plain or gzip file, or one member of a zip archive."""

    name: str  # what reports call it: the file name, or ``archive.zip!member``
    path: Path  # the file on disk holding it
    compression: str  # none | gzip | zip
    opener: Callable[[], IO[bytes]]

    def open(self) -> IO[bytes]:
        return self.opener()


def expand_inputs(args: Iterable[Path]) -> list[Path]:
    """Every file named, or found (recursively, sorted) under a folder named."""
    found: list[Path] = []
    for arg in args:
        if arg.is_dir():
            found.extend(
                sorted(
                    p
                    for p in arg.rglob("*")
                    if p.is_file() and not any(part.startswith(".") for part in p.parts)
                )
            )
        elif arg.is_file():
            found.append(arg)
        elif arg.exists():
            raise ExportError(f"{arg}: not a regular file or folder")
        else:
            raise ExportError(f"{arg}: no such file or folder")
    return found


def open_inputs(paths: Iterable[Path]) -> Iterator[InputFile]:
    """The logical inputs inside ``paths``."""
    for path in paths:
        try:
            with path.open("rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise ExportError(f"{path}: cannot be read: {exc.strerror}") from None
        if magic.startswith(GZIP_MAGIC):
            yield InputFile(path.name, path, "gzip", partial(_open_gzip, path))
        elif magic.startswith(ZIP_MAGIC):
            yield from _zip_members(path)
        else:
            yield InputFile(path.name, path, "none", partial(_open_plain, path))


def _zip_members(path: Path) -> Iterator[InputFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(i.filename for i in archive.infolist() if not i.is_dir())
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{path}: not a readable zip archive: {exc}") from None
    for member in members:
        if Path(member).name.startswith(".") or member.startswith("__MACOSX/"):
            continue
        yield InputFile(f"{path.name}!{member}", path, "zip", partial(_open_member, path, member))


def _open_plain(path: Path) -> IO[bytes]:
    return path.open("rb")


def _open_gzip(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb"))


def _open_member(path: Path, member: str) -> IO[bytes]:
    archive = zipfile.ZipFile(path)
    raw = archive.open(member)
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    return raw
