"""Politeness towards the sites crawled: conditional requests for feeds and sitemaps, and
backoff before retries (exponential, or as long as Retry-After asks, within a bound).

The real CLI crawls a small site through the mirror, which answers like a real web server:
ETag and Last-Modified on every file, 304 Not Modified to a conditional request that matches.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time

from tests import faults
from tests.conftest import DEMO_DATA, run_mediawatch
from tests.test_faults import HOST, build_site, registry

FEED_ARTICLES = ["/a/good-1.html", "/a/good-2.html", "/a/flaky.html"]
SITEMAP_ARTICLES = ["/a/good-3.html", "/a/good-4.html"]


def query(db, sql, *params):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def stored_paths(db) -> set[str]:
    return {url.split(HOST)[1] for (url,) in query(db, "SELECT url FROM articles")}


class Recorder:
    """Wraps the mirror's answer for some paths: notes each request's arrival, its
    conditional headers, and (while `failing`) answers with `failure` instead of the file."""

    def __init__(self, failure=None):
        self.failure = failure
        self.failing = failure is not None
        self.requests: list[tuple[str, str | None, str | None]] = []
        self.arrivals: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def __call__(self, handler):
        import time

        host, path = handler.target()
        with self.lock:
            self.requests.append((path, handler.headers.get("If-None-Match"), handler.headers.get("If-Modified-Since")))
            self.arrivals.setdefault(path, []).append(time.monotonic())
        if self.failing and self.failure is not None:
            self.failure(handler)
        else:
            handler.serve_file(host, path)

    def take(self) -> list[tuple[str, str | None, str | None]]:
        with self.lock:
            taken, self.requests = self.requests, []
        return taken


def etag_of(path) -> str:
    return f'"{hashlib.sha1(path.read_bytes()).hexdigest()[:16]}"'


def test_feeds_and_sitemaps_are_read_with_conditional_requests_and_a_304_hides_nothing(tmp_path, mirror_factory):
    site = tmp_path / "site"
    build_site(site, FEED_ARTICLES + SITEMAP_ARTICLES)
    feed, sitemap = site / HOST / "feed.xml", site / HOST / "sitemap.xml"
    feed_xml = feed.read_text(encoding="utf-8")
    for path in SITEMAP_ARTICLES:  # the feed lists its own articles only
        feed_xml = re.sub(rf"<item><title>{re.escape(path)}</title>.*?</item>", "", feed_xml)
    feed.write_text(feed_xml, encoding="utf-8")
    sitemap.write_text('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + "".join(
        f"<url><loc>http://{HOST}{p}</loc></url>" for p in SITEMAP_ARTICLES) + "</urlset>", encoding="utf-8")
    sources = Recorder()
    flaky = Recorder(faults.status(503))  # fails in the first run (503, no Retry-After)
    mirror = mirror_factory(site, faults=[
        (re.compile(re.escape(HOST)), re.compile(r"^/(feed|sitemap)\.xml$"), sources),
        (re.compile(re.escape(HOST)), re.compile(r"^/a/flaky\.html$"), flaky),
    ])
    outlets = registry(tmp_path / "outlets.yml", [f"http://{HOST}/sitemap.xml"], robots=False)
    db = tmp_path / "archive.db"
    crawl = ["--outlets", str(outlets), "--db", str(db), "crawl"]

    # First run: full reads; the validators are kept per source URL. The flaky article fails.
    run_mediawatch(crawl, mirror=mirror)
    assert sorted(sources.take()) == [("/feed.xml", None, None), ("/sitemap.xml", None, None)]
    assert stored_paths(db) == set(FEED_ARTICLES + SITEMAP_ARTICLES) - {"/a/flaky.html"}
    validators = dict((url.split(HOST)[1], (etag, modified)) for url, etag, modified in
                      query(db, "SELECT url, etag, last_modified FROM source_validators"))
    assert {path: etag for path, (etag, _) in validators.items()} == {
        "/feed.xml": etag_of(feed), "/sitemap.xml": etag_of(sitemap)}
    assert all(modified.endswith(" GMT") for _, modified in validators.values())
    # Transient failures were retried after growing waits (1 s, then 2 s, plus jitter).
    arrivals = flaky.arrivals["/a/flaky.html"]
    assert len(arrivals) == 3
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert gaps[0] >= 0.95 and gaps[1] >= 1.95, gaps

    # Second run, nothing changed: both sources are asked conditionally and answer 304, which
    # is not an error; the article the feed listed but the first run could not store is
    # fetched anyway.
    flaky.failing = False
    second = run_mediawatch(crawl, mirror=mirror)
    assert sorted(sources.take()) == [("/feed.xml", *validators["/feed.xml"]),
                                      ("/sitemap.xml", *validators["/sitemap.xml"])]
    assert stored_paths(db) == set(FEED_ARTICLES + SITEMAP_ARTICLES)
    assert "1 new articles stored, 0 errors" in second.stdout
    assert len(flaky.arrivals["/a/flaky.html"]) == 4

    # Third run, the feed changed: read in full (new validators), its new article stored;
    # the sitemap is still unchanged.
    (site / HOST / "a" / "good-5.html").write_bytes((site / HOST / "a" / "good-1.html").read_bytes())
    feed.write_text(feed_xml.replace("</channel>", f"<item><title>5</title><link>http://{HOST}/a/good-5.html</link>"
                                                   "</item></channel>"), encoding="utf-8")
    third = run_mediawatch(crawl, mirror=mirror)
    assert "1 new articles stored, 0 errors" in third.stdout
    assert "/a/good-5.html" in stored_paths(db)
    assert query(db, "SELECT etag FROM source_validators WHERE url LIKE '%feed.xml'") == [(etag_of(feed),)]
    assert query(db, "SELECT count(*) FROM crawl_errors WHERE run_id > 1") == [(0,)]
    assert [status for (status,) in query(db, "SELECT status FROM crawl_runs ORDER BY id")] == ["ok"] * 3


def test_a_retry_after_beyond_the_bound_is_not_retried_in_this_run(tmp_path, mirror_factory):
    site = tmp_path / "site"
    build_site(site, ["/a/good-1.html", "/a/busy.html"])
    busy = Recorder(faults.status(429, {"Retry-After": "3600"}))
    mirror = mirror_factory(site, faults=[(re.compile(re.escape(HOST)), re.compile(r"^/a/busy\.html$"), busy)])
    db = tmp_path / "archive.db"
    run_mediawatch(["--outlets", str(registry(tmp_path / "outlets.yml", robots=False)), "--db", str(db), "crawl"],
                   mirror=mirror)
    assert len(busy.arrivals["/a/busy.html"]) == 1, "not knocked on again an hour early"
    ((kind, message),) = query(db, "SELECT kind, message FROM crawl_errors")
    assert kind == "http_429" and "Retry-After: 3600" in message
    assert stored_paths(db) == {"/a/good-1.html"}


def test_an_outlets_concurrency_limit_holds_when_it_asks_for_no_delay(tmp_path, mirror_factory):
    # politeness.concurrency is how many requests an outlet's host may have in flight. With
    # delay 0, Scrapy 2.19 on the asyncio reactor would dispatch every queued request at once
    # (15 here, up to CONCURRENT_REQUESTS); the server must never see more than 2.
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow_counted(handler):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.3)
        with lock:
            in_flight[0] -= 1
        handler.serve_file(*handler.target())

    mirror = mirror_factory(DEMO_DATA / "site", faults=[(re.compile(r"globalvoicesonline\.org"), re.compile(r"^/2009/"),
                                                         slow_counted)])
    outlets = tmp_path / "outlets.yml"
    outlets.write_text(
        "allow_private_addresses: true\n"  # the mirror, an HTTP proxy on 127.0.0.1
        "outlets:\n"
        "  - id: globalvoices\n"
        "    name: Global Voices\n"
        "    homepage: http://globalvoicesonline.org/\n"
        "    languages: [en]\n"
        '    sources: [{kind: feed, url: "http://globalvoicesonline.org/-/type/feature/feed/"}]\n'
        "    article_patterns: ['^/\\d{4}/\\d{2}/\\d{2}/[^/]+/?$']\n"
        "    politeness: {concurrency: 2, delay: 0}\n", encoding="utf-8")
    db = tmp_path / "archive.db"
    run_mediawatch(["--outlets", str(outlets), "--db", str(db), "crawl", "globalvoices"], mirror=mirror)
    assert query(db, "SELECT count(*) FROM articles") == [(15,)]
    assert peak[0] == 2
