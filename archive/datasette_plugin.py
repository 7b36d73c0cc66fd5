"""mediawatch's Datasette plugin: folded search, safe rendering, full-export links.

Registered as a `datasette` entry point, so it is active whenever the archive is served.
Every value is escaped before any markup is added: archived text is never trusted as HTML.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl
from markupsafe import Markup, escape

from archive.search import fold

# snippet() in the search queries wraps matches in these markers (chosen to be unlikely in
# news text); they become <mark> only after the text around them has been escaped.
MATCH_START, MATCH_END = "[[", "]]"

# The ranked search page and the table that can export all of its matches.
SEARCH_QUERY, SEARCH_TABLE = "search", "articles"


@hookimpl
def prepare_connection(conn):
    # Canned queries fold their search terms as the articles_fts index was folded.
    conn.create_function("mediawatch_fold", 1, fold, deterministic=True)


@hookimpl
def asgi_wrapper(datasette):
    """Fold `_search` on the articles table, as the search page does, so a table search, its
    CSV/JSON export and a hand-written curl command find what the search page finds."""

    def wrap(app):
        async def folded_search(scope, receive, send):
            if scope.get("type") == "http" and _is_search_table(scope.get("path", "")):
                scope = dict(scope, query_string=_fold_search_args(scope.get("query_string", b"")))
            await app(scope, receive, send)

        return folded_search

    return wrap


def _is_search_table(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[1].split(".")[0] == SEARCH_TABLE


def _fold_search_args(query_string: bytes) -> bytes:
    args = parse_qsl(query_string.decode("utf-8", "replace"), keep_blank_values=True)
    if not any(key.startswith("_search") for key, _ in args):
        return query_string
    folded = [(key, fold(value) if key == "_search" or key.startswith("_search_") else value)
              for key, value in args]
    return urlencode(folded).encode("ascii")


def full_export_args(search_args) -> dict | None:
    """The articles-table arguments selecting every match of a search-page search, or None
    if there is no query. Raises ValueError naming a malformed date."""
    q = (search_args.get("q") or "").strip()
    if not q:
        return None
    args = {"_search": q, "_searchmode": "raw"}
    if search_args.get("outlet"):
        args["outlet_id"] = search_args["outlet"]
    if search_args.get("language"):
        args["language"] = search_args["language"]
    if search_args.get("published_from"):
        args["published__gte"] = _day(search_args["published_from"], "published_from")
    if search_args.get("published_until"):
        until = date.fromisoformat(_day(search_args["published_until"], "published_until"))
        args["published__lt"] = (until + timedelta(days=1)).isoformat()
    return args


def _day(value: str, name: str) -> str:
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


@hookimpl
def extra_template_vars(request, database, datasette):
    if request is None or database is None or request.url_vars.get("table") != SEARCH_QUERY:
        return {}

    async def full_export():
        """Links exporting every match of this search, and how many there are."""
        try:
            args = full_export_args(request.args)
        except ValueError as error:
            return {"error": str(error)}
        if args is None:
            return {}
        table = datasette.urls.table(database, SEARCH_TABLE)
        count = await datasette.client.get(f"{table}.json?{urlencode({**args, '_size': 0})}")
        return {
            "count": count.json().get("filtered_table_rows_count") if count.status_code == 200 else None,
            "table": f"{table}?{urlencode(args)}",
            "csv": f"{table}.csv?{urlencode({**args, '_stream': 'on', '_size': 'max', '_dl': 'on'})}",
            "json": f"{table}.json?{urlencode({**args, '_size': 'max'})}",
        }

    return {"mediawatch_full_export": full_export}


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if table is not None or not isinstance(value, (str, int)):
        return None  # only canned-query columns below; tables render as Datasette does
    if column == "snippet" and isinstance(value, str):
        escaped = str(escape(value))
        return Markup(escaped.replace(MATCH_START, "<mark>").replace(MATCH_END, "</mark>"))
    if column == "archived":
        return Markup(f'<a href="{escape(datasette.urls.row(database, "articles", str(value)))}">read</a>')
    if column == "original" and isinstance(value, str) and value.startswith(("http://", "https://")):
        return Markup(f'<a href="{escape(value)}" rel="noopener noreferrer nofollow">original</a>')
    return None


@hookimpl
def register_routes():
    return [(r"^/-/dashboard$", dashboard)]


@hookimpl
def menu_links(datasette, actor):
    return [{"href": datasette.urls.path("/-/dashboard"), "label": "Dashboard"}]


async def dashboard(request, datasette):
    """The overview page: charts drawn in the browser from canned-query JSON.

    Canned queries run without the execute-sql permission, so the dashboard works on an
    archive served with arbitrary SQL turned off (the default).
    """
    from datasette.utils.asgi import Response

    config = (datasette.plugin_config("mediawatch") or {}).get("dashboard") or {}
    db = datasette.get_database()
    database = db.name
    # A card may need a table only some archives have (`requires`): leave it out elsewhere.
    tables = set(await db.table_names())
    config = {**config, **{kind: [card for card in config.get(kind) or [] if card.get("requires", "") in tables | {""}]
                           for kind in ("metrics", "charts", "tables")}}
    filters = {key: request.args.get(key, "") for key in ("date_start", "date_end")}
    return Response.html(await datasette.render_template(
        "mediawatch_dashboard.html",
        {"config": config, "database": database, "filters": filters},
        request=request,
    ))
