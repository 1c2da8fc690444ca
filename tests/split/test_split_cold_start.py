"""Item cold-start split: items, not interactions, are divided; held-out items never train."""

import numpy as np
import pytest

from moorec.data import Interactions
from moorec.errors import ConfigError, SplitError, UnknownNameError
from moorec.split import PARTS, ratio_counts
from moorec.split.cold_start import cold_start_items, restrict_to_items


def _item_parts(split):
    """{item: set of parts its interactions are in}."""
    where = {}
    for name, part in split.parts().items():
        for i in np.unique(part.items).tolist():
            where.setdefault(i, set()).add(name)
    return where


def test_no_item_in_two_parts_and_every_interaction_follows_its_item(planted):
    s = cold_start_items(planted, (0.8, 0.1, 0.1), seed=0)
    where = _item_parts(s)
    assert all(len(parts) == 1 for parts in where.values())
    # Every interaction of a valid / test item is in that part: the part holds all its rows.
    counts = planted.item_counts()
    for name in ("valid", "test"):
        part = getattr(s, name)
        items = np.unique(part.items)
        assert len(items) > 0
        np.testing.assert_array_equal(
            np.bincount(part.items, minlength=s.n_items)[items], counts[items]
        )
    train_items = set(np.unique(s.train.items).tolist())
    assert not train_items & set(restrict_to_items(s, "valid").tolist())
    assert not train_items & set(restrict_to_items(s, "test").tolist())
    assert sum(len(p) for p in s.parts().values()) == len(planted)
    assert s.protocol == "cold_items" and s.seed == 0


def test_item_ratios_are_respected(planted):
    s = cold_start_items(planted, (0.7, 0.2, 0.1), seed=3)
    expected = ratio_counts(planted.n_items, (0.7, 0.2, 0.1))  # 80 items: 56 / 16 / 8
    got = [len(restrict_to_items(s, p)) for p in PARTS]
    assert got == expected.tolist() == [56, 16, 8]
    assert s.report["n_items"] == dict(zip(PARTS, [56, 16, 8]))
    assert s.report["cold_items"]["test"] == 8 and s.report["cold_items"]["valid"] == 16
    assert s.report["n_interactions"]["test"] == len(s.test)


def test_same_seed_same_split_other_seed_other_split(planted):
    a = cold_start_items(planted, seed=5)
    b = cold_start_items(planted, seed=5)
    c = cold_start_items(planted, seed=6)
    for name in PARTS:
        np.testing.assert_array_equal(a.rows[name], b.rows[name])
    assert not np.array_equal(restrict_to_items(a, "test"), restrict_to_items(c, "test"))


def test_two_ratios_leave_valid_empty_and_unused_items_out():
    # Item 5 has no interaction: it is in no part and not counted.
    data = Interactions(np.repeat(np.arange(4), 5), np.tile(np.arange(5), 4), 4, 6)
    s = cold_start_items(data, (0.8, 0.2), seed=0)
    assert len(s.valid) == 0
    assert s.report["n_items"] == {"train": 4, "valid": 0, "test": 1}
    assert 5 not in _item_parts(s)
    assert len(s.train) == 16 and len(s.test) == 4


def test_users_without_training_interactions_are_counted():
    # User 1 only rated item 2; if item 2 is held out, user 1 is a cold user of that part.
    users = np.array([0, 0, 0, 0, 1, 2, 2, 2])
    items = np.array([0, 1, 2, 3, 2, 0, 1, 3])
    data = Interactions(users, items, 3, 4)
    for seed in range(20):
        s = cold_start_items(data, (0.5, 0.25, 0.25), seed=seed)
        held = [p for p in ("valid", "test") if 2 in restrict_to_items(s, p)]
        if held:
            assert s.report["users_without_train"][held[0]] == 1
            assert any("no training interaction" in n for n in s.report["notes"])
            return
    pytest.fail("item 2 was never held out in 20 seeds")


def test_bad_arguments_are_reported(planted):
    with pytest.raises(SplitError, match="sum to 1"):
        cold_start_items(planted, (0.8, 0.3, 0.1))
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        cold_start_items(planted, seed=-1)
    with pytest.raises(ConfigError, match="Interactions"):
        cold_start_items([1, 2, 3])
    s = cold_start_items(planted)
    with pytest.raises(UnknownNameError, match="valid choices: test, train, valid"):
        restrict_to_items(s, "validation")
