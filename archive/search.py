"""Full-text search that ignores the spelling differences analysts do not mean.

SQLite's unicode61 tokenizer folds case and Latin accents (café = cafe) but treats ё/е and the
Kazakh, Kyrgyz, Uzbek and Tajik letters (қ, ғ, ә, ө, ұ, ү, ң, һ, і, ў, ҳ, ӣ, ӯ, ҷ) as letters
of their own. The same person is then two words: Тоқаев in a Kazakh article, Токаев in a
Russian one; Семёнов and Семенов in two Russian ones. The archive's one full-text index,
`articles_fts`, stores every title and text with these letters folded to their closest Russian
letter, and every search folds its query the same way, so one query finds both spellings.

Folding replaces one letter by one letter, so the folded text has the same tokens at the same
positions as the original. The index reads its *content* (for snippet() and highlight())
from the articles table itself: highlights land on the original, unfolded words. The price is
that FTS5's own 'rebuild' command would re-index the unfolded text; use
`rebuild_search_index` instead.

The fold is plain SQL (replace()) in the triggers, so any SQLite client can write to the
archive; `fold` is the same mapping in Python, for queries.
"""

from __future__ import annotations

# Each letter and the Russian letter it is searched as (lower case; upper case follows).
FOLDS = {
    "ё": "е",  # Russian: ё is often written е
    "ә": "а",  # Kazakh
    "ғ": "г",  # Kazakh, Uzbek, Tajik
    "қ": "к",  # Kazakh, Uzbek, Tajik: Тоқаев / Токаев
    "ң": "н",  # Kazakh, Kyrgyz
    "ө": "о",  # Kazakh, Kyrgyz
    "ұ": "у",  # Kazakh
    "ү": "у",  # Kazakh, Kyrgyz
    "һ": "х",  # Kazakh
    "і": "и",  # Kazakh (also Ukrainian, Belarusian)
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
# The triggers sqlite-utils' enable_fts() gave archives made before folding: they index the
# unfolded text and are replaced by ours (see create_search_index).
_UNFOLDED_TRIGGERS = ("articles_ai", "articles_ad", "articles_au")
TOKENIZER = "unicode61 remove_diacritics 2"


def fold(text: str | None) -> str | None:
    """`text` with every letter of FOLDS replaced by its Russian counterpart."""
    return text.translate(_TABLE) if isinstance(text, str) else text


def _folded_rows(condition: str) -> str:
    """SELECT id, title, text of the articles meeting `condition`, folded, in plain SQL.

    The 30 nested replace() calls are split over subqueries: SQLite's parser refuses that
    many nested calls in one expression inside a trigger."""
    query = f"SELECT id, title, text FROM articles WHERE {condition}"
    for start in range(0, len(_PAIRS), 10):
        title, text = "title", "text"
        for letter, plain in _PAIRS[start:start + 10]:
            title = f"replace({title}, '{letter}', '{plain}')"
            text = f"replace({text}, '{letter}', '{plain}')"
        query = f"SELECT id, {title} AS title, {text} AS text FROM ({query})"
    return query


def _schema() -> list[str]:
    def remove(row: str) -> str:
        return (f"INSERT INTO {INDEX}({INDEX}, rowid, title, text)"
                f" SELECT 'delete', id, title, text FROM ({_folded_rows(f'id = {row}.id')});")

    add = f"INSERT INTO {INDEX}(rowid, title, text) {_folded_rows('id = new.id')};"
    # Removing needs the indexed (old) words, so it runs before the row changes or goes.
    return [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {INDEX} USING fts5("
        f"title, text, content='articles', content_rowid='id', tokenize='{TOKENIZER}')",
        f"CREATE TRIGGER IF NOT EXISTS {INDEX}_ai AFTER INSERT ON articles BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {INDEX}_bd BEFORE DELETE ON articles BEGIN {remove('old')} END",
        f"CREATE TRIGGER IF NOT EXISTS {INDEX}_bu BEFORE UPDATE OF title, text ON articles"
        f" BEGIN {remove('old')} END",
        f"CREATE TRIGGER IF NOT EXISTS {INDEX}_au AFTER UPDATE OF title, text ON articles BEGIN {add} END",
    ]


def create_search_index(conn) -> bool:
    """Create the folded index and its triggers if missing, indexing every article already
    stored; an archive whose index holds unfolded words (made by an older version) has its
    triggers replaced and is re-indexed once. Call inside a write transaction. Returns True
    if the index was (re)built."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (INDEX,)).fetchone()
    unfolded = conn.execute(
        f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN {_UNFOLDED_TRIGGERS}"
    ).fetchone()[0]
    for trigger in _UNFOLDED_TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for statement in _schema():
        conn.execute(statement)
    if exists and not unfolded:
        return False
    rebuild_search_index(conn)
    return True


def rebuild_search_index(conn) -> None:
    """Re-index every article (after a change to FOLDS, or to repair the index)."""
    conn.execute(f"INSERT INTO {INDEX}({INDEX}) VALUES ('delete-all')")
    _index_all(conn)


def _index_all(conn) -> None:
    conn.execute(f"INSERT INTO {INDEX}(rowid, title, text) {_folded_rows('TRUE')}")
