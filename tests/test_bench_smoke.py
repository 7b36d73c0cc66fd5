"""The benchmark scripts still run end to end, in their smallest mode.

Nothing here is timed: each script must finish and print the figures its doc section is made
of (real crawl child processes, a real archive, a real Datasette server), with the doc left
untouched (`--no-doc`).
"""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO, needs_corpus

NUMBER = r"[0-9][0-9,.]*"


def run_bench(script: str, *args: str) -> str:
    needs_corpus()
    doc = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    result = subprocess.run([sys.executable, str(REPO / "bench" / script), *args, "--no-doc"],
                            capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8") == doc
    return result.stdout


def test_crawl_throughput_reports_both_rates_and_their_ratio():
    out = run_bench("crawl_throughput.py", "--urls", "40", "--pages", "20", "--seconds", "0.5")
    assert re.search(rf"\| \(a\) `extract_article` \(ours\).* \| ({NUMBER}) \| 1.00 \|", out)
    crawl = re.search(rf"\| \*\*\(b\) `mediawatch crawl`.*\| \*\*({NUMBER})\*\* \| \*\*({NUMBER})\*\*", out)
    assert crawl and float(crawl[1]) > 0 and float(crawl[2]) > 0
    assert re.search(r"The crawl stored 40 pages", out)
    assert re.search(rf"Peak RSS .*\*\*({NUMBER}) MB\*\*", out, re.S)
    assert re.search(rf"extraction workers ({NUMBER}) ms .*crawler main process ({NUMBER}) ms", out, re.S)


def test_extraction_cpu_reports_both_extractors_and_their_ratio():
    out = run_bench("extraction_cpu.py", "--pages", "12", "--repeats", "2")
    assert re.search(rf"^\| ours \| ({NUMBER}) \| {NUMBER} / {NUMBER} \|$", out, re.M)
    assert re.search(rf"^\| defaults \| ({NUMBER}) \| {NUMBER} / {NUMBER} \|$", out, re.M)
    assert re.search(rf"\*\*ours / defaults = ({NUMBER})\*\*", out)


def test_reextract_throughput_reports_workers_against_one_process():
    out = run_bench("reextract_throughput.py", "--articles", "40", "--pages", "20")
    assert re.search(rf"\*\*({NUMBER}) ×\*\* one process", out)
    assert re.search(rf"re-extracted 40 articles", out)


def test_archive_scale_reports_search_latencies_through_sqlite_and_datasette():
    out = run_bench("archive_scale.py", "--articles", "2000", "--compare", "500", "--repeats", "1")
    assert "2,000 articles in the project's schema" in out
    assert re.search(rf"Full build: \*\*({NUMBER}) s\*\*.*file \*\*({NUMBER}) GB\*\*", out)
    assert re.search(rf"\| raw \(search page's work in-process\) \| ({NUMBER}) ms \| ({NUMBER}) ms \|", out)
    assert re.search(rf"\| Datasette over HTTP \| ({NUMBER}) ms \| ({NUMBER}) ms \|", out)
    assert re.search(rf"Datasette p95 / raw p95 = ({NUMBER})", out)
    assert re.search(rf"\| index \(FTS5 tables\) \| ({NUMBER}) MB \|", out)
    # Every search and every analyst page got a figure.
    assert len(re.findall(rf"^\| .* \| {NUMBER} \| [0-9,–]+.* \| {NUMBER} \| {NUMBER} \| {NUMBER} \| {NUMBER} \| – \|$",
                          out, re.M)) == 20
    assert len(re.findall(rf"^\| .*`/(articles|alerts|search).*` \| {NUMBER} \| .+ \|$", out, re.M)) == 11


def test_long_crawl_memory_reports_rss_along_the_crawl():
    out = run_bench("long_crawl_memory.py", "--pages", "60", "--interval", "0.3")
    assert "fetched 60 article pages" in out
    row = re.search(rf"\| RSS \| ({NUMBER}) MB \| ({NUMBER}) MB \| ({NUMBER}) MB \| ({NUMBER}) MB \| ([-+]{NUMBER}) MB", out)
    assert row and all(float(row[i]) > 50 for i in range(1, 5))


def test_search_quality_reports_recall_and_precision_of_today_and_the_new_search():
    needs_corpus()
    doc = (REPO / "docs" / "search.md").read_text(encoding="utf-8")
    result = subprocess.run([sys.executable, str(REPO / "bench" / "search_quality.py"), "--no-doc"],
                            capture_output=True, text=True, timeout=600, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (REPO / "docs" / "search.md").read_text(encoding="utf-8") == doc
    rows = dict(re.findall(rf"^\| (.+?) \| ({NUMBER}) \| {NUMBER} \| {NUMBER} \| {NUMBER} \|$", result.stdout, re.M))
    assert float(rows["today: the word as typed"]) < 0.5
    # The new search's own figures are the benchmark's to report; here only that they are there.
    assert "**new: query-side expansion**" in rows and re.search(r"queries .* over \d+ languages", result.stdout)


def test_run_all_knows_every_benchmark_script():
    scripts = {path.stem for path in (REPO / "bench").glob("*.py")
               if 'if __name__ == "__main__"' in path.read_text(encoding="utf-8")}
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import run_all
    finally:
        sys.path.remove(str(REPO / "bench"))
    # Every script present is run; entries for scripts another branch adds may come first.
    assert scripts - {"run_all"} <= set(run_all.SCRIPTS)
