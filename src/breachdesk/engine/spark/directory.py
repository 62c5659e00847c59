"""The company directory where the Spark engine finds it: a folder at a Hadoop URI, or three
tables of the Spark catalog (``table:NAMESPACE`` → ``NAMESPACE.users``, ``.organizations``,
``.memberships``).

Either way it is snapshotted into the workspace (``WS/directory/``, 0700, files 0600): the
files byte for byte, the tables as Parquet. assess then reads the snapshot like any local
directory (the same checks, the same errors naming file, line and field) and provenance
records it, so ``notify`` later reads the very directory the match used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from breachdesk.errors import DirectoryError, InputError
from breachdesk.report.tables import write_table

TABLE_PREFIX = "table:"
STEMS = ("users", "organizations", "memberships")


def is_directory_location(text: str) -> bool:
    """Whether ``--directory`` names a catalog namespace or a URI rather than a local folder."""
    from breachdesk.engine.spark.hadoop import is_uri

    return text.startswith(TABLE_PREFIX) or is_uri(text)


def snapshot_directory(session: Any, location: str, dest: Path) -> Path:
    """Copy the directory at ``location`` into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)
    for old in dest.iterdir():  # a snapshot is whole: nothing left from another source
        if old.is_file():
            old.unlink()
    if location.startswith(TABLE_PREFIX):
        _from_tables(session, location.removeprefix(TABLE_PREFIX), dest)
    else:
        _from_files(session, location, dest)
    return dest


def _from_tables(session: Any, namespace: str, dest: Path) -> None:
    if not namespace:
        raise InputError("--directory table:NAMESPACE needs the namespace holding the tables")
    for stem in STEMS:
        name = f"{namespace}.{stem}"
        if not session.catalog.tableExists(name):
            raise DirectoryError(f"{TABLE_PREFIX}{namespace}: no table {name}")
        write_table(dest / f"{stem}.parquet", session.table(name).toArrow())


def _from_files(session: Any, uri: str, dest: Path) -> None:
    jvm = session._jvm
    conf = session._jsc.hadoopConfiguration()
    root = jvm.org.apache.hadoop.fs.Path(uri)
    fs = root.getFileSystem(conf)
    local = jvm.org.apache.hadoop.fs.FileSystem.getLocal(conf)
    for stem in STEMS:
        for suffix in (".csv", ".parquet"):
            source = jvm.org.apache.hadoop.fs.Path(root, stem + suffix)
            if fs.exists(source):
                target = dest / f"{stem}{suffix}"
                jvm.org.apache.hadoop.fs.FileUtil.copy(
                    fs, source, local, jvm.org.apache.hadoop.fs.Path(str(target)), False, conf
                )
                os.chmod(target, 0o600)
                _drop_checksum(target)
                break
        else:
            raise DirectoryError(f"{uri}: missing {stem}.csv (or {stem}.parquet)")


def _drop_checksum(target: Path) -> None:
    """Hadoop's local file system writes a ``.name.crc`` beside each file: not ours to keep."""
    (target.parent / f".{target.name}.crc").unlink(missing_ok=True)
