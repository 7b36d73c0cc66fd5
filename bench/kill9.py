"""Kill -9 a crawl at random moments, restart it, and check the archive lost and duplicated nothing.

A generated feed lists N article URLs; the local mirror serves one real bundled page under
every one of them. Each round starts the real `mediawatch crawl` in a child process, lets it
get a random way into the crawl, and SIGKILLs it (no handler runs, no transaction is
finished). A last run completes the crawl. Then the archive must hold every page exactly once,
with the full-text index in sync (row count, a MATCH, FTS5's integrity-check) and SQLite's
integrity check passing. The feed carries an ETag, so from the second run on it answers
304 Not Modified: what a killed run recorded but never stored must still be fetched.

    python bench/kill9.py                       # 10 rounds over 500 pages
    python bench/kill9.py --rounds 20 --pages 1000 --seed 7

tests/test_reliability.py runs the same harness with 4 rounds over 300 pages.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scraper.demo.mirror import MirrorConfig, MirrorServer, Route  # noqa: E402

HOST = "crash.example"
PAGE = REPO / "scraper" / "demo" / "data" / "site" / "globalvoicesonline.org" / "2009" / "06" / "05" / \
    "myanmar-64-words-for-aung-san-suu-kyi" / "index.html.gz"
# A word of PAGE's text, to check the full-text index answers for every article.
SEARCH_WORD = "Myanmar"


@dataclass
class KillReport:
    rounds: int
    pages: int
    killed: int = 0
    killed_after: list[float] = field(default_factory=list)
    stored_when_killed: list[int] = field(default_factory=list)
    articles: int = 0
    distinct_urls: int = 0
    raw_pages: int = 0
    fts_rows: int = 0
    fts_matches: int = 0
    fts_integrity: str = ""
    integrity: str = ""
    runs_interrupted: int = 0
    # Sum of every run's articles_new: a page counted new twice was stored twice.
    counted_new: int = 0
    # Article URLs the mirror served more than once (only pages in flight at a kill may be).
    fetched_twice: int = 0
    final_status: str = ""
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return self.pages - self.distinct_urls

    @property
    def duplicated(self) -> int:
        return max(self.articles - self.distinct_urls, self.raw_pages - self.distinct_urls,
                   self.counted_new - self.distinct_urls, self.fts_rows - self.distinct_urls)

    def summary(self) -> str:
        return (
            f"{self.rounds} rounds ({self.killed} killed with SIGKILL) over {self.pages} pages (killed after "
            f"{', '.join(f'{s:.1f}s' for s in self.killed_after)}; articles stored after each round: "
            f"{', '.join(map(str, self.stored_when_killed))}); final run {self.final_status}: "
            f"{self.articles} articles, {self.lost} lost, {self.duplicated} duplicated, "
            f"{self.raw_pages} raw pages, FTS {self.fts_rows} rows / {self.fts_matches} matches "
            f"(FTS integrity-check {self.fts_integrity}), "
            f"integrity_check {self.integrity}, {self.runs_interrupted} runs marked interrupted, "
            f"{self.fetched_twice} pages fetched twice (in flight at a kill), "
            f"{self.seconds:.1f}s in all"
        )


def build_site(root: Path, pages: int) -> tuple[Path, Path]:
    """(mirror root, registry) for a feed of `pages` article URLs on HOST."""
    site = root / "site" / HOST
    site.mkdir(parents=True, exist_ok=True)
    items = "".join(
        f"<item><title>Article {n}</title><link>http://{HOST}/a/{n}.html</link></item>" for n in range(pages)
    )
    (site / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>crash</title>{items}</channel></rss>',
        encoding="utf-8")
    (site / "page.html").write_bytes(gzip.decompress(PAGE.read_bytes()))
    registry = root / "outlets.yml"
    registry.write_text(
        'user_agent: "mediawatch-test/0.1 (+https://example.org/contact)"\n'
        "allow_private_addresses: true\n"  # the mirror, an HTTP proxy on 127.0.0.1
        "outlets:\n"
        "  - id: crash\n"
        "    name: Crash Test\n"
        f"    homepage: http://{HOST}/\n"
        "    languages: [en]\n"
        f'    sources: [{{kind: feed, url: "http://{HOST}/feed.xml"}}]\n'
        "    article_patterns: ['^/a/\\d+\\.html$']\n"
        "    politeness: {concurrency: 16, delay: 0, obey_robots: false}\n",
        encoding="utf-8")
    return root / "site", registry


def start_mirror(site_root: Path) -> MirrorServer:
    page = site_root / HOST / "page.html"
    route = Route(host=re.compile(re.escape(HOST)), path=re.compile(r"^/a/\d+\.html$"), file=page)
    return MirrorServer(MirrorConfig(root=site_root, fallbacks=[route])).start()


def crawl_command(registry: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "scraper.cli", "--outlets", str(registry), "--db", str(db), "crawl"]


def child_env(mirror: MirrorServer) -> dict:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(mirror.proxy_env())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def count_articles(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def _run_started(db: Path, pid: int) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT EXISTS(SELECT 1 FROM crawl_runs WHERE pid = ?)", (pid,)).fetchone()[0] == 1
    except sqlite3.Error:
        return False


def _wait_for(child: subprocess.Popen, condition, timeout: float) -> bool:
    """Poll `condition` until it holds (True) or the child ends or time runs out (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        if condition():
            return True
        time.sleep(0.02)
    return False


def kill_rounds(workdir: Path, rounds: int, pages: int, seed: int = 0) -> KillReport:
    """Run the whole experiment in `workdir` and report what the archive holds.

    Kills are placed by the crawl's progress, not the clock, so they land mid-crawl however
    loaded the machine is: a quarter of them while the run is starting and reading its feed
    (up to 1 s after its crawl_runs row appears), the rest once a random share of the pages
    left has been stored, plus a random fraction of a second (between commits, or inside one).
    """
    rng = random.Random(seed)
    started = time.monotonic()
    site_root, registry = build_site(workdir, pages)
    db = workdir / "archive.db"
    report = KillReport(rounds=rounds, pages=pages)
    mirror = start_mirror(site_root)
    try:
        env = child_env(mirror)
        for _ in range(rounds):
            stored = count_articles(db)
            child = subprocess.Popen(crawl_command(registry, db), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            round_started = time.monotonic()
            reached = _wait_for(child, lambda: _run_started(db, child.pid), 120)
            if reached and rng.random() < 0.25:
                time.sleep(rng.uniform(0, 1.0))
            elif reached:
                target = stored + max(1, int(rng.uniform(0.05, 0.6) * (pages - stored)))
                _wait_for(child, lambda: count_articles(db) >= target, 300)
                time.sleep(rng.uniform(0, 0.3))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                report.killed += 1
            child.wait()
            report.killed_after.append(time.monotonic() - round_started)
            report.stored_when_killed.append(count_articles(db))
        final = subprocess.run(crawl_command(registry, db), env=env, capture_output=True, text=True, timeout=600)
        if final.returncode != 0:
            raise RuntimeError(f"the final crawl failed:\n{final.stdout}\n{final.stderr[-3000:]}")
        report.fetched_twice = sum(1 for (host, path, *fault), hits in mirror.hits.items()
                                   if host == HOST and path.startswith("/a/") and not fault and hits > 1)
    finally:
        mirror.stop()
    with sqlite3.connect(db) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        report.articles = one("SELECT count(*) FROM articles")
        report.distinct_urls = one(f"SELECT count(DISTINCT url) FROM articles WHERE url LIKE 'http://{HOST}/a/%'")
        report.raw_pages = one("SELECT count(*) FROM raw_pages")
        report.counted_new = one("SELECT sum(articles_new) FROM crawl_runs")
        report.fts_rows = one("SELECT count(*) FROM articles_fts")
        report.fts_matches = one(f"SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '{SEARCH_WORD}'")
        # FTS5's own check that the index matches the articles table it indexes.
        try:
            conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
            report.fts_integrity = "ok"
        except sqlite3.Error as exc:
            report.fts_integrity = str(exc)
        report.integrity = one("PRAGMA integrity_check")
        report.runs_interrupted = one("SELECT count(*) FROM crawl_runs WHERE status = 'interrupted'")
        report.final_status = one("SELECT status FROM crawl_runs ORDER BY id DESC LIMIT 1")
    report.seconds = time.monotonic() - started
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mediawatch-kill9-") as folder:
        report = kill_rounds(Path(folder), args.rounds, args.pages, args.seed)
    print(report.summary())
    ok = (report.lost == 0 and report.duplicated == 0 and report.integrity == "ok" and report.fts_integrity == "ok"
          and report.fts_rows == report.fts_matches == report.articles)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
