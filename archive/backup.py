"""A consistent copy of a live archive, with SQLite's online backup API.

Copying the file while a crawl writes to it can tear it (and misses what sits in the WAL).
The backup API copies pages through SQLite instead. It runs as one step inside one read
transaction, so the copy is a single snapshot; in WAL mode that read does not block the
crawlers' writes. The copy goes to a temporary file beside DEST, is checked with
``PRAGMA integrity_check``, and only then replaces DEST.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


class BackupError(RuntimeError):
    """The backup could not be made; DEST is unchanged. The message names the file at fault."""


@dataclass
class BackupResult:
    articles: int
    size: int
    seconds: float


def backup_archive(source: Path, dest: Path) -> BackupResult:
    source, dest = Path(source), Path(dest)
    started = time.monotonic()
    if not source.is_file():
        raise BackupError(f"archive {source} does not exist")
    if dest.exists() and dest.resolve() == source.resolve():
        raise BackupError(f"backup destination {dest} is the archive itself")
    partial = dest.with_name(f".{dest.name}.partial")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        try:
            copy = sqlite3.connect(partial)
            try:
                reader.backup(copy)  # pages=-1: everything in one step, one snapshot
                # The copy is a standalone file: no WAL beside it to lose.
                copy.execute("PRAGMA journal_mode = DELETE")
                check = copy.execute("PRAGMA integrity_check").fetchone()[0]
                articles = copy.execute("SELECT count(*) FROM articles").fetchone()[0]
            finally:
                copy.close()
        finally:
            reader.close()
        if check != "ok":
            raise BackupError(f"the copy of {source} failed its integrity check: {check}")
        os.replace(partial, dest)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot back up archive {source} to {dest}: {exc}") from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write backup {dest}: {exc}") from exc
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(articles=articles, size=dest.stat().st_size, seconds=time.monotonic() - started)
