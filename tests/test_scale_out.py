"""Three crawl hosts on real Scrapyd, real Redis, the writer and a mirror: nothing lost, nothing
duplicated, whatever fails (bench/cluster_rig.py builds it; docs/scale-out.md explains it).

One scenario, in order, on one cluster: the hosts crawl six outlets (two each) and the archive
must equal what one host stores; a host is killed with SIGKILL mid-run; Redis is stopped for
30 s while a crawl stores pages; the writer replays every stream; an outlet moves to another
host; the controller (`mediawatch schedule --cluster`) runs a job on its own and stops.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import replace

import pytest

from bench.cluster_rig import ClusterRig, RigUnavailable, Sites, demo_pages
from scraper.cluster.assign import placement, rendezvous
from scraper.cluster.config import ClusterConfigError, load_cluster
from tests.conftest import run_mediawatch

# Two outlets per host under rendezvous hashing over h1, h2, h3 (checked below).
OUTLETS = {"uz": "h1", "tk": "h1", "ky": "h2", "tg": "h2", "kk": "h3", "bg": "h3"}
ARTICLE_FIELDS = "url_key, url, outlet_id, title, text, language, published, authors, content_hash"


# -- placement and the cluster file (no services) ------------------------------------------------


def test_removing_a_host_moves_only_its_outlets_and_weights_share_them_out():
    outlets = [f"outlet-{n}" for n in range(2000)]
    weights = {"a": 1, "b": 1, "c": 1, "d": 1}
    before = placement(outlets, weights)
    counts = {host: list(before.values()).count(host) for host in weights}
    assert all(400 <= count <= 600 for count in counts.values()), counts
    after = placement(outlets, {h: w for h, w in weights.items() if h != "c"})
    moved = {o for o in outlets if before[o] != after[o]}
    assert moved == {o for o in outlets if before[o] == "c"}
    heavy = placement(outlets, {**weights, "d": 2})
    assert 2 * 0.8 < list(heavy.values()).count("d") / list(heavy.values()).count("a") < 2 * 1.25
    assert placement(["x"], weights, {"x": "b"}) == {"x": "b"}


def test_cluster_file_names_every_problem(tmp_path):
    path = tmp_path / "cluster.yml"
    path.write_text("redis: http://nope\nhosts:\n  crawl1: {url: 'ftp://x', spool: relative.db}\n"
                    "  Bad Name: {url: 'http://x:6800'}\npins: {azattyq-kk: crawl9}\n", encoding="utf-8")
    with pytest.raises(ClusterConfigError) as error:
        load_cluster(path)
    message = str(error.value)
    for expected in ("field 'redis'", "hosts.crawl1.url", "hosts.crawl1.spool", "hosts.crawl1.registry",
                     "hosts.Bad Name", "pins.azattyq-kk"):
        assert expected in message, message
    assert str(path) in message


def test_a_host_whose_installed_code_differs_refuses_the_deployed_version(tmp_path):
    """The egg `mediawatch deploy` sends checks the host's code before it is the settings module."""
    import zipfile

    from scraper.cluster.deploy import DeploymentMismatch, build_egg, code_fingerprint, deploy_version

    egg = tmp_path / "deployed.egg"
    egg.write_bytes(build_egg())
    with zipfile.ZipFile(egg) as contents:
        assert "[scrapy]\nsettings = mediawatch_deployment" in contents.read("EGG-INFO/entry_points.txt").decode()
    assert deploy_version().endswith(code_fingerprint())
    check = [sys.executable, "-c", "import mediawatch_deployment as m; print(m.SPIDER_MODULES)"]
    ok = subprocess.run(check, env={**os.environ, "PYTHONPATH": str(egg)}, capture_output=True, text=True)
    assert ok.returncode == 0 and "scraper.cluster.hosted" in ok.stdout, ok.stderr
    stale = tmp_path / "stale.egg"
    stale.write_bytes(build_egg("0_0_1-000000000000"))
    refused = subprocess.run(check, env={**os.environ, "PYTHONPATH": str(stale)}, capture_output=True, text=True)
    assert refused.returncode != 0 and DeploymentMismatch.__name__ in refused.stderr
    assert "is not the one deployed (code 000000000000)" in refused.stderr


# -- the cluster ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    try:
        ClusterRig.check_parts()
    except RigUnavailable as exc:
        pytest.skip(f"scale-out needs Redis and Scrapyd: {exc}")
    assert {o: rendezvous(o, {"h1": 1, "h2": 1, "h3": 1}) for o in OUTLETS} == OUTLETS
    sites = Sites(demo_pages(), {outlet: 5 for outlet in OUTLETS})
    with ClusterRig(tmp_path_factory.mktemp("cluster"), sites) as cluster:
        print(f"\ncrawl hosts: {cluster.isolation}")
        if "namespace" not in cluster.isolation:
            warnings.warn(f"scale-out tests: crawl hosts are {cluster.isolation}")
        yield cluster


def articles(db) -> dict:
    with sqlite3.connect(db) as conn:
        return {row[0]: row for row in conn.execute(f"SELECT {ARTICLE_FIELDS} FROM articles")}


def query(db, sql, params=()):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def spool_pages(rig, host) -> int:
    if not rig.hosts[host].spool.exists():
        return 0
    return query(rig.hosts[host].spool, "SELECT count(*) FROM raw_pages WHERE html_zlib IS NOT NULL")[0][0]


def assert_archive_consistent(rig):
    db = rig.central
    assert query(db, "SELECT count(*), count(DISTINCT url_key), count(DISTINCT url) FROM articles")[0] == \
        (query(db, "SELECT count(*) FROM articles")[0][0],) * 3
    assert query(db, "SELECT count(*) FROM raw_pages")[0] == query(db, "SELECT count(DISTINCT url_key) FROM raw_pages")[0]
    # Every run's counters are what it stored (each page here is stored by one run only; a run
    # killed mid-way may have fetched a page or two more than it stored, fetched again later).
    for run_id, host, pages, new in query(db, "SELECT id, host, pages_stored, articles_new FROM crawl_runs"):
        stored = query(db, "SELECT count(*) FROM raw_pages WHERE run_id = ?", (run_id,))[0][0]
        assert pages == stored == new, (run_id, host, pages, stored, new)
    # Each closed run's reconciliation reached the central archive with it (a killed one has none).
    for row in query(db, "SELECT id, status, reconciled, pages_fetched, pages_stored FROM crawl_runs"):
        assert row[2] == (1 if row[1] == "ok" else row[2]) and (row[1] != "ok" or row[3] == row[4]), row
    assert query(db, "SELECT sum(articles_new) FROM crawl_runs")[0][0] == query(db, "SELECT count(*) FROM articles")[0][0]
    assert query(db, "PRAGMA integrity_check")[0][0] == "ok"
    assert query(db, "INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')") == []


def test_three_hosts_lose_and_duplicate_nothing(rig, tmp_path):
    started = time.monotonic()
    sites, mirror = rig.sites, rig.mirror

    # What one host stores: the single-host crawl of the same outlets, through the same mirror.
    single = tmp_path / "single.db"
    run_mediawatch(["--outlets", str(rig.registry), "--db", str(single), "crawl"], mirror=mirror)
    one_host = articles(single)
    assert len(one_host) == 30
    mirror.hits.clear()

    # 1. Every outlet on its host: the archive holds exactly what one host would.
    outcomes = rig.run_outlets(list(OUTLETS))
    for outlet_id, outcome in outcomes.items():
        assert outcome.host == OUTLETS[outlet_id], outcome.summary()
        assert outcome.run and outcome.run["status"] == "ok" and outcome.run["pages_fetched"] == 5, outcome.summary()
    rig.wait_caught_up()
    assert articles(rig.central) == one_host
    assert sorted(mirror.article_hits().values()) == [1] * 30
    for host in ("h1", "h2", "h3"):
        assert spool_pages(rig, host) == 10  # its two outlets' pages, and nobody else's
    assert {row[0]: row[1] for row in query(rig.central, "SELECT outlet_id, host FROM crawl_runs")} == OUTLETS
    assert_archive_consistent(rig)
    print(f"1. six outlets on three hosts: {time.monotonic() - started:.0f} s")

    # 2. kill -9 a host (Scrapyd, its crawl, the crawl's workers, its publisher) mid-run.
    sites.articles["uz"], sites.delay["uz"] = 25, 0.4
    runner = rig.runner()
    first = threading.Thread(target=rig.run_outlets, args=(["uz"], runner))
    first.start()
    deadline = time.monotonic() + 60
    while spool_pages(rig, "h1") < 10 + 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    rig.kill_host("h1")
    stored_before_kill = {row[0] for row in query(rig.hosts["h1"].spool,
                                                  "SELECT url FROM raw_pages WHERE outlet_id = 'uz'")}
    assert 9 <= len(stored_before_kill) < 25
    rig.start_host("h1")
    first.join(timeout=120)
    sites.delay["uz"] = 0
    again = rig.run_outlets(["uz"])["uz"]
    assert again.run and again.run["status"] == "ok", again.summary()
    rig.wait_caught_up()
    killed = query(rig.central, "SELECT status, pages_stored, message FROM crawl_runs WHERE outlet_id = 'uz'"
                                " ORDER BY id")[1]
    assert killed[0] == "interrupted" and killed[1] >= 4, killed
    assert killed[1] + again.run["pages_stored"] == 20  # the 20 new articles, each stored once
    hits = mirror.article_hits()
    for url in stored_before_kill:  # what the killed crawl had stored is not fetched again
        assert hits[(url.split("/")[2], "/" + url.split("/", 3)[3])] == 1, url
    assert len([k for k in hits if k[0].startswith("uz.")]) == 25
    assert_archive_consistent(rig)
    print(f"2. host killed mid-run and restarted: {time.monotonic() - started:.0f} s")

    # 3. Redis stops for 30 s while a crawl stores pages: the spool keeps them, they arrive after.
    sites.articles["ky"], sites.delay["ky"] = 15, 0.5
    crawl = threading.Thread(target=lambda: outcomes.update(rig.run_outlets(["ky"], rig.runner())))
    crawl.start()
    deadline = time.monotonic() + 60
    while spool_pages(rig, "h2") < 10 + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    rig.stop_redis()
    outage = time.monotonic()
    time.sleep(30)
    stored_in_outage = spool_pages(rig, "h2") - 12
    rig.start_redis()
    crawl.join(timeout=180)
    assert outcomes["ky"].run and outcomes["ky"].run["status"] == "ok", outcomes["ky"].summary()
    assert outcomes["ky"].run["pages_fetched"] == 10
    assert stored_in_outage > 0  # the crawl went on storing while Redis was away
    rig.wait_caught_up()
    assert len(articles(rig.central)) == 30 + 20 + 10
    assert sorted(v for k, v in mirror.article_hits().items() if k[0].startswith("ky.")) == [1] * 15
    assert_archive_consistent(rig)
    print(f"3. Redis stopped for {time.monotonic() - outage:.0f} s: {time.monotonic() - started:.0f} s")

    # 4. Replay every stream from its start: nothing changes.
    before = (articles(rig.central), query(rig.central, "SELECT * FROM crawl_runs ORDER BY id"),
              query(rig.central, "SELECT count(*) FROM crawl_errors")[0][0])
    rig.stop_writer()
    replay = rig.mediawatch(["writer", "--replay", "--until-idle", "3"])
    replayed = int(re.search(r"(\d+) events applied", replay.stdout)[1])
    assert replayed >= 60 + 6 + 3, replay.stdout  # every page, and every run's start, job and end
    after = (articles(rig.central), query(rig.central, "SELECT * FROM crawl_runs ORDER BY id"),
             query(rig.central, "SELECT count(*) FROM crawl_errors")[0][0])
    assert after == before
    rig.start_writer()
    print(f"4. replayed {replayed} events: {time.monotonic() - started:.0f} s")

    # 5. Move an outlet (pinned to another host): the new host fetches only what is new.
    rig.pin("bg", "h2")
    listing = rig.mediawatch(["schedule", "list"]).stdout
    assert re.search(r"^bg\s+\S+ \S+ \S+ \S+ \S+\s+h2\*", listing, re.M), listing
    assert re.search(r"^kk\s+\S+ \S+ \S+ \S+ \S+\s+h3 ", listing, re.M), listing
    sites.articles["bg"] = 8
    moved = rig.run_outlets(["bg"], rig.runner())["bg"]
    assert moved.host == "h2" and moved.run["status"] == "ok", moved.summary()
    assert moved.run["pages_fetched"] == 3 and moved.run["articles_new"] == 3
    rig.wait_caught_up()
    assert sorted(v for k, v in mirror.article_hits().items() if k[0].startswith("bg.")) == [1] * 8
    assert query(rig.hosts["h2"].spool, "SELECT count(*) FROM raw_pages WHERE outlet_id = 'bg' AND html_zlib IS NULL")[0][0] == 5
    assert_archive_consistent(rig)
    assert len(articles(rig.central)) == 63
    print(f"5. outlet moved h3 -> h2: {time.monotonic() - started:.0f} s")

    # 6. Redis loses everything while events wait for a stopped writer: the spools send them again.
    rig.stop_writer()
    sites.articles["tk"] = 9
    runner = rig.runner()
    runner.use(replace(runner.cluster, settle_seconds=1))  # no writer to wait for
    waiting = rig.run_outlets(["tk"], runner)["tk"]
    assert waiting.run is None  # its run and pages are in Redis, not applied
    sent = lambda: int(rig.redis().hget("mediawatch:published", "h1") or 0)  # noqa: E731
    deadline = time.monotonic() + 30
    while sent() < query(rig.hosts["h1"].spool, "SELECT max(seq) FROM outbox")[0][0] and time.monotonic() < deadline:
        time.sleep(0.2)
    rig.wipe_redis()
    # Publishers beat their heartbeats at once, but no stream is left, nor the writer's positions.
    assert not [key for key in rig.redis().keys() if key.startswith(b"mediawatch:spool:")]
    assert rig.redis().hgetall("mediawatch:applied") == {}
    rig.start_writer()
    rig.wait_caught_up()
    tk_runs = query(rig.central, "SELECT status, pages_fetched FROM crawl_runs WHERE outlet_id = 'tk' ORDER BY id")
    assert tk_runs[-1] == ("ok", 4), tk_runs
    assert len(articles(rig.central)) == 67
    assert sorted(v for k, v in mirror.article_hits().items() if k[0].startswith("tk.")) == [1] * 9
    assert_archive_consistent(rig)
    print(f"6. Redis restarted empty: {time.monotonic() - started:.0f} s")


def test_controller_runs_jobs_on_their_hosts_and_reports_host_health(rig):
    """`mediawatch schedule --cluster`: the scheduler dispatching to Scrapyd on the cron."""
    rig.sites.articles["tg"] = 7
    already = query(rig.central, "SELECT count(*) FROM articles WHERE outlet_id = 'tg'")[0][0] \
        if rig.central.exists() else 0
    first_run = query(rig.central, "SELECT coalesce(max(id), 0) FROM crawl_runs")[0][0] if rig.central.exists() else 0
    registry = rig.root / "every-few-seconds.yml"
    registry.write_text(rig.registry.read_text().replace(
        "    sources: [{kind: feed, url: 'http://tg.cluster.test/feed.xml'}]",
        "    sources: [{kind: feed, url: 'http://tg.cluster.test/feed.xml'}]\n    schedule: '*/4 * * * * *'"))
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    controller = subprocess.Popen(
        [sys.executable, "-m", "scraper.cli", "--db", str(rig.central), "--outlets", str(registry), "--cluster",
         str(rig.cluster_file), "schedule", "--jobs", str(rig.root / "jobs.sqlite")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        done = []
        while time.monotonic() < deadline and not done:
            done = query(rig.central, "SELECT host, status, pages_fetched FROM crawl_runs WHERE outlet_id = 'tg'"
                                      " AND status != 'running' AND id > ?", (first_run,))
            time.sleep(0.5)
        hosts = []
        while time.monotonic() < deadline and len(hosts) < 3:
            hosts = query(rig.central, "SELECT host, state, outlets FROM cluster_hosts ORDER BY host") \
                if query(rig.central, "SELECT name FROM sqlite_master WHERE name = 'cluster_hosts'") else []
            time.sleep(0.5)
    finally:
        controller.send_signal(signal.SIGTERM)
        output = controller.communicate(timeout=60)[0]
    assert controller.returncode == 0, output
    assert done and done[0] == ("h2", "ok", 7 - already), (done, output[-3000:])
    assert [(h, s) for h, s, _ in hosts] == [("h1", "up"), ("h2", "up"), ("h3", "up")], output[-2000:]
    assert "scheduler stopped" in output


async def test_dashboard_shows_host_health_and_writer_lag_only_for_a_cluster_archive(rig, tmp_path):
    from archive.web.serve import datasette_app
    from archive.store import Archive

    client = datasette_app(rig.central).client
    name = rig.central.stem
    page = (await client.get("/-/dashboard")).text
    assert "Crawl hosts and the writer&#39;s lag" in page or "Crawl hosts and the writer's lag" in page
    assert "Crawl runs per host" in page and "not yet in the archive" in page
    # A crawl the previous test's controller started may still be finishing (stopping the
    # controller asks running crawls to finish): its pages show as lag until the writer has them.
    rig.wait_caught_up()
    deadline = time.monotonic() + 60
    while True:
        hosts = (await client.get(f"/{name}/dashboard_hosts.json?_shape=array")).json()
        caught_up = all(row["state"] == "up" and row["applied"] == row["stored"] and row["behind"] == 0
                        for row in hosts)
        if caught_up or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert [row["host"] for row in hosts] == ["h1", "h2", "h3"]
    assert caught_up, hosts
    runs = (await client.get(f"/{name}/dashboard_host_runs.json?_shape=array")).json()
    assert runs and {row["host"] for row in runs} <= {"h1", "h2", "h3"}
    assert all(row["runs"] > 0 for row in runs)
    status = rig.mediawatch(["cluster", "status"]).stdout
    assert "redis: ok; writer: running" in status, status
    for host in ("h1", "h2", "h3"):
        assert re.search(rf"^{host}\s+up: \d+ running, \d+ pending\s+yes\s+running\s+\d+\s+\d+\s+0$", status, re.M), status
    assign = rig.mediawatch(["cluster", "assign", "--without", "h3"]).stdout
    assert re.search(r"^kk\s+h3 -> h[12]$", assign, re.M) and re.search(r"^uz\s+h1$", assign, re.M), assign
    moving = sum(1 for host in rig.placement().values() if host == "h3")
    assert f"without h3: {moving} outlets move, no other outlet changes host" in assign
    # A single-host archive has no such tables, and its dashboard no such cards.
    Archive(tmp_path / "single.db").close()
    single = (await datasette_app(tmp_path / "single.db").client.get("/-/dashboard")).text
    assert "Articles per day" in single and "Crawl hosts" not in single and "Crawl runs per host" not in single


def test_time_limit_and_stop_reach_the_crawl_through_scrapyd(rig):
    """The crawl stops itself at the controller's time limit; stopping the controller cancels
    its jobs through Scrapyd (cancel.json), and the run ends as interrupted, its pages kept."""
    rig.sites.articles["ky"], rig.sites.delay["ky"] = 75, 1.0
    limited = rig.run_outlets(["ky"], rig.runner(time_limit=4))["ky"]
    assert limited.run["status"] == "timed out", limited.summary()
    assert 0 < limited.run["pages_fetched"] < 60, limited.summary()

    runner = rig.runner()
    outcome = {}
    crawl = threading.Thread(target=lambda: outcome.update(rig.run_outlets(["ky"], runner)))
    crawl.start()
    before = spool_pages(rig, "h2")
    deadline = time.monotonic() + 60
    while spool_pages(rig, "h2") < before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    stopping = time.monotonic()
    runner.stop_all()
    crawl.join(timeout=60)
    assert time.monotonic() - stopping < 30
    rig.wait_caught_up()
    job = outcome["ky"].job_id
    status, pages, message = query(rig.central, "SELECT status, pages_fetched, message FROM crawl_runs WHERE job_id = ?",
                                   (job,))[0]
    assert status == "interrupted" and pages >= 2, (status, pages, message)
    rig.sites.delay["ky"] = 0
    assert_archive_consistent(rig)


def test_a_host_whose_registry_says_otherwise_of_an_outlet_refuses_its_job(rig):
    other = rig.root / "h3-outlets.yml"
    other.write_text(rig.registry.read_text().replace("concurrency: 2", "concurrency: 9"), encoding="utf-8")
    rig.hosts["h3"].registry = other
    rig.write_cluster_file()
    try:
        refused = rig.run_outlets(["kk"], rig.runner())["kk"]
    finally:
        rig.hosts["h3"].registry = None
        rig.write_cluster_file()
    assert refused.run is None
    assert "is not the controller's" in refused.message and "copy the controller's registry" in refused.message, \
        refused.message
