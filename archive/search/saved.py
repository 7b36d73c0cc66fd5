"""Saved searches: a name for a search, kept in the archive, listed on /<db>/saved with its feed.

They are written only by `mediawatch searches save` (scraper/cli/searches.py), on the machine
that holds the archive: the web UI serves the archive read-only and has no write path at all,
not even for this (a form that anyone could post to would be a way to fill the disk, and
signing visitors in would make the archive server hold credentials). The list page shows the
exact command that saves the search an analyst is looking at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.store import utcnow

TABLE = "saved_searches"
FIELDS = ("q", "outlet", "language", "kind", "published_from", "published_until")
NAME = re.compile(r"^[\w][\w .,()'’-]{0,79}$")

SCHEMA = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    q TEXT NOT NULL,
    outlet TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '',
    published_from TEXT NOT NULL DEFAULT '',
    published_until TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
)"""


@dataclass
class SavedSearch:
    name: str
    q: str
    outlet: str = ""
    language: str = ""
    kind: str = ""
    published_from: str = ""
    published_until: str = ""

    def args(self) -> dict:
        return {field: getattr(self, field) for field in FIELDS if getattr(self, field)}


def ensure_table(conn) -> None:
    conn.execute(SCHEMA)


def save(archive, search: SavedSearch) -> str:
    """Store `search` under its name (replacing one of that name); 'saved' or 'replaced'.
    Raises ValueError for a name that cannot be shown plainly in a list."""
    if not NAME.match(search.name):
        raise ValueError("a name is 1-80 letters, digits, spaces and . , ( ) ' - , starting with a letter or digit")
    with archive.write() as conn:
        ensure_table(conn)
        now = utcnow()
        existed = conn.execute(f"SELECT 1 FROM {TABLE} WHERE name = ?", (search.name,)).fetchone()
        values = [getattr(search, field) or "" for field in FIELDS]
        conn.execute(
            f"INSERT INTO {TABLE} (name, {', '.join(FIELDS)}, created, updated) VALUES (?, {', '.join('?' * len(FIELDS))}, ?, ?)"
            f" ON CONFLICT(name) DO UPDATE SET {', '.join(f'{f} = excluded.{f}' for f in FIELDS)}, updated = excluded.updated",
            [search.name, *values, now, now])
    return "replaced" if existed else "saved"


def remove(archive, name: str) -> bool:
    with archive.write() as conn:
        ensure_table(conn)
        return conn.execute(f"DELETE FROM {TABLE} WHERE name = ?", (name,)).rowcount > 0


def listed(conn) -> list[SavedSearch]:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone():
        return []
    return [SavedSearch(*row) for row in conn.execute(
        f"SELECT name, {', '.join(FIELDS)} FROM {TABLE} ORDER BY name COLLATE NOCASE")]
