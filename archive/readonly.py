"""Reading an archive while writing nothing, for the commands that only look.

The archive is a WAL database, and SQLite reads one through two files beside it (`-wal` and
`-shm`). A connection opened with ``mode=ro`` creates them when they are missing but, being
read-only, never removes them; and in a folder it may not write it cannot create them, so it
cannot open the archive at all. Hence:

- where the folder is writable, read through an ordinary connection that refuses writes
  (``PRAGMA query_only``): when the last connection closes, SQLite removes the files it
  made, and the folder is left as it was;
- where it is not (a read-only mount, another account's folder), ``mode=ro`` works while a
  writer has the archive open (its `-wal` and `-shm` exist). When none has, there is nothing
  beside the file to read but the file itself, and it is read as ``immutable``: without
  locks, as it is now. Should a crawl start writing it later through another way in (another
  account, a writable mount elsewhere), such a reader misses what the crawl adds and may
  even see a half-copied page: `immutable` tells the caller to say so.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass
class ReadOnlyConnection:
    conn: sqlite3.Connection
    # Read as an unchanging snapshot (see the module docstring).
    immutable: bool


def folder_is_writable(path: Path) -> bool:
    """Whether SQLite can create its files beside `path` (False on a read-only mount too)."""
    return os.access(Path(path).parent, os.W_OK)


def connect_read_only(path: str | os.PathLike, timeout: float = 30) -> ReadOnlyConnection:
    """A connection that can only read `path` and leaves its folder as it was.

    Raises sqlite3.Error as SQLite does (`file is not a database`, `unable to open ...`);
    FileNotFoundError when there is no such file (SQLite would create it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    if folder_is_writable(path) and os.access(path, os.W_OK):
        conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        _check(conn)
        return ReadOnlyConnection(conn, immutable=False)
    uri = f"file:{quote(str(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)
    try:
        _check(conn)
        return ReadOnlyConnection(conn, immutable=False)
    except sqlite3.OperationalError as exc:
        conn.close()
        # SQLite could not create the -shm file: no writer has the archive open.
        if getattr(exc, "sqlite_errorname", "") != "SQLITE_CANTOPEN" or Path(f"{path}-wal").exists():
            raise
    conn = sqlite3.connect(f"{uri}&immutable=1", uri=True, timeout=timeout, check_same_thread=False)
    _check(conn)
    return ReadOnlyConnection(conn, immutable=True)


def _check(conn: sqlite3.Connection) -> None:
    """Read the header and schema now, so a file that is not SQLite fails here."""
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        conn.close()
        raise


def tidy(path: str | os.PathLike) -> None:
    """Remove the -wal and -shm files that read-only connections left beside `path`, when
    no other process has the archive open (SQLite decides; nothing is written to it)."""
    path = Path(path)
    if not (path.is_file() and folder_is_writable(path)):
        return
    try:
        connect_read_only(path, timeout=1).conn.close()
    except sqlite3.Error:
        pass  # busy or unreadable: the files stay, as harmless as before
