"""Parse the documents that list article URLs: sitemaps, Google News sitemaps, RSS and Atom.

Scrapy's own sitemap support keeps only <loc> and <lastmod>; Google News sitemaps also carry
each article's title, publication date and language, which we keep as extraction hints. Feeds
carry the same. Parsing is streaming (lxml iterparse), so a 20,000-URL archive sitemap never
becomes one big tree, and gzip is undone with a size cap so a gzip bomb cannot exhaust memory.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin

from lxml import etree
from lxml import html as lxml_html

# A real 20,000-URL Pangea sitemap is about 3 MB uncompressed; 50 MB is the sitemaps.org cap.
MAX_UNCOMPRESSED = 64 * 1024 * 1024

_SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
_ATOM = "{http://www.w3.org/2005/Atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"


class DiscoveryError(ValueError):
    """A sitemap or feed could not be parsed; the message says what was wrong."""


@dataclass(frozen=True)
class Entry:
    """One URL found in a sitemap or feed, with whatever it said about the article."""

    url: str
    lastmod: str | None = None
    title: str | None = None
    published: str | None = None
    language: str | None = None

    def hints(self) -> dict:
        """Extraction hints (see scraper.extraction.article.Hints) carried by this entry."""
        hints = {"feed_title": self.title, "feed_published": self.published, "feed_language": self.language}
        return {k: v for k, v in hints.items() if v}


def decompress(body: bytes, limit: int = MAX_UNCOMPRESSED) -> bytes:
    """Undo gzip if `body` is gzipped (sitemaps are often served as .xml.gz files)."""
    if body[:2] != b"\x1f\x8b":
        return body
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            while chunk := stream.read(1024 * 1024):
                out.write(chunk)
                if out.tell() > limit:
                    raise DiscoveryError(f"gzip body expands beyond {limit // 2**20} MB (gzip bomb?)")
    except (OSError, EOFError, zlib.error) as exc:
        raise DiscoveryError(f"broken gzip data: {exc}") from exc
    return out.getvalue()


def _text(element, tag: str) -> str | None:
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _iterparse(body: bytes, tags: tuple[str, ...]):
    """Yield the elements named in `tags` one by one, freeing each after use."""
    try:
        for _, element in etree.iterparse(
            io.BytesIO(decompress(body)), events=("end",), tag=tags,
            resolve_entities=False, no_network=True, huge_tree=False,
        ):
            yield element
            element.clear(keep_tail=False)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"malformed XML: {exc}") from exc


def parse_sitemap(body: bytes) -> tuple[str, list[Entry]]:
    """Return ('index', child sitemaps) or ('urlset', page entries with Google News fields)."""
    children: list[Entry] = []
    urls: list[Entry] = []
    for element in _iterparse(body, (f"{_SM}sitemap", f"{_SM}url")):
        loc = _text(element, f"{_SM}loc")
        if not loc:
            continue
        lastmod = _text(element, f"{_SM}lastmod")
        if element.tag == f"{_SM}sitemap":
            children.append(Entry(loc, lastmod=lastmod))
            continue
        news = element.find(f"{_NEWS}news")
        if news is None:
            urls.append(Entry(loc, lastmod=lastmod))
            continue
        urls.append(Entry(
            loc,
            lastmod=lastmod,
            title=_text(news, f"{_NEWS}title"),
            published=_text(news, f"{_NEWS}publication_date"),
            language=_text(news, f"{_NEWS}publication/{_NEWS}language"),
        ))
    if children and not urls:
        return "index", children
    if not children and not urls and not _looks_like_sitemap(body):
        raise DiscoveryError("not a sitemap: no <urlset> or <sitemapindex> root")
    return "urlset", urls


def _looks_like_sitemap(body: bytes) -> bool:
    head = decompress(body)[:2048]
    return b"<urlset" in head or b"<sitemapindex" in head


def parse_feed(body: bytes, base_url: str) -> list[Entry]:
    """Entries of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, in feed order."""
    try:
        root = etree.fromstring(decompress(body), etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"malformed feed XML: {exc}") from exc
    language = (root.findtext("channel/language") or root.findtext(f"{_DC}language") or "").strip()
    language = language.split("-")[0].lower() or None
    entries = []
    if root.tag == f"{_ATOM}feed":
        language = (root.get("{http://www.w3.org/XML/1998/namespace}lang") or "").split("-")[0] or None
        for item in root.iter(f"{_ATOM}entry"):
            link = next((l.get("href") for l in item.iter(f"{_ATOM}link")
                         if l.get("rel", "alternate") == "alternate" and l.get("href")), None)
            if link:
                entries.append(Entry(
                    urljoin(base_url, link.strip()),
                    title=_text(item, f"{_ATOM}title"),
                    published=_text(item, f"{_ATOM}published") or _text(item, f"{_ATOM}updated"),
                    language=language,
                ))
        return entries
    if root.tag not in ("rss", "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"):
        raise DiscoveryError(f"not an RSS or Atom feed (root element <{etree.QName(root).localname}>)")
    for item in root.iter("item", "{http://purl.org/rss/1.0/}item"):
        link = _text(item, "link") or _text(item, "{http://purl.org/rss/1.0/}link")
        if not link:
            guid = item.find("guid")
            if guid is not None and guid.get("isPermaLink", "true") == "true" and guid.text:
                link = guid.text.strip()
        if link:
            entries.append(Entry(
                urljoin(base_url, link),
                title=_text(item, "title") or _text(item, "{http://purl.org/rss/1.0/}title"),
                published=_rfc822_to_iso(_text(item, "pubDate")) or _text(item, f"{_DC}date"),
                language=language,
            ))
    return entries


def _rfc822_to_iso(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError):
        return None


_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json")


def feed_links(page: bytes | str, base_url: str) -> list[str]:
    """Feed URLs a page advertises with <link rel="alternate" type="application/rss+xml">."""
    try:
        tree = lxml_html.fromstring(page)
    except (etree.ParserError, ValueError):
        return []
    links = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower()
        if "alternate" in rel and kind in _FEED_TYPES[:3] and link.get("href"):
            url = urljoin(base_url, link.get("href").strip())
            if url not in links:
                links.append(url)
    return links
