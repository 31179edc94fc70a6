"""Locating the bounce corpus (kept outside the repo, next to it under shared/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpora" / "bounces"


def corpus_or_skip() -> Path:
    if (CORPUS / "expected.tsv").is_file():
        return CORPUS
    message = f"bounce corpus not found at {CORPUS}"
    if os.environ.get("OUTGUARD_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError  # unreachable


@pytest.fixture(scope="session")
def corpus() -> Path:
    return corpus_or_skip()
