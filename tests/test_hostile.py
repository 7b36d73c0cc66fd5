"""A hostile web: sites written to harm the crawler, tried as an attacker would.

Each case is crawled by the real CLI in a child process through the local mirror (no network
beyond 127.0.0.1), the worst ones under a memory cap (``resource.setrlimit`` in the child).
Each must end in bounded time and memory with a recorded reason; nothing outside the outlet's
hosts may be read or contacted; no page may disappear without a row saying why.
"""

from __future__ import annotations

import gzip
import re
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from tests import faults
from tests.conftest import DEMO_DATA, run_mediawatch

HOST = "hostile.example"
ELSEWHERE = "elsewhere.example"
SITE = DEMO_DATA / "site"
GOOD_PAGES = sorted((SITE / "globalvoicesonline.org" / "2009" / "06").glob("*/*/index.html.gz"))
# Generous: a crawl's process start alone takes seconds on a loaded 2-core machine.
BOUNDED_S = 120
# Address space a crawl process may use: the crawler and each extraction worker alike.
MEMORY_CAP = 3 * 1024**3


def registry(path: Path, sources: list[dict], *, limits: dict | None = None, allow_private: bool = True,
             timeout: float = 5, **outlet) -> Path:
    """A registry with one outlet on HOST; the mirror proxy is on 127.0.0.1, hence allow_private."""
    entry = {
        "id": "hostile", "name": "Hostile News", "homepage": f"http://{HOST}/", "languages": ["en"],
        "sources": sources, "article_patterns": ["^/a/"],
        "politeness": {"concurrency": 8, "delay": 0, "timeout": timeout, "obey_robots": False},
        **outlet,
    }
    if limits:
        entry["limits"] = limits
    data = {"user_agent": "mediawatch-test/0.1 (+https://example.org/contact)", "outlets": [entry]}
    if allow_private:
        data["allow_private_addresses"] = True
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def good_site(root: Path, articles: list[str]) -> Path:
    """Real pages (Global Voices, from the demo bundle) at `articles` paths on HOST."""
    for n, path in enumerate(articles):
        file = root / HOST / path.lstrip("/")
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(gzip.decompress(GOOD_PAGES[n % len(GOOD_PAGES)].read_bytes()))
    return root


def on(host: str, path: str, fault) -> tuple:
    return (re.compile(re.escape(host)), re.compile("^" + re.escape(path) + "$"), fault)


def rows(db: Path, sql: str, params=()) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params)]


def errors(db: Path) -> dict[str, list[str]]:
    """kind -> messages, over every run."""
    found: dict[str, list[str]] = {}
    for row in rows(db, "SELECT kind, url, message FROM crawl_errors ORDER BY id"):
        found.setdefault(row["kind"], []).append(f"{row['url']}: {row['message']}")
    return found


def crawl(outlets: Path, db: Path, mirror, *args: str, memory: int | None = MEMORY_CAP):
    started = time.monotonic()
    result = run_mediawatch(["--outlets", str(outlets), "--db", str(db), "crawl", *args], mirror=mirror,
                            check=False, timeout=BOUNDED_S, memory_limit=memory)
    return result, time.monotonic() - started


# -- one URL gate -------------------------------------------------------------------------------

LOCAL_FILES = ["file:///etc/hostname", "file:///dev/zero", "file:///nonexistent/secret"]
OFF_SITE = [f"http://{ELSEWHERE}/sitemap.xml", f"http://{HOST}:8080/sitemap.xml", "http://localhost/sitemap.xml",
            f"ftp://{HOST}/sitemap.xml", "data:text/xml,<urlset/>"]


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """A sitemap index and a feed that point everywhere but at the outlet's own pages."""
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    root = tmp_path_factory.mktemp("gate")
    site = good_site(root / "site", ["/a/good-1.html", "/a/good-2.html"])
    mirror = MirrorServer(MirrorConfig(root=site, faults=[
        on(HOST, "/sitemap.xml", faults.xml(faults.sitemap_index(
            [*LOCAL_FILES, *OFF_SITE, f"http://{HOST}/sitemap-1.xml"]))),
        on(HOST, "/sitemap-1.xml", faults.xml(faults.urlset([f"http://{HOST}/a/good-1.html"]))),
        # A feed that moved to another host, and one whose items are local files.
        on(HOST, "/moved.xml", faults.redirect(f"http://{ELSEWHERE}/feed.xml")),
        on(HOST, "/feed.xml", faults.xml(faults.rss([
            f"file://{HOST}/a/etc-passwd.html", f"ftp://{HOST}/a/story.html", f"http://{HOST}/a/to-file.html",
            f"http://{HOST}/a/good-2.html"]), "application/rss+xml")),
        on(HOST, "/a/to-file.html", faults.redirect("file:///etc/passwd")),
        # robots.txt requests pass the gate too: this one is not followed to the other host.
        on(HOST, "/robots.txt", faults.redirect(f"http://{ELSEWHERE}/robots.txt")),
    ])).start()
    outlets = registry(root / "outlets.yml", [
        {"kind": "sitemap_index", "url": f"http://{HOST}/sitemap.xml"},
        {"kind": "feed", "url": f"http://{HOST}/moved.xml"},
        {"kind": "feed", "url": f"http://{HOST}/feed.xml"},
    ], politeness={"concurrency": 8, "delay": 0, "timeout": 5, "obey_robots": True})
    db = root / "archive.db"
    result, seconds = crawl(outlets, db, mirror)
    yield db, result, seconds, mirror
    mirror.stop()


def test_no_local_file_and_no_other_host_is_read_or_contacted(gated):
    db, result, seconds, mirror = gated
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert seconds < BOUNDED_S
    assert mirror.hits[(HOST, "/robots.txt", "fault")] == 1
    assert not mirror.requested(ELSEWHERE) and not mirror.requested("localhost")
    assert {url.split(HOST)[-1] for (url,) in [(r["url"],) for r in rows(db, "SELECT url FROM articles")]} == {
        "/a/good-1.html", "/a/good-2.html"}
    everything = " ".join(" ".join(m) for m in errors(db).values())
    assert "No such file" not in everything and "/nonexistent/secret'" not in everything.replace(
        "file:///nonexistent/secret: ", "")


def test_each_refused_url_is_one_row_with_its_reason(gated):
    db, *_ = gated
    refused = {row["url"]: row["message"] for row in rows(db, "SELECT url, message FROM crawl_errors"
                                                              " WHERE kind = 'refused_url'")}
    for url in LOCAL_FILES + [f"ftp://{HOST}/sitemap.xml"]:
        assert "scheme" in refused[url], (url, refused)
    assert ELSEWHERE in refused[f"http://{ELSEWHERE}/sitemap.xml"]
    assert "8080" in refused[f"http://{HOST}:8080/sitemap.xml"]
    assert "localhost" in refused["http://localhost/sitemap.xml"]
    assert ELSEWHERE in refused[f"http://{HOST}/moved.xml"], "a feed redirected off the outlet's hosts"
    assert "file:///etc/passwd" in refused[f"http://{HOST}/a/to-file.html"], "an article redirected to a file"
    for url in (f"file://{HOST}/a/etc-passwd.html", f"ftp://{HOST}/a/story.html"):
        assert "scheme" in refused[url]
    assert len(rows(db, "SELECT url FROM crawl_errors WHERE kind = 'refused_url'")) == len(refused)


def test_private_addresses_are_refused_unless_the_registry_allows_them(tmp_path, mirror_factory):
    # The mirror is an HTTP proxy on 127.0.0.1: the address the crawler connects to is loopback.
    site = good_site(tmp_path / "site", ["/a/good-1.html"])
    mirror = mirror_factory(site, faults=[
        on(HOST, "/feed.xml", faults.xml(faults.rss([f"http://{HOST}/a/good-1.html"]), "application/rss+xml"))])
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}],
                       allow_private=False)
    db = tmp_path / "archive.db"
    result, _ = crawl(outlets, db, mirror)
    assert result.returncode == 1 and not mirror.requested(HOST)
    (message,) = [r["message"] for r in rows(db, "SELECT message FROM crawl_errors WHERE kind = 'refused_url'")]
    assert "127.0.0.1" in message and "allow_private_addresses" in message
    # A host of the outlet's own that resolves to a loopback address, crawled directly.
    outlets = registry(tmp_path / "direct.yml", [{"kind": "feed", "url": f"http://localhost:{mirror.server_address[1]}/feed.xml"}],
                       allow_private=False, homepage=f"http://localhost:{mirror.server_address[1]}/",
                       allowed_hosts=[f"localhost:{mirror.server_address[1]}"])
    result = run_mediawatch(["--outlets", str(outlets), "--db", str(db), "crawl"], check=False, timeout=BOUNDED_S)
    assert "Traceback" not in result.stderr
    assert "localhost" not in mirror.requested() and not [k for k in mirror.hits if k[0] == "localhost"]
    messages = [r["message"] for r in rows(db, "SELECT message FROM crawl_errors WHERE run_id = 2")]
    assert len(messages) == 1 and "127.0.0.1" in messages[0] and "loopback" in messages[0], messages


# -- bounded discovery --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    """Sitemap indexes that list themselves or never end, and a start page maze."""
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    root = tmp_path_factory.mktemp("discovery")
    site = good_site(root / "site", ["/a/in-sitemap.html", "/a/in-maze.html"])
    mirror = MirrorServer(MirrorConfig(root=site, faults=[
        on(HOST, "/self.xml", faults.xml(faults.sitemap_index(
            [f"http://{HOST}/self.xml"] * 200 + [f"http://{HOST}/sitemap-1.xml"]))),
        on(HOST, "/sitemap-1.xml", faults.xml(faults.urlset([f"http://{HOST}/a/in-sitemap.html"]))),
        (re.compile(re.escape(HOST)), re.compile(r"^/idx/\d+\.xml$"), faults.endless_indexes(HOST)),
        (re.compile(re.escape(HOST)), re.compile(r"^/maze/\d+\.html$"), faults.link_maze(HOST, 100, "/a/in-maze.html")),
    ])).start()
    outlets = registry(root / "outlets.yml", [
        {"kind": "sitemap_index", "url": f"http://{HOST}/self.xml"},
        {"kind": "sitemap_index", "url": f"http://{HOST}/idx/0.xml"},
        {"kind": "start_page", "url": f"http://{HOST}/maze/0.html", "follow_depth": 2},
    ], limits={"sitemap_depth": 3})
    db = root / "archive.db"
    result, seconds = crawl(outlets, db, mirror)
    yield db, result, seconds, mirror
    mirror.stop()


def test_a_sitemap_index_that_lists_itself_is_read_once(discovered):
    db, result, seconds, mirror = discovered
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert seconds < BOUNDED_S
    assert mirror.hits[(HOST, "/self.xml", "fault")] == 1
    assert rows(db, "SELECT count(*) AS n FROM articles WHERE url LIKE '%/a/in-sitemap.html'")[0]["n"] == 1


def test_nested_sitemap_indexes_stop_at_the_depth_limit_and_say_so(discovered):
    db, _, _, mirror = discovered
    depth = sorted(path for (host, path, *fault) in mirror.hits if path.startswith("/idx/"))
    assert depth == ["/idx/0.xml", "/idx/1.xml", "/idx/2.xml", "/idx/3.xml"]
    (limit,) = errors(db)["discovery_limit"]
    assert "/idx/4.xml" in limit and "sitemap_depth" in limit


def test_follow_depth_reads_each_page_once_and_reaches_the_article(discovered):
    db, _, _, mirror = discovered
    maze = {path: n for (host, path, *fault), n in mirror.hits.items() if path.startswith("/maze/")}
    assert maze and max(maze.values()) == 1, sorted(maze.items(), key=lambda kv: -kv[1])[:5]
    assert rows(db, "SELECT count(*) AS n FROM articles WHERE url LIKE '%/a/in-maze.html'")[0]["n"] == 1


def test_documents_per_run_and_urls_per_document_are_capped_and_recorded(tmp_path, mirror_factory):
    site = good_site(tmp_path / "site", [f"/a/{n}.html" for n in range(3)])
    mirror = mirror_factory(site, faults=[
        (re.compile(re.escape(HOST)), re.compile(r"^/idx/\d+\.xml$"), faults.endless_indexes(HOST, width=10)),
        on(HOST, "/many.xml", faults.xml(faults.urlset(f"http://{HOST}/a/{n}.html" for n in range(500)))),
    ])
    outlets = registry(tmp_path / "outlets.yml", [
        {"kind": "sitemap", "url": f"http://{HOST}/many.xml"},
        {"kind": "sitemap_index", "url": f"http://{HOST}/idx/0.xml"},
    ], limits={"sitemap_depth": 10, "documents_per_run": 20, "urls_per_document": 100})
    db = tmp_path / "archive.db"
    result, _ = crawl(outlets, db, mirror)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    documents = [k for k in mirror.hits if len(k) == 3 and k[1].endswith(".xml")]
    assert len(documents) == 20
    limits = errors(db)["discovery_limit"]
    assert len(limits) == 2, limits
    assert any("documents_per_run" in m and "20" in m for m in limits)
    assert any("many.xml" in m and "urls_per_document" in m and "100" in m for m in limits)
    assert rows(db, "SELECT count(*) AS n FROM frontier WHERE source LIKE '%many.xml'")[0]["n"] == 100


def test_a_million_url_sitemap_keeps_memory_bounded_and_the_time_limit(tmp_path, mirror_factory):
    # 1,000,000 article URLs in 2.5 MB of gzip. Today: 3 GB and a 90 s time limit overrun by 75 s.
    sitemap = faults.big_sitemap_gz(HOST, 1_000_000)
    site = good_site(tmp_path / "site", ["/a/0.html"])
    mirror = mirror_factory(site, faults=[
        on(HOST, "/sitemap.xml.gz", faults.body(sitemap, "application/x-gzip")),
        (re.compile(re.escape(HOST)), re.compile(r"^/a/\d+\.html$"), faults.status(404)),
    ])
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "sitemap", "url": f"http://{HOST}/sitemap.xml.gz"}])
    db = tmp_path / "archive.db"
    result, seconds = crawl(outlets, db, mirror, "--time-limit", "20", memory=2 * 1024**3)
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr, result.stderr[-3000:]
    assert seconds < 20 + 30, f"ran {seconds:.0f}s for --time-limit 20"
    (run,) = rows(db, "SELECT * FROM crawl_runs")
    assert run["status"] == "timed out"
    (capped,) = errors(db)["discovery_limit"]
    assert "urls_per_document" in capped and "50000" in capped.replace(",", "")
    assert rows(db, "SELECT count(*) AS n FROM frontier")[0]["n"] == 50_000


# -- bounded extraction ---------------------------------------------------------------------------


def test_an_extraction_over_its_time_limit_costs_one_page_and_keeps_it_for_reextract(tmp_path, mirror_factory):
    site = good_site(tmp_path / "site", ["/a/good-1.html", "/a/good-2.html"])
    mirror = mirror_factory(site, faults=[
        on(HOST, "/feed.xml", faults.xml(faults.rss(
            [f"http://{HOST}/a/links.html", f"http://{HOST}/a/good-1.html", f"http://{HOST}/a/good-2.html"]),
            "application/rss+xml")),
        on(HOST, "/a/links.html", faults.link_farm(550_000)),
    ])
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}],
                       limits={"extraction_seconds": 3})
    db = tmp_path / "archive.db"
    result, seconds = crawl(outlets, db, mirror)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert seconds < BOUNDED_S, "today: 262 s and 2.7 GB for this page"
    assert {r["url"].split(HOST)[1] for r in rows(db, "SELECT url FROM articles")} == {"/a/good-1.html", "/a/good-2.html"}
    (timeout,) = errors(db)["extraction_timeout"]
    assert "/a/links.html" in timeout
    (kept,) = rows(db, "SELECT size FROM raw_pages WHERE url LIKE '%/a/links.html'")
    assert kept["size"] > 10_000_000


def test_the_time_limit_holds_while_a_page_is_being_extracted(tmp_path, mirror_factory):
    # A page whose extraction takes minutes (within its own 120 s CPU limit) when the run's
    # time limit comes: Scrapy waits for every page in the pipeline, so the run used to last as
    # long as the extraction; now the page is given up at the limit and fetched again next run.
    site = good_site(tmp_path / "site", ["/a/good-1.html"])
    mirror = mirror_factory(site, faults=[
        on(HOST, "/feed.xml", faults.xml(faults.rss([f"http://{HOST}/a/good-1.html", f"http://{HOST}/a/links.html"]),
                                         "application/rss+xml")),
        on(HOST, "/a/links.html", faults.link_farm(550_000)),
    ])
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}],
                       limits={"extraction_seconds": 120})
    db = tmp_path / "archive.db"
    started = time.monotonic()
    result = run_mediawatch(["--outlets", str(outlets), "--db", str(db), "crawl", "--time-limit", "15"],
                            mirror=mirror, check=False, timeout=BOUNDED_S)
    assert time.monotonic() - started < 15 + 45, "the run outlasted its time limit"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    (run,) = rows(db, "SELECT status, reconciled FROM crawl_runs")
    assert run == {"status": "timed out", "reconciled": 1}
    (interrupted,) = errors(db)["extraction_interrupted"]
    assert "/a/links.html" in interrupted
    assert rows(db, "SELECT state, attempts FROM frontier WHERE url LIKE '%links.html'") == [
        {"state": "queued", "attempts": 0}]


def test_an_extraction_over_its_memory_limit_costs_one_page(tmp_path, mirror_factory):
    site = good_site(tmp_path / "site", ["/a/good-1.html"])
    mirror = mirror_factory(site, faults=[
        on(HOST, "/feed.xml", faults.xml(faults.rss([f"http://{HOST}/a/links.html", f"http://{HOST}/a/good-1.html"]),
                                         "application/rss+xml")),
        on(HOST, "/a/links.html", faults.link_farm(200_000)),
    ])
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}],
                       limits={"extraction_memory_mb": 256, "extraction_seconds": 120})
    db = tmp_path / "archive.db"
    result, seconds = crawl(outlets, db, mirror)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert seconds < BOUNDED_S, "today: 39 s and 1.2 GB for this page"
    (over,) = errors(db)["extraction_memory"]
    assert "/a/links.html" in over and "256" in over
    assert rows(db, "SELECT count(*) AS n FROM raw_pages WHERE url LIKE '%/a/links.html'")[0]["n"] == 1
    assert rows(db, "SELECT count(*) AS n FROM articles")[0]["n"] == 1


# -- bounded responses ----------------------------------------------------------------------------


def test_oversized_bodies_and_headers_are_too_large_and_not_fetched_again(tmp_path, mirror_factory):
    site = good_site(tmp_path / "site", ["/a/good-1.html"])
    mirror = mirror_factory(site, faults=[
        on(HOST, "/feed.xml", faults.xml(faults.rss(
            [f"http://{HOST}/a/chunked.html", f"http://{HOST}/a/headers.html", f"http://{HOST}/a/good-1.html"]),
            "application/rss+xml")),
        on(HOST, "/a/chunked.html", faults.chunked(30 * 1024 * 1024)),
        on(HOST, "/a/headers.html", faults.header_flood(200 * 1024 * 1024)),
    ])
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}])
    db = tmp_path / "archive.db"
    result, seconds = crawl(outlets, db, mirror, memory=2 * 1024**3)
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr, result.stderr[-3000:]
    assert seconds < BOUNDED_S
    too_large = {m.split(":")[0] + ":" + m.split(":")[1] for m in errors(db)["too_large"]}
    assert too_large == {f"http://{HOST}/a/chunked.html", f"http://{HOST}/a/headers.html"}, errors(db)
    first_hits = (mirror.hits[(HOST, "/a/chunked.html", "fault")], mirror.hits[(HOST, "/a/headers.html", "fault")])
    assert first_hits == (1, 1), "a page over a limit is not retried in the run"
    crawl(outlets, db, mirror)
    assert (mirror.hits[(HOST, "/a/chunked.html", "fault")], mirror.hits[(HOST, "/a/headers.html", "fault")]) == first_hits
    assert [r["status"] for r in rows(db, "SELECT status FROM crawl_runs ORDER BY id")] == ["ok", "ok"]


# -- no silent loss, charsets, dead links --------------------------------------------------------

RUSSIAN_PAGE = SITE / "www.kommersant.ru" / "doc" / "7715044.gz"
RUSSIAN_FRAGMENT = "В то время как все в этот день были маниакально озабочены"


def page_with_json_ld(ld: str) -> bytes:
    html = gzip.decompress(GOOD_PAGES[0].read_bytes()).decode("utf-8")
    return html.replace("</head>", f'<script type="application/ld+json">{ld}</script></head>', 1).encode("utf-8")


def dateless_article(head: str = "") -> bytes:
    """An article page that gives no date of its own (so a hostile one is the only one)."""
    text = "<p>" + "A paragraph of real words that makes this an article worth keeping today. " * 30 + "</p>"
    return (f"<html><head><title>Dateless</title>{head}</head><body><article><h1>Dateless</h1>{text}"
            "</article></body></html>").encode()


def news_sitemap(url: str, published: str) -> str:
    return ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
            ' xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{url}</loc><news:news><news:publication><news:name>H</news:name><news:language>en"
            f"</news:language></news:publication><news:publication_date>{published}</news:publication_date>"
            "<news:title>From the news sitemap</news:title></news:news></url></urlset>")


def russian(meta: str = "") -> bytes:
    html = gzip.decompress(RUSSIAN_PAGE.read_bytes()).decode("utf-8")
    html = re.sub(r'<meta charset="utf-8" />', meta, html, flags=re.I)
    return html.encode("utf-8")


BAD_PAGES = {
    "/a/surrogate-author.html": faults.body(page_with_json_ld(
        '{"@type": "NewsArticle", "author": {"@type": "Person", "name": "Ann \\ud800 Lee"}}'), "text/html; charset=utf-8"),
    "/a/year-1.html": faults.body(dateless_article(
        '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "0001-01-01T00:00:00+05:00"}'
        "</script>"), "text/html; charset=utf-8"),
    "/a/year-9999.html": faults.body(dateless_article(
        '<meta property="article:published_time" content="9999-12-31T23:00:00-05:00">'), "text/html; charset=utf-8"),
    # Its date comes from the news sitemap that lists it, through the frontier.
    "/a/news-9999.html": faults.body(dateless_article(), "text/html; charset=utf-8"),
    "/a/utf16-header.html": faults.body(russian(), "text/html; charset=utf-16"),
    "/a/utf16-meta.html": faults.body(russian('<meta charset="utf-16" />'), "text/html"),
}
DEAD = [f"/a/dead-{n}.html" for n in range(20)]


@pytest.fixture(scope="module")
def bad_pages(tmp_path_factory):
    """Pages that used to vanish or lose their text, and a feed full of dead links: two runs."""
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    root = tmp_path_factory.mktemp("bad-pages")
    site = good_site(root / "site", ["/a/good-1.html", "/a/good-2.html"])
    links = [f"http://{HOST}{p}" for p in [*BAD_PAGES, *DEAD, "/a/good-1.html", "/a/good-2.html"]
             if p != "/a/news-9999.html"]
    mirror = MirrorServer(MirrorConfig(root=site, faults=[
        on(HOST, "/feed.xml", faults.xml(faults.rss(links), "application/rss+xml")),
        on(HOST, "/news.xml", faults.xml(news_sitemap(f"http://{HOST}/a/news-9999.html", "9999-12-31T23:00:00-05:00"))),
        *(on(HOST, path, fault) for path, fault in BAD_PAGES.items()),
        (re.compile(re.escape(HOST)), re.compile(r"^/a/dead-\d+\.html$"), faults.status(404)),
    ])).start()
    outlets = registry(root / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"},
                                              {"kind": "news_sitemap", "url": f"http://{HOST}/news.xml"}])
    db = root / "archive.db"
    first, _ = crawl(outlets, db, mirror)
    dead_hits = sum(n for (host, path, *fault), n in mirror.hits.items() if "/a/dead-" in path)
    second, _ = crawl(outlets, db, mirror)
    yield db, first, second, mirror, dead_hits
    mirror.stop()


def test_no_page_vanishes_a_field_that_cannot_be_stored_is_dropped_with_a_warning(bad_pages):
    db, first, *_ = bad_pages
    assert "Traceback" not in first.stderr, first.stderr[-3000:]
    stored = {r["url"].split(HOST)[1]: r for r in rows(db, "SELECT * FROM articles")}
    assert {"/a/surrogate-author.html", "/a/year-1.html", "/a/year-9999.html", "/a/news-9999.html"} <= set(stored)
    assert "\ud800" not in (stored["/a/surrogate-author.html"]["authors"] or "")
    for path in ("/a/year-1.html", "/a/year-9999.html", "/a/news-9999.html"):
        assert not (stored[path]["published"] or "").startswith(("0001", "9999")), stored[path]["published"]
    assert stored["/a/news-9999.html"]["title"] == "Dateless"
    # (The news sitemap's date is dropped as discovery records the URL: the frontier keeps no
    # date it cannot compare, and the page is fetched and stored all the same.)
    dropped = errors(db)["bad_field"]
    assert len(dropped) == 3 and all(any(p in m for m in dropped) for p in
                                     ("surrogate-author", "year-1.html", "year-9999"))
    assert any("authors: a lone surrogate replaced" in m for m in dropped)
    assert any("0001-01-01T00:00:00+05:00" in m and "dropped" in m for m in dropped)


def test_every_run_reconciles_what_it_fetched_with_what_it_stored_or_recorded(bad_pages):
    db, *_ = bad_pages
    for run in rows(db, "SELECT * FROM crawl_runs"):
        assert run["pages_fetched"] == run["pages_stored"] + run["pages_unchanged"] + run["pages_recorded"], run
        assert run["reconciled"] == 1, run


def test_a_utf8_page_labelled_utf16_is_stored_as_text(bad_pages):
    db, *_ = bad_pages
    for path in ("/a/utf16-header.html", "/a/utf16-meta.html"):
        (article,) = rows(db, "SELECT text FROM articles WHERE url = ?", [f"http://{HOST}{path}"])
        assert RUSSIAN_FRAGMENT in article["text"], path


def test_dead_links_are_not_fetched_again_and_do_not_fail_a_healthy_outlet(bad_pages):
    db, first, second, mirror, dead_hits_first_run = bad_pages
    assert dead_hits_first_run == 20
    dead_hits = sum(n for (host, path, *fault), n in mirror.hits.items() if "/a/dead-" in path)
    assert dead_hits == 20, "a 404 is not requested again in the next run"
    runs = rows(db, "SELECT status, errors, dead_links FROM crawl_runs ORDER BY id")
    assert [r["status"] for r in runs] == ["ok", "ok"] and second.returncode == 0, second.stdout
    assert runs[0]["dead_links"] == 20 and runs[1]["errors"] == 0
    assert rows(db, "SELECT count(*) AS n FROM frontier WHERE state = 'gone'")[0]["n"] == 20


async def test_the_ops_queries_show_dead_links_without_alarm(bad_pages):
    from archive.web.serve import datasette_app

    db, *_ = bad_pages
    client = datasette_app(db).client
    attention = (await client.get(f"/{db.stem}/outlets_needing_attention.json?_shape=array")).json()
    assert attention == []
    (dead,) = (await client.get(f"/{db.stem}/dead_links.json?_shape=array")).json()
    assert dead["outlet_id"] == "hostile" and dead["dead_links"] == 20 and dead["next_retry"] > "2026"
    (latest,) = (await client.get(f"/{db.stem}/latest_runs.json?_shape=array")).json()
    assert latest["status"] == "ok" and latest["reconciled"] == 1


async def test_a_site_that_is_down_fails_the_run_and_says_so(tmp_path, mirror_factory):
    from archive.web.serve import datasette_app

    mirror = mirror_factory(tmp_path, dead_hosts=(HOST,))
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}], timeout=2)
    db = tmp_path / "archive.db"
    result, _ = crawl(outlets, db, mirror)
    (run,) = rows(db, "SELECT status, message FROM crawl_runs")
    assert result.returncode == 1 and run["status"] == "failed"
    assert run["message"].startswith("site down: no request to it was answered")
    attention = (await datasette_app(db).client.get("/archive/outlets_needing_attention.json?_shape=array")).json()
    assert [(r["outlet_id"], r["problem"]) for r in attention] == [("hostile", "site down")]


def test_reextract_repairs_a_page_stored_with_a_charset_that_did_not_decode_it(tmp_path):
    from archive.store import Archive

    db = tmp_path / "archive.db"
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}],
                       languages=["ru"])
    body = russian()
    with Archive(db) as archive:  # as a crawl before the fix stored it: decoded as UTF-16, no text
        archive.store_page({"url": f"http://{HOST}/a/1.html", "url_key": f"{HOST}/a/1.html", "outlet_id": "hostile",
                            "final_url": f"http://{HOST}/a/1.html", "status": 200, "content_type": "text/html",
                            "encoding": "utf-16", "body": body, "hints": {}}, None, None)
    result = run_mediawatch(["--outlets", str(outlets), "--db", str(db), "reextract"])
    assert "new articles (from pages stored without one): 1" in result.stdout, result.stdout
    (article,) = rows(db, "SELECT text FROM articles")
    assert RUSSIAN_FRAGMENT in article["text"]


# -- archive guard --------------------------------------------------------------------------------


def guarded(tmp_path, mirror_factory, db: Path) -> tuple:
    site = good_site(tmp_path / "site", ["/a/good-1.html"])
    mirror = mirror_factory(site, faults=[
        on(HOST, "/feed.xml", faults.xml(faults.rss([f"http://{HOST}/a/good-1.html"]), "application/rss+xml"))])
    outlets = registry(tmp_path / "outlets.yml", [{"kind": "feed", "url": f"http://{HOST}/feed.xml"}])
    before = db.read_bytes()
    result, _ = crawl(outlets, db, mirror)
    return result, before, mirror


def test_an_archive_from_a_newer_version_is_refused(tmp_path, mirror_factory):
    from archive.store import Archive

    db = tmp_path / "archive.db"
    Archive(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA user_version = 999")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    result, before, mirror = guarded(tmp_path, mirror_factory, db)
    assert result.returncode == 1 and "newer" in result.stderr and "999" in result.stderr, result.stderr
    assert db.read_bytes() == before and not mirror.requested(HOST)


def test_a_damaged_archive_is_refused_before_the_crawl_writes(tmp_path, mirror_factory):
    from archive.store import Archive

    db = tmp_path / "archive.db"
    with Archive(db) as archive:
        for n in range(300):
            archive.record_error(None, None, f"http://x/{n}", "test", "x" * 500)
        archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = archive.conn.execute("PRAGMA page_size").fetchone()[0]
        # A page in the middle of an old table, which a crawl that stores new pages never reads.
        (page,) = archive.conn.execute("SELECT pageno FROM dbstat WHERE name = 'crawl_errors' AND pagetype = 'leaf'"
                                       " ORDER BY pageno LIMIT 1 OFFSET 10").fetchone()
    data = bytearray(db.read_bytes())
    data[(page - 1) * size:page * size] = b"\xff" * size
    db.write_bytes(bytes(data))
    result, before, mirror = guarded(tmp_path, mirror_factory, db)
    assert result.returncode == 1 and "damaged" in result.stderr and "mediawatch backup" in result.stderr, result.stderr
    assert db.read_bytes() == before and not mirror.requested(HOST)


def test_a_sqlite_file_that_is_not_an_archive_is_refused(tmp_path, mirror_factory):
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    result, before, _ = guarded(tmp_path, mirror_factory, db)
    assert result.returncode == 1 and "not a mediawatch archive" in result.stderr, result.stderr
    assert db.read_bytes() == before
    with sqlite3.connect(db) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["invoices"]


def test_an_archive_from_before_the_header_is_recognised_and_stamped(tmp_path):
    from archive.store import APPLICATION_ID, SCHEMA_VERSION, Archive

    db = tmp_path / "archive.db"
    Archive(db).close()
    with sqlite3.connect(db) as conn:  # as every archive written before this version
        conn.execute("PRAGMA application_id = 0")
        conn.execute("PRAGMA user_version = 0")
    Archive(db).close()
    with sqlite3.connect(db) as conn:
        header = (conn.execute("PRAGMA application_id").fetchone()[0], conn.execute("PRAGMA user_version").fetchone()[0])
    assert header == (APPLICATION_ID, SCHEMA_VERSION)


def test_a_passed_integrity_check_is_not_repeated_within_its_interval(tmp_path):
    from archive.store import Archive, check_archive

    db = tmp_path / "archive.db"
    Archive(db).close()
    seconds = check_archive(db)
    assert seconds is not None  # a full quick_check ran
    with Archive(db) as archive:
        archive.record_check(seconds)
    assert check_archive(db) is None  # and is not run again for QUICK_CHECK_EVERY_S
    assert check_archive(db, every_s=0) is not None
