"""mediawatch's Datasette plugin: safe rendering of search results.

Registered as a `datasette` entry point, so it is active whenever the archive is served.
Every value is escaped before any markup is added: archived text is never trusted as HTML.
"""

from __future__ import annotations

from datasette import hookimpl
from markupsafe import Markup, escape

# snippet() in the search queries wraps matches in these markers (chosen to be unlikely in
# news text); they become <mark> only after the text around them has been escaped.
MATCH_START, MATCH_END = "[[", "]]"


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
    database = datasette.get_database().name
    filters = {key: request.args.get(key, "") for key in ("date_start", "date_end")}
    return Response.html(await datasette.render_template(
        "mediawatch_dashboard.html",
        {"config": config, "database": database, "filters": filters},
        request=request,
    ))
