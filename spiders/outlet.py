"""The one spider: everything outlet-specific comes from the outlet's registry entry.

It reads the outlet's discovery documents (feeds, sitemaps, sitemap indexes, Google News
sitemaps, start pages) and yields what it finds in them, as it reads: the article URLs of each
document with whatever the document said about them (``Discovered``, a chunk at a time), the
further documents they point to (child sitemaps, advertised feeds, pages to follow), and
problems. It fetches article pages as they are handed to it and yields them (``FetchedPage``).

It keeps no state and touches no storage. What it yields is recorded, bounded and turned into
article requests by the crawl's FrontierMiddleware (scraper/crawl/spidermiddlewares.py):
an incremental run fetches what it discovers as soon as it is recorded, a backfill fetches the
outlet's whole queue newest first once every document is read. Extracting and storing pages is
the pipeline's job; which URLs may be fetched at all is the URL gate's
(scraper/crawl/downloadermiddlewares.py).
"""

from __future__ import annotations

import scrapy
from scrapy import exceptions as scrapy_errors
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse
from scrapy.linkextractors import LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from archive.frontier import Selection
from scraper.discovery.documents import (
    DiscoveryError,
    Entry,
    feed_links,
    iter_feed,
    iter_sitemap,
)
from scraper.extraction.encoding import decode_page
from scraper.registry.config import Outlet, Source
from scraper.registry.fetch_policy import FetchPolicy
from spiders.items import (
    AlreadyArchived,
    CrawlProblem,
    Discovered,
    DocumentRead,
    FetchedPage,
    NotModified,
    RefusedUrl,
    TooLarge,
)

_HTML_TYPES = ("text/html", "application/xhtml+xml")
# URLs handed on at a time from one document (a chunk is what the FrontierMiddleware records
# in one transaction, and the most a hostile document makes the spider hold).
_CHUNK = 1000


class OutletSpider(scrapy.Spider):
    name = "outlet"

    def __init__(self, outlet: Outlet, mode: str = "incremental", selection: Selection | None = None,
                 **kwargs):
        super().__init__(name=f"outlet:{outlet.id}", **kwargs)
        self.outlet = outlet
        self.mode = mode
        self.selection = selection or Selection()
        self.policy = FetchPolicy.for_outlet(outlet)
        # Links on start pages: the extractor's own host filter allows subdomains and ignores
        # ports, so links are kept by the outlet's fetch policy instead (parse_start_page).
        self.links = LinkExtractor(unique=True)

    async def start(self):
        for source in self.outlet.sources_for(self.mode):
            yield self.document_request(source.url, source, source.kind, follow_left=source.follow_depth)

    # -- requests ----------------------------------------------------------------------------

    def document_request(self, url: str, source: Source, kind: str, *, sitemap_level: int = 0,
                         follow_left: int = 0) -> scrapy.Request:
        """A request for a discovery document (the FrontierMiddleware bounds and conditions it)."""
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
            meta={"source": source, "discovery": kind, "sitemap_level": sitemap_level, "follow_left": follow_left},
            # Documents are read again on every run; the run's seen-set keeps them to one read.
            dont_filter=True,
            priority=10,
        )

    def article_request(self, url: str, url_key: str, hints: dict) -> scrapy.Request:
        """A request for one article URL (the FrontierMiddleware hands them out)."""
        return scrapy.Request(url, callback=self.parse_article, errback=self.on_error,
                              meta={"url_key": url_key, "hints": hints},
                              # The frontier hands out each URL key once per run.
                              dont_filter=True)

    # -- discovery ---------------------------------------------------------------------------

    def _document(self, response) -> str:
        """The URL a document was requested as (what its validators and frontier rows are kept under)."""
        return response.meta.get("redirect_urls", [response.url])[0]

    def _read_to_the_end(self, response) -> DocumentRead:
        header = response.headers.get
        return DocumentRead(self._document(response), (header(b"ETag") or b"").decode("latin-1") or None,
                            (header(b"Last-Modified") or b"").decode("latin-1") or None)

    def _discovered(self, document: str, entries: list[Entry]) -> Discovered:
        return Discovered(document, [(self.outlet.article_key(e.url), e) for e in entries])

    def parse_sitemap(self, response):
        if response.status == 304:
            yield NotModified(self._document(response))
            return
        source, level = response.meta["source"], response.meta.get("sitemap_level", 0)
        document = self._document(response)
        try:
            for kind, entries in iter_sitemap(response.body, _CHUNK):
                if kind == "urlset":
                    yield self._discovered(document, entries)
                    continue
                # An index: what it lists counts as read from it, and its children are the next level.
                yield Discovered(document, [(None, child) for child in entries])
                for child in entries:
                    if source.children is None or source.children.search(child.url):
                        yield self.document_request(child.url, source, "sitemap", sitemap_level=level + 1)
        except DiscoveryError as exc:
            yield self._problem(response.url, "bad_sitemap", str(exc))
            return
        yield self._read_to_the_end(response)

    def parse_feed(self, response):
        if response.status == 304:
            yield NotModified(self._document(response))
            return
        document = self._document(response)
        try:
            for entries in iter_feed(response.body, response.url, _CHUNK):
                yield self._discovered(document, entries)
        except DiscoveryError as exc:
            yield self._problem(response.url, "bad_feed", str(exc))
            return
        yield self._read_to_the_end(response)

    def parse_start_page(self, response):
        if not isinstance(response, TextResponse):
            yield self._problem(response.url, "not_html", f"start page is {_content_type(response)}")
            return
        source = response.meta["source"]
        if source.discover_feeds:
            for feed_url in feed_links(response.text, response.url):
                if self.policy.refusal(feed_url) is None:
                    yield self.document_request(feed_url, source, "feed")
        follow_left = response.meta.get("follow_left", 0)
        articles = []
        for link in self.links.extract_links(response):
            if self.policy.refusal(link.url) is not None:
                continue  # a link off the outlet's hosts: not a page of its own to read
            if self.outlet.is_article_url(link.url):
                articles.append(Entry(link.url))
            elif follow_left > 0:
                yield self.document_request(link.url, source, "start_page", follow_left=follow_left - 1)
        document = self._document(response)
        for start in range(0, len(articles), _CHUNK):
            yield self._discovered(document, articles[start:start + _CHUNK])

    # -- articles ----------------------------------------------------------------------------

    def parse_article(self, response):
        content_type = _content_type(response)
        if not isinstance(response, TextResponse) or not content_type.startswith(_HTML_TYPES):
            yield self._problem(response.url, "not_html", f"article URL returned {content_type or 'no Content-Type'}",
                                response.meta.get("url_key"), answered=True)
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
        if failure.check(AlreadyArchived):
            return  # skipped on purpose, not an error
        meta = failure.request.meta
        kind, message = _classify(failure)
        # After redirects, the URL at fault is the one that was asked for.
        url = meta.get("redirect_urls", [failure.request.url])[0]
        yield self._problem(url, kind, message, meta.get("url_key"), answered=failure.check(HttpError) is not None)

    def _problem(self, url: str, kind: str, message: str, key: str | None = None,
                 answered: bool = False) -> CrawlProblem:
        return CrawlProblem(outlet_id=self.outlet.id, url=url, kind=kind, message=message, url_key=key,
                            answered=answered)


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
    if failure.check(RefusedUrl):
        return "refused_url", str(error)
    if failure.check(TooLarge):
        return "too_large", str(error)
    if failure.check(IgnoreRequest):
        # Scrapy drops requests with IgnoreRequest for several reasons; tell them apart.
        message = str(error)
        if "robots.txt" in message:
            return "robots_disallowed", message
        if "redirections" in message:
            return "redirect_loop", f"too many redirects: {message}"
        if "MAXSIZE" in message:
            return "too_large", message
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
