"""A misbehaving server: the crawl survives every fault, keeps the good pages, records the rest.

One small site (a feed linking one article per fault, plus good articles made of real demo
pages) is crawled by the real CLI in a child process through the mirror, whose fault
functions (tests/faults.py) misbehave per URL.
"""

from __future__ import annotations

import gzip
import re
import sqlite3
from pathlib import Path

import pytest

from tests import faults
from tests.conftest import DEMO_DATA, run_mediawatch

HOST = "faults.example"
SITE = DEMO_DATA / "site"
GOOD_PAGES = sorted((SITE / "globalvoicesonline.org" / "2009" / "06").glob("*/*/index.html.gz"))[:3]
RUSSIAN_PAGE = SITE / "www.kommersant.ru" / "doc" / "7715044.gz"
RUSSIAN_FRAGMENT = "В то время как все в этот день были маниакально озабочены"
TIMEOUT = 1.5


def russian_page_without_charset() -> str:
    html = gzip.decompress(RUSSIAN_PAGE.read_bytes()).decode("utf-8")
    return re.sub(r"<meta charset=\"utf-8\" />", "", html, flags=re.I)


def registry(path: Path, extra_sources: list[str] = (), robots: bool = True, timeout: float = TIMEOUT) -> Path:
    sources = [f"http://{HOST}/feed.xml", *extra_sources]
    lines = [
        'user_agent: "mediawatch-test/0.1 (+https://example.org/contact)"',
        "allow_private_addresses: true  # the mirror, an HTTP proxy on 127.0.0.1",
        "outlets:",
        "  - id: faulty",
        "    name: Faulty News",
        f"    homepage: http://{HOST}/",
        "    languages: [en]",
        "    sources:",
        *(f"      - {{kind: {'sitemap' if 'sitemap' in url else 'feed'}, url: \"{url}\"}}" for url in sources),
        "    article_patterns: ['^/a/']",
        f"    politeness: {{concurrency: 8, delay: 0, timeout: {timeout}, obey_robots: {str(robots).lower()}}}",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def build_site(root: Path, articles: list[str], robots_txt: str = "") -> None:
    """A feed linking `articles` (paths); every one also exists as a good page to fall back on."""
    site = root / HOST
    (site / "a").mkdir(parents=True)
    items = "".join(f"<item><title>{p}</title><link>http://{HOST}{p}</link></item>" for p in articles)
    (site / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>',
        encoding="utf-8")
    for i, article in enumerate(articles):
        (site / article.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (site / article.lstrip("/")).write_bytes(gzip.decompress(GOOD_PAGES[i % len(GOOD_PAGES)].read_bytes()))
    (site / "robots.txt").write_text(robots_txt or "User-agent: *\nDisallow:\n", encoding="utf-8")


def rows(db: Path, sql: str, params=()) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params)]


RUSSIAN = russian_page_without_charset()
CP1251 = RUSSIAN.encode("cp1251", errors="xmlcharrefreplace")
KOI8 = RUSSIAN.encode("koi8_r", errors="xmlcharrefreplace")
RETRY_TIMES: dict[str, list[float]] = {"/a/flaky-503.html": [], "/a/flaky-429.html": []}
SLOW_TIMES: list[float] = []

# path -> (fault, what the archive should show)
FAULTS = {
    "/a/error-500.html": (faults.status(500), "http_500"),
    "/a/error-502.html": (faults.status(502), "http_502"),
    "/a/flaky-503.html": (faults.timed(RETRY_TIMES["/a/flaky-503.html"],
                                       faults.fail_first(1, faults.status(503, {"Retry-After": "1"}))), "stored"),
    "/a/flaky-429.html": (faults.timed(RETRY_TIMES["/a/flaky-429.html"],
                                       faults.fail_first(1, faults.status(429, {"Retry-After": "1"}))), "stored"),
    "/a/missing-404.html": (faults.status(404), "http_404"),
    "/a/gone-410.html": (faults.status(410), "http_410"),
    "/a/slow.html": (faults.timed(SLOW_TIMES, faults.slow(TIMEOUT + 1.5)), "timeout"),
    "/a/reset.html": (faults.connection_reset, "connection_lost"),
    "/a/truncated.html": (faults.truncated, "truncated"),
    "/a/cp1251-declared.html": (faults.body(CP1251, "text/html; charset=windows-1251"), "russian"),
    "/a/cp1251-undeclared.html": (faults.body(CP1251, "text/html"), "russian"),
    "/a/cp1251-declared-utf8.html": (faults.body(CP1251, "text/html; charset=utf-8"), "russian"),
    "/a/koi8r-declared.html": (faults.body(KOI8, "text/html; charset=koi8-r"), "russian"),
    "/a/koi8r-undeclared.html": (faults.body(KOI8, "text/html"), "russian"),
    "/a/utf8-bom.html": (faults.body(b"\xef\xbb\xbf" + RUSSIAN.encode("utf-8"), "text/html"), "russian"),
    "/a/gzip-bomb.html": (faults.gzip_bomb(40 * 1024 * 1024), "too_large"),
    "/a/huge.html": (faults.huge(30 * 1024 * 1024), "too_large"),
    "/a/loop.html": (faults.redirect("/a/loop-2.html"), "redirect_loop"),
    "/a/loop-2.html": (faults.redirect("/a/loop.html"), None),
    "/a/elsewhere.html": (faults.redirect("http://elsewhere.example/a/1.html"), "refused_url"),
    "/a/report.pdf": (faults.body(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "application/pdf"), "not_html"),
    "/a/photo.html": (faults.body(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"), "not_html"),
    "/a/empty.html": (faults.body(b"<html><head><title>x</title></head><body></body></html>",
                                  "text/html; charset=utf-8"), "no_text"),
    "/a/private/secret.html": (None, "robots_disallowed"),
}
GOOD = ["/a/good-1.html", "/a/good-2.html", "/a/good-3.html"]
BROKEN_SOURCES = [f"http://{HOST}/broken-feed.xml", f"http://{HOST}/broken-sitemap.xml"]


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    root = tmp_path_factory.mktemp("faults")
    articles = [p for p in FAULTS if p != "/a/loop-2.html"] + GOOD
    build_site(root / "site", articles, robots_txt="User-agent: *\nDisallow: /a/private/\n")
    (root / "site" / HOST / "broken-feed.xml").write_text("<rss><channel><item><link>http://fa", encoding="utf-8")
    (root / "site" / HOST / "broken-sitemap.xml").write_text("<urlset><url><loc>oops</url>", encoding="utf-8")
    fault_list = [(re.compile(re.escape(HOST)), re.compile("^" + re.escape(path) + "$"), fault)
                  for path, (fault, _) in FAULTS.items() if fault is not None]
    mirror = MirrorServer(MirrorConfig(root=root / "site", faults=fault_list)).start()
    db = root / "archive.db"
    outlets = registry(root / "outlets.yml", BROKEN_SOURCES)
    result = run_mediawatch(["--outlets", str(outlets), "--db", str(db), "crawl"], mirror=mirror, check=False)
    yield db, result, mirror
    mirror.stop()


def test_crawl_survives_and_keeps_the_good_pages(crawled):
    db, result, _ = crawled
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    stored = {r["url"].split(HOST)[1] for r in rows(db, "SELECT url FROM articles")}
    expected = set(GOOD) | {p for p, (_, outcome) in FAULTS.items() if outcome in ("stored", "russian")}
    assert stored == expected
    run = rows(db, "SELECT * FROM crawl_runs")[0]
    assert run["status"] == "ok" and run["finished"]


def test_every_permanent_fault_is_recorded_with_its_kind(crawled):
    db, *_ = crawled
    kinds = {r["url"].split(HOST)[1]: r["kind"] for r in rows(db, "SELECT url, kind FROM crawl_errors")}
    expected = {p: outcome for p, (_, outcome) in FAULTS.items()
                if outcome not in ("stored", "russian", None)}
    expected["/broken-feed.xml"] = "bad_feed"
    expected["/broken-sitemap.xml"] = "bad_sitemap"
    assert kinds == expected
    # Nothing was stored for a fault (the archive has no page of an error).
    assert not rows(db, "SELECT url FROM articles WHERE url LIKE '%error-%' OR url LIKE '%empty%'")


def test_transient_errors_are_retried_and_permanent_ones_not(crawled):
    _, _, mirror = crawled
    fault_hits = {p: n for (host, p, *rest), n in mirror.hits.items() if host == HOST and rest}
    assert fault_hits["/a/error-500.html"] == 3  # RETRY_TIMES = 2
    # Twisted may also retry a reset on a reused connection by itself: at least 3.
    assert fault_hits["/a/reset.html"] >= 3
    assert fault_hits["/a/slow.html"] == 3
    assert fault_hits["/a/missing-404.html"] == 1
    assert fault_hits["/a/gone-410.html"] == 1
    assert fault_hits["/a/flaky-503.html"] == fault_hits["/a/flaky-429.html"] == 2
    assert "/a/private/secret.html" not in mirror.requested(HOST), "robots.txt Disallow is obeyed"
    assert "/robots.txt" in mirror.requested(HOST)
    assert not mirror.requested("elsewhere.example"), "an off-site redirect is not followed"


def test_retry_after_is_honoured(crawled):
    for path, times in RETRY_TIMES.items():
        assert len(times) == 2
        assert times[1] - times[0] >= 0.95, f"{path} was retried after {times[1] - times[0]:.2f}s, not 1s"


def test_timeouts_are_retried_with_exponential_backoff(crawled):
    # Each attempt times out after TIMEOUT s; the waits before the retries are 1 s, then 2 s.
    gaps = [b - a for a, b in zip(SLOW_TIMES, SLOW_TIMES[1:])]
    assert len(SLOW_TIMES) == 3
    assert gaps[0] >= TIMEOUT + 0.95 and gaps[1] >= TIMEOUT + 1.95, gaps


def test_pages_in_other_charsets_are_stored_as_correct_cyrillic(crawled):
    db, *_ = crawled
    for path, (_, outcome) in FAULTS.items():
        if outcome != "russian":
            continue
        (article,) = rows(db, "SELECT text, title FROM articles WHERE url = ?", [f"http://{HOST}{path}"])
        assert RUSSIAN_FRAGMENT in article["text"], path
        assert "Р" not in article["title"][:3] and "Легкий троннинг" in article["title"], path


def test_size_limits_stop_bombs_and_huge_pages(crawled):
    db, *_ = crawled
    messages = {r["url"].split(HOST)[1]: r["message"] for r in rows(db, "SELECT url, message FROM crawl_errors WHERE kind = 'too_large'")}
    assert set(messages) == {"/a/gzip-bomb.html", "/a/huge.html"}
    # Nothing near the bombs' sizes ever reached the archive.
    assert rows(db, "SELECT max(size) AS m FROM raw_pages")[0]["m"] < 2_000_000
