"""Finding input files on the command line and opening them as decompressed streams.

Any mix of files and folders; plain, gzip or zip (each member is one input), recognised by
their first bytes, never by their names. Nothing is copied: every file is read in place.

Nothing found is dropped without a trace: a file or archive member is read or listed as
skipped with the reason. Hidden files (a name starting with ``.``, or anything under a hidden
folder or ``__MACOSX/``) are read when they have a known shape and otherwise listed as
"hidden file of no known shape" (``.DS_Store``). Links to folders are followed, each real
folder read once (a loop is listed, not followed); a dangling link is listed; a second name
for a file already read is listed; fifos, sockets and devices are listed, never opened.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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
    hidden: bool = False  # named with a leading dot, or inside a hidden folder
    uri: str = ""  # a Hadoop-compatible URI when the file is not on this machine (Spark)
    size: int | None = None  # its size in bytes, for such a file

    def open(self) -> IO[bytes]:
        return self.opener()

    @property
    def member(self) -> str:
        """The member's name inside its zip archive ("" for a file of its own)."""
        return self.name.split("!", 1)[1] if self.compression == "zip" else ""


@dataclass
class FoundInputs:
    """The files to open, in a stable order, and what was found but will not be read."""

    files: list[Path] = field(default_factory=list)
    hidden: set[Path] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    files_seen: dict[tuple[int, int], Path] = field(default_factory=dict)  # (dev, inode)
    folders_seen: set[tuple[int, int]] = field(default_factory=set)

    def add_file(self, path: Path, info: os.stat_result, hidden: bool) -> None:
        first = self.files_seen.setdefault((info.st_dev, info.st_ino), path)
        if first != path:
            self.skipped.append((path.name, f"the same file as {first.name}, read once"))
            return
        self.files.append(path)
        if hidden:
            self.hidden.add(path)


def is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def find_inputs(args: Iterable[Path]) -> FoundInputs:
    """Every file named, or found (recursively, sorted) under a folder named. Real files and
    folders are taken before links, so a file reached both ways is read under its own name."""
    found = FoundInputs()
    for arg in args:
        try:
            info = arg.stat()
        except FileNotFoundError:
            what = "a dangling link" if arg.is_symlink() else "no such file or folder"
            raise ExportError(f"{arg}: {what}") from None
        except OSError as exc:
            raise ExportError(f"{arg}: cannot be read: {exc.strerror}") from None
        if stat.S_ISDIR(info.st_mode):
            start = len(found.files)
            links: list[tuple[Path, os.stat_result, bool]] = []
            _walk(arg, info, False, found, links)
            while links:  # links after every real file; a link may lead to more links
                path, target, hidden = links.pop(0)
                if stat.S_ISDIR(target.st_mode):
                    _walk(path, target, hidden, found, links)
                else:
                    found.add_file(path, target, hidden)
            found.files[start:] = sorted(found.files[start:])
        elif stat.S_ISREG(info.st_mode):
            found.add_file(arg, info, False)
        else:
            raise ExportError(f"{arg}: not a regular file or folder")
    return found


def _walk(
    folder: Path,
    info: os.stat_result,
    hidden: bool,
    found: FoundInputs,
    links: list[tuple[Path, os.stat_result, bool]],
) -> None:
    """Files and folders under ``folder``; links found are put in ``links`` for later."""
    key = (info.st_dev, info.st_ino)
    if key in found.folders_seen:
        loop = any(_same(up, key) for up in folder.absolute().parents)  # as the path runs
        why = "a link back to a folder it is in (a loop)" if loop else "a folder already read"
        found.skipped.append((folder.name, why))
        return
    found.folders_seen.add(key)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise ExportError(f"{folder}: cannot be read: {exc.strerror}") from None
    for entry in entries:
        path = Path(entry.path)
        inside_hidden = hidden or is_hidden(entry.name)
        try:
            target = path.stat()  # through a link
        except FileNotFoundError:
            found.skipped.append((entry.name, "dangling link"))
            continue
        except OSError as exc:
            raise ExportError(f"{path}: cannot be read: {exc.strerror}") from None
        if entry.is_symlink():
            links.append((path, target, inside_hidden))
        elif stat.S_ISDIR(target.st_mode):
            _walk(path, target, inside_hidden, found, links)
        elif stat.S_ISREG(target.st_mode):
            found.add_file(path, target, inside_hidden)
        else:
            found.skipped.append((entry.name, "not a regular file (a fifo, socket or device)"))


def _same(path: Path, key: tuple[int, int]) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == key


def open_inputs(paths: Iterable[Path], hidden: set[Path] | None = None) -> Iterator[InputFile]:
    """The logical inputs inside ``paths`` (``hidden``: those found as hidden files)."""
    for path in paths:
        try:
            with path.open("rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise ExportError(f"{path}: cannot be read: {exc.strerror}") from None
        secret = hidden is not None and path in hidden
        if magic.startswith(GZIP_MAGIC):
            yield InputFile(path.name, path, "gzip", partial(_open_gzip, path), secret)
        elif magic.startswith(ZIP_MAGIC):
            yield from _zip_members(path, secret)
        else:
            yield InputFile(path.name, path, "none", partial(_open_plain, path), secret)


def _zip_members(path: Path, hidden: bool) -> Iterator[InputFile]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = sorted(i.filename for i in archive.infolist() if not i.is_dir())
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{path}: not a readable zip archive: {exc}") from None
    for member in members:
        secret = hidden or any(is_hidden(part) for part in member.split("/"))
        opener = partial(_open_member, path, member)
        yield InputFile(f"{path.name}!{member}", path, "zip", opener, secret)


def _open_plain(path: Path) -> IO[bytes]:
    return path.open("rb")


def _open_gzip(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb"))


def member_digests(path: Path) -> dict[str, tuple[int, str]]:
    """Each member of the zip archive at ``path``: its own size and SHA-256, of its bytes as
    the archive holds them once unpacked (a gzipped member is hashed as the gzip file)."""
    found: dict[str, tuple[int, str]] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.is_dir():
                with archive.open(info) as member:
                    found[info.filename] = digest_stream(member)
    return found


def digest_stream(stream: IO[bytes]) -> tuple[int, str]:
    """The number of bytes left in ``stream`` and their SHA-256 (hex)."""
    digest = hashlib.sha256()
    size = 0
    while block := stream.read(1 << 22):
        digest.update(block)
        size += len(block)
    return size, digest.hexdigest()


def _open_member(path: Path, member: str) -> IO[bytes]:
    archive = zipfile.ZipFile(path)
    raw = archive.open(member)
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    return raw
