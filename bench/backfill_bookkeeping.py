"""Benchmark: backfill bookkeeping over every RFE/RL sitemap in the shared corpus.

Reads every sitemap of the shared copy (/work/shared/corpus/rferl-sitemaps: 44 Pangea hosts,
complete archives for the Central Asian services, about 1.8 million <url> entries), dedupes
them against a populated archive and queues what is missing, through the functions the
crawler uses: `parse_sitemap`, the outlet's `children` filter and `article_key`, and
`Frontier.record` / `mark_archived` / `count_todo`. Prints wall time and peak RSS and writes
its section of docs/benchmarks.md.

The archive is populated first in a separate process (one article in four, stored under
another URL form of the same article, so dedupe goes through the URL key), so the peak RSS
measured is the bookkeeping's alone.

    python bench/backfill_bookkeeping.py            # files read from disk
    python bench/backfill_bookkeeping.py --http     # also: the real `mediawatch backfill`
                                                    # over HTTP against the mirror, for the
                                                    # Central Asian outlets, fetching nothing
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from archive.frontier import Frontier, Selection  # noqa: E402
from archive.store import Archive, utcnow  # noqa: E402
from scraper.discovery.documents import DiscoveryError, parse_sitemap  # noqa: E402
from scraper.registry.config import DEFAULT_REGISTRY, bundled_families, load_registry  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "rferl-sitemaps"
DOC = REPO / "docs" / "benchmarks.md"
SECTION = "## Backfill bookkeeping"
CENTRAL_ASIA = ["azattyq-kk", "azattyq-ru", "azattyk-ky", "azattyk-ru", "ozodi-tg", "ozodi-ru",
                "ozodlik-uz", "ozodlik-ru", "azathabar-tk", "azathabar-ru"]
# Hosts of the corpus outside the default registry whose Google News sitemap names no language.
LANGUAGES = {"en.radiofarda.com": "en", "rus.azatutyun.am": "ru", "www.radiomarsho.com": "ce",
             "www.votvot.tv": "ru", "showcase.pangea-cms.com": "en"}
POPULATED_SHARE = 4  # one article in four is archived already


def build_registry(folder: Path) -> Path:
    """The default registry plus one line per other Pangea host of the corpus."""
    data = yaml.safe_load(DEFAULT_REGISTRY.read_text(encoding="utf-8"))
    known = {o["host"] for o in data["outlets"]}
    for host_dir in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        host = host_dir.name
        site = re.search(r"/sitemap_(\d+)_", (host_dir / "sitemap.xml").read_text(errors="replace"))
        language = LANGUAGES.get(host) or _news_language(host_dir)
        if host in known or site is None or language is None:
            continue
        data["outlets"].append({"id": host.replace(".", "-"), "family": "pangea", "name": host, "host": host,
                                "site_id": int(site.group(1)), "languages": [language]})
    path = folder / "outlets.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _news_language(host_dir: Path) -> str | None:
    for news in host_dir.glob("sitemap_*_news.xml.gz"):
        _, entries = parse_sitemap(news.read_bytes())
        for entry in entries:
            code = (entry.language or "").split("-")[0].lower()
            if len(code) == 2:
                return code
    return None


def child_sitemaps(outlet) -> tuple[list[Path], list[str]]:
    """The sitemap files a backfill of `outlet` reads (present, absent) per its sitemap index."""
    index = next(s for s in outlet.sources if s.kind == "sitemap_index")
    host_dir = CORPUS / outlet.allowed_hosts[0]
    try:
        _, children = parse_sitemap((host_dir / "sitemap.xml").read_bytes())
    except DiscoveryError:
        return [], [index.url]  # pressroom.rferl.org answers with an HTML page
    present, absent = [], []
    for child in children:
        if index.children is None or index.children.search(child.url):
            file = host_dir / Path(child.url).name
            (present.append(file) if file.exists() else absent.append(child.url))
    return present, absent


def populate(db: Path, registry_path: Path) -> int:
    """Archive one article in four, under its slug-less URL with a tracking parameter."""
    registry = load_registry(registry_path)
    archive = Archive(db)
    archive.sync_outlets(registry.outlets.values())
    now, body = utcnow(), zlib.compress(b"<html>archived</html>")
    stored = 0
    with archive.write() as conn:
        for outlet in registry.outlets.values():
            files, _ = child_sitemaps(outlet)
            for file in files:
                _, entries = parse_sitemap(file.read_bytes())
                for n, entry in enumerate(entries):
                    if n % POPULATED_SHARE:
                        continue
                    article = re.search(r"/(\d+)\.html", entry.url).group(1)
                    url = f"https://{outlet.allowed_hosts[0]}/a/{article}.html?utm_source=archive"
                    key = outlet.article_key(url)
                    cursor = conn.execute(
                        "INSERT OR IGNORE INTO raw_pages (url_key, url, outlet_id, status, fetched_at, size, html_zlib)"
                        " VALUES (?, ?, ?, 200, ?, ?, ?)", (key, url, outlet.id, now, len(body), body))
                    if cursor.rowcount:
                        conn.execute(
                            "INSERT INTO articles (url, url_key, outlet_id, title, text, first_seen, fetched_at,"
                            " updated_at, raw_page_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (url, key, outlet.id, f"Article {article}", f"Archived article {article}", now, now,
                             now, cursor.lastrowid))
                        stored += 1
    archive.close()
    return stored


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bookkeeping(db: Path, registry_path: Path) -> dict:
    """Read every sitemap, record every article URL, anti-join against the archive, count."""
    registry = load_registry(registry_path)
    archive = Archive(db)
    frontier = Frontier(archive)
    result = {"files": 0, "absent": 0, "urls": 0, "new": 0, "parse_s": 0.0, "record_s": 0.0}
    rss_before = rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    for outlet in registry.outlets.values():
        files, absent = child_sitemaps(outlet)
        result["absent"] += len(absent)
        for file in files:
            t0 = time.perf_counter()
            _, entries = parse_sitemap(file.read_bytes())
            # As OutletSpider._articles does for every sitemap it reads.
            found = [(key, entry) for entry in entries if (key := outlet.article_key(entry.url))]
            t1 = time.perf_counter()
            result["new"] += frontier.record(outlet.id, found, f"https://{outlet.allowed_hosts[0]}/{file.name}")
            result["record_s"] += time.perf_counter() - t1
            result["parse_s"] += t1 - t0
            result["files"] += 1
            result["urls"] += len(entries)
    t0 = time.perf_counter()
    result["queued"] = 0
    for outlet in registry.outlets.values():
        frontier.mark_archived(outlet.id)
        result["queued"] += frontier.count_todo(outlet.id, Selection())
    result["count_s"] = time.perf_counter() - t0
    result["wall_s"] = time.perf_counter() - started
    result["cpu_s"] = time.process_time() - cpu_started
    result["rss_before_mb"] = rss_before
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["outlets"] = len(registry.outlets)
    (result["known"],) = archive.conn.execute("SELECT count(*) FROM frontier").fetchone()
    (result["archived"],) = archive.conn.execute("SELECT count(*) FROM frontier WHERE state = 'done'").fetchone()
    archive.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    archive.close()
    return result


def over_http(db: Path, registry_path: Path) -> dict:
    """`mediawatch backfill OUTLET --until 1900-01-01` (reads every sitemap over HTTP through
    the mirror, fetches no article) for each Central Asian outlet, one process each."""
    from scraper.demo.mirror import MirrorConfig, MirrorServer

    mirror = MirrorServer(MirrorConfig(root=CORPUS)).start()
    env = {**os.environ, **mirror.proxy_env(), "PYTHONPATH": str(REPO)}
    # Through the mirror, politeness can go: it is the bookkeeping being measured.
    registry = yaml.safe_load(registry_path.read_text(encoding="utf-8"))
    registry["families"] = {"pangea": {**bundled_families()["pangea"], "politeness": {"concurrency": 16, "delay": 0}}}
    registry["allow_private_addresses"] = True  # the mirror is an HTTP proxy on 127.0.0.1
    fast = registry_path.with_name("outlets-fast.yml")
    fast.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    # Each run under a small wrapper that reports the peak RSS of the crawler it waited for
    # (this process's own children include the populating process).
    measure = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True);"
               " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    peak_kb = 0
    started = time.perf_counter()
    try:
        for outlet_id in CENTRAL_ASIA:
            run = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "scraper.cli",
                                  "--outlets", str(fast), "--db", str(db),
                                  "backfill", outlet_id, "--until", "1900-01-01"],
                                 env=env, check=True, capture_output=True, text=True, cwd=REPO)
            peak_kb = max(peak_kb, int(run.stdout))
    finally:
        mirror.stop()
    wall = time.perf_counter() - started
    with sqlite3.connect(db) as conn:
        known = conn.execute(f"SELECT count(*) FROM frontier WHERE outlet_id IN ({','.join('?' * len(CENTRAL_ASIA))})",
                             CENTRAL_ASIA).fetchone()[0]
        runs = conn.execute("SELECT sum(duration_s), max(duration_s) FROM crawl_runs").fetchone()
    return {"wall_s": wall, "known": known, "runs_s": runs[0], "longest_s": runs[1],
            "peak_rss_mb": peak_kb / 1024}


def write_section(text: str) -> None:
    """Replace this benchmark's section of docs/benchmarks.md (other sections are kept)."""
    DOC.parent.mkdir(exist_ok=True)
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    DOC.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def report(disk: dict, http: dict | None, populated: int) -> str:
    lines = [
        SECTION, "",
        f"`python bench/backfill_bookkeeping.py{' --http' if http else ''}` — {time.strftime('%Y-%m-%d')}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} cores (shared).",
        "",
        "Every sitemap of the shared RFE/RL copy (`rferl-sitemaps`), read as a backfill reads it: each host's "
        "`sitemap.xml`, then the children its `sitemap_index` source selects (archive pages, `_latest`, "
        "`_news`), parsed with `parse_sitemap`, keyed with `Outlet.article_key`, recorded with "
        "`Frontier.record` (batched upsert per sitemap plus the anti-join against `raw_pages`/`articles`), "
        f"then `mark_archived` and `count_todo` per outlet. Every host is included but ktat.krymr.com "
        f"(146 URLs; Crimean Tatar has no ISO 639-1 code for the registry) and pressroom.rferl.org (serves "
        f"no sitemap). The archive held {populated:,} articles already "
        f"(one in {POPULATED_SHARE}, stored under another URL form), written by a separate process.",
        "",
        "| measure | files read from disk |",
        "| --- | --- |",
        f"| outlets | {disk['outlets']} |",
        f"| sitemap files read | {disk['files']} ({disk['absent']} listed but absent: 404s in production) |",
        f"| `<url>` entries read | {disk['urls']:,} |",
        f"| distinct articles in the frontier | {disk['known']:,} |",
        f"| already archived (marked done) | {disk['archived']:,} |",
        f"| queued to fetch | {disk['queued']:,} |",
        f"| wall time | {disk['wall_s']:.1f} s (parse + key {disk['parse_s']:.1f} s, record {disk['record_s']:.1f} s, "
        f"mark + count {disk['count_s']:.1f} s); CPU {disk['cpu_s']:.1f} s |",
        f"| peak RSS | {disk['peak_rss_mb']:.0f} MB ({disk['rss_before_mb']:.0f} MB after imports, before reading) |",
        f"| archive file after | {disk['db_mb']:.0f} MB |",
    ]
    if http:
        lines += [
            "",
            "Production path: `mediawatch backfill OUTLET --until 1900-01-01` (every sitemap read over HTTP "
            "through the mirror by the Scrapy spider, no article selected) for the ten Central Asian outlets, "
            "one process each, into a fresh archive:",
            "",
            "| measure | over HTTP, real CLI |",
            "| --- | --- |",
            f"| distinct articles recorded | {http['known']:,} |",
            f"| wall time, 10 processes | {http['wall_s']:.1f} s (crawl runs {http['runs_s']:.1f} s, "
            f"longest {http['longest_s']:.1f} s) |",
            f"| peak RSS of any crawler process | {http['peak_rss_mb']:.0f} MB |",
        ]
    lines += [
        "",
        "The queue lives in the archive's `frontier` table, not in memory: the crawler holds one sitemap's "
        "entries (20,000) at a time while recording, and a backfill pulls 200 queued rows at a time.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", action="store_true", help="also run the real CLI over HTTP (slower)")
    parser.add_argument("--populate", nargs=2, metavar=("DB", "REGISTRY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.populate:
        print(populate(Path(args.populate[0]), Path(args.populate[1])))
        return
    if not CORPUS.exists():
        sys.exit(f"shared corpus not found at {CORPUS}")
    with tempfile.TemporaryDirectory(prefix="mediawatch-bench-") as tmp:
        folder = Path(tmp)
        registry = build_registry(folder)
        db = folder / "archive.db"
        print("populating the archive (separate process) ...", flush=True)
        populated = int(subprocess.run([sys.executable, __file__, "--populate", str(db), str(registry)],
                                       check=True, capture_output=True, text=True).stdout)
        print(f"  {populated:,} articles archived; running the bookkeeping ...", flush=True)
        disk = bookkeeping(db, registry)
        disk["db_mb"] = db.stat().st_size / 2**20
        http = None
        if args.http:
            print("running `mediawatch backfill` over HTTP for the Central Asian outlets ...", flush=True)
            http = over_http(folder / "http.db", registry)
    text = report(disk, http, populated)
    print(text)
    write_section(text)
    print(f"wrote the '{SECTION[3:]}' section of {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
