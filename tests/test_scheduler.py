"""The scheduler as ops run it: a real `mediawatch schedule` process crawling the local mirror."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from scraper.registry.schedules import ScheduleError, cron_trigger
from tests.conftest import DEMO_DATA, run_mediawatch

OUTLETS = """
allow_private_addresses: true  # the mirror, an HTTP proxy on 127.0.0.1
outlets:
  - id: globalvoices
    name: Global Voices
    homepage: http://globalvoicesonline.org/
    languages: [en]
    sources: [{kind: feed, url: "http://globalvoicesonline.org/-/type/feature/feed/"}]
    article_patterns: ['^/\\d{4}/\\d{2}/\\d{2}/[^/]+/?$']
    politeness: {concurrency: 4, delay: 0}
    schedule: "%(gv)s"
  - id: kommersant
    name: Kommersant
    homepage: https://www.kommersant.ru/
    languages: [ru]
    sources: [{kind: start_page, url: "https://www.kommersant.ru/"}]
    article_patterns: ['^/doc/\\d+$']
    politeness: {concurrency: 4, delay: 0}
    schedule: "%(ko)s"
"""
EVERY_2S = "*/2 * * * * *"
NEVER_SOON = "0 0 1 1 *"


@pytest.fixture
def setup(tmp_path, mirror_factory):
    def make(gv=EVERY_2S, ko=NEVER_SOON, slow=0.0):
        faults = []
        if slow:
            def slow_page(handler, delay=slow):
                time.sleep(delay)
                handler.serve_file(*handler.target())
            faults = [(re.compile(r"globalvoicesonline\.org"), re.compile(r"^/2009/"), slow_page)]
        mirror = mirror_factory(DEMO_DATA / "site", faults=faults)
        registry = tmp_path / "outlets.yml"
        registry.write_text(OUTLETS % {"gv": gv, "ko": ko}, encoding="utf-8")
        base = ["--outlets", str(registry), "--db", str(tmp_path / "archive.db")]
        return mirror, base
    return make


def start_scheduler(base, mirror, tmp_path) -> subprocess.Popen:
    env = {**os.environ, **mirror.proxy_env()}
    return subprocess.Popen([sys.executable, "-m", "scraper.cli", *base, "schedule", "--logs", str(tmp_path / "logs")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=90)
    return process.returncode, err


def runs(tmp_path, outlet_id=None):
    db = tmp_path / "archive.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        sql = "SELECT * FROM crawl_runs" + (" WHERE outlet_id = ?" if outlet_id else "") + " ORDER BY id"
        try:
            return [dict(r) for r in conn.execute(sql, [outlet_id] if outlet_id else [])]
        except sqlite3.OperationalError:  # the crawl process is still creating the schema
            return []


def wait_for(condition, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


def test_two_scheduled_runs_the_second_stores_nothing_new(setup, tmp_path):
    mirror, base = setup()
    scheduler = start_scheduler(base, mirror, tmp_path)
    try:
        assert wait_for(lambda: len([r for r in runs(tmp_path, "globalvoices") if r["finished"]]) >= 2)
    finally:
        code, err = stop(scheduler)
    assert code == 0, err
    done = [r for r in runs(tmp_path, "globalvoices") if r["finished"]]
    assert done[0]["status"] == "ok" and done[0]["articles_new"] == 15
    assert done[1]["status"] == "ok" and done[1]["articles_new"] == 0
    assert all(r["log_file"] and os.path.exists(r["log_file"]) for r in done)
    assert "scheduler stopped" in err
    # Never two runs of one outlet at once.
    spans = [(r["started"], r["finished"]) for r in done]
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_pause_persists_across_scheduler_restarts(setup, tmp_path):
    mirror, base = setup(gv=EVERY_2S, ko=EVERY_2S)
    run_mediawatch([*base, "pause", "globalvoices"])
    for _ in range(2):  # two scheduler lifetimes
        scheduler = start_scheduler(base, mirror, tmp_path)
        try:
            before = len(runs(tmp_path, "kommersant"))
            assert wait_for(lambda: len([r for r in runs(tmp_path, "kommersant") if r["finished"]]) > before)
        finally:
            assert stop(scheduler)[0] == 0
    assert runs(tmp_path, "globalvoices") == []
    listing = run_mediawatch([*base, "schedule", "list"]).stdout
    assert re.search(r"globalvoices\s+\*/2 \* \* \* \* \*\s+paused", listing)
    assert re.search(r"kommersant\s+.*active.*ok at", listing)
    run_mediawatch([*base, "resume", "globalvoices"])
    scheduler = start_scheduler(base, mirror, tmp_path)
    try:
        assert wait_for(lambda: any(r["finished"] for r in runs(tmp_path, "globalvoices")))
    finally:
        stop(scheduler)


def test_a_killed_crawl_is_marked_interrupted_and_the_next_run_completes(setup, tmp_path):
    mirror, base = setup(slow=1.0)
    env = {**os.environ, **mirror.proxy_env()}
    manual = subprocess.Popen([sys.executable, "-m", "scraper.cli", *base, "run", "globalvoices"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: any(r["status"] == "running" and r["pages_fetched"] > 0
                                for r in runs(tmp_path, "globalvoices")))
    crawl_pid = runs(tmp_path, "globalvoices")[-1]["pid"]
    os.kill(crawl_pid, signal.SIGKILL)
    manual.communicate(timeout=60)
    assert manual.returncode != 0
    mirror.config.faults.clear()
    result = run_mediawatch([*base, "run", "globalvoices"], mirror=mirror)
    first, second = runs(tmp_path, "globalvoices")
    assert first["status"] == "interrupted" and 0 < first["pages_fetched"] < 15
    assert second["status"] == "ok"
    assert "globalvoices: ok" in result.stdout
    with sqlite3.connect(tmp_path / "archive.db") as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT url_key) FROM articles").fetchone() == (15, 15)


def test_sigterm_stops_a_running_crawl_cleanly(setup, tmp_path):
    mirror, base = setup(slow=2.0)  # 15 pages, 4 at a time: the crawl runs ~8 s, SIGTERM comes after the first 2 s
    scheduler = start_scheduler(base, mirror, tmp_path)
    try:
        assert wait_for(lambda: any(r["status"] == "running" and r["pages_fetched"] > 0
                                    for r in runs(tmp_path, "globalvoices")))
    finally:
        code, err = stop(scheduler)
    assert code == 0, err
    assert runs(tmp_path, "globalvoices")[0]["status"] == "interrupted"


def test_a_broken_schedule_is_reported_the_other_outlets_run_and_sighup_applies_the_fix(setup, tmp_path):
    mirror, base = setup(gv=EVERY_2S, ko="0 3 * * 8")
    crawl = run_mediawatch([*base, "crawl"], mirror=mirror, check=False)
    assert crawl.returncode != 0 and "outlet 'kommersant': field 'schedule'" in crawl.stderr
    scheduler = start_scheduler(base, mirror, tmp_path)
    try:
        assert wait_for(lambda: len([r for r in runs(tmp_path, "globalvoices") if r["finished"]]) >= 2)
        assert runs(tmp_path, "kommersant") == []
        # Ops fix the entry and move globalvoices to a yearly crawl; SIGHUP applies both.
        (tmp_path / "outlets.yml").write_text(OUTLETS % {"gv": NEVER_SOON, "ko": EVERY_2S}, encoding="utf-8")
        scheduler.send_signal(signal.SIGHUP)
        assert wait_for(lambda: any(r["finished"] for r in runs(tmp_path, "kommersant")))
        gv_runs = len(runs(tmp_path, "globalvoices"))
        assert wait_for(lambda: len([r for r in runs(tmp_path, "kommersant") if r["finished"]]) >= 3)
        assert len(runs(tmp_path, "globalvoices")) == gv_runs
    finally:
        code, err = stop(scheduler)
    assert code == 0, err
    assert "outlet 'kommersant': field 'schedule': expected a valid cron expression" in err
    assert "weekday '8' is outside 0-7" in err


def test_pause_and_resume_reach_a_running_scheduler_and_leave_other_outlets_alone(setup, tmp_path):
    mirror, base = setup(gv=EVERY_2S, ko=EVERY_2S)
    scheduler = start_scheduler(base, mirror, tmp_path)
    try:
        assert wait_for(lambda: any(r["finished"] for r in runs(tmp_path, "globalvoices")))
        # Paused from another shell, with only this outlet's registry at hand: the other
        # outlet's schedule and the scheduler's settings (its --logs) must be untouched.
        only_gv = tmp_path / "only-globalvoices.yml"
        only_gv.write_text(OUTLETS.split("  - id: kommersant")[0] % {"gv": EVERY_2S}, encoding="utf-8")
        paused = run_mediawatch(["--outlets", str(only_gv), "--db", str(tmp_path / "archive.db"),
                                 "pause", "globalvoices"])
        assert paused.stdout.strip() == "globalvoices: paused"

        def ko_finished():
            return len([r for r in runs(tmp_path, "kommersant") if r["finished"]])
        ko_finished.at_pause = ko_finished()
        # A run that had started before the pause goes on: count once the scheduler has moved on.
        assert wait_for(lambda: ko_finished() >= ko_finished.at_pause + 1)
        gv_runs = len(runs(tmp_path, "globalvoices"))
        assert wait_for(lambda: ko_finished() >= ko_finished.at_pause + 2)
        assert len(runs(tmp_path, "globalvoices")) == gv_runs
        assert all(r["log_file"].startswith(str(tmp_path / "logs")) for r in runs(tmp_path, "kommersant"))
        run_mediawatch([*base, "resume", "globalvoices"])
        assert wait_for(lambda: len(runs(tmp_path, "globalvoices")) > gv_runs)
    finally:
        code, err = stop(scheduler)
    assert code == 0, err
    assert "globalvoices: paused since" in err


def test_a_second_scheduler_on_the_same_jobs_refuses_to_start(setup, tmp_path):
    mirror, base = setup(gv=NEVER_SOON, ko=NEVER_SOON)
    scheduler = start_scheduler(base, mirror, tmp_path)
    try:
        assert wait_for(lambda: f"running (pid {scheduler.pid})" in run_mediawatch([*base, "schedule", "list"]).stdout)
        second = run_mediawatch([*base, "schedule"], check=False)
        assert second.returncode != 0
        assert f"a scheduler is already running with the jobs in {tmp_path / 'archive.db.d' / 'jobs.sqlite'}" in second.stderr
    finally:
        code, err = stop(scheduler)
    assert code == 0, err
    listing = run_mediawatch([*base, "schedule", "list"]).stdout
    assert "scheduler: not running" in listing
    assert re.search(r"globalvoices\s+0 0 1 1 \*\s+active\s+\d{4}-01-01 00:00:00Z\s+never", listing)


def test_a_crawl_that_reaches_its_time_limit_is_marked_timed_out(setup, tmp_path):
    # Every article takes longer than the time limit: the run cannot finish in time, however
    # many pages are fetched at once.
    mirror, base = setup(slow=5.0)
    result = run_mediawatch([*base, "run", "globalvoices", "--time-limit", "3"], mirror=mirror, check=False)
    assert result.returncode != 0
    [run] = runs(tmp_path, "globalvoices")
    assert run["status"] == "timed out" and run["message"] == "spider closed: closespider_timeout"
    assert result.stdout.startswith("globalvoices: timed out,")


def test_an_outlet_being_crawled_is_not_crawled_again_and_ctrl_c_stops_cleanly(setup, tmp_path):
    # 15 pages, 4 at a time, 8 s each: the crawl runs ~32 s (time for the two refused attempts to
    # start and end on a loaded machine), and finishing what is in progress after Ctrl+C stays
    # well inside the 30 s grace period.
    mirror, base = setup(slow=8.0)
    env = {**os.environ, **mirror.proxy_env()}
    first = subprocess.Popen([sys.executable, "-m", "scraper.cli", *base, "run", "globalvoices"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: any(r["status"] == "running" for r in runs(tmp_path, "globalvoices")))
        second = run_mediawatch([*base, "run", "globalvoices"], mirror=mirror, check=False)
        assert second.returncode != 0
        assert "globalvoices: did not run" in second.stderr
        assert "outlet 'globalvoices' is already being crawled" in second.stderr
        crawl = run_mediawatch([*base, "crawl", "globalvoices"], mirror=mirror, check=False)
        assert crawl.returncode != 0
        assert "outlet 'globalvoices' is already being crawled" in crawl.stderr
        first.send_signal(signal.SIGINT)  # Ctrl+C: the crawl is asked to finish cleanly
        out, _ = first.communicate(timeout=90)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode != 0
    assert out.startswith("globalvoices: interrupted,")
    [run] = runs(tmp_path, "globalvoices")
    assert run["status"] == "interrupted" and run["message"] == "spider closed: shutdown"


@pytest.mark.parametrize("expression, weekdays", [
    ("0 3 * * 0", "sun"), ("0 3 * * 7", "sun"), ("0 3 * * 1-5", "mon,tue,wed,thu,fri"),
    ("0 3 * * 0,6", "sun,sat"), ("0 3 * * sat", "sat"), ("0 3 * * *", "*"),
])
def test_cron_weekdays_mean_what_they_mean_in_cron(expression, weekdays):
    trigger = cron_trigger(expression)
    field = next(f for f in trigger.fields if f.name == "day_of_week")
    assert str(field) == weekdays


def test_invalid_cron_expressions_are_rejected():
    for expression in ("61 * * * *", "* * * *", "0 3 * * 8", "every hour"):
        with pytest.raises(ScheduleError):
            cron_trigger(expression)


async def test_ops_canned_queries_show_runs_failures_and_errors(tmp_path):
    from archive.web.serve import datasette_app
    from archive.store import Archive
    from scraper.registry.config import load_registry

    db = tmp_path / "ops.db"
    outlets = load_registry().select(["azattyq-kk", "ozodi-tg", "svoboda", "currenttime"])
    with Archive(db) as archive:
        archive.sync_outlets(outlets)
        for outlet_id, status in (("azattyq-kk", "ok"), ("azattyq-kk", "failed"), ("ozodi-tg", "ok"),
                                  ("svoboda", "ok"), ("svoboda", "ok"), ("currenttime", "ok")):
            run_id = archive.start_run(outlet_id, "incremental")
            archive.finish_run(run_id, status, None if status == "ok" else "no page could be fetched")
        archive.conn.execute("UPDATE crawl_runs SET articles_new = 3 WHERE outlet_id IN ('ozodi-tg', 'azattyq-kk')")
        # svoboda has been crawled for two days without finding anything; currenttime was
        # first crawled just now: nothing new yet is no reason for alarm.
        archive.conn.execute("UPDATE crawl_runs SET started = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-2 days')"
                             " WHERE id = (SELECT min(id) FROM crawl_runs WHERE outlet_id = 'svoboda')")
        archive.record_error(2, "azattyq-kk", "https://www.azattyq.org/sitemap_5_news.xml.gz", "http_503", "HTTP 503")
        archive.record_error(2, "azattyq-kk", "https://www.azattyq.org/", "http_503", "HTTP 503")
        archive.record_error(4, "svoboda", "https://www.svoboda.org/a/1.html", "timeout", "timed out")
        archive.record_error(4, "svoboda", "https://www.svoboda.org/a/2.html", "dns", "no such host")
        archive.conn.execute("UPDATE crawl_errors SET at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-8 days')"
                             " WHERE kind = 'dns'")  # older than the query's week
    client = datasette_app(db).client

    latest = (await client.get("/ops/latest_runs.json?_shape=array")).json()
    assert {(r["outlet_id"], r["status"]) for r in latest} == {
        ("azattyq-kk", "failed"), ("ozodi-tg", "ok"), ("svoboda", "ok"), ("currenttime", "ok")}
    assert latest[0]["outlet"] == "Азаттық радиосы"

    attention = (await client.get("/ops/outlets_needing_attention.json?_shape=array&quiet_hours=24")).json()
    problems = {r["outlet_id"]: r["problem"] for r in attention}
    assert problems == {"azattyq-kk": "last run failed", "svoboda": "no new articles for over 24 hours"}

    errors = (await client.get("/ops/errors_by_kind.json?_shape=array")).json()
    assert [(r["outlet_id"], r["kind"], r["errors"]) for r in errors] == [("azattyq-kk", "http_503", 2), ("svoboda", "timeout", 1)]


DEEP_OUTLETS = """
allow_private_addresses: true  # the mirror, an HTTP proxy on 127.0.0.1
families:
  pangea:
    homepage: "https://{host}/"
    article_patterns: ['^/a/(?:[^/?#]+/)?\\d+\\.html$']
    article_id: '/a/(?:[^/]+/)?(\\d+)\\.html$'
    sources:
      - {kind: feed, url: "https://{host}/no-such-feed.xml"}
      - {kind: sitemap_index, url: "https://{host}/sitemap.xml", mode: backfill}
    politeness: {concurrency: 4, delay: 0}
outlets:
  - {id: voanews, family: pangea, name: Voice of America, host: www.voanews.com, languages: [en],
     schedule: "0 0 1 1 *", deep_crawl: {schedule: "%(deep)s", days: 3650}}
"""


def test_a_deep_crawl_reads_the_archive_sitemaps_on_its_own_schedule(tmp_path, mirror_factory):
    # The frequent crawl (a feed that finds nothing) never runs in this test; the deep crawl's
    # own job reads the sitemap index and stores the article the feed never listed.
    mirror = mirror_factory(DEMO_DATA / "site")
    registry = tmp_path / "outlets.yml"
    registry.write_text(DEEP_OUTLETS % {"deep": EVERY_2S}, encoding="utf-8")
    base = ["--outlets", str(registry), "--db", str(tmp_path / "archive.db")]
    scheduler = start_scheduler(base, mirror, tmp_path)
    try:
        assert wait_for(lambda: any(r["finished"] for r in runs(tmp_path, "voanews")))
    finally:
        code, err = stop(scheduler)
    assert code == 0, err
    first = runs(tmp_path, "voanews")[0]
    # The demo's VOA sitemaps list the article and the video item built beside it (SOURCES.md).
    assert (first["mode"], first["status"], first["articles_new"]) == ("backfill", "ok", 2)
    assert first["log_file"].endswith("-deep.log")
    listing = run_mediawatch([*base, "schedule", "list"]).stdout
    assert re.search(r"voanews\s+0 0 1 1 \*\s+active\s+\S+ \S+\s+never", listing), listing
    assert re.search(r"voanews:deep\s+\*/2 \* \* \* \* \*\s+active\s+\S+ \S+\s+ok at ", listing), listing
    # Run by hand, the deep crawl finds nothing new; an outlet without one says so.
    registry.write_text(DEEP_OUTLETS % {"deep": NEVER_SOON}, encoding="utf-8")
    again = run_mediawatch([*base, "run", "voanews", "--deep"], mirror=mirror)
    assert again.stdout.startswith("voanews: ok,") and " 0 new articles" in again.stdout
    registry.write_text(OUTLETS % {"gv": NEVER_SOON, "ko": NEVER_SOON}, encoding="utf-8")
    refused = run_mediawatch([*base, "run", "globalvoices", "--deep"], check=False)
    assert refused.returncode != 0 and "outlet 'globalvoices' has no deep_crawl entry" in refused.stderr
