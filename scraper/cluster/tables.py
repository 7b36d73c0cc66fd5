"""The central archive's tables for the cluster (absent from a single-host archive).

``writer_cursors``   the writer's own state, one row per crawl host: the newest event of the
                     host's stream it has committed (in the same transaction as the event),
                     and how far behind the host it is
``cluster_hosts``    what the controller last saw of each host's Scrapyd

and an index of raw_pages by outlet, for hand-overs (built once, when the writer first opens
the archive: on a large single-host archive that reads every page once).
"""

from __future__ import annotations

TABLES = """
CREATE TABLE IF NOT EXISTS writer_cursors (
    host TEXT PRIMARY KEY,
    applied_seq INTEGER NOT NULL DEFAULT 0,
    events_applied INTEGER NOT NULL DEFAULT 0,
    events_rejected INTEGER NOT NULL DEFAULT 0,
    applied_at TEXT,
    published_seq INTEGER,
    spooled_seq INTEGER,
    lag_events INTEGER,
    lag_seconds REAL,
    checked_at TEXT
);
CREATE TABLE IF NOT EXISTS cluster_hosts (
    host TEXT PRIMARY KEY,
    url TEXT,
    state TEXT NOT NULL,
    outlets INTEGER,
    running INTEGER,
    pending INTEGER,
    finished INTEGER,
    checked_at TEXT NOT NULL,
    message TEXT
);
-- The controller hands an outlet's archived URL keys to the host it moves to.
CREATE INDEX IF NOT EXISTS raw_pages_outlet ON raw_pages(outlet_id)
"""


def ensure_tables(conn) -> None:
    for statement in TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)
