"""The crawl as Scrapyd runs it on a crawl host: ``scrapy crawl outlet -a outlet=ID ...``.

Scrapyd passes spider arguments as strings, so the hosted spider resolves its outlet from the
registry file on the host's disk (``-a registry=PATH``) and applies the outlet's politeness
to the crawler's settings before they freeze. Before anything is fetched it takes the
outlet's lock in the host's spool (no two crawls of one outlet on this host) and the outlet's
lease in Redis (none on two hosts); the HostedRun extension renews the lease and records the
run's Scrapyd job in the spool. Everything else is the single-host crawl, unchanged: the same
spider, middlewares and pipeline, writing the spool.

Arguments: ``outlet`` (required), ``registry`` (default: the bundled one), ``mode``
(incremental or backfill), ``since`` / ``until`` (YYYY-MM-DD) and ``limit`` for a backfill,
``handover`` (1: first import the pages another host archived, see controller.py in this package), ``entry``
(the controller's fingerprint of the outlet's registry entry: a host whose registry differs
refuses the job). Scrapyd adds ``_job``. Settings the controller passes: MEDIAWATCH_ARCHIVE (the spool),
MEDIAWATCH_HOST, MEDIAWATCH_REDIS_URL, MEDIAWATCH_LEASE_SECONDS.
"""

from __future__ import annotations

import logging
import os
from datetime import date

import redis
from scrapy import signals
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThread

from archive.frontier import Selection
from scraper.cluster import bus
from scraper.cluster.deploy import outlet_fingerprint
from scraper.cluster.lease import Lease
from scraper.cluster.spool import Spool
from scraper.crawl.locks import OutletLock
from scraper.crawl.settings import outlet_settings
from scraper.registry.config import load_registry
from spiders.outlet import OutletSpider

logger = logging.getLogger(__name__)

MODES = ("incremental", "backfill")


class HostedCrawlError(RuntimeError):
    """The hosted crawl cannot start; the message says why (it ends the Scrapyd job)."""


class OutletHold:
    """The outlet's lock in this host's spool and its lease in Redis, taken together."""

    def __init__(self, spool: str, outlet_id: str, host: str, job: str, redis_url: str, lease_seconds: int):
        self.lock = OutletLock(spool, outlet_id)
        self.client = bus.connect(redis_url)
        self.lease = Lease(self.client, outlet_id, host, job, lease_seconds)

    def acquire(self) -> "OutletHold":
        self.lock.acquire()  # LockHeld: another crawl of this outlet runs on this host
        try:
            self.lease.acquire()
        except redis.RedisError as exc:
            self.lock.release()
            raise HostedCrawlError(f"cannot take the lease of outlet '{self.lease.outlet_id}': Redis: {exc}; "
                                   "not crawling without it") from exc
        except BaseException:
            self.lock.release()
            raise
        return self

    def release(self) -> None:
        try:
            self.lease.release()
        except redis.RedisError as exc:  # it expires by itself
            logger.warning("could not release the lease of outlet '%s' (Redis: %s); it will expire",
                           self.lease.outlet_id, exc)
        finally:
            self.lock.release()
            self.client.close()


class HostedOutletSpider(OutletSpider):
    name = "outlet"

    @classmethod
    def from_crawler(cls, crawler, *args, outlet: str | None = None, registry: str | None = None,
                     mode: str = "incremental", since: str | None = None, until: str | None = None,
                     limit: str | None = None, handover: str | None = None, entry: str | None = None,
                     _job: str | None = None, **kwargs):
        settings = crawler.settings
        if not outlet:
            raise HostedCrawlError("the outlet to crawl is missing: -a outlet=ID")
        if mode not in MODES:
            raise HostedCrawlError(f"-a mode must be one of {', '.join(MODES)}, not {mode!r}")
        missing = [name for name in ("MEDIAWATCH_ARCHIVE", "MEDIAWATCH_HOST", "MEDIAWATCH_REDIS_URL")
                   if not settings.get(name)]
        if missing:
            raise HostedCrawlError(f"a hosted crawl needs the settings {', '.join(missing)} (-s NAME=VALUE)")
        found = load_registry(registry, strict=False)
        [resolved] = found.select([outlet])  # ConfigError names the registry and the known outlets
        if entry and entry != outlet_fingerprint(found, resolved):
            raise HostedCrawlError(
                f"outlet '{outlet}' in {found.path} is not the controller's (entry {outlet_fingerprint(found, resolved)}, "
                f"controller's {entry}): copy the controller's registry to this host")
        crawler.settings.setdict(outlet_settings(found, resolved), priority="spider")
        spool_path, host = settings["MEDIAWATCH_ARCHIVE"], settings["MEDIAWATCH_HOST"]
        job = _job or f"manual-{os.getpid()}"
        try:
            selection = Selection(since=date.fromisoformat(since) if since else None,
                                  until=date.fromisoformat(until) if until else None,
                                  limit=int(limit) if limit else None)
        except ValueError as exc:
            raise HostedCrawlError(f"-a since/until must be YYYY-MM-DD and limit a number: {exc}") from None
        hold = OutletHold(spool_path, outlet, host, job, settings["MEDIAWATCH_REDIS_URL"],
                          settings.getint("MEDIAWATCH_LEASE_SECONDS")).acquire()
        try:
            with Spool(spool_path) as spool:  # creates the spool and its outbox on a first run
                if handover:
                    _import_handover(spool, hold.client, outlet, host)
            spider = super().from_crawler(crawler, *args, outlet=resolved, mode=mode, selection=selection, **kwargs)
        except BaseException:
            hold.release()
            raise
        spider.hold, spider.job_id, spider.host = hold, job, host
        return spider


def _import_handover(spool: Spool, client: redis.Redis, outlet_id: str, host: str) -> None:
    """Record what the archive already holds of an outlet that moves to this host."""
    key = bus.handover(outlet_id, host)
    pages = {}
    for url_key, value in client.hscan_iter(key, count=2000):
        pages[url_key.decode()] = value.decode()
    origin = (client.hget(key, "") or b"").decode()
    pages.pop("", None)
    added = spool.import_handover(outlet_id, pages, origin or "another host")
    client.delete(key)
    logger.info("outlet %s moved here: %d archived pages recorded (%d new to this spool)", outlet_id, len(pages), added)


class HostedRun:
    """Extension: records the run's Scrapyd job in the spool, renews the outlet's lease while
    the crawl runs (stopping the crawl if another host has it), releases it at the end."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.renewal: LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self, spider):
        hold = getattr(spider, "hold", None)
        if hold is None:
            return
        with Spool(self.crawler.settings["MEDIAWATCH_ARCHIVE"]) as spool:
            spool.record_job(spider.run_id, spider.job_id, spider.outlet.id)
        self.renewal = LoopingCall(self._renew, spider)
        self.renewal.start(max(1.0, hold.lease.seconds / 3), now=False)

    def _renew(self, spider):
        hold = spider.hold

        def renewed(still_ours):
            if not still_ours:
                logger.error("outlet %s: lost its lease (now %s); stopping this crawl", spider.outlet.id,
                             hold.lease.holder_now())
                self.crawler.engine.close_spider(spider, "lease_lost")

        def failed(failure):
            # Redis is away: keep crawling (no other host can take the lease while it is).
            logger.warning("outlet %s: could not renew its lease: %s", spider.outlet.id, failure.getErrorMessage())

        # Off the reactor thread: a Redis that does not answer must not stall the downloads.
        return deferToThread(hold.lease.renew).addCallbacks(renewed, failed)

    def spider_closed(self, spider, reason):
        if self.renewal is not None and self.renewal.running:
            self.renewal.stop()
        hold = getattr(spider, "hold", None)
        if hold is not None:
            hold.release()
