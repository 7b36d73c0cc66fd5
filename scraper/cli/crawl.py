"""`crawl`, `backfill` and `outlets`: crawling now, and what would be crawled."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.store import Archive
from scraper.cli.context import Context


@click.command()
@click.argument("outlet_ids", nargs=-1, metavar="[OUTLET]...")
@click.option("--refresh", is_flag=True, help="Fetch article pages again even if already archived.")
@click.option("--time-limit", type=int, metavar="SECONDS", help="Stop the crawl after this many seconds.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Write the crawl log to this file.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (INFO level).")
@click.pass_obj
def crawl(obj: Context, outlet_ids, refresh, time_limit, log_file, verbose):
    """Crawl outlets now and archive their new articles.

    Crawls every outlet in the registry when none is named. Articles already in the
    archive are not fetched again unless --refresh is given.
    """
    from scraper.crawl.process import CrawlOptions, run_crawl

    outlets = obj.select(outlet_ids)
    options = CrawlOptions(archive=obj.db, refresh=refresh, time_limit=time_limit, log_file=log_file,
                           log_level="INFO" if verbose else "WARNING")
    runs = run_crawl(obj.registry, outlets, options)
    click.echo(format_runs(runs, obj.db))
    if any(run["status"] != "ok" for run in runs):
        sys.exit(1)


def format_runs(runs: list[dict], db: Path) -> str:
    lines = [f"{'outlet':<16} {'status':<12} {'pages':>6} {'new':>5} {'updated':>7} {'errors':>6}"]
    for run in runs:
        lines.append(
            f"{run['outlet_id']:<16} {run['status']:<12} {run['pages_fetched']:>6} "
            f"{run['articles_new']:>5} {run['articles_updated']:>7} {run['errors']:>6}"
        )
    with Archive(db) as archive:
        total = archive.db["articles"].count
    new = sum(r["articles_new"] for r in runs)
    errors = sum(r["errors"] for r in runs)
    lines.append(f"{len(runs)} outlets crawled: {new} new articles stored, {errors} errors; "
                 f"{total} articles in {db}")
    return "\n".join(lines)


@click.command()
@click.argument("outlet_ids", nargs=-1, required=True, metavar="OUTLET...")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only articles dated on or after this day.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only articles dated on or before this day.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Fetch at most N pages per outlet.")
@click.option("--time-limit", type=int, metavar="SECONDS", help="Stop after this many seconds.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Write the crawl log to this file.")
@click.option("-v", "--verbose", is_flag=True, help="Log every request (INFO level).")
@click.pass_obj
def backfill(obj: Context, outlet_ids, since, until, limit, time_limit, log_file, verbose):
    """Fetch an outlet's back catalogue from its archive sitemaps.

    Walks the outlet's sitemap index, records every article URL, then fetches the missing
    ones newest first, with a progress bar. Interrupted backfills resume where they
    stopped; stored articles are never fetched again.
    """
    from archive.frontier import Selection
    from scraper.crawl.process import CrawlOptions, run_crawl

    if since and until and since > until:
        raise click.BadParameter(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}")
    outlets = obj.select(outlet_ids)
    selection = Selection(since=since and since.date(), until=until and until.date(), limit=limit)
    options = CrawlOptions(archive=obj.db, mode="backfill", selection=selection, time_limit=time_limit,
                           log_file=log_file, log_level="INFO" if verbose else "WARNING")
    runs = run_crawl(obj.registry, outlets, options)
    click.echo(format_runs(runs, obj.db))
    click.echo(format_frontier([o.id for o in outlets], obj.db))
    if any(run["status"] != "ok" for run in runs):
        sys.exit(1)


def format_frontier(outlet_ids: list[str], db: Path) -> str:
    from archive.frontier import Frontier

    lines = []
    with Archive(db) as archive:
        frontier = Frontier(archive)
        for outlet_id in outlet_ids:
            states = frontier.summary(outlet_id)
            known = sum(states.values())
            detail = ", ".join(f"{count} {state}" for state, count in states.items())
            lines.append(f"{outlet_id}: {known} article URLs known ({detail or 'none'})")
    return "\n".join(lines)


@click.command()
@click.pass_obj
def outlets(obj: Context):
    """List the configured outlets, their sources and schedules."""
    for outlet in obj.registry.outlets.values():
        click.echo(f"{outlet.id}  {outlet.name}  [{', '.join(outlet.languages)}]  {outlet.homepage}")
        deep = outlet.deep_crawl
        click.echo(f"    schedule: {outlet.schedule}   "
                   + (f"deep crawl: {deep.schedule} (last {deep.days} days)   " if deep else "")
                   + f"politeness: {outlet.politeness.concurrency} concurrent, {outlet.politeness.delay}s delay")
        if outlet.country or outlet.timezone:
            click.echo(f"    country: {outlet.country or '-'}   time zone: {outlet.timezone or '-'}")
        for source in outlet.sources:
            notes = []
            if source.discover_feeds:
                notes.append("+ feeds it links to")
            if source.follow_depth:
                notes.append(f"+ links {source.follow_depth} level(s) deep")
            if source.children is not None:
                notes.append(f"children matching {source.children.pattern}")
            note = f"  ({'; '.join(notes)})" if notes else ""
            click.echo(f"    {source.mode:<11} {source.kind:<13} {source.url}{note}")
