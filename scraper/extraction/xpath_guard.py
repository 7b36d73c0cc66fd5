"""Cheaper equivalents of trafilatura's XPath expressions that call `re:test`.

lxml evaluates EXSLT `re:test(@class, 'pattern')` as a Python call for every element the
predicate reaches, which makes trafilatura's boilerplate XPath lists the largest single cost of
its body pass. Every regular expression there needs some literal text to match (`'^comment[s-]'`
cannot match a class without "comment"), and XPath's `and` does not evaluate its right side
when the left is false. So `re:test(A, P)` becomes `((contains(A, 'l1') or ...) and re:test(A, P))`
where l1, ... are literals one of which any match of P contains: the same elements are selected,
and the regular expression runs only on the few whose attribute could match.

Literals are read from the pattern's parse tree (Python's own regex parser, which is what
lxml's re:test uses); a pattern that is case-insensitive, or any branch of which has no literal
of two characters or more, is left unguarded.
"""

from __future__ import annotations

import re
from functools import lru_cache

try:  # Python 3.11+
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from lxml.etree import XPath

REGEXP_NS = "http://exslt.org/regular-expressions"
_MIN_LITERAL = 2
# re:test(ARG, 'PATTERN') or re:test(ARG, 'PATTERN', 'FLAGS'); ARG is an attribute path.
_RE_TEST = re.compile(r"re:test\(\s*([@\w|:.\-\s]+?)\s*,\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)")


def guarded(expression: XPath) -> XPath:
    """`expression` with a contains() guard before each re:test it can guard."""
    return _compiled(expression.path)


@lru_cache(maxsize=None)
def _compiled(path: str) -> XPath:
    return XPath(guard_text(path), namespaces={"re": REGEXP_NS})


def guard_text(path: str) -> str:
    """The XPath source with its re:test calls guarded (see the module docstring)."""
    def replace(match: re.Match) -> str:
        argument, pattern, flags = match.group(1).strip(), match.group(2), match.group(3)
        literals = None if flags else required_literals(pattern)
        if not literals or any("'" in literal for literal in literals):
            return match.group(0)
        tests = " or ".join(f"contains({argument}, '{literal}')" for literal in literals)
        return f"(({tests}) and {match.group(0)})"

    return _RE_TEST.sub(replace, path)


def required_literals(pattern: str) -> list[str] | None:
    """Strings one of which every match of `pattern` contains; None if none can be named."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    return _sequence(list(parsed))


def _sequence(items) -> list[str] | None:
    """Literals for a sequence of items: its longest literal run, or a group's alternatives."""
    best: list[str] | None = None
    run = ""
    options: list[list[str]] = []
    for op, value in [*items, (None, None)]:
        if op is sre_constants.LITERAL:
            run += chr(value)
            continue
        if len(run) >= _MIN_LITERAL:
            options.append([run])
        run = ""
        if op is sre_constants.SUBPATTERN:
            inner = _sequence(list(value[-1]))
            if inner:
                options.append(inner)
        elif op is sre_constants.BRANCH:
            inner = _branches(value[1])
            if inner:
                options.append(inner)
    for option in options:  # fewest alternatives first, then the longest shortest literal
        if best is None or (len(option), -min(map(len, option))) < (len(best), -min(map(len, best))):
            best = option
    return best


def _branches(branches) -> list[str] | None:
    literals: list[str] = []
    for branch in branches:
        found = _sequence(list(branch))
        if not found:
            return None
        literals += found
    return list(dict.fromkeys(literals))
