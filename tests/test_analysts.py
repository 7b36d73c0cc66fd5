"""What analysts and researchers see: ranked search, facets, reading, alerts, full exports.

The archive is a real demo crawl plus 1,200 synthetic Kazakh articles (so a search has more
than 1,000 matches) and one hostile page. Browser tests drive Debian's Chromium through
Playwright against a real `mediawatch serve` process and save screenshots to docs/.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from archive.web.serve import datasette_app
from archive.store import Archive
from scraper.registry.config import load_registry
from scraper.registry.urls import url_key
from tests.conftest import DEMO_DATA, run_mediawatch, served_archive

SYNTHETIC = 1200
QUERY = "Назарбаев"
# Not "archive": the metadata is written for a database called archive and must follow the file.
DB = "newsroom"
# The README's screenshots are refreshed on request (MEDIAWATCH_SCREENSHOTS=docs/screenshots):
# an ordinary test run must not leave the checkout modified.
SCREENSHOTS = Path(os.environ.get("MEDIAWATCH_SCREENSHOTS") or tempfile.mkdtemp(prefix="mediawatch-screenshots-"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
LIBRARY = f"{QUERY} кітапханасы ашылды"
HOSTILE_URL = "https://www.azattyq.org/a/34000001.html"
# Articles about Tokayev in the forms and scripts each outlet writes him, and look-alikes that
# must not be found by a search for him.
TOKAYEV_FORMS = {
    ("azattyq-kk", "kk"): ["Тоқаев", "Тоқаевтың", "Тоқаевқа", "Тоқаевпен", "Тоқаевты"],
    ("azattyq-ru", "ru"): ["Токаев", "Токаева", "Токаеву", "Токаевым", "Токаеве"],
    ("rferl", "en"): ["Tokayev", "Tokayev's", "Toqaev"],
}
TOKAYEV_PER_OUTLET = {"azattyq-kk": 100, "azattyq-ru": 100, "rferl": 60}
TOKAYEV = sum(TOKAYEV_PER_OUTLET.values()) + 2  # and the two articles below with Тоқаев / Токаев
LOOKALIKES = ["Токарев выступил в Думе", "Сила тока в сети упала", "Токай — венгерское вино"]


def synthetic_articles() -> list[tuple[str, dict]]:
    """(outlet id, extraction record) for 1,200 generated Kazakh and Russian articles that
    mention QUERY in passing, one that is about it, one hostile page, and one person spelled
    the Kazakh and the Russian way."""
    articles = []
    for n in range(SYNTHETIC):
        outlet, language = ("azattyq-kk", "kk") if n % 3 else ("azattyq-ru", "ru")
        text = (f"Алматыда өткен жиында {n}-шы сөз сөйленді. Экономика мен саясат туралы әңгіме болды.\n\n"
                + "Сарапшылар бағаны талқылады. " * 20 + f"Бұрынғы президент {QUERY} туралы да айтылды.")
        articles.append((outlet, {"id": 33000000 + n, "title": f"Жаңалық №{n}: экономика", "text": text,
                                  "language": language,
                                  "published": f"20{10 + n % 15:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}T08:00:00Z"}))
    n = 36000000
    for (outlet, language), forms in TOKAYEV_FORMS.items():
        for k in range(TOKAYEV_PER_OUTLET[outlet]):
            form = forms[k % len(forms)]
            text = {"kk": f"Бүгін {form} жиында сөз сөйледі. Мәжіліс отырысы {k} рет өтті.",
                    "ru": f"Сегодня {form} выступил на заседании. Совещание номер {k} прошло в Астане.",
                    "en": f"On Monday {form} spoke at a cabinet meeting, number {k} this year."}[language]
            articles.append((outlet, {"id": n, "title": f"{form}: {k}", "text": text, "language": language,
                                      "published": f"2024-{1 + k % 12:02d}-{1 + k % 28:02d}T{k % 24:02d}:15:00Z"}))
            n += 1
    for title in LOOKALIKES:
        articles.append(("azattyq-ru", {"id": n, "title": title, "text": title + ". Подробности позже.",
                                        "language": "ru", "published": "2024-06-01T10:00:00Z"}))
        n += 1
    articles += [
        ("azattyq-kk", {"id": 34000000, "title": LIBRARY, "language": "kk", "published": "2025-05-20T09:30:00Z",
                        "text": f"{QUERY} кітапханасы Астанада ашылды.\n\nКітапханада {QUERY} туралы кітаптар мен "
                                f"{QUERY} мұрағаты бар. Қазақстанның тұңғыш президенті."}),
        ("azattyq-kk", {"id": 34000001, "title": "<script>window.__xss = 1</script>Хабар", "language": "kk",
                        "published": "2025-05-21T09:30:00Z",
                        "text": 'Мәтін <img src=x onerror="window.__xss = 2"> ішінде.\n\n' + "Екінші абзац. " * 10}),
        ("azattyq-kk", {"id": 34000002, "title": "Тоқаев Үкімет отырысын өткізді", "language": "kk",
                        "published": "2025-06-01T10:00:00Z", "text": "Президент Тоқаев бүгін Үкімет мүшелерімен кездесті."}),
        ("azattyq-ru", {"id": 34000003, "title": "Токаев провёл заседание правительства", "language": "ru",
                        "published": "2025-06-01T11:00:00Z", "text": "Президент Токаев сегодня встретился с Семёновым."}),
    ]
    return articles


def add_synthetic_articles(db: Path) -> None:
    """Store the synthetic articles the way the crawler does (Archive.store_page), so every
    trigger and index sees them as it sees crawled ones."""
    with Archive(db) as archive:
        archive.sync_outlets(load_registry().select(["azattyq-kk", "azattyq-ru", "rferl"]))
        for outlet, record in synthetic_articles():
            host = "www.rferl.org" if outlet == "rferl" else "www.azattyq.org"
            url = f"https://{host}/a/{record.pop('id')}.html"
            key = url_key(url, re.compile(r"/a/(\d+)"))
            page = {"url_key": key, "url": url, "final_url": url, "outlet_id": outlet, "status": 200,
                    "content_type": "text/html", "encoding": "utf-8", "hints": {},
                    "body": f"<html><title>{record['title']}</title><body>{record['text']}</body></html>".encode()}
            assert archive.store_page(page, {**record, "url": url, "url_key": key}, None) == "new"


@pytest.fixture(scope="module")
def archive_db(tmp_path_factory):
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    db = tmp_path_factory.mktemp("analysts") / f"{DB}.db"
    # The demo_mirror fixture is per test; this archive is shared by the module.
    mirror = MirrorServer(MirrorConfig(root=DEMO_DATA / "site")).start()
    try:
        run_mediawatch(["--outlets", str(DEMO_DATA / "outlets.yml"), "--db", str(db), "crawl"], mirror=mirror)
    finally:
        mirror.stop()
    add_synthetic_articles(db)
    return db


@pytest.fixture(scope="module")
def server(archive_db):
    with served_archive(archive_db) as base:
        yield base


# -- through Datasette's test client -----------------------------------------------------------


async def search_json(client, q, **args) -> dict:
    response = await client.get(f"/{DB}/search.json?" + urlencode({"q": q, **args}))
    assert response.status_code == 200, response.text
    return response.json()


async def titles(client, q, **args) -> list[str]:
    return [row["title"] for row in (await search_json(client, q, **args))["rows"]]


async def test_ranked_search_puts_the_most_relevant_article_first(archive_db):
    found = await search_json(datasette_app(archive_db).client, QUERY)
    assert found["total"] == SYNTHETIC + 1 and len(found["rows"]) == 100  # the best 100 of 1,201
    first = found["rows"][0]
    assert first["title"] == LIBRARY and "[[Назарбаев]]" in first["snippet"] and first["outlet"] == "Азаттық радиосы"
    assert first["url"] == "https://www.azattyq.org/a/34000000.html" and first["archived"].startswith(f"/{DB}/articles/")


async def test_search_is_case_insensitive_and_supports_prefix_phrase_or_not(archive_db):
    client = datasette_app(archive_db).client
    assert (await titles(client, "НАЗАРБАЕВ КІТАПХАНАСЫ")) == [LIBRARY]
    assert (await titles(client, "кітапхана*")) == [LIBRARY]
    assert (await titles(client, '"тұңғыш президенті"')) == [LIBRARY]
    assert len(await titles(client, "тұңғыш OR троннинг")) == 2
    assert (await titles(client, "Назарбаев NOT Сарапшылар")) == [LIBRARY]
    assert (await titles(client, "Назарбаев -Сарапшылар")) == [LIBRARY]
    assert len(await titles(client, QUERY, outlet="azattyq-ru")) == 100
    assert (await titles(client, QUERY, language="kk", published_from="2025-05-20", published_until="2025-05-20")) == [LIBRARY]
    assert (await titles(client, '"еще накануне"')) == ["Легкий троннинг"]
    assert (await titles(client, "Cafe")) == (await titles(client, "Café"))  # Latin accents fold
    assert (await titles(client, "Azeredo", language="en"))[0] == "Brazil: Amplified conversations to fight the Digital Crimes Bill"


async def test_one_plain_query_finds_a_name_in_every_form_and_script_and_no_lookalike(archive_db):
    client = datasette_app(archive_db).client
    for q in ("Токаев", "Тоқаев", "ТОКАЕВ", "Tokayev", "Toqaev"):
        found = await search_json(client, q, sort="newest")
        assert found["total"] == TOKAYEV, q
        assert {row["language"] for row in found["rows"]} == {"kk", "ru", "en"}, q
    pages = [await search_json(client, "Токаев", page=n) for n in (1, 2, 3)]
    rows = [row for page in pages for row in page["rows"]]
    assert len(rows) == TOKAYEV and len({row["id"] for row in rows}) == TOKAYEV
    # Each article is highlighted on the form it uses.
    marked = {row["snippet"].split("]]")[0].split("[[")[-1] for row in rows}
    assert {form.split("'")[0] for forms in TOKAYEV_FORMS.values() for form in forms} <= marked
    assert not set(LOOKALIKES) & {row["title"] for row in rows}
    # Quotes: this form only.
    assert {row["title"].split(":")[0] for row in (await search_json(client, '"Токаевым"'))["rows"]} == {"Токаевым"}
    assert (await search_json(client, "Семеновым"))["rows"][0]["title"] == "Токаев провёл заседание правительства"
    assert len((await search_json(client, "укимет"))["rows"]) == 1  # Үкімет


async def test_counts_per_outlet_and_language_and_matches_over_time(archive_db):
    found = await search_json(datasette_app(archive_db).client, "Токаев")
    outlets = {facet["value"]: facet["count"] for facet in found["facets"]["outlet"]}
    assert outlets == {"azattyq-kk": 101, "azattyq-ru": 101, "rferl": 60}
    assert {facet["value"]: facet["count"] for facet in found["facets"]["language"]} == {"kk": 101, "ru": 101, "en": 60}
    assert sum(period["matches"] for period in found["periods"]) == TOKAYEV
    assert [p["period"] for p in found["periods"]][:2] == ["2024-01", "2024-02"]


async def test_bad_syntax_gets_a_friendly_line_and_the_empty_page_opens_clean(archive_db):
    client = datasette_app(archive_db).client
    empty = await client.get(f"/{DB}/search")
    assert empty.status_code == 200 and 'name="q" value=""' in empty.text and 'role="alert"' not in empty.text
    for q, says in (('"Токаев', "quotation mark is not closed"), ("Токаев OR", "OR needs a word on both sides"),
                    ("O* OR O* OR O*", "at least 3 letters"), ("(Токаев", "bracket is not closed"),
                    ("NOT Путин", "NOT needs a word before it"), ("x " * 200, "too long")):
        response = await client.get(f"/{DB}/search?" + urlencode({"q": q}))
        assert response.status_code == 400 and says in html.unescape(response.text), q
        assert "fts5" not in response.text and "syntax error" not in response.text
    bad_date = await client.get(f"/{DB}/search?" + urlencode({"q": QUERY, "published_until": "20.05.2025"}))
    assert "published_until must be a date as YYYY-MM-DD, not &#39;20.05.2025&#39;" in bad_date.text


def export_links(search_page: str) -> dict[str, str]:
    """The links the search page offers for every match, by kind (csv, json, table) and its feed."""
    links = {kind: html.unescape(href) for kind, href in
             re.findall(r'class="mw-export-(\w+)" href="([^"]+)"', search_page)}
    feed = re.search(r'class="mw-feed" href="([^"]+)"', search_page)
    return {**links, **({"atom": html.unescape(feed[1])} if feed else {})}


async def test_search_page_links_to_a_full_export_of_the_same_search(archive_db):
    client = datasette_app(archive_db).client
    page = (await client.get(f"/{DB}/search?q={quote(QUERY)}&language=ru")).text
    assert f"<strong>{SYNTHETIC // 3:,}</strong> articles match" in page
    links = export_links(page)
    rows = list(csv.DictReader(io.StringIO((await client.get(links["csv"])).text)))
    assert len(rows) == SYNTHETIC // 3 and {r["language"] for r in rows} == {"ru"}
    dated = export_links((await client.get(
        f"/{DB}/search?q={quote(QUERY)}&published_from=2025-05-20&published_until=2025-05-20")).text)
    assert [r["title"] for r in csv.DictReader(io.StringIO((await client.get(dated["csv"])).text))] == [LIBRARY]


async def test_table_search_and_its_exports_find_what_the_search_page_finds(archive_db):
    client = datasette_app(archive_db).client
    page_ids = set()
    for n in (1, 2, 3):
        page_ids |= {row["id"] for row in (await search_json(client, "Токаев", page=n))["rows"]}
    links = export_links((await client.get(f"/{DB}/search?q={quote('Токаев')}")).text)
    exported = list(csv.DictReader(io.StringIO((await client.get(links["csv"])).text)))
    assert {int(r["id"]) for r in exported} == page_ids and len(exported) == TOKAYEV
    # The URL docs/analysts.md gives for curl, and the table's own search box.
    response = await client.get(f"/{DB}/articles.csv?_search={quote('Tokayev')}&_stream=on&_size=max")
    assert {int(r["id"]) for r in csv.DictReader(io.StringIO(response.text))} == page_ids
    table = await client.get(f"/{DB}/articles?_search={quote('Токаев')}")
    assert f"{TOKAYEV} rows" in table.text and 'value="Токаев"' in table.text
    filtered = await client.get(f"/{DB}/articles.csv?_search={quote(QUERY)}&language=ru&_stream=on")
    assert len(list(csv.DictReader(io.StringIO(filtered.text)))) == SYNTHETIC // 3
    # JSON is paginated (Datasette 0.65 streams only CSV): follow next_url to the end.
    url, collected = links["json"] + "&_col=title", []
    while url:
        page = (await client.get(url)).json()
        collected += page["rows"]
        url = page["next_url"] and page["next_url"].split("localhost", 1)[-1]
    assert {row[0] for row in collected} == page_ids
    bad = await client.get(f"/{DB}/articles?_search={quote('Токаев OR')}")
    assert bad.status_code == 400 and "OR needs a word on both sides" in html.unescape(bad.text)


async def test_alert_feed_lists_the_newest_matches_of_the_same_search(archive_db):
    client = datasette_app(archive_db).client
    response = await client.get(f"/{DB}/alerts.atom?q=кітапхана*")
    assert response.status_code == 200 and "<feed" in response.text
    assert response.text.count("<entry>") == 1 and "кітапханасы ашылды" in response.text
    newest = await search_json(client, "Токаев", sort="newest")
    feed = (await client.get(f"/{DB}/search.atom?q={quote('Токаев')}")).text
    ids = re.findall(r"<id>mediawatch:article:(\d+)</id>", feed)
    assert [int(i) for i in ids] == [row["id"] for row in newest["rows"]]
    nothing = await client.get(f"/{DB}/alerts.atom?q=zzzzunfindable")
    assert nothing.status_code == 200 and "<entry>" not in nothing.text
    assert (await client.get(f"/{DB}/alerts")).status_code == 302


async def test_browse_facets_by_outlet_language_and_month(archive_db):
    data = (await datasette_app(archive_db).client.get(f"/{DB}/articles.json?_size=0")).json()
    facets = data["facet_results"]
    assert {"outlet_id", "language", "published_month"} <= set(facets)
    outlet_labels = {f["label"] for f in facets["outlet_id"]["results"]}
    assert "Азаттық радиосы" in outlet_labels and "Коммерсантъ" in outlet_labels
    assert data["human_description_en"] == "sorted by published descending"  # newest first
    page = (await datasette_app(archive_db).client.get(f"/{DB}/articles")).text
    assert "Радио Азаттык (Казахстан)</a>" in page  # the outlet's name, not only its id


async def test_archived_html_is_never_rendered(archive_db):
    client = datasette_app(archive_db).client
    article_id = (await client.get(f"/{DB}/articles.json?url=https://www.azattyq.org/a/34000001.html&_shape=array")).json()[0]["id"]
    page = (await client.get(f"/{DB}/articles/{article_id}")).text
    assert "<script>window.__xss" not in page and "&lt;script&gt;window.__xss" in page
    assert "<img src=x" not in page
    listing = (await client.get(f"/{DB}")).text
    assert "raw_pages" not in listing.split("hidden tables")[0]


async def test_an_article_shows_its_local_publication_time_beside_utc(tmp_path):
    # Published at 01:30 in Almaty (UTC+6) on 21 May is 19:30 UTC on the 20th: dates sort and
    # filter in UTC, and the article page also gives the time readers of the outlet saw.
    db = tmp_path / f"{DB}.db"
    url = "https://www.azattyq.org/a/35000000.html"
    key = url_key(url, re.compile(r"/a/(\d+)"))
    with Archive(db) as archive:
        archive.sync_outlets(load_registry().select(["azattyq-kk"]))
        page = {"url_key": key, "url": url, "final_url": url, "outlet_id": "azattyq-kk", "status": 200,
                "content_type": "text/html", "encoding": "utf-8", "hints": {}, "body": b"<html></html>"}
        archive.store_page(page, {"url": url, "url_key": key, "title": "Түнгі жаңалық", "language": "kk",
                                  "published": "2025-05-21T01:30:00+06:00", "text": "Түнде болған оқиға."}, None)
    client = datasette_app(db).client
    row = (await client.get(f"/{DB}/articles.json?_shape=array")).json()[0]
    assert (row["published"], row["published_local"]) == ("2025-05-20T19:30:00Z", "2025-05-21T01:30:00+06:00")
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", (await client.get(f"/{DB}/articles/{row['id']}")).text)).split())
    assert "published 2025-05-20T19:30:00Z (2025-05-21 01:30 local time, UTC+06:00)" in text


async def test_dashboard_data_comes_from_canned_queries_with_sql_off(archive_db):
    client = datasette_app(archive_db).client
    assert (await client.get(f"/{DB}.json?sql=select+1")).status_code == 403
    page = await client.get("/-/dashboard")
    # The charts read this archive's canned queries, whatever the file is called.
    assert page.status_code == 200 and "Articles per day, per outlet" in page.text and f'"/{DB}"' in page.text
    per_language = (await client.get(f"/{DB}/dashboard_articles_per_language.json?_shape=array")).json()
    assert {r["language"]: r["articles"] for r in per_language}["kk"] == (SYNTHETIC - SYNTHETIC // 3 + 3  # the library, hostile and Тоқаев pages
                                                                         + TOKAYEV_PER_OUTLET["azattyq-kk"])
    ranged = (await client.get(f"/{DB}/dashboard_articles_per_day.json?_shape=array"
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
            args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield context.new_page()
    context.close()


def result_titles(page) -> list[str]:
    return page.locator("article.mw-result h3").all_inner_texts()


@browser_only
def test_browser_search_page_opens_empty_and_finds_a_name_in_every_script(server, page, tmp_path):
    response = page.goto(f"{server}/{DB}/search")
    assert response.status == 200 and page.locator("input[name=q]").input_value() == ""
    assert page.locator("[role=alert]").count() == 0 and page.locator("article.mw-result").count() == 0
    page.locator("summary", has_text="How to search").click()  # the syntax help, one click away
    assert page.locator("#syntax table").is_visible()
    page.locator("input[name=q]").fill("Токаев")
    page.locator(".mw-box button").click()
    page.wait_for_load_state()
    assert f"{TOKAYEV:,} articles match" in page.locator(".mw-summary").inner_text()
    facet = page.locator(".mw-facet-language").inner_text()
    assert "Kazakh\n101" in facet and "Russian\n101" in facet and "English\n60" in facet
    # Newest first, Kazakh, Russian and Latin-script articles, each with its own form highlighted.
    page.locator("select[name=sort]").select_option("newest")
    page.locator(".mw-filters button").click()
    page.wait_for_load_state()
    languages = set(page.locator("article.mw-result .mw-language").all_inner_texts())
    assert {"Kazakh", "Russian", "English"} <= languages
    highlighted = set(page.locator("article.mw-result mark").all_inner_texts())
    assert {"Тоқаевтың", "Токаевым", "Tokayev", "Toqaev"} <= highlighted
    assert not {title for title in result_titles(page)} & set(LOOKALIKES)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search.png"))
    # Page to the second 100.
    first_page = result_titles(page)
    page.locator("a.mw-next").first.click()
    page.wait_for_load_state()
    assert "showing 101–200" in page.locator(".mw-summary").inner_text()
    assert len(result_titles(page)) == 100 and not set(result_titles(page)) & set(first_page)
    # Click an outlet's count: only that outlet's articles remain.
    page.locator(".mw-facet-outlet a", has_text="Радио Азаттык (Казахстан)").click()
    page.wait_for_load_state()
    assert "outlet=azattyq-ru" in page.url and "101 articles match" in page.locator(".mw-summary").inner_text()
    assert set(page.locator("article.mw-result .mw-outlet").all_inner_texts()) == {"Радио Азаттык (Казахстан)"}
    # A bar of the chart filters to its month.
    page.locator("a.mw-bar").first.click()
    page.wait_for_load_state()
    assert "published_from=2024-01-01" in page.url and "published_until=2024-01-31" in page.url


@browser_only
def test_browser_exports_every_match_as_csv_and_the_feed_lists_the_same_articles(server, page, tmp_path):
    page.goto(f"{server}/{DB}/search?q={quote('Tokayev')}&sort=newest")
    newest = [href.rsplit("/", 1)[-1] for href in
              page.locator("article.mw-result h3 a").evaluate_all("links => links.map(a => a.href)")]
    with page.expect_download() as download:
        page.locator("a.mw-export-csv").click()
    path = tmp_path / "export.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert len(rows) == TOKAYEV and len({row["id"] for row in rows}) == TOKAYEV
    feed = urllib.request.urlopen(server + page.locator("a.mw-feed").get_attribute("href")).read().decode()
    assert re.findall(r"<id>mediawatch:article:(\d+)</id>", feed) == newest


@browser_only
def test_browser_reads_an_article_from_the_results(server, page):
    page.goto(f"{server}/{DB}/search?q={quote(QUERY)}")
    first = page.locator("article.mw-result").first
    assert f"{QUERY} кітапханасы ашылды" in first.inner_text()
    assert first.locator("mark").first.inner_text() == QUERY
    assert first.locator("a.mw-original").get_attribute("href") == "https://www.azattyq.org/a/34000000.html"
    first.locator("a.mw-read").first.click()
    page.wait_for_load_state()
    assert page.locator("article.mediawatch-article h1").inner_text() == f"{QUERY} кітапханасы ашылды"
    paragraphs = page.locator(".mediawatch-text p")
    assert paragraphs.count() == 2 and "Астанада ашылды" in paragraphs.first.inner_text()
    assert page.locator("a.mediawatch-original").get_attribute("href") == "https://www.azattyq.org/a/34000000.html"


@browser_only
def test_browser_reads_a_real_article(server, page):
    page.goto(f"{server}/{DB}/search?q=троннинг")
    page.locator("article.mw-result a.mw-read").first.click()
    page.wait_for_load_state()
    assert page.locator(".mediawatch-text p").count() > 5
    page.screenshot(path=str(SCREENSHOTS / "article.png"), full_page=False)


@browser_only
def test_browser_filters_by_outlet_facet(server, page):
    page.goto(f"{server}/{DB}/articles")
    page.locator(".facet-info a", has_text="Коммерсантъ").first.click()
    page.wait_for_load_state()
    assert "outlet_id=kommersant" in page.url
    rows = page.locator("table.rows-and-columns tbody tr")
    assert rows.count() == 1 and "Легкий троннинг" in rows.first.inner_text()


@browser_only
def test_browser_hostile_article_runs_no_script(server, page):
    page.goto(f"{server}/{DB}/articles?url=https://www.azattyq.org/a/34000001.html")
    page.locator("table.rows-and-columns tbody tr").first.locator("td a").first.click()
    page.wait_for_load_state()
    assert page.evaluate("window.__xss") is None
    assert "<script>window.__xss = 1</script>Хабар" in page.locator("article.mediawatch-article h1").inner_text()
    page.goto(f"{server}/{DB}/search?q=Мәтін")
    assert page.evaluate("window.__xss") is None and page.locator("article.mw-result img").count() == 0


@browser_only
def test_browser_full_csv_export_of_a_search_with_over_1000_matches(server, page, tmp_path):
    page.goto(f"{server}/{DB}/search?q={quote(QUERY)}")
    assert f"{SYNTHETIC + 1:,} articles match" in page.locator(".mw-summary").inner_text()
    with page.expect_download() as download:
        page.locator("a.mw-export-csv").click()
    path = tmp_path / "export.csv"
    download.value.save_as(path)
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert len(rows) == SYNTHETIC + 1 and sum(QUERY in row["text"] for row in rows) == SYNTHETIC + 1


@browser_only
def test_browser_dashboard_draws_charts(server, page, archive_db):
    page.goto(f"{server}/-/dashboard")
    page.wait_for_selector(".vega-embed canvas, .vega-embed svg", timeout=30000)
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 3")
    total = page.locator(".mw-card", has_text="Articles archived")
    page.wait_for_function("!document.querySelector('.mw-metric').textContent.includes('…')")
    with Archive(archive_db, readonly=True) as archive:
        stored = archive.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert f"{stored:,}" in total.inner_text()
    box_total, box_chart = total.bounding_box(), page.locator(".mw-card", has_text="Articles per day").bounding_box()
    assert box_total["y"] + box_total["height"] <= box_chart["y"], "cards must not overlap"
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
