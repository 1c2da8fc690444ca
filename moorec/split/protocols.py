"""Split protocols: per-user random ratio split, leave-one-out and a global temporal cut.

All protocols are vectorised over users (at most one sort of the interactions, no Python loop
over users), so they run on tens of millions of interactions.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from moorec.data.interactions import Interactions
from moorec.errors import (
    ConfigError,
    EmptyDataError,
    SplitError,
    UnknownNameError,
    check_choice,
    check_positive_int,
)
from moorec.split.container import PARTS, Split

__all__ = [
    "PROTOCOLS",
    "leave_one_out",
    "random_ratio",
    "ratio_counts",
    "split",
    "temporal",
]

_SMALL_USERS = ("train", "drop")
_LOO_ORDERS = ("time", "random")
_ROUNDING_HOW = "under the rounding rule (they stay in the split, mostly in train)"
_LOO_HOW = "(at least one interaction is kept for train)"


# ---------------------------------------------------------------------------- validation
def _check_data(data: object) -> Interactions:
    if not isinstance(data, Interactions):
        raise ConfigError(
            f"data must be a moorec Interactions, got {type(data).__name__}; build one with "
            "Interactions.from_raw(users, items, ...)"
        )
    if len(data) == 0:
        raise EmptyDataError(f"cannot split data set {data.name!r}: it holds no interactions")
    return data


def _check_ratios(ratios: object) -> tuple[float, ...]:
    """Validate ``ratios`` and return them normalised by their sum (as RecBole does)."""
    try:
        values = tuple(float(r) for r in ratios)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise SplitError(
            f"ratios must be a sequence of 2 numbers (train, test) or 3 (train, valid, test), "
            f"got {ratios!r}"
        ) from None
    if len(values) not in (2, 3):
        raise SplitError(
            f"ratios must have 2 entries (train, test) or 3 (train, valid, test), got "
            f"{len(values)}: {ratios!r}"
        )
    total = math.fsum(values)
    if not all(math.isfinite(r) and r > 0 for r in values):
        raise SplitError(
            f"ratios must all be positive and finite, got {ratios!r} (sum {total:.6g})"
        )
    if abs(total - 1.0) > 1e-6:
        raise SplitError(
            f"ratios must sum to 1, got {ratios!r} which sum to {total:.6g}; "
            "e.g. ratios=(0.8, 0.1, 0.1)"
        )
    # RecBole divides by the plain left-to-right sum; do the same so that the counts match
    plain = sum(values)
    return tuple(r / plain for r in values)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(
            f"seed must be a non-negative integer (splits are reproducible), got {seed!r}"
        )
    return int(seed)


def _check_timestamps(data: Interactions, protocol: str, hint: str) -> np.ndarray:
    if data.timestamps is None:
        raise SplitError(
            f"{protocol} needs timestamps, but data set {data.name!r} has none; {hint}"
        )
    t = data.timestamps
    bad = np.isnan(t)
    if bad.any():
        raise SplitError(
            f"{protocol} needs a timestamp on every interaction, but {int(bad.sum())} of "
            f"{len(t)} in {data.name!r} are NaN; drop or fill them first"
        )
    return t


# ---------------------------------------------------------------------------- RecBole rounding
def ratio_counts(n: int | np.ndarray, ratios: Sequence[float]) -> np.ndarray:
    """Per-group part sizes under RecBole's rounding rule, vectorised over groups.

    Replicates ``Dataset._calcu_split_ids`` of RecBole (``recbole/data/dataset/dataset.py``,
    used by ``split_by_ratio`` with ``group_by`` the user field): for ``n`` interactions and
    ratios ``r``, ``c[i] = int(r[i] * n)`` for every part ``i >= 1``, ``c[0] = n - sum(c[1:])``;
    then, "to make sure every part is not empty", for ``i = 1 .. k-1`` the part ``k - i`` (the
    last part first, then backwards) takes one interaction from ``c[0]`` if ``0 < r[k-i] * n < 1``,
    stopping as soon as ``c[0] <= 1``. With ratios ``(0.8, 0.1, 0.1)``: ``n=1 -> (1, 0, 0)``,
    ``n=2 -> (1, 0, 1)``, ``n=3 -> (1, 1, 1)``, ``n=9 -> (7, 1, 1)``, ``n=10 -> (8, 1, 1)``.

    Args:
        n: number of interactions, an int or an ``[m]`` integer array (one per group).
        ratios: ``k`` positive part ratios (train first); RecBole divides them by their sum.

    Returns:
        ``[k]`` int64 counts for an int ``n``, ``[m, k]`` int64 for an array; each row sums to
        its ``n``.

    Raises:
        SplitError: if ``ratios`` are not 2 or 3 positive numbers summing to 1.
        ConfigError: if ``n`` holds negative numbers.
    """
    ratios = _check_ratios(ratios)
    scalar = np.ndim(n) == 0
    n = np.atleast_1d(np.asarray(n, dtype=np.int64))
    if n.size and n.min() < 0:
        raise ConfigError(f"n must be non-negative interaction counts, got minimum {n.min()}")
    counts = _ratio_counts(n, ratios)
    return counts[0] if scalar else counts


def _ratio_counts(n: np.ndarray, ratios: tuple[float, ...]) -> np.ndarray:
    """``[m, k]`` int64 counts for ``[m]`` int64 ``n``; ``ratios`` already validated."""
    k = len(ratios)
    nf = n.astype(np.float64)
    # float64 products, truncated like Python's int(): the same numbers RecBole computes
    raw = [r * nf for r in ratios]
    counts = np.empty((n.size, k), dtype=np.int64)
    for i in range(1, k):
        counts[:, i] = np.floor(raw[i]).astype(np.int64)
    counts[:, 0] = n - counts[:, 1:].sum(axis=1)
    for i in range(1, k):
        p = k - i
        # RecBole breaks out of the loop once c[0] <= 1; c[0] never grows, so a mask suffices
        move = (counts[:, 0] > 1) & (raw[p] > 0) & (raw[p] < 1)
        counts[:, p] += move
        counts[:, 0] -= move
    return counts


# ---------------------------------------------------------------------------- shared machinery
def _group_by_user(users: np.ndarray, n_users: int, within: np.ndarray) -> np.ndarray:
    """Row order grouping rows by user, rows of a user in the order they appear in ``within``.

    Args:
        users: ``[n]`` int32 user index per row.
        n_users: size of the user index space.
        within: ``[n]`` int64, a permutation of ``arange(n)`` giving the order within users.

    Returns:
        ``[n]`` int64 permutation of the rows.
    """
    n = users.shape[0]
    row_bits = max(1, int(n - 1).bit_length())
    user_bits = max(1, int(n_users - 1).bit_length())
    grouped = users[within]
    if row_bits + user_bits <= 63:
        # unique int64 keys (user, position in `within`): a plain sort is fast and, keys being
        # distinct, gives the same order on every machine and numpy version
        keys = (grouped.astype(np.int64) << row_bits) | np.arange(n, dtype=np.int64)
        keys.sort()
        return within[keys & ((1 << row_bits) - 1)]
    return within[np.argsort(grouped, kind="stable")]


def _ranks(users: np.ndarray, counts: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``[n]`` int64 rank of each row of ``order`` within its user (``order`` grouped by user)."""
    starts = np.zeros(counts.size, dtype=np.int64)
    np.cumsum(counts[:-1], out=starts[1:])
    return np.arange(order.size, dtype=np.int64) - starts[users[order]]


def _last_two(users: np.ndarray, n_users: int, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of each user's largest and second largest ``key``, ties going to the later row.

    Equivalent to sorting each user's rows by ``(key, row)`` (a stable sort by ``key``) and
    taking the last two, but O(n): two passes of ``np.maximum.at``, no sort.

    Args:
        users: ``[n]`` int32 user index per row.
        n_users: size of the user index space.
        key: ``[n]`` float64 sort key (timestamps, or a random permutation).

    Returns:
        ``(last, second)``, each ``[n_users]`` int64 row indices, ``-1`` where the user has no
        (second) interaction.
    """
    rows = np.arange(users.shape[0], dtype=np.int64)
    out = []
    available = np.ones(users.shape[0], dtype=bool)
    for _ in range(2):
        top = np.full(n_users, -np.inf)
        np.maximum.at(top, users[available], key[available])
        cand = available & (key == top[users])
        pick = np.full(n_users, -1, dtype=np.int64)
        np.maximum.at(pick, users[cand], rows[cand])
        available[pick[pick >= 0]] = False
        out.append(pick)
    return out[0], out[1]


def _cold(index: np.ndarray, size: int, label: np.ndarray) -> dict[str, int]:
    """Count users (or items) of valid / test that do not occur in earlier parts.

    Args:
        index: ``[n]`` user (or item) index per row.
        size: size of that index space.
        label: ``[n]`` int8 part per row (0 train, 1 valid, 2 test).

    Returns:
        ``{"valid": unseen in train, "test": unseen in train, "test_vs_train_valid": unseen in
        train and valid}``.
    """
    present = []
    for part in range(3):
        mask = np.zeros(size, dtype=bool)
        mask[index[label == part]] = True
        present.append(mask)
    train, valid, test = present
    return {
        "valid": int((valid & ~train).sum()),
        "test": int((test & ~train).sum()),
        "test_vs_train_valid": int((test & ~train & ~valid).sum()),
    }


def _n_active(users: np.ndarray, n_users: int) -> int:
    return int(np.count_nonzero(np.bincount(users, minlength=n_users)))


def _build(
    data: Interactions,
    label: np.ndarray,
    *,
    protocol: str,
    seed: int | None,
    report: dict[str, Any],
    describe: str,
) -> Split:
    """Make a :class:`Split` from a ``[n]`` int8 part label per row (``-1`` = dropped)."""
    rows = {name: np.flatnonzero(label == j) for j, name in enumerate(PARTS)}
    parts = {
        name: data.select(
            idx, log=f"split {describe}: {name} part, {idx.size:,} of {len(data):,} interactions"
        )
        for name, idx in rows.items()
    }
    report = {
        "data": data.name,
        **report,
        "n_input": len(data),
        "n_interactions": {name: len(p) for name, p in parts.items()},
        "n_users": {name: _n_active(p.users, p.n_users) for name, p in parts.items()},
    }
    report.setdefault("notes", [])
    out = Split(**parts, protocol=protocol, seed=seed, report=report, rows=rows)
    return out.check()


def _small_user_note(n_small: int, rows: int, min_interactions: int, policy: str) -> str:
    verb = "kept whole in train" if policy == "train" else "dropped"
    return (
        f"{n_small:,} users with fewer than {min_interactions} interactions ({rows:,} "
        f"interactions) {verb} (small_users={policy!r})"
    )


def _missing_note(mask: np.ndarray, counts: np.ndarray, part: str, how: str) -> str:
    k = int(mask.sum())
    n = counts[mask]
    span = f"{n.min()}" if n.min() == n.max() else f"{n.min()} to {n.max()}"
    plural = "" if span == "1" else "s"
    return f"{k:,} users with {span} interaction{plural} get no {part} interaction {how}"


# ---------------------------------------------------------------------------- protocols
def random_ratio(
    data: Interactions,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    seed: int = 0,
    min_interactions: int = 1,
    small_users: str = "train",
) -> Split:
    """Per-user random split with RecBole's rounding rule (RecBole's default ``RO_RS`` 8:1:1).

    The interactions of each user are shuffled (``np.random.default_rng(seed)``) and cut into
    parts of the sizes given by :func:`ratio_counts`, which replicates RecBole's
    ``Dataset._calcu_split_ids`` / ``split_by_ratio`` (``recbole/data/dataset/dataset.py``):
    ``c[i] = int(r[i] * n)`` for ``i >= 1``, ``c[0] = n - sum(c[1:])``, then the last part, and
    then the one before it, take one interaction from ``c[0]`` while ``c[0] > 1`` if
    ``0 < r[i] * n < 1``. Under ``(0.8, 0.1, 0.1)`` a user with one interaction has it in train
    only, a user with two has one in train and one in test (none in valid); such users stay in
    the split and are counted in ``report["users_without_valid"]`` / ``["users_without_test"]``.

    Vectorised: one sort of ``[n]`` int64 keys, no loop over users.

    Args:
        data: interactions to split, ``n`` rows.
        ratios: ``(train, valid, test)`` or ``(train, test)`` shares, positive, summing to 1.
            With two ratios the ``valid`` part is empty.
        seed: seed of the shuffle within users; the same seed gives the same split.
        min_interactions: users with fewer interactions are not split but handled as
            ``small_users`` says. The default 1 splits every user, as RecBole does.
        small_users: ``"train"`` keeps small users' interactions in train; ``"drop"`` leaves
            them out of every part.

    Returns:
        The :class:`~moorec.split.container.Split`, protocol ``"random"``; ``report`` holds
        ``users_below_min``, ``dropped_interactions``, ``users_without_valid`` and
        ``users_without_test`` (among users with interactions) and explaining ``notes``.

    Raises:
        SplitError: if ``ratios`` are not 2 or 3 positive numbers summing to 1.
        ConfigError: if ``seed`` or ``min_interactions`` is invalid.
        UnknownNameError: if ``small_users`` is not ``"train"`` or ``"drop"``.
        EmptyDataError: if ``data`` holds no interactions.

    Example:
        >>> import numpy as np
        >>> from moorec.data.interactions import Interactions
        >>> data = Interactions(np.repeat(np.arange(3), 10), np.tile(np.arange(10), 3), 3, 10)
        >>> s = random_ratio(data, (0.8, 0.1, 0.1), seed=0)
        >>> s.report["n_interactions"]
        {'train': 24, 'valid': 3, 'test': 3}
    """
    data = _check_data(data)
    ratios = _check_ratios(ratios)
    seed = _check_seed(seed)
    min_interactions = check_positive_int("min_interactions", min_interactions)
    check_choice("small_users policy", small_users, _SMALL_USERS)

    users = data.users
    counts = data.user_counts()
    rng = np.random.default_rng(seed)
    order = _group_by_user(users, data.n_users, rng.permutation(len(data)))
    rank = _ranks(users, counts, order)

    sizes = _ratio_counts(counts, ratios)  # [n_users, k]
    small = (counts > 0) & (counts < min_interactions)
    # bounds[u, j]: rank at which part j+1 starts for user u
    bounds = np.cumsum(sizes, axis=1)[:, :-1]
    ou = users[order]
    part_sorted = np.zeros(order.size, dtype=np.int8)
    for j in range(bounds.shape[1]):
        part_sorted += rank >= bounds[ou, j]
    if len(ratios) == 2:  # (train, test): the second part is test
        part_sorted *= 2
    part_sorted[small[ou]] = 0 if small_users == "train" else -1
    label = np.empty(order.size, dtype=np.int8)
    label[order] = part_sorted

    split_users = (counts > 0) & ~small
    no_valid = split_users & ((sizes[:, 1] == 0) if len(ratios) == 3 else True)
    no_test = split_users & (sizes[:, -1] == 0)
    notes = []
    if small.any():
        notes.append(
            _small_user_note(
                int(small.sum()), int(counts[small].sum()), min_interactions, small_users
            )
        )
    if len(ratios) == 2:
        notes.append("two ratios given: (train, test); the valid part is empty")
    elif no_valid.any():
        notes.append(_missing_note(no_valid, counts, "valid", _ROUNDING_HOW))
    if no_test.any():
        notes.append(_missing_note(no_test, counts, "test", _ROUNDING_HOW))
    report = {
        "settings": {
            "ratios": tuple(round(r, 6) for r in ratios),
            "seed": seed,
            "min_interactions": min_interactions,
            "small_users": small_users,
        },
        "users_with_interactions": int((counts > 0).sum()),
        "users_below_min": int(small.sum()),
        "dropped_interactions": int(counts[small].sum()) if small_users == "drop" else 0,
        "users_without_valid": int(no_valid.sum()),
        "users_without_test": int(no_test.sum()),
        "notes": notes,
    }
    ratio_text = "/".join(f"{r:g}" for r in ratios)
    return _build(
        data,
        label,
        protocol="random",
        seed=seed,
        report=report,
        describe=f"random {ratio_text} seed={seed}",
    )


def leave_one_out(
    data: Interactions,
    *,
    order: str = "time",
    seed: int = 0,
    min_interactions: int = 3,
    small_users: str = "train",
) -> Split:
    """Per-user leave-one-out: the last interaction is test, the second last valid.

    The protocol of SASRec (Kang and McAuley, ICDM 2018) and RecBole's sequential setting
    (``LS`` with ``valid_and_test``). With ``order="time"`` each user's interactions are
    ordered by timestamp, ties kept in input row order (a stable sort); with ``order="random"``
    they are shuffled by ``np.random.default_rng(seed)``. O(n): no sort, two passes of
    ``np.maximum.at`` find each user's last two interactions.

    Users with fewer than ``min_interactions`` interactions are not split: ``small_users``
    says whether they stay whole in train or are dropped; either way they are counted in the
    report. Users at or above ``min_interactions`` always keep at least one training
    interaction (as RecBole's ``_split_index_by_leave_one_out`` does): with
    ``min_interactions`` below 3, a user with 2 interactions gets a test but no valid one, and a
    user with 1 stays in train.

    Args:
        data: interactions to split, ``n`` rows (with timestamps when ``order="time"``).
        order: ``"time"`` or ``"random"``.
        seed: seed of the shuffle for ``order="random"`` (unused for ``"time"``).
        min_interactions: smallest number of interactions a user needs to be split.
        small_users: ``"train"`` or ``"drop"``.

    Returns:
        The :class:`~moorec.split.container.Split`, protocol ``"loo"``; ``report`` holds
        ``users_below_min``, ``dropped_interactions``, ``users_without_valid`` and
        ``users_without_test``.

    Raises:
        SplitError: if ``order="time"`` and ``data`` has no (or NaN) timestamps.
        UnknownNameError: if ``order`` or ``small_users`` is not a valid choice.
        ConfigError: if ``seed`` or ``min_interactions`` is invalid.
        EmptyDataError: if ``data`` holds no interactions.
    """
    data = _check_data(data)
    check_choice("leave-one-out order", order, _LOO_ORDERS)
    check_choice("small_users policy", small_users, _SMALL_USERS)
    min_interactions = check_positive_int("min_interactions", min_interactions)
    if order == "time":
        key = _check_timestamps(
            data,
            "leave_one_out(order='time')",
            "use order='random', or a loader that keeps the timestamps",
        )
        used_seed = None
    else:
        used_seed = _check_seed(seed)
        key = np.random.default_rng(used_seed).permutation(len(data)).astype(np.float64)

    users = data.users
    counts = data.user_counts()
    last, second = _last_two(users, data.n_users, key)
    small = (counts > 0) & (counts < min_interactions)
    label = np.zeros(len(data), dtype=np.int8)
    keep = ~small & (counts >= 2)  # a user with one interaction keeps it for train
    label[last[keep]] = 2
    keep &= counts >= 3
    label[second[keep]] = 1
    label[small[users]] = 0 if small_users == "train" else -1

    split_users = (counts > 0) & ~small
    no_valid = split_users & (counts < 3)
    no_test = split_users & (counts < 2)
    notes = []
    if small.any():
        notes.append(
            _small_user_note(
                int(small.sum()), int(counts[small].sum()), min_interactions, small_users
            )
        )
    if no_valid.any():
        notes.append(_missing_note(no_valid, counts, "valid", _LOO_HOW))
    if no_test.any():
        notes.append(_missing_note(no_test, counts, "test", _LOO_HOW))
    settings: dict[str, Any] = {"order": order}
    if order == "random":
        settings["seed"] = used_seed
    settings.update(min_interactions=min_interactions, small_users=small_users)
    report = {
        "settings": settings,
        "users_with_interactions": int((counts > 0).sum()),
        "users_below_min": int(small.sum()),
        "dropped_interactions": int(counts[small].sum()) if small_users == "drop" else 0,
        "users_without_valid": int(no_valid.sum()),
        "users_without_test": int(no_test.sum()),
        "notes": notes,
    }
    return _build(
        data,
        label,
        protocol="loo",
        seed=used_seed,
        report=report,
        describe=f"leave-one-out by {order}",
    )


def temporal(
    data: Interactions,
    ratios: Sequence[float] | None = None,
    *,
    cuts: Sequence[float] | None = None,
) -> Split:
    """Global temporal split: one pair of cut times for all users.

    Interactions with ``t < t_valid`` are train, ``t_valid <= t < t_test`` valid and
    ``t >= t_test`` test, so every training interaction happened before every validation one,
    and every validation one before every test one. The cut times are given (``cuts``) or
    taken from ``ratios``: the interactions are sorted by time and the sizes from
    :func:`ratio_counts` (RecBole's rounding, applied to all ``n`` rows at once) say where the
    cuts fall; ties at a cut move to the later part, so the realised shares can differ slightly
    from ``ratios`` (see ``report["n_interactions"]``).

    Users and items of valid / test that never occur in train (cold start) are kept and
    counted: ``report["cold_users"]`` and ``report["cold_items"]`` map ``"valid"``, ``"test"``
    (unseen in train) and ``"test_vs_train_valid"`` (unseen in train and valid) to counts.

    Args:
        data: interactions with timestamps, ``n`` rows.
        ratios: ``(train, valid, test)`` or ``(train, test)`` shares; defaults to
            ``(0.8, 0.1, 0.1)`` when ``cuts`` is not given.
        cuts: ``(t_valid, t_test)`` cut times with ``t_valid <= t_test``, or ``(t_test,)`` for
            a train / test split; same units as ``data.timestamps``.

    Returns:
        The :class:`~moorec.split.container.Split`, protocol ``"temporal"``, ``seed=None``;
        ``report["cuts"]`` holds the cut times used.

    Raises:
        SplitError: if ``data`` has no (or NaN) timestamps, the ratios or cuts are invalid, or
            the cut leaves the train part empty.
        ConfigError: if both ``ratios`` and ``cuts`` are given.
        EmptyDataError: if ``data`` holds no interactions.
    """
    data = _check_data(data)
    t = _check_timestamps(
        data, "temporal split", "use protocol 'random' or a loader that keeps the timestamps"
    )
    if ratios is not None and cuts is not None:
        raise ConfigError(
            f"give either ratios or cuts to temporal(), not both; got ratios={ratios!r}, "
            f"cuts={cuts!r}"
        )
    if cuts is None:
        ratios = _check_ratios((0.8, 0.1, 0.1) if ratios is None else ratios)
        sizes = _ratio_counts(np.array([len(data)], dtype=np.int64), ratios)[0]
        starts = np.cumsum(sizes)[:-1]  # first sorted position of each later part
        inside = [int(k) for k in starts if k < t.size]
        kth = np.partition(t, inside) if inside else t  # O(n) order statistics, no full sort
        cut_values = [float(kth[k]) if k < t.size else math.inf for k in starts]
        settings: dict[str, Any] = {"ratios": tuple(round(r, 6) for r in ratios)}
    else:
        try:
            cut_values = [float(c) for c in cuts]
        except (TypeError, ValueError):
            raise SplitError(
                f"cuts must be (t_valid, t_test) or (t_test,) numbers, got {cuts!r}"
            ) from None
        if len(cut_values) not in (1, 2) or not all(not math.isnan(c) for c in cut_values):
            raise SplitError(f"cuts must be (t_valid, t_test) or (t_test,) numbers, got {cuts!r}")
        if len(cut_values) == 2 and cut_values[0] > cut_values[1]:
            raise SplitError(
                f"cuts must satisfy t_valid <= t_test, got t_valid={cut_values[0]!r} > "
                f"t_test={cut_values[1]!r}; did you swap them?"
            )
        settings = {"cuts": tuple(cut_values)}
    if len(cut_values) == 1:
        t_valid = t_test = cut_values[0]
    else:
        t_valid, t_test = cut_values

    label = np.zeros(t.size, dtype=np.int8)
    label[t >= t_valid] = 1
    label[t >= t_test] = 2
    if not (label == 0).any():
        raise SplitError(
            f"temporal cut at t_valid={t_valid!r} leaves train empty: the earliest timestamp "
            f"in {data.name!r} is {t.min()!r}; choose a later cut or larger train ratio"
        )

    users, items = data.users, data.items
    cold_users = _cold(users, data.n_users, label)
    cold_items = _cold(items, data.n_items, label)
    train_users = np.zeros(data.n_users, dtype=bool)
    train_users[users[label == 0]] = True
    cold_test_rows = int(((label == 2) & ~train_users[users]).sum())
    notes = []
    for part in ("valid", "test"):
        if cold_users[part] or cold_items[part]:
            notes.append(
                f"{part}: {cold_users[part]:,} users and {cold_items[part]:,} items unseen in "
                "train (kept; cold start)"
            )
    if len(cut_values) == 1:
        notes.append("one cut given: (train, test); the valid part is empty")
    elif not (label == 1).any():
        notes.append("the valid part is empty (t_valid == t_test or no interaction between)")
    if not (label == 2).any():
        notes.append("the test part is empty (no interaction at or after t_test)")
    report = {
        "settings": settings,
        "cuts": {"t_valid": t_valid, "t_test": t_test},
        "cold_users": cold_users,
        "cold_items": cold_items,
        "test_interactions_of_cold_users": cold_test_rows,
        "notes": notes,
    }
    return _build(
        data,
        label,
        protocol="temporal",
        seed=None,
        report=report,
        describe=f"temporal t_valid={t_valid:g} t_test={t_test:g}",
    )


#: Split protocols by name, as accepted by :func:`split`.
PROTOCOLS: dict[str, Callable[..., Split]] = {
    "random": random_ratio,
    "loo": leave_one_out,
    "temporal": temporal,
}


def split(data: Interactions, protocol: str = "random", **kwargs: Any) -> Split:
    """Split ``data`` with the protocol named ``protocol``.

    Args:
        data: interactions to split.
        protocol: ``"random"`` (:func:`random_ratio`), ``"loo"`` (:func:`leave_one_out`) or
            ``"temporal"`` (:func:`temporal`).
        **kwargs: options of that protocol, e.g. ``ratios``, ``seed``, ``order``.

    Returns:
        The :class:`~moorec.split.container.Split`.

    Raises:
        UnknownNameError: if ``protocol`` is unknown, or an option is not one of the protocol's.
    """
    check_choice("split protocol", protocol, PROTOCOLS)
    fn = PROTOCOLS[protocol]
    options = [p for p in inspect.signature(fn).parameters if p != "data"]
    for key in kwargs:
        if key not in options:
            raise UnknownNameError(f"option of split protocol {protocol!r}", key, options)
    return fn(data, **kwargs)
