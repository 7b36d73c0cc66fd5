"""Run one search of the search page on an archive connection: matches, counts, a time chart.

Used by the Datasette plugin (archive/web/plugin.py) inside `Database.execute_fn`, so
every statement runs on one of Datasette's read-only connections, under a hard time limit
(`Deadline`: SQLite's progress handler, which Datasette's own `sql_time_limit_ms` does not
reliably apply to FTS5 queries). A count or facet that does not finish in its share of the time
is left out and said so; the results themselves end the search with a clear message.

Ranking: a word in more than WINDOW articles is ranked among the WINDOW most recently archived
of them (bm25 over a million matches takes seconds); `newest` sorts every match by date.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta

from archive.search.query import CachedExpander, Limits, LIMITS, Match, QueryError, WordList, compile_match
from archive.search.index import INDEX, SEARCH_FILTERS_INDEX, TERMS

WINDOW = 20_000
PAGE_SIZE = 100
MAX_PAGE = 200           # 20,000 results: the ranking window
SORTS = ("relevance", "newest")
KINDS = ("article", "video", "audio", "gallery", "infographic")
# Private-use characters around matches in snippets: they cannot be confused with text, and
# become <mark> only after the text around them is escaped.
MARK_START, MARK_END = "\ue000", "\ue001"


class SearchTimeout(QueryError):
    """The search ran out of time and was stopped."""


@dataclass(frozen=True)
class SearchRequest:
    """What the search page (or its JSON, CSV or Atom form) was asked for."""

    q: str = ""
    outlet: str = ""
    language: str = ""
    kind: str = ""               # '' every kind, else one of KINDS ('article': media left out)
    published_from: str = ""     # YYYY-MM-DD, included
    published_until: str = ""    # YYYY-MM-DD, included
    sort: str = "relevance"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "SearchRequest":
        """From request arguments; raises QueryError naming what is wrong."""
        def text(name: str, limit: int = 100) -> str:
            value = (args.get(name) or "").strip()
            if len(value) > limit:
                raise QueryError(f"{name} is too long.")
            return value

        sort = text("sort") or "relevance"
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}.")
        kind = text("kind")
        if kind and kind not in KINDS:
            raise QueryError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}.")
        page = text("page") or "1"
        if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
            raise QueryError(f"page must be a number from 1 to {MAX_PAGE}.")
        return cls(q=(args.get("q") or "").strip(), outlet=text("outlet"), language=text("language", 10).lower(),
                   kind=kind, published_from=_day(text("published_from"), "published_from"),
                   published_until=_day(text("published_until"), "published_until"), sort=sort, page=int(page))

    def args(self, **changes) -> dict:
        """The non-default arguments of this search (with `changes`), for links."""
        values = asdict(replace(self, **changes))
        defaults = asdict(SearchRequest())
        return {key: value for key, value in values.items() if value != defaults[key]}

    @property
    def filters(self) -> dict:
        return {key: value for key, value in (("outlet", self.outlet), ("language", self.language),
                                              ("kind", self.kind), ("published_from", self.published_from),
                                              ("published_until", self.published_until)) if value}

    def conditions(self) -> tuple[list[str], dict]:
        """SQL conditions on `articles a` for the filters, and their parameters."""
        where, params = [], {}
        if self.outlet:
            where.append("a.outlet_id = :outlet")
            params["outlet"] = self.outlet
        if self.language:
            where.append("a.language = :language")
            params["language"] = self.language
        if self.kind:
            where.append("a.kind = :kind")
            params["kind"] = self.kind
        if self.published_from:
            where.append("a.published >= :published_from")
            params["published_from"] = self.published_from
        if self.published_until:
            where.append("a.published < :published_before")
            params["published_before"] = (date.fromisoformat(self.published_until) + timedelta(days=1)).isoformat()
        return where, params

    def table_args(self) -> dict:
        """Arguments of the articles-table view selecting every match of this search (for the
        full CSV/JSON export): the plugin's search argument plus Datasette's own filters."""
        args = {"_search": self.q}
        if self.outlet:
            args["outlet_id"] = self.outlet
        if self.language:
            args["language"] = self.language
        if self.kind:
            args["kind"] = self.kind
        if self.published_from:
            args["published__gte"] = self.published_from
        if self.published_until:
            args["published__lt"] = (date.fromisoformat(self.published_until) + timedelta(days=1)).isoformat()
        return args


def _day(value: str, name: str) -> str:
    if not value:
        return ""
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise QueryError(f"{name} must be a date as YYYY-MM-DD, not {value!r}.") from None


class Deadline:
    """A hard time limit on everything run on `conn` meanwhile (SQLite's progress handler),
    with shorter limits for optional parts (`Deadline.part`)."""

    CHECK_EVERY = 1000  # SQLite virtual-machine instructions between checks

    def __init__(self, conn, seconds: float):
        self.conn, self.end = conn, time.monotonic() + seconds
        self._part_end = self.end

    def __enter__(self):
        self.conn.set_progress_handler(lambda: time.monotonic() > self._part_end, self.CHECK_EVERY)
        return self

    def __exit__(self, *exc):
        self.conn.set_progress_handler(None, 0)

    @contextlib.contextmanager
    def part(self, seconds: float):
        """Run an optional part with at most `seconds` of the time left; an interrupted part
        raises sqlite3.OperationalError for the caller to leave it out."""
        self._part_end = min(self.end, time.monotonic() + seconds)
        try:
            yield
        finally:
            self._part_end = self.end

    def remaining(self) -> float:
        return self.end - time.monotonic()


def _interrupted(error: sqlite3.OperationalError) -> bool:
    return "interrupt" in str(error).lower()


@dataclass
class Facet:
    value: str
    label: str
    count: int


@dataclass
class Results:
    request: SearchRequest
    match: Match | None = None
    total: int | None = None          # every match with the filters; None when not counted in time
    counted_in_window: bool = False   # facets and chart cover the WINDOW most recently archived matches
    rows: list[dict] = field(default_factory=list)
    facets: dict[str, list[Facet]] = field(default_factory=dict)
    periods: list[tuple[str, int]] = field(default_factory=list)   # ('2024-05' or '2024', matches)
    period: str = "month"
    notes: list[str] = field(default_factory=list)
    matches: int | None = None        # matches of the words without the filters

    @property
    def pages(self) -> int | None:
        if self.total is None:
            return None
        return max(1, min(MAX_PAGE, -(-self.total // PAGE_SIZE)))


def has_word_list(conn) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TERMS,)).fetchone() is not None


def archive_version(conn):
    """Changes when articles are added: the expansion cache's key."""
    return conn.execute("SELECT max(id) FROM articles").fetchone()[0]


def compile_request(conn, request: SearchRequest, archive_key, limits: Limits = LIMITS) -> Match:
    if not has_word_list(conn):
        raise QueryError("This archive's search index is from an older mediawatch: open it once with "
                         "`mediawatch serve` (or any mediawatch command), which converts it.")
    expander = CachedExpander(WordList(conn), archive_key, archive_version(conn), limits=limits)
    return compile_match(request.q, expander, limits)


def search(conn, request: SearchRequest, archive_key, seconds: float = 4.0, count_seconds: float = 0.5,
           outlets: dict[str, str] | None = None, limits: Limits = LIMITS) -> Results:
    """Run `request` on `conn`; raises QueryError (SearchTimeout when out of time).

    The counts, facets and chart share `count_seconds` between them (what does not finish in
    it is left out, and said so); the page of results has the rest of `seconds`."""
    results = Results(request)
    if not request.q:
        return results
    with Deadline(conn, seconds) as deadline:
        try:
            results.match = compile_request(conn, request, archive_key, limits)
            where, params = request.conditions()
            params["match"] = results.match.expression
            window = Window(conn, where, params)
            _count(conn, deadline, results, window, count_seconds, outlets or {})
            if deadline.remaining() <= 0:
                # SQLite's progress handler only stops a statement that runs long; short ones
                # (a small archive, expansions from the cache) can add up past the limit too.
                raise _timed_out(seconds)
            offset = (request.page - 1) * PAGE_SIZE
            if request.sort == "newest":
                results.rows = _newest(conn, where, params, offset, results.matches)
            else:
                results.rows = _ranked(conn, window, offset)
        except sqlite3.OperationalError as error:
            if _interrupted(error):
                raise _timed_out(seconds) from None
            if "fts5" in str(error).lower():
                raise QueryError("The search could not be read; check its quotation marks and brackets.") from None
            raise
    return results


def _timed_out(seconds: float) -> SearchTimeout:
    return SearchTimeout(f"The search took longer than {seconds:.0f} s and was stopped. "
                         "Add words or filters (an outlet, a language, dates) to narrow it.")


_ROW_COLUMNS = """a.id, a.title, a.outlet_id, a.language, a.kind, a.published, a.published_local, a.url"""


def _recent(where: list[str]) -> str:
    """The WINDOW most recently archived matches allowed by the filters, as `SELECT id`."""
    if not where:
        return f"SELECT rowid AS id FROM {INDEX} WHERE {INDEX} MATCH :match ORDER BY rowid DESC LIMIT {WINDOW}"
    allowed = f"SELECT a.id FROM articles a WHERE {' AND '.join(where)}"
    # Filters allowing few articles (under 1 in 8): match against their ids, read from an
    # index; filters allowing many: check each match, as WINDOW of them are soon found.
    few = (f"(SELECT count(*) FROM (SELECT 1 FROM articles a WHERE {' AND '.join(where)}"
           f" LIMIT (SELECT max(id) / 8 FROM articles))) < (SELECT max(id) / 8 FROM articles)")
    return (f"SELECT rowid AS id FROM {INDEX} WHERE {INDEX} MATCH :match AND CASE WHEN {few}"
            f" THEN +rowid IN ({allowed})"
            f" ELSE EXISTS (SELECT 1 FROM articles a INDEXED BY {SEARCH_FILTERS_INDEX}"
            f" WHERE a.id = {INDEX}.rowid AND {' AND '.join(where)}) END"
            f" ORDER BY rowid DESC LIMIT {WINDOW}")


class Window:
    """The WINDOW most recently archived matches the filters allow (`_recent`), read once: the
    facets and the ranking both need them, and each MATCH of a common word costs a pass over
    its document lists. Handed back to SQLite as a JSON array (json_each)."""

    def __init__(self, conn, where: list[str], params: dict):
        self.conn, self.where, self.params = conn, where, params
        self._with_ids: dict | None = None

    def params_with_ids(self) -> dict:
        """The search's parameters with `window` (the ids as JSON) and `window_first`."""
        if self._with_ids is None:
            ids = [row[0] for row in self.conn.execute(_recent(self.where), self.params)]
            self._with_ids = {**self.params, "window": json.dumps(ids), "window_first": min(ids, default=0),
                              "window_size": len(ids)}
        return self._with_ids


WINDOW_IDS = "SELECT value FROM json_each(:window)"


def _marked() -> str:
    return (f"highlight({INDEX}, 0, '{MARK_START}', '{MARK_END}') AS title_marked,"
            f" snippet({INDEX}, 1, '{MARK_START}', '{MARK_END}', ' … ', 40) AS snippet")


def _ranked(conn, window: Window, offset: int) -> list[dict]:
    params = window.params_with_ids()
    if not params["window_size"]:
        return []
    sql = f"""
        WITH best AS MATERIALIZED (
          SELECT rowid AS id, bm25({INDEX}) AS score FROM {INDEX}
          WHERE {INDEX} MATCH :match AND rowid >= :window_first AND +rowid IN ({WINDOW_IDS})
          ORDER BY score LIMIT {PAGE_SIZE} OFFSET {offset}
        )
        -- In this order (CROSS JOIN): snippets and article rows are read for one page only.
        SELECT {_ROW_COLUMNS}, {_marked()}
        FROM {INDEX} CROSS JOIN best ON best.id = {INDEX}.rowid CROSS JOIN articles a ON a.id = {INDEX}.rowid
        WHERE {INDEX} MATCH :match AND {INDEX}.rowid >= (SELECT min(id) FROM best)
        ORDER BY best.score
    """
    return _dicts(conn.execute(sql, params))


# Up to this many matches, newest first sorts them (their dates read from the filters index);
# beyond, it walks the articles by date, newest first, until a page of matches is found.
SORT_MATCHES = 2_000


def _newest(conn, where, params, offset: int, matches: int | None) -> list[dict]:
    conditions = " AND ".join([f"a.id IN (SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :match)", *where])
    if matches is not None and matches <= SORT_MATCHES:
        walk = SEARCH_FILTERS_INDEX
    else:
        walk = "articles_outlet_published" if "outlet" in params else "articles_published"
    ids = [row[0] for row in conn.execute(
        f"SELECT a.id FROM articles a INDEXED BY {walk} WHERE {conditions} ORDER BY a.published DESC, a.id DESC"
        f" LIMIT {PAGE_SIZE} OFFSET {offset}", params)]
    if not ids:
        return []
    # The + keeps FTS5 from running the match once per id (a prefix query re-reads its document
    # lists each time): one pass over the ids' range instead.
    marks = {row[0]: row[1:] for row in conn.execute(
        f"SELECT rowid, {_marked()} FROM {INDEX} WHERE {INDEX} MATCH :match AND rowid BETWEEN {min(ids)} AND {max(ids)}"
        f" AND +rowid IN ({','.join(map(str, ids))})", params)}
    rows = {row["id"]: row for row in _dicts(conn.execute(
        f"SELECT {_ROW_COLUMNS} FROM articles a WHERE a.id IN ({','.join(map(str, ids))})"))}
    out = []
    for article_id in ids:
        row = rows[article_id]
        row["title_marked"], row["snippet"] = marks.get(article_id, (row["title"], ""))
        out.append(row)
    return out


# Up to this many matches, counts, facets and chart cover every match (each match is looked up
# in the filters index); beyond, the WINDOW most recently archived.
EXACT_FACETS = WINDOW


def _count(conn, deadline: Deadline, results: Results, window: Window, seconds: float, outlets: dict) -> None:
    """Total, facets and the time chart, together within `seconds`; a part that does not
    finish in what is left of them is left out (and said so)."""
    where, params = window.where, window.params
    group = ("SELECT a.outlet_id, coalesce(a.language, ''), a.kind, substr(a.published, 1, 7), count(*)"
             f" FROM articles a INDEXED BY {SEARCH_FILTERS_INDEX} WHERE a.id IN ({{ids}}) {{where}} GROUP BY 1, 2, 3, 4")
    every = f"SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH :match"
    condition = "".join(f" AND {c}" for c in where)
    budget_end = time.monotonic() + seconds

    def bounded(sql: str, share: float, arguments: dict | None = None):
        left = min(share, budget_end - time.monotonic())
        if left <= 0:
            return None
        try:
            with deadline.part(left):
                return conn.execute(sql, params if arguments is None else arguments).fetchall()
        except sqlite3.OperationalError as error:
            if not _interrupted(error):
                raise
            return None

    # Counting the matches reads the index only: fast even for a million.
    counted = bounded(f"SELECT count(*) FROM {INDEX} WHERE {INDEX} MATCH :match", seconds)
    matches = results.matches = counted[0][0] if counted else None
    grouped = None
    if matches is not None and matches <= EXACT_FACETS:
        grouped = bounded(group.format(ids=every, where=condition), seconds)
    if grouped is not None:
        results.total = sum(row[4] for row in grouped)
    else:
        results.counted_in_window = True
        # The window is read whatever the budget says: the ranking needs it too.
        arguments = window.params_with_ids()
        grouped = bounded(group.format(ids=WINDOW_IDS, where=""), seconds, arguments) or []
        if not where:
            results.total = matches
        else:
            total = bounded(f"SELECT count(*) FROM articles a INDEXED BY {SEARCH_FILTERS_INDEX}"
                            f" WHERE a.id IN ({every}){condition}", seconds)
            results.total = total[0][0] if total else None
        if results.total is None:
            results.notes.append("There are too many matches to count them in time.")
        elif results.total <= sum(row[4] for row in grouped):
            results.counted_in_window = False
    _facets(results, grouped, outlets)


def _facets(results: Results, grouped, outlets: dict) -> None:
    by: dict[str, dict] = {"outlet": {}, "language": {}, "kind": {}}
    months: dict[str, int] = {}
    for outlet, language, kind, month, count in grouped:
        for name, value in (("outlet", outlet or ""), ("language", language or ""), ("kind", kind or "")):
            by[name][value] = by[name].get(value, 0) + count
        if month and len(month) == 7 and month[4] == "-":
            months[month] = months.get(month, 0) + count
    results.facets = {
        name: sorted((Facet(value, outlets.get(value, value) if name == "outlet" else (value or "unknown"), count)
                      for value, count in values.items()), key=lambda f: (-f.count, f.label))
        for name, values in by.items()
    }
    if months:
        first, last = min(months), max(months)
        span = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:]) - int(first[5:]) + 1
        if span > 48:
            years: dict[str, int] = {}
            for month, count in months.items():
                years[month[:4]] = years.get(month[:4], 0) + count
            results.period = "year"
            results.periods = [(str(y), years.get(str(y), 0)) for y in range(int(first[:4]), int(last[:4]) + 1)]
        else:
            results.period = "month"
            periods, year, month = [], int(first[:4]), int(first[5:])
            for _ in range(span):
                key = f"{year:04d}-{month:02d}"
                periods.append((key, months.get(key, 0)))
                month += 1
                if month > 12:
                    year, month = year + 1, 1
            results.periods = periods


def period_bounds(period: str) -> tuple[str, str]:
    """('2024-05' or '2024') -> first and last day, for a chart bar's filter link."""
    if len(period) == 4:
        return f"{period}-01-01", f"{period}-12-31"
    year, month = int(period[:4]), int(period[5:])
    following = date(year + (month == 12), month % 12 + 1, 1)
    return f"{period}-01", (following - timedelta(days=1)).isoformat()


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]
