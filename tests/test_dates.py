"""Textual and machine-readable dates, one case per language the outlets print."""

import pytest

from scraper.extraction.dates import local_form, normalise_timestamp, parse_textual_date
from scraper.extraction.zones import country_zones, in_local_time, page_country


@pytest.mark.parametrize(
    ("text", "languages", "expected"),
    [
        # Russian: genitive month, "г.", time after the date
        ("25 мая 2025", ["ru"], "2025-05-25"),
        ("25 мая 2025 г. 14:30", ["ru"], "2025-05-25T14:30:00"),
        ("Опубликовано 3 января 2024, 09:05", None, "2024-01-03T09:05:00"),
        # Ukrainian
        ("25 травня 2025 року, 09:15", ["uk"], "2025-05-25T09:15:00"),
        ("12 листопада 2023", ["uk"], "2023-11-12"),
        # Kazakh: native month names, both word orders
        ("25 мамыр 2025, 10:08", ["kk"], "2025-05-25T10:08:00"),
        ("2025 жылғы 7 желтоқсан", ["kk"], "2025-12-07"),
        # Kyrgyz: Russian-derived and traditional month names
        ("25 май 2025", ["ky"], "2025-05-25"),
        ("2025-жылдын 25-майы", ["ky"], "2025-05-25"),
        ("25 бугу 2025", ["ky"], "2025-05-25"),
        # Uzbek Latin and Cyrillic
        ("2025-yil 25-may", ["uz"], "2025-05-25"),
        ("14-oktyabr, 2024", ["uz"], "2024-10-14"),
        ("25 май 2025 йил", ["uz"], "2025-05-25"),
        # Tajik (izofa "-и" on the month)
        ("25 майи 2025", ["tg"], "2025-05-25"),
        ("3 сентябри 2024", ["tg"], "2024-09-03"),
        # Turkmen (ordinal suffix on the day, ý letters)
        ("25-nji maý 2025", ["tk"], "2025-05-25"),
        ("2025-nji ýylyň 25-nji maýy", ["tk"], "2025-05-25"),
        # English: US and UK order, abbreviations, 12-hour time with zone
        ("May 25, 2025", ["en"], "2025-05-25"),
        ("25 May 2025", None, "2025-05-25"),
        ("Published Sept. 5, 2024 at 3:45 pm UTC", None, "2024-09-05T15:45:00+00:00"),
        # Numeric day.month.year as printed across the region
        ("12.03.2024 18:05", None, "2024-03-12T18:05:00"),
    ],
)
def test_parse_textual_date(text, languages, expected):
    assert parse_textual_date(text, languages) == expected


@pytest.mark.parametrize("text", ["", "no date here 123", "25 мая", "Обновлено вчера", "31 февраля 2024"])
def test_parse_textual_date_rejects_non_dates(text):
    assert parse_textual_date(text) is None


def test_languages_narrow_the_month_tables():
    # "мамыр" is Kazakh only: an English-only parse must not read it.
    assert parse_textual_date("25 мамыр 2025", ["en"]) is None
    assert parse_textual_date("25 мамыр 2025", ["kk"]) == "2025-05-25"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-04-28T05:00:35-04:00", "2024-04-28T05:00:35-04:00"),
        ("2024-04-28T05:00:35.123Z", "2024-04-28T05:00:35+00:00"),
        ("2023-12-06T08:45-0500", "2023-12-06T08:45:00-05:00"),
        ("2024-04-28", "2024-04-28"),
        ("20240428", "2024-04-28"),
        ("Sun, 28 Apr 2024 09:00:35 GMT", "2024-04-28T09:00:35+00:00"),
        ("1714294835", "2024-04-28T09:00:35+00:00"),
        ("November 6, 2023", "2023-11-06"),
        ("not a date", None),
        (None, None),
    ],
)
def test_normalise_timestamp(value, expected):
    assert normalise_timestamp(value) == expected


def test_a_utc_timestamp_takes_the_offset_the_page_states_for_the_same_instant():
    # JSON-LD in UTC, the page's own script in New York time: the local day is the 24th.
    source = '{"datePublished":"2020-02-25T02:25:54Z"} ... "date":"2020-02-24T21:25:54-05:00"'
    assert local_form("2020-02-25T02:25:54+00:00", source) == "2020-02-24T21:25:54-05:00"
    # A local wall-clock time with the same seconds, six hours earlier: UTC-6.
    source = '<time datetime="2023-11-08 23:30:59">November 8, 2023 at 11:30 p.m.</time>'
    assert local_form("2023-11-09T05:30:59+00:00", source) == "2023-11-08T23:30:59-06:00"


def test_nothing_is_guessed_when_the_page_states_no_local_time():
    assert local_form("2022-05-04T00:25:56+00:00", '"published":"2022-05-04T00:25:56.152Z"') == "2022-05-04T00:25:56+00:00"
    # Another instant with an offset is another event, not this one's local form.
    assert local_form("2022-05-04T00:25:56+00:00", '"modified":"2022-05-04T09:00:00+03:00"') == "2022-05-04T00:25:56+00:00"
    # A timestamp with its own offset is left as it is.
    assert local_form("2022-05-04T03:25:56+03:00", '"x":"2022-05-04T00:25:56"') == "2022-05-04T03:25:56+03:00"


@pytest.mark.parametrize(
    ("url", "country"),
    [
        ("https://www.lanacion.com.ar/politica/x", "AR"),
        ("https://www.bbc.co.uk/news/1", "GB"),
        ("https://www.nachrichten.at/a;art114", "AT"),
        # Country codes sold as generic names, and generic domains, say nothing about a country.
        ("https://www.currenttime.tv/a/x/1.html", None),
        ("https://example.io/post", None),
        ("https://www.azattyq.org/a/x/1.html", None),
        ("http://127.0.0.1:8000/a/1.html", None),
    ],
)
def test_a_country_code_domain_names_the_country(url, country):
    assert page_country(url) == country


def test_a_utc_only_time_is_written_in_the_domains_country_when_its_day_is_certain():
    # 00:25 UTC is the evening before in Argentina (one zone, UTC-3).
    assert in_local_time("2022-05-04T00:25:56+00:00", country_zones("AR")) == "2022-05-03T21:25:56-03:00"
    # Brazil spans UTC-2 to UTC-5: all of it is still on the 3rd; the hour is that of most zones.
    assert in_local_time("2022-05-04T00:44:52+00:00", country_zones("BR")) == "2022-05-03T21:44:52-03:00"


def test_no_country_time_when_the_day_depends_on_the_zone_or_the_time_is_not_utc():
    # 20:00 UTC is the same evening in Kaliningrad but the next morning in Kamchatka.
    assert in_local_time("2024-03-01T20:00:00+00:00", country_zones("RU")) == "2024-03-01T20:00:00+00:00"
    # A page-stated offset, a naive time and a bare day are kept as they are.
    assert in_local_time("2022-05-04T03:25:56+03:00", country_zones("AR")) == "2022-05-04T03:25:56+03:00"
    assert in_local_time("2022-05-04T00:25:56", country_zones("AR")) == "2022-05-04T00:25:56"
    assert in_local_time("2022-05-04", country_zones("AR")) == "2022-05-04"
    assert in_local_time("2022-05-04T00:25:56+00:00", country_zones(None)) == "2022-05-04T00:25:56+00:00"
    assert in_local_time("2022-05-04T00:25:56+00:00", country_zones("Argentina")) == "2022-05-04T00:25:56+00:00"


def test_an_outlets_own_time_zone_always_gives_the_local_time():
    # One zone leaves no doubt about the day, even where its country's zones disagree.
    assert in_local_time("2024-03-01T20:00:00+00:00", ["Europe/Moscow"]) == "2024-03-01T23:00:00+03:00"
    # Kazakhstan moved Almaty from UTC+6 to UTC+5 on 1 March 2024: the offset is the day's.
    assert in_local_time("2024-02-01T20:00:00Z", ["Asia/Almaty"]) == "2024-02-02T02:00:00+06:00"
    assert in_local_time("2024-05-01T20:00:00Z", ["Asia/Almaty"]) == "2024-05-02T01:00:00+05:00"
    assert in_local_time("2024-03-01T20:00:00+00:00", ["Mars/Olympus_Mons"]) == "2024-03-01T20:00:00+00:00"
