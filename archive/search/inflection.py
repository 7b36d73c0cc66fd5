"""Which words of the index are inflected forms of a word an analyst typed.

One question per language: is `candidate` (a word of the index, lower case and folded as the
index stores it) a form of the typed word? Each language answers it with the best tool there is:

- Russian and English: the Snowball stemmers of PyStemmer (equal stems = same word), except
  where Snowball is known to be wrong for names: it reads the -ов/-ев of a surname as a plural
  ending (Токаев → тока, but Токаевым → токаев; Карим → кар), so a word ending in a consonant
  takes the endings of the masculine and surname declension instead (RU_AFTER_CONSONANT).
- Ukrainian, Kazakh, Kyrgyz, Uzbek (Cyrillic and Latin), Tajik, Turkmen and Kazakh in Latin
  letters: no stemmer exists (Snowball has none for them), so each has its suffix paradigm
  here: number, possession and case, in that order, each suffix in the form the sound before it
  selects (Kazakh genitive -ның after a vowel or м н ң, -дың after л р у й ж з, -тың after
  voiceless consonants and б в г д). Vowel harmony is not checked (names borrowed from Russian
  take either: Тоқаевтың, Путиннің): both the back and front forms are allowed, the consonant
  class is. That is what keeps Алма (apple) from finding Алматы: after a vowel the accusative
  is -ны, never -ты.

Derivational suffixes (Путин → Путинцев, Путинский; Kazakh -лық, -шы) are not endings: a
word built with them is another word, and is not found. Nor are the possessives "my", "your"
(singular) and "your" (plural, polite): news hardly uses them, and folded they make other
words (Kazakh Россияң, "your Russia", folds to Russian россиян, "of Russians"); the 3rd person
and "our" (Kazakh еліміз, "our country") are kept.
"""

from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass, field
from os.path import commonprefix
from typing import Callable

import Stemmer

from archive.search.index import fold
from archive.search.spelling import strip_marks

CYRILLIC_VOWELS = set("аеиоуыэюяёәөұүіӣӯє")
LATIN_VOWELS = set("aeiouyäöüıə")


def _variants(pattern: str) -> list[str]:
    """'л{а,е}р' -> ['лар', 'лер']: braces give the harmony variants of a suffix."""
    parts = re.split(r"\{([^}]*)\}", pattern)
    pools = [[part] if n % 2 == 0 else part.split(",") for n, part in enumerate(parts)]
    return ["".join(choice) for choice in itertools.product(*pools)]


@dataclass
class Paradigm:
    """A Turkic or Persian suffix paradigm: slots of suffixes taken in order, each suffix's
    form chosen by the class of the letter before it."""

    code: str
    script: str                       # 'cyrl' or 'latn'
    classes: dict[str, str]           # final letter (as the index stores it) -> classes
    slots: list[list[dict[str, str]]]  # per slot, the suffixes: {class: 'pattern|pattern'}
    # A suffix after the 3rd-person possessive takes another form (Kazakh -ның, -на, -н, -нда).
    after_possessive: list[dict[str, str]] = field(default_factory=list)
    possessive3: tuple[str, ...] = ()
    default_class: str = "K"
    # A final voiceless consonant voiced before an ending that starts with a vowel
    # (Turkmen Aşgabat -> Aşgabada, Kazakh кітап -> кітабы), as the index stores letters.
    voicing: dict[str, str] = field(default_factory=dict)
    vowels: str = "аеиоуыэюяёәөұүіӣӯ"
    # (final letters, first letter an ending loses after them): Kazakh writes журналист-тер
    # as журналистер, журналист-тің as журналистің.
    simplified: tuple[tuple[str, str], ...] = ()

    def classes_of(self, letter: str) -> str:
        return self.classes.get(letter, self.default_class)

    def normal(self, text: str) -> str:
        text = fold(text.lower())
        return strip_marks(text) if self.script == "latn" else text

    @functools.cached_property
    def tails(self) -> dict[str, frozenset[str]]:
        """Every ending (suffix sequence) by the class of the letter it follows."""
        table = {}
        for start in set("".join(self.classes.values())) | {self.default_class}:
            table[start] = frozenset(self._walk(start, 0, "", False))
        return table

    def _walk(self, last_classes: str, slot: int, built: str, after_possessive3: bool):
        yield built
        for n in range(slot, len(self.slots)):
            suffixes = self.after_possessive if after_possessive3 and self.after_possessive and n == len(self.slots) - 1 \
                else self.slots[n]
            for suffix in suffixes:
                for cls in last_classes:
                    for pattern in suffix.get(cls, "").split("|"):
                        for form in (_variants(pattern) if pattern else []):
                            form = self.normal(form)
                            ending = built + form
                            yield from self._walk(self.classes_of(ending[-1]), n + 1, ending,
                                                  pattern in self.possessive3)

    def is_form(self, stem: str, candidate: str) -> bool:
        if len(stem) < 3:
            return candidate == stem
        if candidate.startswith(stem):
            tail = candidate[len(stem):]
            if any(tail in self.tails.get(cls, ()) for cls in self.classes_of(stem[-1])):
                return True
            return any(stem.endswith(final) and tail and (lost + tail) in self.tails.get(cls, ())
                       for final, lost in self.simplified for cls in self.classes_of(stem[-1]))
        voiced = self.voicing.get(stem[-1])
        if voiced and candidate.startswith(stem[:-1] + voiced):
            tail = candidate[len(stem):]
            return bool(tail) and tail[0] in self.vowels \
                and any(tail in self.tails.get(cls, ()) for cls in self.classes_of(stem[-1]))
        return False

    def stems(self, word: str) -> set[str]:
        """The typed word, and what is left of it without an ending (so that a form typed
        finds the others), at least 5 letters: a shorter stem would be a guess (Раҳмон is not
        Раҳм with a plural ending)."""
        found = {word}
        for cut in range(2, len(word) - 4):
            stem, tail = word[:-cut], word[-cut:]
            if any(tail in self.tails.get(cls, ()) for cls in self.classes_of(stem[-1])):
                found.add(stem)
        return found

    def matchers(self, word: str) -> list[tuple[str, Callable[[str], bool]]]:
        return [(stem[:-1] if stem[-1] in self.voicing else stem, functools.partial(self.is_form, stem))
                for stem in self.stems(word)]


def _classes(groups: dict[str, str]) -> dict[str, str]:
    table: dict[str, str] = {}
    for letters, cls in groups.items():
        for letter in letters:
            table[letter] = table.get(letter, "") + cls
    return table


# -- Kazakh ------------------------------------------------------------------------------------
# Classes: V vowel, N м н ң, S л р у й, Z ж з, K voiceless and б в г д. в also counts as S:
# Kazakh writes Тоқаевтың (в as voiceless) but Kyrgyz Жапаровдун, and a name may go either way.
KK_CLASSES = _classes({"аәеёиоөұүыіэюя": "V", "у": "S", "мнң": "N", "лрй": "S", "жз": "Z",
                       "бвгдкқпстфхһцчшщ": "K", "в": "S"})
_KK_CASE = [
    {"V": "н{ы,і}ң", "N": "н{ы,і}ң", "S": "д{ы,і}ң", "Z": "д{ы,і}ң", "K": "т{ы,і}ң"},   # genitive
    {"V": "н{ы,і}", "N": "д{ы,і}", "S": "д{ы,і}", "Z": "д{ы,і}", "K": "т{ы,і}"},          # accusative
    {"V": "{ғ,г}{а,е}", "N": "{ғ,г}{а,е}", "S": "{ғ,г}{а,е}", "Z": "{ғ,г}{а,е}", "K": "{қ,к}{а,е}"},  # dative
    {"V": "д{а,е}", "N": "д{а,е}", "S": "д{а,е}", "Z": "д{а,е}", "K": "т{а,е}"},          # locative
    {"V": "д{а,е}н", "N": "н{а,е}н", "S": "д{а,е}н", "Z": "д{а,е}н", "K": "т{а,е}н"},    # ablative
    {"V": "м{е}н|м{е}н{е}н", "N": "м{е}н", "S": "м{е}н", "Z": "б{е}н", "K": "п{е}н"},    # instrumental
    {"V": "д{а,е}ғы|д{е}гі", "N": "д{а}ғы|д{е}гі", "S": "д{а}ғы|д{е}гі", "Z": "д{а}ғы|д{е}гі",
     "K": "т{а}ғы|т{е}гі"},                                                                # locative adjective
    {"V": "ш{а,е}", "N": "ш{а,е}", "S": "ш{а,е}", "Z": "ш{а,е}", "K": "ш{а,е}"},          # equative
    {"V": "д{а}й|д{е}й", "N": "д{а}й|д{е}й", "S": "д{а}й|д{е}й", "Z": "д{а}й|д{е}й", "K": "т{а}й|т{е}й"},  # similative
]
_KK_AFTER_POSSESSIVE = [
    {c: "н{ы,і}ң" for c in "VNSZK"}, {c: "н" for c in "VNSZK"}, {c: "н{а,е}" for c in "VNSZK"},
    {c: "нд{а,е}" for c in "VNSZK"}, {c: "н{а,е}н" for c in "VNSZK"}, {c: "м{е}н" for c in "VNSZK"},
    {c: "нд{а}ғы|нд{е}гі" for c in "VNSZK"},
]
KAZAKH = Paradigm(
    "kk", "cyrl", KK_CLASSES,
    [
        [{"V": "л{а,е}р", "S": "л{а,е}р", "N": "д{а,е}р", "Z": "д{а,е}р", "K": "т{а,е}р"}],  # plural
        [{"V": "с{ы,і}", "N": "{ы,і}", "S": "{ы,і}", "Z": "{ы,і}", "K": "{ы,і}"},           # 3rd person
         {"V": "м{ы,і}з", "N": "{ы,і}м{ы,і}з", "S": "{ы,і}м{ы,і}з", "Z": "{ы,і}м{ы,і}з", "K": "{ы,і}м{ы,і}з"}],
        _KK_CASE,
    ],
    after_possessive=_KK_AFTER_POSSESSIVE,
    possessive3=("с{ы,і}", "{ы,і}"),
    voicing={"к": "г", "п": "б"},  # қ and ғ are folded to к and г
    simplified=(("ст", "т"),),
)

# -- Kyrgyz: four-way harmony (а е о ө / ы и у ү), the same consonant classes -------------------
KY_CLASSES = _classes({"аеёиоөуүыэюя": "V", "мнң": "S", "лрй": "S", "жз": "S", "бвгд": "S",
                       "кпстфхцчшщ": "K", "в": "K"})
_A, _Y = "{а,е,о,ө}", "{ы,и,у,ү}"
_KY_CASE = [
    {"V": f"н{_Y}н", "S": f"д{_Y}н", "K": f"т{_Y}н"},
    {"V": f"н{_Y}", "S": f"д{_Y}", "K": f"т{_Y}"},
    {"V": f"г{_A}", "S": f"г{_A}", "K": f"к{_A}"},
    {"V": f"д{_A}", "S": f"д{_A}", "K": f"т{_A}"},
    {"V": f"д{_A}н", "S": f"д{_A}н", "K": f"т{_A}н"},
    {"V": f"д{_A}г{_Y}|д{_A}к{_Y}", "S": f"д{_A}г{_Y}|д{_A}к{_Y}", "K": f"т{_A}г{_Y}|т{_A}к{_Y}"},
    {"V": f"ч{_A}", "S": f"ч{_A}", "K": f"ч{_A}"},
    {"V": "менен", "S": "менен", "K": "менен"},
]
_KY_AFTER_POSSESSIVE = [
    {c: f"н{_Y}н" for c in "VSK"}, {c: "н" for c in "VSK"}, {c: f"н{_A}" for c in "VSK"},
    {c: f"нд{_A}" for c in "VSK"}, {c: f"н{_A}н" for c in "VSK"}, {c: f"нд{_A}г{_Y}" for c in "VSK"},
]
KYRGYZ = Paradigm(
    "ky", "cyrl", KY_CLASSES,
    [
        [{"V": f"л{_A}р", "S": f"д{_A}р|л{_A}р", "K": f"т{_A}р"}],
        [{"V": f"с{_Y}", "S": _Y, "K": _Y},
         {"V": f"б{_Y}з", "S": f"{_Y}б{_Y}з", "K": f"{_Y}б{_Y}з"}],
        _KY_CASE,
    ],
    after_possessive=_KY_AFTER_POSSESSIVE,
    possessive3=(f"с{_Y}", _Y),
    voicing={"к": "г", "п": "б"},
)

# -- Uzbek: no vowel harmony; Cyrillic and the official Latin alphabet ------------------------
_UZ = {  # number, possession, case as written in Cyrillic / Latin; the dative is -ка / -қа
    # only after к / қ, ғ (-га elsewhere), and the letters that take it (folded: қ к, ғ г)
    "cyrl": (["лар"], ["и|си", "имиз|миз", "лари"],
             ["нинг", "ни", "да", "дан", "даги", "дек", "дай", "ча"], ("га", "гача"), ("ка|қа", "кача|қача"), "кг"),
    "latn": (["lar"], ["i|si", "imiz|miz", "lari"],
             ["ning", "ni", "da", "dan", "dagi", "dek", "day", "cha"], ("ga", "gacha"), ("ka|qa", "kacha|qacha"), "kqg"),
}


def _uzbek(script: str) -> Paradigm:
    number, possession, case, dative, after_k, k_letters = _UZ[script]
    cases = [{"X": c, "K": c} for c in case] + [{"X": d, "K": f"{d}|{k}"} for d, k in zip(dative, after_k)]
    return Paradigm("uz", script, {letter: "K" for letter in k_letters},
                    [[{"X": "|".join(number), "K": "|".join(number)}],
                     [{"X": "|".join(possession), "K": "|".join(possession)}], cases],
                    default_class="X")


UZBEK_CYRILLIC = _uzbek("cyrl")
UZBEK_LATIN = _uzbek("latn")

# -- Turkmen (Latin, as the index stores it: ň ý ä ö ü ş ç ž without their marks) ------------------
TK_CLASSES = _classes({"aeiouyäöü": "V", "bcçdfgjklmnňprsştwzž": "C"})
TURKMEN = Paradigm(
    "tk", "latn", TK_CLASSES,
    [
        [{"V": "l{a,e}r", "C": "l{a,e}r"}],
        [{"V": "s{y,i}|m{y,i}z", "C": "{y,i,u,ü}|{y,i}m{y,i}z"},
         {"V": "l{a,e}r{y,i}", "C": "l{a,e}r{y,i}"}],
        [{"V": "n{y,i,u,ü}ň", "C": "{y,i,u,ü}ň"}, {"V": "n{y,i}|{y,i}", "C": "{y,i}"},
         {"V": "{a,e}|g{a,e}|n{a,e}", "C": "{a,e}|g{a,e}|k{a,e}"}, {"V": "d{a,e}|nd{a,e}", "C": "d{a,e}|t{a,e}"},
         {"V": "d{a,e}n|nd{a,e}n", "C": "d{a,e}n|t{a,e}n"}, {"V": "d{a}ky|d{ä}ki", "C": "d{a}ky|d{ä}ki|t{a}ky|t{ä}ki"},
         {"V": "ç{a,e}", "C": "ç{a,e}"}],
    ],
    voicing={"k": "g", "p": "b", "t": "d", "c": "j"},  # c is ç without its mark
    vowels="aeiouy",
)

# -- Tajik: Persian endings in Cyrillic -----------------------------------------------------------
TG_CLASSES = _classes({"аеиоуэюяёӣӯ": "V", "бвгғджзйкқлмнпрстуфхҳцчҷшъ": "C"})
TAJIK = Paradigm(
    "tg", "cyrl", TG_CLASSES,
    [
        [{"V": "ҳо|ён|вон|гон", "C": "ҳо|он|ён"}],
        [{"V": "и|йи|яш|ямон|яшон", "C": "и|аш|амон|ашон"}],
        [{"V": "ро|е|ӣ", "C": "ро|е|ӣ"}],
    ],
)

# -- Kazakh in Latin letters (the 2021 alphabet), from the Cyrillic paradigm --------------------
_KK_LATIN = {"а": "a", "ә": "ä", "б": "b", "в": "v", "г": "g", "ғ": "ğ", "д": "d", "е": "e", "ж": "j", "з": "z",
             "и": "i", "й": "i", "к": "k", "қ": "q", "л": "l", "м": "m", "н": "n", "ң": "ñ", "о": "o", "ө": "ö",
             "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ұ": "ū", "ү": "ü", "ф": "f", "х": "h", "һ": "h",
             "ч": "ch", "ш": "ş", "ы": "y", "і": "ı", "э": "e", "ю": "iu", "я": "ia"}


def _kazakh_latin() -> Paradigm:
    def convert(pattern: str) -> str:
        return "".join(_KK_LATIN.get(ch, ch) for ch in pattern)

    def slot(suffixes):
        return [{cls: convert(p) for cls, p in suffix.items()} for suffix in suffixes]

    latin_classes = {}
    for letter, cls in KK_CLASSES.items():
        for ch in strip_marks(convert(letter)):
            latin_classes[ch] = "".join(sorted(set(latin_classes.get(ch, "") + cls)))
    return Paradigm("kk", "latn", latin_classes, [slot(s) for s in KAZAKH.slots],
                    after_possessive=slot(KAZAKH.after_possessive),
                    possessive3=tuple(convert(p) for p in KAZAKH.possessive3),
                    voicing={"k": "g", "q": "g", "p": "b"}, vowels="aeiouy")


KAZAKH_LATIN = _kazakh_latin()

# -- Ukrainian (no Snowball stemmer): noun, surname and adjective endings, folded ---------------
UK_AFTER_CONSONANT = {"", "а", "у", "ові", "еві", "ом", "ем", "і", "е", "ю", "я", "и", "ів", "ам", "ами", "ах",
                      "ям", "ями", "ях", "им", "ими", "их", "ій", "ої", "ою", "ого", "ому"}
UK_ADJECTIVE = {"ий", "ій", "а", "я", "е", "є", "і", "ї", "ого", "ього", "ому", "ьому", "им", "ім", "ої", "ою",
                "у", "ю", "их", "іх", "ими", "іми", "ої"}
UK_VOWEL = {"а", "я", "о", "е", "и", "і", "ї", "у", "ю", "ою", "ею", "єю", "ам", "ям", "ами", "ями", "ах", "ях",
            "", "ів", "ей", "ь", "ові"}

# -- Russian ----------------------------------------------------------------------------------
# After a consonant: masculine nouns (президент-а -у -ом -е -ы -ов -ам -ами -ах) and surnames
# (Токаев-а -у -ым -е -ой -ы -ых -ыми), with the soft and hushing-consonant variants.
RU_AFTER_CONSONANT = {"", "а", "у", "ом", "ым", "е", "ы", "и", "ов", "ев", "ам", "ами", "ах", "ой", "ых", "ыми",
                      "им", "ими", "их", "ем", "ём", "ей", "ю", "я", "ям", "ями", "ях", "ою", "ую"}
_SURNAME = re.compile(r"(ов|ев|ёв|ин|ын)$")
# English inflection after the part a word and its form share (city / cit-ies, vote / vot-ed).
EN_ENDINGS = {"", "s", "es", "ies", "ied", "ed", "d", "ing", "e", "y"}
# Russian noun and adjective endings, as Snowball's Russian stemmer lists them: a form shares
# the word's Snowball stem and differs from it by one of these (not by -ность, -ный ...).
RU_ENDINGS = set("""а ев ов ие ье е иями ями ами еи ии и ией ей ой ий й иям ям ием ем ам ом о у ах иях ях ы ь ию ью ю ия
    ья я ее ые ое ими ыми ым им его ого ему ому их ых ую юю ая яя ою ею ём ёв""".split()) | {""}
_RUSSIAN_ENDINGS = sorted(RU_AFTER_CONSONANT - {""}, key=len, reverse=True)


class Snowball:
    """Russian or English: same Snowball stem = same word, with Russian's name exception."""

    def __init__(self, code: str, script: str, algorithm: str):
        self.code, self.script = code, script
        self._stemmer = Stemmer.Stemmer(algorithm)

    def stem(self, word: str) -> str:
        return self._stemmer.stemWord(word)

    def normal(self, text: str) -> str:
        text = fold(text.lower())
        return strip_marks(text) if self.script == "latn" else text

    def _consonant_final(self, word: str) -> bool:
        return self.code == "ru" and bool(word) and word[-1] not in CYRILLIC_VOWELS and word[-1] not in "ьй"

    def matchers(self, word: str) -> list[tuple[str, Callable[[str], bool]]]:
        """(prefix every form starts with, test of a candidate) for the typed word. After a
        consonant (names, masculine nouns) the word itself takes endings; otherwise the forms
        share its Snowball stem. A surname typed in another case (Токаева, Путиным) also
        gives its nominative."""
        stem = self.stem(word)
        if self._consonant_final(word):
            return [(word, functools.partial(self._after_consonant, word, stem == word))]
        prefix = commonprefix([word, stem])
        if self.code == "en":
            # Porter2 also strips derivational endings (governance, governor-ly): equal stems
            # count only when what differs is an inflectional ending.
            return [(prefix, lambda candidate: self.stem(candidate) == stem
                     and candidate[len(commonprefix([word, candidate])):] in EN_ENDINGS)]
        # Snowball also strips derivational endings (законный, законность -> закон): equal stems
        # count only when the form is the stem plus an inflectional ending.
        found = [(prefix, lambda candidate: self.stem(candidate) == stem and candidate[len(stem):] in RU_ENDINGS)]
        if self.code == "ru":
            for ending in _RUSSIAN_ENDINGS:
                nominative = word[:-len(ending)]
                if word.endswith(ending) and _SURNAME.search(nominative):
                    found.append((nominative, functools.partial(self._after_consonant, nominative, False)))
        return found

    def _after_consonant(self, word: str, snowball_agrees: bool, candidate: str) -> bool:
        if candidate == word or (candidate.startswith(word) and candidate[len(word):] in RU_AFTER_CONSONANT):
            return True
        # Snowball's equal stems count only where it does not cut the word short (президент
        # and президентом, not Токаев, which it cuts to тока).
        return snowball_agrees and self.stem(candidate) == word and candidate[len(word):] in RU_ENDINGS


class Ukrainian:
    code, script = "uk", "cyrl"

    def normal(self, text: str) -> str:
        return fold(text.lower())

    @functools.cached_property
    def _tails(self):
        return ({fold(t) for t in UK_AFTER_CONSONANT}, {fold(t) for t in UK_ADJECTIVE}, {fold(t) for t in UK_VOWEL})

    def stems(self, word: str) -> set[str]:
        after_consonant, adjective, vowel = self._tails
        found = {word}
        for ending in ("ий", "ій", "ии"):
            if word.endswith(fold(ending)) and len(word) > 4:
                found.add(word[:-2])
        if word and word[-1] in "аяоеиуюь" and len(word) > 3:
            found.add(word[:-1])
        return found

    def matchers(self, word: str) -> list[tuple[str, Callable[[str], bool]]]:
        return [(stem, functools.partial(self.is_form, stem)) for stem in self.stems(word)]

    def is_form(self, stem: str, candidate: str) -> bool:  # Ukrainian
        if candidate == stem:
            return True
        if not candidate.startswith(stem) or len(stem) < 3:
            return False
        after_consonant, adjective, vowel = self._tails
        tail = candidate[len(stem):]
        if stem[-1] in CYRILLIC_VOWELS or stem[-1] in "ьй":
            return False
        return tail in after_consonant or tail in adjective or tail in vowel


RUSSIAN = Snowball("ru", "cyrl", "russian")
ENGLISH = Snowball("en", "latn", "english")
UKRAINIAN = Ukrainian()

LANGUAGES = {
    "cyrl": [RUSSIAN, UKRAINIAN, KAZAKH, KYRGYZ, UZBEK_CYRILLIC, TAJIK],
    "latn": [ENGLISH, UZBEK_LATIN, TURKMEN, KAZAKH_LATIN],
}


def script_of(word: str) -> str:
    return "cyrl" if any("\u0400" <= ch <= "\u04ff" for ch in word) else "latn"


def matchers(word: str) -> list[tuple[str, Callable[[str], bool]]]:
    """For a typed word (as the index stores words): (prefix, test) pairs, one or more per
    language written in its script. A word of the index is a form of the typed word when it
    starts with a prefix and passes that prefix's test."""
    return [pair for language in LANGUAGES[script_of(word)] for pair in language.matchers(word) if pair[0]]


def is_form(word: str, candidate: str) -> bool:
    """Is `candidate` an inflected form of `word` in one of the languages of their script?"""
    return candidate == word or any(candidate.startswith(prefix) and test(candidate)
                                    for prefix, test in matchers(word))
