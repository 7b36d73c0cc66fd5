"""Scale-out: pages/s with 1, 2 and 3 crawl hosts, the writer alone, stream lag, 500 outlets.

Runs the cluster rig (bench/cluster_rig.py: real Scrapyd hosts, each in its own network
namespace where root can make them, Redis, the writer, a mirror serving real corpus pages)
three times, with 1, 2 and 3 hosts, on the same outlets; each time every outlet's crawl is
dispatched at once and the clock stops when the writer has applied every page. Then:

- each process's CPU seconds over the run (Scrapyd with its crawls and their extraction
  workers, per host; each publisher; the writer; Redis; this process: mirror and controller);
- the writer alone: the same streams replayed into an empty archive;
- the stream lag (events stored on the hosts, not yet in the archive) sampled during the
  3-host run;
- the crawls run once more with nothing new, for the cost of a run itself;
- a worked estimate for 500 outlets from those figures.

    python bench/scale_out.py                 # 6 outlets x 100 articles; 5-15 minutes
    python bench/scale_out.py --outlets 6 --articles 20 --no-doc   # a quick look

This machine has 2 cores: every host, the writer, Redis and the mirror share them, so more
hosts cannot be faster here; the figures show where the CPU goes, which is what sizes a real
cluster (one host a machine).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import machine, write_section  # noqa: E402
from cluster_rig import ClusterRig, SiteServer, Sites, demo_pages  # noqa: E402

TITLE = "Scale-out: crawl hosts, the writer, stream lag"


def cpu(pid: int | None) -> float:
    """CPU seconds of a process and of its children it has reaped (Scrapyd reaps its crawls,
    which reaped their workers), 0 if gone."""
    import psutil

    if pid is None:
        return 0.0
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def outlet_names(count: int) -> list[str]:
    return [f"out{n}" for n in range(1, count + 1)]


def pages_for_bench() -> tuple[list[bytes], str]:
    try:
        from harness import corpus_pages

        pages = corpus_pages(300)
        if pages:
            return pages, "300 real article pages of the shared corpus"
    except SystemExit:
        pass
    return demo_pages(), "the bundled demo's real pages (shared corpus not found)"


class Processes:
    """CPU of the rig's processes between two moments."""

    def __init__(self, rig: ClusterRig):
        self.rig = rig

    def snapshot(self) -> dict[str, float]:
        rig = self.rig
        shot = {}
        for name, host in rig.hosts.items():
            shot[f"{name}: Scrapyd + crawls + workers"] = cpu(host.scrapyd.pid)
            shot[f"{name}: publisher"] = cpu(host.publisher.pid)
        shot["writer"] = cpu(rig.writer_process.pid)
        shot["Redis"] = cpu(rig.redis_process.pid)
        shot["mirror + controller (this process)"] = self_cpu()
        return shot


def measure(hosts: int, outlets: list[str], articles: int, pages: list[bytes], root: Path,
            sample_lag: bool = False) -> dict:
    sites = Sites(pages, {o: articles for o in outlets})
    with ClusterRig(root / f"{hosts}-hosts", sites, hosts=hosts, extract_workers=1, max_proc=8) as rig:
        processes = Processes(rig)
        placement = rig.placement()
        before = processes.snapshot()
        lag: list[int] = []
        stop = threading.Event()
        if sample_lag:
            threading.Thread(target=_sample_lag, args=(rig, lag, stop), daemon=True).start()
        started = time.perf_counter()
        outcomes = rig.run_outlets(outlets, rig.runner(time_limit=1800))
        rig.wait_caught_up(timeout=600)
        elapsed = time.perf_counter() - started
        stop.set()
        after = processes.snapshot()
        bad = [o.summary() for o in outcomes.values() if not (o.run and o.run["status"] == "ok")]
        if bad:
            raise SystemExit("a crawl failed:\n" + "\n".join(bad))
        with sqlite3.connect(rig.central) as db:
            stored = db.execute("SELECT count(*) FROM raw_pages").fetchone()[0]
            lag_seconds = db.execute("SELECT max(lag_seconds) FROM writer_cursors").fetchone()[0]
        result = {"hosts": hosts, "pages": stored, "seconds": elapsed, "cpu": {k: after[k] - before[k] for k in after},
                  "placement": placement, "lag": lag, "lag_seconds": lag_seconds}
        result["isolation"] = rig.isolation
        if sample_lag:
            result["writer_alone"] = writer_alone(rig, stored)
            result["idle_run"] = idle_runs(rig, outlets, processes)
        return result


def _sample_lag(rig: ClusterRig, lag: list[int], stop: threading.Event) -> None:
    from scraper.cluster import bus

    client = rig.redis()
    while not stop.wait(0.5):
        try:
            spooled, applied = bus.hash_ints(client, bus.SPOOLED), bus.hash_ints(client, bus.APPLIED)
        except Exception:
            continue
        lag.append(sum(max(0, spooled[h] - applied.get(h, 0)) for h in spooled))


def single_host(outlets: list[str], articles: int, pages: list[bytes], root: Path) -> dict:
    """The same outlets crawled by `mediawatch crawl` on this machine alone, for comparison."""
    sites = Sites(pages, {o: articles for o in outlets})
    server = SiteServer(sites).start()
    root.mkdir(parents=True, exist_ok=True)
    registry, db = sites.registry(root / "single-outlets.yml"), root / "single.db"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(server.proxy_env(), PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "scraper.cli", "--outlets", str(registry), "--db", str(db), "crawl"],
                       env=env, check=True, capture_output=True)
    finally:
        server.stop()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM raw_pages").fetchone()[0]
    return {"pages": stored, "wall": wall,
            "cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


def writer_alone(rig: ClusterRig, pages: int) -> dict:
    """Replay every stream into an empty archive, in this process (so its start is not
    counted), with nothing else running; wall time and this process's CPU time."""
    from scraper.cluster.config import load_cluster
    from scraper.cluster.writer import Writer

    cluster = load_cluster(rig.cluster_file)
    writer = Writer(rig.root / "writer-alone.db", cluster.redis_url, replay=True, block_ms=100)
    try:
        wall, cpu_started = time.perf_counter(), time.process_time()
        while writer.apply_once():
            pass
        wall, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu_started
        applied = writer.archive.conn.execute("SELECT count(*) FROM raw_pages").fetchone()[0]
    finally:
        writer.close()
    return {"pages": applied, "wall": wall, "cpu": cpu_seconds, "expected": pages}


def idle_runs(rig: ClusterRig, outlets: list[str], processes: Processes) -> dict:
    """Every outlet crawled again with nothing new: what a run costs by itself."""
    before = processes.snapshot()
    started = time.perf_counter()
    rig.run_outlets(outlets, rig.runner())
    rig.wait_caught_up()
    wall = time.perf_counter() - started
    after = processes.snapshot()
    host_cpu = sum(after[k] - before[k] for k in after if "Scrapyd" in k)
    return {"runs": len(outlets), "wall": wall, "host_cpu": host_cpu}


def report(results: list[dict], single: dict, pages_note: str, outlets: int, articles: int, isolation: str,
           minutes: float) -> str:
    base = results[0]["pages"] / results[0]["seconds"]
    lines = [
        f"Measured {machine()}. `python bench/scale_out.py` ({minutes:.0f} minutes here; most of it the crawls, "
        f"so about a third of that on a quiet machine). {outlets} outlets x {articles} "
        f"articles, served by the local mirror from {pages_note}; crawl hosts: {isolation}; one extraction "
        "worker per crawl, every outlet dispatched at once through Scrapyd, the clock stopped when the writer "
        "had applied every page.",
        "",
        "**This machine has 2 cores and every process below shares them: the cores, not the design, cap the "
        "rate here.** Adding hosts on one machine adds processes competing for the same two cores; on real "
        "hosts (one machine each) the crawl CPU below is what each one carries.",
        "",
        "Wall times move with the machine's load (its load average at the start is above; other jobs share "
        "the machine): the CPU seconds further down are the steadier figures.",
        "",
        "| hosts | pages | seconds | pages/s | vs 1 host | outlets per host |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        spread = ", ".join(f"{h} {list(r['placement'].values()).count(h)}" for h in sorted(set(r["placement"].values())))
        rate = r["pages"] / r["seconds"]
        lines.append(f"| {r['hosts']} | {r['pages']} | {r['seconds']:.1f} | **{rate:.1f}** | {rate / base:.2f} | {spread} |")
    lines += ["", "CPU seconds of each process over each run (Scrapyd's figure includes the crawl processes it "
              "started and their extraction workers):", ""]
    names = sorted({name for r in results for name in r["cpu"]})
    lines.append("| process | " + " | ".join(f"{r['hosts']} host{'s' if r['hosts'] > 1 else ''}" for r in results) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in results) + " |")
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{r['cpu'][name]:.1f}" if name in r["cpu"] else "-" for r in results) + " |")
    last = results[-1]
    total_cpu = {r["hosts"]: sum(r["cpu"].values()) for r in results}
    crawl_cpu = sum(v for k, v in last["cpu"].items() if "Scrapyd" in k)
    writer = last["writer_alone"]
    per_page_writer = writer["cpu"] / writer["pages"]
    idle = last["idle_run"]
    per_run = idle["host_cpu"] / idle["runs"]
    # Per page, less what the runs cost by themselves (counted per run below).
    per_page_crawl = max(crawl_cpu - per_run * outlets, 0) / last["pages"]
    single_per_page = single["cpu"] / single["pages"]
    lag = last["lag"] or [0]
    lines += [
        "",
        "All processes together: " + ", ".join(f"{total_cpu[h]:.0f} CPU s with {h} host{'s' if h > 1 else ''}"
                                                  for h in total_cpu)
        + " (the wall time is at least this divided by 2 cores).",
        "",
        f"For comparison, the same outlets crawled by plain `mediawatch crawl` on this machine (one process, "
        f"its extraction pool of one worker per core; no Scrapyd, Redis or writer): {single['pages']} pages in "
        f"{single['wall']:.1f} s, {single['cpu']:.1f} CPU s, **{single_per_page * 1000:.0f} ms CPU a page**. "
        f"On the 3 crawl hosts: {crawl_cpu / last['pages'] * 1000:.0f} ms a page all in, "
        f"{per_page_crawl * 1000:.0f} ms less the runs' own cost (below): each outlet's run is its own process with "
        "its own worker, where `crawl` shares one process and pool between outlets.",
        "",
        f"**The writer alone** (every stream replayed into an empty archive, nothing else running): "
        f"{writer['pages']} pages (with their runs' events) in {writer['wall']:.2f} s, {writer['cpu']:.2f} CPU s: "
        f"**{writer['pages'] / writer['wall']:.0f} pages/s**, **{per_page_writer * 1000:.1f} ms CPU a page, "
        f"{1 / per_page_writer:.0f} pages per CPU-second**, against {per_page_crawl * 1000:.0f} ms of crawl-host CPU "
        f"a page: one writer core absorbs what about {per_page_crawl / per_page_writer:.0f} crawl-host cores "
        "produce.",
        "",
        f"**Stream lag under load** (3 hosts; events stored on the hosts and not yet applied, sampled every "
        f"0.5 s): median {statistics.median(lag):.0f}, max {max(lag)} events; the writer's own oldest-unapplied "
        f"age at its last check: {last['lag_seconds'] or 0:.1f} s. Zero once the crawls end.",
        "",
        f"**A run by itself**: {idle['runs']} runs with nothing new cost {idle['host_cpu']:.1f} CPU s on the "
        f"hosts, **{per_run:.1f} s a run** (a Scrapyd job is a new Python process that imports Scrapy and "
        "starts its extraction worker, reads the feed and finds every article archived).",
        "",
        "**500 outlets, worked estimate** (assumptions in italics; figures from this run):",
        "",
    ]
    runs_per_day = 500 * 48
    new_pages_per_day = 500 * 60
    deep_per_day = 500
    steady_cpu = runs_per_day * per_run + new_pages_per_day * per_page_crawl + deep_per_day * per_run * 3
    half_load_hosts = max(1, math.ceil(steady_cpu / 86400 / (2 * 0.5)))
    lines += [
        f"- *Every outlet every 30 minutes*: {runs_per_day:,} runs a day x {per_run:.1f} s = "
        f"{runs_per_day * per_run / 86400:.2f} cores around the clock just to run the jobs;",
        f"- *60 new articles a day an outlet* (RFE/RL services publish tens a day): {new_pages_per_day:,} pages x "
        f"{per_page_crawl * 1000:.0f} ms = {new_pages_per_day * per_page_crawl / 86400:.2f} cores;",
        f"- *a nightly deep crawl an outlet, about 3 runs' worth*: {deep_per_day * per_run * 3 / 86400:.2f} cores;",
        f"- steady state: **{steady_cpu / 86400:.1f} cores of crawl hosts**: {half_load_hosts} 2-core host"
        f"{'s' if half_load_hosts > 1 else ''} at half load (one more for a host's outage), and "
        f"{new_pages_per_day * per_page_writer / 86400 * 100:.2f}% of one core for the writer;",
        f"- a *backfill of 200,000 archived articles an outlet* (100 million pages) at "
        f"{1 / per_page_crawl:.0f} pages per crawl-host core-second is "
        f"{100e6 * per_page_crawl / 86400:,.0f} core-days: about {100e6 * per_page_crawl / 86400 / 12:,.0f} days on "
        "three 4-core hosts, politeness aside (one outlet is one site, fetched at its own delay, so a backfill is "
        "as slow as the sites allow: spread over weeks, or over more hosts, since each outlet is one host's);",
        f"- the writer absorbs {1 / per_page_writer:.0f} pages per CPU-second: "
        f"{100e6 * per_page_writer / 86400:.1f} days of one core for the whole backfill, far ahead of the "
        "crawl; Redis holds only what the writer has not applied (plus stream_retain events a host).",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outlets", type=int, default=6)
    parser.add_argument("--articles", type=int, default=100, help="articles per outlet")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    ClusterRig.check_parts()
    pages, note = pages_for_bench()
    outlets = outlet_names(args.outlets)
    root = Path(tempfile.mkdtemp(prefix="mediawatch-scale-out-"))
    results = []
    began = time.perf_counter()
    try:
        print("== one machine, plain `mediawatch crawl`", flush=True)
        single = single_host(outlets, args.articles, pages, root / "single")
        for hosts in (1, 2, 3):
            print(f"== {hosts} host(s)", flush=True)
            results.append(measure(hosts, outlets, args.articles, pages, root, sample_lag=hosts == 3))
            r = results[-1]
            print(f"   {r['pages']} pages in {r['seconds']:.1f} s", flush=True)
        isolation = results[-1]["isolation"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    text = report(results, single, note, args.outlets, args.articles, isolation, (time.perf_counter() - began) / 60)
    print(text)
    if not args.no_doc:
        write_section(TITLE, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
