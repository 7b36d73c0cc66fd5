"""The archive's full-text index: folded words, declared so that every SQLite tool finds it.

SQLite's unicode61 tokenizer folds case and Latin accents (café = cafe) but treats ё/е, the
Ukrainian є/ї/ґ and the Kazakh, Kyrgyz, Uzbek and Tajik letters (қ, ғ, ә, ө, ұ, ү, ң, һ, і,
ў, ҳ, ӣ, ӯ, ҷ) as letters of their own. The same person is then two words: Тоқаев in a Kazakh
article, Токаев in a Russian one, Токаєв in a Ukrainian one. The archive's one full-text
index, `articles_fts`, stores every title and text with these letters folded to their closest
Russian letter, and every search folds its query the same way.

Folding replaces one letter by one letter, so the folded text has the same tokens at the same
positions as the original. The index reads its *content* (for snippet() and highlight())
from the articles table itself: highlights land on the original, unfolded words. The price is
that FTS5's own 'rebuild' command would re-index the unfolded text; use
`rebuild_search_index` instead.

The index is declared `content="articles"`: the form plain Datasette and `sqlite-utils search`
recognise, so they search it too (without the query-side folding and word forms, which live in
archive/search/query.py).

Beside it, `search_terms` lists every distinct word of the index with its cross-script
spelling key (archive/search/spelling.py). Query expansion (archive/search/query.py) reads it to find which
inflected forms and other-script spellings of a word the archive holds: a range scan in a
B-tree, where FTS5's own fts5vocab would read every matching word's whole document list.
Triggers keep the words in step through a small contentless scratch index, in plain SQL, so
any SQLite client can write to the archive; the spelling key needs Python and is filled by a
TEMP trigger on mediawatch's own connections (and once on open for words other clients added).

The fold is plain SQL (replace()) in the triggers; `fold` is the same mapping in Python, for
queries.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time

# Each letter and the Russian letter it is searched as (lower case; upper case follows).
FOLDS = {
    "ё": "е",  # Russian: ё is often written е
    "є": "е",  # Ukrainian: Токаєв / Токаев
    "ї": "и",  # Ukrainian
    "ґ": "г",  # Ukrainian
    "ә": "а",  # Kazakh
    "ғ": "г",  # Kazakh, Uzbek, Tajik
    "қ": "к",  # Kazakh, Uzbek, Tajik: Тоқаев / Токаев
    "ң": "н",  # Kazakh, Kyrgyz
    "ө": "о",  # Kazakh, Kyrgyz
    "ұ": "у",  # Kazakh
    "ү": "у",  # Kazakh, Kyrgyz
    "һ": "х",  # Kazakh
    "і": "и",  # Kazakh, Ukrainian, Belarusian
    "ў": "у",  # Uzbek, Belarusian
    "ҳ": "х",  # Uzbek, Tajik
    "ӣ": "и",  # Tajik
    "ӯ": "у",  # Tajik
    "ҷ": "ч",  # Tajik
}
_PAIRS = [(letter, plain) for letter, plain in FOLDS.items()] + [
    (letter.upper(), plain.upper()) for letter, plain in FOLDS.items()
]
_TABLE = str.maketrans(dict(_PAIRS))

INDEX = "articles_fts"
TERMS = "search_terms"
_SCRATCH = "search_terms_scratch"
TOKENIZER = "unicode61 remove_diacritics 2"
# Version of archive.search.spelling's keys: a change to the rules there recomputes every stored key
# (kept in the word list as the key of the empty word, which no text contains).
SPELLING_VERSION = "3"
# Triggers of archives made by older versions: sqlite-utils' enable_fts() (unfolded words) and
# the folded index before the word list existed. Replaced when such an archive is opened.
_LEGACY_TRIGGERS = ("articles_ai", "articles_ad", "articles_au")


def fold(text: str | None) -> str | None:
    """`text` with every letter of FOLDS replaced by its Russian counterpart."""
    return text.translate(_TABLE) if isinstance(text, str) else text


_TOKENIZER_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _tokenizer():
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute(f"CREATE VIRTUAL TABLE one USING fts5(x, tokenize='{TOKENIZER}')")
    conn.execute("CREATE VIRTUAL TABLE one_terms USING fts5vocab(one, row)")
    return conn


@functools.lru_cache(maxsize=65536)
def _index_letter(ch: str) -> str:
    """One letter as the index's tokenizer stores it (its case and Latin accent folding, from
    SQLite itself, so queries can never fold differently), or '' for a separator."""
    with _TOKENIZER_LOCK:
        conn = _tokenizer()
        conn.execute("DELETE FROM one")
        conn.execute("INSERT INTO one(x) VALUES (?)", (ch,))
        terms = [row[0] for row in conn.execute("SELECT term FROM one_terms")]
    return terms[0] if terms else ""


def index_form(word: str) -> str:
    """A word (no separators in it) as the index stores it: folded (FOLDS), then lower case
    and without Latin accents as unicode61 with remove_diacritics 2 makes it."""
    return "".join(_index_letter(ch) for ch in fold(word))


def _folded_rows(condition: str) -> str:
    """SELECT id, title, text of the articles meeting `condition`, folded, in plain SQL.

    The nested replace() calls are split over subqueries of 10: SQLite's parser refuses that
    many nested calls in one expression inside a trigger."""
    query = f"SELECT id, title, text FROM articles WHERE {condition}"
    for start in range(0, len(_PAIRS), 10):
        title, text = "title", "text"
        for letter, plain in _PAIRS[start:start + 10]:
            title = f"replace({title}, '{letter}', '{plain}')"
            text = f"replace({text}, '{letter}', '{plain}')"
        query = f"SELECT id, {title} AS title, {text} AS text FROM ({query})"
    return query


def _index_table() -> str:
    return (f'CREATE VIRTUAL TABLE {INDEX} USING fts5(title, text, content="articles", content_rowid="id",'
            f" tokenize='{TOKENIZER}')")


def _triggers() -> dict[str, str]:
    """The index's triggers by name, as SQLite stores them (so stored ones can be compared)."""
    def remove(row: str) -> str:
        return (f"INSERT INTO {INDEX}({INDEX}, rowid, title, text)"
                f" SELECT 'delete', id, title, text FROM ({_folded_rows(f'id = {row}.id')});")

    # New words of the article go to the word list by way of the scratch index, which is
    # emptied again at once: it only ever holds one article. Not INSERT OR IGNORE: a trigger's
    # own conflict clause gives way to the firing statement's, and an upsert into articles
    # (the cluster writer's, anyone's ON CONFLICT DO UPDATE) would abort on every known word.
    add = (f"INSERT INTO {INDEX}(rowid, title, text) {_folded_rows('id = new.id')};"
           f" INSERT INTO {_SCRATCH}(rowid, title, text) {_folded_rows('id = new.id')};"
           f" INSERT INTO {TERMS}(term) SELECT term FROM {_SCRATCH}_vocab AS v"
           f" WHERE NOT EXISTS (SELECT 1 FROM {TERMS} WHERE {TERMS}.term = v.term);"
           f" INSERT INTO {_SCRATCH}({_SCRATCH}) VALUES ('delete-all');")
    # Removing needs the indexed (old) words, so it runs before the row changes or goes. Words
    # stay in the word list: a word no article holds any more costs one empty lookup.
    return {
        f"{INDEX}_ai": f"CREATE TRIGGER {INDEX}_ai AFTER INSERT ON articles BEGIN {add} END",
        f"{INDEX}_bd": f"CREATE TRIGGER {INDEX}_bd BEFORE DELETE ON articles BEGIN {remove('old')} END",
        f"{INDEX}_bu": f"CREATE TRIGGER {INDEX}_bu BEFORE UPDATE OF title, text ON articles BEGIN {remove('old')} END",
        f"{INDEX}_au": f"CREATE TRIGGER {INDEX}_au AFTER UPDATE OF title, text ON articles BEGIN {add} END",
    }


def _word_list_tables() -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {TERMS} (term TEXT PRIMARY KEY, spelling TEXT) WITHOUT ROWID",
        f"CREATE INDEX IF NOT EXISTS {TERMS}_spelling ON {TERMS}(spelling)",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {_SCRATCH} USING fts5(title, text, content='', detail=none,"
        f" tokenize='{TOKENIZER}')",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {_SCRATCH}_vocab USING fts5vocab({_SCRATCH}, row)",
    ]


# The columns the search page filters, sorts and counts by, beside each article's id: reading
# them for 20,000 matches from this narrow index takes milliseconds, from the articles rows
# (kind, added last, is stored after the text) it took seconds.
SEARCH_FILTERS_INDEX = "articles_search_filters"
_FILTERS_INDEX_SQL = (f"CREATE INDEX IF NOT EXISTS {SEARCH_FILTERS_INDEX}"
                      " ON articles(id, outlet_id, language, kind, published)")


def _stored(conn, name: str) -> str | None:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def create_search_index(conn) -> float | None:
    """Bring the index, its triggers and the word list up to date; call inside a write
    transaction. An archive whose index differs from today's (made by an older version: other
    folding, another declaration, no word list) is re-indexed once, here. Returns the seconds
    the conversion took, or None when everything was current."""
    had_word_list = _stored(conn, TERMS) is not None
    for statement in _word_list_tables():
        conn.execute(statement)
    conn.execute(_FILTERS_INDEX_SQL)
    _fill_spellings_in_python(conn)
    wanted = _triggers()
    index_current = (_stored(conn, INDEX) == _index_table()
                     and not any(_stored(conn, name) for name in _LEGACY_TRIGGERS))
    if index_current and all(_stored(conn, name) == sql for name, sql in wanted.items()):
        _add_missing_spellings(conn)
        return None
    if index_current and had_word_list and all(_stored(conn, name) for name in wanted):
        # Only the triggers' text changed (a fix in how they write): the index and the word
        # list they kept are sound, so re-create the triggers without re-indexing.
        for name, sql in wanted.items():
            conn.execute(f"DROP TRIGGER {name}")
            conn.execute(sql)
        _add_missing_spellings(conn)
        return None
    started = time.perf_counter()
    for name in (*_LEGACY_TRIGGERS, *wanted):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    if _stored(conn, INDEX) != _index_table():
        conn.execute(f"DROP TABLE IF EXISTS {INDEX}")
        conn.execute(_index_table())
    for sql in wanted.values():
        conn.execute(sql)
    rebuild_search_index(conn)
    return time.perf_counter() - started


def rebuild_search_index(conn) -> None:
    """Re-index every article and list every word again (after a change to FOLDS, or to
    repair the index)."""
    conn.execute(f"INSERT INTO {INDEX}({INDEX}) VALUES ('delete-all')")
    conn.execute(f"INSERT INTO {INDEX}(rowid, title, text) {_folded_rows('TRUE')}")
    conn.execute(f"DELETE FROM {TERMS}")
    # Once over the whole index: fts5vocab reads every word's document list, which is what
    # the word list saves each query from doing.
    conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{INDEX}_vocab USING fts5vocab(main, {INDEX}, row)")
    conn.execute(f"INSERT OR IGNORE INTO {TERMS}(term) SELECT term FROM temp.{INDEX}_vocab")
    conn.execute(f"DROP TABLE temp.{INDEX}_vocab")
    _add_missing_spellings(conn)


def _fill_spellings_in_python(conn) -> None:
    """On this (mediawatch) connection, give every word added to the list its spelling key as
    it is added. A TEMP trigger: other clients' connections do not have it, nor need the
    Python function it calls."""
    from archive.search.spelling import spelling_key

    conn.create_function("mediawatch_spelling_key", 1, spelling_key, deterministic=True)
    conn.execute(f"CREATE TEMP TRIGGER IF NOT EXISTS {TERMS}_spelling AFTER INSERT ON main.{TERMS}"
                 f" WHEN new.term <> '' BEGIN"
                 f" UPDATE {TERMS} SET spelling = mediawatch_spelling_key(new.term) WHERE term = new.term; END")


def _add_missing_spellings(conn) -> None:
    """Spelling keys for words that other SQLite clients' writes added without one, and for
    every word when the key rules changed since they were computed."""
    version = "\x01" + SPELLING_VERSION
    stored = conn.execute(f"SELECT spelling FROM {TERMS} WHERE term = ''").fetchone()
    if stored is None or stored[0] != version:
        conn.execute(f"UPDATE {TERMS} SET spelling = mediawatch_spelling_key(term) WHERE term <> ''")
        conn.execute(f"INSERT OR REPLACE INTO {TERMS}(term, spelling) VALUES ('', ?)", (version,))
    else:
        conn.execute(f"UPDATE {TERMS} SET spelling = mediawatch_spelling_key(term) WHERE spelling IS NULL")
