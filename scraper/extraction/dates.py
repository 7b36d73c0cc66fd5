"""Publication dates: machine-readable timestamps and dates written out in words.

Two public functions:

- :func:`normalise_timestamp` turns what pages put in JSON-LD/meta tags ("2024-04-28T05:00:35-04:00",
  "2024-04-28 05:00", "20240428", "Sun, 28 Apr 2024 09:00:35 GMT") into ISO 8601, keeping the
  time and offset when present.
- :func:`parse_textual_date` reads dates as printed on Russian, Ukrainian, Kazakh, Kyrgyz,
  Uzbek (Latin and Cyrillic), Tajik, Turkmen and English pages ("25 мая 2025 г. 14:30",
  "2025-yil 25-may", "25-nji maý 2025"). trafilatura/htmldate only read such dates with
  `extensive_search`, and then mostly miss the Central Asian month names; dateparser knows few
  of these languages and is slow. A table of month names and three word orders cover what
  the outlets we follow print.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# Month names per language; each entry is a list of stems/forms for months 1..12. A form
# matches as a whole word, optionally followed by a grammatical suffix (see _SUFFIX).
_MONTHS: dict[str, list[list[str]]] = {
    "en": [["january", "jan"], ["february", "feb"], ["march", "mar"], ["april", "apr"], ["may"],
           ["june", "jun"], ["july", "jul"], ["august", "aug"], ["september", "sept", "sep"],
           ["october", "oct"], ["november", "nov"], ["december", "dec"]],
    # Russian: genitive (as printed in dates), nominative and the usual abbreviations.
    "ru": [["января", "январь", "янв"], ["февраля", "февраль", "фев"], ["марта", "март", "мар"],
           ["апреля", "апрель", "апр"], ["мая", "май"], ["июня", "июнь", "июн"], ["июля", "июль", "июл"],
           ["августа", "август", "авг"], ["сентября", "сентябрь", "сент", "сен"],
           ["октября", "октябрь", "окт"], ["ноября", "ноябрь", "нояб", "ноя"], ["декабря", "декабрь", "дек"]],
    "uk": [["січня", "січень", "січ"], ["лютого", "лютий", "лют"], ["березня", "березень", "бер"],
           ["квітня", "квітень", "квіт"], ["травня", "травень", "трав"], ["червня", "червень", "черв"],
           ["липня", "липень", "лип"], ["серпня", "серпень", "серп"], ["вересня", "вересень", "вер"],
           ["жовтня", "жовтень", "жовт"], ["листопада", "листопад", "лист"], ["грудня", "грудень", "груд"]],
    "kk": [["қаңтар"], ["ақпан"], ["наурыз"], ["сәуір"], ["мамыр"], ["маусым"], ["шілде"], ["тамыз"],
           ["қыркүйек"], ["қазан"], ["қараша"], ["желтоқсан"]],
    # Kyrgyz prints Russian-derived names ("25-май") and sometimes the traditional ones.
    "ky": [["үчтүн айы"], ["бирдин айы"], ["жалган куран"], ["чын куран"], ["бугу"], ["кулжа"],
           ["теке"], ["баш оона"], ["аяк оона"], ["тогуздун айы"], ["жетинин айы"], ["бештин айы"]],
    # Uzbek (Cyrillic) and Tajik share the Russian-derived forms without the final soft sign.
    "uz-cyrl": [["январ"], ["феврал"], ["март"], ["апрел"], ["май"], ["июн"], ["июл"], ["август"],
                ["сентябр"], ["октябр"], ["ноябр"], ["декабр"]],
    "uz": [["yanvar"], ["fevral"], ["mart"], ["aprel"], ["may"], ["iyun"], ["iyul"], ["avgust"],
           ["sentyabr"], ["oktyabr"], ["noyabr"], ["dekabr"]],
    "tk": [["ýanwar", "yanwar"], ["fewral"], ["mart"], ["aprel"], ["maý", "may"], ["iýun", "iyun"],
           ["iýul", "iyul"], ["awgust"], ["sentýabr", "sentyabr"], ["oktýabr", "oktyabr"],
           ["noýabr", "noyabr"], ["dekabr"]],
}
# Languages whose month names are the Russian-derived Cyrillic set.
_LANGUAGE_TABLES = {
    "en": ["en"], "ru": ["ru"], "uk": ["uk", "ru"], "kk": ["kk", "ru"], "ky": ["ky", "uz-cyrl", "ru"],
    "uz": ["uz", "uz-cyrl", "ru"], "tg": ["uz-cyrl", "ru"], "tk": ["tk", "ru"],
}

# Suffixes glued to a month or day: Russian/Uzbek case endings on months ("майи", "maýy",
# "майы"), Tajik izofa "-и", Turkmen ordinal "-nji/-njy/-nçi", Kyrgyz "-сы/-ы", English "th".
_SUFFIX = r"(?:ы|и|ь|ya|y|i|sy|сы|si|си|\.)?"
_DAY_SUFFIX = r"(?:-?(?:nji|njy|nçi|nçy|st|nd|rd|th|чи|чы|нчи|нчы|-?ші|-?шы|-?сы|-?и))?"

_TIME = re.compile(
    r"(?<!\d)([01]?\d|2[0-3])[:.h]([0-5]\d)(?::([0-5]\d))?\s*(am|pm|a\.m\.|p\.m\.)?(?!\d)", re.I)
_OFFSET = re.compile(r"(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?(\d\d))?|\b(UTC|GMT)\b", re.I)
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})[./](\d{1,2})[./](\d{4})(?!\d)|(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def _build_pattern(tables: list[str]) -> tuple[re.Pattern, dict[str, int]]:
    forms: dict[str, int] = {}
    for table in tables:
        for month, names in enumerate(_MONTHS[table], start=1):
            for name in names:
                forms.setdefault(name, month)
    alternatives = "|".join(r"\s+".join(map(re.escape, f.split())) for f in sorted(forms, key=len, reverse=True))
    day = rf"(?<!\d)(?P<d1>[0-3]?\d){_DAY_SUFFIX}"
    year = r"(?P<y{n}>(?:19|20)\d\d)"
    month = rf"(?P<m{{n}}>{alternatives}){_SUFFIX}"
    # 1) 25 мая 2025 / 25-may, 2025 / 25-nji maý 2025ý  2) May 25, 2025  3) 2025-yil 25-may / 2025 жылғы 25 мамыр
    pattern = (
        rf"{day}[\s\-]*{month.format(n=1)}(?![^\W\d_])[\s,\-]*{year.format(n=1)}"
        rf"|(?<![^\W\d_]){month.format(n=2)}(?![^\W\d_])\s+(?P<d2>[0-3]?\d){_DAY_SUFFIX},?\s+{year.format(n=2)}"
        rf"|{year.format(n=3)}[\s\-]*(?:[^\W\d_]{{1,6}}\.?)?(?:\s+[^\W\d_]{{1,7}})?[\s,\-]*"
        rf"(?P<d3>[0-3]?\d){_DAY_SUFFIX}[\s\-]*{month.format(n=3)}(?![^\W\d_])"
    )
    return re.compile(pattern, re.I), forms


_PATTERNS: dict[tuple[str, ...], tuple[re.Pattern, dict[str, int]]] = {}


def _pattern_for(languages: list[str] | None):
    tables: list[str] = []
    for lang in languages or list(_LANGUAGE_TABLES):
        for table in _LANGUAGE_TABLES.get(lang.lower().split("-")[0], []):
            if table not in tables:
                tables.append(table)
    if not tables:  # unknown languages: try everything rather than nothing
        tables = list(_MONTHS)
    key = tuple(tables)
    if key not in _PATTERNS:
        _PATTERNS[key] = _build_pattern(tables)
    return _PATTERNS[key]


def parse_textual_date(text: str, languages: list[str] | None = None) -> str | None:
    """First date written in `text`, as ISO 8601 ("2025-05-25" or "2025-05-25T14:30:00").

    `languages` (ISO 639-1 codes) narrows the month tables tried; None tries all supported
    languages (en, ru, uk, kk, ky, uz, tg, tk). A time of day right after the date is kept;
    an explicit "UTC"/"GMT+5" after it adds the offset. Returns None when no date is found.
    """
    if not text:
        return None
    text = " ".join(text.split())
    pattern, forms = _pattern_for(languages)
    match = pattern.search(text)
    numeric = _NUMERIC.search(text)
    if match is None and numeric is None:
        return None
    if match is not None and (numeric is None or match.start() <= numeric.start()):
        n = next(i for i in "123" if match.group(f"y{i}"))
        year = int(match.group(f"y{n}"))
        day = int(match.group(f"d{n}"))
        month_word = " ".join(match.group(f"m{n}").lower().split())
        month = forms.get(month_word) or _prefix_month(month_word, forms)
        end = match.end()
    else:
        if numeric.group(4):
            year, month, day = int(numeric.group(4)), int(numeric.group(5)), int(numeric.group(6))
        else:  # dd.mm.yyyy: the order used in every language listed above except US English
            day, month, year = int(numeric.group(1)), int(numeric.group(2)), int(numeric.group(3))
        end = numeric.end()
    try:
        date = datetime(year, month, day)
    except (TypeError, ValueError):
        return None
    # Only a time printed right next to the date belongs to it ("25 мая 2025 г. 14:30", "10:08").
    tail = text[end:end + 24]
    head = text[max(0, (match or numeric).start() - 12):(match or numeric).start()]
    from_tail = _TIME.search(tail)
    time_match = from_tail or _TIME.search(head)
    if not time_match:
        return date.date().isoformat()
    hour, minute = int(time_match.group(1)), int(time_match.group(2))
    second = int(time_match.group(3) or 0)
    meridiem = (time_match.group(4) or "").lower().replace(".", "")
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    moment = date.replace(hour=hour, minute=minute, second=second)
    offset = _OFFSET.search(tail[time_match.end():time_match.end() + 12]) if from_tail else None
    if offset:
        if offset.group(4):
            moment = moment.replace(tzinfo=timezone.utc)
        else:
            sign = 1 if offset.group(1) == "+" else -1
            delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3) or 0))
            moment = moment.replace(tzinfo=timezone(sign * delta))
    return moment.isoformat()


def _prefix_month(word: str, forms: dict[str, int]) -> int | None:
    for form, month in forms.items():
        if word.startswith(form):
            return month
    return None


_ISO = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2}|[+-]\d{2})?)?",
    re.I)


def normalise_timestamp(value: str | None) -> str | None:
    """A machine-readable date string as ISO 8601, keeping time and offset; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"1\d{9}(?:\d{3})?", value):  # Unix epoch (seconds or milliseconds)
        return datetime.fromtimestamp(int(value[:10]), tz=timezone.utc).isoformat()
    match = _ISO.match(value)
    if match:
        year, month, day, hour, minute, second, tz = match.groups()
        try:
            date = datetime(int(year), int(month), int(day))
        except ValueError:
            return None
        if hour is None:
            return date.date().isoformat()
        try:
            moment = date.replace(hour=int(hour), minute=int(minute), second=int(second or 0))
        except ValueError:
            return date.date().isoformat()
        if tz:
            moment = moment.replace(tzinfo=timezone(_iso_offset(tz)))
        return moment.isoformat()
    try:  # RFC 2822, as in RSS pubDate and some meta tags
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    return parse_textual_date(value)


def _iso_offset(tz: str) -> timedelta:
    """The offset an ISO 8601 zone designator ("Z", "+05:00", "-0300") stands for."""
    if tz.upper() == "Z":
        return timedelta(0)
    digits = tz[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return delta if tz[0] == "+" else -delta


# Timestamps anywhere in a page's source (meta tags, JSON-LD, inline scripts, <time>):
# date, time with seconds, optional fraction, optional offset.
_STAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?(?![\d:])"
)
# Real UTC offsets are whole quarter hours between -12:00 and +14:00.
_QUARTER_HOUR = 15 * 60


def utc_instant(timestamp: str | None) -> datetime | None:
    """The moment `timestamp` names, when it has a time of day stated in UTC; else None
    (a bare day, a time without zone, or one already in a local offset)."""
    if not timestamp or len(timestamp) <= 10:
        return None
    try:
        moment = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return moment if moment.utcoffset() == timedelta(0) else None


def local_form(timestamp: str | None, source: str) -> str | None:
    """`timestamp` (an instant in UTC) written in the page's own offset, when the page says it.

    Many sites declare publication in UTC (JSON-LD, article:published_time) while their pages
    show the local time, and readers — and whoever annotates a date — take the local day: a
    story published at 21:25 in New York is dated the 24th there, the 25th in UTC. When the same
    instant appears elsewhere in the source with a non-zero offset, or as a local wall-clock
    time (seconds equal, hours apart by a real offset), that offset is used. The instant never
    changes; nothing is guessed when the page does not state it.
    """
    moment = utc_instant(timestamp)
    if moment is None:
        return timestamp
    utc_wall = moment.replace(tzinfo=None)
    for match in _stamps_near(source, utc_wall):
        year, month, day, hour, minute, second, tz = match.groups()
        try:
            wall = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
        except ValueError:
            continue
        if tz and tz.upper() != "Z":
            offset = _iso_offset(tz)
            if offset and wall - offset == utc_wall:
                return moment.astimezone(timezone(offset)).isoformat()
        elif not tz:
            offset = wall - utc_wall
            seconds = offset.total_seconds()
            if offset and -12 * 3600 <= seconds <= 14 * 3600 and seconds % _QUARTER_HOUR == 0:
                return moment.astimezone(timezone(offset)).isoformat()
    return timestamp


def _stamps_near(source: str, utc_wall: datetime):
    """Timestamps in `source` dated the day before, of or after `utc_wall`, in source order.

    The same instant in any real offset falls on one of those three days, so only where
    their dates occur is the timestamp pattern tried (scanning a 200 kB page with it cost
    about 1.5 ms; finding three strings costs a tenth of that)."""
    positions = []
    for delta in (-1, 0, 1):
        day = (utc_wall + timedelta(days=delta)).strftime("%Y-%m-%d")
        start = source.find(day)
        while start != -1:
            positions.append(start)
            start = source.find(day, start + 1)
    for position in sorted(positions):
        match = _STAMP.match(source, position)
        if match:
            yield match
