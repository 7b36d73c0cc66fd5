"""Search at the scale of a real archive: raw SQLite FTS5 against Datasette over HTTP.

    python bench/archive_scale.py [--articles 2000000] [--compare 50000] [--keep PATH] [--no-doc]

Builds an archive (the project's schema, archive.store.Archive) of `--articles` articles made
from real texts recombined: paragraphs shuffled across pages (English and Russian from the
shared corpus; Kazakh, Kyrgyz, Tajik, Uzbek and Turkmen made from real RFE/RL headlines of
the `rferl-sitemaps` Google News sitemaps, their words given the languages' own suffixes), the
13 RFE/RL outlets of scraper/registry/outlets.yml, dates over 15 years. Two ways of filling the FTS
index are timed on `--compare` articles first (triggers on every insert, or triggers off and
one 'rebuild'); the full build uses the faster.

Then 20 searches run through the ranked-search canned query's own SQL (raw sqlite3, ORDER BY
rank with snippet) and through the real `mediawatch serve` child process over HTTP
(`/<db>/search.json`), plus the table and facet pages analysts open. Writes the
`## Archive scale` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from bench_common import REPO, corpus_dir, machine, write_section

from archive.search import fold, rebuild_search_index
from archive.store import Archive
from scraper.registry.config import load_registry

SEARCH_QUERY = "search"  # the ranked-search canned query in datasette-metadata.yml
BATCH = 5_000
START_DAY = 1_293_840_000  # 2011-01-01
SPAN_DAYS = 15 * 365

# Suffixes that make headline words look like the languages' inflected forms, so the
# vocabulary grows as it does in real Turkic/Tajik text (one stem, many word forms).
SUFFIXES = {
    "kk": ["", "", "", "тың", "тің", "ның", "дың", "ға", "ге", "да", "де", "лар", "лер", "мен", "ы", "і", "ін"],
    "ky": ["", "", "", "нын", "дын", "га", "го", "да", "до", "лар", "лор", "менен", "ы", "у"],
    "tg": ["", "", "", "и", "ҳо", "ро", "он", "ӣ", "ии", "ашон"],
    "uz": ["", "", "", "нинг", "га", "да", "лар", "дан", "ни", "и", "си"],  # the headlines are Cyrillic
    "tk": ["", "", "", "yň", "iň", "a", "e", "da", "de", "lar", "ler", "dan", "ny", "i"],
}
NEWS_SITEMAP_HOSTS = {
    "kk": ["www.azattyq.org"], "ky": ["www.azattyk.org"], "tg": ["www.ozodi.org"],
    "uz": ["www.ozodlik.org"], "tk": ["www.azathabar.com"],
    "ru": ["www.svoboda.org", "rus.azattyq.org", "rus.azattyk.org", "rus.ozodi.org", "rus.ozodlik.org",
           "rus.azathabar.com", "www.currenttime.tv"],
    "en": ["www.rferl.org"],
}
SECTIONS = ["Politics", "Economy", "Society", "World", "Culture", "Human rights", "Health", "Sport",
            "Environment", "Opinion", "Interview", "Video"]


# -- texts ----------------------------------------------------------------------------------


def _news_titles(host: str) -> list[str]:
    folder = corpus_dir() / "rferl-sitemaps" / host
    titles = []
    for path in sorted(folder.glob("sitemap_*_news.xml.gz")):
        text = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        titles += [t.strip() for t in re.findall(r"<news:title>(.*?)</news:title>", text, re.S)]
    return titles


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if len(p.split()) >= 8]


def language_pools() -> dict[str, tuple[list[str], list[str]]]:
    """Per language: (titles, paragraphs) to recombine into articles."""
    root = corpus_dir()
    en_paragraphs, en_titles = [], []
    articles = json.loads((root / "andythefactory-article-extraction-dataset" / "articles.json").read_text())
    for article in articles.values():
        en_titles.append(article.get("title") or "")
        en_paragraphs += _paragraphs(article.get("articleBody") or "")
    ru_paragraphs, ru_titles = [], []
    for path in list((root / "fundus" / "test_data" / "ru").glob("*.json")) + list(
        (root / "fundus" / "test_data" / "ua").glob("*.json")
    ):
        for version in json.loads(path.read_text()).values():
            body = version.get("body") or {}
            ru_titles.append(version.get("title") or "")
            for section in body.get("sections", []):
                ru_paragraphs += [p for p in section.get("paragraphs", []) if len(p.split()) >= 8]
    pools = {}
    for language, hosts in NEWS_SITEMAP_HOSTS.items():
        titles = [t for host in hosts for t in _news_titles(host)]
        if language == "en":
            pools[language] = ([t for t in en_titles + titles if t], en_paragraphs)
        elif language == "ru":
            # Real Russian paragraphs plus headline-made ones: the corpus has few Russian pages.
            pools[language] = (titles + [t for t in ru_titles if t],
                               ru_paragraphs + _headline_paragraphs(titles, [""], 600))
        else:
            pools[language] = (titles, _headline_paragraphs(titles, SUFFIXES[language], 3000))
    return pools


def _headline_paragraphs(titles: list[str], suffixes: list[str], count: int) -> list[str]:
    rng = random.Random(len(titles))
    words = [w for t in titles for w in t.split() if w.isalpha()]
    paragraphs = []
    for _ in range(count):
        sentences = []
        for _ in range(rng.randint(2, 4)):
            picked = [rng.choice(words) + rng.choice(suffixes) for _ in range(rng.randint(7, 16))]
            sentences.append(" ".join(picked).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    return paragraphs


# -- the archive ----------------------------------------------------------------------------


def article_rows(outlets, pools, start: int, count: int, seed: int = 1):
    """`count` article rows (as tuples for _COLUMNS), ids from `start`."""
    rng = random.Random(seed * 1_000_003 + start)
    now = "2026-01-01T00:00:00Z"
    for n in range(start, start + count):
        outlet = outlets[n % len(outlets)]
        language = outlet.languages[0]
        titles, paragraphs = pools[language]
        text = "\n\n".join(rng.sample(paragraphs, rng.randint(3, 9)))
        moment = START_DAY + rng.randrange(SPAN_DAYS * 86400)
        published = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
        host = outlet.allowed_hosts[0]
        url = f"https://{host}/a/{n}.html"
        section = json.dumps([rng.choice(SECTIONS)])
        yield (
            url, f"{host}/{n}", outlet.id, rng.choice(titles), "[]", published, language,
            text[:200], outlet.name, section, "[]", text, len(text.split()), url, now, now, now,
            "bench", hashlib.sha1(text.encode()).hexdigest(),
        )


_COLUMNS = ("url", "url_key", "outlet_id", "title", "authors", "published", "language", "description",
            "site_name", "sections", "tags", "text", "word_count", "fetched_url", "first_seen",
            "fetched_at", "updated_at", "extractor_version", "content_hash")


def build(path: Path, count: int, strategy: str, outlets, pools) -> dict:
    """Fill a fresh archive; strategy 'triggers' (FTS kept by triggers) or 'rebuild'."""
    started = time.perf_counter()
    archive = Archive(path)
    archive.sync_outlets(outlets)
    conn = archive.conn
    # A bulk load, not a crawl: a crash mid-build only loses the benchmark's file.
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'articles'"
    ).fetchall()
    if strategy == "rebuild":
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {name}")
    insert = f"INSERT INTO articles ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
    for start in range(0, count, BATCH):
        with archive.write():
            conn.executemany(insert, article_rows(outlets, pools, start, min(BATCH, count - start)))
    inserted = time.perf_counter()
    if strategy == "rebuild":
        with archive.write():
            # FTS5's own 'rebuild' would index unfolded words: re-index the mediawatch way.
            rebuild_search_index(conn)
            for _, sql in triggers:
                conn.execute(sql)
    indexed = time.perf_counter()
    with archive.write():
        conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
    optimized = time.perf_counter()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.close()
    return {"seconds": time.perf_counter() - started, "insert": inserted - started,
            "fts": indexed - inserted, "optimize": optimized - indexed, "size": path.stat().st_size}


# -- searches -------------------------------------------------------------------------------

# (label, q, filters): filters are the canned query's other parameters.
QUERIES = [
    ("Russian, common word", "Россия", {}),
    ("Russian, common prefix", "Украин*", {}),
    ("Russian, two words", "Путин Украина", {}),
    ("Russian, phrase", '"Владимир Путин"', {}),
    ("Russian, rare phrase", '"министр иностранных дел"', {}),
    ("Russian, rare word", "Малайзии", {}),
    ("Kazakh, word prefix", "Ресей*", {}),
    ("Kazakh, name prefix", "Ербол*", {}),
    ("Kazakh, filtered by outlet", "итбалық*", {"outlet": "azattyq-kk"}),
    ("Kyrgyz, city prefix", "Бишкек*", {}),
    ("Tajik, city prefix", "Душанбе*", {}),
    ("Uzbek, name prefix", "Мирзиёев*", {}),
    ("Turkmen (Latin), prefix", "Türkmen*", {}),
    ("English, common word", "government", {}),
    ("English, phrase", '"United States"', {}),
    ("English, rare word", "marijuana", {}),
    ("English, NOT", "Ukraine NOT Russia", {}),
    ("common word, language filter", "Россия", {"language": "ru"}),
    ("common word, date range", "Украина", {"published_from": "2020-01-01", "published_until": "2020-12-31"}),
    ("prefix, outlet + dates", "Путин*", {"outlet": "svoboda", "published_from": "2022-02-24"}),
]
FILTERS = ("outlet", "language", "published_from", "published_until")


def canned_sql() -> str:
    metadata = yaml.safe_load((REPO / "datasette-metadata.yml").read_text(encoding="utf-8"))
    return metadata["databases"]["archive"]["queries"][SEARCH_QUERY]["sql"]


def every_match_sql(sql: str) -> str | None:
    """The canned query without its window over the newest matches: ranking every match, as
    it did before the window was added (None if the query has no such window)."""
    window = "\n  LIMIT 20000\n"
    return sql.replace(window, "\n") if window in sql else None


def params(q: str, filters: dict) -> dict:
    return {"q": q, **{name: filters.get(name, "") for name in FILTERS}}


def time_raw(db: Path, sql: str, repeats: int) -> list[tuple[list[float], int]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    # The canned query folds its search words as the index was folded (archive/search.py).
    conn.create_function("mediawatch_fold", 1, fold, deterministic=True)
    out = []
    for _, q, filters in QUERIES:
        conn.execute(sql, params(q, filters)).fetchall()  # untimed: read the pages it needs once
        times, rows = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            rows = len(conn.execute(sql, params(q, filters)).fetchall())
            times.append(time.perf_counter() - started)
        out.append((times, rows))
    conn.close()
    return out


def matches(db: Path) -> list[int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    counts = [conn.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (fold(q),)).fetchone()[0]
              for _, q, _ in QUERIES]
    conn.close()
    return counts


class Served:
    """`mediawatch serve DB` in a child process on a free port."""

    def __init__(self, db: Path):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scraper.cli", "serve", str(db), "--port", str(self.port)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}/{db.stem}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/versions.json", timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise SystemExit("mediawatch serve did not start")
                time.sleep(0.3)

    def get(self, path: str) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        try:
            url = self.base + urllib.parse.quote(path, safe="/?&=*%.+")
            with urllib.request.urlopen(url, timeout=60) as response:
                body, status = response.read(), response.status
        except urllib.error.HTTPError as exc:
            body, status = exc.read(), exc.code
        return time.perf_counter() - started, status, body

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def time_served(served: Served, repeats: int) -> list[list[float]]:
    out = []
    for _, q, filters in QUERIES:
        query = urllib.parse.urlencode({**params(q, filters), "_shape": "array"})
        served.get(f"/{SEARCH_QUERY}.json?{query}")  # untimed, as for the raw runs
        times = []
        for _ in range(repeats):
            seconds, status, body = served.get(f"/{SEARCH_QUERY}.json?{query}")
            if status != 200:
                raise SystemExit(f"search {q!r} answered {status}: {body[:300]!r}")
            times.append(seconds)
        out.append(times)
    return out


PAGES = [
    ("articles table, newest first, facets", "/articles"),
    ("table search, common word", "/articles?_search=Россия"),
    ("table search, Kazakh prefix", "/articles?_search=Ресей*"),
    ("table search + language filter", "/articles?_search=government&language=en"),
    ("outlet filter, no search", "/articles?outlet_id=azattyq-kk"),
    ("month facet value", "/articles?published_month=2019-05"),
    ("table search, JSON, no count", "/articles.json?_search=Россия&_nocount=1&_facet_size=0"),
    ("alert feed (Atom), common word", "/alerts.atom?q=Россия"),
    ("alert feed (Atom), rare word", "/alerts.atom?q=marijuana"),
]


def time_pages(served: Served, repeats: int) -> list[tuple[list[float], str]]:
    """Per page: the times, and what went short ('' when nothing did)."""
    out = []
    for _, path in PAGES:
        times, problems = [], set()
        for _ in range(repeats):
            seconds, status, body = served.get(path)
            if status != 200:
                title = re.search(rb"<title>(.*?)</title>", body)
                problems.add(f"error {status}" + (f" ({title[1].decode()})" if title else ""))
            elif b"timed out" in body.lower() or b"facet_timed_out" in body:
                problems.add("a facet or the count timed out")
            times.append(seconds)
        out.append((times, "; ".join(sorted(problems))))
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f}" if seconds >= 0.01 else f"{1000 * seconds:.1f}"


# -- main -----------------------------------------------------------------------------------


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2_000_000)
    parser.add_argument("--compare", type=int, default=50_000,
                        help="articles for the triggers-vs-rebuild comparison (0: skip it, use rebuild)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path,
                        help="build into this file and keep it (figures in FILE.json); an existing one is reused")
    parser.add_argument("--no-doc", action="store_true", help="print, do not write docs/benchmarks.md")
    args = parser.parse_args(argv)

    header = machine()
    outlets = load_registry(REPO / "scraper" / "registry" / "outlets.yml").select([])
    pools = language_pools()
    tmp = Path(tempfile.mkdtemp(prefix="mediawatch-bench-scale-"))
    result: dict = {"articles": args.articles}
    try:
        strategy, comparison = "rebuild", {}
        if args.compare:
            for name in ("triggers", "rebuild"):
                comparison[name] = build(tmp / f"compare-{name}.db", args.compare, name, outlets, pools)
                (tmp / f"compare-{name}.db").unlink()
            strategy = min(comparison, key=lambda name: comparison[name]["seconds"])
        db = args.keep or tmp / "archive.db"
        figures = db.with_name(db.name + ".json")  # a kept archive's build figures
        if args.keep and args.keep.exists():
            saved = json.loads(figures.read_text()) if figures.exists() else {}
            # Opening it brings its schema up to date, as a crawl or `serve` would.
            started = time.perf_counter()
            Archive(db).close()
            result["upgrade_seconds"] = time.perf_counter() - started
            built, strategy, comparison = saved.get("build"), saved.get("strategy", strategy), saved.get("comparison", comparison)
        else:
            built = build(db, args.articles, strategy, outlets, pools)
            if args.keep:
                figures.write_text(json.dumps({"build": built, "strategy": strategy, "comparison": comparison}))
        sql = canned_sql()
        counts = matches(db)
        raw = time_raw(db, sql, args.repeats)
        unwindowed = every_match_sql(sql)
        raw_every = time_raw(db, unwindowed, 1) if unwindowed else None
        served = Served(db)
        try:
            http = time_served(served, args.repeats)
            pages = time_pages(served, max(2, args.repeats // 2))
        finally:
            served.stop()
        load_end = os.getloadavg()[0]
    finally:
        for path in tmp.glob("*"):
            path.unlink()
        tmp.rmdir()

    raw_all = [t for times, _ in raw for t in times]
    http_all = [t for times in http for t in times]
    raw_p95, http_p95 = pct(raw_all, 95), pct(http_all, 95)
    every_all = [times[0] for times, _ in raw_every] if raw_every else []
    result.update(every_p95=pct(every_all, 95) if every_all else None, raw_p50=pct(raw_all, 50), raw_p95=raw_p95, http_p50=pct(http_all, 50), http_p95=http_p95,
                  ratio=http_p95 / raw_p95, slowest=max(raw_all + http_all),
                  pages={label: statistics.median(times) for (label, _), (times, _) in zip(PAGES, pages)},
                  build=built, comparison=comparison)

    lines = [f"`python bench/archive_scale.py --articles {args.articles}` — {header}, {load_end:.1f} at the end.", ""]
    lines.append(
        f"{args.articles:,} articles in the project's schema (`archive.store.Archive`): real paragraphs "
        "recombined (English and Russian from the corpus; Kazakh, Kyrgyz, Tajik, Uzbek, Turkmen made from "
        "the words of real RFE/RL headlines in the `rferl-sitemaps` news sitemaps, with the languages' "
        "suffixes), the 13 RFE/RL outlets, published dates spread over 15 years."
    )
    lines.append("")
    if comparison:
        lines += ["Filling the FTS index, measured on "
                  f"{args.compare:,} articles (inserts in {BATCH:,}-row transactions, then `optimize`):", "",
                  "| strategy | total | inserts | FTS rebuild | optimize | file |", "| --- | --- | --- | --- | --- | --- |"]
        for name, c in comparison.items():
            lines.append(f"| {name} | {c['seconds']:.1f} s | {c['insert']:.1f} s | {c['fts']:.1f} s | "
                         f"{c['optimize']:.1f} s | {c['size'] / 1e6:.0f} MB |")
        lines += ["", f"The full build used **{strategy}**."]
    if built:
        lines.append(f"Full build: **{built['seconds']:.0f} s** (inserts {built['insert']:.0f} s, FTS {built['fts']:.0f} s, "
                     f"optimize {built['optimize']:.0f} s), file **{built['size'] / 1e9:.2f} GB**.")
    if result.get("upgrade_seconds", 0) > 0.5:
        lines.append(f"This run reused an archive built earlier; opening it with this version's schema "
                     f"(`Archive(path)`, e.g. new indexes) took {result['upgrade_seconds']:.1f} s.")
    lines += ["", f"Ranked search: the `{SEARCH_QUERY}` canned query's SQL (FTS5 `MATCH`, `ORDER BY rank`, `snippet()`, "
              "optional outlet/language/date filters, `LIMIT 100`), {0} timed runs each after one untimed; raw = Python `sqlite3` on the file, "
              "Datasette = `GET /<db>/search.json?q=…` to a real `mediawatch serve` child process."
              .format(args.repeats), "",
              "| search | matches | raw p50 ms | Datasette p50 ms | raw, ranking every match (before) ms |",
              "| --- | --- | --- | --- | --- |"]
    for n, ((label, q, filters), count, (times, _), served_times) in enumerate(zip(QUERIES, counts, raw, http)):
        shown = q.replace("|", "\\|") + (" · " + ", ".join(f"{k}={v}" for k, v in filters.items()) if filters else "")
        before = ms(raw_every[n][0][0]) if raw_every else "–"
        lines.append(f"| {label}: `{shown}` | {count:,} | {ms(statistics.median(times))} | "
                     f"{ms(statistics.median(served_times))} | {before} |")
    lines += ["", "| all 20 searches | p50 | p95 | max |", "| --- | --- | --- | --- |",
              f"| raw FTS5 | {ms(pct(raw_all, 50))} ms | {ms(raw_p95)} ms | {ms(max(raw_all))} ms |",
              f"| Datasette over HTTP | {ms(pct(http_all, 50))} ms | {ms(http_p95)} ms | {ms(max(http_all))} ms |",
              *([f"| raw, ranking every match (before the window), one run | {ms(pct(every_all, 50))} ms | "
                 f"{ms(pct(every_all, 95))} ms | {ms(max(every_all))} ms |"] if every_all else []),
              "", f"**Datasette p95 / raw p95 = {http_p95 / raw_p95:.2f}** (target ≤ 1.3); slowest single search "
              f"{ms(max(raw_all + http_all))} ms (target < 1000 ms).", "",
              "Pages analysts open (HTML unless noted; median of the runs):", "",
              "| page | ms | cut short |", "| --- | --- | --- |"]
    for (label, path), (times, problem) in zip(PAGES, pages):
        lines.append(f"| {label}: `{path}` | {ms(statistics.median(times))} | {problem or 'no'} |")
    body = "\n".join(lines)
    if not args.no_doc:
        write_section("Archive scale", body)
    print(body)
    return result


if __name__ == "__main__":
    main()
