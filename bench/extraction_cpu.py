"""CPU per page of our extractor against plain trafilatura, interleaved page by page.

    python bench/extraction_cpu.py [--pages N] [--repeats 3] [--no-doc]

One process; every corpus page (fundus, andythefactory, trafilatura-eval; the pages the
crawl benchmark serves) is extracted by each system in turn, the order alternating from page
to page, so that a change in the machine's load hits both alike. CPU time (process_time) per
page is summed per system and pass; a pass is repeated and the median pass reported, with the
ratio of each pass (ours / defaults). Target (issue 17): ratio <= 1.0.

Systems: `extract_article` (ours, with the crawler's hint of the outlet's language) and
`trafilatura.extract(html, url=url)` (defaults: body and comments, no metadata). For scale,
`trafilatura.bare_extraction(..., with_metadata=True)` (defaults plus metadata, what the
extraction evaluation compares with) is timed in the same interleaving with --with-metadata.
Writes the `## Extraction CPU` section of docs/benchmarks.md. Full run: about 4 minutes on an
idle 2-core machine (3 passes over 1,712 pages).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_common import machine, write_section
from harness import as_text, corpus_pages

TARGET = 1.0
WARM_UP_PAGES = 100


def systems(with_metadata: bool) -> dict:
    import trafilatura

    from scraper.extraction.article import extract_article

    hints = {"languages": ["en"]}
    chosen = {
        "ours": lambda html, url: extract_article(html, url, hints),
        "defaults": lambda html, url: trafilatura.extract(html, url=url),
    }
    if with_metadata:
        chosen["defaults + metadata"] = lambda html, url: trafilatura.bare_extraction(html, url=url, with_metadata=True)
    return chosen


def one_pass(functions: dict, pages: list[str], flip: int) -> dict[str, float]:
    """CPU seconds per system over all pages, each page by every system, order alternating."""
    names = list(functions)
    spent = dict.fromkeys(names, 0.0)
    clock = time.process_time
    for n, html in enumerate(pages):
        url = f"http://news.bench.test/a/{n}.html"
        order = names if (n + flip) % 2 == 0 else names[::-1]
        for name in order:
            started = clock()
            functions[name](html, url)
            spent[name] += clock() - started
    return spent


def measure(pages: list[str], repeats: int, with_metadata: bool = False) -> dict:
    functions = systems(with_metadata)
    for n, html in enumerate(pages[:WARM_UP_PAGES]):  # fill per-process caches, untimed
        for function in functions.values():
            function(html, f"http://news.bench.test/a/{n}.html")
    passes = [one_pass(functions, pages, flip) for flip in range(repeats)]
    per_page = {name: [1000 * p[name] / len(pages) for p in passes] for name in functions}
    ratios = [p["ours"] / p["defaults"] for p in passes]
    return {"ms": {name: statistics.median(values) for name, values in per_page.items()},
            "passes": per_page, "ratios": ratios, "ratio": statistics.median(ratios), "pages": len(pages)}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, help="only the first N corpus pages")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the pages (median reported)")
    parser.add_argument("--with-metadata", action="store_true", help="also time trafilatura with metadata")
    parser.add_argument("--no-doc", action="store_true", help="print, do not write docs/benchmarks.md")
    args = parser.parse_args(argv)

    header = machine()
    pages = [as_text(page) for page in corpus_pages(args.pages)]
    started = time.perf_counter()
    result = measure(pages, args.repeats, args.with_metadata)
    seconds = time.perf_counter() - started
    rows = "\n".join(
        f"| {name} | {result['ms'][name]:.1f} | {' / '.join(f'{v:.1f}' for v in result['passes'][name])} |"
        for name in result["ms"])
    verdict = "met" if result["ratio"] <= TARGET else "not met"
    body = f"""`python bench/extraction_cpu.py{f' --pages {args.pages}' if args.pages else ''} --repeats {args.repeats}` — {header}; {seconds:.0f} s.

{result['pages']} real article pages (fundus, andythefactory, trafilatura-eval) in memory, one process;
each page extracted by every system in turn (order alternating page by page), {args.repeats} passes
after an untimed warm-up over {WARM_UP_PAGES} pages; CPU time (`time.process_time`) per page.

| system | CPU ms per page (median pass) | each pass |
| --- | --- | --- |
{rows}

**ours / defaults = {result['ratio']:.2f}** (each pass: {' / '.join(f'{r:.2f}' for r in result['ratios'])});
target ≤ {TARGET:.1f}: {verdict}. `ours` is `extract_article` (body, title, date, authors, language,
every field of the record); `defaults` is `trafilatura.extract(html, url=url)` (body and comments only).
"""
    print(body)
    if not args.no_doc:
        write_section("Extraction CPU", body)
    return result


if __name__ == "__main__":
    main()
