"""Inputs at Hadoop-compatible URIs (``s3a://``, ``gs://``, ``abfss://``, ``hdfs://``,
``file://``): listed, recognised and hashed through the driver's Hadoop client, with the
cluster's own configuration and credentials (``core-site.xml``, ``spark.hadoop.*``).

Only the first bytes of each file cross into Python (to recognise its shape, and a zip's
member list); the sizes and SHA-256 that provenance records (of each file, and of each zip
member's own bytes) are computed in the driver's JVM, which streams each input once; the
records themselves are read by the executors.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, cast

from breachdesk.errors import ExportError
from breachdesk.sources.files import GZIP_MAGIC, ZIP_MAGIC, InputFile, is_hidden

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str) -> bool:
    """Whether ``text`` names a location by URI (``s3a://bucket/key``) rather than a path."""
    return _URI.match(text) is not None


class HadoopStream(io.RawIOBase):
    """A Hadoop input stream as a seekable Python file (for a look at a file's start and a zip
    archive's directory: every read is a call into the JVM)."""

    def __init__(self, session: Any, uri: str) -> None:
        jvm = session._jvm
        path = jvm.org.apache.hadoop.fs.Path(uri)
        fs = path.getFileSystem(session._jsc.hadoopConfiguration())
        self._length = int(fs.getFileStatus(path).getLen())
        self._stream = fs.open(path)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = bytes(self._stream.readNBytes(len(buffer)))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self.tell()
        elif whence == io.SEEK_END:
            offset += self._length
        self._stream.seek(offset)
        return offset

    def tell(self) -> int:
        return int(self._stream.getPos())

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


@dataclass(frozen=True)
class _Remote:
    uri: str
    size: int
    hidden: bool


def _status(session: Any, uri: str) -> Any:
    jvm = session._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(session._jsc.hadoopConfiguration())
    try:
        return fs, fs.getFileStatus(path)
    except Exception as exc:
        if "FileNotFoundException" in str(exc):
            raise ExportError(f"{uri}: no such file or folder") from None
        raise ExportError(f"{uri}: cannot be read: {str(exc).splitlines()[0]}") from None


def _list(session: Any, uri: str) -> Iterator[_Remote]:
    fs, status = _status(session, uri)
    if not status.isDirectory():
        yield _Remote(status.getPath().toString(), int(status.getLen()), False)
        return
    root = status.getPath().toString().rstrip("/")
    found: list[_Remote] = []
    files = fs.listFiles(status.getPath(), True)
    while files.hasNext():
        item = files.next()
        name = item.getPath().toString()
        inside = name[len(root) :].strip("/").split("/")
        found.append(_Remote(name, int(item.getLen()), any(is_hidden(p) for p in inside)))
    yield from sorted(found, key=lambda r: r.uri)


def remote_inputs(session: Any, uris: list[str]) -> list[InputFile]:
    """The logical inputs at ``uris`` (files, or every file under a folder, sorted), opened by
    their first bytes as :func:`breachdesk.sources.files.open_inputs` opens local ones."""
    inputs: list[InputFile] = []
    for uri in uris:
        for remote in _list(session, uri):
            name = remote.uri.rsplit("/", 1)[-1]
            opener = partial(_open, session, remote.uri)
            with opener() as fh:
                magic = fh.read(4)
            if magic.startswith(ZIP_MAGIC):
                inputs.extend(_members(session, remote, name))
                continue
            gzipped = magic.startswith(GZIP_MAGIC)
            inputs.append(
                InputFile(
                    name,
                    _as_path(remote.uri),
                    "gzip" if gzipped else "none",
                    partial(_open_gzip, session, remote.uri) if gzipped else opener,
                    remote.hidden,
                    uri=remote.uri,
                    size=remote.size,
                )
            )
    return inputs


def _as_path(uri: str) -> Any:
    """A stand-in path for a remote file (its name and folders; never opened as a path)."""
    from pathlib import PurePosixPath
    from urllib.parse import urlsplit

    return PurePosixPath(urlsplit(uri).path)


def _open(session: Any, uri: str) -> IO[bytes]:
    return cast(IO[bytes], io.BufferedReader(HadoopStream(session, uri), 1 << 20))


def _open_gzip(session: Any, uri: str) -> IO[bytes]:
    import gzip

    return cast(IO[bytes], gzip.GzipFile(fileobj=_open(session, uri), mode="rb"))


def _open_member(session: Any, uri: str, member: str) -> IO[bytes]:
    import gzip

    inner = zipfile.ZipFile(_open(session, uri)).open(member)
    head = inner.peek(2)[:2] if hasattr(inner, "peek") else b""
    if head == GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=inner, mode="rb"))
    return inner


def _members(session: Any, remote: _Remote, name: str) -> Iterator[InputFile]:
    try:
        with zipfile.ZipFile(_open(session, remote.uri)) as archive:
            members = sorted(i.filename for i in archive.infolist() if not i.is_dir())
    except zipfile.BadZipFile as exc:
        raise ExportError(f"{remote.uri}: not a readable zip archive: {exc}") from None
    for member in members:
        hidden = remote.hidden or any(is_hidden(p) for p in member.split("/"))
        yield InputFile(
            f"{name}!{member}",
            _as_path(remote.uri),
            "zip",
            partial(_open_member, session, remote.uri, member),
            hidden,
            uri=remote.uri,
            size=remote.size,
        )


def remote_sha256(session: Any, uri: str) -> str:
    """The SHA-256 of the file at ``uri``, streamed through a digest in the driver's JVM
    (no byte of it crosses into Python)."""
    jvm = session._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(session._jsc.hadoopConfiguration()).open(path)
    digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
    counted = jvm.java.security.DigestInputStream(stream, digest)
    try:
        counted.transferTo(jvm.java.io.OutputStream.nullOutputStream())
    finally:
        counted.close()
    return bytes(digest.digest()).hex()


def remote_member_digests(session: Any, uri: str) -> dict[str, tuple[int, str]]:
    """Each member of the zip archive at ``uri``: its own (unpacked) size and SHA-256, read in
    one pass through the archive in the driver's JVM."""
    jvm = session._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(session._jsc.hadoopConfiguration()).open(path)
    archive = jvm.java.util.zip.ZipInputStream(jvm.java.io.BufferedInputStream(stream, 1 << 20))
    found: dict[str, tuple[int, str]] = {}
    try:
        while (entry := archive.getNextEntry()) is not None:
            if entry.isDirectory():
                continue
            digest = jvm.java.security.MessageDigest.getInstance("SHA-256")
            # the DigestInputStream is not closed: that would close the archive's stream
            counted = jvm.java.security.DigestInputStream(archive, digest)
            size = counted.transferTo(jvm.java.io.OutputStream.nullOutputStream())
            found[str(entry.getName())] = (int(size), bytes(digest.digest()).hex())
    finally:
        archive.close()
    return found
