"""Tests of moorec.data.clean: hand-computed examples and brute-force references."""

from __future__ import annotations

import numpy as np
import pytest

from moorec.data import Interactions, ItemFeatures
from moorec.data.clean import drop_duplicates, implicit, k_core
from moorec.errors import ConfigError, EmptyDataError, UnknownNameError


def rows(inter):
    """(raw user, raw item) of each row."""
    return list(
        zip(inter.user_ids[inter.users].tolist(), inter.item_ids[inter.items].tolist(), strict=True)
    )


@pytest.fixture
def repeated():
    # (user, item, rating, time); pairs (a, x) and (b, x) repeat
    data = [
        ("a", "x", 1, 30),
        ("a", "x", 2, 10),
        ("a", "y", 3, 20),
        ("b", "x", 4, 5),
        ("b", "x", 5, 5),
        ("c", "z", 6, 0),
    ]
    u, i, r, t = zip(*data, strict=True)
    return Interactions.from_raw(u, i, r, t, name="rep", log=["loaded"])


def test_drop_duplicates_last_by_time(repeated):
    out = drop_duplicates(repeated)
    # (a, x): time 30 beats time 10; (b, x): equal times, the later row wins
    assert rows(out) == [("a", "x"), ("a", "y"), ("b", "x"), ("c", "z")]
    np.testing.assert_array_equal(out.ratings, [1, 3, 5, 6])
    np.testing.assert_array_equal(out.timestamps, [30, 20, 5, 0])
    assert out.log == (
        "loaded",
        "drop_duplicates(keep='last', by timestamp): removed 2 repeated "
        "(user, item) interactions, 0 users, 0 items",
    )
    assert len(repeated) == 6  # the input is unchanged


def test_drop_duplicates_first_by_time(repeated):
    out = drop_duplicates(repeated, keep="first")
    assert rows(out) == [("a", "x"), ("a", "y"), ("b", "x"), ("c", "z")]
    np.testing.assert_array_equal(out.ratings, [2, 3, 4, 6])


def test_drop_duplicates_by_row_order_without_time():
    inter = Interactions.from_raw([1, 1, 2, 1], [7, 8, 7, 7], [1, 2, 3, 4])
    np.testing.assert_array_equal(drop_duplicates(inter).ratings, [2, 3, 4])
    np.testing.assert_array_equal(drop_duplicates(inter, keep="first").ratings, [1, 2, 3])
    assert "by row order" in drop_duplicates(inter).log[-1]


def test_drop_duplicates_none_and_bad_keep():
    inter = Interactions.from_raw([1, 2], [1, 1])
    out = drop_duplicates(inter)
    assert rows(out) == [(1, 1), (2, 1)]
    assert "removed 0 repeated" in out.log[-1]
    with pytest.raises(UnknownNameError, match=r"unknown keep 'middle'; valid choices: first, "):
        drop_duplicates(inter, keep="middle")


def test_drop_duplicates_matches_brute_force():
    rng = np.random.default_rng(3)
    n = 400
    inter = Interactions.from_raw(
        rng.integers(0, 15, n),
        rng.integers(0, 10, n),
        ratings=np.arange(n),
        timestamps=rng.integers(0, 50, n),
    )
    for keep in ("first", "last"):
        best = {}
        for row, (u, i, t) in enumerate(
            zip(inter.users, inter.items, inter.timestamps, strict=True)
        ):
            key = (u, i)
            cand = (t, row)
            if key not in best or (cand > best[key] if keep == "last" else cand < best[key]):
                best[key] = cand
        expected = sorted(row for _, row in best.values())
        np.testing.assert_array_equal(drop_duplicates(inter, keep=keep).ratings, expected)


def test_implicit_threshold(repeated):
    out = implicit(repeated, threshold=4)
    # ratings 4, 5 and 6 stay; user a and item y lose all their interactions and go
    assert rows(out) == [("b", "x"), ("b", "x"), ("c", "z")]
    assert out.ratings is None
    assert out.user_ids.tolist() == ["b", "c"] and out.item_ids.tolist() == ["x", "z"]
    assert out.log[-1] == (
        "implicit(threshold=4): kept ratings >= 4; removed 3 interactions, "
        "1 user, 1 item; ratings dropped"
    )


def test_implicit_without_threshold_keeps_all(repeated):
    out = implicit(repeated)
    assert len(out) == 6 and out.ratings is None
    assert out.log[-1] == (
        "implicit(threshold=None): kept all interactions; removed 0 "
        "interactions, 0 users, 0 items; ratings dropped"
    )
    assert implicit(out).log[-1].endswith("; there were no ratings")


def test_implicit_errors(repeated):
    with pytest.raises(
        EmptyDataError,
        match=r"implicit\(threshold=7\) removed every interaction "
        r"of 'rep': no rating reaches the threshold 7 \(ratings lie in \[1, 6\]\)",
    ):
        implicit(repeated, threshold=7)
    with pytest.raises(ConfigError, match=r"implicit\(threshold=3\) needs ratings"):
        implicit(implicit(repeated), threshold=3)
    with pytest.raises(ConfigError, match=r"threshold must be a finite number or None, got '4'"):
        implicit(repeated, threshold="4")
    with pytest.raises(ConfigError, match=r"threshold must be a finite number or None, got nan"):
        implicit(repeated, threshold=float("nan"))


@pytest.fixture
def chain():
    """A k-core with user_k = item_k = 2 needs three rounds here.

    u0: i0 i1 i2 / u1: i0 i1 / u2: i2 i3. Round 1 drops (u2, i3) (i3 has 1); then u2 has 1
    interaction, round 2 drops (u2, i2); then i2 has 1, round 3 drops (u0, i2).
    """
    users = ["u0", "u0", "u0", "u1", "u1", "u2", "u2"]
    items = ["i0", "i1", "i2", "i0", "i1", "i2", "i3"]
    cats = np.eye(4, dtype=bool)
    feats = ItemFeatures(cats, ("c0", "c1", "c2", "c3"), titles=np.array(list("ABCD"), object))
    return Interactions.from_raw(
        users,
        items,
        timestamps=np.arange(7),
        name="chain",
        item_features={"item_ids": np.array(["i0", "i1", "i2", "i3"]), "features": feats},
    )


def test_k_core_rounds(chain):
    out = k_core(chain, user_k=2, item_k=2)
    assert rows(out) == [("u0", "i0"), ("u0", "i1"), ("u1", "i0"), ("u1", "i1")]
    assert (out.n_users, out.n_items) == (2, 2)
    np.testing.assert_array_equal(out.timestamps, [0, 1, 3, 4])
    assert out.item_features.titles.tolist() == ["A", "B"]
    assert out.item_features.categories.tolist() == [
        [True, False, False, False],
        [False, True, False, False],
    ]
    assert out.log[-1] == (
        "k_core(user>=2, item>=2): removed 3 interactions, 1 user, 2 items in 3 rounds"
    )


def test_k_core_one_sided(chain):
    out = k_core(chain, user_k=3, item_k=0)
    assert rows(out) == [("u0", "i0"), ("u0", "i1"), ("u0", "i2")]
    assert out.log[-1].endswith("removed 4 interactions, 2 users, 1 item in 1 round")
    assert len(k_core(chain, user_k=0, item_k=1)) == 7


def test_k_core_errors(chain):
    with pytest.raises(
        EmptyDataError,
        match=r"k_core\(user>=3, item>=3\) removed every "
        r"interaction of 'chain'",
    ):
        k_core(chain, user_k=3, item_k=3)
    with pytest.raises(ConfigError, match=r"user_k must be a non-negative integer, got -1"):
        k_core(chain, user_k=-1)
    with pytest.raises(ConfigError, match=r"item_k must be a non-negative integer, got 2.5"):
        k_core(chain, item_k=2.5)


def brute_k_core(users, items, uk, ik):
    alive = list(range(len(users)))
    while True:
        uc, ic = {}, {}
        for r in alive:
            uc[users[r]] = uc.get(users[r], 0) + 1
            ic[items[r]] = ic.get(items[r], 0) + 1
        keep = [r for r in alive if uc[users[r]] >= uk and ic[items[r]] >= ik]
        if keep == alive:
            return alive
        alive = keep


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_k_core_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = 600
    u = (rng.pareto(1.2, n) * 3).astype(int) % 60
    i = (rng.pareto(1.0, n) * 3).astype(int) % 80
    inter = Interactions.from_raw(u, i, timestamps=np.arange(n))
    expected = brute_k_core(inter.users.tolist(), inter.items.tolist(), 3, 4)
    out = k_core(inter, user_k=3, item_k=4)
    np.testing.assert_array_equal(out.timestamps, expected)
    assert out.user_counts().min() >= 3 and out.item_counts().min() >= 4
