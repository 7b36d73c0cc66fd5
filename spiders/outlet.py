"""The one spider: everything outlet-specific comes from the outlet's registry entry.

It reads the outlet's discovery sources (feeds, sitemaps, sitemap indexes, Google News
sitemaps, start pages) and records every article URL it finds in the frontier (with whatever
the source said about the article) before anything is fetched. Then:

``incremental`` mode
    each article URL found becomes a request at once;
``backfill`` mode
    once every source has been read, the spider pulls the outlet's queued frontier rows,
    newest first, a batch at a time as the scheduler drains, so an archive of hundreds of
    thousands of URLs never sits in Scrapy's memory.

Extracting and storing are the pipeline's job; skipping what is archived is the
SkipArchivedMiddleware's.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

import scrapy
from scrapy import exceptions as scrapy_errors
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from archive.frontier import Frontier, Selection
from archive.store import Archive
from scraper.discovery.documents import (
    DiscoveryError,
    Entry,
    feed_links,
    parse_feed,
    parse_sitemap,
)
from scraper.extraction.encoding import decode_page
from scraper.registry.config import Outlet, Source
from spiders.items import AlreadyArchived, CrawlProblem, FetchedPage

_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Sources read with conditional requests. Not sitemap indexes: an index can stay the same
# while a child sitemap it lists changes, so a 304 for it would hide new articles.
_CONDITIONAL_KINDS = ("feed", "sitemap", "news_sitemap")


def _discovery_callback(parse):
    """Count a discovery response as handled once all it led to is recorded or requested.

    A backfill starts fetching only when every sitemap has been read; a sitemap index is not
    done before its children are requested (each counts as pending from then on).
    """

    @functools.wraps(parse)
    def handle(self, response):
        try:
            yield from parse(self, response)
        finally:
            self._discovery_finished()

    return handle


class OutletSpider(scrapy.Spider):
    name = "outlet"

    def __init__(self, outlet: Outlet, mode: str = "incremental", selection: Selection | None = None,
                 **kwargs):
        super().__init__(name=f"outlet:{outlet.id}", **kwargs)
        self.outlet = outlet
        self.mode = mode
        self.selection = selection or Selection()
        self.links = LinkExtractor(allow_domains=list(outlet.allowed_hosts), unique=True)
        self.frontier: Frontier | None = None
        # Discovery requests not yet parsed (or failed), and who waits for them to be done.
        self._discovering = 0
        self._discovered: Deferred | None = None

    async def start(self):
        self.frontier = Frontier(Archive(self.settings["MEDIAWATCH_ARCHIVE"]))
        for source in self.outlet.sources_for(self.mode):
            yield self._source_request(source.url, source, source.kind, source.follow_depth)
        if self.mode == "backfill":
            async for request in self._backfill_requests():
                yield request

    async def _backfill_requests(self):
        if self._discovering:
            self._discovered = Deferred()
            await maybe_deferred_to_future(self._discovered)
        self.frontier.mark_archived(self.outlet.id)
        stats = self.crawler.stats
        stats.set_value("mediawatch/backfill/to_fetch", self.frontier.count_todo(self.outlet.id, self.selection))
        limit = self.selection.limit
        sent = 0
        for batch in self.frontier.todo(self.outlet.id, self.selection):
            for row in batch:
                if limit is not None and sent >= limit:
                    return
                sent += 1
                yield scrapy.Request(
                    row.url, callback=self.parse_article, errback=self.on_error,
                    meta={"url_key": row.url_key, "hints": row.hints()},
                    # The frontier is the dedupe here; no need for Scrapy to remember every URL.
                    dont_filter=True,
                )
            # Read the next batch only when the scheduler has handed out this one.
            await self.crawler.signals.wait_for(signals.scheduler_empty)

    # -- discovery ---------------------------------------------------------------------------

    def _source_request(self, url: str, source: Source, kind: str, depth: int) -> scrapy.Request:
        self._discovering += 1
        callbacks = {
            "feed": self.parse_feed,
            "sitemap": self.parse_sitemap,
            "news_sitemap": self.parse_sitemap,
            "sitemap_index": self.parse_sitemap,
            "start_page": self.parse_start_page,
        }
        meta = {"source": source, "depth_left": depth, "discovery": kind}
        headers = {}
        if kind in _CONDITIONAL_KINDS:
            # A feed or sitemap unchanged since the last run costs a 304, not a full body.
            etag, last_modified = self.frontier.archive.validators(self.outlet.id, url)
            if etag:
                headers["If-None-Match"] = etag
            if last_modified:
                headers["If-Modified-Since"] = last_modified
            meta["handle_httpstatus_list"] = [304]
        return scrapy.Request(
            url,
            callback=callbacks[kind],
            errback=self.on_error,
            headers=headers,
            meta=meta,
            # Sources are re-read on every run; the dupefilter is for article URLs.
            dont_filter=True,
            priority=10,
        )

    def _discovery_finished(self) -> None:
        self._discovering -= 1
        if self._discovering == 0 and self._discovered is not None:
            waiting, self._discovered = self._discovered, None
            waiting.callback(None)

    def _not_modified(self, response):
        """304 for a feed or sitemap: nothing new in it, not an error.

        What it listed before and is still unfetched (a previous run was killed or failed
        before storing it) is requested again, so a 304 never hides an article.
        """
        self.crawler.stats.inc_value("mediawatch/sources_not_modified")
        if self.mode == "backfill":
            return  # a backfill fetches from the frontier anyway
        for row in self.frontier.unfetched_from(self.outlet.id, response.url):
            yield scrapy.Request(row.url, callback=self.parse_article, errback=self.on_error,
                                 meta={"url_key": row.url_key, "hints": row.hints()})

    def _remember_validators(self, response) -> None:
        """Called once everything the source listed is recorded in the frontier (never before:
        a run killed in between must read the source in full next time)."""
        if response.meta.get("discovery") in _CONDITIONAL_KINDS:
            header = response.headers.get
            self.frontier.archive.remember_validators(
                self.outlet.id,
                response.meta.get("redirect_urls", [response.url])[0],  # the URL requests ask for
                (header(b"ETag") or b"").decode("latin-1") or None,
                (header(b"Last-Modified") or b"").decode("latin-1") or None,
            )

    @_discovery_callback
    def parse_sitemap(self, response):
        if response.status == 304:
            yield from self._not_modified(response)
            return
        try:
            kind, entries = parse_sitemap(response.body)
        except DiscoveryError as exc:
            yield self._problem(response.url, "bad_sitemap", str(exc))
            return
        source = response.meta["source"]
        if kind == "index":
            for child in entries:
                if source.children is None or source.children.search(child.url):
                    yield self._source_request(child.url, source, "sitemap", 0)
            return
        yield from self._articles(entries, response.url)
        self._remember_validators(response)

    @_discovery_callback
    def parse_feed(self, response):
        if response.status == 304:
            yield from self._not_modified(response)
            return
        try:
            entries = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            yield self._problem(response.url, "bad_feed", str(exc))
            return
        yield from self._articles(entries, response.url)
        self._remember_validators(response)

    @_discovery_callback
    def parse_start_page(self, response):
        if not isinstance(response, TextResponse):
            yield self._problem(response.url, "not_html", f"start page is {_content_type(response)}")
            return
        source = response.meta["source"]
        if source.discover_feeds:
            for feed_url in feed_links(response.text, response.url):
                if urlsplit(feed_url).hostname in self.outlet.allowed_hosts:
                    yield self._source_request(feed_url, source, "feed", 0)
        depth_left = response.meta["depth_left"]
        articles = []
        for link in self.links.extract_links(response):
            if self.outlet.is_article_url(link.url):
                articles.append(Entry(link.url))
            elif depth_left > 0:
                yield self._source_request(link.url, source, "start_page", depth_left - 1)
        yield from self._articles(articles, response.url)

    def _articles(self, entries: list[Entry], source_url: str):
        """Record the outlet's article URLs among `entries`; in incremental mode, fetch them."""
        found = [(key, entry) for entry in entries if (key := self.outlet.article_key(entry.url))]
        new = self.frontier.record(self.outlet.id, found, source_url)
        self.crawler.stats.inc_value("mediawatch/discovered", len(found))
        self.crawler.stats.inc_value("mediawatch/discovered_new", new)
        if self.mode == "backfill":
            return
        for key, entry in found:
            yield scrapy.Request(
                entry.url,
                callback=self.parse_article,
                errback=self.on_error,
                meta={"url_key": key, "hints": entry.hints()},
            )

    # -- articles ----------------------------------------------------------------------------

    def parse_article(self, response):
        content_type = _content_type(response)
        if not isinstance(response, TextResponse) or not content_type.startswith(_HTML_TYPES):
            yield self._problem(response.url, "not_html", f"article URL returned {content_type or 'no Content-Type'}",
                                response.meta.get("url_key"))
            return
        text, encoding = decode_page(response)
        yield FetchedPage(
            outlet_id=self.outlet.id,
            url=response.request.meta.get("redirect_urls", [response.url])[0],
            url_key=response.meta["url_key"],
            final_url=response.url,
            status=response.status,
            content_type=content_type,
            encoding=encoding,
            body=response.body,
            text=text,
            hints=response.meta.get("hints") or {},
        )

    def on_error(self, failure):
        meta = failure.request.meta
        if "discovery" in meta:
            self._discovery_finished()
        if failure.check(AlreadyArchived):
            return  # skipped on purpose, not an error
        kind, message = _classify(failure)
        # After redirects, the URL at fault is the one that was asked for.
        url = meta.get("redirect_urls", [failure.request.url])[0]
        yield self._problem(url, kind, message, meta.get("url_key"))

    def closed(self, reason):
        if self.frontier is not None:
            self.frontier.archive.close()

    def _problem(self, url: str, kind: str, message: str, key: str | None = None) -> CrawlProblem:
        return CrawlProblem(outlet_id=self.outlet.id, url=url, kind=kind, message=message, url_key=key)


def _content_type(response) -> str:
    return response.headers.get(b"Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()


def _classify(failure) -> tuple[str, str]:
    """A short error kind for `crawl_errors.kind`, and a readable message."""
    error = failure.value
    if failure.check(HttpError):  # before IgnoreRequest, its base class
        status = error.response.status
        retry_after = error.response.headers.get(b"Retry-After")
        asked = f" (Retry-After: {retry_after.decode('latin-1')})" if retry_after else ""
        return f"http_{status}", f"HTTP {status} for {error.response.url}{asked}"
    if failure.check(IgnoreRequest):
        # Scrapy drops requests with IgnoreRequest for several reasons; tell them apart.
        message = str(error)
        if "robots.txt" in message:
            return "robots_disallowed", message
        if "redirections" in message:
            return "redirect_loop", f"too many redirects: {message}"
        if "MAXSIZE" in message:
            return "too_large", message
        if "off the outlet" in message:
            return "off_site_redirect", message
        return "ignored", message or "request dropped"
    if "MAXSIZE" in str(error) or "max size" in str(error):
        # The download handler cancels a response whose Content-Length is over the limit.
        return "too_large", str(error)
    if failure.check(DNSLookupError, scrapy_errors.CannotResolveHostError):
        return "dns", f"host not found: {error}"
    if failure.check(TimeoutError, TCPTimedOutError, scrapy_errors.DownloadTimeoutError):
        return "timeout", f"timed out: {error}"
    if failure.check(ConnectionRefusedError, scrapy_errors.DownloadConnectionRefusedError):
        return "connection_refused", f"connection refused: {error}"
    if failure.check(scrapy_errors.ResponseDataLossError):
        return "truncated", f"response shorter than its Content-Length: {failure.request.url}"
    if failure.check(ResponseFailed, ResponseNeverReceived, scrapy_errors.DownloadFailedError):
        return "connection_lost", f"connection lost or response cut short: {error}"
    return type(error).__name__.lower(), str(error) or type(error).__name__
