"""The local day of a publication time that a page states only in UTC.

A page that declares `2022-05-04T00:25:56Z` and nothing else was published on the evening of
the 3rd in Buenos Aires: readers, and whoever dates the story, take the local day. When the
page's own source gives the local offset, `dates.local_form` uses it; when it does not, the
page's address often says where it is published: its host's country-code domain
(`lanacion.com.ar`), unless that code is one sold as a generic name (`.tv`, `.io`, `.co`, ...).
Declared locales (`og:locale` `en_US`, `es_LA`) are not used: they are template defaults far
too often (measured in docs/extraction.md, they moved more dates away from the truth than to it).

An outlet in the registry may name its `timezone` (IANA), which is then used alone, or its
`country`, which comes before the domain's. The time is moved into a country's zone only when
every zone of the country puts the instant on the same day, so a day is never guessed. The
instant never changes; in a country with several offsets the wall-clock hour is that of the
offset most of its zone names share, which is not always the capital's (Russia: UTC+07:00),
hence the outlet's `timezone`.
"""

from __future__ import annotations

from collections import Counter
from datetime import timezone
from urllib.parse import urlsplit

import pytz

from .dates import utc_instant

# Country-code domains that search engines treat as generic, because they are sold and used as
# vanity names world-wide (currenttime.tv is not a Tuvaluan outlet).
GENERIC_COUNTRY_DOMAINS = frozenset(
    "ad ai as bz cc cd co dj fm gg io la me ms nu sc sr su tk tv ws".split())
# Domains whose code is not the ISO 3166 code of their country.
_DOMAIN_COUNTRY = {"uk": "GB"}


def page_country(url: str | None) -> str | None:
    """ISO 3166 alpha-2 code of the country of `url`'s domain, or None."""
    host = urlsplit(url or "").hostname or ""
    suffix = host.rsplit(".", 1)[-1].lower() if "." in host else ""
    if len(suffix) == 2 and suffix.isalpha() and suffix not in GENERIC_COUNTRY_DOMAINS:
        country = _DOMAIN_COUNTRY.get(suffix, suffix.upper())
        if country in pytz.country_timezones:
            return country
    return None


def country_zones(country: str | None) -> list[str]:
    """The IANA time zones of a country (ISO 3166 alpha-2, any case); [] for an unknown code."""
    if not isinstance(country, str):
        return []
    return list(pytz.country_timezones.get(country.upper()) or [])


def in_local_time(timestamp: str | None, zones: list[str]) -> str | None:
    """`timestamp`, when stated in UTC, written in the local time of `zones` if its day is certain.

    `zones` are where the page may have been published: an outlet's own zone (always certain)
    or every zone of a country; names pytz does not know are ignored.
    """
    moment = utc_instant(timestamp)
    zones = [name for name in zones if name in pytz.all_timezones_set]
    if moment is None or not zones:
        return timestamp  # no instant to move, or nowhere known to move it to
    offsets = [moment.astimezone(pytz.timezone(name)).utcoffset() for name in zones]
    if len({(moment + offset).date() for offset in offsets}) != 1:
        return timestamp
    offset = Counter(offsets).most_common(1)[0][0]
    return moment.astimezone(timezone(offset)).isoformat()
