"""The product's spine: bundled real pages -> Scrapy crawl -> extraction -> SQLite -> Datasette."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from archive.web.serve import datasette_app
from tests.conftest import DEMO_DATA, run_mediawatch

EXPECTED = json.loads((DEMO_DATA / "expected.json").read_text(encoding="utf-8"))
DEMO_OUTLETS = str(DEMO_DATA / "outlets.yml")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, request):
    """One demo crawl shared by the module's tests (a crawl takes several seconds)."""
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    mirror = MirrorServer(MirrorConfig(root=DEMO_DATA / "site")).start()
    request.addfinalizer(mirror.stop)
    db = tmp_path_factory.mktemp("e2e") / "archive.db"
    first = run_mediawatch(["--outlets", DEMO_OUTLETS, "--db", str(db), "crawl"], mirror=mirror)
    second = run_mediawatch(["--outlets", DEMO_OUTLETS, "--db", str(db), "crawl"], mirror=mirror)
    return db, first, second, mirror


def plain(text: str) -> str:
    """Whitespace folded, no space before punctuation (the ground truth was tokenised)."""
    return re.sub(r"\s+([,.;:!?)])", r"\1", " ".join(text.split()))


def rows(db, sql, params=()):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params)]


def test_every_bundled_article_is_stored_with_title_date_and_text(crawled):
    db, first, _, _ = crawled
    stored = {r["url"]: r for r in rows(db, "SELECT * FROM articles")}
    assert len(stored) == len(EXPECTED) == 19
    for expected in EXPECTED:
        article = stored[expected["url"]]
        assert article["kind"] == expected.get("kind", "article")
        assert article["outlet_id"] == expected["outlet"]
        assert " ".join(article["title"].split()) == " ".join(expected["title"].split())
        assert article["published"][:10] == expected["published_day"]
        assert plain(expected["fragment"]) in plain(article["text"])
        assert article["language"] == expected["language"]
        assert article["word_count"] > 100
        assert "\n\n" in article["text"], "paragraph breaks are kept"
    assert "19 new articles stored, 0 errors" in first.stdout


def test_crawl_runs_and_raw_pages_are_recorded(crawled):
    db, *_ = crawled
    runs = rows(db, "SELECT * FROM crawl_runs ORDER BY id")
    assert [r["status"] for r in runs] == ["ok"] * 8
    assert sum(r["articles_new"] for r in runs[:4]) == 19
    assert all(r["finished"] and r["duration_s"] is not None for r in runs)
    assert rows(db, "SELECT count(*) AS n FROM crawl_errors")[0]["n"] == 0
    raw = rows(db, "SELECT count(*) AS n, min(length(html_zlib)) AS smallest FROM raw_pages")[0]
    assert raw["n"] == 19 and raw["smallest"] > 1000
    outlets = {r["id"]: r["name"] for r in rows(db, "SELECT * FROM outlets")}
    assert outlets["kommersant"] == "Коммерсантъ"


def test_second_crawl_fetches_and_stores_nothing_new(crawled):
    db, _, second, mirror = crawled
    assert "0 new articles stored, 0 errors; 19 articles" in second.stdout
    assert rows(db, "SELECT count(*) AS n FROM articles")[0]["n"] == 19
    # Every article page was downloaded exactly once across both crawls.
    article_paths = {tuple(e["url"].split("/", 3)[2:]) for e in EXPECTED}
    hits = {(host, path.lstrip("/")): n for (host, path, *fault), n in mirror.hits.items() if not fault}
    assert {hits.get(key) for key in article_paths} == {1}


def test_refresh_refetches_without_duplicating(crawled, tmp_path):
    db, _, _, mirror = crawled
    copy = tmp_path / "copy.db"
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    result = run_mediawatch(["--outlets", DEMO_OUTLETS, "--db", str(copy), "crawl", "--refresh", "kommersant"],
                            mirror=mirror)
    assert "0 new articles stored" in result.stdout
    assert rows(copy, "SELECT count(*) AS n FROM articles")[0]["n"] == 19
    assert rows(copy, "SELECT pages_fetched FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]["pages_fetched"] == 1


@pytest.mark.parametrize(
    "query, expected_url",
    [
        ("троннинг", "https://www.kommersant.ru/doc/7715044"),
        ("Azeredo", "http://globalvoicesonline.org/2009/06/11/amplified-conversation-fighting-the-digital-crimes-bill-in-brazil/"),
    ],
)
async def test_full_text_search_through_datasette(crawled, query, expected_url):
    db, *_ = crawled
    response = await datasette_app(db).client.get(
        f"/archive/articles.json?_search={query}&_shape=array&_col=url"
    )
    assert response.status_code == 200
    assert [r["url"] for r in response.json()] == [expected_url]


async def test_datasette_hides_raw_pages_and_sorts_newest_first(crawled):
    db, *_ = crawled
    app = datasette_app(db)
    index = (await app.client.get("/archive")).text
    assert "articles" in index and "raw_pages" not in index.split("hidden")[0]
    articles = (await app.client.get("/archive/articles.json?_shape=array&_col=published")).json()
    published = [a["published"] for a in articles]
    assert published == sorted(published, reverse=True)
    facets = (await app.client.get("/archive/articles.json?_size=0")).json()["facet_results"]
    assert {"outlet_id", "language", "kind"} <= set(facets)


async def test_media_items_are_stored_with_their_kind_and_faceted(crawled):
    """The Pangea video page is archived as a video (not a 'no text' failure), with the text
    under its player, and the articles table can be narrowed to media or to articles."""
    db, *_ = crawled
    media = [e for e in EXPECTED if e.get("kind", "article") != "article"]
    assert [e["kind"] for e in media] == ["video"]
    app = datasette_app(db)
    kinds = (await app.client.get("/archive/articles.json?_size=0&_facet=kind")).json()["facet_results"]["kind"]
    assert {r["value"]: r["count"] for r in kinds["results"]} == {"article": 18, "video": 1}
    videos = (await app.client.get("/archive/articles.json?kind=video&_shape=array&_col=url&_col=text")).json()
    assert [v["url"] for v in videos] == [media[0]["url"]]
    assert plain(media[0]["fragment"]) in plain(videos[0]["text"])
    only_articles = (await app.client.get("/archive/articles.json?kind=article&_shape=array&_col=url&_size=100")).json()
    assert media[0]["url"] not in {a["url"] for a in only_articles} and len(only_articles) == 18
    page = (await app.client.get("/archive/articles")).text
    assert "kind" in page and "video" in page  # the facet is shown on the table page
    assert rows(db, "SELECT count(*) AS n FROM crawl_errors WHERE kind = 'no_text'")[0]["n"] == 0


def test_malformed_registry_stops_with_a_clear_message(tmp_path):
    bad = tmp_path / "outlets.yml"
    bad.write_text("outlets:\n  - {id: x, name: X, homepage: nope, languages: [kk]}\n", encoding="utf-8")
    result = run_mediawatch(["--outlets", str(bad), "--db", str(tmp_path / "a.db"), "crawl"], check=False)
    assert result.returncode != 0
    assert "outlet 'x': field 'homepage': expected an http(s) URL, got 'nope'" in result.stderr
    assert not (tmp_path / "a.db").exists()
