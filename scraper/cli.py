"""The `mediawatch` command line: a thin layer over the library modules."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from archive.store import Archive, ArchiveError
from scraper.config import ConfigError, Registry, load_registry

DEFAULT_DB = "mediawatch.db"


class Context:
    def __init__(self, outlets_path: str | None, db: str):
        self.outlets_path = outlets_path
        self.db = Path(db)
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            try:
                self._registry = load_registry(self.outlets_path)
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._registry


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--outlets", "outlets_path", type=click.Path(dir_okay=False), envvar="MEDIAWATCH_OUTLETS",
              help="Outlet registry YAML (default: the bundled RFE/RL registry).")
@click.option("--db", default=DEFAULT_DB, envvar="MEDIAWATCH_DB", show_default=True,
              type=click.Path(dir_okay=False), help="Archive SQLite file.")
@click.version_option(package_name="mediawatch")
@click.pass_context
def cli(ctx, outlets_path, db):
    """Crawl news outlets into a searchable SQLite archive and browse it in Datasette."""
    ctx.obj = Context(outlets_path, db)


@cli.command()
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
    from scraper.crawl import CrawlError, CrawlOptions, run_crawl

    try:
        outlets = obj.registry.select(outlet_ids)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    options = CrawlOptions(archive=obj.db, refresh=refresh, time_limit=time_limit, log_file=log_file,
                           log_level="INFO" if verbose else "WARNING")
    try:
        runs = run_crawl(obj.registry, outlets, options)
    except (ArchiveError, CrawlError) as exc:
        raise click.ClickException(str(exc)) from None
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


@cli.command()
@click.pass_obj
def outlets(obj: Context):
    """List the configured outlets, their sources and schedules."""
    for outlet in obj.registry.outlets.values():
        click.echo(f"{outlet.id}  {outlet.name}  [{', '.join(outlet.languages)}]  {outlet.homepage}")
        click.echo(f"    schedule: {outlet.schedule}   politeness: {outlet.politeness.concurrency} "
                   f"concurrent, {outlet.politeness.delay}s delay")
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


@cli.command()
@click.argument("db_path", required=False, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("-p", "--port", default=8001, show_default=True, help="Port to listen on.")
@click.pass_obj
def serve(obj: Context, db_path, host, port):
    """Browse and search the archive in Datasette (read-only)."""
    from archive.serve import serve as serve_archive

    path = Path(db_path) if db_path else obj.db
    click.echo(f"Serving {path} at http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        serve_archive(path, host=host, port=port)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None


@cli.command()
@click.option("--no-serve", is_flag=True, help="Stop after the crawl instead of starting Datasette.")
@click.option("--db", "db_path", default="demo.db", show_default=True, type=click.Path(dir_okay=False),
              help="Archive file the demo writes.")
@click.option("-p", "--port", default=8001, show_default=True, help="Port for Datasette.")
def demo(no_serve, db_path, port):
    """Crawl the bundled demo sites offline, then serve them.

    Starts a local mirror of real news pages (bundled with mediawatch), crawls it with the
    real pipeline into demo.db, prints a summary and serves the archive in Datasette.
    No network beyond 127.0.0.1 is used.
    """
    from archive.serve import serve as serve_archive
    from scraper.demo import DEMO_OUTLETS, crawl_through_mirror, start_demo_mirror

    mirror = start_demo_mirror()
    click.echo(f"Demo sites served locally at {mirror.url} (no network is used)")
    try:
        code = crawl_through_mirror(mirror, ["--outlets", str(DEMO_OUTLETS), "--db", db_path, "crawl"])
    finally:
        mirror.stop()
    if code != 0:
        raise click.ClickException("the demo crawl failed; see the messages above")
    if no_serve:
        return
    click.echo(f"Serving {db_path} at http://127.0.0.1:{port}/ (Ctrl+C to stop)")
    serve_archive(db_path, port=port)


@cli.command()
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
    from scraper.crawl import CrawlError, CrawlOptions, run_crawl

    if since and until and since > until:
        raise click.BadParameter(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}")
    try:
        outlets = obj.registry.select(outlet_ids)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    selection = Selection(since=since and since.date(), until=until and until.date(), limit=limit)
    options = CrawlOptions(archive=obj.db, mode="backfill", selection=selection, time_limit=time_limit,
                           log_file=log_file, log_level="INFO" if verbose else "WARNING")
    try:
        runs = run_crawl(obj.registry, outlets, options)
    except (ArchiveError, CrawlError) as exc:
        raise click.ClickException(str(exc)) from None
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


def main() -> None:
    cli(prog_name="mediawatch")


if __name__ == "__main__":
    main()
