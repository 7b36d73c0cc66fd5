"""The folded search index (archive/search/index.py) stays in step with the articles table."""

from __future__ import annotations

import sqlite3

from archive.search.index import FOLDS, INDEX, fold
from archive.store import Archive


def store(archive: Archive, n: int, title: str, text: str) -> None:
    url = f"https://www.azattyq.org/a/{n}.html"
    page = {"url_key": f"www.azattyq.org/#{n}", "url": url, "final_url": url, "outlet_id": None, "status": 200,
            "content_type": "text/html", "encoding": "utf-8", "hints": {}, "body": b"<html></html>"}
    archive.store_page(page, {"url": url, "url_key": page["url_key"], "title": title, "text": text}, None)


def found(archive: Archive, query: str) -> list[str]:
    return [row[0] for row in archive.conn.execute(
        f"SELECT highlight({INDEX}, 0, '[', ']') FROM {INDEX} WHERE {INDEX} MATCH ? ORDER BY rank", (fold(query),))]


def test_every_folded_letter_is_found_by_its_plain_spelling_in_both_cases(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        letters = "".join(FOLDS)
        store(archive, 1, letters, letters.upper())
        plain = "".join(FOLDS.values())
        assert found(archive, plain) == [f"[{letters}]"]
        assert found(archive, plain.upper()) == [f"[{letters}]"]


def test_index_follows_updates_and_deletes(tmp_path):
    with Archive(tmp_path / "a.db") as archive:
        store(archive, 1, "Тоқаев сөйледі", "Мәтін")
        assert found(archive, "Токаев") == ["[Тоқаев] сөйледі"]
        store(archive, 1, "Үкімет отырысы", "Мәтін өзгерді")  # the article changed
        assert found(archive, "Токаев") == [] and found(archive, "укимет") == ["[Үкімет] отырысы"]
        with archive.write() as conn:
            conn.execute("UPDATE articles SET fetched_at = 'now'")  # no reindexing needed, none done
            conn.execute("DELETE FROM articles")
        assert found(archive, "укимет") == []
        # Plain sqlite3, without mediawatch's code, can write to the archive too.
        raw = sqlite3.connect(tmp_path / "a.db")
        with raw:
            raw.execute("INSERT INTO articles (url, url_key, title, text, first_seen, fetched_at, updated_at)"
                        " VALUES ('u', 'k', 'Семёнов', 'т', 'n', 'n', 'n')")
        raw.close()
        assert found(archive, "Семенов") == ["[Семёнов]"]


def test_an_archive_with_the_older_unfolded_index_is_reindexed_when_opened(tmp_path):
    path = tmp_path / "old.db"
    with Archive(path) as archive:
        store(archive, 1, "Тоқаев", "Мәтін")
        with archive.write() as conn:  # as an archive written by an older mediawatch
            conn.execute(f"DROP TABLE {INDEX}")
            for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE ?",
                                           (f"{INDEX}_%",)).fetchall():
                conn.execute(f"DROP TRIGGER {trigger}")
        archive.db["articles"].enable_fts(["title", "text"], create_triggers=True,
                                          tokenize="unicode61 remove_diacritics 2")
        assert found(archive, "Токаев") == []
    with Archive(path) as archive:
        assert found(archive, "Токаев") == ["[Тоқаев]"]
        store(archive, 2, "Тоқаев тағы", "Мәтін")
        # The older triggers are gone: each article is indexed once, so each is found once.
        assert sorted(found(archive, "Токаев")) == ["[Тоқаев]", "[Тоқаев] тағы"]
        assert archive.conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
                                    " AND name IN ('articles_ai', 'articles_ad', 'articles_au')").fetchone()[0] == 0


def test_an_archive_with_the_index_of_the_previous_version_is_converted_once_when_opened(tmp_path):
    path = tmp_path / "previous.db"
    with Archive(path) as archive:
        store(archive, 1, "Тоқаев сөйледі", "Мәтін")
        with archive.write() as conn:  # as the previous version left it: no word list, content='articles'
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute(f"DROP TABLE {INDEX}")
            conn.execute("DROP TABLE search_terms")
            conn.execute(f"CREATE VIRTUAL TABLE {INDEX} USING fts5(title, text, content='articles', content_rowid='id',"
                         " tokenize='unicode61 remove_diacritics 2')")
            conn.execute(f"INSERT INTO {INDEX}(rowid, title, text) SELECT id, title, text FROM articles")
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT sql FROM sqlite_master WHERE name = ?", (INDEX,)).fetchone()[0].count("content='articles'")
    raw.close()
    with Archive(path) as archive:
        declaration = archive.conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (INDEX,)).fetchone()[0]
        assert 'content="articles"' in declaration  # the form Datasette and sqlite-utils detect
        assert archive.db["articles"].detect_fts() == INDEX
        assert found(archive, "Токаев") == ["[Тоқаев] сөйледі"]
        terms = dict(archive.conn.execute("SELECT term, spelling FROM search_terms WHERE term <> ''"))
        assert terms["токаев"] == "tokaev" and terms["сойледи"]


def test_words_written_by_plain_sqlite_reach_the_word_list_and_get_their_spelling_on_open(tmp_path):
    path = tmp_path / "a.db"
    Archive(path).close()
    raw = sqlite3.connect(path)
    with raw:
        raw.execute("INSERT INTO articles (url, url_key, title, text, first_seen, fetched_at, updated_at)"
                    " VALUES ('u', 'k', 'Жапаров', 'Мирзиёев', 'n', 'n', 'n')")
    assert dict(raw.execute("SELECT term, spelling FROM search_terms WHERE term <> ''")) == {
        "жапаров": None, "мирзиеев": None}  # words listed by the triggers, in plain SQL
    raw.close()
    with Archive(path) as archive:
        assert dict(archive.conn.execute("SELECT term, spelling FROM search_terms WHERE term <> ''")) == {
            "жапаров": "japarov", "мирзиеев": "mirziev"}


def test_an_upsert_of_a_known_article_updates_index_and_word_list(tmp_path):
    """ON CONFLICT DO UPDATE (how the cluster writer applies a page, and how any client may)
    fires the triggers with the upsert's own conflict policy: the word list must not need
    INSERT OR IGNORE to take an article whose words it already holds."""
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        store(archive, 1, "Тоқаев сөйледі", "Мәтін")
    raw = sqlite3.connect(path)
    with raw:
        for title in ("Тоқаев сөйледі", "Тоқаев Жапаровпен кездесті"):  # the same words, then one new
            raw.execute("INSERT INTO articles (url, url_key, title, text, first_seen, fetched_at, updated_at)"
                        " VALUES ('u', 'www.azattyq.org/#1', ?, 'Мәтін', 'n', 'n', 'n')"
                        " ON CONFLICT(url_key) DO UPDATE SET title = excluded.title", (title,))
    assert raw.execute("SELECT count(*) FROM search_terms WHERE term = 'жапаровпен'").fetchone() == (1,)
    raw.close()
    with Archive(path) as archive:
        assert found(archive, "Жапаровпен") == ["Тоқаев [Жапаровпен] кездесті"]


def test_an_archive_whose_triggers_differ_only_in_their_text_is_not_reindexed(tmp_path):
    """A fix in the triggers' SQL re-creates them on open, without re-indexing every article
    (on a 2,000,000-article archive a re-index takes more than an hour)."""
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        store(archive, 1, "Тоқаев", "Мәтін")
        with archive.write() as conn:  # as the previous version stored its insert trigger
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (f"{INDEX}_ai",)).fetchone()[0]
            conn.execute(f"DROP TRIGGER {INDEX}_ai")
            conn.execute(sql.replace("BEGIN", "BEGIN SELECT 1;", 1))
            conn.execute("INSERT INTO search_terms (term, spelling) VALUES ('unindexedmarker', 'x')")
    with Archive(path) as archive:
        stored = archive.conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (f"{INDEX}_ai",)).fetchone()[0]
        assert "SELECT 1;" not in stored
        # A re-index empties the word list and lists the index's words again: the marker survives only without one.
        assert archive.conn.execute("SELECT count(*) FROM search_terms WHERE term = 'unindexedmarker'").fetchone() == (1,)
        assert found(archive, "Токаев") == ["[Тоқаев]"]
