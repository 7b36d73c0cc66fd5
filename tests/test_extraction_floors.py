"""CI guard: our extractor's quality on a fixed corpus subset must not drop below recorded floors.

Floors live in bench/extraction_floors.json, written by `python bench/extraction_eval.py
--write-floors` from a measured run of the same subset (a few points below what was measured).
"""

import json

import pytest

from bench import extraction_eval as ev
from tests.conftest import needs_corpus


@pytest.fixture(scope="module")
def corpus():
    return needs_corpus()


def test_extraction_quality_floors(corpus):
    floors = json.loads(ev.FLOORS_FILE.read_text())
    assert floors["subset"] == "fast"
    pages = ev.fast_subset(ev.load_pages(corpus))
    assert {p["dataset"] for p in pages} == set(ev.DATASETS)
    assert len(pages) == sum(ev.FAST_SIZES.values())
    summary = ev.summarise(ev.evaluate(pages, workers=1))
    failures = ev.check_floors(summary, floors["datasets"])
    assert not failures, "extraction quality below floors:\n" + "\n".join(failures)
    # Every dataset has floors for its body score, so a missing metric cannot pass silently.
    for dataset in ev.DATASETS:
        assert "body_f1" in floors["datasets"][dataset]
