"""The frontier: every article URL discovered for an outlet, and whether it has been fetched.

Discovery (sitemaps, Google News sitemaps, feeds, homepages) records each article URL here
before it is fetched, keyed by its URL key, with what the source said about it: sitemap
lastmod, and from Google News sitemaps and feeds the title, publication date and language.
Those survive a failed fetch, are visible in Datasette, and fill what extraction cannot find.

A backfill reads an outlet's whole sitemap archive into the frontier, then fetches what is
still queued, newest first, in small batches: the queue lives in SQLite, not in the
crawler's memory, so a 400,000-URL archive costs no more RAM than a 400-URL one, and a
killed backfill resumes where it stopped. A row is marked done in the same transaction that
stores its page (Archive.store_page); a URL whose page is already archived under the same
URL key is never queued for fetching again.

States: ``queued`` (to fetch), ``done`` (page archived), ``failed`` (fetch failed; retried by
later backfills until MAX_ATTEMPTS), ``gone`` (404/410: not retried).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable, Iterator, NamedTuple

from archive.store import Archive, normalise_language, normalise_published, utcnow

MAX_ATTEMPTS = 3
_GONE_KINDS = ("http_404", "http_410")
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

# What a backfill may fetch: not done, not gone, not given up on, and (belt and braces for
# archives written before the frontier existed) not already archived under its key.
_TODO = """
outlet_id = :outlet AND state != 'done' AND state != 'gone' AND attempts < :max_attempts
AND date >= :low AND date < :high
AND NOT EXISTS (SELECT 1 FROM raw_pages WHERE raw_pages.url_key = frontier.url_key)
AND NOT EXISTS (SELECT 1 FROM articles WHERE articles.url_key = frontier.url_key)
"""


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

    # -- discovery ---------------------------------------------------------------------------

    def record(self, outlet_id: str, found: Iterable[tuple[str, object]], source: str) -> int:
        """Record (url_key, discovery Entry) pairs found in `source`; returns how many were new."""
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
            return conn.execute("SELECT count(*) FROM frontier WHERE id > ?", (last_id,)).fetchone()[0]

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
            {"outlet": outlet_id, "max_attempts": MAX_ATTEMPTS, "low": low, "high": high},
        ).fetchone()[0]
        return min(total, selection.limit) if selection.limit else total

    def todo(self, outlet_id: str, selection: Selection) -> Iterator[list[Queued]]:
        """Batches of URLs to fetch, newest first, read lazily.

        Pages through the queue by (date, id) rather than by state, so rows being fetched
        while the next batch is read are neither skipped nor handed out twice.
        """
        low, high = selection.bounds()
        cursor = ("\uffff", 0)
        while True:
            rows = self.archive.conn.execute(
                f"SELECT id, url, url_key, date, title, published, language FROM frontier"
                f" WHERE {_TODO} AND (date < :cursor_date OR (date = :cursor_date AND id < :cursor_id))"
                f" ORDER BY date DESC, id DESC LIMIT :batch",
                {"outlet": outlet_id, "max_attempts": MAX_ATTEMPTS, "low": low, "high": high,
                 "cursor_date": cursor[0], "cursor_id": cursor[1] or 2**62, "batch": _BATCH},
            ).fetchall()
            if not rows:
                return
            batch = [Queued(*row) for row in rows]
            yield batch
            cursor = (batch[-1].date, batch[-1].id)

    def unfetched_from(self, outlet_id: str, source: str) -> list[Queued]:
        """URLs first found in `source` that are still to fetch (queued, or failed and retried).

        A feed that answers 304 Not Modified lists nothing new, but what it listed before may
        not have been stored yet (a run killed after reading it): those are fetched from here.
        """
        rows = self.archive.conn.execute(
            f"SELECT id, url, url_key, date, title, published, language FROM frontier"
            f" WHERE source = :source AND {_TODO} ORDER BY date DESC, id DESC",
            {"source": source, "outlet": outlet_id, "max_attempts": MAX_ATTEMPTS, "low": "", "high": "\uffff"},
        ).fetchall()
        return [Queued(*row) for row in rows]

    def mark_failed(self, url_key: str, kind: str, message: str) -> None:
        """A fetch failed: count the attempt; 404/410 are not retried."""
        state = "gone" if kind in _GONE_KINDS else "failed"
        with self.archive.write() as conn:
            conn.execute(
                "UPDATE frontier SET state = ?, attempts = attempts + 1, last_error = ?"
                " WHERE url_key = ? AND state != 'done'",
                (state, f"{kind}: {message}"[:500], url_key),
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
    """'YYYY-MM-DDTHH:MM:SSZ' (or the day alone), so dates compare as strings."""
    if not value:
        return None
    value = value.strip()
    # Fast path for the sitemap form '2025-05-23T10:22:14.88Z': 1.8 million of them per archive.
    if len(value) >= 20 and value[10] == "T" and value[-1] == "Z" and value[19] in ".Z":
        return value[:19] + "Z"
    return normalise_published(value)


def _clean_title(title: str | None) -> str | None:
    if not title:
        return None
    return " ".join(title.split())[:1000] or None
