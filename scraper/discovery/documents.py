"""Parse the documents that list article URLs: sitemaps, Google News sitemaps, RSS and Atom.

Scrapy's own sitemap support keeps only <loc> and <lastmod>; Google News sitemaps also carry
each article's title, publication date and language, which we keep as extraction hints. Feeds
carry the same. Parsing is streaming (lxml iterparse, each entry freed once read, entries
handed on a chunk at a time), so neither a 20,000-URL archive sitemap nor a hostile
1,000,000-URL one ever becomes one big tree or list, and gzip is undone as the parser reads,
with a size cap, so a gzip bomb cannot exhaust memory.
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
    stream = _open(body, limit)
    out = io.BytesIO()
    while chunk := stream.read(1024 * 1024):
        out.write(chunk)
    return out.getvalue()


class _CappedGunzip(io.RawIOBase):
    """Reads a gzipped body as it expands, refusing to expand it beyond `limit` bytes."""

    def __init__(self, body: bytes, limit: int):
        self._stream = gzip.GzipFile(fileobj=io.BytesIO(body))
        self._limit = limit
        self._read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size if size and size > 0 else 1024 * 1024)
        except (OSError, EOFError, zlib.error) as exc:
            raise DiscoveryError(f"broken gzip data: {exc}") from exc
        self._read += len(data)
        if self._read > self._limit:
            raise DiscoveryError(f"gzip body expands beyond {self._limit // 2**20} MB (gzip bomb?)")
        return data


def _open(body: bytes, limit: int = MAX_UNCOMPRESSED):
    """A file-like reader of the document in `body`, gunzipping it on the fly if need be."""
    if body[:2] == b"\x1f\x8b":
        return _CappedGunzip(body, limit)
    return io.BytesIO(body)


def _text(element, tag: str) -> str | None:
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def _iterparse(body: bytes, tags: tuple[str, ...], events=("end",)):
    """Yield (event, element) for the elements named in `tags` (and the root's start), one by
    one, each freed once the caller is done with it and before the next is read: the tree never
    holds more than one entry, however many the document lists."""
    try:
        for event, element in etree.iterparse(
            _open(body), events=("start", *events), tag=None,
            resolve_entities=False, no_network=True, huge_tree=False,
        ):
            if event == "start":
                if element.getparent() is None:
                    yield "root", element
                continue
            if element.tag not in tags:
                continue
            yield event, element
            element.clear(keep_tail=False)
            # The cleared elements stay attached to their parent: drop those read before.
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"malformed XML: {exc}") from exc


CHUNK = 1000


def iter_sitemap(body: bytes, chunk: int = CHUNK):
    """The entries of a sitemap as read: ('index', child sitemaps) and ('urlset', page entries
    with their Google News fields), `chunk` at a time, so a document of a million URLs is never
    a list of a million entries. Raises DiscoveryError for a document that is not a sitemap (after
    the entries read before the fault, if any)."""
    children: list[Entry] = []
    urls: list[Entry] = []
    root = None
    found = False
    for event, element in _iterparse(body, (f"{_SM}sitemap", f"{_SM}url")):
        if event == "root":
            root = etree.QName(element).localname
            continue
        loc = _text(element, f"{_SM}loc")
        if not loc:
            continue
        found = True
        lastmod = _text(element, f"{_SM}lastmod")
        if element.tag == f"{_SM}sitemap":
            children.append(Entry(loc, lastmod=lastmod))
            if len(children) >= chunk:
                yield "index", children
                children = []
            continue
        news = element.find(f"{_NEWS}news")
        if news is None:
            urls.append(Entry(loc, lastmod=lastmod))
        else:
            urls.append(Entry(
                loc,
                lastmod=lastmod,
                title=_text(news, f"{_NEWS}title"),
                published=_text(news, f"{_NEWS}publication_date"),
                language=_text(news, f"{_NEWS}publication/{_NEWS}language"),
            ))
        if len(urls) >= chunk:
            yield "urlset", urls
            urls = []
    if not found and root not in ("urlset", "sitemapindex"):
        raise DiscoveryError("not a sitemap: no <urlset> or <sitemapindex> root")
    if children:
        yield "index", children
    if urls or not children:
        yield "urlset", urls


def parse_sitemap(body: bytes) -> tuple[str, list[Entry]]:
    """Return ('index', child sitemaps) or ('urlset', page entries with Google News fields)."""
    children: list[Entry] = []
    urls: list[Entry] = []
    for kind, entries in iter_sitemap(body):
        (children if kind == "index" else urls).extend(entries)
    if children and not urls:
        return "index", children
    return "urlset", urls


_RSS_ITEMS = ("item", "{http://purl.org/rss/1.0/}item")
_LANGUAGE_TAGS = ("language", f"{_DC}language")


def iter_feed(body: bytes, base_url: str, chunk: int = CHUNK):
    """Entries of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, in feed order, `chunk` at a time."""
    language = None
    atom = False
    entries: list[Entry] = []
    try:
        for event, element in _iterparse(body, (*_RSS_ITEMS, f"{_ATOM}entry", *_LANGUAGE_TAGS)):
            if event == "root":
                atom = element.tag == f"{_ATOM}feed"
                if not atom and element.tag not in ("rss", "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF"):
                    raise DiscoveryError(
                        f"not an RSS or Atom feed (root element <{etree.QName(element).localname}>)")
                if atom:
                    language = (element.get("{http://www.w3.org/XML/1998/namespace}lang") or "").split("-")[0] or None
                continue
            if element.tag in _LANGUAGE_TAGS:
                # The channel's language (an item's own dc:language is not the feed's).
                if not atom and language is None and element.getparent() is not None \
                        and etree.QName(element.getparent()).localname == "channel":
                    language = (element.text or "").strip().split("-")[0].lower() or None
                continue
            entry = _atom_entry(element, base_url, language) if atom else _rss_item(element, base_url, language)
            if entry is not None:
                entries.append(entry)
            if len(entries) >= chunk:
                yield entries
                entries = []
    except DiscoveryError as exc:
        if str(exc).startswith("malformed XML"):
            raise DiscoveryError(f"malformed feed XML: {str(exc).removeprefix('malformed XML: ')}") from exc
        raise
    if entries:
        yield entries


def _atom_entry(item, base_url: str, language: str | None) -> Entry | None:
    link = next((l.get("href") for l in item.iter(f"{_ATOM}link")
                 if l.get("rel", "alternate") == "alternate" and l.get("href")), None)
    if not link:
        return None
    return Entry(
        urljoin(base_url, link.strip()),
        title=_text(item, f"{_ATOM}title"),
        published=_text(item, f"{_ATOM}published") or _text(item, f"{_ATOM}updated"),
        language=language,
    )


def _rss_item(item, base_url: str, language: str | None) -> Entry | None:
    link = _text(item, "link") or _text(item, "{http://purl.org/rss/1.0/}link")
    if not link:
        guid = item.find("guid")
        if guid is not None and guid.get("isPermaLink", "true") == "true" and guid.text:
            link = guid.text.strip()
    if not link:
        return None
    return Entry(
        urljoin(base_url, link),
        title=_text(item, "title") or _text(item, "{http://purl.org/rss/1.0/}title"),
        published=_rfc822_to_iso(_text(item, "pubDate")) or _text(item, f"{_DC}date"),
        language=language,
    )


def parse_feed(body: bytes, base_url: str) -> list[Entry]:
    """Entries of an RSS 2.0, RSS 1.0 (RDF) or Atom feed, in feed order."""
    return [entry for entries in iter_feed(body, base_url) for entry in entries]


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
