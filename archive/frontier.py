"""The frontier: every article URL discovered for an outlet, and whether it has been fetched.

Discovery (sitemaps, Google News sitemaps, feeds, homepages) records each article URL here
before it is fetched, keyed by its URL key, with what the source said about it: sitemap
lastmod, and from Google News sitemaps and feeds the title, publication date and language.
Those survive a failed fetch, are visible in Datasette, and fill what extraction cannot find.

Article requests are read from here a batch at a time, never held as a list in the crawler's
memory, so a 400,000-URL archive (or a hostile million-URL sitemap) costs no more RAM than a
400-URL one:

- a backfill reads an outlet's whole sitemap archive into the frontier, then fetches what is
  still queued, newest first; a killed backfill resumes where it stopped;
- an incremental run fetches what it discovered itself: each URL its documents list is also
  noted in a table of the run's own connection (``temp.this_run``, in the order found).

A row is marked done in the same transaction that stores its page (Archive.store_page); a URL
whose page is already archived under the same URL key is never queued for fetching again.

States: ``queued`` (to fetch), ``done`` (page archived), ``failed`` (fetch failed; tried again
by later runs, by backfills until MAX_ATTEMPTS), ``gone`` (404/410) and ``too_large`` (over a
size limit): these two are not requested again before ``retry_at`` (the outlet's
``limits.gone_retry_days`` later), so a dead link costs one request a month, not one a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Iterator, NamedTuple

from archive.store import Archive, normalise_language, normalise_published, utcnow

MAX_ATTEMPTS = 3
# crawl_errors kinds whose URL is not requested again for a while, and the state they put it in.
LATER_STATES = {"http_404": "gone", "http_410": "gone", "too_large": "too_large"}
_BATCH = 200

# New rows are inserted; a URL seen again only fills what was unknown (title, publication
# date, language from a Google News sitemap seen after the plain one) and keeps the newest
# lastmod, so the result does not depend on the order sitemaps arrive in.
_RECORD = """
INSERT INTO frontier (url_key, url, outlet_id, date, lastmod, published, title, language,
                      source, discovered_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(url_key) DO UPDATE SET
    lastmod = CASE WHEN excluded.lastmod > coalesce(frontier.lastmod, '')
                   THEN excluded.lastmod ELSE frontier.lastmod END,
    published = coalesce(frontier.published, excluded.published),
    title = coalesce(frontier.title, excluded.title),
    language = coalesce(frontier.language, excluded.language),
    date = coalesce(
        frontier.published, excluded.published,
        CASE WHEN excluded.lastmod > coalesce(frontier.lastmod, '')
             THEN excluded.lastmod ELSE frontier.lastmod END,
        '')
WHERE excluded.lastmod > coalesce(frontier.lastmod, '')
   OR (frontier.published IS NULL AND excluded.published IS NOT NULL)
   OR (frontier.title IS NULL AND excluded.title IS NOT NULL)
   OR (frontier.language IS NULL AND excluded.language IS NOT NULL)
"""

_ARCHIVED = """(
    EXISTS (SELECT 1 FROM raw_pages WHERE raw_pages.url_key = frontier.url_key)
    OR EXISTS (SELECT 1 FROM articles WHERE articles.url_key = frontier.url_key))"""

# Not to be fetched again yet: marked gone or too large, and its retry time not come.
_WAITING = "(state IN ('gone', 'too_large') AND coalesce(retry_at, '') > :now)"
_NOT_ARCHIVED = """
NOT EXISTS (SELECT 1 FROM raw_pages WHERE raw_pages.url_key = frontier.url_key)
AND NOT EXISTS (SELECT 1 FROM articles WHERE articles.url_key = frontier.url_key)"""

# What a backfill may fetch: not done, not waiting, not given up on, and (belt and braces for
# archives written before the frontier existed) not already archived under its key.
_TODO = f"""
outlet_id = :outlet AND state != 'done' AND NOT {_WAITING} AND (state != 'failed' OR attempts < :max_attempts)
AND date >= :low AND date < :high AND {_NOT_ARCHIVED}
"""
# What an incremental run fetches of the URLs it found: what is not archived and not waiting
# (a failed fetch is tried again whenever a source lists it); with --refresh, archived too.
_THIS_RUN = f"frontier.state != 'done' AND NOT {_WAITING} AND {_NOT_ARCHIVED}"
_THIS_RUN_REFRESH = f"NOT {_WAITING}"


@dataclass(frozen=True)
class Selection:
    """Which queued URLs a backfill fetches: a window of days (both inclusive) and a cap.

    A URL's date is its publication date when a Google News sitemap or feed gave one, else
    the newest sitemap lastmod seen for it (archive sitemaps carry nothing else). URLs with
    no date at all are only selected when no window is given.
    """

    since: date | None = None
    until: date | None = None
    limit: int | None = None

    def bounds(self) -> tuple[str, str]:
        low = self.since.isoformat() if self.since else ""
        high = (self.until + timedelta(days=1)).isoformat() if self.until else "\uffff"
        return low, high


class Queued(NamedTuple):
    id: int
    url: str
    url_key: str
    date: str
    title: str | None
    published: str | None
    language: str | None

    def hints(self) -> dict:
        """Extraction hints (see scraper.extraction.article.Hints) from what discovery recorded."""
        return _hints(self.title, self.published, self.language)


class Frontier:
    def __init__(self, archive: Archive):
        self.archive = archive
        self._this_run_made = False

    # -- discovery ---------------------------------------------------------------------------

    def record(self, outlet_id: str, found: Iterable[tuple[str, object]], source: str, *,
               this_run: bool = False) -> int:
        """Record (url_key, discovery Entry) pairs found in `source`; returns how many were new.

        With `this_run`, the keys are also noted as found by this run (see todo_this_run).
        """
        now = utcnow()
        rows = []
        for key, entry in found:
            lastmod = _utc(entry.lastmod)
            published = _utc(entry.published)
            rows.append((
                key, entry.url, outlet_id, published or lastmod or "", lastmod, published,
                _clean_title(entry.title), normalise_language(entry.language), source, now,
            ))
        if not rows:
            return 0
        with self.archive.write() as conn:
            # New rows get ids above the current maximum (rowids are never reused below it).
            last_id = conn.execute("SELECT coalesce(max(id), 0) FROM frontier").fetchone()[0]
            conn.executemany(_RECORD, rows)
            # A new URL whose article is archived already (under another URL form, or
            # from before the frontier existed) is not to be fetched: anti-join right away.
            conn.execute(f"UPDATE frontier SET state = 'done' WHERE id > ? AND {_ARCHIVED}", (last_id,))
            if this_run:
                self._make_this_run(conn)
                conn.executemany("INSERT OR IGNORE INTO temp.this_run (url_key) VALUES (?)", [(r[0],) for r in rows])
            return conn.execute("SELECT count(*) FROM frontier WHERE id > ?", (last_id,)).fetchone()[0]

    def _make_this_run(self, conn) -> None:
        if not self._this_run_made:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS this_run (seq INTEGER PRIMARY KEY, url_key TEXT UNIQUE)")
            self._this_run_made = True

    def include_unfetched_from(self, outlet_id: str, source: str) -> int:
        """Note as found by this run the URLs first found in `source` that are still to fetch.

        A feed that answers 304 Not Modified lists nothing new, but what it listed before may
        not have been stored yet (a run killed after reading it): those are fetched from here.
        """
        with self.archive.write() as conn:
            self._make_this_run(conn)
            return conn.execute(
                "INSERT OR IGNORE INTO temp.this_run (url_key)"
                f" SELECT url_key FROM frontier WHERE source = :source AND outlet_id = :outlet AND {_THIS_RUN}"
                " ORDER BY date DESC, id DESC",
                {"source": source, "outlet": outlet_id, "now": utcnow()},
            ).rowcount

    def mark_archived(self, outlet_id: str) -> int:
        """Mark done the outlet's queued URLs whose page is already archived (any URL form)."""
        with self.archive.write() as conn:
            return conn.execute(
                f"UPDATE frontier SET state = 'done' WHERE outlet_id = ? AND state != 'done' AND {_ARCHIVED}",
                (outlet_id,),
            ).rowcount

    # -- fetching ----------------------------------------------------------------------------

    def count_todo(self, outlet_id: str, selection: Selection) -> int:
        low, high = selection.bounds()
        total = self.archive.conn.execute(
            f"SELECT count(*) FROM frontier WHERE {_TODO}",
            {"outlet": outlet_id, "max_attempts": MAX_ATTEMPTS, "low": low, "high": high, "now": utcnow()},
        ).fetchone()[0]
        return min(total, selection.limit) if selection.limit else total

    def todo_batch(self, outlet_id: str, selection: Selection, cursor: tuple | None = None,
                   limit: int = _BATCH) -> tuple[list[Queued], tuple | None]:
        """The next `limit` URLs a backfill should fetch, newest first, after `cursor` (None at
        first); and the cursor to pass next time.

        Pages through the queue by (date, id) rather than by state, so rows being fetched
        while the next batch is read are neither skipped nor handed out twice.
        """
        low, high = selection.bounds()
        after = cursor or ("\uffff", 2**62)
        rows = self.archive.conn.execute(
            f"SELECT id, url, url_key, date, title, published, language FROM frontier"
            f" WHERE {_TODO} AND (date < :cursor_date OR (date = :cursor_date AND id < :cursor_id))"
            f" ORDER BY date DESC, id DESC LIMIT :batch",
            {"outlet": outlet_id, "max_attempts": MAX_ATTEMPTS, "low": low, "high": high, "now": utcnow(),
             "cursor_date": after[0], "cursor_id": after[1], "batch": limit},
        ).fetchall()
        batch = [Queued(*row) for row in rows]
        return batch, ((batch[-1].date, batch[-1].id) if batch else cursor)

    def todo(self, outlet_id: str, selection: Selection) -> Iterator[list[Queued]]:
        """Batches of URLs a backfill should fetch, newest first, read lazily (see todo_batch)."""
        cursor = None
        while True:
            batch, cursor = self.todo_batch(outlet_id, selection, cursor)
            if not batch:
                return
            yield batch

    def todo_this_run(self, cursor: int | None = None, limit: int = _BATCH, *,
                      refresh: bool = False) -> tuple[list[Queued], int]:
        """The next `limit` URLs this run found (record(..., this_run=True)) that it should
        fetch, in the order found, after `cursor`; and the cursor to pass next time."""
        if not self._this_run_made:
            return [], cursor or 0
        rows = self.archive.conn.execute(
            "SELECT t.seq, frontier.url, frontier.url_key, date, title, published, language"
            " FROM temp.this_run t JOIN frontier ON frontier.url_key = t.url_key"
            f" WHERE t.seq > :cursor AND {_THIS_RUN_REFRESH if refresh else _THIS_RUN}"
            " ORDER BY t.seq LIMIT :batch",
            {"cursor": cursor or 0, "batch": limit, "now": utcnow()},
        ).fetchall()
        batch = [Queued(*row) for row in rows]
        return batch, (batch[-1].id if batch else cursor or 0)

    def mark_failed(self, url_key: str, kind: str, message: str, retry_days: float = 30) -> None:
        """A fetch failed: count the attempt. A 404, 410 or a response over a size limit is not
        requested again for `retry_days`."""
        state = LATER_STATES.get(kind, "failed")
        retry_at = None
        if state != "failed":
            retry_at = (datetime.now(timezone.utc) + timedelta(days=retry_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.archive.write() as conn:
            conn.execute(
                "UPDATE frontier SET state = ?, attempts = attempts + 1, last_error = ?, retry_at = ?"
                " WHERE url_key = ? AND state != 'done'",
                (state, f"{kind}: {message}"[:500], retry_at, url_key),
            )

    def hints(self, url_key: str) -> dict:
        row = self.archive.conn.execute(
            "SELECT title, published, language FROM frontier WHERE url_key = ?", (url_key,)
        ).fetchone()
        return _hints(*row) if row else {}

    def summary(self, outlet_id: str) -> dict[str, int]:
        """Number of URLs per state for one outlet."""
        return dict(self.archive.conn.execute(
            "SELECT state, count(*) FROM frontier WHERE outlet_id = ? GROUP BY state ORDER BY state",
            (outlet_id,),
        ).fetchall())


def _hints(title, published, language) -> dict:
    hints = {"feed_title": title, "feed_published": published, "feed_language": language}
    return {k: v for k, v in hints.items() if v}


def _utc(value: str | None) -> str | None:
    """'YYYY-MM-DDTHH:MM:SSZ' (or the day alone), so dates compare as strings; None for a date
    no timestamp can hold (year 1 or 9999 with an offset: a sitemap's, not a reason to lose the URL)."""
    if not value:
        return None
    value = value.strip()
    # Fast path for the sitemap form '2025-05-23T10:22:14.88Z': 1.8 million of them per archive.
    if len(value) >= 20 and value[10] == "T" and value[-1] == "Z" and value[19] in ".Z":
        return value[:19] + "Z"
    try:
        return normalise_published(value)
    except (OverflowError, ValueError):
        return None


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    return " ".join(title.split())[:1000] or None
