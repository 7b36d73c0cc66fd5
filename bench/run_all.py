"""Run every benchmark, one after another, each in its own process.

    python bench/run_all.py            # full sizes; each script rewrites its docs/benchmarks.md section
    python bench/run_all.py --quick    # small sizes, printed only (the doc keeps the full figures)
    python bench/run_all.py --only crawl_throughput archive_scale

The full run takes long (the 2,000,000-article archive and the 100,000-page crawl most of
all) and wants an otherwise quiet machine: every figure is a ratio measured within one run,
but a busy machine still stretches the run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent

# script: (full-size arguments, quick arguments); None = not run in that mode.
SCRIPTS = {
    # Extractor CPU per page against plain trafilatura, interleaved in one process (~4 min).
    "extraction_cpu": ([], ["--pages", "60", "--repeats", "2", "--no-doc"]),
    "crawl_throughput": ([], ["--urls", "150", "--pages", "60", "--seconds", "1", "--no-doc"]),
    # 100,000 stored pages re-extracted (~20 min with the archive build, on an idle machine).
    "reextract_throughput": ([], ["--articles", "300", "--pages", "60", "--seconds", "1", "--no-doc"]),
    "archive_scale": ([], ["--articles", "3000", "--compare", "1000", "--repeats", "1", "--no-doc"]),
    "long_crawl_memory": ([], ["--pages", "150", "--interval", "0.5", "--no-doc"]),
    # Written by the backfill work; it has no small mode and always rewrites its own section.
    "backfill_bookkeeping": (["--http"], None),
    "search_tokenizers": ([], None),
    # Recall and precision of one plain query on the judged set (writes docs/search.md).
    "search_quality": ([], ["--no-doc"]),
    # The reliability work's kill -9 harness (a correctness check, not a timing; tested in CI).
    "kill9": ([], ["--rounds", "2", "--pages", "60"]),
    # Scale-out: 1, 2 and 3 Scrapyd hosts with Redis and the writer (needs redis-server).
    "scale_out": ([], ["--outlets", "3", "--articles", "10", "--no-doc"]),
    # Extraction quality against the offline corpus (writes docs/extraction.md in full mode).
    "extraction_eval": ([], ["--fast"]),
    # The worst hostile-web cases, bounded (time, CPU, peak memory; writes docs/reliability.md).
    "hostile": ([], ["--only", "listing itself", "--no-doc"]),
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, results printed, doc untouched")
    parser.add_argument("--only", nargs="+", choices=sorted(SCRIPTS), help="run only these")
    args = parser.parse_args(argv)
    failed = []
    for name, (full, quick) in SCRIPTS.items():
        script = BENCH / f"{name}.py"
        arguments = quick if args.quick else full
        if (args.only and name not in args.only) or not script.exists():
            continue
        if arguments is None:
            print(f"== {name}: skipped in quick mode", flush=True)
            continue
        print(f"== {name} {' '.join(arguments)}", flush=True)
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(script), *arguments])
        print(f"== {name}: exit {result.returncode} after {time.perf_counter() - started:.0f} s", flush=True)
        if result.returncode:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
