"""The archive pipeline: extract each fetched page in a worker process and store it.

It also keeps the run's row in `crawl_runs`: opened when the spider opens, closed with a
status derived from why the spider closed (finished, shut down by a signal, time limit) and
from the site's health (down, or only some dead links), and with its counts reconciled.
"""

from __future__ import annotations

import logging
import time

from scrapy import signals

from archive.frontier import Frontier
from archive.store import Archive, ArchiveError, compress_page
from scraper.extraction import pool as workers
from spiders.items import CrawlProblem, FetchedPage

logger = logging.getLogger(__name__)

# Set (to the error message) when the archive refused a write and the crawl was stopped.
ARCHIVE_ERROR_STAT = "mediawatch/archive_error"

# Problems that say nothing about the URL: its frontier row is left to fetch, no attempt counted.
_NOT_THE_PAGES_FAULT = {"extraction_interrupted"}

_STATUS_BY_CLOSE_REASON = {
    "finished": "ok",
    "shutdown": "interrupted",
    "closespider_timeout": "timed out",
}


class ArchivePipeline:
    """Every fetched article page ends here as an article, as a stored page with a recorded
    reason (no text, extraction over a limit or failed, a field repaired), or as a crawl_errors
    row; nothing raised while storing it escapes unrecorded. The run's counts say so: pages are
    counted as they arrive (pages_fetched) and as they end (pages_stored, pages_unchanged,
    pages_recorded), and the closed run says whether they add up (crawl_runs.reconciled)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.archive: Archive | None = None
        self.frontier: Frontier | None = None
        self.run_id: int | None = None
        self.pool = None
        self.fatal: str | None = None
        self.answered = 0  # responses of any kind (documents, pages, robots.txt, errors)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(self.response_received, signal=signals.response_received)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None):
        spider = spider or self.crawler.spider
        self.archive = Archive(self.settings["MEDIAWATCH_ARCHIVE"])
        self.frontier = Frontier(self.archive)
        self.archive.mark_abandoned_runs()
        self.archive.sync_outlets([spider.outlet])
        self.run_id = self.archive.start_run(
            spider.outlet.id, spider.mode, self.settings.get("LOG_FILE")
        )
        spider.run_id = self.run_id
        self.pool = workers.acquire(self.settings.getint("MEDIAWATCH_EXTRACT_WORKERS") or None)
        # --time-limit: when it comes, Scrapy stops fetching but waits for every page in the
        # pipeline; pages not extracted by then are given up (and fetched again next run), so
        # the run ends within seconds of its limit, not an extraction_seconds later.
        time_limit = self.settings.getfloat("CLOSESPIDER_TIMEOUT")
        self.deadline = time.monotonic() + time_limit if time_limit > 0 else None

    def response_received(self, response, request, spider=None):
        self.answered += 1
        if "url_key" in request.meta and self.run_id is not None:
            self._write(self.archive.count_fetched, self.run_id)

    async def process_item(self, item, spider=None):
        spider = spider or self.crawler.spider
        try:
            if isinstance(item, CrawlProblem):
                self._problem(item, spider.outlet)
            elif isinstance(item, FetchedPage):
                await self._store_page(item, spider.outlet)
        except ArchiveError as exc:
            # The archive cannot take writes (disk full, read-only, locked for too long): stop
            # the crawl instead of fetching pages that cannot be kept.
            self.fatal = str(exc)
            self.crawler.stats.set_value(ARCHIVE_ERROR_STAT, self.fatal)
            logger.error("%s; stopping the crawl", exc)
            self.crawler.engine.close_spider(spider, "archive_error")
        return item

    def _problem(self, item: CrawlProblem, outlet) -> None:
        page = item.answered and item.url_key is not None
        self.archive.record_error(self.run_id, item.outlet_id, item.url, item.kind, item.message, page=page)
        if item.url_key and item.kind not in _NOT_THE_PAGES_FAULT:
            self.frontier.mark_failed(item.url_key, item.kind, item.message, outlet.limits.gone_retry_days)
        self.crawler.stats.inc_value(f"mediawatch/errors/{item.kind}")

    async def _store_page(self, page: FetchedPage, outlet) -> None:
        try:
            await self._extract_and_store(page, outlet)
        except ArchiveError:
            raise
        except Exception as exc:  # noqa: BLE001 - a page must never vanish: keep it and say why
            logger.exception("storing %s failed", page.url)
            self._store_failed(page, exc)

    async def _extract_and_store(self, page: FetchedPage, outlet) -> None:
        # What discovery recorded for this URL (from any source, e.g. a Google News sitemap
        # read after the plain sitemap that led to this request) fills what the request lacks.
        page.hints = {**self.frontier.hints(page.url_key), **page.hints}
        hints = {**outlet.extraction_hints(), **page.hints}
        limits = workers.PageLimits(outlet.limits.extraction_seconds, outlet.limits.extraction_memory_mb,
                                    self.deadline)
        try:
            extraction = await workers.extract_in_worker(self.pool, page.body, page.encoding, page.final_url, hints,
                                                         limits)
        except Exception as exc:  # the pool itself failed: this page only
            extraction = workers.Extraction(None, compress_page(page.body), repr(exc))
        if extraction.limit == "extraction_interrupted":
            # Not stored: its frontier row stays to fetch, so the next run extracts it.
            self._problem(CrawlProblem(outlet.id, page.url, extraction.limit, f"{extraction.error}; fetched "
                                       "again by the next run", page.url_key, answered=True), outlet)
            return
        if extraction.error:
            # The page is stored below without an article: `mediawatch reextract` retries it.
            self.archive.record_error(self.run_id, outlet.id, page.url, extraction.limit or "extract_failed",
                                      f"{extraction.error}; the page is kept for `mediawatch reextract`")
        record = extraction.record
        if record is not None:
            record = outlet.article_record(record, page.final_url)
        outcome = self.archive.store_page({**vars(page), "html_zlib": extraction.html_zlib}, record, self.run_id)
        self.crawler.stats.inc_value(f"mediawatch/articles/{outcome}")
        if outcome == "empty" and record is not None:
            self.archive.record_error(
                self.run_id, outlet.id, page.url, "no_text", "no article text could be extracted"
            )

    def _store_failed(self, page: FetchedPage, exc: Exception) -> None:
        """Storing the article failed for a reason of its own: keep the page without it, and
        record why; if even that fails, record it."""
        message = f"{type(exc).__name__}: {exc}"
        try:
            self.archive.store_page({**vars(page), "html_zlib": None}, None, self.run_id)
        except ArchiveError:
            raise
        except Exception as again:  # noqa: BLE001
            self.archive.record_error(self.run_id, page.outlet_id, page.url, "store_failed",
                                      f"{message}; the page could not be kept either ({again!r})", page=True)
            return
        self.archive.record_error(self.run_id, page.outlet_id, page.url, "store_failed",
                                  f"{message}; the page is kept for `mediawatch reextract`")

    def _write(self, write, *args) -> None:
        try:
            write(*args)
        except ArchiveError as exc:
            logger.error("%s", exc)

    def request_dropped(self, request, spider=None):
        """A redirect back to a URL of its own redirect chain is a loop; say so.

        (The scheduler's duplicate filter drops it silently, so no errback runs.)
        """
        redirects = request.meta.get("redirect_urls")
        # A redirect to another article fetched in this run is a duplicate, not an error.
        if not redirects or request.url not in redirects or "url_key" not in request.meta or self.archive is None:
            return
        message = f"redirect loop: {' -> '.join([*redirects, request.url])}"
        try:
            self.archive.record_error(self.run_id, self.crawler.spider.outlet.id, redirects[0], "redirect_loop", message)
            self.frontier.mark_failed(request.meta["url_key"], "redirect_loop", message)
        except ArchiveError as exc:
            logger.error("%s", exc)

    def close_spider(self, spider=None):
        if self.pool is not None:
            workers.release()
            self.pool = None

    def spider_closed(self, spider, reason):
        if self.archive is None or self.run_id is None:
            return
        status = _STATUS_BY_CLOSE_REASON.get(reason, "failed")
        message = self.fatal or (None if status == "ok" else f"spider closed: {reason}")
        row = self.archive.db["crawl_runs"].get(self.run_id)
        if status == "ok" and row["errors"] > 0:
            status, message = self._health(row) or (status, message)
        # Scrapy finishes every page it has fetched before the spider closes, whatever the
        # reason: they all add up, or something dropped a page without a trace (a bug: say so).
        unaccounted = row["pages_fetched"] - row["pages_stored"] - row["pages_unchanged"] - row["pages_recorded"]
        if unaccounted:
            note = f"{unaccounted} fetched page(s) ended neither stored nor recorded; see the log"
            message = f"{message}; {note}" if message else note
        try:
            self.archive.finish_run(self.run_id, status, message, reconcile=True)
        except ArchiveError as exc:
            logger.error("could not record the end of run %s: %s", self.run_id, exc)
        self.archive.close()

    def _health(self, row) -> tuple[str, str] | None:
        """A run that ended with errors: the site down, or nothing of it readable, fails it;
        some dead links or broken pages on a site that answers do not."""
        read = self.crawler.stats.get_value("mediawatch/discovery/read", 0)
        if read or row["pages_fetched"]:
            return None
        kinds = ", ".join(f"{kind} ×{count}" for kind, count in self.archive.conn.execute(
            "SELECT kind, count(*) FROM crawl_errors WHERE run_id = ? GROUP BY kind ORDER BY count(*) DESC",
            (self.run_id,)))
        if not self.answered:
            return "failed", f"site down: no request to it was answered ({kinds})"
        return "failed", f"none of its feeds, sitemaps or pages could be read ({kinds}); see crawl_errors"
