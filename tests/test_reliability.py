"""Nothing lost, nothing duplicated, nobody writes: crashes, concurrent crawls, full and
read-only disks, live backups, politeness and the web UI's security defaults."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.kill9 import (
    HOST,
    SEARCH_WORD,
    build_site,
    child_env,
    count_articles,
    kill_rounds,
    start_mirror,
)
from tests import faults
from tests.conftest import run_mediawatch
from tests.test_faults import build_site as build_fault_site
from tests.test_faults import registry as fault_registry


def archive_health(db: Path) -> dict:
    with sqlite3.connect(db) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "articles": one("SELECT count(*) FROM articles"),
            "fts": one("SELECT count(*) FROM articles_fts"),
            "matches": one(f"SELECT count(*) FROM articles_fts WHERE articles_fts MATCH '{SEARCH_WORD}'"),
            "integrity": one("PRAGMA integrity_check"),
        }


# -- kill -9 ----------------------------------------------------------------------------------


def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path):
    report = kill_rounds(tmp_path, rounds=4, pages=300, seed=3)
    assert report.final_status == "ok"
    assert report.articles == report.distinct_urls == report.raw_pages == report.counted_new == 300, report.summary()
    assert report.lost == 0 and report.duplicated == 0
    assert report.fts_rows == report.fts_matches == 300 and report.fts_integrity == "ok"
    assert report.integrity == "ok"
    # Kills landed mid-crawl, and every killed run was noticed and closed by the next one.
    assert report.killed >= 3 and report.stored_when_killed[0] < 300, report.summary()
    assert report.runs_interrupted == report.killed


# -- two crawl processes, one archive ------------------------------------------------------------


def two_outlet_site(root: Path, pages: int) -> Path:
    build_site(root, pages)  # host crash.example, outlet "crash"
    other = root / "site" / "other.example"
    other.mkdir(parents=True)
    (other / "feed.xml").write_text(
        (root / "site" / HOST / "feed.xml").read_text(encoding="utf-8").replace(HOST, "other.example"),
        encoding="utf-8")
    (other / "page.html").write_bytes((root / "site" / HOST / "page.html").read_bytes())
    registry = root / "outlets.yml"
    registry.write_text(registry.read_text(encoding="utf-8") + (
        "  - id: other\n"
        "    name: Other Test\n"
        "    homepage: http://other.example/\n"
        "    languages: [en]\n"
        '    sources: [{kind: feed, url: "http://other.example/feed.xml"}]\n'
        "    article_patterns: ['^/a/\\d+\\.html$']\n"
        "    politeness: {concurrency: 16, delay: 0, obey_robots: false}\n"), encoding="utf-8")
    return registry


def test_a_run_whose_pid_now_belongs_to_another_process_is_marked_interrupted(tmp_path):
    # After a crash and a reboot, the pid a run recorded may be reused by an unrelated process:
    # that run is over all the same. Its own live process keeps it running; a zombie does not.
    from archive.store import Archive
    from scraper.registry.config import load_registry

    def status(archive, run_id):
        return archive.conn.execute("SELECT status FROM crawl_runs WHERE id = ?", (run_id,)).fetchone()[0]

    with Archive(tmp_path / "archive.db") as archive:
        archive.sync_outlets([next(iter(load_registry().outlets.values()))])
        outlet = archive.conn.execute("SELECT id FROM outlets").fetchone()[0]
        own = archive.start_run(outlet, "crawl")  # this process: alive, started before the run
        reused, zombie = archive.start_run(outlet, "crawl"), archive.start_run(outlet, "crawl")
        sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        ended = subprocess.Popen([sys.executable, "-c", "pass"])
        try:
            time.sleep(0.5)  # `ended` exits and stays a zombie: it is not waited for yet
            with archive.write() as conn:
                conn.execute("UPDATE crawl_runs SET pid = ?, started = '2020-01-01T00:00:00Z' WHERE id = ?",
                             (sleeper.pid, reused))
                conn.execute("UPDATE crawl_runs SET pid = ? WHERE id = ?", (ended.pid, zombie))
            assert archive.mark_abandoned_runs() == 2
            assert [status(archive, run) for run in (own, reused, zombie)] == ["running", "interrupted", "interrupted"]
        finally:
            sleeper.kill()
            sleeper.wait()
            ended.wait()


def test_two_crawl_processes_of_different_outlets_share_one_archive(tmp_path):
    from scraper.demo.mirror import MirrorConfig, MirrorServer, Route

    registry = two_outlet_site(tmp_path, 150)
    routes = [Route(re.compile(re.escape(h)), re.compile(r"^/a/\d+\.html$"), tmp_path / "site" / h / "page.html")
              for h in (HOST, "other.example")]
    mirror = MirrorServer(MirrorConfig(root=tmp_path / "site", fallbacks=routes)).start()
    db = tmp_path / "archive.db"
    try:
        env = child_env(mirror)
        children = [
            subprocess.Popen([sys.executable, "-m", "scraper.cli", "--outlets", str(registry), "--db", str(db),
                              "crawl", outlet], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for outlet in ("crash", "other")
        ]
        outputs = [child.communicate(timeout=300) for child in children]
    finally:
        mirror.stop()
    assert [c.returncode for c in children] == [0, 0], [o[0][-1500:] + o[1][-3000:] for o in outputs]
    health = archive_health(db)
    assert health == {"articles": 300, "fts": 300, "matches": 300, "integrity": "ok"}
    with sqlite3.connect(db) as conn:
        per_outlet = dict(conn.execute("SELECT outlet_id, count(DISTINCT url) FROM articles GROUP BY outlet_id"))
        runs = conn.execute("SELECT outlet_id, status, articles_new FROM crawl_runs ORDER BY outlet_id").fetchall()
    assert per_outlet == {"crash": 150, "other": 150}
    assert runs == [("crash", "ok", 150), ("other", "ok", 150)]


# -- full and read-only disks ------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB filesystem (tmpfs), or skip with the reason."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_stops_the_crawl_with_a_clear_message_and_keeps_the_archive(tmp_path, small_disk):
    site_root, registry = build_site(tmp_path, 400)
    db = small_disk / "archive.db"
    mirror = start_mirror(site_root)
    try:
        result = run_mediawatch(["--outlets", str(registry), "--db", str(db), "crawl"], mirror=mirror, check=False)
    finally:
        mirror.stop()
    assert result.returncode != 0
    message = result.stderr + result.stdout
    assert str(db) in message and "full" in message, message[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    health = archive_health(db)
    assert health["integrity"] == "ok"
    assert 0 < health["articles"] < 400
    assert health["fts"] == health["matches"] == health["articles"]


def test_read_only_archive_is_refused_with_a_clear_message_and_left_intact(tmp_path, small_disk):
    site_root, registry = build_site(tmp_path, 5)
    db = small_disk / "archive.db"
    # The same files seen through a read-only bind mount.
    view = tmp_path / "read-only"
    view.mkdir()
    mirror = start_mirror(site_root)
    try:
        run_mediawatch(["--outlets", str(registry), "--db", str(db), "crawl"], mirror=mirror)
        before = archive_health(db)
        subprocess.run(["mount", "--bind", str(small_disk), str(view)], check=True)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        result = run_mediawatch(["--outlets", str(registry), "--db", str(view / "archive.db"), "crawl"],
                                mirror=mirror, check=False)
    finally:
        mirror.stop()
        subprocess.run(["umount", "-l", str(view)], check=False)
    assert result.returncode != 0
    assert f"archive {view / 'archive.db'}" in result.stderr and "read" in result.stderr.lower(), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert archive_health(db) == before == {"articles": 5, "fts": 5, "matches": 5, "integrity": "ok"}


# -- backup ------------------------------------------------------------------------------------


def test_backup_of_a_live_archive_is_consistent(tmp_path):
    site_root, registry = build_site(tmp_path, 300)
    db = tmp_path / "archive.db"
    mirror = start_mirror(site_root)
    try:
        writer = subprocess.Popen([sys.executable, "-m", "scraper.cli", "--outlets", str(registry), "--db", str(db),
                                   "crawl"], env=child_env(mirror), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while count_articles(db) < 10 and time.monotonic() < deadline and writer.poll() is None:
            time.sleep(0.1)
        copies = []
        for n in range(3):
            dest = tmp_path / f"backup-{n}.db"
            result = run_mediawatch(["--db", str(db), "backup", str(dest)])
            assert "integrity ok" in result.stdout
            copies.append(archive_health(dest))
        writer_was_running = writer.poll() is None
        writer.wait(timeout=300)
    finally:
        mirror.stop()
    assert writer.returncode == 0
    assert writer_was_running, "the backups were taken while the crawl was writing"
    counts = [c["articles"] for c in copies]
    assert counts == sorted(counts) and counts[0] >= 10
    for copy in copies:
        assert copy["integrity"] == "ok" and copy["fts"] == copy["matches"] == copy["articles"]
    assert not list(tmp_path.glob("backup-*.db-wal")), "a backup is one standalone file"


def test_backup_refuses_to_overwrite_the_archive(tmp_path):
    db = tmp_path / "archive.db"
    sqlite3.connect(db).close()
    result = run_mediawatch(["--db", str(db), "backup", str(db)], check=False)
    assert result.returncode != 0 and f"backup destination {db} is the archive itself" in result.stderr


# -- politeness --------------------------------------------------------------------------------


def test_robots_crawl_delay_spaces_requests(tmp_path, mirror_factory):
    arrivals: list[float] = []
    articles = [f"/a/good-{n}.html" for n in range(1, 4)]
    build_fault_site(tmp_path / "site", articles, robots_txt="User-agent: *\nCrawl-delay: 1\n")
    mirror = mirror_factory(tmp_path / "site", faults=[
        (re.compile(r"faults\.example"), re.compile(r"^/a/"), faults.timed(arrivals, lambda h: h.serve_file(*h.target()))),
    ])
    db = tmp_path / "archive.db"
    run_mediawatch(["--outlets", str(fault_registry(tmp_path / "outlets.yml")), "--db", str(db), "crawl"], mirror=mirror)
    assert count_articles(db) == 3
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    assert len(arrivals) == 3 and min(gaps) >= 0.95, gaps


def test_user_agent_without_contact_is_refused(tmp_path):
    from scraper.registry.config import ConfigError, load_registry

    registry = fault_registry(tmp_path / "outlets.yml")
    registry.write_text(registry.read_text().replace("(+https://example.org/contact)", "(anonymous)"))
    with pytest.raises(ConfigError, match="user_agent.*contact URL or e-mail"):
        load_registry(registry)
    registry.write_text(registry.read_text().replace("(anonymous)", "(ops@example.org)"))
    assert "ops@example.org" in load_registry(registry).user_agent


def test_no_remote_console_is_enabled():
    from scraper.crawl.settings import crawl_settings
    from scraper.registry.config import load_registry

    registry = load_registry()
    settings = crawl_settings(registry, next(iter(registry.outlets.values())), "a.db")
    assert settings["TELNETCONSOLE_ENABLED"] is False
    assert settings["EXTENSIONS"]["scrapy.extensions.telnet.TelnetConsole"] is None
    # Scrapy 2.19's RemoteControl runs Python code sent over HTTP; it is on by default.
    assert settings["REMOTE_CONTROL_ENABLED"] is False
    assert settings["EXTENSIONS"]["scrapy.extensions.remote_control.RemoteControl"] is None
    # tests/test_concurrent_writers.py checks that no crawl process listens on any port.


# -- the web UI --------------------------------------------------------------------------------


@pytest.fixture
def hostile_archive(tmp_path):
    """An archive holding a page and an article whose text carries a <script>."""
    from archive.store import Archive
    from scraper.registry.config import load_registry

    db = tmp_path / "archive.db"
    script = "<script>alert('owned')</script>"
    with Archive(db) as archive:
        archive.sync_outlets([next(iter(load_registry().outlets.values()))])
        outlet = archive.conn.execute("SELECT id FROM outlets").fetchone()[0]
        page = {"url": "https://x.example/a/1.html", "url_key": "x.example/1", "final_url": "https://x.example/a/1.html",
                "outlet_id": outlet, "status": 200, "content_type": "text/html", "encoding": "utf-8",
                "body": f"<html><body>{script}<p>Hello</p></body></html>".encode(), "hints": {}}
        article = {"url": page["url"], "url_key": page["url_key"], "title": f"Title {script}",
                   "text": f"Body text {script} more text"}
        archive.store_page(page, article, None)
    return db


async def test_arbitrary_sql_is_refused_by_default(hostile_archive):
    from archive.web.serve import datasette_app

    refused = await datasette_app(hostile_archive).client.get("/archive.json?sql=select+count(*)+from+raw_pages")
    assert refused.status_code == 403
    allowed = await datasette_app(hostile_archive, allow_sql=True).client.get(
        "/archive.json?sql=select+count(*)+as+n+from+raw_pages&_shape=array")
    assert allowed.status_code == 200 and allowed.json() == [{"n": 1}]
    canned = await datasette_app(hostile_archive).client.get("/archive/errors_by_kind.json")
    assert canned.status_code == 200, "canned queries still work"


async def test_archived_html_is_never_rendered(hostile_archive):
    from archive.web.serve import datasette_app

    client = datasette_app(hostile_archive).client
    for path in ("/archive/articles", "/archive/articles/1", "/archive/articles?_search=Body", "/archive/search?q=Body"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert "<script>alert" not in response.text, path
    for path in ("/archive/raw_pages", "/archive/raw_pages/1"):  # the fetched pages are not served at all
        response = await client.get(path)
        assert response.status_code == 403 and "<script>alert" not in response.text, path
    article = (await client.get("/archive/articles/1")).text
    assert "&lt;script&gt;alert(" in article  # shown as text
