"""Global temporal split: time order between parts, cuts, ties, cold users and items."""

from __future__ import annotations

import numpy as np
import pytest

from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, SplitError
from moorec.split import ratio_counts, split, temporal


def timed_data(seed: int = 0, n: int = 500, ties: bool = False) -> Interactions:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, 40, size=n)
    items = rng.integers(0, 60, size=n)
    times = rng.integers(0, 50, size=n).astype(float) if ties else rng.uniform(0, 1e6, size=n)
    return Interactions(users, items, 40, 60, timestamps=times)


@pytest.mark.parametrize("ties", [False, True])
def test_train_before_valid_before_test(ties):
    data = timed_data(1, ties=ties)
    s = temporal(data, (0.8, 0.1, 0.1))
    t_train, t_valid, t_test = (p.timestamps for p in s.parts().values())
    assert t_train.max() < t_valid.min()
    assert t_valid.max() < t_test.min()
    rows = np.concatenate([s.rows[p] for p in ("train", "valid", "test")])
    np.testing.assert_array_equal(np.sort(rows), np.arange(len(data)))
    assert s.protocol == "temporal" and s.seed is None


def test_ratio_cut_sizes_without_ties():
    data = timed_data(2, n=1000)
    s = temporal(data)  # default (0.8, 0.1, 0.1)
    want = ratio_counts(1000, (0.8, 0.1, 0.1)).tolist()
    assert [len(p) for p in s.parts().values()] == want == [800, 100, 100]
    order = np.argsort(data.timestamps)
    np.testing.assert_array_equal(s.rows["test"], np.sort(order[900:]))
    assert s.report["cuts"]["t_valid"] == data.timestamps[order[800]]


def test_ties_at_cut_move_to_later_part():
    # times 0..9, each twice; an 0.5/0.5 cut at position 10 falls on time 5
    times = np.repeat(np.arange(10.0), 2)
    data = Interactions(np.zeros(20, int), np.arange(20), 1, 20, timestamps=times)
    s = temporal(data, (0.55, 0.45))  # position 11 -> time 5, both rows of time 5 go to test
    assert len(s.train) == 10 and len(s.test) == 10 and len(s.valid) == 0
    assert s.train.timestamps.max() == 4.0


def test_explicit_cuts():
    data = timed_data(3)
    s = temporal(data, cuts=(3e5, 7e5))
    t = data.timestamps
    assert len(s.train) == int((t < 3e5).sum())
    assert len(s.valid) == int(((t >= 3e5) & (t < 7e5)).sum())
    assert len(s.test) == int((t >= 7e5).sum())
    s2 = split(data, "temporal", cuts=(5e5,))
    assert len(s2.valid) == 0 and len(s2.test) == int((t >= 5e5).sum())


def test_cold_users_and_items_reported():
    # user 2 and item 3 only appear in test; user 1 only in valid
    users = [0, 0, 1, 2, 0]
    items = [0, 1, 2, 3, 1]
    times = [1.0, 2.0, 3.0, 4.0, 4.0]
    data = Interactions(users, items, 3, 4, timestamps=times)
    s = temporal(data, cuts=(3.0, 4.0))
    assert s.report["cold_users"] == {"valid": 1, "test": 1, "test_vs_train_valid": 1}
    assert s.report["cold_items"] == {"valid": 1, "test": 1, "test_vs_train_valid": 1}
    assert s.report["test_interactions_of_cold_users"] == 1
    assert len(s.test) == 2  # cold interactions are kept
    assert "unseen in train" in s.summary()


def test_temporal_errors():
    data = timed_data(4)
    no_time = Interactions([0, 1], [0, 1], 2, 2, name="plain")
    with pytest.raises(SplitError, match=r"temporal split needs timestamps.*'plain'"):
        temporal(no_time)
    with pytest.raises(SplitError, match=r"t_valid <= t_test.*swap"):
        temporal(data, cuts=(7e5, 3e5))
    with pytest.raises(SplitError, match="cuts must be"):
        temporal(data, cuts=(1.0, 2.0, 3.0))
    with pytest.raises(ConfigError, match="either ratios or cuts"):
        temporal(data, (0.8, 0.2), cuts=(1.0,))
    with pytest.raises(SplitError, match="leaves train empty"):
        temporal(data, cuts=(-1.0, 5e5))
    with pytest.raises(SplitError, match=r"sum to 1.*1\.1"):
        temporal(data, (0.9, 0.1, 0.1))
