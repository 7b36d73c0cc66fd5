import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The venv may hold an editable install of another checkout: test this tree.
sys.path.insert(0, str(REPO))

CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"offline corpus not found at {CORPUS} (expected <repo>/../shared/corpus)")
    return CORPUS
