"""The `mediawatch` command line: a thin layer over the library modules.

The root group is here, with the one place where the library's errors become what a user
reads: `Error: <one line>` and exit code 1. Its commands live a module per group of
commands: `crawl` (crawl, backfill, outlets), `schedule` (schedule, run, pause, resume),
`archive` (serve, demo, backup), `extract` (extract, reextract), `searches` (saved searches)
and `cluster` (deploy, writer, publisher, cluster: several crawl hosts).
"""

from __future__ import annotations

import errno
import sqlite3
import sys

import click

from scraper.cli import archive, cluster, crawl, extract, schedule, searches
from scraper.cli.context import DEFAULT_DB, Context

# The library's errors that mean "this cannot be done as asked", as opposed to a bug: each
# carries a message naming what is at fault. Named by module and looked up only among the
# modules already imported: a command that never imported Scrapy cannot have raised
# CrawlError, and `mediawatch --help` does not pay for importing it.
LIBRARY_ERRORS = (
    ("scraper.registry.config", "ConfigError"),
    ("archive.store", "ArchiveError"),
    ("archive.backup", "BackupError"),
    ("archive.web.serve", "ServeError"),
    ("scraper.crawl.locks", "LockHeld"),
    ("scraper.crawl.process", "CrawlError"),
    ("scraper.crawl.reextract", "ReextractError"),
    ("scheduler", "JobStoreError"),
    ("scraper.cluster.config", "ClusterConfigError"),
    ("scraper.cluster.scrapyd", "ScrapydError"),
)

# Errors of the system rather than of mediawatch, worded by `user_message`.
SYSTEM_ERRORS = (OSError, sqlite3.Error)

# OSErrors that mean the place cannot be written to, whatever the command was doing there.
_CANNOT_WRITE = {errno.EROFS, errno.ENOSPC, errno.EDQUOT}


def user_message(exc: BaseException) -> str | None:
    """The one line to show for `exc`, or None if it is a bug (and deserves its traceback)."""
    if isinstance(exc, BrokenPipeError):
        return None  # the reader went away (`| head`); click ends quietly
    for module_name, name in LIBRARY_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, name)):
            return str(exc)
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
        if where is None:
            return exc.strerror or str(exc)
        if exc.errno in _CANNOT_WRITE:
            return f"cannot write {where}: {exc.strerror}"
        return f"{where}: {exc.strerror}"
    if isinstance(exc, sqlite3.Error):
        return f"SQLite: {exc}"
    return None


class MediawatchGroup(click.Group):
    """The root group: library and system errors end as one line, `Error: ...`, exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as exc:
            message = user_message(exc)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=MediawatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


for command in (crawl.crawl, crawl.backfill, crawl.outlets, archive.serve, archive.demo, archive.backup,
                schedule.schedule, schedule.run, schedule.pause, schedule.resume, extract.extract,
                extract.reextract, searches.searches, cluster.deploy, cluster.writer, cluster.publisher,
                cluster.cluster):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="mediawatch")
