"""The query sanitiser and expander (archive/search/query.py) on a real archive's index.

Property-based (Hypothesis, bounded examples): whatever is typed, the search either says in a
sentence why it cannot run it, or hands FTS5 an expression it accepts, of bounded size; an
exact phrase always finds the text it quotes. Then the word-form rules on their own.
"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.search import inflection
from archive.search.finder import Deadline, SearchRequest, SearchTimeout, search
from archive.search.query import LIMITS, Expander, Limits, QueryError, WordList, compile_match, tokens
from archive.search.index import INDEX
from archive.store import Archive

TEXTS = [
    "Президент Тоқаев Мәскеуге барды", "Токаев встретился с Путиным", "Tokayev's visit", "Жапаровдун сөзү",
    "Мирзиёевнинг фармони", "Oʻzbekiston Respublikasi", "O'zbekistonda saylov", "Путинцев сказал", "Алматыда жиын",
    "Türkmenistanyň Prezidenti Berdimuhamedow", "Раҳмонро дид", "Зеленський заявив", "café au lait",
]


@functools.lru_cache(maxsize=1)
def archive_path() -> Path:
    path = Path(tempfile.mkdtemp(prefix="mediawatch-query-")) / "a.db"
    with Archive(path) as archive:
        for n, text in enumerate(TEXTS):
            url = f"https://x.example/a/{n}.html"
            page = {"url_key": f"x/{n}", "url": url, "final_url": url, "outlet_id": None, "status": 200,
                    "content_type": "text/html", "encoding": "utf-8", "hints": {}, "body": b"<html></html>"}
            archive.store_page(page, {"url": url, "url_key": page["url_key"], "title": text, "text": text}, None)
    return path


@functools.lru_cache(maxsize=1)
def connection():
    return sqlite3.connect(f"file:{archive_path()}?mode=ro", uri=True, check_same_thread=False)


def matches(expression: str) -> list[str]:
    return [row[0] for row in connection().execute(
        f"SELECT articles.title FROM articles JOIN {INDEX} ON {INDEX}.rowid = articles.id WHERE {INDEX} MATCH ?", (expression,))]


def found(query: str) -> list[str]:
    return sorted(matches(compile_match(query, Expander(WordList(connection()))).expression))


SYNTAX = st.sampled_from(['"', "(", ")", "*", "-", " OR ", " AND ", " NOT ", "NEAR(", "^", ":", "title:", "'", "ʻ",
                          "«", "»", "“", "”", "\x00", "\u200b", "🙂", " ", "  "])
WORDS = st.sampled_from(["Токаев", "Tokayev", "O", "аб", "Путин", "президент", "ә", "x", "Oʻzbekiston", "123"])
QUERIES = st.lists(st.one_of(SYNTAX, WORDS, st.text(max_size=6)), max_size=40).map("".join)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(QUERIES)
def test_any_input_is_either_refused_with_a_sentence_or_a_valid_bounded_expression(query):
    try:
        match = compile_match(query, Expander(WordList(connection())))
    except QueryError as error:
        message = str(error)
        assert message.endswith(".") and message[0].isupper() and "fts5" not in message.lower()
        return
    matches(match.expression)  # FTS5 accepts it: no sqlite3.OperationalError
    assert match.expression.count('"') % 2 == 0
    terms = match.expression.count('"') // 2
    assert terms <= LIMITS.terms * 3 * LIMITS.forms_per_word


@PROPERTY
@given(st.lists(st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12),
                min_size=1, max_size=4))
def test_an_exact_phrase_finds_the_text_it_quotes(words):
    phrase = " ".join(words)
    if not tokens(phrase) or len(tokens(phrase)) > 8:
        return
    with Archive(archive_path()) as archive:
        with archive.write() as conn:
            conn.execute("INSERT INTO articles (url, url_key, title, text, first_seen, fetched_at, updated_at)"
                         " VALUES ('u', 'k', ?, 't', 'n', 'n', 'n')", (phrase,))
        try:
            expression = compile_match(f'"{phrase}"', Expander(WordList(archive.conn))).expression
            titles = [row[0] for row in archive.conn.execute(
                f"SELECT articles.title FROM articles JOIN {INDEX} ON {INDEX}.rowid = articles.id WHERE {INDEX} MATCH ?",
                (expression,))]
            assert phrase in titles
        finally:
            with archive.write() as conn:
                conn.execute("DELETE FROM articles WHERE url_key = 'k'")


def test_limits_are_stated_in_the_message():
    with pytest.raises(QueryError, match="too long"):
        compile_match("слово " * 100, Expander(WordList(connection())))
    with pytest.raises(QueryError, match="at most 16"):
        compile_match(" ".join(f"слово{n}" for n in range(17)), Expander(WordList(connection())))
    with pytest.raises(QueryError, match="at least 3 letters"):
        compile_match("аб*", Expander(WordList(connection())))
    with pytest.raises(QueryError, match="At most 4 searches by the start"):
        compile_match("абв* где* жзи* клм* ноп*", Expander(WordList(connection())))


def test_one_plain_word_finds_its_forms_and_spellings_and_not_lookalikes():
    assert found("Токаев") == ["Tokayev's visit", "Президент Тоқаев Мәскеуге барды",
                               "Токаев встретился с Путиным"]
    assert found("Tokayev") == found("Токаев") == found("Тоқаев")
    assert found("Путин") == ["Токаев встретился с Путиным"]  # not Путинцев
    assert found("Japarov") == ["Жапаровдун сөзү"]
    assert found("Mirziyoyev") == ["Мирзиёевнинг фармони"]
    assert found("Алма") == []  # not Алматы
    assert found("Ўзбекистон") == ["O'zbekistonda saylov", "Oʻzbekiston Respublikasi"]
    assert found("Turkmenistan") == found("Туркменистан") == ["Türkmenistanyň Prezidenti Berdimuhamedow"]
    assert found("Бердымухамедов") == ["Türkmenistanyň Prezidenti Berdimuhamedow"]
    assert found("Рахмон") == ["Раҳмонро дид"]
    assert found("Зеленский") == ["Зеленський заявив"]
    # Quotes: this form only (the fold still applies: Тоқаев is Токаев spelled the Kazakh way).
    assert found('"Токаев"') == ["Президент Тоқаев Мәскеуге барды", "Токаев встретился с Путиным"]
    assert found('"Путин"') == []
    assert found("cafe") == ["café au lait"]


@pytest.mark.parametrize("word, forms, others", [
    ("токаев", ["токаева", "токаеву", "токаевым", "токаеве", "токаевтын", "токаевка", "токаевпен", "токаевдун"],
     ["тока", "токи", "токарев", "токаевич"]),
    ("путин", ["путина", "путиным", "путиннин", "путинге", "путиндин", "путинро"], ["путинцев", "путинский", "путинизм"]),
    ("россия", ["россии", "россию", "россией"], ["российский"]),
    ("президент", ["президента", "президентом", "президенти", "президентинин", "президентке", "президентининг"],
     ["президентство", "президентский"]),
    ("алма", ["алманы", "алмага", "алмада"], ["алматы", "алматыда"]),
    ("government", ["governments"], ["governor"]),
    ("berdimuhamedow", ["berdimuhamedowyn", "berdimuhamedowa", "berdimuhamedowy"], []),
    ("mirziyoyev", ["mirziyoyevning", "mirziyoyevga", "mirziyoyevni"], ["mirziyoyevich"]),
])
def test_word_forms(word, forms, others):
    assert [f for f in forms if not inflection.is_form(word, f)] == []
    assert [o for o in others if inflection.is_form(word, o)] == []


def test_a_search_is_stopped_at_its_time_limit():
    conn = connection()
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="interrupt"):
        with Deadline(conn, 0.3):
            conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n").fetchone()
    assert time.monotonic() - started < 2
    with pytest.raises(SearchTimeout, match="took longer than"):
        search(conn, SearchRequest(q="Токаев"), "test", seconds=0.0)


@pytest.mark.parametrize("prefix", ["Ток", "Тоқаев", "Пут", "Путин", "Türkmen", "oʻzb", "Жап", "zzz", "Мәскеу"])
def test_a_prefix_searched_as_the_listed_words_finds_what_fts5s_prefix_query_finds(prefix):
    """Word* is searched as the word list's words that start so (fast: cursors that seek);
    the articles found are exactly FTS5's own prefix query's."""
    stem = tokens(prefix)[0]
    expression = compile_match(prefix + "*", Expander(WordList(connection()))).expression
    if matches(f'"{stem}"*'):
        assert "*" not in expression
    assert sorted(matches(expression)) == sorted(matches(f'"{stem}"*'))


def test_a_prefix_covering_more_words_than_the_limit_is_left_to_fts5():
    limits = Limits(words_per_prefix=1)
    assert compile_match("Путин*", Expander(WordList(connection()), limits), limits).expression == '"путин"*'
    assert compile_match("Путин*", Expander(WordList(connection()))).expression == '("путинцев" OR "путиным")'
