"""`extract` and `reextract`: the extractor on any page, and again over the archive."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.store import Archive
from scraper.cli.context import Context
from scraper.registry.config import ConfigError, load_registry


@click.command()
@click.argument("file", required=False, type=click.File("rb"))
@click.option("--url", help="The page's URL (default: the file's); helps with site names and links.")
@click.option("--jsonl", is_flag=True,
              help='Read JSON lines {"id", "url", "html"} (from FILE or stdin) and write one JSON line per input, '
                   "in order, with the id echoed.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Extraction processes for --jsonl (default: one per core).")
def extract(file, url, jsonl, workers):
    """Print the article extracted from an HTML file as JSON.

    FILE may be `-` for stdin, and may be gzip-compressed. The extraction is the crawler's:
    `--jsonl` runs pages through the same worker processes, so anyone can evaluate the
    extractor on their own pages.
    """
    import gzip
    import io
    import json

    from scraper.extraction import pool as extraction_workers
    from scraper.extraction.encoding import decode_bytes
    from scraper.extraction.stream import extract_jsonl

    if jsonl:
        if url:
            raise click.UsageError("--url applies to one page; with --jsonl every line carries its own url")
        stream = io.TextIOWrapper(file or sys.stdin.buffer, encoding="utf-8", errors="replace")
        try:
            extract_jsonl(stream, sys.stdout, workers)
        except BrokenPipeError:  # the reader went away (`| head`): nothing left to say
            sys.stderr.close()
        return
    if file is None:
        raise click.UsageError("give an HTML FILE (or - for stdin), or use --jsonl")
    body = file.read()
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise click.ClickException(f"{file.name}: looks gzip-compressed but cannot be decompressed: {exc}") from exc
    if b"\x00" in body[:4096] and not body.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise click.ClickException(f"{file.name}: binary data, not an HTML page")
    html, _ = decode_bytes(body)
    if not url:
        url = "" if file.name == "<stdin>" else Path(file.name).resolve().as_uri()
    extraction = extraction_workers.extract_html(html, url, {})
    if extraction.record is None:
        raise click.ClickException(f"{file.name}: extraction failed: {extraction.error}")
    click.echo(json.dumps(extraction.record, ensure_ascii=False, indent=2))
    if not extraction.record["text"]:
        click.echo(f"warning: {file.name}: no article text found", err=True)


@click.command()
@click.option("--outlet", "outlet_ids", multiple=True, metavar="ID", help="Only this outlet's articles (repeatable).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only pages fetched on or after this day.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N", help="Extraction processes (default: one per core).")
@click.pass_obj
def reextract(obj: Context, outlet_ids, since, workers):
    """Re-run extraction over the archive's stored pages (no network).

    Updates articles and search for what the current extractor finds differently, records
    the extractor version per article, and prints what changed. An article whose page now
    yields no text keeps what it has; a page stored without an article (no text found when
    it was fetched) gains one if the extractor now finds it.
    """
    from scraper.crawl.reextract import ReextractOptions
    from scraper.crawl.reextract import reextract as run_reextract

    if not obj.db.exists():
        raise click.ClickException(f"no archive at {obj.db}")
    # The registry's outlets give the crawl's hints (languages, extraction overrides) and key the
    # articles found in pages stored without one; outlets it does not know (another registry
    # crawled them) get the languages the archive recorded.
    try:
        registry_outlets = load_registry(obj.outlets_path, strict=False).outlets.values()
    except ConfigError as exc:
        click.echo(f"warning: {exc}; using the languages recorded in the archive", err=True)
        registry_outlets = []
    options = ReextractOptions(
        outlets=list(outlet_ids),
        since=since.strftime("%Y-%m-%d") if since else None,
        registry={o.id: o for o in registry_outlets},
        workers=workers,
    )
    with Archive(obj.db) as archive:
        summary = run_reextract(archive, options)
    for line in summary.lines():
        click.echo(line)
