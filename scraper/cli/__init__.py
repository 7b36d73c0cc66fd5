"""The `mediawatch` command line: a thin layer over the library modules."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.store import Archive, ArchiveError
from scraper.registry.config import ConfigError, Registry, load_registry

DEFAULT_DB = "mediawatch.db"


class Context:
    def __init__(self, outlets_path: str | None, db: str, cluster_path: str | None = None):
        self.outlets_path = outlets_path
        self.db = Path(db)
        # Several crawl hosts (docs/scale-out.md): schedule, run and schedule list use them.
        self.cluster_path = cluster_path
        self._registry: Registry | None = None

    def select(self, outlet_ids) -> list:
        """The named outlets (all when none is named).

        Naming outlets needs only their own entries to be valid, so one broken entry does
        not stop the crawls of the others (problems elsewhere are printed as warnings);
        crawling everything needs the whole registry to be valid.
        """
        try:
            registry = load_registry(self.outlets_path, strict=False)
            if registry.problems and (not outlet_ids or any(i not in registry.outlets for i in outlet_ids)):
                raise ConfigError("\n".join(registry.problems))
            for problem in registry.problems:
                click.echo(f"warning: {problem}", err=True)
            self._registry = registry
            return registry.select(outlet_ids)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None

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
@click.option("--cluster", "cluster_path", type=click.Path(dir_okay=False), envvar="MEDIAWATCH_CLUSTER",
              help="Cluster file: crawl hosts running Scrapyd, Redis (see docs/scale-out.md). With it, "
                   "schedule and run crawl on the hosts.")
@click.version_option(package_name="mediawatch")
@click.pass_context
def cli(ctx, outlets_path, db, cluster_path):
    """Crawl news outlets into a searchable SQLite archive and browse it in Datasette."""
    ctx.obj = Context(outlets_path, db, cluster_path)


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
    from scraper.crawl.process import CrawlError, CrawlOptions, run_crawl

    outlets = obj.select(outlet_ids)
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


@cli.command()
@click.argument("db_path", required=False, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("-p", "--port", default=8001, show_default=True, help="Port to listen on.")
@click.option("--allow-sql", is_flag=True,
              help="Let visitors run their own SQL queries (off by default; only on a trusted network).")
@click.pass_obj
def serve(obj: Context, db_path, host, port, allow_sql):
    """Browse and search the archive in Datasette (read-only)."""
    from archive.serve import serve as serve_archive

    path = Path(db_path) if db_path else obj.db
    click.echo(f"Serving {path} at http://{host}:{port}/ (Ctrl+C to stop)")
    try:
        serve_archive(path, host=host, port=port, allow_sql=allow_sql)
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
    from scraper.crawl.process import CrawlError, CrawlOptions, run_crawl

    if since and until and since > until:
        raise click.BadParameter(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}")
    outlets = obj.select(outlet_ids)
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


# -- scheduling ---------------------------------------------------------------------------


def _schedule_config(obj: Context, jobs=None, logs=None, **settings):
    from scheduler import ScheduleConfig

    return ScheduleConfig(archive=obj.db, registry_path=Path(obj.outlets_path) if obj.outlets_path else None,
                          jobs=Path(jobs) if jobs else None, logs=Path(logs) if logs else None, **settings)


_jobs_option = click.option("--jobs", type=click.Path(dir_okay=False), envvar="MEDIAWATCH_JOBS",
                            help="Job store SQLite file (default: <archive>.jobs.sqlite).")
_logs_option = click.option("--logs", type=click.Path(file_okay=False), envvar="MEDIAWATCH_LOGS",
                            help="Folder for crawl logs (default: logs/ beside the archive).")
_time_limit_option = click.option("--time-limit", default=3600, show_default=True, type=click.IntRange(min=1),
                                  metavar="SECONDS", help="Longest a crawl may run.")


@cli.group(invoke_without_command=True)
@_jobs_option
@_logs_option
@_time_limit_option
@click.option("--max-crawls", default=4, show_default=True, type=click.IntRange(min=1),
              help="Crawls running at once.")
@click.option("--stop-grace", default=30, show_default=True, type=click.IntRange(min=0), metavar="SECONDS",
              help="On stop, how long running crawls get to finish before they are killed.")
@click.pass_context
def schedule(ctx, jobs, logs, time_limit, max_crawls, stop_grace):
    """Run scheduled crawls in the foreground until stopped.

    One job per outlet, on the outlet's cron schedule (UTC); each run is its own crawl
    process with a time limit. Next runs and pause state survive restarts (they live in
    the job store). SIGTERM or Ctrl+C stops cleanly; SIGHUP reloads the registry.
    """
    from scheduler import SchedulerService, configure_logging
    from scraper.crawl.locks import LockHeld

    ctx.obj.schedule_config = _schedule_config(ctx.obj, jobs, logs, time_limit=time_limit,
                                               max_crawls=max_crawls, stop_grace=stop_grace)
    if ctx.invoked_subcommand is not None:
        return
    configure_logging()
    _lenient_registry(ctx.obj)  # a file that cannot be read at all stops here, before anything starts
    try:
        if ctx.obj.cluster_path:
            from scraper.cli.cluster import cluster_service

            cluster_service(ctx.obj).run()
        else:
            SchedulerService(ctx.obj.schedule_config).run()
    except LockHeld as exc:
        raise click.ClickException(str(exc)) from None


@schedule.command("list")
@click.pass_obj
def schedule_list(obj: Context):
    """Show each outlet's schedule, next run, pause state and last run."""
    from scheduler import schedule_table, scheduler_pid

    config = obj.schedule_config
    registry = _lenient_registry(obj)
    pid = scheduler_pid(config)
    click.echo(f"scheduler: {f'running (pid {pid})' if pid else 'not running'}; jobs in {config.jobs_path}")
    if obj.cluster_path:
        from scraper.cli.cluster import cluster_schedule_rows

        rows = cluster_schedule_rows(obj, registry)
    else:
        rows = schedule_table(config, registry)
    host_heading = f"{'host':<14} " if obj.cluster_path else ""
    click.echo(f"{'outlet':<18} {'schedule':<16} {host_heading}{'state':<8} {'next run':<21} last run")
    for row in rows:
        last = f"{row['last_status']} at {row['last_started']}" if row["last_status"] else "never"
        state = "paused" if row["paused"] else "active"
        host = f"{row['host'] + ('*' if row['pinned'] else ''):<14} " if obj.cluster_path else ""
        click.echo(f"{row['outlet']:<18} {row['schedule']:<16} {host}{state:<8} {row['next_run'] or '-':<21} {last}")
    if obj.cluster_path and any(row["pinned"] for row in rows):
        click.echo("* pinned in the cluster file")
    pending = [row["outlet"] for row in rows if not row["applied"]]
    if pending:
        click.echo(f"not yet applied (start the scheduler, or reload it with SIGHUP): {', '.join(pending)}")


def _lenient_registry(obj: Context) -> Registry:
    try:
        registry = load_registry(obj.outlets_path, strict=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for problem in registry.problems:
        click.echo(f"error: {problem}", err=True)
    return registry


@cli.command()
@click.argument("outlet_id", metavar="OUTLET")
@click.option("--deep", is_flag=True, help="Run the outlet's deep crawl (its deep_crawl entry) instead.")
@_logs_option
@_time_limit_option
@click.pass_obj
def run(obj: Context, outlet_id, deep, logs, time_limit):
    """Run one outlet's scheduled crawl now, as the scheduler would.

    The crawl runs in its own process with a time limit and a log file, like a scheduled
    run, even if the outlet is paused. It does not start if the outlet is being crawled
    already. Ctrl+C asks the crawl to finish cleanly. With --cluster, the crawl is a Scrapyd
    job on the outlet's crawl host, followed until its run is in the archive.
    """
    import signal

    from scheduler import CrawlRunner

    [outlet] = obj.select([outlet_id])
    if deep and outlet.deep_crawl is None:
        raise click.ClickException(f"outlet '{outlet_id}' has no deep_crawl entry in {obj.registry.path}")
    # SIGTERM (from a service manager) stops the crawl as cleanly as Ctrl+C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if obj.cluster_path:
        from scraper.cli.cluster import cluster_runner

        runner = cluster_runner(obj, _schedule_config(obj, logs=logs, time_limit=time_limit))
    else:
        runner = CrawlRunner(_schedule_config(obj, logs=logs, time_limit=time_limit))
    outcome = runner.run(outlet_id, outlet.deep_crawl.days if deep else None)
    click.echo(outcome.summary(), err=outcome.run is None)
    sys.exit(outcome.exit_code if outcome.exit_code >= 0 else 1)


def _set_paused(obj: Context, outlet_id: str, jobs, paused: bool) -> None:
    from scheduler import set_paused

    try:
        changed = set_paused(_schedule_config(obj, jobs), _lenient_registry(obj), outlet_id, paused)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    state = "paused" if paused else "resumed"
    click.echo(f"{outlet_id}: {state}" if changed else f"{outlet_id}: already {'paused' if paused else 'active'}")


@cli.command()
@click.argument("outlet_id", metavar="OUTLET")
@_jobs_option
@click.pass_obj
def pause(obj: Context, outlet_id, jobs):
    """Stop an outlet's scheduled crawls until resumed (persists).

    Works whether or not a scheduler is running; a running one skips the outlet from its
    next run on. A crawl already under way is not stopped.
    """
    _set_paused(obj, outlet_id, jobs, True)


@cli.command()
@click.argument("outlet_id", metavar="OUTLET")
@_jobs_option
@click.pass_obj
def resume(obj: Context, outlet_id, jobs):
    """Resume an outlet's scheduled crawls."""
    _set_paused(obj, outlet_id, jobs, False)


@cli.command()
@click.argument("dest", type=click.Path(dir_okay=False))
@click.pass_obj
def backup(obj: Context, dest):
    """Copy the archive consistently to DEST, even mid-crawl.

    Uses SQLite's online backup: the copy is one snapshot of the archive, checked with
    PRAGMA integrity_check, and replaces DEST only once complete.
    """
    from archive.backup import BackupError, backup_archive

    try:
        result = backup_archive(obj.db, Path(dest))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Backed up {obj.db} to {dest}: {result.articles} articles, {result.size / 1e6:.1f} MB, "
               f"integrity ok, {result.seconds:.1f}s")


@cli.command()
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


@cli.command()
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
    from scraper.crawl.reextract import ReextractError, ReextractOptions
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
    try:
        with Archive(obj.db) as archive:
            summary = run_reextract(archive, options)
    except (ReextractError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in summary.lines():
        click.echo(line)


def main() -> None:
    cli(prog_name="mediawatch")


# Commands of several crawl hosts (deploy, writer, publisher, cluster ...): their own module.
from scraper.cli import cluster as _cluster_commands  # noqa: E402,F401
