"""What the served archive keeps from its visitors, and how it answers their mistakes.

- `raw_pages` (the fetched pages, kept for re-extraction) is not served in any form: table,
  row, `.json`, `.csv`, `.blob` all go through the view-table permission, denied here to all
  but Datasette's root actor (`datasette --root`).
- Crawl runs' pids and log paths are not served: the columns are dropped from every table
  view of `crawl_runs` (and from any sort, facet or filter naming them), and its row pages,
  which show every column, are refused. Operators read them with `mediawatch` on the machine.
- `/-/databases.json` does not show the archive's path on disk.
- A sort by a column the table does not have (`_sort=nope`) is a 400 with Datasette's
  message, not a 500.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode

from datasette.views.base import DatasetteError

HIDDEN_TABLES = {"raw_pages"}
HIDDEN_COLUMNS = {"crawl_runs": ("pid", "log_file")}
# Table-view arguments whose *value* is a column name.
_COLUMN_ARGS = ("_sort", "_sort_desc", "_facet", "_facet_array", "_facet_date", "_col", "_nocol", "_label")


def _split(path: str) -> list[str]:
    return [unquote(part) for part in path.strip("/").split("/")]


def _table_and_format(part: str) -> tuple[str, str]:
    for suffix in (".json", ".csv", ".blob"):
        if part.endswith(suffix):
            return part[:-len(suffix)], suffix
    return part, ""


def refusal(scope):
    """An ASGI app answering 403 for a request that is refused outright, else None."""
    parts = _split(scope.get("path", ""))
    if len(parts) == 3 and parts[1] in HIDDEN_COLUMNS:
        return _forbidden(f"Rows of {parts[1]} are not shown one by one here (they hold process ids and log paths); "
                          f"the {parts[1]} table lists them without those.")
    return None


def _forbidden(message: str):
    async def app(scope, receive, send):
        body = message.encode("utf-8")
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


def rewrite(scope, search_table: str, search_arg: str):
    """The request with the articles table's `_search` arguments handed to the plugin's search
    filter, and hidden columns kept out of table views."""
    parts = _split(scope.get("path", ""))
    if len(parts) != 2:
        return scope
    table, _ = _table_and_format(parts[1])
    args = parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True)
    if table == search_table and any(key.startswith(("_search", "_fts")) for key, _ in args):
        args = [(search_arg + key[len("_search"):], value) if key.startswith("_search") else (key, value)
                for key, value in args if key not in ("_searchmode", f"{search_arg}mode", "_fts_table", "_fts_pk")]
    elif table in HIDDEN_COLUMNS:
        hidden = HIDDEN_COLUMNS[table]
        args = [(key, value) for key, value in args
                if not (key.split("__")[0] in hidden or (key in _COLUMN_ARGS and value in hidden))]
        args += [("_nocol", column) for column in hidden]
    else:
        return scope
    return dict(scope, query_string=urlencode(args).encode("ascii"))


def permission(actor, action, resource):
    if action == "view-table" and isinstance(resource, tuple) and resource[1] in HIDDEN_TABLES:
        return bool(actor and actor.get("id") == "root")
    return None


_CLIENT_MISTAKES = ("Cannot sort table by", "Cannot use _sort and _sort_desc")


def client_error(datasette, request, exception):
    """Datasette reports a bad sort column as a server error (500); it is the visitor's."""
    if isinstance(exception, DatasetteError) and exception.status == 500 \
            and str(exception.message).startswith(_CLIENT_MISTAKES):
        exception.status = 400
    return None


async def databases(request, datasette):
    """Datasette's /-/databases.json without the file's path on disk."""
    from datasette.utils.asgi import Response

    return Response.json([
        {"name": db.name, "route": db.route, "size": db.size, "is_mutable": db.is_mutable,
         "is_memory": db.is_memory, "hash": db.hash}
        for name, db in datasette.databases.items() if name != "_internal"
    ])
