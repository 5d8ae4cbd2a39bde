"""pytest fixtures (helpers to import live in ``tests/helpers.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import REAL_DATA


@pytest.fixture
def real_data() -> Path:
    if not (REAL_DATA / "labeled").is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA
