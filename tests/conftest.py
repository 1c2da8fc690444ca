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


def planted_interactions(n_users: int = 120, n_items: int = 80, per_user: int = 15, seed: int = 0):
    """Interactions with planted structure: users and items in 4 groups, users mostly pick items
    of their own group, so a trained model must beat chance by a wide margin."""
    import numpy as np

    from moorec.data import Interactions, ItemFeatures

    rng = np.random.default_rng(seed)
    groups = 4
    user_group = np.arange(n_users) % groups
    item_group = np.arange(n_items) % groups
    users, items = [], []
    for u in range(n_users):
        own = np.flatnonzero(item_group == user_group[u])
        other = np.flatnonzero(item_group != user_group[u])
        n_own = int(per_user * 0.8)
        chosen = np.concatenate(
            [
                rng.choice(own, n_own, replace=False),
                rng.choice(other, per_user - n_own, replace=False),
            ]
        )
        users.extend([u] * per_user)
        items.extend(chosen.tolist())
    cats = np.zeros((n_items, groups + 1), dtype=bool)
    cats[np.arange(n_items), item_group] = True
    cats[::5, groups] = True  # a second category on some items
    feats = ItemFeatures(
        cats,
        tuple(f"g{g}" for g in range(groups + 1)),
        titles=np.array([f"item {i}" for i in range(n_items)], dtype=object),
    )
    users = np.asarray(users)
    return Interactions(
        users=users,
        items=np.asarray(items),
        n_users=n_users,
        n_items=n_items,
        timestamps=np.arange(len(users), dtype=np.float64),
        item_features=feats,
        name="planted",
    )


@pytest.fixture(scope="session")
def planted():
    return planted_interactions()


@pytest.fixture(scope="session")
def planted_split(planted):
    from moorec.split import random_ratio

    return random_ratio(planted, (0.8, 0.1, 0.1), seed=0)
