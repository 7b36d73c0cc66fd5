"""Downloader middleware that keeps the crawl incremental."""

from __future__ import annotations

from scrapy.exceptions import IgnoreRequest

from archive.store import Archive


class SkipArchivedMiddleware:
    """Drop article requests whose URL key is already in the archive (unless refreshing).

    Spiders mark article candidates with ``meta["url_key"]``. The check runs against the
    archive's indexes, so it needs no in-memory copy of everything ever stored; a set of the
    keys requested in this run also stops two URLs of one article being fetched twice.
    """

    def __init__(self, archive_path: str, refresh: bool, stats):
        self.archive = Archive(archive_path)
        self.refresh = refresh
        self.stats = stats
        self.requested: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(settings["MEDIAWATCH_ARCHIVE"], settings.getbool("MEDIAWATCH_REFRESH"), crawler.stats)

    def process_request(self, request, spider=None):
        key = request.meta.get("url_key")
        # A redirect or a retry of a request already let through is the same fetch.
        if key is None or request.meta.get("redirect_times") or request.meta.get("retry_times"):
            return None
        if key in self.requested:
            self.stats.inc_value("mediawatch/skipped_duplicate")
            raise IgnoreRequest(f"article already requested in this run: {request.url}")
        if not self.refresh and self.archive.is_known(key):
            self.stats.inc_value("mediawatch/skipped_archived")
            raise IgnoreRequest(f"already archived: {request.url}")
        self.requested.add(key)
        return None
