"""Whatever an extraction record holds, storing it never loses the page: properties of the
archive's field and date normalisers (Hypothesis), checked by storing into a real archive."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.frontier import _utc
from archive.store import Archive, article_row, local_published, normalise_published

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Any code point, lone surrogates included (a JSON-LD "\ud800" decodes to one).
ANY_TEXT = st.text(alphabet=st.characters(), max_size=60)
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
MOMENTS = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
                       timezones=st.none() | OFFSETS)
DATES = st.one_of(MOMENTS.map(lambda moment: moment.isoformat()), ANY_TEXT,
                  st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "2025-02-30",
                                   "2025-05-20 19:30:00", "24:00", "", "T"]))
VALUES = st.one_of(st.none(), ANY_TEXT, st.integers(), st.floats(), st.booleans(),
                   st.lists(st.one_of(ANY_TEXT, st.integers()), max_size=4), st.dictionaries(ANY_TEXT, ANY_TEXT, max_size=2))
RECORDS = st.fixed_dictionaries({
    "title": VALUES, "authors": VALUES, "published": st.one_of(st.none(), DATES), "language": VALUES,
    "description": VALUES, "sections": VALUES, "tags": VALUES, "image": VALUES, "word_count": VALUES,
    "text": st.one_of(ANY_TEXT.map(lambda t: "Words enough to be an article " + t), VALUES),
})


@SETTINGS
@given(DATES)
def test_dates_normalise_or_say_they_cannot_never_anything_else(value):
    for normalise in (normalise_published, local_published):
        try:
            result = normalise(value)
        except (OverflowError, ValueError):
            continue  # article_row turns these into a dropped field with a warning
        assert result is None or isinstance(result, str)
    assert _utc(value) is None or isinstance(_utc(value), str)  # discovery never raises


@SETTINGS
@given(MOMENTS)
def test_a_normalised_moment_is_utc_and_sorts_as_text(moment):
    try:
        utc = normalise_published(moment.isoformat())
    except OverflowError:
        assert moment.tzinfo is not None and moment.year in (1, 9999)  # only at the ends of time
        return
    if moment.tzinfo is not None:
        assert utc.endswith("Z") and len(utc) == 20  # four-digit years: it sorts as text
        assert datetime.fromisoformat(utc.replace("Z", "+00:00")) == moment.replace(microsecond=0)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    store = Archive(tmp_path_factory.mktemp("normalisers") / "archive.db")
    yield store
    store.close()


@SETTINGS
@given(record=RECORDS, n=st.integers(0, 10**9))
def test_any_record_is_stored_with_its_page_and_every_change_said(archive, record, n):
    problems: list[str] = []
    row = article_row({**record, "url": f"https://x.example/a/{n}", "url_key": f"x.example/{n}"}, problems)
    for name in ("title", "authors", "language", "description", "sections", "tags", "image", "text"):
        if row.get(name) is not None:
            row[name].encode("utf-8")  # storable: no lone surrogate left
    changed = [name for name in ("title", "description", "image")
               if isinstance(record[name], str) and row[name] != record[name]]
    assert all(any(p.startswith(f"{name}:") for p in problems) for name in changed), (changed, problems)
    page = {"url": f"https://x.example/a/{n}", "url_key": f"x.example/{n}", "final_url": None, "outlet_id": None,
            "status": 200, "content_type": "text/html", "encoding": "utf-8", "body": b"<html></html>", "hints": {}}
    outcome = archive.store_page(page, {**record, "url": page["url"], "url_key": page["url_key"]}, None)
    assert outcome in ("new", "updated", "unchanged", "empty")
    stored = archive.conn.execute("SELECT count(*) FROM raw_pages WHERE url_key = ?", (page["url_key"],)).fetchone()
    assert stored == (1,)


def test_the_archive_stays_searchable_after_hostile_records(archive):
    assert archive.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    try:
        archive.conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
    except sqlite3.OperationalError as exc:  # pragma: no cover - the assertion says it
        pytest.fail(f"FTS index inconsistent: {exc}")
