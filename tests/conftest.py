"""Shared fixtures.

Tests marked ``realdata`` need the real data sets under ``$MOOREC_DATA`` (CI points it at
``../shared/datasets``). When they are missing the test is skipped with a message that says so;
under CI (``CI=true``) it fails instead, so a missing data folder can never pass unnoticed.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]


def _data_root() -> Path | None:
    candidates = []
    if os.environ.get("MOOREC_DATA"):
        candidates.append(Path(os.environ["MOOREC_DATA"]))
    candidates.append(REPO.parent / "shared" / "datasets")
    for c in candidates:
        if (c / "ml-100k" / "ml-100k.inter").exists():
            return c
    return None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Folder holding the real data sets (``ml-100k/``, ``amazon-video-games/``)."""
    root = _data_root()
    if root is None:
        msg = (
            "real data sets not found: set MOOREC_DATA to a folder holding ml-100k/ml-100k.inter "
            f"(looked in $MOOREC_DATA={os.environ.get('MOOREC_DATA')!r} and "
            f"{REPO.parent / 'shared' / 'datasets'})"
        )
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return root
