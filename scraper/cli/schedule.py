"""`schedule`, `schedule list`, `run`, `pause` and `resume`: scheduled crawls and their control."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from scraper.cli.context import Context, SubGroup, lenient_registry


def _schedule_config(obj: Context, jobs=None, logs=None, **settings):
    from scheduler import ScheduleConfig

    return ScheduleConfig(archive=obj.db, registry_path=Path(obj.outlets_path) if obj.outlets_path else None,
                          jobs=Path(jobs) if jobs else None, logs=Path(logs) if logs else None, **settings)


_jobs_option = click.option("--jobs", type=click.Path(dir_okay=False), envvar="MEDIAWATCH_JOBS",
                            help="Job store SQLite file (default: <archive>.d/jobs.sqlite).")
_logs_option = click.option("--logs", type=click.Path(file_okay=False), envvar="MEDIAWATCH_LOGS",
                            help="Folder for crawl logs (default: <archive>.d/logs/).")
_time_limit_option = click.option("--time-limit", default=3600, show_default=True, type=click.IntRange(min=1),
                                  metavar="SECONDS", help="Longest a crawl may run.")


@click.group(cls=SubGroup, invoke_without_command=True)
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

    ctx.obj.schedule_config = _schedule_config(ctx.obj, jobs, logs, time_limit=time_limit,
                                               max_crawls=max_crawls, stop_grace=stop_grace)
    if ctx.invoked_subcommand is not None:
        return
    configure_logging()
    lenient_registry(ctx.obj)  # a file that cannot be read at all stops here, before anything starts
    if ctx.obj.cluster_path:
        from scraper.cli.cluster import cluster_service

        cluster_service(ctx.obj).run()
    else:
        SchedulerService(ctx.obj.schedule_config).run()


@schedule.command("list")
@click.pass_obj
def schedule_list(obj: Context):
    """Show each outlet's schedule, next run, pause state and last run.

    Reads only: creates no job store, lock or archive. Until a scheduler has taken up an
    outlet's schedule, its next run is computed from the cron expression and marked so.
    """
    from scheduler import schedule_table, scheduler_pid

    config = obj.schedule_config
    registry = lenient_registry(obj)
    pid = scheduler_pid(config)
    store = f"jobs in {config.jobs_path}" if config.jobs_path.exists() else f"no job store yet ({config.jobs_path})"
    click.echo(f"scheduler: {f'running (pid {pid})' if pid else 'not running'}; {store}")
    if obj.cluster_path:
        from scraper.cli.cluster import cluster_schedule_rows

        rows = cluster_schedule_rows(obj, registry)
    else:
        rows = schedule_table(config, registry)
    host_heading = f"{'host':<14} " if obj.cluster_path else ""
    click.echo(f"{'outlet':<18} {'schedule':<16} {host_heading}{'state':<8} {'next run':<32} last run")
    for row in rows:
        last = f"{row['last_status']} at {row['last_started']}" if row["last_status"] else "never"
        state = "paused" if row["paused"] else "active"
        next_run = row["next_run"] or "-"
        if row["next_run"] and row["next_run_computed"]:
            next_run += " (computed)"
        host = f"{row['host'] + ('*' if row['pinned'] else ''):<14} " if obj.cluster_path else ""
        click.echo(f"{row['outlet']:<18} {row['schedule']:<16} {host}{state:<8} {next_run:<32} {last}")
    if obj.cluster_path and any(row["pinned"] for row in rows):
        click.echo("* pinned in the cluster file")
    if any(not row["applied"] for row in rows):
        click.echo("(computed): from the cron expression, as no scheduler has applied the schedule yet\n"
                   "(`mediawatch schedule` starts one; SIGHUP makes a running one reload the registry)")


@click.command()
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

    changed = set_paused(_schedule_config(obj, jobs), lenient_registry(obj), outlet_id, paused)
    state = "paused" if paused else "resumed"
    click.echo(f"{outlet_id}: {state}" if changed else f"{outlet_id}: already {'paused' if paused else 'active'}")


@click.command()
@click.argument("outlet_id", metavar="OUTLET")
@_jobs_option
@click.pass_obj
def pause(obj: Context, outlet_id, jobs):
    """Stop an outlet's scheduled crawls until resumed (persists).

    Works whether or not a scheduler is running; a running one skips the outlet from its
    next run on. A crawl already under way is not stopped.
    """
    _set_paused(obj, outlet_id, jobs, True)


@click.command()
@click.argument("outlet_id", metavar="OUTLET")
@_jobs_option
@click.pass_obj
def resume(obj: Context, outlet_id, jobs):
    """Resume an outlet's scheduled crawls."""
    _set_paused(obj, outlet_id, jobs, False)
