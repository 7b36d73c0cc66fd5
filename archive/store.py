"""The SQLite archive: schema and every write the crawler makes.

One file holds everything: outlets, articles (with FTS5 kept in sync by triggers), the raw
HTML each article was extracted from (compressed: Zstandard, or zlib in older archives; so a
better extractor can re-process the archive without refetching), crawl runs and crawl errors.

Every write happens inside one ``BEGIN IMMEDIATE`` transaction: a failed write (disk full,
killed process) leaves the archive exactly as it was, and two processes writing at once queue
on SQLite's lock instead of deadlocking on a read-to-write upgrade.

An archive says what it is in its header: ``PRAGMA application_id`` (mediawatch's) and
``PRAGMA user_version`` (SCHEMA_VERSION). Opening one checks both before anything is written:
an archive written by a newer mediawatch is refused (its schema may have triggers or columns
this version would break), and so is a SQLite file that is not an archive at all, rather than
having a dozen tables added to it. Before a crawl writes, ``check_archive`` also runs
``PRAGMA quick_check``: a damaged archive is refused, pointing at `mediawatch backup` copies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

import psutil
import sqlite_utils
import zstandard

from archive.readonly import connect_read_only
from archive.search.index import create_search_index

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outlets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    homepage TEXT,
    languages TEXT,
    country TEXT,
    region TEXT,
    family TEXT,
    schedule TEXT
);
CREATE TABLE IF NOT EXISTS crawl_runs (
    id INTEGER PRIMARY KEY,
    outlet_id TEXT REFERENCES outlets(id),
    mode TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,
    pages_fetched INTEGER NOT NULL DEFAULT 0,
    articles_new INTEGER NOT NULL DEFAULT 0,
    articles_updated INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    duration_s REAL,
    pid INTEGER,
    log_file TEXT,
    message TEXT
);
CREATE TABLE IF NOT EXISTS raw_pages (
    id INTEGER PRIMARY KEY,
    url_key TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    final_url TEXT,
    outlet_id TEXT REFERENCES outlets(id),
    status INTEGER,
    content_type TEXT,
    encoding TEXT,
    fetched_at TEXT NOT NULL,
    size INTEGER,
    html_zlib BLOB,
    hints TEXT,
    run_id INTEGER REFERENCES crawl_runs(id)
);
CREATE TABLE IF NOT EXISTS articles (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    url_key TEXT NOT NULL UNIQUE,
    outlet_id TEXT REFERENCES outlets(id),
    title TEXT,
    authors TEXT,
    published TEXT,
    language TEXT,
    description TEXT,
    site_name TEXT,
    sections TEXT,
    tags TEXT,
    image TEXT,
    text TEXT,
    word_count INTEGER,
    fetched_url TEXT,
    first_seen TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    extractor_version TEXT,
    content_hash TEXT,
    raw_page_id INTEGER REFERENCES raw_pages(id),
    run_id INTEGER REFERENCES crawl_runs(id)
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published);
CREATE INDEX IF NOT EXISTS articles_outlet_published ON articles(outlet_id, published);
CREATE INDEX IF NOT EXISTS articles_language ON articles(language);
CREATE TABLE IF NOT EXISTS crawl_errors (
    id INTEGER PRIMARY KEY,
    run_id INTEGER REFERENCES crawl_runs(id),
    outlet_id TEXT REFERENCES outlets(id),
    url TEXT,
    kind TEXT NOT NULL,
    message TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS crawl_errors_run ON crawl_errors(run_id);
CREATE INDEX IF NOT EXISTS crawl_runs_outlet ON crawl_runs(outlet_id, started);
-- Every article URL discovered (sitemaps, feeds, homepages), recorded before it is fetched,
-- with what the source said about it. See archive/frontier.py.
CREATE TABLE IF NOT EXISTS frontier (
    id INTEGER PRIMARY KEY,
    url_key TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    outlet_id TEXT REFERENCES outlets(id),
    date TEXT NOT NULL DEFAULT '',
    lastmod TEXT,
    published TEXT,
    title TEXT,
    language TEXT,
    source TEXT,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    discovered_at TEXT NOT NULL,
    fetched_at TEXT
);
CREATE INDEX IF NOT EXISTS frontier_todo ON frontier(outlet_id, date, id) WHERE state != 'done';
-- HTTP validators of the feeds and sitemaps each outlet read, sent back as If-None-Match /
-- If-Modified-Since so an unchanged source costs the server a 304 instead of a full body.
-- Per outlet: two outlets sharing a feed each read it in full once.
-- Integrity checks a crawl ran before writing (check_archive), so a large archive is not read
-- in full before every run.
CREATE TABLE IF NOT EXISTS archive_checks (
    id INTEGER PRIMARY KEY,
    checked_at TEXT NOT NULL,
    seconds REAL,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS source_validators (
    outlet_id TEXT NOT NULL,
    url TEXT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (outlet_id, url)
);
"""

# Columns added after a table was first released: (table, column, declaration). Existing
# archives get them on open; new ones too, so _SCHEMA above never needs editing for them.
_ADDED_COLUMNS: list[tuple[str, str, str]] = [
    # For browsing by month (a facet); computed, so it costs no storage.
    ("articles", "published_month", "TEXT GENERATED ALWAYS AS (substr(published, 1, 7)) VIRTUAL"),
    # The publication time in the page's own offset, as readers there saw it; `published`
    # (UTC) is what sorts and filters. Filled by new crawls and by `mediawatch reextract`.
    ("articles", "published_local", "TEXT"),
    # The outlet's configured time zone (registry `timezone`), beside its country.
    ("outlets", "timezone", "TEXT"),
    # What the item is: article, or a media item (video, audio, gallery, infographic), whose
    # text is its description or transcript (scraper/extraction/media.py).
    ("articles", "kind", "TEXT NOT NULL DEFAULT 'article'"),
    # Scale-out (scraper/cluster/): a run on a Scrapyd crawl host is known by the host's name
    # and its Scrapyd job id; host_run_id / host_error_id are the row's id in that host's spool,
    # so the writer applies a replayed event once. All stay empty for single-host crawls.
    ("crawl_runs", "host", "TEXT"),
    ("crawl_runs", "job_id", "TEXT"),
    ("crawl_runs", "host_run_id", "INTEGER"),
    ("crawl_errors", "host", "TEXT"),
    ("crawl_errors", "host_error_id", "INTEGER"),
    # When a URL marked gone (404/410) or too large may be requested again (archive/frontier.py).
    ("frontier", "retry_at", "TEXT"),
    # How each run's fetched article pages ended (see Archive.finish_run): every page fetched is
    # stored (new or changed), unchanged, or recorded (kept without an article, or an error row).
    ("crawl_runs", "pages_stored", "INTEGER NOT NULL DEFAULT 0"),
    ("crawl_runs", "pages_unchanged", "INTEGER NOT NULL DEFAULT 0"),
    ("crawl_runs", "pages_recorded", "INTEGER NOT NULL DEFAULT 0"),
    ("crawl_runs", "reconciled", "INTEGER"),
    # Article URLs that answered 404 or 410: dead links, not a site that is down.
    ("crawl_runs", "dead_links", "INTEGER NOT NULL DEFAULT 0"),
]

# Indexes over columns of _ADDED_COLUMNS, created once those exist (idempotent like _SCHEMA).
_INDEXES_ON_ADDED_COLUMNS = (
    # The month facet links to ?published_month=...: without it that page scans every article
    # (3.3 s at 2,000,000 articles, see docs/benchmarks.md).
    "CREATE INDEX IF NOT EXISTS articles_published_month ON articles(published_month)",
    # The kind facet and ?kind=video: a count per kind reads this index, not every row.
    "CREATE INDEX IF NOT EXISTS articles_kind ON articles(kind)",
    # The writer's upsert keys for events from crawl hosts (NULLs, single-host rows, never clash).
    "CREATE UNIQUE INDEX IF NOT EXISTS crawl_runs_host_run ON crawl_runs(host, host_run_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS crawl_errors_host_error ON crawl_errors(host, host_error_id)",
)

# The fields an extraction record contributes to an article row; lists are stored as JSON.
_ARTICLE_FIELDS = (
    "title", "authors", "published", "published_local", "language", "description", "site_name",
    "sections", "tags", "image", "text", "word_count", "extractor_version", "kind",
)
_HASHED_FIELDS = ("title", "authors", "published", "language", "description", "sections", "tags", "text")


class ArchiveError(RuntimeError):
    """A write to the archive failed; the archive is unchanged. The message names the file."""


# What an archive's header says it is. Bump SCHEMA_VERSION with every change to the schema
# (a table, column, index or trigger): an older mediawatch then refuses the archive instead of
# writing to it with a schema it does not know.
SCHEMA_VERSION = 1
APPLICATION_ID = 0x6D776174  # "mwat"
# Tables every mediawatch archive has had since the first release (archives from before the
# header was stamped are recognised by them).
_CORE_TABLES = {"outlets", "crawl_runs", "raw_pages", "articles", "crawl_errors"}


# How long a writer waits for another process's write (or WAL switch) before giving up.
BUSY_TIMEOUT_S = 30


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Archive:
    """An open archive file. Creates the schema on first use."""

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = Path(path)
        try:
            if readonly:  # writes nothing, not even SQLite's files beside it (archive/readonly.py)
                self.db = sqlite_utils.Database(connect_read_only(self.path, timeout=BUSY_TIMEOUT_S).conn)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite_utils.Database(sqlite3.connect(self.path, check_same_thread=False))
            self.conn = self.db.conn
            # True autocommit: the explicit BEGIN IMMEDIATE of write() is the only transaction,
            # never one Python's sqlite3 opened implicitly before some statement.
            self.conn.isolation_level = None
            # Concurrent writers (a scheduled run and a manual one) wait for each other.
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
            fresh = _check_identity(self.conn, self.path)
            if not readonly:
                self._create_schema()
                if fresh or _header(self.conn) != (APPLICATION_ID, SCHEMA_VERSION):
                    self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except FileNotFoundError:
            raise ArchiveError(f"no archive at {self.path}") from None
        except ArchiveError:
            if hasattr(self, "conn"):
                self.conn.close()
            raise
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot open archive {self.path}: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def write(self):
        """One atomic write. Raises ArchiveError (naming the file) if it cannot be committed."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise ArchiveError(f"cannot write to archive {self.path}: {exc}") from exc
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ArchiveError(f"write to archive {self.path} failed and was rolled back: {exc}") from exc
            raise

    def _use_wal(self) -> None:
        """Switch the file to WAL, waiting for other processes that are creating it too.

        Switching needs the file to itself for a moment, and SQLite reports "database is
        locked" at once instead of applying busy_timeout: two crawls started together on a
        new archive would otherwise fail at random. Retried up to the same timeout.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while self.db.journal_mode != "wal":
            try:
                self.conn.execute("PRAGMA journal_mode = wal")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _create_schema(self) -> None:
        self._use_wal()
        # NORMAL is durable across process crashes in WAL mode; only a power cut may lose
        # the last commits, never corrupt the file.
        self.conn.execute("PRAGMA synchronous = NORMAL")
        # Every statement is idempotent, so opening an archive made by an older version
        # brings it up to date, and a fully current one costs a few no-op statements.
        with self.write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            for table, column, declaration in _ADDED_COLUMNS:
                existing = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({table})")}
                if column not in existing:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            for statement in _INDEXES_ON_ADDED_COLUMNS:
                conn.execute(statement)
            # Full-text search over title and text, with Kazakh/Tajik/Uzbek letters and ё folded,
            # and its word list (archive/search/index.py); an archive with an older index is
            # re-indexed once.
            create_search_index(conn)

    # -- outlets ---------------------------------------------------------------------------

    def sync_outlets(self, outlets) -> None:
        """Insert or update the outlet rows for these registry entries."""
        with self.write():
            self.db["outlets"].upsert_all([o.as_row() for o in outlets], pk="id")

    # -- what is already archived ---------------------------------------------------------

    def is_known(self, url_key: str) -> bool:
        """True if a page with this URL key was fetched or an article has this key."""
        row = self.conn.execute(
            "SELECT EXISTS(SELECT 1 FROM raw_pages WHERE url_key = ?)"
            " OR EXISTS(SELECT 1 FROM articles WHERE url_key = ?)",
            (url_key, url_key),
        ).fetchone()
        return bool(row[0])

    # -- conditional requests ----------------------------------------------------------------

    def validators(self, outlet_id: str, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) the outlet last saw for this source URL, or (None, None)."""
        row = self.conn.execute(
            "SELECT etag, last_modified FROM source_validators WHERE outlet_id = ? AND url = ?", (outlet_id, url)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def remember_validators(self, outlet_id: str, url: str, etag: str | None, last_modified: str | None) -> None:
        """Keep a source's validators; a response without any forgets the old ones."""
        if not (etag or last_modified) and self.validators(outlet_id, url) == (None, None):
            return
        with self.write() as conn:
            if etag or last_modified:
                conn.execute(
                    "INSERT INTO source_validators (outlet_id, url, etag, last_modified, updated_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(outlet_id, url) DO UPDATE SET etag = excluded.etag,"
                    " last_modified = excluded.last_modified, updated_at = excluded.updated_at",
                    (outlet_id, url, etag, last_modified, utcnow()),
                )
            else:
                conn.execute("DELETE FROM source_validators WHERE outlet_id = ? AND url = ?", (outlet_id, url))

    # -- runs and errors ------------------------------------------------------------------

    def start_run(self, outlet_id: str, mode: str, log_file: str | None = None) -> int:
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT INTO crawl_runs (outlet_id, mode, started, status, pid, log_file)"
                " VALUES (?, ?, ?, 'running', ?, ?)",
                (outlet_id, mode, utcnow(), os.getpid(), log_file),
            )
            return cursor.lastrowid

    def finish_run(self, run_id: int, status: str, message: str | None = None, *, reconcile: bool = False) -> None:
        """Close a run. With `reconcile`, also record whether every article page it fetched is
        accounted for: pages_fetched = pages_stored + pages_unchanged + pages_recorded."""
        with self.write() as conn:
            conn.execute(
                "UPDATE crawl_runs SET status = ?, finished = ?, message = ?,"
                " duration_s = round((julianday(?) - julianday(started)) * 86400, 3),"
                " reconciled = CASE WHEN ? THEN pages_fetched = pages_stored + pages_unchanged + pages_recorded END"
                " WHERE id = ?",
                (status, utcnow(), _storable_text(message), utcnow(), reconcile, run_id),
            )

    def count_fetched(self, run_id: int) -> None:
        """An article page of the run was downloaded (counted as it arrives, before it is stored)."""
        with self.write() as conn:
            conn.execute("UPDATE crawl_runs SET pages_fetched = pages_fetched + 1 WHERE id = ?", (run_id,))

    def mark_abandoned_runs(self) -> int:
        """Runs still 'running' whose process is gone were killed: mark them interrupted.

        Only this machine's runs: one a crawl host reported (`host` set) ran under another
        machine's pid; its own spool closes it, and the controller follows its Scrapyd job.
        """
        rows = self.conn.execute(
            "SELECT id, pid, started FROM crawl_runs WHERE status = 'running' AND host IS NULL"
        ).fetchall()
        dead = [run_id for run_id, pid, started in rows if not _run_process_alive(pid, started)]
        if dead:
            with self.write() as conn:
                # (A run that did not finish is not reconciled: what it fetched and had not yet
                # stored when it was killed is fetched again by the next run.)
                conn.executemany(
                    "UPDATE crawl_runs SET status = 'interrupted', finished = coalesce(finished, ?),"
                    " message = coalesce(message, 'process ended without finishing the run')"
                    " WHERE id = ?",
                    [(utcnow(), run_id) for run_id in dead],
                )
        return len(dead)

    def record_check(self, seconds: float) -> None:
        """A quick_check of this archive passed (check_archive), taking `seconds`."""
        with self.write() as conn:
            conn.execute("INSERT INTO archive_checks (checked_at, seconds, result) VALUES (?, ?, 'ok')",
                         (utcnow(), round(seconds, 3)))

    def record_error(self, run_id: int | None, outlet_id: str | None, url: str | None,
                     kind: str, message: str, *, page: bool = False) -> None:
        """One crawl_errors row. `page`: the row is how a fetched article page ended (it counts
        as recorded in the run's reconciliation; a 404 or 410 is also a dead link)."""
        with self.write() as conn:
            _insert_error(conn, run_id, outlet_id, url, kind, message)
            if run_id is not None and page:
                conn.execute("UPDATE crawl_runs SET pages_recorded = pages_recorded + 1,"
                             " dead_links = dead_links + ? WHERE id = ?", (kind in DEAD_LINK_KINDS, run_id))

    # -- pages and articles ----------------------------------------------------------------

    def store_page(self, page: dict, article: dict | None, run_id: int | None) -> str:
        """Store one fetched page and, if it held an article, the article.

        `page` has url_key, url, final_url, outlet_id, status, content_type, encoding, body
        (bytes), hints and optionally html_zlib (the body already compressed by compress_page);
        `article` is an extraction record plus `url_key` and `url` (canonical). Returns 'new',
        'updated', 'unchanged' or 'empty' (no article text; the page is kept for reextract).

        A field of the record that cannot be stored as it is (a string with a lone surrogate, a
        date outside what a timestamp can hold) is repaired or dropped, and said so in a
        ``bad_field`` row of the run; the page is never lost for it.
        """
        now = utcnow()
        body = page["body"]
        with self.write() as conn:
            raw_page_id = self._upsert_raw_page(conn, page, body, now, run_id)
            outcome = "empty"
            # A media item is kept with whatever text it has (a video may have none).
            if article and (article.get("text") or article.get("kind", "article") != "article"):
                problems: list[str] = []
                outcome = self._upsert_article(conn, article, page, raw_page_id, now, run_id, problems)
                for problem in problems:
                    _insert_error(conn, run_id, page.get("outlet_id"), page["url"], "bad_field", problem)
            # The URL is no longer to be fetched, in the same transaction that stored it.
            conn.execute(
                "UPDATE frontier SET state = 'done', fetched_at = ? WHERE url_key IN (?, ?)",
                (now, page["url_key"], (article or {}).get("url_key") or page["url_key"]),
            )
            if run_id is not None:
                conn.execute(
                    "UPDATE crawl_runs SET bytes = bytes + ?, articles_new = articles_new + ?,"
                    " articles_updated = articles_updated + ?, pages_stored = pages_stored + ?,"
                    " pages_unchanged = pages_unchanged + ?, pages_recorded = pages_recorded + ?"
                    " WHERE id = ?",
                    (len(body), outcome == "new", outcome == "updated", outcome in ("new", "updated"),
                     outcome == "unchanged", outcome == "empty", run_id),
                )
        return outcome

    def _upsert_raw_page(self, conn, page: dict, body: bytes, now: str, run_id) -> int:
        values = (
            page["url"], page.get("final_url"), page.get("outlet_id"), page.get("status"),
            page.get("content_type"), page.get("encoding"), now, len(body),
            page.get("html_zlib") or compress_page(body), _storable_text(json.dumps(page.get("hints") or {},
                                                                                    ensure_ascii=False)), run_id,
        )
        row = conn.execute("SELECT id FROM raw_pages WHERE url_key = ?", (page["url_key"],)).fetchone()
        if row:
            conn.execute(
                "UPDATE raw_pages SET url=?, final_url=?, outlet_id=?, status=?, content_type=?,"
                " encoding=?, fetched_at=?, size=?, html_zlib=?, hints=?, run_id=? WHERE id=?",
                (*values, row[0]),
            )
            return row[0]
        return conn.execute(
            "INSERT INTO raw_pages (url, final_url, outlet_id, status, content_type, encoding,"
            " fetched_at, size, html_zlib, hints, run_id, url_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (*values, page["url_key"]),
        ).lastrowid

    def _upsert_article(self, conn, article: dict, page: dict, raw_page_id: int, now: str, run_id,
                        problems: list[str]) -> str:
        row = article_row(article, problems)
        row.update(fetched_url=page.get("final_url") or page["url"], fetched_at=now,
                   raw_page_id=raw_page_id, run_id=run_id, outlet_id=page.get("outlet_id"))
        existing = conn.execute(
            "SELECT id, content_hash FROM articles WHERE url_key = ?", (row["url_key"],)
        ).fetchone()
        if existing is None:
            row.update(first_seen=now, updated_at=now)
            _insert_article(conn, row)
            return "new"
        if existing[1] == row["content_hash"]:
            conn.execute(
                "UPDATE articles SET fetched_at = ?, raw_page_id = ? WHERE id = ?",
                (now, raw_page_id, existing[0]),
            )
            return "unchanged"
        row["updated_at"] = now
        assignments = ", ".join(f"{column} = ?" for column in row)
        conn.execute(f"UPDATE articles SET {assignments} WHERE id = ?", [*row.values(), existing[0]])
        return "updated"

    def replace_extractions(self, extractions: list[tuple[int, str, dict]]) -> list[list[str] | None]:
        """Store new extraction records for existing articles, in one transaction.

        Each item is (article id, `fetched_at` of the raw page that was re-extracted, record).
        The article keeps its identity (url, url_key) and fetch history; its extracted fields,
        extractor_version and content_hash are replaced, and updated_at moves when the content
        changed. Returns, per item, the names of the fields that changed ([] if none), or None
        when the page was fetched again meanwhile (the newer fetch's article is left as it is).
        """
        now = utcnow()
        changes: list[list[str] | None] = []
        with self.write() as conn:
            for article_id, page_fetched_at, record in extractions:
                found = conn.execute(
                    f"SELECT a.url, a.url_key, r.fetched_at, {', '.join('a.' + f for f in _ARTICLE_FIELDS)}"
                    " FROM articles a JOIN raw_pages r ON r.id = a.raw_page_id WHERE a.id = ?",
                    (article_id,),
                ).fetchone()
                if found is None or found[2] != page_fetched_at:
                    changes.append(None)
                    continue
                stored = dict(zip(_ARTICLE_FIELDS, found[3:]))
                row = article_row({**record, "url": found[0], "url_key": found[1]})
                changed = [name for name in _ARTICLE_FIELDS if row[name] != stored[name]]
                if changed:
                    # Only what changed is written: the search index's triggers fire on title
                    # and text alone, so an article whose text is the same is not re-indexed.
                    values = {name: row[name] for name in changed}
                    values["content_hash"] = row["content_hash"]
                    if set(changed) & set(_HASHED_FIELDS):
                        values["updated_at"] = now
                    assignments = ", ".join(f"{column} = ?" for column in values)
                    conn.execute(f"UPDATE articles SET {assignments} WHERE id = ?", [*values.values(), article_id])
                changes.append(changed)
        return changes

    def index_article_pages(self) -> None:
        """Index which article each stored page holds, for finding pages stored without one.

        Made when first needed (by reextract), not when an archive is opened: raw_page_id sits
        after the text in each row, so building it reads the whole articles table once.
        """
        with self.write() as conn:
            conn.execute("CREATE INDEX IF NOT EXISTS articles_raw_page ON articles(raw_page_id)")

    def add_articles(self, extractions: list[tuple[int, str, dict]]) -> list[str | None]:
        """Store articles found in raw pages that were stored without one, in one transaction.

        Each item is (raw page id, its `fetched_at` when it was re-extracted, record with url and
        url_key); call index_article_pages first. The article is dated as the page was fetched.
        Returns, per item, 'new', or 'exists' when an article with that key is already archived
        (from another of its URLs), or None when the page was fetched again or gained an
        article meanwhile.
        """
        now = utcnow()
        outcomes: list[str | None] = []
        with self.write() as conn:
            for raw_page_id, page_fetched_at, record in extractions:
                page = conn.execute(
                    "SELECT fetched_at, coalesce(final_url, url), outlet_id, run_id FROM raw_pages r WHERE id = ?"
                    " AND NOT EXISTS (SELECT 1 FROM articles a WHERE a.raw_page_id = r.id)", (raw_page_id,),
                ).fetchone()
                if page is None or page[0] != page_fetched_at:
                    outcomes.append(None)
                    continue
                row = article_row(record)
                if conn.execute("SELECT 1 FROM articles WHERE url_key = ?", (row["url_key"],)).fetchone():
                    outcomes.append("exists")
                    continue
                row.update(fetched_url=page[1], fetched_at=page[0], first_seen=page[0], updated_at=now,
                           raw_page_id=raw_page_id, run_id=page[3], outlet_id=page[2])
                _insert_article(conn, row)
                outcomes.append("new")
        return outcomes


# quick_check reads the whole file (a 50,000-article archive of 290 MB: 2 s of CPU, 16 s on a
# loaded machine's cold disk): a crawl runs it when the last passed check is older than this.
QUICK_CHECK_EVERY_S = 6 * 3600


def check_archive(path: str | os.PathLike, every_s: float = QUICK_CHECK_EVERY_S) -> float | None:
    """Refuse an archive a crawl must not write to: one from a newer mediawatch, a SQLite file
    that is not an archive, or a damaged one (PRAGMA quick_check, unless one passed in the last
    `every_s` seconds). A missing or empty file is a new archive. Reads only; the file is left
    exactly as it was. Returns the seconds a quick_check that passed took (record it with
    Archive.record_check), or None when none ran."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ArchiveError(f"cannot open archive {path}: {exc}") from exc
    started = time.monotonic()
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        _check_identity(conn, path)
        if _checked_within(conn, every_s):
            return None
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    finally:
        conn.close()
    if problems == ["ok"]:
        return time.monotonic() - started
    raise ArchiveError(
        f"archive {path} is damaged (PRAGMA quick_check: {'; '.join(problems)[:500]}); nothing was "
        "written to it. Restore the latest copy made with `mediawatch backup`, or start a new archive "
        "with another --db")


def _checked_within(conn, seconds: float) -> bool:
    try:
        (last,) = conn.execute("SELECT max(checked_at) FROM archive_checks WHERE result = 'ok'").fetchone()
    except sqlite3.OperationalError:  # an archive from before the table existed
        return False
    if not last:
        return False
    age = datetime.now(timezone.utc) - datetime.fromisoformat(last.replace("Z", "+00:00"))
    return age.total_seconds() < seconds


def _header(conn) -> tuple[int, int]:
    return conn.execute("PRAGMA application_id").fetchone()[0], conn.execute("PRAGMA user_version").fetchone()[0]


def _check_identity(conn, path: Path) -> bool:
    """Raise ArchiveError unless `conn` is an empty database or a mediawatch archive this version
    can write; returns True for an empty one."""
    tables = {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    application_id, version = _header(conn)
    if not tables and application_id == 0:
        return True
    if application_id not in (0, APPLICATION_ID) or (application_id == 0 and not _CORE_TABLES <= tables):
        shown = ", ".join(sorted(tables)[:8]) + (" ..." if len(tables) > 8 else "")
        raise ArchiveError(f"{path} is a SQLite database but not a mediawatch archive (its tables: {shown or 'none'}); "
                           "it is left as it is: give another --db")
    if version > SCHEMA_VERSION:
        raise ArchiveError(f"archive {path} was written by a newer mediawatch (schema version {version}; this one "
                           f"knows up to {SCHEMA_VERSION}): upgrade mediawatch to use it; it is left as it is")
    return False


def _insert_article(conn, row: dict) -> None:
    conn.execute(f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                 list(row.values()))


def article_row(article: dict, problems: list[str] | None = None) -> dict:
    """The articles-table columns for one extraction record (lists as JSON, a content hash).

    Every value is made storable: text with lone surrogates (a JSON-LD "\\ud800" decodes to
    one, and SQLite refuses it) has them replaced by U+FFFD; a value of the wrong type, or a
    publication date that no timestamp can hold (year 1 or 9999 with an offset), is dropped.
    What was changed is appended to `problems`, one line per field.
    """
    problems = [] if problems is None else problems
    row = {"url": article["url"], "url_key": article["url_key"]}
    for name in _ARTICLE_FIELDS:
        row[name] = _storable_field(name, article.get(name), problems)
    published = row["published"]
    try:
        row["published_local"] = local_published(published)
        row["published"] = normalise_published(published)
    except (OverflowError, ValueError) as exc:
        problems.append(f"published: {published!r} cannot be stored as a timestamp ({exc}); dropped")
        row["published_local"] = row["published"] = None
    row["language"] = normalise_language(row["language"])
    row["kind"] = row["kind"] or "article"  # records of extractors before media items had none
    digest = hashlib.sha1()
    for name in _HASHED_FIELDS:
        digest.update(str(row.get(name)).encode("utf-8", "surrogatepass") + b"\x00")
    row["content_hash"] = digest.hexdigest()
    return row


# Raw pages are Zstandard frames (level 3) since extractor 8; older archives hold zlib streams
# (level 6), read alike by decompress_page. On 600 corpus pages zstd 3 took 0.7 ms a page for
# 18.0 % of the size, zlib 6 4.6 ms for 19.1 % (and zlib 1 1.6 ms for 22.7 %): compressing was
# the largest cost of a crawl beyond extraction itself (docs/benchmarks.md).
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_compressor = zstandard.ZstdCompressor(level=3)
_decompressor = zstandard.ZstdDecompressor()


# crawl_errors kinds of an article URL that is no more (not a site that is down).
DEAD_LINK_KINDS = ("http_404", "http_410")
_INTEGER_FIELDS = ("word_count",)


def _insert_error(conn, run_id, outlet_id, url, kind: str, message: str) -> None:
    conn.execute(
        "INSERT INTO crawl_errors (run_id, outlet_id, url, kind, message, at) VALUES (?, ?, ?, ?, ?, ?)",
        (run_id, outlet_id, _storable_text(url), kind, _storable_text(message)[:2000], utcnow()),
    )
    if run_id is not None:
        conn.execute("UPDATE crawl_runs SET errors = errors + 1 WHERE id = ?", (run_id,))


def _storable_text(value):
    """`value` with any lone surrogate replaced by U+FFFD (SQLite refuses them); None stays None."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _storable_field(name: str, value, problems: list[str]):
    """One article field as stored: text, an integer, or a list as JSON; else dropped."""
    if value is None:
        return None
    if name in _INTEGER_FIELDS:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**63:
            return value
        problems.append(f"{name}: {value!r} is not a whole number; dropped")
        return None
    if isinstance(value, list):
        items = [item for item in value if isinstance(item, str)]
        if len(items) != len(value):
            problems.append(f"{name}: {len(value) - len(items)} item(s) that are not text dropped")
        repaired = [_storable_text(item) for item in items]
        if repaired != items:
            problems.append(f"{name}: a lone surrogate replaced by U+FFFD")
        return json.dumps(repaired, ensure_ascii=False)
    if not isinstance(value, str):
        problems.append(f"{name}: {type(value).__name__} value is not text; dropped")
        return None
    repaired = _storable_text(value)
    if repaired != value:
        problems.append(f"{name}: a lone surrogate replaced by U+FFFD")
    return repaired


def compress_page(body: bytes) -> bytes:
    """The raw_pages.html_zlib form of a page body (a Zstandard frame)."""
    return _compressor.compress(body)


def decompress_page(data: bytes) -> bytes:
    """A page body from raw_pages.html_zlib (Zstandard, or zlib as older archives stored it).

    Raises ValueError for data that is neither."""
    try:
        if data[:4] == _ZSTD_MAGIC:
            return _decompressor.decompress(data)
        return zlib.decompress(data)
    except (zlib.error, zstandard.ZstdError) as exc:
        raise ValueError(f"not a stored page ({exc})") from exc


def _parsed_timestamp(value: str) -> datetime | None:
    """The ISO 8601 moment in `value` ('T' or a space between day and time), None if not one."""
    try:
        return datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None


def normalise_published(value: str | None) -> str | None:
    """UTC 'YYYY-MM-DDTHH:MM:SSZ' when the zone is known, else the local time or the day alone.

    One form for every outlet makes `published` sort and filter correctly across time zones
    (four-digit years always: strftime writes year 999 as '999', which sorts after 2025). Raises
    OverflowError for a moment whose UTC time falls outside years 1-9999.
    """
    if not value:
        return None
    moment = _parsed_timestamp(value)
    if moment is None:
        return value
    if moment.tzinfo is not None:
        return _iso(moment.astimezone(timezone.utc)) + "Z"
    if (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return _iso(moment)[:10]  # a day-only date padded with midnight
    return _iso(moment)


def _iso(moment: datetime) -> str:
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")


def local_published(value: str | None) -> str | None:
    """'YYYY-MM-DDTHH:MM:SS+HH:MM' in the offset the page gave; as `published` when it gave none."""
    moment = _parsed_timestamp(value) if value else None
    if moment is None or moment.tzinfo is None:
        return normalise_published(value)
    return moment.replace(microsecond=0).isoformat()


def normalise_language(value: str | None) -> str | None:
    """The ISO 639-1 code of a language tag ('ru', 'en-US', 'zh_CN'); None if it has none."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if len(code) == 2 and code.isalpha() else None


_PID_CLOCK_SLACK_S = 2.0


def _run_process_alive(pid: int | None, started: str) -> bool:
    """Is the process that started a run (at `started`) still running?

    A pid alone is not enough: after a reboot or a long time the pid may belong to another
    process, so a process created after the run began is not the run's. A zombie has ended.
    """
    if not pid:
        return False
    try:
        process = psutil.Process(pid)
        created, status = process.create_time(), process.status()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's process: cannot tell, so do not touch the run
    run_began = datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
    # `started` is written after the process began, to the second: allow for the rounding.
    return status != psutil.STATUS_ZOMBIE and created <= run_began + _PID_CLOCK_SLACK_S
    return True
