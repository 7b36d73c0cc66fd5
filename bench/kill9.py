"""Kill -9 a crawl at random moments, restart it, and check the archive lost and duplicated nothing.

A generated feed lists N article URLs; the local mirror serves one real bundled page under
every one of them. Each round starts the real `mediawatch crawl` in a child process, lets it
run a random while, and SIGKILLs it (no handler runs, no transaction is finished). A last
run completes the crawl. Then the archive must hold every page exactly once, with the
full-text index in sync and SQLite's integrity check passing.

    python bench/kill9.py                       # 10 rounds over 500 pages
    python bench/kill9.py --rounds 20 --pages 1000 --seed 7

tests/test_reliability.py runs the same harness with 3 rounds.
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

from scraper.mirror import MirrorConfig, MirrorServer, Route  # noqa: E402

HOST = "crash.example"
PAGE = REPO / "scraper" / "demo_data" / "site" / "globalvoicesonline.org" / "2009" / "06" / "05" / \
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
    integrity: str = ""
    runs_interrupted: int = 0
    final_status: str = ""
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        return self.pages - self.distinct_urls

    @property
    def duplicated(self) -> int:
        return self.articles - self.distinct_urls

    def summary(self) -> str:
        return (
            f"{self.rounds} rounds ({self.killed} killed with SIGKILL) over {self.pages} pages (killed after "
            f"{', '.join(f'{s:.1f}s' for s in self.killed_after)}; articles stored at each kill: "
            f"{', '.join(map(str, self.stored_when_killed))}); final run {self.final_status}: "
            f"{self.articles} articles, {self.lost} lost, {self.duplicated} duplicated, "
            f"{self.raw_pages} raw pages, FTS {self.fts_rows} rows / {self.fts_matches} matches, "
            f"integrity_check {self.integrity}, {self.runs_interrupted} runs marked interrupted, "
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


def kill_rounds(workdir: Path, rounds: int, pages: int, seed: int = 0,
                kill_window: tuple[float, float] = (1.5, 5.0)) -> KillReport:
    """Run the whole experiment in `workdir` and report what the archive holds."""
    rng = random.Random(seed)
    started = time.monotonic()
    site_root, registry = build_site(workdir, pages)
    db = workdir / "archive.db"
    report = KillReport(rounds=rounds, pages=pages)
    mirror = start_mirror(site_root)
    try:
        env = child_env(mirror)
        for _ in range(rounds):
            child = subprocess.Popen(crawl_command(registry, db), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            wait = rng.uniform(*kill_window)
            try:
                child.wait(timeout=wait)  # finished before the kill: the round is a plain run
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGKILL)
                child.wait()
                report.killed += 1
            report.killed_after.append(wait)
            report.stored_when_killed.append(count_articles(db))
        final = subprocess.run(crawl_command(registry, db), env=env, capture_output=True, text=True, timeout=600)
        if final.returncode != 0:
            raise RuntimeError(f"the final crawl failed:\n{final.stdout}\n{final.stderr[-3000:]}")
    finally:
        mirror.stop()
    with sqlite3.connect(db) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        report.articles = one("SELECT count(*) FROM articles")
        report.distinct_urls = one(f"SELECT count(DISTINCT url) FROM articles WHERE url LIKE 'http://{HOST}/a/%'")
        report.raw_pages = one("SELECT count(*) FROM raw_pages")
        report.fts_rows = one("SELECT count(*) FROM articles_fts")
        report.fts_matches = one(f"SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '{SEARCH_WORD}'")
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
    ok = report.lost == 0 and report.duplicated == 0 and report.integrity == "ok" and report.fts_rows == report.articles
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
