"""mediawatch's Datasette plugin: the search page, its feeds and exports, and the guards.

Registered as a `datasette` entry point, so it is active whenever the archive is served (also
by plain `datasette archive.db` where mediawatch is installed). Every value is escaped before
any markup is added: archived text is never trusted as HTML.

- `/<db>/search` (and `.json`, `.atom`): the analysts' search page (archive/search/finder.py).
- `/<db>/saved`: saved searches with their feeds (archive/search/saved.py); `/<db>/alerts.atom?q=` is
  the older address of a search's feed and stays one.
- `/<db>/articles?_search=`: the table's search box and its CSV/JSON exports find exactly what
  the search page finds: `_search` is handed to this plugin's filter (archive/search/query.py) instead
  of Datasette's literal FTS match.
- Guards (archive/web/guard.py): raw pages, pids, log and file paths are not served.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.filters import FilterArguments
from datasette.views.base import DatasetteError
from markupsafe import Markup, escape

from archive.search import finder
from archive.search.finder import MARK_END, MARK_START, QueryError, SearchRequest
from archive.search.index import INDEX, fold
from archive.search.saved import listed as saved_searches
from archive.web import guard
from archive.web.feeds import atom_feed, safe_link

SEARCH_TABLE = "articles"
# The articles table's search argument, renamed on the way in (see asgi_wrapper) so that
# Datasette's own search does not also apply it literally.
TABLE_SEARCH_ARG = "_mwsearch"
FEED_ENTRIES = finder.PAGE_SIZE


@hookimpl
def prepare_connection(conn):
    # SQL written for earlier versions folds its search terms as the index is folded.
    conn.create_function("mediawatch_fold", 1, fold, deterministic=True)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def guarded(scope, receive, send):
            if scope.get("type") == "http":
                refused = guard.refusal(scope)
                if refused:
                    await refused(scope, receive, send)
                    return
                scope = guard.rewrite(scope, SEARCH_TABLE, TABLE_SEARCH_ARG)
            await app(scope, receive, send)

        return guarded

    return wrap


@hookimpl
def permission_allowed(actor, action, resource):
    return guard.permission(actor, action, resource)


@hookimpl
def handle_exception(datasette, request, exception):
    return guard.client_error(datasette, request, exception)


# -- the articles table's search --------------------------------------------------------------


# Above this many matches the table's search walks its sort index instead of sorting matches.
TABLE_SEARCH_MANY = 20_000


def _compiled_for_table(conn, q: str, archive_key):
    """The search's MATCH expression, and whether it matches many articles."""
    match = finder.compile_request(conn, SearchRequest(q=q), archive_key)
    try:
        matches = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {INDEX} WHERE {INDEX} MATCH ?"
                               f" LIMIT {TABLE_SEARCH_MANY + 1})", (match.expression,)).fetchone()[0]
    except sqlite3.OperationalError:
        matches = 0  # FTS5 refused the expression: the table's query says so with its own message
    return match, matches > TABLE_SEARCH_MANY


@hookimpl
def filters_from_request(request, database, table, datasette):
    if table != SEARCH_TABLE:
        return None
    searches = {key: request.args.get(key) for key in request.args if key.startswith(TABLE_SEARCH_ARG)}
    searches = {key: value for key, value in searches.items() if value and value.strip()}
    if not searches:
        return None

    async def inner():
        db = datasette.get_database(database)
        where, params, described, shown = [], {}, [], ""
        for n, (key, q) in enumerate(sorted(searches.items())):
            column = key[len(TABLE_SEARCH_ARG) + 1:]
            if column and column not in ("title", "text"):
                raise DatasetteError("Only the title and text columns can be searched.", status=400)
            try:
                match, many = await db.execute_fn(lambda conn: _compiled_for_table(conn, q, db.path))
            except QueryError as error:
                raise DatasetteError(str(error), title="This search cannot be run", status=400) from None
            expression = f"{{{column}}} : ({match.expression})" if column else match.expression
            # For a word in many articles, `+id` makes SQLite walk the table's sort index (newest
            # first) and stop at a page of matches; plain `id IN` looks every match up and sorts
            # them all (17 s for a word in a million articles, against 0.2 s).
            where.append(f"{'+' if many else ''}id IN (SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :mwsearch_{n})")
            params[f"mwsearch_{n}"] = expression
            described.append(f'{column + " " if column else ""}search matches "{q}" (every form and spelling)')
            shown = q
        return FilterArguments(where, params, described, {"search": shown, "supports_search": True})

    return inner


# -- pages ---------------------------------------------------------------------------------------


def read_only(view):
    """The plugin's pages only read: anything but GET (or HEAD) is refused."""
    async def guarded(request, datasette):
        from datasette.utils.asgi import Response

        if request.method not in ("GET", "HEAD"):
            return Response.text("This site only reads the archive.", status=405, headers={"Allow": "GET"})
        return await view(request, datasette)

    return guarded


@hookimpl
def register_routes():
    return [
        (r"^/-/dashboard$", read_only(dashboard)),
        (r"^/-/databases(?P<format>\.json)?$", read_only(guard.databases)),
        (r"^/(?P<database>[^/]+)/search(?P<format>\.json|\.atom)?$", read_only(search_page)),
        (r"^/(?P<database>[^/]+)/alerts(?P<format>\.atom)?$", read_only(alerts)),
        (r"^/(?P<database>[^/]+)/saved(?P<format>\.json)?$", read_only(saved_page)),
    ]


@hookimpl
def menu_links(datasette, actor):
    database = _default_database(datasette)
    links = [{"href": datasette.urls.path("/-/dashboard"), "label": "Dashboard"}]
    if database:
        links = [{"href": datasette.urls.path(f"/{database}/search"), "label": "Search articles"},
                 {"href": datasette.urls.path(f"/{database}/saved"), "label": "Saved searches"}] + links
    return links


def _default_database(datasette) -> str | None:
    names = [name for name in datasette.databases if name != "_internal"]
    return names[0] if names else None


def _database(datasette, request):
    from datasette.utils.asgi import NotFound

    name = request.url_vars["database"]
    if name == "_internal" or name not in datasette.databases:
        raise NotFound(f"Database not found: {name}")
    return datasette.get_database(name)


async def _outlets(db) -> dict[str, str]:
    try:
        return {row[0]: row[1] for row in (await db.execute("SELECT id, name FROM outlets")).rows}
    except Exception:  # an archive without outlets (plain datasette on another file)
        return {}


def mark(text: str | None) -> Markup:
    """Archived text escaped, then the search's match markers as <mark>."""
    escaped = str(escape(text or ""))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def _plain(text: str | None) -> str:
    return (text or "").replace(MARK_START, "").replace(MARK_END, "")


def local_date(row: dict) -> str:
    """'2025-05-21 01:30 (UTC+06:00)' from published_local, else the UTC time, else ''."""
    value = row.get("published_local") or row.get("published") or ""
    if len(value) >= 16 and value[10] == "T":
        zone = value[19:] if len(value) > 19 else ""
        zone = "UTC" if zone in ("Z", "+00:00") else (f"UTC{zone}" if zone else "")
        return f"{value[:10]} {value[11:16]}" + (f" ({zone})" if zone else "")
    return value


def _row_json(datasette, database: str, row: dict, outlets: dict) -> dict:
    return {
        "id": row["id"], "title": row["title"], "outlet_id": row["outlet_id"],
        "outlet": outlets.get(row["outlet_id"], row["outlet_id"]), "language": row["language"], "kind": row["kind"],
        "published": row["published"], "published_local": row["published_local"],
        "snippet": (row.get("snippet") or "").replace(MARK_START, "[[").replace(MARK_END, "]]"),
        "url": safe_link(row["url"]), "archived": datasette.urls.row(database, "articles", str(row["id"])),
    }


async def search_page(request, datasette):
    from datasette.utils.asgi import Response

    db = _database(datasette, request)
    fmt = request.url_vars.get("format") or ""
    outlets = await _outlets(db)
    error, results = None, None
    try:
        search_request = SearchRequest.from_args(request.args)
        if fmt == ".atom":  # a feed lists the newest matches
            search_request = replace(search_request, sort="newest", page=1)
        results = await db.execute_fn(lambda conn: finder.search(conn, search_request, db.path, outlets=outlets))
    except QueryError as exc:
        error = str(exc)
        search_request = SearchRequest(q=(request.args.get("q") or "")[:1000])
        results = finder.Results(search_request)
    base = datasette.urls.path(f"/{db.name}/search")
    if fmt == ".json":
        return Response.json(_results_json(datasette, db.name, results, error, outlets), status=400 if error else 200)
    if fmt == ".atom":
        return _feed_response(request, datasette, db.name, results, error, outlets)
    return Response.html(await datasette.render_template(
        "mediawatch_search.html",
        _page_context(datasette, db.name, base, results, error, outlets, request),
        request=request,
    ), status=400 if error else 200)


def _results_json(datasette, database, results, error, outlets) -> dict:
    return {
        "ok": error is None, "error": error, "q": results.request.q, **results.request.filters,
        "sort": results.request.sort, "page": results.request.page, "page_size": finder.PAGE_SIZE,
        "total": results.total, "pages": results.pages, "counted_in_window": results.counted_in_window,
        "expression": results.match.expression if results.match else None,
        "forms": {forms.word: forms.forms for forms in results.match.words} if results.match else {},
        "rows": [_row_json(datasette, database, row, outlets) for row in results.rows],
        "facets": {name: [facet.__dict__ for facet in facets] for name, facets in results.facets.items()},
        "periods": [{"period": period, "matches": count} for period, count in results.periods],
    }


def _feed_response(request, datasette, database, results, error, outlets):
    from datasette.utils.asgi import Response

    if error:
        return Response.text(error, status=400)
    origin = f"{request.scheme}://{request.host}"
    feed_args = urlencode(results.request.args(sort="relevance", page=1))
    page_url = origin + datasette.urls.path(f"/{database}/search") + (f"?{feed_args}" if feed_args else "")
    entries = [{
        "id": f"mediawatch:article:{row['id']}", "title": row["title"],
        "updated": row["published"] or None, "link": row["url"],
        "archived": origin + datasette.urls.row(database, "articles", str(row["id"])),
        "summary": f"{outlets.get(row['outlet_id'], row['outlet_id'] or '')} — {local_date(row)} — {_plain(row.get('snippet'))}",
    } for row in results.rows]
    body = atom_feed(feed_id=f"mediawatch:search:{database}:{feed_args}", title=f"mediawatch: {results.request.q}",
                     self_url=origin + datasette.urls.path(f"/{database}/search.atom") + (f"?{feed_args}" if feed_args else ""),
                     page_url=page_url, entries=entries)
    return Response(body, content_type="application/atom+xml; charset=utf-8")


def _page_context(datasette, database, base, results, error, outlets, request) -> dict:
    search = results.request

    def link(**changes) -> str:
        args = search.args(**{"page": 1, **changes})
        return base + ("?" + urlencode(args) if args else "")

    table = datasette.urls.table(database, SEARCH_TABLE)
    exports = {}
    if search.q and not error:
        table_args = search.table_args()
        exports = {
            "csv": f"{table}.csv?{urlencode({**table_args, '_stream': 'on', '_size': 'max', '_dl': 'on'})}",
            "json": f"{table}.json?{urlencode({**table_args, '_size': 'max'})}",
            "table": f"{table}?{urlencode(table_args)}",
            "atom": datasette.urls.path(f"/{database}/search.atom") + "?" + urlencode(search.args(sort="relevance", page=1)),
        }
    peak = max((count for _, count in results.periods), default=0)
    bars = []
    for period, count in results.periods:
        first, last = finder.period_bounds(period)
        bars.append({"period": period, "count": count, "height": (count / peak) if peak else 0,
                     "href": link(published_from=first, published_until=last)})
    save_command = ""
    if search.q:
        options = "".join(f" --{key.replace('_', '-')} {_shell(value)}" for key, value in search.filters.items()
                          if key != "kind") + (" --articles-only" if search.kind == "article" else "")
        save_command = f"mediawatch --db ARCHIVE searches save NAME {_shell(search.q)}{options}"
    return {
        "database": database, "search": search, "results": results, "error": error, "base": base,
        "link": link, "mark": mark, "local_date": local_date, "safe_link": safe_link, "outlets": outlets,
        "exports": exports, "bars": bars, "save_command": save_command,
        "row_url": lambda row: datasette.urls.row(database, "articles", str(row["id"])),
        "page_size": finder.PAGE_SIZE, "languages": LANGUAGE_NAMES, "kinds": finder.KINDS,
    }


def _shell(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


LANGUAGE_NAMES = {"kk": "Kazakh", "ru": "Russian", "ky": "Kyrgyz", "uz": "Uzbek", "tg": "Tajik", "tk": "Turkmen",
                  "en": "English", "uk": "Ukrainian", "fa": "Persian", "ps": "Pashto", "ka": "Georgian",
                  "hy": "Armenian", "az": "Azerbaijani", "tt": "Tatar", "ba": "Bashkir", "be": "Belarusian",
                  "ro": "Romanian", "bg": "Bulgarian", "mk": "Macedonian", "sq": "Albanian", "sr": "Serbian",
                  "hu": "Hungarian", "de": "German", "fr": "French", "es": "Spanish", "pl": "Polish"}


async def alerts(request, datasette):
    """The older address of a search's feed (`alerts.atom?q=`) answers as the search's feed;
    `alerts` itself, which was a form, points to the saved searches and their feeds."""
    from datasette.utils.asgi import Response

    db = _database(datasette, request)
    if request.url_vars.get("format") == ".atom":
        return await search_page(request, datasette)
    query = ("?" + urlencode({"q": request.args.get("q")})) if request.args.get("q") else ""
    target = datasette.urls.path(f"/{db.name}/search") + query if query else datasette.urls.path(f"/{db.name}/saved")
    return Response.redirect(target)


async def saved_page(request, datasette):
    from datasette.utils.asgi import Response

    db = _database(datasette, request)
    searches = await db.execute_fn(saved_searches)
    base = datasette.urls.path(f"/{db.name}/search")
    feed = datasette.urls.path(f"/{db.name}/search.atom")
    items = [{"name": s.name, "q": s.q, "filters": {k: v for k, v in s.args().items() if k != "q"},
              "page": f"{base}?{urlencode(s.args())}", "feed": f"{feed}?{urlencode(s.args())}"} for s in searches]
    if request.url_vars.get("format") == ".json":
        return Response.json(items)
    return Response.html(await datasette.render_template(
        "mediawatch_saved.html", {"database": db.name, "items": items}, request=request))


async def dashboard(request, datasette):
    """The overview page: charts drawn in the browser from canned-query JSON.

    Canned queries run without the execute-sql permission, so the dashboard works on an
    archive served with arbitrary SQL turned off (the default).
    """
    from datasette.utils.asgi import Response

    config = (datasette.plugin_config("mediawatch") or {}).get("dashboard") or {}
    database = _default_database(datasette)
    db = datasette.get_database(database)
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
