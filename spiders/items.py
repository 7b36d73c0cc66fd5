"""What spiders yield. Spiders only discover and fetch; pipelines decide what is stored.

Discovery items (``Discovered``, ``DocumentRead``, ``NotModified``) are consumed by the crawl's
FrontierMiddleware (scraper/crawl/spidermiddlewares.py), which records them in the frontier;
pages and problems go on to the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.exceptions import IgnoreRequest


@dataclass
class FetchedPage:
    """An article candidate as downloaded, before extraction."""

    outlet_id: str
    url: str
    url_key: str
    final_url: str
    status: int
    content_type: str
    encoding: str
    body: bytes
    text: str
    hints: dict = field(default_factory=dict)


@dataclass
class CrawlProblem:
    """Something that went wrong for one URL; it lands in `crawl_errors`."""

    outlet_id: str
    url: str
    kind: str
    message: str
    # Set when the URL was an article candidate: its frontier row records the failure.
    url_key: str | None = None
    # True when the server answered (an HTTP error, a page that is not HTML): a fetched page
    # that ends as this row, counted as such when the run reconciles its counts.
    answered: bool = False


@dataclass
class Discovered:
    """A chunk of the URLs one document (sitemap, feed, start page) lists, in its order: each
    with its URL key if it is one of the outlet's article URLs, else None."""

    document: str  # the URL the document was requested as
    entries: list = field(default_factory=list)  # [(url_key | None, scraper.discovery.documents.Entry)]

    @property
    def listed(self) -> int:
        return len(self.entries)


@dataclass
class DocumentRead:
    """A feed or sitemap was read to its end: its validators may be remembered."""

    document: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class NotModified:
    """A feed or sitemap answered 304: it lists nothing new since it was last read."""

    document: str


class AlreadyArchived(IgnoreRequest):
    """A request dropped on purpose because its article is archived or already requested.

    Raised by the crawl's SkipArchivedMiddleware; the spider's errback tells it from a failure.
    """


class RefusedUrl(IgnoreRequest):
    """A request the URL gate refused (scheme, host or address); the message says why."""


class TooLarge(IgnoreRequest):
    """A response over a size limit (its headers or its body); the message says which."""
