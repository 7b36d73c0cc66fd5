"""`mediawatch extract` and `mediawatch reextract`, run as real child processes on real files."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import subprocess
import sys
import zlib

import pytest

from scraper.extraction.article import EXTRACTOR_VERSION
from tests.conftest import DEMO_DATA, needs_corpus, run_mediawatch

DEMO_PAGES = sorted((DEMO_DATA / "site").rglob("*.html.gz"))


def mediawatch_with_stdin(args: list[str], stdin: str) -> subprocess.CompletedProcess:
    """The real CLI with `stdin` piped in (run_mediawatch has no input)."""
    return subprocess.run([sys.executable, "-m", "scraper.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=600)


# -- extract FILE ----------------------------------------------------------------------------

def test_extract_file_prints_the_article_as_json():
    page = needs_corpus("fundus", "test_data", "ru", "Kommersant_2025_05_14.html.gz")

    result = run_mediawatch(["extract", str(page), "--url", "https://www.kommersant.ru/doc/7715044"])

    article = json.loads(result.stdout)
    assert article["url"] == "https://www.kommersant.ru/doc/7715044"
    assert article["title"] == "Легкий троннинг"
    assert article["authors"] == ["Андрей Колесников"]
    assert article["published"] == "2025-05-14T20:28:12+03:00"
    assert article["language"] == "ru"
    assert article["word_count"] > 300 and "\n\n" in article["text"]
    assert article["extractor_version"] == EXTRACTOR_VERSION


def test_extract_reads_stdin_and_decodes_an_undeclared_cyrillic_charset():
    text = "Президент встретился с премьер-министром и обсудил торговлю, энергетику и безопасность региона."
    html = ("<html><head><title>Встреча</title></head><body><article><h1>Встреча</h1>"
            + f"<p>{text}</p>" * 6 + "</article></body></html>")
    result = subprocess.run([sys.executable, "-m", "scraper.cli", "extract", "-"], input=html.encode("cp1251"),
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    article = json.loads(result.stdout)
    assert article["title"] == "Встреча"
    assert text in article["text"]


@pytest.mark.parametrize("content, message", [
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00" * 50, "binary data, not an HTML page"),
    (b"\x1f\x8b\x08\x00garbage", "looks gzip-compressed but cannot be decompressed"),
])
def test_extract_rejects_what_is_not_a_page_with_a_clear_error(tmp_path, content, message):
    path = tmp_path / "page.html"
    path.write_bytes(content)

    result = run_mediawatch(["extract", str(path)], check=False)

    assert result.returncode == 1
    assert f"{path}: {message}" in result.stderr and "Traceback" not in result.stderr


def test_extract_gives_a_best_effort_record_for_broken_html(tmp_path):
    path = tmp_path / "broken.html"
    path.write_bytes(b"<html><body><div><p>Unclosed paragraph about the harvest in the northern region, "
                     b"which was smaller than expected this year <b>because of \xff\xfe drought<p>More")

    result = run_mediawatch(["extract", str(path)])

    assert "harvest in the northern region" in json.loads(result.stdout)["text"]
    assert "Traceback" not in result.stderr


# -- extract --jsonl ------------------------------------------------------------------------

def test_extract_jsonl_round_trips_1000_pages_in_order():
    htmls = [gzip.decompress(p.read_bytes()).decode("utf-8", "replace") for p in DEMO_PAGES]
    lines, expected = [], []
    for n in range(1000):
        if n == 300:
            lines.append("{not json")
            expected.append(None)
        elif n == 600:
            lines.append(json.dumps({"id": {"nested": n}, "url": "https://example.org/x"}))  # no html
            expected.append({"nested": n})
        else:
            page = n % len(htmls)
            record_id = n if n % 2 else f"page-{n}"  # ids of any JSON type come back unchanged
            lines.append(json.dumps({"id": record_id, "url": f"https://example.org/{page}", "html": htmls[page]}))
            expected.append(record_id)

    result = mediawatch_with_stdin(["extract", "--jsonl"], "\n".join(lines) + "\n")

    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == expected
    assert "not JSON" in records[300]["error"]
    assert records[600]["error"] == "line 601: 'html' must be a string"
    good = [r for n, r in enumerate(records) if n not in (300, 600)]
    assert all({"url", "title", "authors", "published", "language", "text"} <= set(r) for r in good)
    # The same page gives the same article wherever it sits in the stream.
    by_url: dict[str, set] = {}
    for record in good:
        by_url.setdefault(record["url"], set()).add((record["title"], record["text"]))
    assert len(by_url) == len(htmls) and all(len(versions) == 1 for versions in by_url.values())
    assert sum(1 for r in good if r["text"]) >= 0.9 * len(good)


# -- reextract -------------------------------------------------------------------------------

@pytest.fixture
def demo_archive(tmp_path):
    """The demo bundle crawled offline into a fresh archive."""
    db = tmp_path / "demo.db"
    run_mediawatch(["demo", "--no-serve", "--db", str(db)], cwd=tmp_path)
    return db


def reextract(db, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_mediawatch(["--db", str(db), "reextract", *args], check=check)


def summary(result: subprocess.CompletedProcess) -> dict[str, str]:
    return dict(re.findall(r"^([a-z][A-Za-z ()]*?): (.+)$", result.stdout, re.M))


def articles(db) -> dict[int, tuple]:
    with sqlite3.connect(db) as conn:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT id, title, authors, published, language, text, extractor_version, updated_at FROM articles")}


def test_reextract_changes_nothing_when_the_extractor_has_not_changed(demo_archive):
    before = articles(demo_archive)
    assert len(before) == 19

    for _ in range(2):
        result = reextract(demo_archive)
        assert summary(result) == {"pages examined": f"19 (extractor version {EXTRACTOR_VERSION})",
                                   "articles changed": "0", "unchanged": "19", "failed": "0"}
        assert articles(demo_archive) == before
    assert "re-extracting" in result.stderr  # the progress bar


def test_reextract_restores_stale_articles_and_reports_what_it_changed(demo_archive):
    before = articles(demo_archive)
    with sqlite3.connect(demo_archive) as conn:
        conn.execute("UPDATE articles SET title = 'A stale headline', text = 'zzyzx stale text' WHERE id = 1")
        conn.execute("UPDATE articles SET extractor_version = '1' WHERE id IN (1, 2, 3)")

    result = reextract(demo_archive)

    assert summary(result)["articles changed"] == "3 (extractor_version 3, title 1, text 1)"
    assert summary(result)["unchanged"] == "16"
    after = articles(demo_archive)
    for article_id in (1, 2, 3):  # restored: the same extraction as the crawl stored
        assert after[article_id][:6] == before[article_id][:6]
    with sqlite3.connect(demo_archive) as conn:  # search follows the archive's own write path
        assert conn.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'zzyzx'").fetchone()[0] == 0
        word = max(before[1][4].split(), key=len).strip(".,;:!?\"'()«»“”")
        hits = conn.execute("SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?", (f'"{word}"',)).fetchall()
        assert (1,) in hits
    assert summary(reextract(demo_archive))["articles changed"] == "0"


def test_reextract_keeps_an_article_whose_page_no_longer_yields_text_and_names_unreadable_pages(demo_archive):
    before = articles(demo_archive)
    with sqlite3.connect(demo_archive) as conn:
        (empty_page,), (corrupt_page,) = conn.execute("SELECT raw_page_id FROM articles WHERE id IN (4, 5) ORDER BY id")
        conn.execute("UPDATE raw_pages SET html_zlib = ? WHERE id = ?",
                     (zlib.compress(b"<html><body><nav>Home</nav></body></html>"), empty_page))
        conn.execute("UPDATE raw_pages SET html_zlib = X'00112233' WHERE id = ?", (corrupt_page,))
        corrupt_url = conn.execute("SELECT coalesce(final_url, url) FROM raw_pages WHERE id = ?",
                                   (corrupt_page,)).fetchone()[0]

    result = reextract(demo_archive)

    assert summary(result)["failed"] == "1"
    assert summary(result)["kept as stored (the page now yields no text)"] == "1"
    assert f"failed: {corrupt_url}: stored page unreadable" in result.stdout
    assert articles(demo_archive) == before


def test_reextract_selects_by_outlet_and_fetch_day(demo_archive):
    assert summary(reextract(demo_archive, "--outlet", "voanews", "--outlet", "kommersant"))["pages examined"] \
        .startswith("3 ")
    assert summary(reextract(demo_archive, "--since", "2999-01-01"))["pages examined"].startswith("0 ")

    unknown = reextract(demo_archive, "--outlet", "no-such-outlet", check=False)
    assert unknown.returncode == 1
    assert f"archive {demo_archive} holds no pages of outlet(s): no-such-outlet" in unknown.stderr


def test_reextract_archives_the_articles_now_found_in_pages_stored_without_one(demo_archive):
    # Pages an older extractor found no text in are stored without an article (as here 6 and
    # 9 after their rows go); a better extractor finds it. Page of 13 now holds only a menu,
    # and a copy of 10's page under another URL form finds the article already archived.
    columns = "url, url_key, outlet_id, title, authors, published, published_local, language, text"
    with sqlite3.connect(demo_archive) as conn:
        lost = {row[1]: row for row in conn.execute(f"SELECT {columns} FROM articles WHERE id IN (6, 9)")}
        (menu_page,) = conn.execute("SELECT raw_page_id FROM articles WHERE id = 13").fetchone()
        conn.execute("UPDATE raw_pages SET html_zlib = ? WHERE id = ?",
                     (zlib.compress(b"<html><body><nav>Home</nav></body></html>"), menu_page))
        conn.execute("DELETE FROM articles WHERE id IN (6, 9, 13)")
        conn.execute("INSERT INTO raw_pages (url, url_key, final_url, outlet_id, status, content_type, encoding,"
                     " fetched_at, size, html_zlib, hints, run_id) SELECT url || '?utm_source=x', url_key || '?x',"
                     " final_url || '?utm_source=x', outlet_id, status, content_type, encoding, fetched_at, size,"
                     " html_zlib, hints, run_id FROM raw_pages WHERE id = (SELECT raw_page_id FROM articles WHERE id = 10)")
    word = max(lost[next(iter(lost))][8].split(), key=len).strip(".,;:!?\"'()«»“”")

    # Without the registry that crawled them, how to key their articles is unknown: left alone.
    alone = summary(reextract(demo_archive))
    assert alone["pages without an article of outlets not in the registry (left alone)"] == "4"
    assert alone["pages examined"].startswith("16 ")

    result = run_mediawatch(["--outlets", str(DEMO_DATA / "outlets.yml"), "--db", str(demo_archive), "reextract"])

    assert summary(result) == {
        "pages examined": f"20 (extractor version {EXTRACTOR_VERSION})", "articles changed": "0",
        "unchanged": "16", "failed": "0", "new articles (from pages stored without one)": "2",
        "pages still without article text": "1", "pages whose article is archived from another URL": "1"}
    with sqlite3.connect(demo_archive) as conn:
        found = {row[1]: row for row in conn.execute(
            f"SELECT {columns} FROM articles WHERE url_key IN (?, ?)", list(lost))}
        assert found == lost  # as the crawl archived them
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 18
        hits = conn.execute("SELECT a.url_key FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid"
                            " WHERE articles_fts MATCH ?", (f'"{word}"',)).fetchall()
        assert set(lost) & {key for (key,) in hits}  # and searchable
    again = run_mediawatch(["--outlets", str(DEMO_DATA / "outlets.yml"), "--db", str(demo_archive), "reextract"])
    assert "new articles" not in again.stdout and summary(again)["unchanged"] == "18"
