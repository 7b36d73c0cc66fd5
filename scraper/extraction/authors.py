"""Author names from bylines and metadata: "By Jane Doe and John Roe, Staff Writers" -> two names.

Sources disagree on form (JSON-LD gives clean names, meta tags and visible bylines carry "By",
roles, e-mails, several names in one string). Everything goes through :func:`clean_authors`
so the archive stores one comparable shape. Agency names ("Associated Press", "dpa") are
kept as given: for wire copy they are the author.
"""

from __future__ import annotations

import re

# Leading byline words, per language we see in the corpus and on the outlets we follow.
_PREFIX = re.compile(
    r"^\s*(?:(?:written|reported|posted|compiled|edited|text|photos?|words)\s+by|by|von|par|por|av|af|"
    r"door|автор(?:ы|ка)?|від|текст|authors?|autor(?:in|en)?|autore|text)\b[\s:]*",
    re.I)
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<!\w)@\w+")
# Separators between several names in one string.
_SPLIT = re.compile(r"\s*(?:;|\||,|/|\n|\s+(?:and|und|et|y|e|i|и|і|та|og|och|en|ve)\s+|\s+&\s+)\s*", re.I)
# Pieces made only of these words are roles or filler, not names.
_ROLE_WORDS = {
    "staff", "writer", "writers", "reporter", "reporters", "senior", "chief", "correspondent",
    "correspondents", "editor", "editors", "contributor", "contributing", "columnist", "photographer",
    "photography", "associate", "assistant", "managing", "deputy", "political", "business", "news",
    "sports", "special", "to", "the", "for", "producer", "analyst", "journalist", "freelance",
    "redakteur", "redakteurin", "korrespondent", "korrespondentin", "autor", "autorin", "updated",
    "published", "more", "read", "min", "minutes", "ago", "share", "follow", "international",
    "investigative", "digital", "desk", "team", "and", "et", "und", "in", "on", "at", "of",
    "корреспондент", "редактор", "обозреватель", "журналист", "фото", "photo", "video", "view",
    "кореспондент", "оглядач", "журналіст", "специальный", "собственный", "спецкор", "власний",
}
_TRAILING_ROLE = re.compile(r"\s*[-–—|(]\s*(?:[^\W\d_]+\s*){1,4}\)?$")


def clean_authors(raw: list[str] | str | None) -> list[str]:
    """Split, strip and de-duplicate author strings; returns names in their original order."""
    if not raw:
        return []
    values = [raw] if isinstance(raw, str) else list(raw)
    names: list[str] = []
    for value in values:
        if not isinstance(value, str):
            continue
        value = _URL.sub(" ", _EMAIL.sub(" ", value))
        value = _HANDLE.sub(" ", value)
        value = re.sub(r"\s+", " ", value).strip()
        found = [n for n in (_clean_piece(p) for p in _SPLIT.split(value)) if n]
        if not found and len(value.split()) <= 3:
            # A byline that is only a role ("Redaktion", "Staff Writer") is still the byline.
            found = [_PREFIX.sub("", value).strip(" :-,|")]
        for name in found:
            if name and name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
    return names


def _clean_piece(piece: str) -> str | None:
    piece = piece.strip(" \t:-–—·•.,|")
    for _ in range(2):  # "By: Text von Jane" - at most two stacked prefixes
        piece = _PREFIX.sub("", piece, count=1).strip(" \t:-–—·•,|")
    piece = re.sub(r"\((?:[^)]*)\)", "", piece).strip()  # "(AP)", "(Reuters)", "(@handle)"
    tail = _TRAILING_ROLE.search(piece)
    if tail and _is_role(re.sub(r"[-–—|()]", " ", tail.group())):
        piece = piece[: tail.start()].strip()
    if not piece or _is_role(piece):
        return None
    words = piece.split()
    # Names are short and contain letters; long strings are sentences that slipped in.
    if len(words) > 6 or not re.search(r"[^\W\d_]", piece) or sum(c.isdigit() for c in piece) > 2:
        return None
    return piece


def _is_role(text: str) -> bool:
    words = re.findall(r"[^\W\d_]+", text.lower())
    return bool(words) and all(w in _ROLE_WORDS for w in words)
