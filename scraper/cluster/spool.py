"""A crawl host's spool: its local archive file, plus an outbox of what it stored, in order.

The host's crawls write the spool exactly as a single-host crawl writes its archive (same
schema, same pipeline: frontier, validators, raw pages, runs, errors). Triggers add one
outbox row for every page stored (inserted or refetched), every run started, given its
Scrapyd job or ended, and every error, inside the very transaction that stored it: what the
spool holds and what its outbox lists cannot disagree, whatever kills the crawl. The
publisher sends the outbox to Redis in sequence order; nothing is lost while Redis is away,
it is only sent later.

A page row without a body (``html_zlib`` NULL) is a hand-over stub: a page another host
archived, recorded so this host's crawls skip it (see `import_handover`). Stubs are not sent.
"""

from __future__ import annotations

import json

from archive.store import Archive, utcnow
from scraper.cluster.events import Event

_OUTBOX = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    ref INTEGER NOT NULL,
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- The Scrapyd job of each run of this spool (crawl_runs.host stays NULL here: these runs are
-- this machine's, judged alive by pid).
CREATE TABLE IF NOT EXISTS hosted_runs (
    run_id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    outlet_id TEXT
);
-- The newest outbox row the publisher has sent.
CREATE TABLE IF NOT EXISTS outbox_published (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS outbox_page_new AFTER INSERT ON raw_pages WHEN new.html_zlib IS NOT NULL
BEGIN INSERT INTO outbox (kind, ref) VALUES ('page', new.id); END;
CREATE TRIGGER IF NOT EXISTS outbox_page_again AFTER UPDATE ON raw_pages WHEN new.html_zlib IS NOT NULL
BEGIN INSERT INTO outbox (kind, ref) VALUES ('page', new.id); END;
CREATE TRIGGER IF NOT EXISTS outbox_run_start AFTER INSERT ON crawl_runs
BEGIN INSERT INTO outbox (kind, ref) VALUES ('run', new.id); END;
-- Only a change of state, not the counters each stored page bumps: the run's end carries
-- the final counts, and the writer takes them as they are (a replay cannot double them).
CREATE TRIGGER IF NOT EXISTS outbox_run_state AFTER UPDATE OF status, finished ON crawl_runs
BEGIN INSERT INTO outbox (kind, ref) VALUES ('run', new.id); END;
CREATE TRIGGER IF NOT EXISTS outbox_run_job AFTER INSERT ON hosted_runs
BEGIN INSERT INTO outbox (kind, ref) VALUES ('run', new.run_id); END;
CREATE TRIGGER IF NOT EXISTS outbox_error AFTER INSERT ON crawl_errors
BEGIN INSERT INTO outbox (kind, ref) VALUES ('error', new.id); END;
-- The publisher reads the article of each page it sends.
CREATE INDEX IF NOT EXISTS articles_raw_page ON articles(raw_page_id);
"""


class Spool:
    """A host's spool file, opened with its outbox in place."""

    def __init__(self, path):
        self.archive = Archive(path)
        with self.archive.write() as conn:
            for statement in _OUTBOX.split(";\n"):
                if statement.strip():
                    conn.execute(statement)

    def close(self) -> None:
        self.archive.close()

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def conn(self):
        return self.archive.conn

    # -- the crawl's side --------------------------------------------------------------------

    def record_job(self, run_id: int, job_id: str, outlet_id: str) -> None:
        with self.archive.write() as conn:
            conn.execute("INSERT OR REPLACE INTO hosted_runs (run_id, job_id, outlet_id) VALUES (?, ?, ?)",
                         (run_id, job_id, outlet_id))

    def import_handover(self, outlet_id: str, pages: dict[str, str], archived_by: str) -> int:
        """Record pages (url_key -> url) another host archived, so this host skips them.

        Returns how many were new to this spool; pages it has itself are left as they are.
        """
        now = utcnow()
        hints = json.dumps({"archived_by": archived_by})
        with self.archive.write() as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO raw_pages (url_key, url, outlet_id, fetched_at, hints) VALUES (?, ?, ?, ?, ?)",
                [(key, url, outlet_id, now, hints) for key, url in pages.items()],
            )
            return conn.total_changes - before

    # -- the publisher's side ----------------------------------------------------------------

    def last_seq(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]

    def published_seq(self) -> int:
        row = self.conn.execute("SELECT seq FROM outbox_published WHERE id = 1").fetchone()
        return row[0] if row else 0

    def set_published(self, seq: int) -> None:
        with self.archive.write() as conn:
            conn.execute("INSERT INTO outbox_published (id, seq) VALUES (1, ?)"
                         " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq", (seq,))

    def events(self, after: int, limit: int = 200) -> tuple[list[Event], int]:
        """The next outbox rows after sequence number `after`, as events in order, and the
        sequence number of the last row read (`after` if none).

        Each event carries the row as it is now (a page refetched since shows its newest
        state twice, which the writer applies twice to the same result). A row no longer
        there yields no event, but counts as read.
        """
        events = []
        rows = self.conn.execute("SELECT seq, kind, ref, at FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                                 (after, limit)).fetchall()
        for seq, kind, ref, at in rows:
            event = self._event(seq, kind, ref, at)
            if event is not None:
                events.append(event)
        return events, (rows[-1][0] if rows else after)

    def _row(self, sql: str, params) -> dict | None:
        cursor = self.conn.execute(sql, params)
        row = cursor.fetchone()
        return dict(zip([c[0] for c in cursor.description], row)) if row else None

    def _event(self, seq: int, kind: str, ref: int, at: str) -> Event | None:
        if kind == "page":
            page = self._row("SELECT * FROM raw_pages WHERE id = ?", (ref,))
            if page is None or page["html_zlib"] is None:
                return None
            html = page.pop("html_zlib")
            article = self._row("SELECT * FROM articles WHERE raw_page_id = ?", (ref,))
            for row in (page, article):
                if row is not None:
                    row.pop("id")
            if article is not None:
                article.pop("raw_page_id")
                article.pop("published_month", None)  # generated
            return Event(seq, "page", at, {"page": page, "article": article}, html)
        if kind == "run":
            run = self._row("SELECT r.*, h.job_id AS hosted_job_id FROM crawl_runs r"
                            " LEFT JOIN hosted_runs h ON h.run_id = r.id WHERE r.id = ?", (ref,))
            return None if run is None else Event(seq, "run", at, {"run": run})
        if kind == "error":
            error = self._row("SELECT * FROM crawl_errors WHERE id = ?", (ref,))
            return None if error is None else Event(seq, "error", at, {"error": error})
        return None
