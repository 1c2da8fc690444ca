"""Item cold-start split: validation and test items never occur in training.

Items, not interactions, are divided at random into train, validation and test sets; every
interaction follows its item. A model is trained on the interactions of the training items and
must then rank items it has never seen interact, from their side information alone (the
"new item" setting of Schein et al., "Methods and Metrics for Cold-Start Recommendations",
SIGIR 2002; Volkovs et al., "DropoutNet", NeurIPS 2017).

Evaluated over the whole catalogue, a cold-start part mostly measures how far down a model
pushes items it never saw as positives; the fair question is how well it orders the cold items
among themselves. :func:`restrict_to_items` gives those candidates (items outside the part are
then ranked last).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moorec.data.interactions import Interactions
from moorec.errors import UnknownNameError
from moorec.split.container import PARTS, Split
from moorec.split.protocols import (
    _build,
    _check_data,
    _check_ratios,
    _check_seed,
    _cold,
    _ratio_counts,
)

__all__ = ["cold_start_items", "restrict_to_items"]


def cold_start_items(
    data: Interactions,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    seed: int = 0,
) -> Split:
    """Split by item: all interactions of an item go to the part its item was drawn into.

    The items that occur in ``data`` are shuffled (``np.random.default_rng(seed)``) and cut into
    train / valid / test item sets of the sizes :func:`~moorec.split.ratio_counts` gives for
    their number (RecBole's rounding rule: ``int(r * n_items)`` for valid and test, the rest for
    train, and valid and test get at least one item each when there are enough). Train then holds
    only the interactions of train items, valid all interactions of valid items, test all of test
    items, so no valid or test item is seen in training. Users are not split: a user may have
    interactions in every part, or only in valid or test (counted in the report).

    Args:
        data: interactions to split, ``n`` rows; items without interactions are in no part.
        ratios: ``(train, valid, test)`` or ``(train, test)`` shares of the *items*, positive,
            summing to 1. With two ratios the valid part is empty.
        seed: seed of the item shuffle; the same seed gives the same split.

    Returns:
        The :class:`~moorec.split.Split`, protocol ``"cold_items"``; ``report`` holds
        ``n_items`` (items per part), ``cold_items`` (valid / test items unseen in train: all of
        them), ``users_without_train`` (users of valid / test with no training interaction) and
        ``notes``.

    Raises:
        SplitError: if ``ratios`` are not 2 or 3 positive numbers summing to 1.
        ConfigError: if ``seed`` is invalid or ``data`` is not an ``Interactions``.
        EmptyDataError: if ``data`` holds no interactions.

    Example:
        >>> import numpy as np
        >>> from moorec.data.interactions import Interactions
        >>> data = Interactions(np.repeat(np.arange(5), 20), np.tile(np.arange(20), 5), 5, 20)
        >>> s = cold_start_items(data, (0.8, 0.1, 0.1), seed=0)
        >>> s.report["n_items"], s.report["n_interactions"]
        ({'train': 16, 'valid': 2, 'test': 2}, {'train': 80, 'valid': 10, 'test': 10})
    """
    data = _check_data(data)
    ratios = _check_ratios(ratios)
    seed = _check_seed(seed)

    present = np.flatnonzero(data.item_counts() > 0)
    rng = np.random.default_rng(seed)
    shuffled = present[rng.permutation(present.size)]
    sizes = _ratio_counts(np.array([present.size], dtype=np.int64), ratios)[0]
    if len(ratios) == 2:  # (train, test)
        sizes = np.array([sizes[0], 0, sizes[1]], dtype=np.int64)
    item_part = np.full(data.n_items, -1, dtype=np.int8)
    bounds = np.cumsum(sizes)
    for j, (lo, hi) in enumerate(zip(np.concatenate([[0], bounds[:-1]]), bounds, strict=True)):
        item_part[shuffled[lo:hi]] = j
    label = item_part[data.items]

    n_items = {name: int(sizes[j]) for j, name in enumerate(PARTS)}
    cold_items = _cold(data.items, data.n_items, label)
    train_users = np.zeros(data.n_users, dtype=bool)
    train_users[data.users[label == 0]] = True
    users_without_train = {}
    for j, name in ((1, "valid"), (2, "test")):
        part_users = np.unique(data.users[label == j])
        users_without_train[name] = int((~train_users[part_users]).sum())
    notes = [
        f"items divided {n_items['train']:,} / {n_items['valid']:,} / {n_items['test']:,} "
        "(train / valid / test); every valid and test item is unseen in train",
        "rank valid / test among their own items: candidates = restrict_to_items(split, part)",
    ]
    for part, k in users_without_train.items():
        if k:
            notes.append(f"{part}: {k:,} users have no training interaction (cold users too)")
    if len(ratios) == 2:
        notes.append("two ratios given: (train, test); the valid part is empty")
    report = {
        "settings": {"ratios": tuple(round(r, 6) for r in ratios)},
        "n_items": n_items,
        "cold_items": cold_items,
        "users_without_train": users_without_train,
        "notes": notes,
    }
    return _build(
        data, label, protocol="cold_items", seed=seed, report=report, describe="cold items"
    )


def restrict_to_items(split: Split, part: str) -> np.ndarray:
    """Candidate items for ranking ``part`` among its own items (cold-start evaluation).

    Under :func:`cold_start_items` these are exactly the part's cold items; a ranking
    restricted to them (items outside scored ``-inf``) asks how well a model orders the new
    items, which is what a new-item recommender must do.

    Args:
        split: a :class:`~moorec.split.Split`.
        part: ``"train"``, ``"valid"`` or ``"test"``.

    Returns:
        ``[m]`` int32 sorted indices of the items that occur in ``part``.

    Raises:
        UnknownNameError: if ``part`` is not a part name.
    """
    if part not in PARTS:
        raise UnknownNameError("split part", part, PARTS)
    return np.unique(getattr(split, part).items).astype(np.int32)
