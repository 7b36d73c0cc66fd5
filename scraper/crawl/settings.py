"""Every Scrapy setting mediawatch uses, in one place."""

from __future__ import annotations

from scraper.registry.config import Outlet, Registry

BASE_SETTINGS = {
    "BOT_NAME": "mediawatch",
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    # No remote consoles of any kind on an unattended crawler: neither the telnet console nor
    # Scrapy 2.19's RemoteControl (on by default: an HTTP server on localhost that runs any
    # Python code sent with a token it writes to ~/.local/state/scrapy/job_files).
    "TELNETCONSOLE_ENABLED": False,
    "REMOTE_CONTROL_ENABLED": False,
    "EXTENSIONS": {
        "scrapy.extensions.telnet.TelnetConsole": None,
        "scrapy.extensions.remote_control.RemoteControl": None,
        "scraper.crawl.extensions.BackfillProgress": 500,
    },
    "COOKIES_ENABLED": False,
    "DOWNLOAD_TIMEOUT": 30,
    "DOWNLOAD_MAXSIZE": 20 * 1024 * 1024,
    "DOWNLOAD_WARNSIZE": 5 * 1024 * 1024,
    "REDIRECT_MAX_TIMES": 5,
    "RETRY_ENABLED": True,
    "RETRY_TIMES": 2,
    "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408, 429],
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_ITEMS": 32,
    # Bytes of downloaded responses waiting for their callback and pipeline (extraction) before
    # the engine stops handing out requests (Scrapy's default is 5 MB, some 70 article pages).
    # Downloads then keep pace with extraction, and a stopped or timed-out run has only a few
    # pages left to extract before it ends, not a minute's worth.
    "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 2 * 1024 * 1024,
    "DEPTH_LIMIT": 0,
    "LOG_LEVEL": "INFO",
    "ITEM_PIPELINES": {"scraper.crawl.pipelines.ArchivePipeline": 300},
    # Closest to the spider: it sees what the spider yields before anything else does.
    "SPIDER_MIDDLEWARES": {"scraper.crawl.spidermiddlewares.FrontierMiddleware": 950},
    # Only http(s) is ever downloaded: Scrapy would otherwise read file:// URLs from the local
    # disk, and fetch ftp://, s3:// and data: ones (the URL gate refuses them first anyway).
    # Its HTTP handler, with a bound on response headers (scraper/crawl/downloadhandlers.py).
    "DOWNLOAD_HANDLERS": {
        "http": "scraper.crawl.downloadhandlers.BoundedHTTPDownloadHandler",
        "https": "scraper.crawl.downloadhandlers.BoundedHTTPDownloadHandler",
        "file": None, "ftp": None, "s3": None, "data": None,
    },
    # Real servers send a few kB of headers; Twisted would keep any amount in memory.
    "MEDIAWATCH_MAX_HEADER_BYTES": 256 * 1024,
    "DOWNLOADER_MIDDLEWARES": {
        "scraper.crawl.downloadermiddlewares.SkipArchivedMiddleware": 50,
        # Scrapy's own (100), logging a robots.txt it cannot fetch in one line.
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
        "scraper.crawl.downloadermiddlewares.RobotsTxtMiddleware": 100,
        # After RobotsTxtMiddleware (100), which parses robots.txt.
        "scraper.crawl.downloadermiddlewares.CrawlDelayMiddleware": 110,
        # Just above RetryMiddleware (550): waits (backoff, Retry-After) before it retries.
        "scraper.crawl.downloadermiddlewares.BackoffMiddleware": 560,
        # Above both: a response over a size limit is neither waited for nor retried.
        "scraper.crawl.downloadermiddlewares.ResponseLimitsMiddleware": 570,
        # Last before the download, after HttpProxyMiddleware (750): sees the final request and
        # its route; first to see a response, before RedirectMiddleware (600) follows it.
        "scraper.crawl.downloadermiddlewares.UrlGateMiddleware": 760,
    },
    "MEDIAWATCH_RETRY_AFTER_MAX": 60,
    "MEDIAWATCH_BACKOFF_BASE": 1.0,
    "MEDIAWATCH_BACKOFF_MAX": 30,
    "MEDIAWATCH_CRAWL_DELAY_MAX": 30,
    "MEDIAWATCH_EXTRACT_WORKERS": 0,  # 0 = one per core
}


# The smallest delay between two requests to one host. Scrapy 2.19 on the asyncio reactor
# enforces CONCURRENT_REQUESTS_PER_DOMAIN only on slots with a delay: without one it hands every
# queued request of the slot to the network at once (a download counts towards the limit only
# once its task has started), so "concurrency: 2, delay: 0" meant up to CONCURRENT_REQUESTS.
# With any delay a slot dispatches one request per pass, after the previous one has started.
# 10 ms is at most 100 requests a second to a host, far above any politeness setting.
MIN_DOWNLOAD_DELAY_S = 0.01


# What a crawl run by Scrapyd on a crawl host adds to the base (scraper/cluster/, and
# docs/scale-out.md). Scrapyd starts `scrapy crawl outlet -a outlet=ID ...` with the settings
# module scraper.cluster.scrapy_settings, made of BASE_SETTINGS and these: the hosted spider
# resolves the outlet from the registry on the host's disk, and the lease keeper holds the
# outlet's lease in Redis for as long as the crawl runs. MEDIAWATCH_ARCHIVE is the host's
# spool; the controller passes it, the Redis URL and the host's name with every job.
HOSTED_SETTINGS = {
    "SPIDER_MODULES": ["scraper.cluster.hosted"],
    "NEWSPIDER_MODULE": "scraper.cluster.hosted",
    # No backfill progress bar: under Scrapyd, stderr is the host's Scrapyd log.
    "EXTENSIONS": {**BASE_SETTINGS["EXTENSIONS"], "scraper.crawl.extensions.BackfillProgress": None,
                   "scraper.cluster.hosted.HostedRun": 100},
    "MEDIAWATCH_HOST": "",
    "MEDIAWATCH_REDIS_URL": "",
    # A crawl host that dies keeps its outlets' leases this long at most.
    "MEDIAWATCH_LEASE_SECONDS": 120,
}


def outlet_settings(registry: Registry, outlet: Outlet) -> dict:
    """What one outlet's crawl sets over the base: the registry's User-Agent, its politeness."""
    return {
        "USER_AGENT": registry.user_agent,
        "ROBOTSTXT_OBEY": outlet.politeness.obey_robots,
        "CONCURRENT_REQUESTS_PER_DOMAIN": outlet.politeness.concurrency,
        # What the engine hands the downloader at once: twice what the outlet's hosts may have
        # in flight, enough to keep them busy. Scrapy downloads everything already handed to it
        # before a stopped or timed-out crawl ends (16 by default, even at concurrency 2: 8 rounds
        # of a slow server's answers after the time limit).
        "CONCURRENT_REQUESTS": max(2, 2 * outlet.politeness.concurrency * len(outlet.allowed_hosts)),
        "DOWNLOAD_DELAY": max(outlet.politeness.delay, MIN_DOWNLOAD_DELAY_S),
        "DOWNLOAD_TIMEOUT": outlet.politeness.timeout,
    }


def crawl_settings(registry: Registry, outlet: Outlet, archive_path: str, *, refresh: bool = False,
                   time_limit: int | None = None, log_file: str | None = None,
                   log_level: str = "INFO") -> dict:
    """Settings for crawling one outlet: the base plus the outlet's politeness."""
    settings = dict(BASE_SETTINGS)
    settings.update(outlet_settings(registry, outlet))
    settings.update({
        "MEDIAWATCH_ARCHIVE": str(archive_path),
        "MEDIAWATCH_REFRESH": refresh,
        "LOG_LEVEL": log_level,
    })
    if time_limit:
        settings["CLOSESPIDER_TIMEOUT"] = time_limit
    if log_file:
        settings["LOG_FILE"] = log_file
    return settings
