"""Spider middleware: the frontier side of a crawl, so that the spider only discovers and yields.

The spider (spiders/outlet.py) reads documents and yields what it finds in them:
``Discovered`` items (article URLs of one document, a chunk at a time), ``DocumentRead`` (a feed
or sitemap read to its end), ``NotModified`` (a 304), requests for further documents (child
sitemaps, advertised feeds, pages to follow) and problems. FrontierMiddleware turns that into
the run's bookkeeping:

- every chunk of article URLs is recorded in the frontier (archive/frontier.py) as it passes,
  before anything it leads to is requested; URLs the outlet may not fetch
  (scraper/registry/fetch_policy.py) are not queued but recorded as ``refused_url`` problems;
- a feed's or sitemap's HTTP validators are remembered once all it listed is recorded, and sent
  back as a conditional request next time; a 304 brings this run what the document listed
  before and is still unfetched;
- discovery is bounded per run (the outlet's registry ``limits``): each document is read once
  (a per-run seen-set, so a sitemap index listing itself, or pages linking to each other, cost
  one request each), sitemap indexes are followed ``sitemap_depth`` levels deep, at most
  ``documents_per_run`` documents are read and ``urls_per_document`` URLs taken from one; a
  bound reached is one ``discovery_limit`` problem, and the rest is skipped;
- article requests come from the frontier, a batch at a time as the scheduler drains, never as
  a list in memory: in an incremental run, what this run discovered (in the order found) as soon
  as it is recorded; in a backfill, once discovery is over, the outlet's whole queue newest
  first (within the run's date window and cap).
"""

from __future__ import annotations

import logging
from urllib.parse import urldefrag

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Request

from archive.frontier import Frontier, Selection
from archive.store import Archive
from scraper.registry.fetch_policy import FetchPolicy
from spiders.items import CrawlProblem, Discovered, DocumentRead, NotModified

logger = logging.getLogger(__name__)

# Documents read with conditional requests. Not sitemap indexes: an index can stay the same
# while a child sitemap it lists changes, so a 304 for it would hide new articles.
CONDITIONAL_KINDS = ("feed", "sitemap", "news_sitemap")
# Article requests handed to the scheduler at a time.
BATCH = 200


class FrontierMiddleware:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        self.archive: Archive | None = None
        self.frontier: Frontier | None = None
        self.seen: set[str] = set()  # documents requested in this run (bounded by documents_per_run)
        self.documents = 0
        self.limits_hit: set[str] = set()
        # Article feeding: incremental runs feed as they discover; a backfill once discovery is over.
        self.feeding = False
        self.exhausted = False
        self.fresh = False  # URLs recorded since the frontier was last asked for a batch
        self.cursor = None
        self.sent = 0
        crawler.signals.connect(self.scheduler_empty, signal=signals.scheduler_empty)
        crawler.signals.connect(self.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def spider(self):
        return self.crawler.spider

    @property
    def limits(self):
        return self.spider.outlet.limits

    def _open(self) -> None:
        if self.archive is None:
            self.archive = Archive(self.crawler.settings["MEDIAWATCH_ARCHIVE"])
            self.frontier = Frontier(self.archive)
            self.policy = FetchPolicy.for_outlet(self.spider.outlet)
            self.incremental = self.spider.mode != "backfill"
            self.refresh = self.crawler.settings.getbool("MEDIAWATCH_REFRESH")
            self.feeding = self.incremental

    # -- what the spider yields ----------------------------------------------------------------

    async def process_start(self, start):
        self._open()
        async for item_or_request in start:
            for out in self._passed(item_or_request, None):
                yield out

    def process_spider_output(self, response, result, spider=None):
        self._count_read(response)
        reading = _Reading(self.limits.urls_per_document)
        for item_or_request in result:
            yield from self._handle(item_or_request, response, reading)
            if reading.stopped:
                return  # the spider's parser is closed with its generator: the rest is not read

    async def process_spider_output_async(self, response, result, spider=None):
        self._count_read(response)
        reading = _Reading(self.limits.urls_per_document)
        async for item_or_request in result:
            for out in self._handle(item_or_request, response, reading):
                yield out
            if reading.stopped:
                return

    def _count_read(self, response) -> None:
        """A document answered in full or as unchanged (an HTTP error reaches here too, on its
        way from the errback, and is not a document read)."""
        if "discovery" in response.meta and (200 <= response.status < 300 or response.status == 304):
            self.stats.inc_value("mediawatch/discovery/read")

    def process_spider_exception(self, response, exception, spider=None):
        """A callback that raised (a bug, or a page it could not handle): the response ends as
        a recorded problem, never silently."""
        if isinstance(exception, IgnoreRequest):
            return None  # HttpError and the like go to the errback
        logger.error("parsing %s failed", response.url, exc_info=exception)
        return [CrawlProblem(outlet_id=self.spider.outlet.id, url=response.url, kind="parse_failed",
                             message=f"{type(exception).__name__}: {exception}",
                             url_key=response.meta.get("url_key"), answered=True)]

    def _handle(self, item_or_request, response, reading: "_Reading"):
        if not isinstance(item_or_request, Discovered):
            yield from self._passed(item_or_request, response)
            return
        room = reading.cap - reading.taken
        reading.taken += item_or_request.listed
        yield from self._record(item_or_request, room)
        if reading.taken > reading.cap:
            reading.stopped = True
            self.stats.inc_value("mediawatch/discovery/limit/urls_per_document")
            yield self._problem(item_or_request.document,
                                f"lists more than {reading.cap:,} URLs; took the first {reading.cap:,} "
                                "(limits.urls_per_document)")

    def _passed(self, item_or_request, response):
        """What goes on of one thing the spider yielded (nothing, for bookkeeping items)."""
        if isinstance(item_or_request, Request):
            if "discovery" in item_or_request.meta:
                yield from self._document_request(item_or_request)
            else:
                yield item_or_request
        elif isinstance(item_or_request, Discovered):  # from start(): no document to count it in
            yield from self._record(item_or_request, item_or_request.listed)
        elif isinstance(item_or_request, DocumentRead):
            if response is not None and response.meta.get("discovery") in CONDITIONAL_KINDS:
                self._remember_validators(item_or_request)
        elif isinstance(item_or_request, NotModified):
            self._not_modified(item_or_request)
        else:
            yield item_or_request

    # -- discovery bounds ----------------------------------------------------------------------

    def _document_request(self, request: Request):
        self._open()
        url = urldefrag(request.url)[0]
        if url in self.seen:
            self.stats.inc_value("mediawatch/discovery/seen_again")
            return
        level = request.meta.get("sitemap_level", 0)
        if level > self.limits.sitemap_depth:
            yield from self._limit(url, "sitemap_depth",
                                   f"is {level} sitemap indexes deep; indexes are followed "
                                   f"{self.limits.sitemap_depth} levels (limits.sitemap_depth)")
            return
        if self.documents >= self.limits.documents_per_run:
            yield from self._limit(url, "documents_per_run",
                                   f"not read: this run has read {self.limits.documents_per_run:,} documents "
                                   "(limits.documents_per_run)")
            return
        self.seen.add(url)
        self.documents += 1
        self.stats.inc_value("mediawatch/discovery/documents")
        if request.meta["discovery"] in CONDITIONAL_KINDS:
            # A feed or sitemap unchanged since the last run costs a 304, not a full body.
            etag, last_modified = self.archive.validators(self.spider.outlet.id, request.url)
            if etag:
                request.headers["If-None-Match"] = etag
            if last_modified:
                request.headers["If-Modified-Since"] = last_modified
            request.meta["handle_httpstatus_list"] = [304]
        yield request

    def _limit(self, url: str, limit: str, message: str):
        """One discovery_limit problem per bound and run; later hits are counted in the stats."""
        self.stats.inc_value(f"mediawatch/discovery/limit/{limit}")
        if limit not in self.limits_hit:
            self.limits_hit.add(limit)
            yield self._problem(url, message + "; later documents over it are skipped without a record")

    def _problem(self, url: str, message: str) -> CrawlProblem:
        return CrawlProblem(outlet_id=self.spider.outlet.id, url=url, kind="discovery_limit",
                            message=f"{url} {message}")

    # -- recording -----------------------------------------------------------------------------

    def _record(self, found: Discovered, room: int):
        self._open()
        articles, refused = [], []
        for key, entry in found.entries[:max(room, 0)]:
            if key is None:
                continue  # not an article URL of the outlet
            reason = self.policy.refusal(entry.url)
            if reason:
                refused.append((entry.url, reason))
            else:
                articles.append((key, entry))
        new = self.frontier.record(self.spider.outlet.id, articles, found.document, this_run=self.incremental)
        self.stats.inc_value("mediawatch/discovered", len(articles))
        self.stats.inc_value("mediawatch/discovered_new", new)
        if articles and self.incremental:
            self.fresh = True
        for url, reason in refused:
            yield CrawlProblem(outlet_id=self.spider.outlet.id, url=url, kind="refused_url",
                               message=f"{url} (listed in {found.document}) not requested: {reason}")

    def _remember_validators(self, read: DocumentRead) -> None:
        # Called once everything the document listed is recorded (never before: a run killed
        # in between must read the document in full next time).
        self.archive.remember_validators(self.spider.outlet.id, read.document, read.etag, read.last_modified)

    def _not_modified(self, item: NotModified) -> None:
        self.stats.inc_value("mediawatch/sources_not_modified")
        # What it listed before and is still unfetched (a previous run was killed or failed
        # before storing it) is fetched again, so a 304 never hides an article. A backfill
        # fetches from the whole frontier anyway.
        if self.incremental and self.frontier.include_unfetched_from(self.spider.outlet.id, item.document):
            self.fresh = True

    # -- feeding article requests --------------------------------------------------------------

    def scheduler_empty(self):
        if self.feeding and not self.exhausted and (self.fresh or not self.incremental):
            self._feed()

    def spider_idle(self, spider):
        """Nothing is in flight: discovery is over. A backfill starts fetching now."""
        self._open()
        if not self.feeding:
            self.feeding = True
            self.frontier.mark_archived(spider.outlet.id)
            self.stats.set_value("mediawatch/backfill/to_fetch",
                                 self.frontier.count_todo(spider.outlet.id, self._selection()))
        if not self.exhausted and self._feed():
            raise DontCloseSpider

    def _selection(self) -> Selection:
        return self.spider.selection or Selection()

    def _feed(self) -> int:
        """Hand the scheduler the next batch of article requests; returns how many."""
        self.fresh = False
        if self.incremental:
            rows, self.cursor = self.frontier.todo_this_run(self.cursor, BATCH, refresh=self.refresh)
        else:
            selection = self._selection()
            limit = BATCH if selection.limit is None else min(BATCH, selection.limit - self.sent)
            rows, self.cursor = self.frontier.todo_batch(self.spider.outlet.id, selection, self.cursor, limit) \
                if limit > 0 else ([], self.cursor)
            if not rows:
                self.exhausted = True
        engine = self.crawler.engine
        for row in rows:
            engine.crawl(self.spider.article_request(row.url, row.url_key, row.hints()))
        self.sent += len(rows)
        return len(rows)

    def spider_closed(self, spider):
        if self.archive is not None:
            self.archive.close()


class _Reading:
    """How much of one document has been taken in this run."""

    def __init__(self, cap: int):
        self.cap = cap
        self.taken = 0
        self.stopped = False
