"""The `mediawatch` command line: a thin layer over the library modules.

The root group is here; its commands live a module per group of commands: `crawl`
(crawl, backfill, outlets), `schedule` (schedule, run, pause, resume), `archive` (serve,
demo, backup) and `extract` (extract, reextract).
"""

from __future__ import annotations

import click

from scraper.cli import archive, crawl, extract, schedule
from scraper.cli.context import DEFAULT_DB, Context


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


for command in (crawl.crawl, crawl.backfill, crawl.outlets, archive.serve, archive.demo, archive.backup,
                schedule.schedule, schedule.run, schedule.pause, schedule.resume, extract.extract,
                extract.reextract):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="mediawatch")
