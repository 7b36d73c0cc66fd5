"""Run a crawl of one or more outlets in this process and report what it did."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from scrapy.crawler import CrawlerProcess

from archive.frontier import Selection
from archive.store import Archive, ArchiveError, check_archive
from scraper.crawl.locks import OutletBusy, OutletLock
from scraper.crawl.pipelines import ARCHIVE_ERROR_STAT
from scraper.crawl.settings import BASE_SETTINGS, crawl_settings
from scraper.registry.config import Outlet, Registry
from spiders.outlet import OutletSpider


@dataclass
class CrawlOptions:
    archive: Path
    mode: str = "incremental"
    # backfill only: which queued URLs to fetch (date window, cap).
    selection: Selection | None = None
    refresh: bool = False
    time_limit: int | None = None
    log_file: str | None = None
    log_level: str = "WARNING"


def run_crawl(registry: Registry, outlets: list[Outlet], options: CrawlOptions) -> list[dict]:
    """Crawl `outlets` concurrently (one Scrapy crawler each) and return their crawl_runs rows.

    Twisted's reactor cannot be restarted, so this can run once per process: schedulers and
    tests run it in a child process (`mediawatch crawl`).
    """
    # Check the archive before anything writes to it (a newer version's, not an archive at all,
    # damaged), then open (and if need be create) it: one that cannot be written (read-only,
    # disk full) stops everything here with a message naming it, before any page is fetched.
    checked = check_archive(options.archive)
    archive = Archive(options.archive)
    if checked is not None:
        archive.record_check(checked)
    locks, busy = [], []
    for outlet in outlets:
        try:
            locks.append(OutletLock(options.archive, outlet.id).acquire())
        except OutletBusy as exc:
            busy.append(str(exc))
        except OSError as exc:
            archive.close()
            raise CrawlError(f"cannot lock outlet '{outlet.id}' beside archive {options.archive}: {exc}") from exc
    if busy and not locks:
        archive.close()
        raise CrawlError("; ".join(busy))
    for message in busy:
        logging.getLogger(__name__).warning("%s; skipping it", message)
    locked = {lock.outlet_id for lock in locks}
    outlets = [o for o in outlets if o.id in locked]
    try:
        archive.sync_outlets(outlets)
        last_run = archive.conn.execute("SELECT coalesce(max(id), 0) FROM crawl_runs").fetchone()[0]
    finally:
        archive.close()

    process = CrawlerProcess({**BASE_SETTINGS, "LOG_LEVEL": options.log_level, "LOG_FILE": options.log_file})
    crawlers = []
    for outlet in outlets:
        settings = crawl_settings(
            registry, outlet, str(options.archive), refresh=options.refresh,
            time_limit=options.time_limit, log_file=options.log_file, log_level=options.log_level,
        )
        # Per-outlet settings (politeness) travel as the spider class's custom_settings, so
        # every outlet gets its own crawler in the one reactor.
        spider_class = type(f"OutletSpider_{outlet.id}", (OutletSpider,), {"custom_settings": settings})
        crawler = process.create_crawler(spider_class)
        crawlers.append(crawler)
        process.crawl(crawler, outlet=outlet, mode=options.mode, selection=options.selection)
    process.start()
    for lock in locks:
        lock.release()
    # A crawl stopped because the archive refused a write: that is the news, whatever the
    # archive can still tell about the runs.
    fatal = [c.stats.get_value(ARCHIVE_ERROR_STAT) for c in crawlers if c.stats.get_value(ARCHIVE_ERROR_STAT)]
    if fatal:
        raise ArchiveError(f"crawl stopped: {fatal[0]}")

    with Archive(options.archive) as archive:
        # This process's runs only: another crawl process may be writing its own meanwhile.
        runs = list(archive.db.query("SELECT * FROM crawl_runs WHERE id > ? AND pid = ? ORDER BY id",
                                     [last_run, os.getpid()]))
    missing = {o.id for o in outlets} - {r["outlet_id"] for r in runs}
    if missing:
        raise CrawlError(f"the crawl of {', '.join(sorted(missing))} did not start; see the log above")
    return runs


class CrawlError(RuntimeError):
    """A crawl could not run at all (as opposed to a run that recorded failures)."""
