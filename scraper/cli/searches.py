"""`mediawatch searches`: saved searches, named and listed on the search page's Saved searches."""

from __future__ import annotations

import click

from archive.store import Archive, ArchiveError


@click.group()
def searches():
    """Save, list and remove named searches (the Saved searches page).

    Each is listed at /<db>/saved with its feed. The web UI only reads the archive:
    searches are saved here, on its machine.
    """


@searches.command()
@click.argument("name")
@click.argument("query")
@click.option("--outlet", default="", help="Only this outlet's articles (its id).")
@click.option("--language", default="", help="Only articles in this language (ISO 639-1, e.g. kk).")
@click.option("--articles-only", is_flag=True, help="Leave out video, audio, galleries and infographics.")
@click.option("--published-from", default="", metavar="YYYY-MM-DD", help="Published on or after this day.")
@click.option("--published-until", default="", metavar="YYYY-MM-DD", help="Published on or before this day.")
@click.pass_obj
def save(obj, name, query, outlet, language, articles_only, published_from, published_until):
    """Save QUERY under NAME (replacing a saved search of that name).

    The query uses the search page's syntax and is checked against the archive first; the
    forms it finds are printed.
    """
    from archive.search.finder import QueryError, SearchRequest, compile_request
    from archive.search.saved import SavedSearch
    from archive.search.saved import save as save_search

    search = SavedSearch(name.strip(), query.strip(), outlet, language, "article" if articles_only else "",
                         published_from, published_until)
    try:
        with Archive(obj.db) as archive:
            request = SearchRequest.from_args({**search.args(), "q": search.q})
            match = compile_request(archive.conn, request, str(obj.db))
            outcome = save_search(archive, search)
    except (QueryError, ValueError, ArchiveError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{outcome.capitalize()} {search.name!r}: {search.q}")
    for forms in match.words:
        click.echo(f"  {forms.word}: {', '.join(forms.forms)}")


@searches.command(name="list")
@click.pass_obj
def list_searches(obj):
    """List the saved searches."""
    from archive.search.saved import listed

    with Archive(obj.db) as archive:
        for search in listed(archive.conn):
            filters = ", ".join(f"{k}={v}" for k, v in search.args().items() if k != "q")
            click.echo(f"{search.name}\t{search.q}" + (f"\t{filters}" if filters else ""))


@searches.command()
@click.argument("name")
@click.pass_obj
def remove(obj, name):
    """Remove the saved search NAME."""
    from archive.search.saved import remove as remove_search

    with Archive(obj.db) as archive:
        if not remove_search(archive, name):
            raise click.ClickException(f"no saved search named {name!r}")
    click.echo(f"Removed {name!r}")
