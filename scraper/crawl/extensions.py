"""A progress bar for backfills: pages fetched (or failed) out of those queued for this run."""

from __future__ import annotations

from scrapy import signals
from tqdm import tqdm

from spiders.items import CrawlProblem, FetchedPage


class BackfillProgress:
    """Scrapy extension: a tqdm bar on stderr while a spider runs in backfill mode.

    The total is known once the sitemaps are read; the spider publishes it as the stat
    ``mediawatch/backfill/to_fetch``.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.bar: tqdm | None = None

    @classmethod
    def from_crawler(cls, crawler):
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider):
        if getattr(spider, "mode", None) == "backfill":
            self.bar = tqdm(desc=f"{spider.outlet.id}: reading sitemaps", unit=" pages", mininterval=1.0,
                            dynamic_ncols=True)

    def item_scraped(self, item, spider):
        if self.bar is None:
            return
        if self.bar.total is None:
            total = self.crawler.stats.get_value("mediawatch/backfill/to_fetch")
            if total is not None:
                self.bar.total = total
                self.bar.set_description(f"{spider.outlet.id}: fetching")
        if isinstance(item, FetchedPage) or (isinstance(item, CrawlProblem) and item.url_key):
            self.bar.update(1)

    def spider_closed(self, spider):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
