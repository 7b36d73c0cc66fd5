"""The article page of the real demo archive, in a real Datasette: its lead is not repeated."""

from __future__ import annotations

import html
import sqlite3

import pytest

from archive.web.serve import datasette_app
from scraper.demo import DEMO_OUTLETS
from tests.conftest import run_mediawatch


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    from scraper.demo import start_demo_mirror

    db = tmp_path_factory.mktemp("article") / "demo.db"
    mirror = start_demo_mirror()
    try:
        run_mediawatch(["--outlets", str(DEMO_OUTLETS), "--db", str(db), "crawl"], mirror=mirror)
    finally:
        mirror.stop()
    return db


def article(db, outlet_id: str) -> dict:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        query = "SELECT id, description, text FROM articles WHERE outlet_id = ?"
        return dict(conn.execute(query, [outlet_id]).fetchone())


async def article_body(db, article_id: int) -> str:
    response = await datasette_app(db).client.get(f"/demo/articles/{article_id}")
    assert response.status_code == 200
    page = response.text
    return html.unescape(page[page.index('<article class="mediawatch-article"'):page.index("</article>")])


async def test_a_description_that_is_the_first_paragraph_is_shown_once(demo_db):
    # Ukrainska Pravda's description is its first paragraph, word for word.
    row = article(demo_db, "pravda-ua")
    first = row["text"].split("\n\n")[0]
    assert row["description"] == first
    body = await article_body(demo_db, row["id"])
    assert body.count(first) == 1, body[:3000]


async def test_a_description_of_its_own_is_shown_as_the_lead(demo_db):
    # Voice of America's description summarises the article; the text begins elsewhere.
    row = article(demo_db, "voanews")
    assert not row["text"].startswith(row["description"][:40])
    body = await article_body(demo_db, row["id"])
    assert f"<strong>{row['description']}</strong>" in body
    assert body.count(row["text"].split("\n\n")[0]) == 1
