"""The one spider: everything outlet-specific comes from the outlet's registry entry.

It reads the outlet's discovery sources (feeds, sitemaps, sitemap indexes, Google News
sitemaps, start pages), turns every article URL it finds into a request carrying the URL key
and whatever the source said about the article, and yields the fetched page. Deciding what is
new, extracting and storing are the pipeline's job; skipping what is archived is the
SkipArchivedMiddleware's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from scraper.config import Outlet, Source
from scraper.discovery import DiscoveryError, Entry, feed_links, parse_feed, parse_sitemap
from scraper.items import CrawlProblem, FetchedPage
from scraper.urls import url_key

_HTML_TYPES = ("text/html", "application/xhtml+xml")


class OutletSpider(scrapy.Spider):
    name = "outlet"

    def __init__(self, outlet: Outlet, mode: str = "incremental", **kwargs):
        super().__init__(name=f"outlet:{outlet.id}", **kwargs)
        self.outlet = outlet
        self.mode = mode
        self.links = LinkExtractor(allow_domains=list(outlet.allowed_hosts), unique=True)

    async def start(self):
        for source in self.outlet.sources_for(self.mode):
            yield self._source_request(source.url, source, source.kind, source.follow_depth)

    # -- discovery ---------------------------------------------------------------------------

    def _source_request(self, url: str, source: Source, kind: str, depth: int) -> scrapy.Request:
        callbacks = {
            "feed": self.parse_feed,
            "sitemap": self.parse_sitemap,
            "news_sitemap": self.parse_sitemap,
            "sitemap_index": self.parse_sitemap,
            "start_page": self.parse_start_page,
        }
        return scrapy.Request(
            url,
            callback=callbacks[kind],
            errback=self.on_error,
            meta={"source": source, "depth_left": depth, "discovery": kind},
            # Sources are re-read on every run; the dupefilter is for article URLs.
            dont_filter=True,
            priority=10,
        )

    def parse_sitemap(self, response):
        try:
            kind, entries = parse_sitemap(response.body)
        except DiscoveryError as exc:
            yield self._problem(response.url, "bad_sitemap", str(exc))
            return
        source = response.meta["source"]
        if kind == "index":
            for child in entries:
                yield self._source_request(child.url, source, "sitemap", 0)
            return
        yield from self._articles(entries)

    def parse_feed(self, response):
        try:
            entries = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            yield self._problem(response.url, "bad_feed", str(exc))
            return
        yield from self._articles(entries)

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
        yield from self._articles(articles)

    def _articles(self, entries: list[Entry]):
        for entry in entries:
            if not self.outlet.is_article_url(entry.url):
                continue
            yield scrapy.Request(
                entry.url,
                callback=self.parse_article,
                errback=self.on_error,
                meta={"url_key": url_key(entry.url, self.outlet.article_id), "hints": entry.hints()},
            )

    # -- articles ----------------------------------------------------------------------------

    def parse_article(self, response):
        content_type = _content_type(response)
        if not isinstance(response, TextResponse) or not content_type.startswith(_HTML_TYPES):
            yield self._problem(response.url, "not_html", f"article URL returned {content_type or 'no Content-Type'}")
            return
        yield FetchedPage(
            outlet_id=self.outlet.id,
            url=response.request.meta.get("redirect_urls", [response.url])[0],
            url_key=response.meta["url_key"],
            final_url=response.url,
            status=response.status,
            content_type=content_type,
            encoding=response.encoding,
            body=response.body,
            text=response.text,
            hints=response.meta.get("hints") or {},
        )

    def on_error(self, failure):
        if failure.check(IgnoreRequest) and "robots.txt" not in str(failure.value):
            return  # skipped on purpose (already archived), not an error
        kind, message = _classify(failure)
        yield self._problem(failure.request.url, kind, message)

    def _problem(self, url: str, kind: str, message: str) -> CrawlProblem:
        return CrawlProblem(outlet_id=self.outlet.id, url=url, kind=kind, message=message)


def _content_type(response) -> str:
    return response.headers.get(b"Content-Type", b"").decode("latin-1").split(";")[0].strip().lower()


def _classify(failure) -> tuple[str, str]:
    """A short error kind for `crawl_errors.kind`, and a readable message."""
    error = failure.value
    if failure.check(IgnoreRequest):
        return "robots_disallowed", str(error)
    if failure.check(HttpError):
        status = error.response.status
        return f"http_{status}", f"HTTP {status} for {error.response.url}"
    if failure.check(DNSLookupError):
        return "dns", f"host not found: {error}"
    if failure.check(TimeoutError, TCPTimedOutError):
        return "timeout", f"timed out: {error}"
    if failure.check(ConnectionRefusedError):
        return "connection_refused", f"connection refused: {error}"
    if failure.check(ResponseFailed, ResponseNeverReceived):
        return "connection_lost", f"connection lost or response cut short: {error}"
    return type(error).__name__.lower(), str(error) or type(error).__name__
