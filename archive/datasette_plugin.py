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
