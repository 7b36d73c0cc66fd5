"""RFE/RL and its Central Asian services, crawled for real through the local mirror.

The mirror serves the real Pangea sitemaps of /work/shared/corpus/rferl-sitemaps at their
real https:// URLs; every article URL is answered with a real Pangea article page (VOA's).
Expected URL sets are read from the sitemap files here with a few regexes, independently of
the crawler's own parser.
"""

from __future__ import annotations

import gzip
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import yaml
from conftest import needs_corpus, pattern_route, run_mediawatch

from archive.store import Archive
from scraper.registry.config import (
    DEFAULT_REGISTRY,
    ConfigError,
    bundled_families,
    load_registry,
)

RFERL_HOSTS = {
    "rferl": ("www.rferl.org", "en"),
    "azattyq-kk": ("www.azattyq.org", "kk"),
    "azattyq-ru": ("rus.azattyq.org", "ru"),
    "azattyk-ky": ("www.azattyk.org", "ky"),
    "azattyk-ru": ("rus.azattyk.org", "ru"),
    "ozodi-tg": ("www.ozodi.org", "tg"),
    "ozodi-ru": ("rus.ozodi.org", "ru"),
    "ozodlik-uz": ("www.ozodlik.org", "uz"),
    "ozodlik-ru": ("rus.ozodlik.org", "ru"),
    "azathabar-tk": ("www.azathabar.com", "tk"),
    "azathabar-ru": ("rus.azathabar.com", "ru"),
    "svoboda": ("www.svoboda.org", "ru"),
    "currenttime": ("www.currenttime.tv", "ru"),
}

# rus.azathabar.com: a small complete archive (two archive pages, ~40,000 URLs), no news.
SMALL_HOST, SMALL_OUTLET, SMALL_SITE = "rus.azathabar.com", "azathabar-ru", 81
WINDOW = ("2025-02-10", "2025-02-16")  # about 80 articles by sitemap lastmod


# -- fixtures and helpers ------------------------------------------------------------------

@pytest.fixture
def sitemaps() -> Path:
    return needs_corpus("rferl-sitemaps")


@pytest.fixture
def pangea_page(tmp_path) -> Path:
    """A real Pangea article page (the mirror serves Route files as they are: unzip it)."""
    source = needs_corpus("fundus", "test_data", "us", "VoiceOfAmerica_2024_04_28.html.gz")
    page = tmp_path / "pangea-article.html"
    page.write_bytes(gzip.decompress(source.read_bytes()))
    return page


@pytest.fixture
def silent_page(pangea_page) -> Path:
    """The same page with every declaration of its language removed."""
    html = pangea_page.read_text(encoding="utf-8")
    html = re.sub(r'\slang="[^"]*"', "", html)
    html = re.sub(r'"inLanguage":"[^"]*"', '"inLanguage":""', html)
    assert 'lang="en"' not in html
    page = pangea_page.with_name("pangea-article-no-language.html")
    page.write_text(html, encoding="utf-8")
    return page


def write_registry(tmp_path: Path, outlet_ids, **family_changes) -> Path:
    """A registry with the default Pangea family (fast politeness) and a few default outlets."""
    data = yaml.safe_load(DEFAULT_REGISTRY.read_text(encoding="utf-8"))
    family = {**bundled_families()["pangea"], "politeness": {"concurrency": 16, "delay": 0}, **family_changes}
    # An entry gives only what the family uses: a site_id no source needs is refused as unknown.
    used = str(family)
    outlets = [{k: v for k, v in o.items() if k != "site_id" or "{site_id}" in used}
               for o in data["outlets"] if o["id"] in outlet_ids]
    path = tmp_path / "outlets.yml"
    # The mirror is an HTTP proxy on 127.0.0.1: the address every request connects to is loopback.
    path.write_text(yaml.safe_dump({"allow_private_addresses": True, "families": {"pangea": family},
                                    "outlets": outlets}, allow_unicode=True),
                    encoding="utf-8")
    return path


def sitemap_entries(path: Path) -> list[dict]:
    """<url> entries of a sitemap file, read with regexes (not with the crawler's parser)."""
    xml = path.read_bytes()
    if path.suffix == ".gz":
        xml = gzip.decompress(xml)
    entries = []
    for block in re.findall(r"<url>(.*?)</url>", xml.decode("utf-8"), re.S):
        entry = {"url": re.search(r"<loc>(.*?)</loc>", block, re.S).group(1).strip()}
        for tag, name in (("lastmod", "lastmod"), ("news:publication_date", "published"),
                          ("news:title", "title"), ("news:language", "language")):
            found = re.search(f"<{tag}>(.*?)</{tag}>", block, re.S)
            entry[name] = found.group(1).strip() if found else None
        entries.append(entry)
    return entries


def article_id(url_or_path: str) -> str:
    return re.search(r"/(\d+)\.html$", urlsplit(url_or_path).path).group(1)


def article_dates(sitemaps: Path, host: str, site_id: int) -> dict[str, str]:
    """Article id -> its date as the backfill defines it: the Google News publication date,
    else the newest lastmod of any sitemap listing it (archive pages, _latest, _news)."""
    files = [f for f in (sitemaps / host).glob(f"sitemap_{site_id}_*.xml.gz")
             if re.search(r"_(\d+|latest|news)\.xml\.gz$", f.name)]
    lastmods: dict[str, str] = {}
    published: dict[str, str] = {}
    for file in files:
        for entry in sitemap_entries(file):
            key = article_id(entry["url"])
            if entry["published"]:
                published[key] = entry["published"][:19]
            if entry["lastmod"]:
                lastmods[key] = max(lastmods.get(key, ""), entry["lastmod"][:19])
    return {key: published.get(key) or lastmods[key] for key in lastmods.keys() | published.keys()}


def in_window(dates: dict[str, str], since: str, until: str) -> set[str]:
    return {key for key, date in dates.items() if since <= date[:10] <= until}


def article_hits(mirror, host: str) -> Counter:
    """How often each article id was requested from `host` (files, routes and faults)."""
    hits = Counter()
    for key, count in list(mirror.hits.items()):
        if key[0] == host and key[1].startswith("/a/"):
            hits[article_id(key[1])] += count
    return hits


def query(db: Path, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def stored_ids(db: Path, outlet_id: str) -> list[str]:
    return [article_id(url) for (url,) in query(db, "SELECT url FROM raw_pages WHERE outlet_id = ?", outlet_id)]


def stored_count(db: Path) -> int:
    try:
        return query(db, "SELECT count(*) FROM raw_pages")[0][0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def mirror_env(mirror) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    return {**env, **mirror.proxy_env()}


def child_pids(pid: int) -> list[int]:
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if re.search(rf"^PPid:\s+{pid}$", status.read_text(), re.M):
                children.append(int(status.parent.name))
        except OSError:
            continue
    return children


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def slowly(file: Path, seconds: float, content_type: str):
    """A mirror fault that serves `file` after a pause."""
    body = file.read_bytes()

    def serve(handler):
        time.sleep(seconds)
        handler.send_body(200, body, content_type)

    return serve


def slow_articles(page: Path, seconds: float):
    """Every article answered after a pause, so a test can stop a crawl mid-run."""
    return (re.compile(r".*"), re.compile(r"^/a/"), slowly(page, seconds, "text/html; charset=utf-8"))


def fail_503(handler):
    handler.send_body(503, b"Service Unavailable", "text/plain")


# -- registry -------------------------------------------------------------------------------

def test_outlets_lists_every_rferl_service_with_its_sources():
    result = run_mediawatch(["outlets"])
    for outlet_id, (host, language) in RFERL_HOSTS.items():
        assert f"{outlet_id}  " in result.stdout
        assert f"[{language}]  https://{host}/" in result.stdout
        for path in ("sitemap.xml", "_news.xml.gz", "_latest.xml.gz"):
            assert re.search(rf"https://{re.escape(host)}/\S*{re.escape(path)}", result.stdout), (host, path)
        assert f"start_page    https://{host}/  (+ feeds it links to)" in result.stdout
    kazakh = result.stdout.split("azattyq-kk  ")[1].split("\n    incremental")[0]
    assert "deep crawl: 15 3 * * * (last 7 days)" in kazakh
    assert "country: KZ   time zone: Asia/Almaty" in kazakh


def test_registry_site_ids_and_languages_match_the_real_sitemaps(sitemaps):
    """Each outlet's news and latest sitemaps are the ones its sitemap.xml lists, and its
    language is the one its Google News sitemap declares."""
    registry = load_registry()
    assert set(registry.outlets) >= set(RFERL_HOSTS)
    for outlet_id, (host, language) in RFERL_HOSTS.items():
        outlet = registry.outlets[outlet_id]
        assert outlet.languages == (language,)
        listed = set(re.findall(r"<loc>(.*?)</loc>", (sitemaps / host / "sitemap.xml").read_text()))
        incremental = [s.url for s in outlet.sources_for("incremental") if "sitemap" in s.kind]
        assert len(incremental) == 2 and set(incremental) <= listed, outlet_id
        news = next(s.url for s in outlet.sources if s.kind == "news_sitemap")
        declared = {e["language"] for e in sitemap_entries(sitemaps / host / Path(news).name)}
        assert declared <= {language}, (outlet_id, declared)


def test_a_misplaced_children_filter_is_reported_by_name(tmp_path):
    path = tmp_path / "outlets.yml"
    path.write_text(yaml.safe_dump({"outlets": [{
        "id": "x", "name": "X", "homepage": "https://x.example/", "languages": ["en"],
        "article_patterns": ["^/a/"],
        "sources": [{"kind": "feed", "url": "https://x.example/rss", "children": "_news"}],
    }]}))
    with pytest.raises(ConfigError, match=r"outlet 'x': field 'sources\[0\]\.children': expected only on a sitemap_index"):
        load_registry(path)


# -- identity -------------------------------------------------------------------------------

def test_one_pangea_article_under_any_url_is_one_key_and_hosts_never_merge():
    outlets = load_registry().outlets
    kazakh_russian, kazakh = outlets["azattyq-ru"], outlets["azattyq-kk"]
    forms = [
        "https://rus.azattyq.org/a/smi-soobschili-o-sokrascheniyah/33423597.html",
        "https://rus.azattyq.org/a/renamed-slug/33423597.html?utm_source=telegram#comments",
        "http://rus.azattyq.org/a/33423597.html",
        "https://rus.azattyq.org/a/33423597.html?amp=1",
    ]
    assert len({kazakh_russian.article_key(url) for url in forms}) == 1
    assert kazakh_russian.article_key(forms[0]) != kazakh.article_key("https://www.azattyq.org/a/33423597.html")
    assert kazakh_russian.article_key("https://www.azattyq.org/a/33423597.html") is None  # not its host
    assert kazakh_russian.article_key("https://rus.azattyq.org/a/other/33423598.html") != kazakh_russian.article_key(forms[0])
    assert kazakh_russian.article_key("https://rus.azattyq.org/z/360") is None  # a section page


# -- incremental crawl ----------------------------------------------------------------------

def test_incremental_crawl_fetches_exactly_the_new_news_and_latest_urls(tmp_path, sitemaps, mirror_factory,
                                                                         pangea_page):
    host = "rus.azattyq.org"
    news = sitemap_entries(sitemaps / host / "sitemap_6_news.xml.gz")
    latest = sitemap_entries(sitemaps / host / "sitemap_6_latest.xml.gz")
    listed = {article_id(e["url"]) for e in latest + news}
    news_by_id = {article_id(e["url"]): e for e in news}
    news_ids = sorted(news_by_id)
    # Already archived, under other URL forms of the same articles (no slug, tracking query).
    seeded = {article_id(e["url"]) for e in latest[::4]} | {news_ids[0]}
    failing = set(news_ids[1:3]) - seeded  # answered 503: fetch fails, discovery data must stay
    # Answered late with a page that has no title or date. The news sitemap is answered late
    # too, so the request for this page comes from _latest (no title, no date) and the news
    # sitemap's fields, recorded meanwhile, must be used when the page is stored.
    bare = news_ids[3]
    assert bare not in seeded | failing
    bare_page = tmp_path / "bare.html"
    bare_page.write_text("<html><body><article>" + "".join(
        f"<p>Paragraph {n} of a report without any title or byline, long enough to be kept as the "
        f"article body by the extractor, about water, roads and schools in the region.</p>"
        for n in range(8)) + "</article></body></html>", encoding="utf-8")

    registry = write_registry(tmp_path, ["azattyq-ru"])
    db = tmp_path / "archive.db"
    outlet = load_registry(registry).outlets["azattyq-ru"]
    with Archive(db) as archive:
        for key in seeded:
            url = f"https://{host}/a/{key}.html?utm_source=rss"
            page = {"url": url, "url_key": outlet.article_key(url), "final_url": url, "outlet_id": "azattyq-ru",
                    "status": 200, "content_type": "text/html", "encoding": "utf-8", "body": b"<p>seed</p>",
                    "hints": {}}
            archive.store_page(page, {"url": url, "url_key": page["url_key"], "title": "seed", "text": "seed"}, None)

    mirror = mirror_factory(
        sitemaps,
        fallbacks=[pattern_route(r".*", r"^/a/", pangea_page)],
        faults=[(re.compile(re.escape(host)), re.compile(rf"/({'|'.join(failing)})\.html$"), fail_503),
                (re.compile(re.escape(host)), re.compile(r"_news\.xml\.gz$"),
                 slowly(sitemaps / host / "sitemap_6_news.xml.gz", 0.5, "application/x-gzip")),
                (re.compile(re.escape(host)), re.compile(rf"/{bare}\.html$"),
                 slowly(bare_page, 2.0, "text/html; charset=utf-8"))],
    )
    run_mediawatch(["--outlets", str(registry), "--db", str(db), "crawl", "azattyq-ru"], mirror=mirror)

    expected = listed - seeded - failing
    requested = [p for p in mirror.requested(host) if p.startswith("/a/")]  # faults not included
    assert {article_id(p) for p in requested} == expected - {bare}
    assert len(requested) == len(expected) - 1
    hits = article_hits(mirror, host)
    assert all(count == 1 for key, count in hits.items() if key not in failing)
    assert set(hits) == expected | failing

    archived = [article_id(u) for (u,) in query(db, "SELECT url FROM articles WHERE outlet_id = 'azattyq-ru'")]
    assert sorted(archived) == sorted(expected | seeded)

    # Google News fields were stored for every news URL before fetching, failed ones included.
    rows = {article_id(r[0]): r[1:] for r in query(
        db, "SELECT url, title, published, language, state, attempts, last_error FROM frontier")}
    for key, entry in news_by_id.items():
        title, published, language, state, attempts, last_error = rows[key]
        assert title == " ".join(entry["title"].split())
        assert published == entry["published"][:19] + "Z"
        assert language == "ru"
        if key in failing:
            assert (state, attempts) == ("failed", 1) and last_error.startswith("http_503")
        else:
            assert state == "done"
    assert {article_id(u) for (u,) in query(db, "SELECT url FROM frontier")} == listed

    # Where the page said nothing, the news sitemap's title and date were used; the sitemap
    # gives UTC, and the article page shows it in the outlet's time zone (Asia/Almaty).
    title, published, local = query(db, "SELECT title, published, published_local FROM articles WHERE url LIKE ?",
                                    f"%/{bare}.html")[0]
    assert title == " ".join(news_by_id[bare]["title"].split())
    assert published == news_by_id[bare]["published"][:19] + "Z"
    in_almaty = datetime.fromisoformat(published.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Almaty"))
    assert local == in_almaty.isoformat() and local.endswith("+05:00")

    errors = set(query(db, "SELECT kind, url FROM crawl_errors"))
    assert ("http_404", f"https://{host}/") in errors  # no homepage in the mirror
    assert {url for kind, url in errors if kind == "http_503"} == {
        e["url"] for e in latest + news if article_id(e["url"]) in failing}


# -- missing and broken sources -------------------------------------------------------------

def test_missing_sitemaps_broken_feeds_and_dead_hosts_are_recorded_and_the_crawl_goes_on(
        tmp_path, sitemaps, mirror_factory, pangea_page):
    host = "rus.azattyk.org"  # an empty Google News sitemap, 85 URLs in _latest
    feed_items = ["/a/new-slug/33000001.html", "/a/33000002.html?utm_source=rss"]
    homepage = tmp_path / "index.html"
    homepage.write_text(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/api/broken">'
        '<link rel="alternate" type="application/rss+xml" href="/api/good"></head><body>'
        '<a href="/a/first-slug/33000001.html">one</a> <a href="/a/33000003.html?ref=home">three</a>'
        '<a href="/z/360">a section</a></body></html>', encoding="utf-8")
    good_feed = tmp_path / "good.rss"
    good_feed.write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>' + "".join(
        f"<item><title>Item</title><link>https://{host}{path}</link></item>" for path in feed_items)
        + "</channel></rss>", encoding="utf-8")
    broken_feed = tmp_path / "broken.rss"
    broken_feed.write_text('<?xml version="1.0"?><rss version="2.0"><channel><item><link>oops</channel>',
                           encoding="utf-8")
    mirror = mirror_factory(
        sitemaps,
        fallbacks=[pattern_route(re.escape(host), r"^/$", homepage),
                   pattern_route(re.escape(host), r"^/api/good$", good_feed),
                   pattern_route(re.escape(host), r"^/api/broken$", broken_feed),
                   pattern_route(r".*", r"^/a/", pangea_page)],
        dead_hosts=("www.azattyq.org",),
    )
    registry = write_registry(tmp_path, ["azattyk-ru", "azattyq-kk", "rferl"])
    db = tmp_path / "archive.db"

    result = run_mediawatch(["--outlets", str(registry), "--db", str(db), "crawl", "azattyk-ru", "azattyq-kk"],
                            mirror=mirror, check=False)
    assert result.returncode == 1  # one outlet could not be crawled at all
    runs = dict(query(db, "SELECT outlet_id, status FROM crawl_runs"))
    assert runs == {"azattyk-ru": "ok", "azattyq-kk": "failed"}
    dead_errors = query(db, "SELECT url FROM crawl_errors WHERE outlet_id = 'azattyq-kk'")
    assert {url for (url,) in dead_errors} == {
        "https://www.azattyq.org/sitemap_5_news.xml.gz", "https://www.azattyq.org/sitemap_5_latest.xml.gz",
        "https://www.azattyq.org/"}
    assert query(db, "SELECT kind FROM crawl_errors WHERE url = ?", f"https://{host}/api/broken") == [("bad_feed",)]
    latest = {article_id(e["url"]) for e in sitemap_entries(sitemaps / host / "sitemap_37_latest.xml.gz")}
    expected = latest | {"33000001", "33000002", "33000003"}
    assert sorted(stored_ids(db, "azattyk-ru")) == sorted(expected)
    assert sorted(article_id(p) for p in mirror.requested(host) if p.startswith("/a/")) == sorted(expected)

    # www.rferl.org's sitemap.xml lists archive pages the shared copy lacks: each is a 404
    # error, and the pages that do exist are still read and fetched from.
    listed = re.findall(r"<loc>(.*?)</loc>", (sitemaps / "www.rferl.org" / "sitemap.xml").read_text())
    archive_pages = [u for u in listed if re.search(r"_\d+\.xml\.gz$", u)]
    missing = {u for u in archive_pages if not (sitemaps / "www.rferl.org" / Path(u).name).exists()}
    assert missing and len(missing) < len(archive_pages)
    result = run_mediawatch(["--outlets", str(registry), "--db", str(db), "backfill", "rferl", "--limit", "3"],
                            mirror=mirror)
    errors = query(db, "SELECT kind, url FROM crawl_errors WHERE outlet_id = 'rferl'")
    assert {url for kind, url in errors if kind == "http_404"} == missing
    assert not [url for kind, url in errors if kind != "http_404"]
    present = [sitemaps / "www.rferl.org" / n for n in
               ("sitemap_8_10.xml.gz", "sitemap_8_latest.xml.gz", "sitemap_8_news.xml.gz")]
    known = {article_id(e["url"]) for f in present for e in sitemap_entries(f)}
    assert {article_id(u) for (u,) in query(db, "SELECT url FROM frontier WHERE outlet_id = 'rferl'")} == known
    assert len(stored_ids(db, "rferl")) == 3
    assert f"rferl: {len(known)} article URLs known (3 done, {len(known) - 3} queued)" in result.stdout


# -- backfill -------------------------------------------------------------------------------

def test_backfill_fetches_exactly_the_window_once(tmp_path, sitemaps, mirror_factory, pangea_page):
    dates = article_dates(sitemaps, SMALL_HOST, SMALL_SITE)
    expected = in_window(dates, *WINDOW)
    assert 40 < len(expected) < 200
    mirror = mirror_factory(sitemaps, fallbacks=[pattern_route(r".*", r"^/a/", pangea_page)])
    registry, db = write_registry(tmp_path, [SMALL_OUTLET]), tmp_path / "archive.db"
    args = ["--outlets", str(registry), "--db", str(db), "backfill", SMALL_OUTLET,
            "--since", WINDOW[0], "--until", WINDOW[1]]

    first = run_mediawatch(args, mirror=mirror)
    assert article_hits(mirror, SMALL_HOST) == Counter({key: 1 for key in expected})
    assert sorted(stored_ids(db, SMALL_OUTLET)) == sorted(expected)
    assert f"{len(expected)} new articles stored" in first.stdout
    assert f"{len(dates)} article URLs known ({len(expected)} done, {len(dates) - len(expected)} queued)" \
        in first.stdout
    assert "fetching: 100%" in first.stderr  # the progress bar

    second = run_mediawatch(args, mirror=mirror)
    assert article_hits(mirror, SMALL_HOST) == Counter({key: 1 for key in expected})
    assert "0 new articles stored, 0 errors" in second.stdout
    assert query(db, "SELECT status, pages_fetched FROM crawl_runs ORDER BY id") == [
        ("ok", len(expected)), ("ok", 0)]


def test_backfill_goes_newest_first_and_resumes_after_a_limit(tmp_path, sitemaps, mirror_factory, pangea_page):
    dates = article_dates(sitemaps, SMALL_HOST, SMALL_SITE)
    newest = sorted(dates, key=dates.get, reverse=True)
    assert dates[newest[24]] != dates[newest[25]]
    mirror = mirror_factory(sitemaps, fallbacks=[pattern_route(r".*", r"^/a/", pangea_page)])
    registry, db = write_registry(tmp_path, [SMALL_OUTLET]), tmp_path / "archive.db"
    base = ["--outlets", str(registry), "--db", str(db), "backfill", SMALL_OUTLET]

    run_mediawatch([*base, "--limit", "25"], mirror=mirror)
    assert set(stored_ids(db, SMALL_OUTLET)) == set(newest[:25])

    expected = in_window(dates, *WINDOW)
    run_mediawatch([*base, "--since", WINDOW[0], "--until", WINDOW[1], "--limit", "30"], mirror=mirror)
    run_mediawatch([*base, "--since", WINDOW[0], "--until", WINDOW[1]], mirror=mirror)
    assert article_hits(mirror, SMALL_HOST) == Counter({key: 1 for key in set(newest[:25]) | expected})
    window_runs = query(db, "SELECT pages_fetched FROM crawl_runs ORDER BY id")[1:]
    assert window_runs == [(30,), (len(expected) - 30,)]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_backfill_stopped_mid_run_resumes_without_gaps_or_duplicates(stop, tmp_path, sitemaps, mirror_factory,
                                                                        pangea_page):
    dates = article_dates(sitemaps, SMALL_HOST, SMALL_SITE)
    expected = in_window(dates, *WINDOW)
    # Pages come slowly enough (at most 4 at a time, 0.4 s each) to stop the run in the middle
    # even when extraction is slow on a loaded machine.
    mirror = mirror_factory(sitemaps, faults=[slow_articles(pangea_page, 0.4)])
    registry = write_registry(tmp_path, [SMALL_OUTLET], politeness={"concurrency": 4, "delay": 0})
    db = tmp_path / "archive.db"
    args = ["--outlets", str(registry), "--db", str(db), "backfill", SMALL_OUTLET,
            "--since", WINDOW[0], "--until", WINDOW[1]]

    crawler = subprocess.Popen([sys.executable, "-m", "scraper.cli", *args], env=mirror_env(mirror),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: stored_count(db) >= 15, 90, "15 stored pages")
        workers = child_pids(crawler.pid)
        crawler.send_signal(stop)
        crawler.wait(timeout=60)
    finally:
        if crawler.poll() is None:
            crawler.kill()
            crawler.wait()
    before = stored_ids(db, SMALL_OUTLET)
    assert 15 <= len(before) < len(expected)
    hits_before = article_hits(mirror, SMALL_HOST)
    # Extraction workers do not outlive the crawler, however it ended.
    wait_until(lambda: not [pid for pid in workers if Path(f"/proc/{pid}").exists()], 20, "workers to exit")

    run_mediawatch(args, mirror=mirror)
    after = stored_ids(db, SMALL_OUTLET)
    assert sorted(after) == sorted(expected)  # no gaps, no duplicate rows
    hits = article_hits(mirror, SMALL_HOST)
    assert all(hits[key] == 1 for key in before)  # what was stored is never fetched again
    # Only pages in flight when the process stopped (fetched, not yet stored) come twice.
    refetched = [key for key, count in hits.items() if count > 1]
    assert set(refetched) <= set(hits_before) - set(before)
    assert set(hits) == expected
    statuses = [status for (status,) in query(db, "SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses == ["interrupted", "ok"]


# -- languages ------------------------------------------------------------------------------

def test_each_outlet_stores_its_language_when_the_page_declares_none(tmp_path, sitemaps, mirror_factory,
                                                                    silent_page):
    # Homepages listing two articles each from the outlet's _latest sitemap; no sitemaps read.
    routes = []
    for outlet_id, (host, _) in RFERL_HOSTS.items():
        urls = [e["url"] for e in sitemap_entries(next((sitemaps / host).glob("sitemap_*_latest.xml.gz")))[:2]]
        homepage = tmp_path / f"{host}.html"
        homepage.write_text("<html><body>" + "".join(f'<a href="{u}">x</a>' for u in urls) + "</body></html>",
                            encoding="utf-8")
        routes.append(pattern_route(re.escape(host), r"^/$", homepage))
    mirror = mirror_factory(sitemaps, fallbacks=[*routes, pattern_route(r".*", r"^/a/", silent_page)])
    registry = write_registry(tmp_path, list(RFERL_HOSTS),
                              sources=[{"kind": "start_page", "url": "https://{host}/"}])
    db = tmp_path / "archive.db"
    run_mediawatch(["--outlets", str(registry), "--db", str(db), "crawl"], mirror=mirror)

    languages = query(db, "SELECT outlet_id, language, count(*) FROM articles GROUP BY outlet_id, language")
    assert sorted(languages) == sorted((outlet_id, language, 2) for outlet_id, (_, language) in RFERL_HOSTS.items())
