"""Word index, folded word index and substring (trigram) index for Kazakh/Russian search.

Three FTS5 indexes over the same texts (real Kazakh, Russian and other RFE/RL headlines from
the news sitemaps, recombined into article-length texts):

- unicode61: words as written (what a plain FTS5 table, and archives before folding, hold);
- folded: words with қ/к, ё/е ... folded (archive/search/index.py, the archive's `articles_fts`
  index), so Тоқаев and Токаев are one word;
- trigram: any substring, which also finds stems inside words and bare suffixes.

Writes `## Measurements: tokenizers` in docs/search.md.

    python bench/search_tokenizers.py [--articles 20000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench_common import REPO, corpus_dir, machine, write_section

from archive.search.index import fold
from scraper.discovery.documents import parse_sitemap

REPORT = REPO / "docs" / "search.md"

# (what is searched, word query, trigram query); the folded index gets fold(word query).
QUERIES = [
    ("name as prefix", "Назарбаев*", '"Назарбаев"'),
    ("name, Kazakh spelling", "Тоқаев*", '"Тоқаев"'),
    ("name, Russian spelling", "Токаев*", '"Токаев"'),
    ("common Kazakh word", "Қазақстан*", '"Қазақстан"'),
    ("Russian word", "президент*", '"президент"'),
    ("stem inside a word", None, '"зарбаев"'),
    ("suffix only", None, '"тың"'),
    ("two words", "Қазақстан* AND президент*", '"Қазақстан" AND "президент"'),
]
INDEXES = {
    "unicode61": ("unicode61 remove_diacritics 2", lambda text: text),
    "folded": ("unicode61 remove_diacritics 2", fold),
    "trigram": ("trigram", lambda text: text),
}


def headlines() -> list[str]:
    folder = corpus_dir() / "rferl-sitemaps"
    titles = []
    for path in sorted(folder.glob("*/sitemap_*_news.xml.gz")):
        _, entries = parse_sitemap(path.read_bytes())
        titles += [e.title for e in entries if e.title]
    return titles


def build(path: Path, tokenize: str, texts: list[str]) -> float:
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='{tokenize}')")
    start = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO fts(text) VALUES (?)", ((t,) for t in texts))
    conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def timed(conn, query: str, repeat: int = 5) -> tuple[float, int]:
    times, count = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        count = len(conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT 1000000", (query,)).fetchall())
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, count


def cell(result: tuple[float, int] | None) -> str:
    return "—" if result is None else f"{result[1]:,} in {result[0]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=20000)
    args = parser.parse_args()
    rng = random.Random(7)
    titles = headlines()
    names = ["Назарбаевтың", "Назарбаевқа", "Назарбаев", "Назарбаевпен", "Тоқаевтың", "Токаева",
             "президенті", "Қазақстанда"]
    texts = [" ".join(rng.choice(titles) for _ in range(12)) + " " + rng.choice(names) for _ in range(args.articles)]
    with tempfile.TemporaryDirectory() as folder:
        built = {}
        for name, (tokenize, transform) in INDEXES.items():
            path = Path(folder) / f"{name}.db"
            seconds = build(path, tokenize, [transform(t) for t in texts])
            built[name] = (sqlite3.connect(path), seconds, path.stat().st_size)
        rows = []
        for label, word_query, trigram_query in QUERIES:
            rows.append((label, word_query, trigram_query,
                         word_query and timed(built["unicode61"][0], word_query),
                         word_query and timed(built["folded"][0], fold(word_query)),
                         timed(built["trigram"][0], trigram_query)))
    word_size = built["unicode61"][2]
    lines = [
        f"`python bench/search_tokenizers.py --articles {args.articles}` — {machine()}",
        "",
        f"{args.articles:,} article-length texts built from real Kazakh/Russian/other RFE/RL headlines.",
        "",
        "| index | build | size |",
        "| --- | --- | --- |",
    ]
    for name, (_, seconds, size) in built.items():
        lines.append(f"| {name} | {seconds:.1f} s | {size / 2**20:.1f} MB ({size / word_size:.2f}×) |")
    lines += [
        "",
        "Matches and median query time (all matches, ranked):",
        "",
        "| search | word query | unicode61 | folded | trigram query | trigram |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, word_query, trigram_query, word, folded, trigram in rows:
        shown = f"`{word_query}`" if word_query else "(not expressible)"
        lines.append(f"| {label} | {shown} | {cell(word or None)} | {cell(folded or None)} | `{trigram_query}` | {cell(trigram)} |")
    print("\n".join(lines))
    write_section("Measurements: tokenizers", "\n".join(lines), REPORT)


if __name__ == "__main__":
    main()
