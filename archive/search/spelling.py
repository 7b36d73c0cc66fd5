"""Spelling keys: one Latin skeleton for a word in Cyrillic or in any of its usual romanisations.

Токаев (Russian), Тоқаев (Kazakh), Tokayev (English press, BGN/PCGN), Tokaev (scholarly,
French), Toqaev (Kazakh Latin) all have the key `tokaev`; Жапаров, Japarov, Zhaparov and
Dzhaparov have `japarov`; Мирзиёев and Mirziyoyev meet through the alternatives below. The key
is how the word *sounds* in the romanisations analysts meet, reduced to what they agree on:

- Cyrillic letter by letter (after archive.search.index.fold: қ→к, ң→н, ў→у ...): ж дж → j,
  х → h, ц → ts, ч → ch, ш щ → sh, ы и й → i, э е → e, ю → u, я → a, ъ ь dropped.
- Latin: apostrophes dropped (Uzbek oʻ → u, gʻ → g first; BGN's ʹ ʺ too), zh dzh dj → j,
  kh x → h (Uzbek x = х), q → k, w → v (Turkmen w = в), shch → sh, a j after a vowel and
  before a consonant or the end is й (scholarly Zelenskij), y before a vowel dropped (ye ya yo
  yu are how English writes е я ё ю), any other y → i.
- In both: a doubled letter counts once (Мухаммед = Mukhamed).

The key only *proposes* spellings in the other script. archive/search/query.py accepts one only when
what follows the matching part is a word ending of that script's languages, and it never uses
the key between two Cyrillic words (their letters are compared as written, folded) nor, with
all of its merges, between two Latin words (`latin_variant_key` is the gentler comparison
there: it keeps w/v and doubled letters apart, so *wine* is not *vine*).

Where one key cannot hold both readings, the query side asks for several
(`query_keys`): ё is e in folded Cyrillic but yo → o in Latin (Mirziyoyev); Uzbek Latin x is
х but English x is кс (Alexei = Алексей); Turkmen Latin loses the marks of ş ç ž in the index
(Aşgabat is stored as asgabat), so ш ч ж also try s c z.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

_CYRILLIC_TO_KEY = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "j", "з": "z", "и": "i", "й": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e",
    "ю": "u", "я": "a",
    # Letters the index folds (archive.search.index.FOLDS), for words not folded first.
    "ё": "e", "є": "e", "ї": "i", "ґ": "g", "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u",
    "ү": "u", "һ": "h", "і": "i", "ў": "u", "ҳ": "h", "ӣ": "i", "ӯ": "u", "ҷ": "j",
}
_APOSTROPHES = "'ʻʼ’‘`´ʹʺ"  # ʹ ʺ: BGN/PCGN's soft and hard signs (Navalʹnyy)
_VOWELS = "aeiouy"
_LATIN_DIGRAPHS = [("shch", "sh"), ("dzh", "j"), ("zh", "j"), ("dj", "j"), ("kh", "h"), ("x", "h"),
                   ("q", "k"), ("w", "v")]


def is_cyrillic(word: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in word)


@functools.lru_cache(maxsize=4096)
def _plain_latin(ch: str) -> str:
    if ch < "\u00c0" or not unicodedata.name(ch, "").startswith("LATIN"):
        return ch
    return "".join(part for part in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(part))


def strip_marks(word: str) -> str:
    """Latin letters without their accents, as the index's remove_diacritics 2 stores them
    (ş → s, ň → n, ý → y); other scripts' letters as they are (й stays й)."""
    return "".join(_plain_latin(ch) for ch in word)


def _collapse(key: str) -> str:
    return re.sub(r"(.)\1+", r"\1", key)


def _cyrillic_key(word: str) -> str:
    word = word.replace("дж", "ж")
    return _collapse("".join(_CYRILLIC_TO_KEY.get(ch, ch) for ch in word))


def _latin_y(word: str) -> str:
    """y before a vowel is dropped (ye, ya, yo, yu write е, я, ё, ю), any other y is i."""
    return re.sub(r"y(?=[aeiou])", "", word).replace("y", "i")


def _latin_key(word: str) -> str:
    word = strip_marks(word)
    word = re.sub(f"o[{_APOSTROPHES}]", "u", word)
    word = re.sub(f"[{_APOSTROPHES}]", "", word)
    # Scholarly j for й after a vowel, at the end or before a consonant (Zelenskij, Navalnyj).
    word = re.sub(r"(?<=[aeiouy])j(?![aeiouy])", "y", word)
    for written, key in _LATIN_DIGRAPHS:
        word = word.replace(written, key)
    return _collapse(_latin_y(word))


def spelling_key(term: str | None) -> str | None:
    """The key of one word of the index (lower case, folded as the index stores it)."""
    if not term:
        return term
    return _cyrillic_key(term) if is_cyrillic(term) else _latin_key(term)


def latin_variant_key(word: str) -> str:
    """A gentler key for comparing two Latin spellings: q/k, kh/h, zh/j, y/i and the y of
    ye/ya/yo/yu between vowels (Tokayev = Tokaev = Toqaev), but not w/v, x, a dropped initial
    y or doubled letters, which would merge English words (wine/vine, year/ear, later/latter)."""
    word = strip_marks(word.lower())
    word = re.sub(f"o[{_APOSTROPHES}]", "u", word)
    word = re.sub(f"[{_APOSTROPHES}]", "", word)
    # ё is yo in most romanisations and ë in BGN's, which the index stores as e (Mirziyëyev).
    word = word.replace("yo", "ye")
    for written, key in (("dzh", "j"), ("zh", "j"), ("kh", "h"), ("q", "k")):
        word = word.replace(written, key)
    word = re.sub(r"(?<=[aeiou])y(?=[aeiou])", "", word)
    return word.replace("y", "i")


# Alternatives the query side tries, as (pattern in the word, keys it may stand for).
_CYRILLIC_ALTERNATIVES = [
    ("ё", ("e", "o")),              # folded Cyrillic has e; Latin writes yo, kept as o
    ("кс", ("ks", "h")),            # English x (Alexei), stored as h like Uzbek x
    ("ш", ("sh", "s")),             # Turkmen ş, stored without its mark
    ("ч", ("ch", "c")),             # Turkmen ç
    ("ж", ("j", "z")),              # Turkmen ž
]
_LATIN_ALTERNATIVES = [
    ("yo", ("o", "e")),             # yo is ё, which folded Cyrillic writes е
    ("x", ("h", "ks")),             # Uzbek x = х, English x = кс
]
MAX_KEYS = 16


def query_keys(word: str) -> set[str]:
    """Keys to look for the other script's spellings of `word` (as typed, lower case): its own
    key and the alternatives above, at most MAX_KEYS."""
    word = word.lower()
    if is_cyrillic(word):
        # е after a vowel is often ё written plainly (Мирзиеев for Мирзиёев).
        word = re.sub(r"(?<=[аеиоуыэюяёөұүә])е", "ё", word.replace("дж", "ж"))
        alternatives, convert = _CYRILLIC_ALTERNATIVES, _cyrillic_key
    else:
        word = strip_marks(word)
        alternatives, convert = _LATIN_ALTERNATIVES, _latin_key
    pieces: list[tuple[str, ...]] = []
    position = 0
    pattern = re.compile("|".join(re.escape(written) for written, _ in alternatives))
    choices = dict(alternatives)
    for match in pattern.finditer(word):
        pieces.append((convert(word[position:match.start()]),))
        pieces.append(choices[match.group(0)])
        position = match.end()
    pieces.append((convert(word[position:]),))
    keys = set()
    for combination in itertools.islice(itertools.product(*pieces), MAX_KEYS):
        keys.add(_collapse("".join(combination)))
    keys.add(spelling_key(word.replace("ё", "е")) if is_cyrillic(word) else _latin_key(word))
    return keys


# Russian and Ukrainian write the same surnames and adjectives with -ский / -ський, -цкий /
# -цький (Зеленский, Зеленський): the one difference between their folded spellings that the
# index's fold does not already remove (і/и, є/е, ї/и are folded).
_RU_UK = [("ский", "ський"), ("цкий", "цький"), ("ская", "ська"), ("цкая", "цька")]


def cyrillic_variants(word: str) -> set[str]:
    """The word as Russian and as Ukrainian spell it (folded as the index stores words)."""
    found = {word}
    for russian, ukrainian in _RU_UK:
        for a, b in ((russian, ukrainian), (ukrainian, russian)):
            if word.endswith(a):
                found.add(word[:-len(a)] + b)
    return found


_CYRILLIC_VARIANT = str.maketrans({"э": "е", "ы": "и", "й": "и", "ь": None, "ъ": None})


def cyrillic_variant_key(word: str) -> str:
    """For two Cyrillic spellings of one name in different orthographies (Russian Эрдоган,
    Kazakh Ердоған; Бердымухамедов, Бердимухамедов): э/е, ы/и, й/и and the soft and hard signs
    do not count. Used for words of 6 letters or more only: shorter Russian words differ by
    exactly these letters (был/бил, брат/брать)."""
    return word.translate(_CYRILLIC_VARIANT)
