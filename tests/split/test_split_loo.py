"""Leave-one-out: latest is test, second latest valid, small users, ties, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, SplitError, UnknownNameError
from moorec.split import leave_one_out, split


def timed_data(seed: int = 0, n_users: int = 50, n_items: int = 30) -> Interactions:
    rng = np.random.default_rng(seed)
    per_user = rng.integers(0, 15, size=n_users)
    per_user[:4] = [1, 2, 3, 0]
    users = np.repeat(np.arange(n_users), per_user)
    rng.shuffle(users)
    items = rng.integers(0, n_items, size=users.size)
    times = rng.integers(0, 40, size=users.size).astype(float)  # many ties on purpose
    return Interactions(users, items, n_users, n_items, timestamps=times)


def reference_loo(data: Interactions, min_interactions: int, key: np.ndarray):
    """Per-user loop: sort the user's rows by (key, row); the last is test, the one before valid."""
    want = {"train": [], "valid": [], "test": [], "dropped": []}
    for u in range(data.n_users):
        rows = sorted(np.flatnonzero(data.users == u).tolist(), key=lambda r: (key[r], r))
        if not rows:
            continue
        if len(rows) < min_interactions:
            want["dropped"] += rows
            continue
        test = rows[-1:] if len(rows) >= 2 else []
        valid = rows[-2:-1] if len(rows) >= 3 else []
        want["test"] += test
        want["valid"] += valid
        want["train"] += rows[: len(rows) - len(test) - len(valid)]
    return {k: np.sort(np.array(v, dtype=np.int64)) for k, v in want.items()}


@pytest.mark.parametrize("min_interactions", [1, 2, 3, 5])
def test_loo_time_matches_reference(min_interactions):
    data = timed_data(1)
    s = leave_one_out(data, order="time", min_interactions=min_interactions, small_users="drop")
    want = reference_loo(data, min_interactions, data.timestamps)
    for part in ("train", "valid", "test"):
        np.testing.assert_array_equal(s.rows[part], want[part])
    assert s.report["dropped_interactions"] == want["dropped"].size
    assert s.seed is None


def test_loo_test_is_latest_and_valid_second_latest():
    data = timed_data(2)
    s = leave_one_out(data)
    t = data.timestamps
    for u in np.flatnonzero(data.user_counts() >= 3):
        test_rows = s.rows["test"][data.users[s.rows["test"]] == u]
        valid_rows = s.rows["valid"][data.users[s.rows["valid"]] == u]
        train_rows = s.rows["train"][data.users[s.rows["train"]] == u]
        assert test_rows.size == valid_rows.size == 1
        assert t[train_rows].max() <= t[valid_rows[0]] <= t[test_rows[0]]
    # every row in exactly one part (no user is dropped with small_users="train")
    rows = np.concatenate([s.rows[p] for p in ("train", "valid", "test")])
    np.testing.assert_array_equal(np.sort(rows), np.arange(len(data)))


def test_loo_ties_broken_by_row_order():
    # one user, all at the same time: rows 3 (last) is test, row 2 valid
    data = Interactions([0, 0, 0, 0], [5, 6, 7, 8], 1, 9, timestamps=[1.0, 1.0, 1.0, 1.0])
    s = leave_one_out(data)
    assert s.test.items.tolist() == [8]
    assert s.valid.items.tolist() == [7]
    # later time wins over later row
    data = Interactions([0, 0, 0, 0], [5, 6, 7, 8], 1, 9, timestamps=[9.0, 2.0, 5.0, 1.0])
    s = leave_one_out(data)
    assert s.test.items.tolist() == [5]
    assert s.valid.items.tolist() == [7]
    assert sorted(s.train.items.tolist()) == [6, 8]


@pytest.mark.parametrize("policy", ["train", "drop"])
def test_loo_small_users_reported(policy):
    users = np.repeat([0, 1, 2, 3], [1, 2, 3, 6])
    data = Interactions(users, np.arange(users.size) % 5, 4, 5, timestamps=np.arange(users.size))
    s = leave_one_out(data, min_interactions=3, small_users=policy)
    r = s.report
    assert r["users_below_min"] == 2
    assert r["dropped_interactions"] == (3 if policy == "drop" else 0)
    assert len(s.valid) == len(s.test) == 2
    assert len(s.train) == (1 + 4) + (3 if policy == "train" else 0)
    assert s.train.user_counts().tolist() == ([1, 2, 1, 4] if policy == "train" else [0, 0, 1, 4])
    assert any("fewer than 3 interactions" in n for n in r["notes"])


def test_loo_below_three_keeps_one_for_train():
    users = np.repeat([0, 1, 2], [1, 2, 3])
    data = Interactions(users, np.arange(6) % 4, 3, 4, timestamps=np.arange(6))
    s = leave_one_out(data, min_interactions=1)
    assert s.train.user_counts().tolist() == [1, 1, 1]
    assert s.valid.user_counts().tolist() == [0, 0, 1]
    assert s.test.user_counts().tolist() == [0, 1, 1]
    assert s.report["users_without_valid"] == 2
    assert s.report["users_without_test"] == 1


def test_loo_random_order_deterministic_and_seed_dependent():
    data = timed_data(3)
    a = leave_one_out(data, order="random", seed=4)
    b = leave_one_out(data, order="random", seed=4)
    c = leave_one_out(data, order="random", seed=5)
    for p in ("train", "valid", "test"):
        np.testing.assert_array_equal(a.rows[p], b.rows[p])
    assert not np.array_equal(a.rows["test"], c.rows["test"])
    assert a.seed == 4
    # same reference, with the seeded permutation as the order key
    key = np.random.default_rng(4).permutation(len(data))
    want = reference_loo(data, 3, key)
    for p in ("valid", "test"):
        np.testing.assert_array_equal(a.rows[p], want[p])


def test_loo_random_needs_no_timestamps():
    data = Interactions(np.repeat([0, 1], 4), np.arange(8) % 3, 2, 3)
    s = split(data, "loo", order="random", seed=0)
    assert len(s.test) == len(s.valid) == 2


def test_loo_time_without_timestamps_errors():
    data = Interactions(np.repeat([0, 1], 4), np.arange(8) % 3, 2, 3, name="toy")
    with pytest.raises(SplitError, match=r"needs timestamps.*'toy'.*order='random'"):
        leave_one_out(data)


def test_loo_nan_timestamps_error():
    data = Interactions([0, 0, 0], [0, 1, 2], 1, 3, timestamps=[1.0, np.nan, 2.0])
    with pytest.raises(SplitError, match=r"1 of 3 .* NaN"):
        leave_one_out(data)


def test_loo_bad_options():
    data = timed_data(4)
    with pytest.raises(UnknownNameError, match=r"leave-one-out order 'latest'.*random, time"):
        leave_one_out(data, order="latest")
    with pytest.raises(UnknownNameError, match=r"small_users policy 'keep'.*drop, train"):
        leave_one_out(data, small_users="keep")
    with pytest.raises(ConfigError, match=r"min_interactions must be a positive integer.*0"):
        leave_one_out(data, min_interactions=0)
    with pytest.raises(ConfigError, match=r"seed must be a non-negative integer.*-1"):
        leave_one_out(data, order="random", seed=-1)
