"""The archive pipeline: extract each fetched page in a worker process and store it.

It also keeps the run's row in `crawl_runs`: opened when the spider opens, closed with a
status derived from why the spider closed (finished, shut down by a signal, time limit).
"""

from __future__ import annotations

import logging

from scrapy import signals

from archive.frontier import Frontier
from archive.store import Archive, ArchiveError, compress_page
from scraper.extraction import pool as workers
from spiders.items import CrawlProblem, FetchedPage

logger = logging.getLogger(__name__)

# Set (to the error message) when the archive refused a write and the crawl was stopped.
ARCHIVE_ERROR_STAT = "mediawatch/archive_error"

_STATUS_BY_CLOSE_REASON = {
    "finished": "ok",
    "shutdown": "interrupted",
    "closespider_timeout": "timed out",
}


class ArchivePipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.settings = crawler.settings
        self.archive: Archive | None = None
        self.frontier: Frontier | None = None
        self.run_id: int | None = None
        self.pool = None
        self.fatal: str | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.request_dropped, signal=signals.request_dropped)

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

    async def process_item(self, item, spider=None):
        spider = spider or self.crawler.spider
        try:
            if isinstance(item, CrawlProblem):
                self.archive.record_error(self.run_id, item.outlet_id, item.url, item.kind, item.message)
                if item.url_key:
                    self.frontier.mark_failed(item.url_key, item.kind, item.message, spider.outlet.limits.gone_retry_days)
                self.crawler.stats.inc_value(f"mediawatch/errors/{item.kind}")
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

    async def _store_page(self, page: FetchedPage, outlet) -> None:
        # What discovery recorded for this URL (from any source, e.g. a Google News sitemap
        # read after the plain sitemap that led to this request) fills what the request lacks.
        page.hints = {**self.frontier.hints(page.url_key), **page.hints}
        hints = {**outlet.extraction_hints(), **page.hints}
        limits = workers.PageLimits(outlet.limits.extraction_seconds, outlet.limits.extraction_memory_mb)
        try:
            extraction = await workers.extract_in_worker(self.pool, page.text, page.body, page.final_url, hints, limits)
        except Exception as exc:  # the pool itself failed: this page only
            extraction = workers.Extraction(None, compress_page(page.body), repr(exc))
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
        if status == "ok" and row["pages_fetched"] == 0 and row["errors"] > 0:
            status, message = "failed", "no page could be fetched; see crawl_errors"
        try:
            self.archive.finish_run(self.run_id, status, message)
        except ArchiveError as exc:
            logger.error("could not record the end of run %s: %s", self.run_id, exc)
        self.archive.close()
