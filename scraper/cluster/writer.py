"""The one writer: applies every crawl host's stream to the central archive.

Crawl hosts never open the central archive; they send what they store (scraper.cluster.spool)
and this process applies it, a batch of entries per transaction. Applying is idempotent, so
an entry read twice (a replay, a publisher that sent again what Redis lost) changes nothing:

- pages and articles are upserts on their URL key, the newer fetch winning whatever order
  two hosts' entries arrive in;
- a run is one row per (host, the host's run id), whose counters are taken from the host's
  row as sent (the run's end carries the final counts), never added up;
- an error is one row per (host, the host's error id);
- the newest entry applied from each host is stored in the same transaction as the entries
  (writer_cursors), and the writer resumes after it.

An entry the archive refuses (an article whose URL another article already has, a malformed
entry) costs that entry alone: it is recorded in crawl_errors (kind ``writer_rejected``) and
counted in writer_cursors.events_rejected.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from datetime import datetime, timezone

import redis

from archive.store import Archive, utcnow
from scraper.cluster import bus
from scraper.cluster.events import Event
from scraper.cluster.tables import ensure_tables

logger = logging.getLogger("mediawatch.writer")

_RUN_FIELDS = ("outlet_id", "mode", "started", "finished", "status", "pages_fetched", "articles_new",
               "articles_updated", "errors", "bytes", "duration_s", "pid", "log_file", "message",
               # How the run's pages ended, as the host reconciled them (archive/store.py finish_run).
               "pages_stored", "pages_unchanged", "pages_recorded", "reconciled", "dead_links")
REJECTED = "writer_rejected"


class Writer:
    def __init__(self, archive_path, redis_url: str, *, retain: int = 10_000, batch: int = 500,
                 block_ms: int = 1000, replay: bool = False):
        self.archive = Archive(archive_path)
        with self.archive.write() as conn:
            ensure_tables(conn)
        self.client = bus.connect(redis_url, block_seconds=block_ms / 1000)
        self.retain = retain
        self.batch = batch
        self.block_ms = block_ms
        # With replay, every entry still in the streams is applied again (to the same result).
        self.replay = replay
        self.columns = {table: self._columns(table) for table in ("raw_pages", "articles")}
        self.applied = dict(self.archive.conn.execute("SELECT host, applied_seq FROM writer_cursors"))
        self.position = {host: 0 if replay else seq for host, seq in self.applied.items()}
        self._runs: dict[tuple[str, int], int] = {}
        # What the batch being written advances, made true once it commits.
        self._pending: dict[str, tuple[int, int, dict]] = {}
        self._last_status = 0.0
        self.totals = {"applied": 0, "rejected": 0, "skipped": 0}

    def close(self) -> None:
        self.archive.close()
        self.client.close()

    def _columns(self, table: str) -> list[str]:
        # Generated columns (hidden 2 or 3) are the archive's own business; `id` is its own too.
        return [row[1] for row in self.archive.conn.execute(f"PRAGMA table_xinfo({table})")
                if row[6] == 0 and row[1] != "id"]

    # -- the loop ------------------------------------------------------------------------------

    def run(self, stop: threading.Event, until_idle: float | None = None) -> None:
        """Apply entries until `stop` is set (or, with `until_idle`, until none came for that
        many seconds). Redis being away only pauses it."""
        idle_since = time.monotonic()
        outage_since = None
        while not stop.is_set():
            try:
                applied = self.apply_once()
                self.report_status()
            except redis.RedisError as exc:
                if outage_since is None:
                    outage_since = time.monotonic()
                    logger.warning("Redis unreachable (%s); retrying", exc)
                stop.wait(1.0)
                continue
            if outage_since is not None:
                logger.warning("Redis back after %.0f s", time.monotonic() - outage_since)
                outage_since = None
            if applied:
                idle_since = time.monotonic()
            elif until_idle is not None and time.monotonic() - idle_since >= until_idle:
                return

    def hosts(self) -> set[str]:
        return {name.decode() for name in self.client.smembers(bus.HOSTS)} | set(self.applied)

    def apply_once(self) -> int:
        """Read and apply one batch; returns how many entries it read."""
        hosts = sorted(self.hosts())
        if not hosts:
            time.sleep(self.block_ms / 1000)
            return 0
        response = self.client.xread({bus.stream(h): bus.entry_id(self.position.get(h, 0)) for h in hosts},
                                     count=self.batch, block=self.block_ms)
        if not response:
            return 0
        read = 0
        try:
            with self.archive.write() as conn:
                for stream_name, entries in response:
                    host = stream_name.decode().split(":", 2)[2]
                    counts = {"applied": 0, "rejected": 0}
                    newest = self.applied.get(host, 0)
                    for entry_id, fields in entries:
                        seq = bus.entry_seq(entry_id)
                        read += 1
                        if seq <= self.applied.get(host, 0) and not self.replay:
                            self.totals["skipped"] += 1
                            continue
                        counts[self._apply_entry(conn, host, seq, fields)] += 1
                        newest = max(newest, seq)
                    conn.execute(
                        "INSERT INTO writer_cursors (host, applied_seq, events_applied, events_rejected, applied_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(host) DO UPDATE SET"
                        " applied_seq = max(applied_seq, excluded.applied_seq),"
                        " events_applied = events_applied + excluded.events_applied,"
                        " events_rejected = events_rejected + excluded.events_rejected,"
                        " applied_at = excluded.applied_at",
                        (host, newest, counts["applied"], counts["rejected"], utcnow()),
                    )
                    self._pending[host] = (newest, bus.entry_seq(entries[-1][0]), counts)
        except BaseException:
            self._runs.clear()  # ids of placeholder runs made in the rolled-back batch are void
            self._pending = {}
            raise
        for host, (newest, last_read, counts) in self._pending.items():
            self.applied[host] = max(self.applied.get(host, 0), newest)
            self.position[host] = last_read
            self.totals["applied"] += counts["applied"]
            self.totals["rejected"] += counts["rejected"]
        self._pending = {}
        self._after_commit()
        return read

    def _after_commit(self) -> None:
        pipe = self.client.pipeline(transaction=False)
        for host, seq in self.applied.items():
            pipe.hset(bus.APPLIED, host, seq)
            if self.retain >= 0 and seq - self.retain > 0:
                pipe.xtrim(bus.stream(host), minid=bus.entry_id(seq - self.retain), approximate=True)
        pipe.execute()

    def report_status(self, every: float = 2.0) -> None:
        """Every few seconds: repeat the committed positions to Redis (publishers rewind to
        them if Redis lost entries), beat the heartbeat, and note each host's lag."""
        now = time.monotonic()
        if now - self._last_status < every:
            return
        self._last_status = now
        published = bus.hash_ints(self.client, bus.PUBLISHED)
        spooled = bus.hash_ints(self.client, bus.SPOOLED)
        rows = []
        for host in sorted(self.hosts()):
            applied = self.applied.get(host, 0)
            self.client.hset(bus.APPLIED, host, applied)
            behind = max(spooled.get(host, applied), published.get(host, applied)) - applied
            lag_seconds = 0.0
            if behind > 0:
                lag_seconds = None
                oldest = self.client.xrange(bus.stream(host), min=f"({bus.entry_id(applied)}", count=1)
                if oldest:
                    at = oldest[0][1].get(b"at", b"").decode()
                    lag_seconds = _seconds_since(at)
            rows.append((host, published.get(host), spooled.get(host), behind, lag_seconds, utcnow()))
        self.client.set(bus.WRITER, json.dumps({"pid": os.getpid(), "at": time.time(), "applied": self.applied}),
                        ex=bus.HEARTBEAT_SECONDS)
        with self.archive.write() as conn:
            conn.executemany(
                "INSERT INTO writer_cursors (host, published_seq, spooled_seq, lag_events, lag_seconds, checked_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(host) DO UPDATE SET published_seq = excluded.published_seq,"
                " spooled_seq = excluded.spooled_seq, lag_events = excluded.lag_events,"
                " lag_seconds = excluded.lag_seconds, checked_at = excluded.checked_at", rows)

    # -- applying one entry --------------------------------------------------------------------

    def _apply_entry(self, conn, host: str, seq: int, fields: dict) -> str:
        conn.execute("SAVEPOINT entry")
        try:
            event = Event.from_fields(seq, fields)
            getattr(self, f"_apply_{event.kind}")(conn, host, event)
        except (ValueError, KeyError, TypeError, sqlite3.IntegrityError) as exc:
            conn.execute("ROLLBACK TO entry")
            conn.execute("RELEASE entry")
            self._reject(conn, host, seq, fields, exc)
            return "rejected"
        conn.execute("RELEASE entry")
        return "applied"

    def _reject(self, conn, host: str, seq: int, fields: dict, exc: Exception) -> None:
        logger.error("event %d from %s refused: %s", seq, host, exc)
        try:
            data = json.loads(fields.get(b"data", b"{}"))
            row = data.get("page") or data.get("error") or data.get("run") or {}
        except (ValueError, AttributeError):
            row = {}
        # A negative host_error_id marks the writer's own record of event `seq`: recorded once.
        conn.execute(
            "INSERT INTO crawl_errors (run_id, outlet_id, url, kind, message, at, host, host_error_id)"
            " VALUES (NULL, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(host, host_error_id) DO NOTHING",
            (row.get("outlet_id"), row.get("url"), REJECTED, f"event {seq} from {host}: {exc}"[:2000], utcnow(),
             host, -seq),
        )

    def _run_id(self, conn, host: str, host_run_id: int | None, outlet_id: str | None) -> int | None:
        if host_run_id is None:
            return None
        key = (host, host_run_id)
        if key not in self._runs:
            row = conn.execute("SELECT id FROM crawl_runs WHERE host = ? AND host_run_id = ?", key).fetchone()
            if row is None:  # its run's events were trimmed before this writer saw them
                row = (conn.execute(
                    "INSERT INTO crawl_runs (outlet_id, mode, started, status, host, host_run_id)"
                    " VALUES (?, 'incremental', ?, 'running', ?, ?)", (outlet_id, utcnow(), host, host_run_id),
                ).lastrowid,)
            self._runs[key] = row[0]
        return self._runs[key]

    def _apply_run(self, conn, host: str, event: Event) -> None:
        run = event.data["run"]
        values = {name: run.get(name) for name in _RUN_FIELDS}
        values.update(host=host, host_run_id=int(run["id"]), job_id=run.get("hosted_job_id"))
        columns = ", ".join(values)
        updates = ", ".join(f"{name} = excluded.{name}" for name in _RUN_FIELDS)
        conn.execute(
            f"INSERT INTO crawl_runs ({columns}) VALUES ({', '.join('?' * len(values))})"
            f" ON CONFLICT(host, host_run_id) DO UPDATE SET {updates},"
            " job_id = coalesce(excluded.job_id, crawl_runs.job_id)",
            list(values.values()),
        )
        # Until the controller syncs the registry, an outlet first seen here gets a row named by its id.
        conn.execute("INSERT OR IGNORE INTO outlets (id, name) VALUES (?, ?)", (values["outlet_id"], values["outlet_id"]))

    def _apply_page(self, conn, host: str, event: Event) -> None:
        page, article = event.data["page"], event.data.get("article")
        if event.html is None:
            raise ValueError("page event without its page")
        run_id = self._run_id(conn, host, page.get("run_id"), page.get("outlet_id"))
        values = {name: page.get(name) for name in self.columns["raw_pages"]}
        values.update(html_zlib=event.html, run_id=run_id)
        _upsert(conn, "raw_pages", values, "url_key", newer="fetched_at")
        raw_page_id = conn.execute("SELECT id FROM raw_pages WHERE url_key = ?", (values["url_key"],)).fetchone()[0]
        if article is not None:
            values = {name: article.get(name) for name in self.columns["articles"]}
            values.update(raw_page_id=raw_page_id, run_id=run_id)
            _upsert(conn, "articles", values, "url_key", newer="fetched_at",
                    keep={"first_seen": "min(articles.first_seen, excluded.first_seen)"})

    def _apply_error(self, conn, host: str, event: Event) -> None:
        error = event.data["error"]
        run_id = self._run_id(conn, host, error.get("run_id"), error.get("outlet_id"))
        conn.execute(
            "INSERT INTO crawl_errors (run_id, outlet_id, url, kind, message, at, host, host_error_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(host, host_error_id) DO NOTHING",
            (run_id, error.get("outlet_id"), error.get("url"), error["kind"], error.get("message"), error["at"],
             host, int(error["id"])),
        )


def _upsert(conn, table: str, values: dict, key: str, *, newer: str, keep: dict | None = None) -> None:
    """Insert the row, or update the one with the same `key` unless it is newer (by `newer`)."""
    keep = keep or {}
    assignments = [f"{name} = {keep.get(name, f'excluded.{name}')}" for name in values if name != key]
    conn.execute(
        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})"
        f" ON CONFLICT({key}) DO UPDATE SET {', '.join(assignments)}"
        f" WHERE excluded.{newer} >= {table}.{newer}",
        list(values.values()),
    )


def _seconds_since(at: str) -> float | None:
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return round(max(0.0, (datetime.now(timezone.utc) - moment).total_seconds()), 3)
