"""What analysts and researchers see: ranked search, facets, reading, alerts, full exports.

The archive is a real demo crawl plus 1,200 synthetic Kazakh articles (so a search has more
than 1,000 matches) and one hostile page. Browser tests drive Debian's Chromium through
Playwright against a real `mediawatch serve` process and save screenshots to docs/.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from archive.serve import datasette_app
from archive.store import Archive, utcnow
from scraper.config import load_registry
from tests.conftest import DEMO_DATA, REPO, run_mediawatch

SYNTHETIC = 1200
QUERY = "Назарбаев"
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def add_synthetic_articles(db: Path) -> None:
    with Archive(db) as archive:
        archive.sync_outlets(load_registry().select(["azattyq-kk", "azattyq-ru"]))
        now = utcnow()
        rows = []
        for n in range(SYNTHETIC):
            outlet, language = ("azattyq-kk", "kk") if n % 3 else ("azattyq-ru", "ru")
            text = (f"Алматыда өткен жиында {n}-шы сөз сөйленді. Экономика мен саясат туралы әңгіме болды.\n\n"
                    + "Сарапшылар бағаны талқылады. " * 20 + f"Бұрынғы президент {QUERY} туралы да айтылды.")
            rows.append((f"https://www.azattyq.org/a/{33000000 + n}.html", f"www.azattyq.org/#{33000000 + n}",
                         outlet, f"Жаңалық №{n}: экономика", text, language,
                         f"20{10 + n % 15:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}T08:00:00Z", now, now, now))
        rows.append(("https://www.azattyq.org/a/34000000.html", "www.azattyq.org/#34000000", "azattyq-kk",
                     f"{QUERY} кітапханасы ашылды", f"{QUERY} кітапханасы Астанада ашылды.\n\n"
                     f"Кітапханада {QUERY} туралы кітаптар мен {QUERY} мұрағаты бар. Қазақстанның тұңғыш президенті.",
                     "kk", "2025-05-20T09:30:00Z", now, now, now))
        rows.append(("https://www.azattyq.org/a/34000001.html", "www.azattyq.org/#34000001", "azattyq-kk",
                     "<script>window.__xss = 1</script>Хабар", "Мәтін <img src=x onerror=\"window.__xss = 2\"> ішінде.\n\n"
                     + "Екінші абзац. " * 10, "kk", "2025-05-21T09:30:00Z", now, now, now))
        with archive.write() as conn:
            conn.executemany(
                "INSERT INTO articles (url, url_key, outlet_id, title, text, language, published, first_seen,"
                " fetched_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory):
    from scraper.mirror import MirrorConfig, MirrorServer

    db = tmp_path_factory.mktemp("analysts") / "archive.db"
    mirror = MirrorServer(MirrorConfig(root=DEMO_DATA / "site")).start()
    try:
        run_mediawatch(["--outlets", str(DEMO_DATA / "outlets.yml"), "--db", str(db), "crawl"], mirror=mirror)
    finally:
        mirror.stop()
    add_synthetic_articles(db)
    return db


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(archive_db):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "scraper.cli", "serve", str(archive_db), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=2)
            break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(f"mediawatch serve did not start: {process.stdout.read().decode()[-2000:]}")
    yield base
    process.terminate()
    process.wait(timeout=30)


# -- through Datasette's test client -----------------------------------------------------------


async def test_ranked_search_puts_the_most_relevant_article_first(archive_db):
    rows = (await datasette_app(archive_db).client.get(f"/archive/search.json?q={quote(QUERY)}&_shape=array")).json()
    assert len(rows) == 100  # the page shows the best 100 of 1,201 matches
    assert rows[0]["title"] == f"{QUERY} кітапханасы ашылды"
    assert "[[Назарбаев]]" in rows[0]["snippet"] and rows[0]["outlet"] == "Азаттық радиосы"


async def test_search_is_case_insensitive_and_supports_prefix_phrase_or_not(archive_db):
    client = datasette_app(archive_db).client

    async def titles(q, **filters):
        params = "&".join(f"{k}={quote(str(v))}" for k, v in {"q": q, **filters}.items())
        return [r["title"] for r in (await client.get(f"/archive/search.json?{params}&_shape=array")).json()]

    assert (await titles("НАЗАРБАЕВ КІТАПХАНАСЫ")) == [f"{QUERY} кітапханасы ашылды"]
    assert (await titles("кітапхана*")) == [f"{QUERY} кітапханасы ашылды"]
    assert (await titles('"тұңғыш президенті"')) == [f"{QUERY} кітапханасы ашылды"]
    assert len(await titles("тұңғыш OR троннинг")) == 2
    assert (await titles("Назарбаев NOT Сарапшылар")) == [f"{QUERY} кітапханасы ашылды"]
    assert len(await titles(QUERY, outlet="azattyq-ru")) == 100
    assert (await titles(QUERY, language="kk", published_from="2025-05-20", published_until="2025-05-20")) == [
        f"{QUERY} кітапханасы ашылды"]
    assert (await titles('"еще накануне"')) == ["Легкий троннинг"]
    assert (await titles("Cafe")) == (await titles("Café"))  # Latin accents fold
    assert (await titles("Azeredo", language="en"))[0] == "Brazil: Amplified conversations to fight the Digital Crimes Bill"


async def test_full_csv_and_json_export_of_a_search_has_every_row(archive_db):
    client = datasette_app(archive_db).client
    response = await client.get(f"/archive/articles.csv?_search={quote(QUERY)}&_stream=on&_size=max")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == SYNTHETIC + 1
    filtered = await client.get(f"/archive/articles.csv?_search={quote(QUERY)}&language=ru&_stream=on")
    assert len(list(csv.DictReader(io.StringIO(filtered.text)))) == SYNTHETIC // 3
    # JSON is paginated (Datasette 0.65 streams only CSV): follow next_url to the end.
    url, collected = f"/archive/articles.json?_search={quote(QUERY)}&_size=max&_col=title", []
    while url:
        page = (await client.get(url)).json()
        collected += page["rows"]
        url = page["next_url"] and page["next_url"].split("localhost", 1)[-1]
    assert len(collected) == SYNTHETIC + 1 and len({row[0] for row in collected}) == SYNTHETIC + 1


async def test_alert_feed_lists_new_matches(archive_db):
    response = await datasette_app(archive_db).client.get("/archive/alerts.atom?q=кітапхана*")
    assert response.status_code == 200 and "<feed" in response.text
    assert response.text.count("<entry>") == 1 and "кітапханасы ашылды" in response.text


async def test_browse_facets_by_outlet_language_and_month(archive_db):
    data = (await datasette_app(archive_db).client.get("/archive/articles.json?_size=0")).json()
    facets = data["facet_results"]
    assert {"outlet_id", "language", "published_month"} <= set(facets)
    outlet_labels = {f["label"] for f in facets["outlet_id"]["results"]}
    assert "Азаттық радиосы" in outlet_labels and "Коммерсантъ" in outlet_labels


async def test_archived_html_is_never_rendered(archive_db):
    client = datasette_app(archive_db).client
    article_id = (await client.get("/archive/articles.json?url=https://www.azattyq.org/a/34000001.html&_shape=array")).json()[0]["id"]
    page = (await client.get(f"/archive/articles/{article_id}")).text
    assert "<script>window.__xss" not in page and "&lt;script&gt;window.__xss" in page
    assert "<img src=x" not in page
    listing = (await client.get("/archive")).text
    assert "raw_pages" not in listing.split("hidden tables")[0]


async def test_dashboard_data_comes_from_canned_queries_with_sql_off(archive_db):
    client = datasette_app(archive_db).client
    assert (await client.get("/archive.json?sql=select+1")).status_code == 403
    page = await client.get("/-/dashboard")
    assert page.status_code == 200 and "Articles per day, per outlet" in page.text
    per_language = (await client.get("/archive/dashboard_articles_per_language.json?_shape=array")).json()
    assert {r["language"]: r["articles"] for r in per_language}["kk"] == SYNTHETIC - SYNTHETIC // 3 + 2
    ranged = (await client.get("/archive/dashboard_articles_per_day.json?_shape=array"
                               "&date_start=2025-05-20&date_end=2025-05-21")).json()
    assert sum(r["articles"] for r in ranged) == 2


async def test_robots_are_blocked(archive_db):
    assert "Disallow: /" in (await datasette_app(archive_db).client.get("/robots.txt")).text


# -- in a real browser ---------------------------------------------------------------------------

browser_only = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@browser_only
def test_browser_search_shows_the_right_article_first_highlighted(server, page):
    page.goto(f"{server}/archive/search?q={quote(QUERY)}")
    first_row = page.locator("table.rows-and-columns tbody tr").first
    assert f"{QUERY} кітапханасы ашылды" in first_row.inner_text()
    assert first_row.locator("mark").first.inner_text() == QUERY
    assert page.locator("text=Query syntax").count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search.png"))
    first_row.locator("a", has_text="read").click()
    page.wait_for_load_state()
    assert page.locator("article.mediawatch-article h1").inner_text() == f"{QUERY} кітапханасы ашылды"
    paragraphs = page.locator(".mediawatch-text p")
    assert paragraphs.count() == 2 and "Астанада ашылды" in paragraphs.first.inner_text()
    assert page.locator("a.mediawatch-original").get_attribute("href") == "https://www.azattyq.org/a/34000000.html"


@browser_only
def test_browser_reads_a_real_article(server, page):
    page.goto(f"{server}/archive/search?q=троннинг")
    page.locator("table.rows-and-columns tbody tr").first.locator("a", has_text="read").click()
    page.wait_for_load_state()
    assert page.locator(".mediawatch-text p").count() > 5
    page.screenshot(path=str(SCREENSHOTS / "article.png"), full_page=False)


@browser_only
def test_browser_filters_by_outlet_facet(server, page):
    page.goto(f"{server}/archive/articles")
    page.locator(".facet-info a", has_text="Коммерсантъ").first.click()
    page.wait_for_load_state()
    assert "outlet_id=kommersant" in page.url
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1 and "Легкий троннинг" in rows.first.inner_text()


@browser_only
def test_browser_hostile_article_runs_no_script(server, page):
    page.goto(f"{server}/archive/articles?url=https://www.azattyq.org/a/34000001.html")
    page.locator("table.rows-and-columns tbody tr").first.locator("td a").first.click()
    page.wait_for_load_state()
    assert page.evaluate("window.__xss") is None
    assert "<script>window.__xss = 1</script>Хабар" in page.locator("article.mediawatch-article h1").inner_text()


@browser_only
def test_browser_full_csv_export_of_a_search_with_over_1000_matches(server, page):
    response = page.request.get(f"{server}/archive/articles.csv?_search={quote(QUERY)}&_stream=on&_size=max")
    assert response.ok
    assert len(list(csv.DictReader(io.StringIO(response.text())))) == SYNTHETIC + 1


@browser_only
def test_browser_dashboard_draws_charts(server, page):
    page.goto(f"{server}/-/dashboard")
    page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=30000)
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 3")
    total = page.locator(".mw-card", has_text="Articles archived")
    page.wait_for_function("!document.querySelector('.mw-metric').textContent.includes('…')")
    assert f"{SYNTHETIC + 2 + 18:,}" in total.inner_text()
    box_total, box_chart = total.bounding_box(), page.locator(".mw-card", has_text="Articles per day").bounding_box()
    assert box_total["y"] + box_total["height"] <= box_chart["y"], "cards must not overlap"
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
