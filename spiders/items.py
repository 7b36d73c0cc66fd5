"""What spiders yield. Spiders only discover and fetch; pipelines decide what is stored."""

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


class AlreadyArchived(IgnoreRequest):
    """A request dropped on purpose because its article is archived or already requested.

    Raised by the crawl's SkipArchivedMiddleware; the spider's errback tells it from a failure.
    """
