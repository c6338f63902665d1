"""Shared fixtures and paths for the test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
REPO = TESTS.parent
#: The project's shared folder (real OLCAO runs, references): $OLCAOML_SHARED
#: when set (e.g. OLCAOML_SHARED=/data/olcao-shared pytest), else ../shared
#: beside the repository. Tests that need it skip, naming the path, without it.
SHARED = Path(os.environ.get("OLCAOML_SHARED") or REPO.parent / "shared").resolve()


@pytest.fixture
def data_dir() -> Path:
    return DATA
