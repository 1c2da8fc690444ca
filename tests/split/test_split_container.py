"""The Split container (parts, known, summary, check), the dispatcher and input errors."""

from __future__ import annotations

import dataclasses
import runpy
from pathlib import Path

import numpy as np
import pytest

from moorec.data.interactions import Interactions, ItemFeatures
from moorec.errors import ConfigError, EmptyDataError, MoorecError, SplitError, UnknownNameError
from moorec.split import PROTOCOLS, Split, random_ratio, split

REPO = Path(__file__).resolve().parents[2]


def small_data() -> Interactions:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(10), 12)
    items = rng.integers(0, 8, size=users.size)
    feats = ItemFeatures(rng.random((8, 3)) > 0.5, ("a", "b", "c"))
    return Interactions(
        users,
        items,
        10,
        8,
        ratings=rng.integers(1, 6, size=users.size),
        timestamps=rng.uniform(0, 100, size=users.size),
        item_features=feats,
        name="small",
    )


# ---------------------------------------------------------------------------- container
def test_parts_and_known():
    data = small_data()
    s = random_ratio(data, seed=0)
    assert list(s.parts()) == ["train", "valid", "test"]
    assert s.known("valid") is s.train
    known = s.known("test")
    assert len(known) == len(s.train) + len(s.valid)
    np.testing.assert_array_equal(known.users, np.concatenate([s.train.users, s.valid.users]))
    np.testing.assert_array_equal(known.items, np.concatenate([s.train.items, s.valid.items]))
    np.testing.assert_array_equal(known.ratings, np.concatenate([s.train.ratings, s.valid.ratings]))
    assert known.n_users == data.n_users and known.item_features is data.item_features
    # the test part never overlaps the rows known when scoring it
    test_rows = set(s.rows["test"].tolist())
    assert not test_rows & (set(s.rows["train"].tolist()) | set(s.rows["valid"].tolist()))


@pytest.mark.parametrize("part", ["train", "Test", "validation"])
def test_known_rejects_other_parts(part):
    s = random_ratio(small_data(), seed=0)
    with pytest.raises(UnknownNameError, match=f"unknown evaluated part '{part}'.*test, valid"):
        s.known(part)


def test_summary_is_multiline_and_names_protocol():
    s = random_ratio(small_data(), seed=3)
    text = s.summary()
    assert text.count("\n") >= 4
    assert "random split of 'small'" in text and "seed=3" in text
    for part in ("train", "valid", "test"):
        assert part in text


def test_report_counts():
    data = small_data()
    s = random_ratio(data, seed=0)
    r = s.report
    assert r["n_input"] == len(data)
    assert r["n_interactions"] == {"train": 100, "valid": 10, "test": 10}
    assert r["n_users"] == {"train": 10, "valid": 10, "test": 10}


def test_check_detects_shared_rows():
    s = random_ratio(small_data(), seed=0)
    assert s.check() is s
    rows = dict(s.rows)
    rows["valid"] = rows["valid"].copy()
    rows["valid"][0] = rows["train"][0]
    leaky = dataclasses.replace(s, rows=rows)
    with pytest.raises(SplitError, match=r"1 input rows are in more than one part.*train and val"):
        leaky.check()


def test_check_without_rows_compares_interactions():
    s = random_ratio(small_data(), seed=0)
    clean = dataclasses.replace(s, rows=None)
    clean.check()
    leaky = dataclasses.replace(
        clean,
        test=Interactions(
            np.concatenate([s.test.users, s.train.users[:1]]),
            np.concatenate([s.test.items, s.train.items[:1]]),
            s.n_users,
            s.n_items,
            timestamps=np.concatenate([s.test.timestamps, s.train.timestamps[:1]]),
        ),
    )
    with pytest.raises(SplitError, match=r"occur in two parts.*train and test"):
        leaky.check()


def test_parts_must_share_index_space():
    s = random_ratio(small_data(), seed=0)
    other = Interactions([0], [0], 3, 3)
    with pytest.raises(SplitError, match="share one index space"):
        Split(train=s.train, valid=other, test=s.test, protocol="manual")


def test_split_errors_are_moorec_errors():
    for cls in (SplitError, UnknownNameError, ConfigError, EmptyDataError):
        assert issubclass(cls, MoorecError)


# ---------------------------------------------------------------------------- dispatcher
def test_dispatcher_knows_four_protocols():
    assert set(PROTOCOLS) == {"random", "loo", "temporal", "cold_items"}
    data = small_data()
    for name in PROTOCOLS:
        s = split(data, name)
        assert s.protocol == name
        assert sum(len(p) for p in s.parts().values()) == len(data)


def test_dispatcher_unknown_protocol():
    with pytest.raises(UnknownNameError, match=r"split protocol 'rnd'.*loo, random, temporal"):
        split(small_data(), "rnd")


def test_dispatcher_unknown_option():
    with pytest.raises(UnknownNameError, match=r"option of split protocol 'loo' 'ratios'.*order"):
        split(small_data(), "loo", ratios=(0.8, 0.1, 0.1))


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("ratios", "match"),
    [
        ((0.8, 0.1, 0.05), r"sum to 1, got \(0.8, 0.1, 0.05\) which sum to 0.95"),
        ((0.9, 0.2, -0.1), r"positive.*\(0.9, 0.2, -0.1\)"),
        ((0.8, 0.0, 0.2), r"positive.*\(0.8, 0.0, 0.2\)"),
        ((1.0,), r"2 entries \(train, test\) or 3 \(train, valid, test\), got 1"),
        ((0.7, 0.1, 0.1, 0.1), r"got 4"),
        (("a", "b"), "sequence of 2 numbers"),
        (0.8, "sequence of 2 numbers"),
        ((0.8, float("nan"), 0.2), "positive and finite"),
    ],
)
def test_bad_ratios(ratios, match):
    with pytest.raises(SplitError, match=match):
        random_ratio(small_data(), ratios)


def test_empty_data():
    empty = Interactions(
        np.zeros(0, np.int32), np.zeros(0, np.int32), 3, 3, name="nothing", timestamps=np.zeros(0)
    )
    for name in PROTOCOLS:
        with pytest.raises(EmptyDataError, match="'nothing': it holds no interactions"):
            split(empty, name)


def test_not_interactions():
    with pytest.raises(ConfigError, match="must be a moorec Interactions, got dict"):
        random_ratio({"users": [0]})


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None, True])
def test_bad_seed(seed):
    with pytest.raises(ConfigError, match="seed must be a non-negative integer"):
        random_ratio(small_data(), seed=seed)


def test_bad_small_users_and_min():
    with pytest.raises(UnknownNameError, match=r"small_users policy 'keep'.*drop, train"):
        random_ratio(small_data(), small_users="keep")
    with pytest.raises(ConfigError, match="min_interactions must be a positive integer"):
        random_ratio(small_data(), min_interactions=-2)


# ---------------------------------------------------------------------------- example
def test_example_runs(capsys):
    runpy.run_path(str(REPO / "examples" / "split_data.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "random split of 'toy'" in out and "loo split" in out and "temporal split" in out
    assert "same seed gives the same split: True" in out
