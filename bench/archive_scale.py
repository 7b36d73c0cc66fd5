"""Search at the scale of a real archive: raw SQLite FTS5 against Datasette over HTTP.

    python bench/archive_scale.py [--articles 2000000] [--compare 50000] [--keep PATH] [--before OLD] [--no-doc]

Builds an archive (the project's schema, archive.store.Archive) of `--articles` articles made
from real texts recombined: paragraphs shuffled across pages (English and Russian from the
shared corpus; Kazakh, Kyrgyz, Tajik, Uzbek and Turkmen made from real RFE/RL headlines of
the `rferl-sitemaps` Google News sitemaps, their words given the languages' own suffixes), the
13 RFE/RL outlets of scraper/registry/outlets.yml, dates over 15 years. Two ways of filling the FTS
index are timed on `--compare` articles first (triggers on every insert, or triggers off and
one 'rebuild'); the full build uses the faster.

Then 20 searches run through the search page's own code (archive/search/finder.py: expansion of
every word into its forms and spellings, count, facets and chart, the ranked page of 100) in
this process on the file (raw sqlite3), and through the real `mediawatch serve` child process
over HTTP (`/<db>/search.json`), plus the table and facet pages analysts open. With
`--before OLD` (an archive in the previous version's format: a `--keep` build made by the
previous commit's bench), the previous search's SQL runs there too, for the before/after
columns, the index sizes of both are compared, and when the `--keep` file does not exist yet it
is made by copying OLD and converting it (opening it with `Archive`), timed. Writes the `## Archive scale` section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
import resource
import shutil
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

from bench_common import REPO, corpus_dir, machine, write_section

from archive.search import finder
from archive.search.index import fold, rebuild_search_index
from archive.store import Archive
from scraper.registry.config import load_registry

SEARCH_PAGE = "search"  # the search page (archive/web/plugin.py)
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


# The ranked search before this version: the `search` canned query of datasette-metadata.yml
# (the word as typed, folded; no other forms), kept here to time it on an archive in the
# previous format (--before).
BEFORE_SQL = """
WITH allowed AS NOT MATERIALIZED (
  -- The articles the filters allow, read from an index (used when they are few).
  SELECT id FROM articles
  WHERE :outlet <> '' AND outlet_id = :outlet
    AND (:published_from = '' OR published >= :published_from)
    AND (:published_until = '' OR published < date(:published_until, '+1 day'))
    AND (:language = '' OR language = :language)
  UNION ALL
  SELECT id FROM articles
  WHERE :outlet = '' AND (:published_from <> '' OR :published_until <> '')
    AND published >= :published_from
    AND published < CASE WHEN :published_until = '' THEN 'A' ELSE date(:published_until, '+1 day') END
    AND (:language = '' OR language = :language)
  UNION ALL
  SELECT id FROM articles
  WHERE :outlet = '' AND :published_from = '' AND :published_until = '' AND :language <> ''
    AND language = :language
),
recent AS (
  -- Ranking every match of a very common word (a million rows) takes seconds, so the
  -- ranking covers the 20,000 most recently archived matches the filters allow: all of
  -- them for any rarer word. FTS5 walks the matches newest first and stops at 20,000.
  SELECT rowid AS id FROM articles_fts
  WHERE articles_fts MATCH mediawatch_fold(:q)
    AND CASE
      WHEN :outlet = '' AND :language = '' AND :published_from = '' AND :published_until = '' THEN 1
      -- Filters allowing few articles (under 1 in 8): match against their ids, from an index.
      WHEN (SELECT count(*) FROM (SELECT 1 FROM allowed LIMIT (SELECT max(id) / 8 FROM articles)))
           < (SELECT max(id) / 8 FROM articles) THEN +rowid IN allowed
      -- Filters allowing many: check each match, as 20,000 of them are soon found.
      ELSE EXISTS (SELECT 1 FROM articles a WHERE a.id = articles_fts.rowid
                     AND (:outlet = '' OR a.outlet_id = :outlet)
                     AND (:language = '' OR a.language = :language)
                     AND (:published_from = '' OR a.published >= :published_from)
                     AND (:published_until = '' OR a.published < date(:published_until, '+1 day')))
    END
  ORDER BY rowid DESC
  LIMIT 20000
),
best AS (
  SELECT rowid AS id, bm25(articles_fts) AS score FROM articles_fts
  WHERE articles_fts MATCH mediawatch_fold(:q)
    AND rowid >= (SELECT min(id) FROM recent) AND +rowid IN recent
  ORDER BY score
  LIMIT 100
)
-- The joins in this order (CROSS JOIN): snippets and articles read for the best 100 only.
SELECT a.id AS archived, a.title, o.name AS outlet, a.language, a.published,
       snippet(articles_fts, -1, '[[', ']]', ' … ', 30) AS snippet, a.url AS original
FROM articles_fts
CROSS JOIN best ON best.id = articles_fts.rowid
CROSS JOIN articles a ON a.id = articles_fts.rowid
LEFT JOIN outlets o ON o.id = a.outlet_id
WHERE articles_fts MATCH mediawatch_fold(:q)
  AND articles_fts.rowid >= (SELECT min(id) FROM best)
ORDER BY best.score
"""


def params(q: str, filters: dict) -> dict:
    return {"q": q, **{name: filters.get(name, "") for name in FILTERS}}


def time_before(db: Path, repeats: int) -> list[tuple[list[float], int]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.create_function("mediawatch_fold", 1, fold, deterministic=True)
    out = []
    for _, q, filters in QUERIES:
        conn.execute(BEFORE_SQL, params(q, filters)).fetchall()  # untimed: read the pages it needs once
        times, rows = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            rows = len(conn.execute(BEFORE_SQL, params(q, filters)).fetchall())
            times.append(time.perf_counter() - started)
        out.append((times, rows))
    conn.close()
    return out


def time_raw(db: Path, repeats: int) -> list[tuple[list[float], dict]]:
    """The search page's work in this process: finder.search, as the plugin calls it."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
    outlets = dict(conn.execute("SELECT id, name FROM outlets"))
    out = []
    def run(request):
        """(seconds, results or None when the search's own time limit stopped it)."""
        started = time.perf_counter()
        try:
            found = finder.search(conn, request, str(db), outlets=outlets)
        except finder.SearchTimeout:
            found = None
        return time.perf_counter() - started, found  # after the search: a tuple is built left to right

    for _, q, filters in QUERIES:
        request = finder.SearchRequest(q=q, **filters)
        first, found = run(request)  # untimed for the figures: the first run
        times = []
        for _ in range(repeats):
            seconds, again = run(request)
            times.append(seconds)
            found = again or found
        out.append((times, {"first": first, "total": found.total if found else None, "stopped": found is None,
                            "rows": len(found.rows) if found else 0, "window": bool(found and found.counted_in_window),
                            "forms": sum(len(f.forms) for f in found.match.words) if found else 0}))
    conn.close()
    return out


def index_size(db: Path) -> dict:
    """Bytes of the search index (FTS5 tables) and of the word list, from dbstat."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sizes = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    conn.close()
    index = sum(v for k, v in sizes.items() if k.startswith("articles_fts"))
    words = sum(v for k, v in sizes.items() if k.startswith("search_terms"))
    return {"index": index, "words": words, "file": db.stat().st_size}


def matches(db: Path) -> list[int]:
    """Matches of the words as typed, with the filters (what the previous search matched)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    counts = []
    for _, q, filters in QUERIES:
        where, values = finder.SearchRequest(q=q, **filters).conditions()
        counts.append(conn.execute(
            "SELECT count(*) FROM articles a WHERE a.id IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH :q)"
            + "".join(f" AND {c}" for c in where), {"q": fold(q), **values}).fetchone()[0])
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
        query = urllib.parse.urlencode({"q": q, **filters})
        served.get(f"/{SEARCH_PAGE}.json?{query}")  # untimed, as for the raw runs
        times = []
        for _ in range(repeats):
            seconds, status, body = served.get(f"/{SEARCH_PAGE}.json?{query}")
            if status != 200 and b"took longer than" not in body:  # a stopped search is a figure too
                raise SystemExit(f"search {q!r} answered {status}: {body[:300]!r}")
            times.append(seconds)
        out.append(times)
    return out


PAGES = [
    ("search page, common word (HTML)", "/search?q=Россия"),
    ("search page, newest first, second page", "/search?q=Путин&sort=newest&page=2"),
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
    parser.add_argument("--before", type=Path,
                        help="an archive of the same build in the previous version's format: time the previous search there")
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
        if args.before and not db.exists():
            # Upgrade a copy of the previous version's archive, as opening it in place would.
            shutil.copyfile(args.before, db)
            if args.before.with_name(args.before.name + ".json").exists():
                shutil.copyfile(args.before.with_name(args.before.name + ".json"), figures)
            started, cpu = time.perf_counter(), time.process_time()
            Archive(db).close()
            conversion = {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu,
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "load": os.getloadavg()[0]}
            saved = json.loads(figures.read_text()) if figures.exists() else {}
            figures.write_text(json.dumps({**saved, "conversion": conversion}))
        if args.keep and args.keep.exists():
            saved = json.loads(figures.read_text()) if figures.exists() else {}
            # Opening it brings its schema up to date, as a crawl or `serve` would.
            started = time.perf_counter()
            Archive(db).close()
            result["upgrade_seconds"] = time.perf_counter() - started
            built, strategy, comparison = saved.get("build"), saved.get("strategy", strategy), saved.get("comparison", comparison)
            result["conversion"] = saved.get("conversion")
        else:
            built = build(db, args.articles, strategy, outlets, pools)
            if args.keep:
                figures.write_text(json.dumps({"build": built, "strategy": strategy, "comparison": comparison}))
        counts = matches(db)
        raw = time_raw(db, args.repeats)
        before = time_before(args.before, args.repeats) if args.before else None
        sizes = {"new": index_size(db), **({"before": index_size(args.before)} if args.before else {})}
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
    before_all = [t for times, _ in before for t in times] if before else []
    result.update(raw_p50=pct(raw_all, 50), raw_p95=raw_p95, http_p50=pct(http_all, 50), http_p95=http_p95,
                  ratio=http_p95 / raw_p95, slowest=max(raw_all + http_all), sizes=sizes,
                  before_p95=pct(before_all, 95) if before_all else None,
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
    conversion = result.get("conversion")
    if conversion:
        lines.append(f"**Converting** that archive from the previous version's format (opening a copy with "
                     f"`archive.store.Archive`: index re-declared and rebuilt folded, word list built, spelling "
                     f"keys) took **{conversion['wall']:.0f} s** ({conversion['cpu']:.0f} s CPU, peak RSS "
                     f"{conversion['peak_rss_mb']:.0f} MB, load average {conversion['load']:.1f} at its end): "
                     "what an operator upgrading an archive of this size waits for once, with the archive locked "
                     "for writing meanwhile.")
    if result.get("upgrade_seconds", 0) > 0.5:
        lines.append(f"This run reused an archive built earlier; opening it with this version's schema "
                     f"(`Archive(path)`, e.g. new indexes) took {result['upgrade_seconds']:.1f} s.")
    size_rows = [("index (FTS5 tables)", "index"), ("word list (`search_terms`)", "words"), ("file", "file")]
    lines += ["", "| size | " + " | ".join(sizes) + " |", "| --- |" + " --- |" * len(sizes)]
    for label, key in size_rows:
        lines.append(f"| {label} | " + " | ".join(f"{v[key] / 1e6:,.0f} MB" for v in sizes.values()) + " |")
    lines += ["", "Search: the search page's work (`archive/search/finder.py`: every word expanded into the forms and "
              "spellings the archive holds, count, facets, time chart, the ranked page of 100), {0} timed runs each "
              "after one untimed (whose time, `first`, includes reading the word list cold); raw = in this process "
              "on the file, Datasette = `GET /<db>/search.json?q=…` to a real `mediawatch serve` child process; "
              "before = the previous search's SQL (the word as typed) on the archive in the previous format."
              .format(args.repeats), "",
              "| search | matches before | matches now | forms | raw p50 ms | first ms | Datasette p50 ms | before p50 ms |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for n, ((label, q, filters), count, (times, info), served_times) in enumerate(zip(QUERIES, counts, raw, http)):
        shown = q.replace("|", "\\|") + (" · " + ", ".join(f"{k}={v}" for k, v in filters.items()) if filters else "")
        total = "stopped at the time limit" if info["stopped"] else "–" if info["total"] is None else f"{info['total']:,}"
        previous = ms(statistics.median(before[n][0])) if before else "–"
        lines.append(f"| {label}: `{shown}` | {count:,} | {total}{' (facets: newest 20,000)' if info['window'] else ''} | "
                     f"{info['forms']} | {ms(statistics.median(times))} | {ms(info['first'])} | "
                     f"{ms(statistics.median(served_times))} | {previous} |")
    lines += ["", "| all 20 searches | p50 | p95 | max |", "| --- | --- | --- | --- |",
              f"| raw (search page's work in-process) | {ms(pct(raw_all, 50))} ms | {ms(raw_p95)} ms | {ms(max(raw_all))} ms |",
              f"| Datasette over HTTP | {ms(pct(http_all, 50))} ms | {ms(http_p95)} ms | {ms(max(http_all))} ms |",
              *([f"| before: the previous search's SQL | {ms(pct(before_all, 50))} ms | {ms(pct(before_all, 95))} ms | "
                 f"{ms(max(before_all))} ms |"] if before_all else []),
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
