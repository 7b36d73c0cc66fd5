"""`serve`, `demo` and `backup`: browsing an archive and keeping a copy."""

from __future__ import annotations

from pathlib import Path

import click

from scraper.cli.context import Context


@click.command()
@click.argument("db_path", required=False, type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("-p", "--port", default=8001, show_default=True, help="Port to listen on.")
@click.option("--allow-sql", is_flag=True,
              help="Let visitors run their own SQL queries (off by default; only on a trusted network).")
@click.pass_obj
def serve(obj: Context, db_path, host, port, allow_sql):
    """Browse and search the archive in Datasette (read-only).

    Writes nothing, not even beside the archive. In a folder this user cannot write, an
    archive no crawl has open is served as it is at the start (Datasette's immutable mode).
    """
    from archive.web.serve import serve as serve_archive

    path = Path(db_path) if db_path else obj.db
    serve_archive(path, host=host, port=port, allow_sql=allow_sql, on_ready=_announce(path))


def _announce(path: Path):
    """What `serve` and `demo` print once Datasette accepts connections."""

    def announce(serving) -> None:
        click.echo(f"Serving {path} at {serving.url} (Ctrl+C to stop)")
        if serving.immutable:
            click.echo(f"note: the folder of {path} is not writable here, so the archive is served as it is "
                       "now; restart to see what a crawl adds since", err=True)

    return announce


@click.command()
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
    from archive.web.serve import serve as serve_archive
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
    serve_archive(db_path, port=port, on_ready=_announce(Path(db_path)))


@click.command()
@click.argument("dest", type=click.Path(dir_okay=False))
@click.pass_obj
def backup(obj: Context, dest):
    """Copy the archive consistently to DEST, even mid-crawl.

    Uses SQLite's online backup: the copy is one snapshot of the archive, checked with
    PRAGMA integrity_check, and replaces DEST only once complete.
    """
    from archive.backup import backup_archive

    result = backup_archive(obj.db, Path(dest))
    click.echo(f"Backed up {obj.db} to {dest}: {result.articles} articles, {result.size / 1e6:.1f} MB, "
               f"integrity ok, {result.seconds:.1f}s")
