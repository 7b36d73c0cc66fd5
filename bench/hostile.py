"""The worst cases of the hostile-web work, measured: time, CPU and peak memory of each crawl.

    python bench/hostile.py [--time-limit 90] [--no-doc]        # about 5 minutes

Each case is crawled by the real CLI in a child process through the local mirror, whose named
faults (tests/faults.py) play the hostile site; a small wrapper reports the crawl's wall time,
its CPU time and the peak RSS of its largest process (the crawler or an extraction worker:
RUSAGE_CHILDREN). Written to the `## Measured` section of docs/reliability.md, beside what the
issue measured before the bounds existed. The tests (tests/test_hostile.py) assert the outcomes;
this only measures them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_common import REPO, machine, write_section

from scraper.demo.mirror import MirrorConfig, MirrorServer
from tests import faults

HOST = "hostile.example"
PAGE = REPO / "scraper" / "demo" / "data" / "site" / "globalvoicesonline.org" / "2009" / "06" / "05" / \
    "myanmar-64-words-for-aung-san-suu-kyi" / "index.html.gz"
DOC = REPO / "docs" / "reliability.md"
# The crawl as a child of a wrapper that prints its resource use (the wrapper's own children
# include the crawler and the extraction workers it waited for).
MEASURE = ("import json, resource, subprocess, sys, time; started = time.monotonic();"
           " code = subprocess.run(sys.argv[1:], capture_output=True).returncode;"
           " usage = resource.getrusage(resource.RUSAGE_CHILDREN);"
           " print(json.dumps({'code': code, 'wall': time.monotonic() - started,"
           " 'cpu': usage.ru_utime + usage.ru_stime, 'peak_mb': usage.ru_maxrss / 1024}))")


def on(path: str, fault) -> tuple:
    return (re.compile(re.escape(HOST)), re.compile("^" + path + "$"), fault)


def rss(links) -> bytes:
    return faults.rss(links).encode()


CASES = [
    # (name, what the issue measured before, sources, faults, limits, extra crawl arguments)
    ("sitemap index listing itself 200 times", "fetched 639 times in 30 s; ~1.1 GB more a minute",
     [("sitemap_index", "/self.xml")],
     lambda: [on("/self.xml", faults.xml(faults.sitemap_index([f"http://{HOST}/self.xml"] * 200)))], {}, []),
    ("sitemap index child file:///dev/zero", "crawler at 3 GB in 8 s",
     [("sitemap_index", "/index.xml")],
     lambda: [on("/index.xml", faults.xml(faults.sitemap_index(["file:///dev/zero"])))], {}, []),
    ("1,000,000-URL sitemap (2.5 MB gzip), --time-limit", "peak 3 GB; --time-limit 90 overrun by 75 s",
     [("sitemap", "/big.xml.gz")],
     lambda: [on("/big.xml.gz", faults.body(faults.big_sitemap_gz(HOST, 1_000_000), "application/x-gzip")),
              on(r"/a/\d+\.html", faults.status(404))], {}, ["TIME_LIMIT"]),
    ("follow_depth 2 over a 100-page link maze", "the same page requested ~97 times; the article starved",
     [("start_page", "/maze/0.html", 2)],
     lambda: [on(r"/maze/\d+\.html", faults.link_maze(HOST, 100, "/a/story.html"))], {}, []),
    ("article page with 550,000 links", "262 s and 2.7 GB in a worker",
     [("feed", "/feed.xml")],
     lambda: [on("/feed.xml", faults.xml(rss([f"http://{HOST}/a/links.html"]), "application/rss+xml")),
              on("/a/links.html", faults.link_farm(550_000))], {}, []),
    ("article page with 200,000 links", "39 s and 1.2 GB in a worker",
     [("feed", "/feed.xml")],
     lambda: [on("/feed.xml", faults.xml(rss([f"http://{HOST}/a/links.html"]), "application/rss+xml")),
              on("/a/links.html", faults.link_farm(200_000))], {}, []),
    ("200 MB of response headers", "accepted into memory",
     [("feed", "/feed.xml")],
     lambda: [on("/feed.xml", faults.xml(rss([f"http://{HOST}/a/headers.html"]), "application/rss+xml")),
              on("/a/headers.html", faults.header_flood(200 * 1024 * 1024))], {}, []),
    ("30 MB page sent chunked (no Content-Length)", "downloadcancellederror, fetched again every run",
     [("feed", "/feed.xml")],
     lambda: [on("/feed.xml", faults.xml(rss([f"http://{HOST}/a/chunked.html"]), "application/rss+xml")),
              on("/a/chunked.html", faults.chunked(30 * 1024 * 1024))], {}, []),
]


def registry(path: Path, sources, limits: dict) -> Path:
    entry = {"id": "hostile", "name": "Hostile", "homepage": f"http://{HOST}/", "languages": ["en"],
             "sources": [{"kind": kind, "url": f"http://{HOST}{where}", **({"follow_depth": rest[0]} if rest else {})}
                         for kind, where, *rest in sources],
             "article_patterns": ["^/a/"], "politeness": {"concurrency": 8, "delay": 0, "obey_robots": False}}
    if limits:
        entry["limits"] = limits
    path.write_text(yaml.safe_dump({"user_agent": "mediawatch-bench/0.1 (+https://example.org/contact)",
                                    "allow_private_addresses": True, "outlets": [entry]}), encoding="utf-8")
    return path


def run_case(work: Path, case, time_limit: int) -> dict:
    name, before, sources, make_faults, limits, extra = case
    site = work / "site"
    (site / HOST / "a").mkdir(parents=True, exist_ok=True)
    (site / HOST / "a" / "story.html").write_bytes(gzip.decompress(PAGE.read_bytes()))
    mirror = MirrorServer(MirrorConfig(root=site, faults=make_faults())).start()
    db = work / "archive.db"
    args = [a for x in extra for a in (["--time-limit", str(time_limit)] if x == "TIME_LIMIT" else [x])]
    env = {"PYTHONPATH": str(REPO), **mirror.proxy_env()}
    import os

    try:
        out = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "scraper.cli",
                              "--outlets", str(registry(work / "outlets.yml", sources, limits)), "--db", str(db),
                              "crawl", *args], capture_output=True, text=True, env={**os.environ, **env},
                             timeout=max(600, time_limit * 4))
        measured = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        mirror.stop()
    with sqlite3.connect(db) as conn:
        kinds = dict(conn.execute("SELECT kind, count(*) FROM crawl_errors GROUP BY kind").fetchall())
        run = conn.execute("SELECT status, pages_fetched, reconciled FROM crawl_runs").fetchone()
        frontier = conn.execute("SELECT count(*) FROM frontier").fetchone()[0]
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    hits = {path: n for (host, path, *fault), n in mirror.hits.items() if fault}
    return {"name": name, "before": before, **measured, "status": run[0], "kinds": kinds, "frontier": frontier,
            "articles": articles, "most_requests_one_url": max(hits.values(), default=0),
            "time_limit": time_limit if "TIME_LIMIT" in extra else None}


def outcome(result: dict) -> str:
    kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(result["kinds"].items(), key=lambda kv: -kv[1])[:3])
    parts = [f"run {result['status']}", kinds or "no error rows"]
    if result["time_limit"]:
        parts.append(f"ended {result['wall'] - result['time_limit']:+.0f} s from its {result['time_limit']} s limit"
                     f"; {result['frontier']:,} URLs recorded")
    parts.append(f"at most {result['most_requests_one_url']} request(s) to one URL")
    if result["articles"]:
        parts.append(f"{result['articles']} article(s) stored")
    return "; ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--time-limit", type=int, default=90, help="for the million-URL sitemap (the issue used 90)")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    parser.add_argument("--no-doc", action="store_true", help="print, do not write docs/reliability.md")
    args = parser.parse_args(argv)
    started, where = time.perf_counter(), machine()
    rows = []
    for case in CASES:
        if args.only and args.only not in case[0]:
            continue
        with tempfile.TemporaryDirectory(prefix="mediawatch-hostile-") as work:
            result = run_case(Path(work), case, args.time_limit)
        print(json.dumps(result), flush=True)
        rows.append(f"| {result['name']} | {result['before']} | {result['wall']:.1f} s | {result['cpu']:.1f} s | "
                    f"{result['peak_mb']:.0f} MB | {outcome(result)} |")
    body = "\n".join([
        f"`python bench/hostile.py` ({time.perf_counter() - started:.0f} s; {where}). Default registry "
        "limits; wall and CPU time of the whole crawl process tree, peak RSS of its largest process "
        "(crawler or extraction worker).",
        "",
        "| Case | Before (issue 15) | Wall | CPU | Peak RSS | Now |",
        "|---|---|---|---|---|---|",
        *rows,
    ])
    print(body)
    if not args.no_doc and not args.only:
        write_section("Measured", body, DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
