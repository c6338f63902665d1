"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
REPO = TESTS.parent
#: The project's shared folder (real OLCAO runs, references) beside the repo.
SHARED = REPO.parent / "shared"


@pytest.fixture
def data_dir() -> Path:
    return DATA
