"""pytest fixtures (helpers to import live in ``tests/helpers.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REAL_DATA


@pytest.fixture(autouse=True, scope="session")
def checkpoint_root(tmp_path_factory) -> Iterator[Path]:
    """Training stages run by tests keep their resume state in a temporary folder, never in
    the user's cache (``DAPT_CHECKPOINT_DIR``, see ``dapt.training.checkpoints``)."""
    root = tmp_path_factory.mktemp("checkpoints")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAPT_CHECKPOINT_DIR", str(root))
        yield root


@pytest.fixture
def real_data() -> Path:
    if not (REAL_DATA / "labeled").is_dir():
        pytest.skip(f"real data not found at {REAL_DATA}")
    return REAL_DATA
