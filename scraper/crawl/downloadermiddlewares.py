"""Downloader middlewares: fetch only what the outlet may be fetched from, keep the crawl
incremental, and be polite to servers in trouble."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from urllib.parse import urljoin, urlsplit

from weakref import WeakKeyDictionary

from scrapy import signals
from scrapy.downloadermiddlewares import retry, robotstxt
from scrapy.exceptions import DownloadCancelledError, StopDownload
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import load_object

from archive.store import Archive
from scraper.registry.fetch_policy import FetchPolicy, is_ip_address
from scraper.crawl.downloadhandlers import ResponseHeadersTooLarge
from spiders.items import AlreadyArchived, RefusedUrl, TooLarge

logger = logging.getLogger(__name__)


class SkipArchivedMiddleware:
    """Drop article requests whose URL key is already in the archive (unless refreshing).

    Spiders mark article candidates with ``meta["url_key"]``. The frontier hands out only what
    is not archived, each URL key once per run; this catches what another crawl process stored
    since (two outlets listing one article). The check runs against the archive's indexes, so
    it needs no in-memory copy of everything ever stored.
    """

    def __init__(self, archive_path: str, refresh: bool, stats):
        self.archive = Archive(archive_path)
        self.refresh = refresh
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        return cls(settings["MEDIAWATCH_ARCHIVE"], settings.getbool("MEDIAWATCH_REFRESH"), crawler.stats)

    def process_request(self, request, spider=None):
        key = request.meta.get("url_key")
        # A redirect or a retry of a request already let through is the same fetch.
        if key is None or request.meta.get("redirect_times") or request.meta.get("retry_times"):
            return None
        if not self.refresh and self.archive.is_known(key):
            self.stats.inc_value("mediawatch/skipped_archived")
            raise AlreadyArchived(f"already archived: {request.url}")
        return None


class UrlGateMiddleware:
    """The URL gate: every request of a crawl passes it just before it is downloaded, whatever
    produced it (a feed, a sitemap or sitemap index, a start page, a redirect, robots.txt, a
    retry), and is refused unless the outlet's fetch policy (scraper/registry/fetch_policy.py)
    allows its scheme, its host and the address connected to.

    It sits after HttpProxyMiddleware, so it knows the route: for a direct connection the
    address checked is the host's, resolved through the reactor's resolver (Scrapy's DNS cache,
    which the connection then uses: the address checked is the address connected to); through
    a proxy it is the proxy's. A redirect is checked before it is followed (Scrapy's own
    RedirectMiddleware silently returns a redirect to another scheme as a 3xx page), and a
    response is checked against the address it actually came from.

    A refused request fails with RefusedUrl through its errback: one ``refused_url`` row in
    crawl_errors with the reason. Nothing is read or connected to before the check, so the row
    never tells whether a local file exists.
    """

    REDIRECTS = (301, 302, 303, 307, 308)

    def __init__(self, crawler):
        self.crawler = crawler
        self._policy: FetchPolicy | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def policy(self) -> FetchPolicy:
        if self._policy is None:
            self._policy = FetchPolicy.for_outlet(self.crawler.spider.outlet)
        return self._policy

    async def process_request(self, request, spider=None):
        reason = self.policy.refusal(request.url)
        if reason is None and not self.policy.allow_private_addresses:
            reason = await self._address_refusal(request)
        if reason is not None:
            raise RefusedUrl(_refused(request, reason))
        return None

    async def _address_refusal(self, request) -> str | None:
        proxy = request.meta.get("proxy")
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            host, what = parts.hostname or "", f"the proxy {parts.netloc}"
        else:
            host = urlsplit(request.url).hostname or ""
            what = f"host {host}"
        if is_ip_address(host):
            return self.policy.address_refusal(host, what)
        from twisted.internet import reactor

        try:
            address = await maybe_deferred_to_future(reactor.resolve(host))
        except Exception:  # noqa: BLE001 - the download fails and records it (dns)
            return None
        return self.policy.address_refusal(address, f"{what}")

    def process_response(self, request, response, spider=None):
        if response.ip_address is not None:
            via = f"the proxy {request.meta['proxy']}" if request.meta.get("proxy") else f"host {urlsplit(request.url).hostname}"
            reason = self.policy.address_refusal(str(response.ip_address), via)
            if reason is not None:
                raise RefusedUrl(_refused(request, f"answered from {response.ip_address}: {reason}"))
        target = _redirect_target(request, response)
        if target is not None:
            reason = self.policy.refusal(target)
            if reason is not None:
                raise RefusedUrl(f"{_asked(request)} redirected to {target}: not followed, {reason}")
        return response


def _asked(request) -> str:
    return request.meta.get("redirect_urls", [request.url])[0]


def _refused(request, reason: str) -> str:
    if request.meta.get("redirect_urls"):
        return f"{_asked(request)} redirected to {request.url}: not followed, {reason}"
    return f"{request.url} not requested: {reason}"


def _redirect_target(request, response) -> str | None:
    """Where RedirectMiddleware would send this response's request next, if anywhere."""
    if response.status not in UrlGateMiddleware.REDIRECTS or b"Location" not in response.headers:
        return None
    meta = request.meta
    if meta.get("dont_redirect") or meta.get("handle_httpstatus_all") or response.status in meta.get(
            "handle_httpstatus_list", ()):
        return None
    location = response.headers[b"Location"].decode("latin-1").strip()
    if location.startswith("//"):
        location = f"{urlsplit(request.url).scheme}:{location}"
    return urljoin(request.url, location)


class _BodyTooLarge(StopDownload):
    def __init__(self, message: str):
        super().__init__(fail=True)
        self.args = (message,)


class ResponseLimitsMiddleware:
    """A response over a size limit fails with TooLarge (``too_large`` in crawl_errors), and
    is not retried: in this run (this sits above BackoffMiddleware and RetryMiddleware, and
    stops the exception there), nor by the next ones (the frontier waits gone_retry_days).

    - Headers over MEDIAWATCH_MAX_HEADER_BYTES: the download handler drops the connection
      (scraper/crawl/downloadhandlers.py).
    - A body over DOWNLOAD_MAXSIZE: Scrapy refuses one whose Content-Length says so, but one
      sent chunked, without a length, is cancelled with a bare DownloadCancelledError that
      says nothing of why. Here the body is counted as it arrives and stopped at the limit,
      just before Scrapy's own check would cancel it.
    (A compressed body that expands beyond the limit is refused by HttpCompressionMiddleware
    with an IgnoreRequest that names the max size; the spider records that as too_large.)
    """

    def __init__(self, crawler):
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.received: WeakKeyDictionary = WeakKeyDictionary()
        crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def bytes_received(self, data, request, spider=None):
        size = self.received.get(request, 0) + len(data)
        self.received[request] = size
        maxsize = request.meta.get("download_maxsize", self.maxsize)
        if maxsize and size > maxsize:
            raise _BodyTooLarge(f"body over {maxsize / 2**20:g} MB (DOWNLOAD_MAXSIZE) sent without a "
                                "Content-Length; stopped there")

    def process_exception(self, request, exception, spider=None):
        message = _over_a_limit(exception)
        if message is not None:
            raise TooLarge(f"{request.url}: {message}")
        return None


def _over_a_limit(exception: BaseException) -> str | None:
    """Why a failed download was over a size limit, or None if it was not."""
    if isinstance(exception, _BodyTooLarge):
        return str(exception)
    if isinstance(exception, DownloadCancelledError) and "larger than download max size" in str(exception):
        return str(exception)  # a Content-Length over DOWNLOAD_MAXSIZE
    cause = exception.__cause__
    for reason in getattr(cause, "reasons", None) or []:
        if isinstance(getattr(reason, "value", None), ResponseHeadersTooLarge):
            return str(reason.value)
    return None


class BackoffMiddleware:
    """Wait before a transient failure is retried, instead of hammering a server in trouble.

    Scrapy's RetryMiddleware retries a 5xx, a 429, a timeout or a reset connection at once.
    This runs just before it (on the response and exception side) and, when a retry is due,
    sleeps without blocking the reactor (other hosts, and other requests to this host, carry
    on meanwhile):

    - for a 429 or 503 with Retry-After, as long as the server asks; one that asks for more
      than MEDIAWATCH_RETRY_AFTER_MAX seconds is not retried in this run (the error records
      the header), rather than knocked on again too early;
    - otherwise exponentially: MEDIAWATCH_BACKOFF_BASE seconds, then twice that, ... plus up
      to a quarter more at random (so requests that failed together do not retry together),
      at most MEDIAWATCH_BACKOFF_MAX.

    The number of retries stays RetryMiddleware's (RETRY_TIMES), so the wait is bounded.
    """

    THROTTLE_STATUSES = (429, 503)

    def __init__(self, settings):
        self.enabled = settings.getbool("RETRY_ENABLED")
        self.max_retries = settings.getint("RETRY_TIMES")
        self.retry_statuses = {int(code) for code in settings.getlist("RETRY_HTTP_CODES")}
        self.retry_exceptions = tuple(
            load_object(name) if isinstance(name, str) else name for name in settings.getlist("RETRY_EXCEPTIONS")
        )
        self.base = settings.getfloat("MEDIAWATCH_BACKOFF_BASE")
        self.max_backoff = settings.getfloat("MEDIAWATCH_BACKOFF_MAX")
        self.max_retry_after = settings.getfloat("MEDIAWATCH_RETRY_AFTER_MAX")

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings)

    def _will_retry(self, request) -> bool:
        retries = request.meta.get("retry_times", 0)
        return (self.enabled and not request.meta.get("dont_retry")
                and retries < request.meta.get("max_retry_times", self.max_retries))

    def _backoff(self, request) -> float:
        wait = self.base * 2 ** request.meta.get("retry_times", 0)
        return min(wait * random.uniform(1.0, 1.25), self.max_backoff)

    async def process_response(self, request, response, spider=None):
        if response.status not in self.retry_statuses or not self._will_retry(request):
            return response
        wait = None
        if response.status in self.THROTTLE_STATUSES:
            wait = retry_after_seconds(response.headers.get(b"Retry-After"))
        if wait is not None and wait > self.max_retry_after:
            logger.warning("HTTP %s for %s asks to wait %.0fs (over %.0fs): not retrying it in this run",
                           response.status, request.url, wait, self.max_retry_after)
            request.meta["dont_retry"] = True  # RetryMiddleware, next in line, lets it through
            return response
        await self._sleep(request, self._backoff(request) if wait is None else wait, f"HTTP {response.status}")
        return response

    async def process_exception(self, request, exception, spider=None):
        if isinstance(exception, self.retry_exceptions) and self._will_retry(request):
            await self._sleep(request, self._backoff(request), type(exception).__name__)
        return None  # RetryMiddleware makes the retry

    @staticmethod
    async def _sleep(request, seconds: float, reason: str) -> None:
        if seconds > 0:
            logger.info("%s for %s: waiting %.1fs before retrying", reason, request.url, seconds)
            await asyncio.sleep(seconds)


def retry_after_seconds(value: bytes | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header value asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class RobotsTxtMiddleware(robotstxt.RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, saying in one line that a robots.txt could not be fetched.

    Scrapy reports that with RetryMiddleware's "Gave up retrying" line, then its own with the
    traceback of the download (two chained ones for an unreachable host) under the URL of the
    page that was waiting for robots.txt. Ops need one line: which robots.txt, why, and what
    follows (the host is crawled as if it allowed everything, as Scrapy does).
    """

    def __init__(self, crawler):
        super().__init__(crawler)
        # A logger keeps one copy of a filter: each outlet's crawler adds it, it runs once.
        for scrapy_logger in (robotstxt.logger, retry.retry_logger):
            scrapy_logger.addFilter(robots_failure_in_one_line)


def robots_failure_in_one_line(record: logging.LogRecord) -> bool:
    """Drop the retry line of a robots.txt and rewrite Scrapy's "Error downloading <page>: <error>"
    and its traceback as the one line; every other record passes as it is."""
    args = record.args if isinstance(record.args, dict) else {}
    request = args.get("request")
    message = str(record.msg)
    if request is None:
        return True
    if message.startswith("Gave up retrying"):
        return not (request.meta.get("dont_obey_robotstxt") and urlsplit(request.url).path == "/robots.txt")
    if message.startswith("Error downloading") and record.exc_info and args.get("f_exception") is not None:
        parts = urlsplit(request.url)
        record.msg = "%(url)s could not be fetched (%(error)s); crawling %(host)s as if it allowed everything"
        record.args = {"url": f"{parts.scheme}://{parts.netloc}/robots.txt", "host": parts.netloc,
                       "error": args["f_exception"]}
        record.exc_info = record.exc_text = None
    return True


class CrawlDelayMiddleware:
    """Honour robots.txt Crawl-delay (Scrapy reads robots.txt but ignores it).

    When a host's robots.txt is parsed, its Crawl-delay for our User-Agent (at most
    MEDIAWATCH_CRAWL_DELAY_MAX seconds) becomes the host's download-slot delay, unless the
    registry already asks for a longer one, without random jitter. Scrapy's slot then spaces
    requests to the host by at least that delay, one at a time.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.max_delay = crawler.settings.getfloat("MEDIAWATCH_CRAWL_DELAY_MAX")
        self.user_agent = crawler.settings.get("USER_AGENT")
        self.delays: dict[str, float] = {}
        crawler.signals.connect(self.robots_parsed, signal=signals.robots_parsed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def robots_parsed(self, robotparser, request):
        delay = robotparser.crawl_delay(self.user_agent)
        if delay:
            self.delays[urlsplit(request.url).netloc] = min(float(delay), self.max_delay)
            self._apply(request)

    def process_request(self, request, spider=None):
        if self.delays:
            self._apply(request)
        return None

    def _apply(self, request) -> None:
        delay = self.delays.get(urlsplit(request.url).netloc)
        if not delay:
            return
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        # Crawl-delay is a minimum: the slot's random jitter (RANDOMIZE_DOWNLOAD_DELAY waits
        # from half to one and a half times the delay) must not take it below.
        if slot is not None and slot.delay * (1 - slot.jitter) < delay:
            logger.info("robots.txt asks for %.1fs between requests to %s", delay, urlsplit(request.url).netloc)
            slot.delay = max(slot.delay, delay)
            slot.jitter = 0
