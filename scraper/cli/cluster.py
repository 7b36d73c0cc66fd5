"""Commands for several crawl hosts (docs/scale-out.md): deploy, writer, publisher, cluster.

All of them read the cluster file given with the top-level ``--cluster`` (or
MEDIAWATCH_CLUSTER). `schedule`, `schedule list` and `run` use it too, through the helpers
at the top of this module.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import click

from scraper.cli.context import Context


def _cluster(obj: Context):
    from scraper.cluster.config import load_cluster

    if not obj.cluster_path:
        raise click.UsageError("this command needs the cluster file: mediawatch --cluster cluster.yml ...")
    return load_cluster(obj.cluster_path)


def cluster_service(obj: Context):
    from scraper.cluster.controller import ClusterService

    _cluster(obj)  # a broken file stops here with its problems listed
    return ClusterService(obj.schedule_config, Path(obj.cluster_path))


def cluster_runner(obj: Context, config):
    from scraper.cluster.controller import ScrapydRunner

    runner = ScrapydRunner(config, _cluster(obj))
    from archive.store import Archive

    with Archive(config.archive) as archive:
        archive.sync_outlets(obj.registry.outlets.values())
    return runner


def cluster_schedule_rows(obj: Context, registry) -> list[dict]:
    from scraper.cluster.controller import cluster_schedule_table

    return cluster_schedule_table(obj.schedule_config, registry, _cluster(obj))


def _until_signal() -> threading.Event:
    """An event set by SIGTERM or SIGINT, for the long-running commands."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")


@click.command()
@click.option("--host", "host_names", multiple=True, metavar="NAME", help="Only this host (repeatable).")
@click.option("--build-egg", type=click.Path(dir_okay=False), metavar="FILE",
              help="Only write the egg to FILE (to upload it yourself, e.g. scrapyd-deploy --egg FILE).")
@click.pass_obj
def deploy(obj: Context, host_names, build_egg):
    """Register this mediawatch with every crawl host's Scrapyd.

    mediawatch must be installed on each host first (the same wheel, with its cluster
    extra). The egg sent to Scrapyd only names the installed settings module and the
    fingerprint of this installation's code; a host whose installed code differs refuses
    it, saying so. The controller schedules every job with this version.
    """
    from scraper.cluster.deploy import build_egg as make_egg
    from scraper.cluster.deploy import deploy as deploy_to, deploy_version

    if build_egg:
        Path(build_egg).write_bytes(make_egg())
        click.echo(f"wrote {build_egg}: project version {deploy_version()}")
        return
    cluster = _cluster(obj)
    results = deploy_to(cluster, list(host_names) or None)
    for result in results:
        click.echo(str(result), err=not result.ok)
    if not all(result.ok for result in results):
        sys.exit(1)


@click.command()
@click.option("--replay", is_flag=True, help="Apply again every event still in the streams (changes nothing that "
                                             "is already applied; for checking, or after restoring the archive).")
@click.option("--until-idle", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Stop once no event came for this long (default: run until stopped).")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(min=1),
              help="Events per transaction.")
@click.pass_obj
def writer(obj: Context, replay, until_idle, batch):
    """Apply what the crawl hosts stored (from Redis) to the archive.

    Writes the archive given with --db: the one process that writes the central archive in a cluster: pages and articles
    (upserts on the URL key), runs (their counts as the host recorded them), errors.
    Idempotent, and it resumes where it stopped. SIGTERM or Ctrl+C stops it after the
    batch in hand.
    """
    from scraper.cluster.writer import Writer

    cluster = _cluster(obj)
    _log_to_stderr()
    stop = _until_signal()
    worker = Writer(obj.db, cluster.redis_url, retain=cluster.stream_retain, batch=batch, replay=replay)
    try:
        worker.run(stop, until_idle=until_idle)
        worker.report_status(every=0)
    finally:
        worker.close()
    totals = worker.totals
    click.echo(f"writer: {totals['applied']} events applied, {totals['rejected']} refused, "
               f"{totals['skipped']} already applied; archive {obj.db}")


@click.command()
@click.option("--host", "host_name", required=True, metavar="NAME", help="This crawl host's name in the cluster file.")
@click.option("--until-idle", type=click.FloatRange(min=0), metavar="SECONDS",
              help="Stop once everything is sent and nothing new came for this long.")
@click.pass_obj
def publisher(obj: Context, host_name, until_idle):
    """Send this crawl host's spool to Redis, for the writer.

    Runs beside Scrapyd on each crawl host. Sends every page, run and error the host's crawls stored, in order and once; when
    Redis is away it waits and sends everything when it is back.
    """
    from scraper.cluster.publisher import Publisher

    cluster = _cluster(obj)
    host = cluster.host(host_name) if host_name in cluster.hosts else None
    if host is None:
        raise click.BadParameter(f"no host '{host_name}' in {cluster.path}; hosts: {', '.join(cluster.hosts)}")
    _log_to_stderr()
    stop = _until_signal()
    worker = Publisher(host.spool, host.name, cluster.redis_url)
    if until_idle is not None:
        threading.Thread(target=_stop_when_idle, args=(worker, stop, until_idle), daemon=True).start()
    try:
        worker.run(stop)
    finally:
        worker.close()


def _stop_when_idle(worker, stop: threading.Event, seconds: float) -> None:
    import time

    from archive.store import Archive

    quiet_since, last = time.monotonic(), None
    while not stop.wait(0.5):
        with Archive(worker.spool.archive.path) as spool:
            state = spool.conn.execute("SELECT (SELECT coalesce(max(seq), 0) FROM outbox),"
                                       " (SELECT coalesce(max(seq), 0) FROM outbox_published)").fetchone()
        if state != last or state[0] != state[1]:
            quiet_since, last = time.monotonic(), state
        elif time.monotonic() - quiet_since >= seconds:
            stop.set()


@click.group()
def cluster():
    """Crawl hosts: their status, outlets and Scrapyd configuration."""


@cluster.command("status")
@click.pass_obj
def cluster_status_command(obj: Context):
    """Show Redis, the writer, and each host's Scrapyd, publisher and lag."""
    from scraper.cluster.controller import cluster_status

    status = cluster_status(_cluster(obj), obj.db)
    click.echo(f"redis: {status['redis']}; writer: {status['writer']}")
    click.echo(f"{'host':<14} {'scrapyd':<32} {'deployed':<9} {'publisher':<12} {'spooled':>8} {'applied':>8} {'behind':>7}")
    for row in status["hosts"]:
        name = row["host"] + (" (drain)" if row["drain"] else "")
        click.echo(f"{name:<14} {row['scrapyd'][:32]:<32} {'yes' if row['deployed'] else 'NO':<9} {row['publisher']:<12} "
                   f"{row['spooled'] if row['spooled'] is not None else '-':>8} "
                   f"{row['applied'] if row['applied'] is not None else '-':>8} "
                   f"{row['behind'] if row['behind'] is not None else '-':>7}")


@cluster.command("assign")
@click.option("--without", "without", multiple=True, metavar="HOST",
              help="Show where outlets would go if this host were removed (repeatable).")
@click.pass_obj
def cluster_assign(obj: Context, without):
    """Show which host each outlet runs on (and what would move without a host)."""
    from dataclasses import replace

    cluster_config = _cluster(obj)
    outlet_ids = list(obj.registry.outlets)
    placement = cluster_config.placement(outlet_ids)
    moved = {}
    if without:
        hosts = {name: host for name, host in cluster_config.hosts.items() if name not in without}
        pins = {o: h for o, h in cluster_config.pins.items() if h not in without}
        if not any(not host.drain for host in hosts.values()):
            raise click.ClickException("no host would be left")
        moved = replace(cluster_config, hosts=hosts, pins=pins).placement(outlet_ids)
    for outlet_id in outlet_ids:
        pin = " (pinned)" if outlet_id in cluster_config.pins else ""
        after = f" -> {moved[outlet_id]}" if moved and moved[outlet_id] != placement[outlet_id] else ""
        click.echo(f"{outlet_id:<20} {placement[outlet_id]}{pin}{after}")
    counts = {name: sum(1 for h in placement.values() if h == name) for name in cluster_config.hosts}
    click.echo("outlets per host: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    if moved:
        click.echo(f"without {', '.join(without)}: {sum(1 for o in outlet_ids if moved[o] != placement[o])} "
                   "outlets move, no other outlet changes host")


@cluster.command("scrapyd-conf")
@click.argument("host_name", metavar="HOST")
@click.option("--dir", "state_dir", default="/var/lib/scrapyd", show_default=True,
              help="Scrapyd's own folder on the host (eggs, logs, its job queue).")
@click.option("--max-proc", default=0, show_default=True, type=click.IntRange(min=0),
              help="Crawls at once on the host (0: 4 per core).")
@click.option("--poll-interval", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between Scrapyd's looks at its job queue.")
@click.pass_obj
def cluster_scrapyd_conf(obj: Context, host_name, state_dir, max_proc, poll_interval):
    """Print a scrapyd.conf for one crawl host, from the cluster file."""
    cluster_config = _cluster(obj)
    host = cluster_config.host(host_name)
    url = urlsplit(host.url)
    lines = [
        f"# scrapyd.conf for crawl host {host.name} (mediawatch cluster {cluster_config.path.name})",
        "[scrapyd]",
        f"bind_address = {url.hostname}",
        f"http_port = {url.port or 6800}",
    ]
    if host.socket:
        lines += ["# Scrapyd serves only this socket when it is set (not the TCP port).",
                  f"unix_socket_path = {host.socket}"]
    lines += [
        f"max_proc = {max_proc}",
        f"poll_interval = {poll_interval}",
        f"eggs_dir = {state_dir}/eggs",
        f"logs_dir = {state_dir}/logs",
        f"dbs_dir = {state_dir}/dbs",
        "jobs_to_keep = 20",
        "finished_to_keep = 200",
    ]
    if host.username:
        lines += [f"username = {host.username}",
                  f"# the controller reads this password from ${host.password_env}",
                  "password = CHANGE-ME"]
    click.echo("\n".join(lines))
