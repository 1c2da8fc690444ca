"""Per-user random ratio split: RecBole's rounding, exact rows, no leakage, determinism."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from moorec.data.interactions import Interactions
from moorec.split import random_ratio, ratio_counts, split


def recbole_counts_reference(n: int, ratios: tuple[float, ...]) -> list[int]:
    """Plain-Python per-user counts, written from RecBole's ``_calcu_split_ids`` rule."""
    total = sum(ratios)
    r = [x / total for x in ratios]
    counts = [int(x * n) for x in r]
    counts[0] = n - sum(counts[1:])
    for back in range(1, len(r)):
        if counts[0] <= 1:
            break
        if 0 < r[-back] * n < 1:
            counts[-back] += 1
            counts[0] -= 1
    return counts


def random_data(seed: int = 0, n_users: int = 60, n_items: int = 40) -> Interactions:
    rng = np.random.default_rng(seed)
    per_user = rng.integers(0, 25, size=n_users)  # includes users with 0, 1, 2 interactions
    per_user[:4] = [1, 2, 3, 0]
    users = np.repeat(np.arange(n_users), per_user)
    rng.shuffle(users)  # rows of a user are not contiguous
    items = rng.integers(0, n_items, size=users.size)
    times = rng.uniform(0, 1000, size=users.size)
    return Interactions(
        users,
        items,
        n_users,
        n_items,
        timestamps=times,
        ratings=rng.integers(1, 6, size=users.size),
    )


# ---------------------------------------------------------------------------- rounding
@pytest.mark.parametrize(
    ("n", "expected"),
    [
        # worked by hand: c = [n - c1 - c2, int(.1n), int(.1n)], then test, then valid, take one
        # from c0 while c0 > 1 if 0 < .1n < 1
        (1, (1, 0, 0)),  # c0 = 1: nothing moves
        (2, (1, 0, 1)),  # test takes one, c0 = 1 stops valid
        (3, (1, 1, 1)),
        (4, (2, 1, 1)),
        (5, (3, 1, 1)),
        (9, (7, 1, 1)),
        (10, (8, 1, 1)),  # .1 * 10 = 1.0 is not < 1: nothing moves
        (11, (9, 1, 1)),
        (19, (17, 1, 1)),
        (20, (16, 2, 2)),
    ],
)
def test_recbole_rounding_by_hand_811(n, expected):
    assert tuple(int(c) for c in ratio_counts(n, (0.8, 0.1, 0.1))) == expected


@pytest.mark.parametrize(
    ("ratios", "n", "expected"),
    [
        ((0.7, 0.3), 1, (1, 0)),
        ((0.7, 0.3), 2, (1, 1)),
        ((0.7, 0.3), 3, (2, 1)),
        ((0.7, 0.3), 10, (7, 3)),
        ((0.6, 0.2, 0.2), 2, (1, 0, 1)),
        ((0.6, 0.2, 0.2), 4, (2, 1, 1)),
        ((0.6, 0.2, 0.2), 10, (6, 2, 2)),
    ],
)
def test_recbole_rounding_by_hand_other_ratios(ratios, n, expected):
    assert tuple(int(c) for c in ratio_counts(n, ratios)) == expected


@pytest.mark.parametrize(
    "ratios",
    [
        (0.8, 0.1, 0.1),
        (0.7, 0.2, 0.1),
        (0.6, 0.2, 0.2),
        (0.5, 0.5),
        (0.9, 0.1),
        (0.34, 0.33, 0.33),
        (0.98, 0.01, 0.01),
    ],
)
def test_ratio_counts_matches_reference(ratios):
    n = np.arange(0, 400)
    got = ratio_counts(n, ratios)
    assert got.shape == (400, len(ratios))
    want = np.array([recbole_counts_reference(int(k), ratios) for k in n])
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got.sum(axis=1), n)


def test_random_split_per_user_counts_match_reference():
    data = random_data(1)
    s = random_ratio(data, (0.8, 0.1, 0.1), seed=3)
    for u, n in enumerate(data.user_counts()):
        got = [int((p.users == u).sum()) for p in s.parts().values()]
        assert got == recbole_counts_reference(int(n), (0.8, 0.1, 0.1)), u


def test_random_split_rows_match_python_reference():
    """The vectorised split equals a per-user loop over the same seeded permutation."""
    data = random_data(2)
    ratios = (0.8, 0.1, 0.1)
    s = random_ratio(data, ratios, seed=11)
    perm = np.random.default_rng(11).permutation(len(data))
    by_user: dict[int, list[int]] = {}
    for row in perm:
        by_user.setdefault(int(data.users[row]), []).append(int(row))
    want = {"train": [], "valid": [], "test": []}
    for rows in by_user.values():
        c0, c1, _ = recbole_counts_reference(len(rows), ratios)
        want["train"] += rows[:c0]
        want["valid"] += rows[c0 : c0 + c1]
        want["test"] += rows[c0 + c1 :]
    for part in want:
        np.testing.assert_array_equal(s.rows[part], np.sort(want[part]))


# ---------------------------------------------------------------------------- no leakage
def test_every_row_in_exactly_one_part():
    data = random_data(3)
    s = random_ratio(data, seed=0)
    rows = np.concatenate([s.rows[p] for p in ("train", "valid", "test")])
    np.testing.assert_array_equal(np.sort(rows), np.arange(len(data)))
    # the parts carry the data of their rows
    for name, part in s.parts().items():
        r = s.rows[name]
        np.testing.assert_array_equal(part.users, data.users[r])
        np.testing.assert_array_equal(part.items, data.items[r])
        np.testing.assert_array_equal(part.timestamps, data.timestamps[r])
        np.testing.assert_array_equal(part.ratings, data.ratings[r])

    # multiset of (user, item, time, rating) preserved
    def tuples(x):
        return Counter(
            zip(
                x.users.tolist(),
                x.items.tolist(),
                x.timestamps.tolist(),
                x.ratings.tolist(),
                strict=True,
            )
        )

    merged = Counter()
    for part in s.parts().values():
        merged += tuples(part)
    assert merged == tuples(data)


def test_parts_share_index_space_and_side_information():
    data = random_data(4)
    s = random_ratio(data, seed=0)
    for part in s.parts().values():
        assert part.n_users == data.n_users and part.n_items == data.n_items
        assert part.user_ids is data.user_ids and part.item_ids is data.item_ids
        assert part.item_features is data.item_features


# ---------------------------------------------------------------------------- determinism
def test_same_seed_same_split_different_seed_differs():
    data = random_data(5)
    a = random_ratio(data, seed=7)
    b = random_ratio(data, seed=7)
    c = random_ratio(data, seed=8)
    for p in ("train", "valid", "test"):
        np.testing.assert_array_equal(a.rows[p], b.rows[p])
        np.testing.assert_array_equal(a.parts()[p].items, b.parts()[p].items)
    assert not np.array_equal(a.rows["test"], c.rows["test"])
    # counts per user do not depend on the seed
    assert a.report["n_interactions"] == c.report["n_interactions"]
    assert (a.seed, c.seed) == (7, 8)


def test_dispatcher_gives_the_same_split():
    data = random_data(6)
    a = split(data, "random", ratios=(0.8, 0.1, 0.1), seed=2)
    b = random_ratio(data, (0.8, 0.1, 0.1), seed=2)
    assert a.protocol == "random"
    for p in ("train", "valid", "test"):
        np.testing.assert_array_equal(a.rows[p], b.rows[p])


# ---------------------------------------------------------------------------- small users
def test_small_users_reported_and_kept_in_train():
    # users 0..4 have 1, 2, 3, 10, 1 interactions
    per_user = [1, 2, 3, 10, 1]
    users = np.repeat(np.arange(5), per_user)
    data = Interactions(users, np.arange(users.size) % 7, 6, 7)  # user 5 has none
    s = random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    r = s.report
    assert r["users_with_interactions"] == 5
    assert r["users_without_valid"] == 3  # n = 1, 2, 1
    assert r["users_without_test"] == 2  # n = 1, 1
    assert r["users_below_min"] == 0
    assert s.train.user_counts().tolist() == [1, 1, 1, 8, 1, 0]
    assert s.valid.user_counts().tolist() == [0, 0, 1, 1, 0, 0]
    assert s.test.user_counts().tolist() == [0, 1, 1, 1, 0, 0]
    assert any("no valid interaction" in n for n in r["notes"])
    assert "no valid interaction" in s.summary()


@pytest.mark.parametrize(("policy", "train_n"), [("train", 1 + 2 + 3 + 8 + 1), ("drop", 8)])
def test_min_interactions_policy(policy, train_n):
    per_user = [1, 2, 3, 10, 1]
    users = np.repeat(np.arange(5), per_user)
    data = Interactions(users, np.arange(users.size) % 7, 5, 7)
    s = random_ratio(data, seed=0, min_interactions=4, small_users=policy)
    assert s.report["users_below_min"] == 4
    assert len(s.train) == train_n
    assert s.report["dropped_interactions"] == (0 if policy == "train" else 7)
    assert len(s.valid) == len(s.test) == 1  # only the user with 10 is split
    total = sum(len(p) for p in s.parts().values())
    assert total == len(data) - s.report["dropped_interactions"]
    assert any(f"small_users='{policy}'" in n for n in s.report["notes"])


def test_two_way_split_has_empty_valid():
    data = random_data(7)
    s = random_ratio(data, (0.7, 0.3), seed=0)
    assert len(s.valid) == 0
    assert s.valid.n_users == data.n_users
    assert len(s.train) + len(s.test) == len(data)
    for u, n in enumerate(data.user_counts()):
        assert [int((s.train.users == u).sum()), int((s.test.users == u).sum())] == (
            recbole_counts_reference(int(n), (0.7, 0.3))
        )


# ---------------------------------------------------------------------------- scale
def _scale_data(n: int, n_users: int) -> Interactions:
    rng = np.random.default_rng(0)
    users = rng.integers(0, n_users, size=n, dtype=np.int32)
    items = rng.integers(0, 20_000, size=n, dtype=np.int32)
    return Interactions(users, items, n_users, 20_000)


def test_scale_two_million_interactions():
    data = _scale_data(2_000_000, 100_000)
    s = random_ratio(data, seed=0)
    counts = data.user_counts()
    want = ratio_counts(counts, (0.8, 0.1, 0.1)).sum(axis=0)
    assert [len(p) for p in s.parts().values()] == want.tolist()
    np.testing.assert_array_equal(s.test.user_counts(), ratio_counts(counts, (0.8, 0.1, 0.1))[:, 2])


@pytest.mark.slow
def test_scale_twenty_million_interactions():
    data = _scale_data(20_000_000, 1_000_000)
    s = random_ratio(data, seed=0)
    assert sum(len(p) for p in s.parts().values()) == len(data)
