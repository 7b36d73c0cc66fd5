"""What an analyst types, checked and turned into one FTS5 MATCH expression.

The syntax (docs/search.md; the search page's help says the same):

    Токаев                every form and spelling of the word: Токаева, Тоқаевтың, Tokayev ...
    Токаев Назарбаев      both (AND may be written)
    Токаев OR Назарбаев   either
    Токаев NOT Назарбаев  the first without the second (also: Токаев -Назарбаев)
    "Токаев"              exactly this form (case, ё/е and the Kazakh letters still fold)
    "Нұр Отан"            this phrase, exactly
    Назарбаев*            every word starting so (at least 3 letters before the *)
    (Токаев OR Назарбаев) Путин

Anything else is a word: FTS5's own operators and column filters (NEAR, ^, title:) are not
available, as every term is written into the expression quoted. A query that cannot be read
raises QueryError with a sentence for the analyst; so does one over the limits (length, words,
prefixes), which keep any single query from holding the server for long: FTS5 reads every
document list a prefix covers before SQLite's progress handler gets a chance to stop it.

Plain words are expanded (`Expander`): the archive's word list (`search_terms`, see
archive/search/index.py) is read for the words starting with each stem archive/search/inflection.py gives,
and for the other script's spellings archive/search/spelling.py proposes; the forms found are ORed.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field

from archive.search import inflection, spelling
from archive.search.index import TERMS, index_form

APOSTROPHES = "'ʻʼ’‘`´"


class QueryError(ValueError):
    """A search that cannot be run; the message is written for the person who typed it."""


@dataclass(frozen=True)
class Limits:
    characters: int = 300
    terms: int = 16           # words, phrases and prefixes in one query
    prefixes: int = 4
    prefix_letters: int = 3
    depth: int = 4            # nested brackets
    forms_per_word: int = 64
    spellings_per_word: int = 8
    # A prefix covering at most this many words of the word list is searched as those words
    # ORed; one covering more is left to FTS5's own prefix query (see Expander.prefixed).
    words_per_prefix: int = 200


LIMITS = Limits()


# -- reading the query ---------------------------------------------------------------------------


@dataclass
class Word:
    text: str          # as typed
    negated: bool = False


@dataclass
class Phrase:
    text: str
    negated: bool = False


@dataclass
class Prefix:
    text: str
    negated: bool = False


@dataclass
class Group:
    op: str                                  # "AND" or "OR"
    items: list = field(default_factory=list)
    negated: bool = False


def is_token_char(ch: str) -> bool:
    """A letter or digit to SQLite's unicode61 tokenizer (categories L*, N* and Co)."""
    category = unicodedata.category(ch)
    return category[0] in "LN" or category == "Co"


def raw_tokens(text: str) -> list[str]:
    """`text` split into words as the index's tokenizer splits it, as written."""
    found, current = [], []
    for ch in text:
        if is_token_char(ch):
            current.append(ch)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def tokens(text: str) -> list[str]:
    """`text` split into words as the index stores them (lower case, archive.search.index.fold,
    Latin accents removed)."""
    return [normal(token) for token in raw_tokens(text)]


def normal(token: str) -> str:
    return index_form(token)


def _lex(query: str) -> list[tuple[str, str]]:
    """(kind, text) items: '(' ')' OR AND NOT, "phrase", word."""
    items, n = [], 0
    while n < len(query):
        ch = query[n]
        if ch.isspace():
            n += 1
        elif ch in "()":
            items.append((ch, ch))
            n += 1
        elif ch in '"“”«»':
            closing = {'"': '"', "“": "”", "”": "”", "«": "»", "»": "»"}[ch]
            end = query.find(closing, n + 1)
            if closing != '"' and end < 0:
                end = query.find('"', n + 1)
            if end < 0:
                raise QueryError('A quotation mark is not closed: put " after the words to search as written.')
            items.append(("phrase", query[n + 1:end]))
            n = end + 1
        else:
            end = n
            while end < len(query) and not query[end].isspace() and query[end] not in '()"“”«»':
                end += 1
            word = query[n:end]
            items.append((word, word) if word in ("OR", "AND", "NOT") else ("word", word))
            n = end
    return items


def parse(query: str, limits: Limits = LIMITS) -> Group:
    """The query as a tree of Group / Word / Phrase / Prefix; raises QueryError."""
    query = (query or "").strip()
    if len(query) > limits.characters:
        raise QueryError(f"The search is too long ({len(query):,} characters; at most {limits.characters}). "
                         "Search for fewer words.")
    items = _lex(query)
    position = 0
    counts = {"terms": 0, "prefixes": 0}

    def peek():
        return items[position][0] if position < len(items) else None

    def take():
        nonlocal position
        position += 1
        return items[position - 1]

    def alternatives(depth: int) -> Group:
        group = Group("OR", [sequence(depth)])
        while peek() == "OR":
            take()
            if peek() in (None, ")", "OR"):
                raise QueryError("OR needs a word on both sides, as in: Токаев OR Tokayev.")
            group.items.append(sequence(depth))
        return group if len(group.items) > 1 else group.items[0]

    def sequence(depth: int) -> Group:
        group = Group("AND")
        negate = False
        while peek() not in (None, ")", "OR"):
            kind = peek()
            if kind == "AND":
                take()
                if peek() in (None, ")", "OR", "AND"):
                    raise QueryError("AND needs a word on both sides, as in: Токаев AND Путин.")
                continue
            if kind == "NOT":
                take()
                if not group.items:
                    raise QueryError("NOT needs a word before it: Токаев NOT Назарбаев finds the first without the second.")
                if peek() in (None, ")", "OR", "AND", "NOT"):
                    raise QueryError("NOT needs a word after it: Токаев NOT Назарбаев finds the first without the second.")
                negate = True
                continue
            item = term(depth)
            if item is None:
                continue
            item.negated = item.negated or negate
            negate = False
            group.items.append(item)
        if not group.items:
            raise QueryError("Nothing to search for: type a word, a name or a phrase in quotes.")
        if all(item.negated for item in group.items):
            raise QueryError("A search cannot consist only of words to leave out (NOT, -word): add a word to look for.")
        return group

    def term(depth: int):
        kind, text = take()
        if kind == "(":
            if depth >= limits.depth:
                raise QueryError(f"Too many brackets inside brackets (at most {limits.depth} deep).")
            if peek() == ")":
                raise QueryError("Empty brackets: put words between ( and ).")
            inner = alternatives(depth + 1)
            if peek() != ")":
                raise QueryError("A bracket is not closed: add ) after the words it groups.")
            take()
            return inner if isinstance(inner, Group) else Group("AND", [inner])
        if kind == ")":
            raise QueryError("A closing bracket ) has no opening one.")
        negated = False
        if kind == "word" and text.startswith("-") and len(text) > 1:
            negated, text = True, text[1:]
        if not tokens(text):
            if kind == "phrase":
                raise QueryError("Empty quotation marks: put the words to search as written between them.")
            return None  # punctuation alone, e.g. a dash between words
        counts["terms"] += 1
        if counts["terms"] > limits.terms:
            raise QueryError(f"Too many words in one search (at most {limits.terms}).")
        if kind == "phrase":
            return Phrase(text, negated)
        if text.endswith("*") and len(tokens(text)) == 1:
            counts["prefixes"] += 1
            stem = tokens(text)[0]
            if len(stem) < limits.prefix_letters:
                raise QueryError(f"A search by the start of a word needs at least {limits.prefix_letters} letters "
                                 f"before the *: {text!r} would match too many words. "
                                 "Type the whole word instead: its other forms are found anyway.")
            if counts["prefixes"] > limits.prefixes:
                raise QueryError(f"At most {limits.prefixes} searches by the start of a word (word*) in one search.")
            return Prefix(text, negated)
        return Word(text, negated)

    if not items:
        raise QueryError("Nothing to search for: type a word, a name or a phrase in quotes.")
    tree = alternatives(0)
    if position < len(items):
        raise QueryError("A closing bracket ) has no opening one.")
    return tree if isinstance(tree, Group) else Group("AND", [tree])


# -- the word list and expansion -------------------------------------------------------------------


class WordList:
    """The archive's `search_terms`, read through one SQLite connection."""

    SCAN = 4000  # words read per prefix or spelling key at most

    def __init__(self, conn):
        self.conn = conn

    def starting_with(self, prefix: str) -> list[str]:
        return [row[0] for row in self.conn.execute(
            f"SELECT term FROM {TERMS} WHERE term >= ? AND term < ? LIMIT ?",
            (prefix, prefix + "\U0010ffff", self.SCAN))]

    def spelled(self, key: str) -> list[str]:
        return [row[0] for row in self.conn.execute(
            f"SELECT term FROM {TERMS} WHERE spelling >= ? AND spelling < ? LIMIT ?",
            (key, key + "\U0010ffff", self.SCAN))]

    def unspelled(self) -> list[str]:
        """Words another SQLite client added (no spelling key yet), at most SCAN."""
        return [row[0] for row in self.conn.execute(
            f"SELECT term FROM {TERMS} WHERE spelling IS NULL LIMIT ?", (self.SCAN,))]


@dataclass
class Forms:
    word: str               # as the index stores it
    forms: list[str]        # the word first, then the other forms found, shortest first
    left_out: int = 0       # forms found beyond the limit


class Expander:
    """Finds the forms and spellings of typed words in one archive's word list."""

    def __init__(self, words: WordList, limits: Limits = LIMITS):
        self.words, self.limits = words, limits

    def inflected(self, word: str) -> set[str]:
        found = set()
        for prefix, test in inflection.matchers(word):
            if len(prefix) < 3:
                continue
            found.update(term for term in self.words.starting_with(prefix) if test(term))
        return found

    def _spellings(self, typed: str, word: str) -> set[str]:
        """The word's spellings in the other script (and, for a Latin word, other Latin
        romanisations): the part of an index word whose key is one of the word's keys."""
        script = inflection.script_of(word)
        keys = spelling.query_keys(typed)
        unspelled = [(term, spelling.spelling_key(term)) for term in self.words.unspelled()]
        found = set()
        for key in keys:
            candidates = self.words.spelled(key) + [term for term, k in unspelled if k and k.startswith(key)]
            for term in candidates:
                same_script = inflection.script_of(term) == script
                if same_script and script == "cyrl" and len(word) < 6:
                    continue  # short Cyrillic words are compared as written, by inflected()
                for end in range(len(term), 1, -1):
                    part = term[:end]
                    if spelling.spelling_key(part) != key:
                        continue
                    if not same_script or (spelling.cyrillic_variant_key(part) == spelling.cyrillic_variant_key(word)
                                           if script == "cyrl" else
                                           spelling.latin_variant_key(part) == spelling.latin_variant_key(word)):
                        found.add(part)
                    break
        found.discard(word)
        return found

    def forms(self, typed: str) -> Forms:
        word = normal(typed)
        found = set()
        if len(word) >= 3:
            for variant in (spelling.cyrillic_variants(word) if inflection.script_of(word) == "cyrl" else {word}):
                found |= self.inflected(variant) | ({variant} if variant != word else set())
        spellings = sorted(self._spellings(typed, word), key=lambda s: (len(s), s)) if len(word) >= 3 else []
        for other in spellings[:self.limits.spellings_per_word]:
            found.add(other)
            found.update(self.inflected(other))
        found.discard(word)
        ordered = [word] + sorted(found, key=lambda s: (len(s), s))
        keep = self.limits.forms_per_word
        return Forms(word, ordered[:keep], max(0, len(ordered) - keep))


    def prefixed(self, stem: str) -> list[str] | None:
        """The words of the archive that start with `stem`, or None when there are more than
        the limit. An FTS5 prefix query merges every document list the prefix covers into one
        in memory before it can honour a rowid range or a LIMIT, and does so again for each
        MATCH a search runs (five: count, facets, window, ranking, snippets): on 2,000,000
        articles `украин*` took 0.5 s a MATCH. The same words ORed are read by separate
        cursors that seek: the newest 20,000 matches in 22 ms instead of 454 ms. The word list
        holds every word of the index (words are never taken out of it), so both find the same
        articles."""
        found = self.words.starting_with(stem)
        return found if len(found) <= self.limits.words_per_prefix else None


class CachedExpander(Expander):
    """An Expander remembering each word's forms for `ttl` seconds, or until the archive gains
    articles (`version`): new words appear as articles arrive."""

    _cache: "OrderedDict[tuple, Forms]" = OrderedDict()
    _lock = threading.Lock()
    SIZE = 2000

    def __init__(self, words: WordList, archive_key, version, ttl: float = 300.0, limits: Limits = LIMITS):
        super().__init__(words, limits)
        self.archive_key, self.version, self.ttl = archive_key, version, ttl

    def forms(self, typed: str) -> Forms:
        key = (self.archive_key, self.version, typed.lower())
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < self.ttl:
                self._cache.move_to_end(key)
                return hit[1]
        forms = super().forms(typed)
        with self._lock:
            self._cache[key] = (now, forms)
            while len(self._cache) > self.SIZE:
                self._cache.popitem(last=False)
        return forms


# -- the MATCH expression ----------------------------------------------------------------------------


def _quoted(words: list[str]) -> str:
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"'


@dataclass
class Match:
    """A query ready for FTS5: `expression` for MATCH, and what each word was expanded to."""

    query: str
    expression: str
    words: list[Forms]


def _apostrophe_variants(text: str) -> list[str]:
    """An Uzbek word written with an apostrophe (Oʻzbekiston, O'zbekiston, O‘zbekiston): the
    index has it as one word when the sign was a letter (ʻ ʼ) and as two when it was
    punctuation ('), so both are searched."""
    if not any(ch in APOSTROPHES for ch in text.strip(APOSTROPHES)):
        return []
    return [text.translate(str.maketrans({a: "ʻ" for a in APOSTROPHES})),
            text.translate(str.maketrans({a: "ʼ" for a in APOSTROPHES}))]


def compile_match(query: str, expander: Expander, limits: Limits = LIMITS) -> Match:
    """Parse and expand `query`; raises QueryError."""
    tree = parse(query, limits)
    expanded: list[Forms] = []

    def word(item: Word) -> str:
        alternatives = []
        # A word the tokenizer splits (Қасым-Жомарт, O'zbekiston) is a phrase whose last word
        # takes the endings.
        for text in [item.text] + _apostrophe_variants(item.text):
            parts = raw_tokens(text)
            if not parts:
                continue
            forms = expander.forms(parts[-1])
            expanded.append(forms)
            alternatives += [_quoted([normal(p) for p in parts[:-1]] + [form]) for form in forms.forms]
            # A form with an Uzbek apostrophe letter (oʻ, gʻ) is also written with a plain
            # apostrophe, which splits it: Oʻzbekistonda is also "o zbekistonda".
            for form in forms.forms:
                pieces = [piece for piece in re.split("[ʻʼ]", form)]
                if len(pieces) > 1 and all(pieces):
                    for ending in sorted(expander.inflected(pieces[-1]) | {pieces[-1]}, key=len)[:limits.forms_per_word]:
                        alternatives.append(_quoted([normal(p) for p in parts[:-1]] + pieces[:-1] + [ending]))
        unique = list(dict.fromkeys(alternatives))
        return unique[0] if len(unique) == 1 else "(" + " OR ".join(unique) + ")"

    def render(item) -> str:
        if isinstance(item, Group):
            positive = [render(i) for i in item.items if not i.negated]
            negative = [render(i) for i in item.items if i.negated]
            text = f" {item.op} ".join(positive)
            if len(positive) > 1:
                text = f"({text})"
            for excluded in negative:
                text = f"{text} NOT {excluded}"
            return f"({text})" if negative else text
        if isinstance(item, Phrase):
            return _quoted(tokens(item.text))
        if isinstance(item, Prefix):
            stem = tokens(item.text)[0]
            words = expander.prefixed(stem)
            if not words:  # none listed (nothing matches), or too many: FTS5's prefix query
                return _quoted([stem]) + "*"
            alternatives = [_quoted([w]) for w in words]
            return alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"
        return word(item)

    expression = render(tree)
    return Match(query.strip(), expression, expanded)
