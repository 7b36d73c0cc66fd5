"""Two crawl processes at once (a scheduled run and a manual one) over one archive: nothing is
corrupted, nothing stored twice, and no crawl process listens on any port.

Real `mediawatch crawl` child processes, a real SQLite file, the local mirror serving one real
page under every article URL (bench/kill9.py's site).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.kill9 import (
    HOST,
    SEARCH_WORD,
    build_site,
    child_env,
    count_articles,
    start_mirror,
)

PAGES = 120


def add_outlet(registry: Path, outlet_id: str) -> None:
    """Another outlet reading the very same feed and articles (same host, same URL keys)."""
    registry.write_text(registry.read_text(encoding="utf-8") + (
        f"  - id: {outlet_id}\n"
        f"    name: {outlet_id.title()} Test\n"
        f"    homepage: http://{HOST}/\n"
        "    languages: [en]\n"
        f'    sources: [{{kind: feed, url: "http://{HOST}/feed.xml"}}]\n'
        "    article_patterns: ['^/a/\\d+\\.html$']\n"
        "    politeness: {concurrency: 16, delay: 0, obey_robots: false}\n"), encoding="utf-8")


def start_crawl(registry: Path, db: Path, env: dict, *outlets: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "scraper.cli", "--outlets", str(registry), "--db", str(db),
                             "crawl", *outlets], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def archive_state(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "articles": one("SELECT count(*) FROM articles"),
            "distinct_urls": one("SELECT count(DISTINCT url) FROM articles"),
            "raw_pages": one("SELECT count(*) FROM raw_pages"),
            "fts": one("SELECT count(*) FROM articles_fts"),
            "matches": one(f"SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '{SEARCH_WORD}'"),
            "integrity": one("PRAGMA integrity_check"),
            "counted_new": one("SELECT sum(articles_new) FROM crawl_runs"),
        }


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the extraction workers), from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            children = task / "children"
            if children.exists():
                todo.extend(int(c) for c in children.read_text().split())
    return found


def listening_ports(pids: list[int]) -> list[int]:
    """TCP ports on which any of `pids` holds a listening socket."""
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def test_two_processes_storing_the_same_articles_at_once_store_each_once(tmp_path):
    # Outlets "crash" and "twin" list the same article URLs: two processes fetch and store
    # the same pages at the same moment, racing on the same rows.
    site_root, registry = build_site(tmp_path, PAGES)
    add_outlet(registry, "twin")
    db = tmp_path / "archive.db"
    mirror = start_mirror(site_root)
    try:
        env = child_env(mirror)
        first, second = start_crawl(registry, db, env, "crash"), start_crawl(registry, db, env, "twin")
        # Look at both process trees while they work: no console, no port of any kind.
        deadline = time.monotonic() + 120
        while count_articles(db) < 10 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert first.poll() is None and second.poll() is None, "both crawls were still running"
        ports = listening_ports(process_tree(first.pid) + process_tree(second.pid))
        outputs = [first.communicate(timeout=300), second.communicate(timeout=300)]
    finally:
        mirror.stop()
    assert ports == [], f"a crawl process listens on {ports}"
    assert [first.returncode, second.returncode] == [0, 0], [err[-3000:] for _, err in outputs]
    assert archive_state(db) == {"articles": PAGES, "distinct_urls": PAGES, "raw_pages": PAGES, "fts": PAGES,
                                 "matches": PAGES, "integrity": "ok", "counted_new": PAGES}
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT outlet_id, status FROM crawl_runs ORDER BY outlet_id").fetchall()
    assert runs == [("crash", "ok"), ("twin", "ok")]


def test_two_processes_over_the_same_outlet_set_never_crawl_one_outlet_twice_at_once(tmp_path):
    # A scheduled run and a manual run of the same outlets, started together.
    site_root, registry = build_site(tmp_path, PAGES)
    add_outlet(registry, "twin")
    db = tmp_path / "archive.db"
    mirror = start_mirror(site_root)
    try:
        env = child_env(mirror)
        children = [start_crawl(registry, db, env, "crash", "twin") for _ in range(2)]
        outputs = [child.communicate(timeout=300) for child in children]
    finally:
        mirror.stop()
    for child, (stdout, stderr) in zip(children, outputs):
        assert "Traceback" not in stderr, stderr[-3000:]
        if child.returncode != 0:  # every outlet it asked for was being crawled by the other
            assert "is already being crawled" in stderr, stderr[-3000:]
    assert archive_state(db) == {"articles": PAGES, "distinct_urls": PAGES, "raw_pages": PAGES, "fts": PAGES,
                                 "matches": PAGES, "integrity": "ok", "counted_new": PAGES}
    with sqlite3.connect(db) as conn:
        runs = conn.execute("SELECT outlet_id, status, started, finished FROM crawl_runs ORDER BY id").fetchall()
    assert {outlet for outlet, *_ in runs} == {"crash", "twin"}
    assert {status for _, status, *_ in runs} == {"ok"}
    for outlet in ("crash", "twin"):  # the runs of one outlet never overlap in time
        spans = sorted((started, finished) for o, _, started, finished in runs if o == outlet)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans


def test_a_new_archive_opened_while_another_process_creates_it_waits_instead_of_failing(tmp_path):
    # Two crawls started together on a new archive: one process is still writing the fresh
    # file when the other switches it to WAL, which SQLite refuses at once ("database is
    # locked") rather than after busy_timeout. Opening must wait for it.
    from archive.store import Archive

    db = tmp_path / "archive.db"
    creator = subprocess.Popen([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        f"conn = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "conn.execute('BEGIN IMMEDIATE'); conn.execute('CREATE TABLE first_writer (x)')\n"
        "print('writing', flush=True); time.sleep(1.5); conn.execute('COMMIT'); time.sleep(5)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert creator.stdout.readline() == "writing\n"
        with Archive(db) as archive:
            assert archive.db.journal_mode == "wal"
            assert {"articles", "first_writer"} <= set(archive.db.table_names())
    finally:
        creator.kill()
        creator.wait()
