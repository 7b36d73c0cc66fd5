"""Sitemaps, Google News sitemaps and feeds parse into URL entries with their metadata."""

from __future__ import annotations

import gzip

import pytest

from scraper.discovery.documents import (
    DiscoveryError,
    decompress,
    feed_links,
    parse_feed,
    parse_sitemap,
)
from scraper.registry.urls import url_key
from tests.conftest import DEMO_DATA, needs_corpus

PANGEA_ID = __import__("re").compile(r"/a/(?:[^/]+/)?(\d+)\.html$")


def test_real_pangea_sitemap_index_lists_archive_pages_and_news():
    folder = needs_corpus("rferl-sitemaps", "www.azattyq.org")
    kind, children = parse_sitemap((folder / "sitemap.xml").read_bytes())
    assert kind == "index"
    urls = [c.url for c in children]
    assert "https://www.azattyq.org/sitemap_5_1.xml.gz" in urls
    assert "https://www.azattyq.org/sitemap_5_news.xml.gz" in urls
    assert children[0].lastmod.startswith("2025-04-20")


def test_real_google_news_sitemap_keeps_title_date_and_language():
    folder = needs_corpus("rferl-sitemaps", "www.azattyq.org")
    kind, entries = parse_sitemap((folder / "sitemap_5_news.xml.gz").read_bytes())
    assert kind == "urlset" and len(entries) == 11
    first = entries[0]
    assert first.url.endswith("/33423632.html")
    assert first.title == "Ресей Украинаға түнде тағы соққы жасады. 10-нан астам адам қаза болды"
    assert first.published == "2025-05-25T10:08:58.43Z"
    assert first.language == "kk"
    assert first.hints() == {"feed_title": first.title, "feed_published": first.published, "feed_language": "kk"}


def test_real_archive_sitemap_has_20000_urls():
    folder = needs_corpus("rferl-sitemaps", "www.azattyq.org")
    kind, entries = parse_sitemap((folder / "sitemap_5_1.xml.gz").read_bytes())
    assert kind == "urlset" and len(entries) == 20000
    assert all(e.url.startswith("https://www.azattyq.org/") for e in entries)


def test_rss_feed_items_in_order_with_dates():
    entries = parse_feed((DEMO_DATA / "site/globalvoicesonline.org/-/type/feature/feed/index.xml").read_bytes(),
                         "http://globalvoicesonline.org/")
    assert len(entries) == 15
    assert entries[0].url == "http://globalvoicesonline.org/2009/06/11/amplified-conversation-fighting-the-digital-crimes-bill-in-brazil/"
    assert entries[0].title == "Brazil: Amplified conversations to fight the Digital Crimes Bill"
    assert entries[0].published.startswith("2009-06-11T")
    assert entries[0].language == "en"


def test_atom_feed():
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ru">
      <entry><title>Hello</title><link href="/a/1.html"/><updated>2025-01-02T03:04:05Z</updated></entry>
      <entry><title>Self</title><link rel="self" href="/feed"/></entry></feed>"""
    entries = parse_feed(atom, "https://x.org/")
    assert [(e.url, e.title, e.published, e.language) for e in entries] == [
        ("https://x.org/a/1.html", "Hello", "2025-01-02T03:04:05Z", "ru")]


@pytest.mark.parametrize("body, message", [
    (b"<rss><channel><item><title>x</title>", "malformed feed XML"),
    (b"<html><body>not a feed</body></html>", "not an RSS or Atom feed"),
])
def test_broken_feeds_raise_a_clear_error(body, message):
    with pytest.raises(DiscoveryError, match=message):
        parse_feed(body, "https://x.org/")


def test_broken_sitemaps_raise_a_clear_error():
    with pytest.raises(DiscoveryError, match="malformed XML"):
        parse_sitemap(b"<urlset><url><loc>https://x.org/a</loc></url>")
    with pytest.raises(DiscoveryError, match="not a sitemap"):
        parse_sitemap(b"<html><body>404</body></html>")


def test_gzip_bomb_is_refused_without_expanding_it():
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    with pytest.raises(DiscoveryError, match="gzip bomb"):
        decompress(bomb, limit=1024 * 1024)


def test_feed_autodiscovery_on_a_page():
    page = '<html><head><link rel="alternate" type="application/rss+xml" href="/api/rss"></head></html>'
    assert feed_links(page, "https://www.azattyq.org/") == ["https://www.azattyq.org/api/rss"]


@pytest.mark.parametrize("a, b, same", [
    ("https://www.azattyq.org/a/old-slug/33423632.html", "http://www.azattyq.org/a/new-slug/33423632.html?utm_source=x", True),
    ("https://www.azattyq.org/a/33423632.html", "https://www.azattyq.org/a/slug/33423632.html#comments", True),
    ("https://www.azattyq.org/a/33423632.html", "https://rus.azattyq.org/a/33423632.html", False),
    ("https://www.azattyq.org/a/33423632.html", "https://www.azattyq.org/a/33423633.html", False),
])
def test_pangea_url_keys(a, b, same):
    assert (url_key(a, PANGEA_ID) == url_key(b, PANGEA_ID)) is same


def test_generic_url_keys_drop_tracking_but_keep_meaningful_query():
    assert url_key("https://X.org/news/1/?utm_medium=rss&id=5#top") == url_key("http://x.org/news/1?id=5")
    assert url_key("https://x.org/news?id=5") != url_key("https://x.org/news?id=6")
