"""Sampled-negatives evaluation: negatives, ranking by hand, ties, the warning, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.data import Interactions
from moorec.errors import ConfigError, UnknownNameError
from moorec.models import Recommender
from moorec.objectives.sampled import SampledMetricsWarning, sample_negatives, sampled_evaluate


class FixedScores(Recommender):
    """Scores every user's items with one fixed vector (item ``i`` gets ``values[i]``)."""

    def __init__(self, n_users, values):
        self.n_users, self.n_items = n_users, len(values)
        self.values = nnx.Param(jnp.asarray(values, jnp.float32))

    def score(self, users, history=None):
        return jnp.broadcast_to(self.values[...], (users.shape[0], self.n_items))


class LastPlusOne(Recommender):
    """A history model: scores item (last known item + 1) mod n_items highest."""

    uses_history = True

    def __init__(self, n_users, n_items):
        self.n_users, self.n_items, self.max_len = n_users, n_items, 3
        self.bias = nnx.Param(jnp.zeros(n_items))

    def score(self, users, history=None):
        return jax.nn.one_hot((history[:, -1] + 1) % self.n_items, self.n_items) + self.bias[...]


@pytest.fixture(scope="module")
def split():
    """30 users, 40 items; user u walks 0 -> 1 -> ... from item u for 6 steps (leave-one-out)."""
    n_users, n_items, length = 30, 40, 6
    users = np.repeat(np.arange(n_users), length)
    items = (np.arange(n_users)[:, None] + np.arange(length)[None, :]).ravel() % n_items
    data = Interactions(
        users=users,
        items=items,
        n_users=n_users,
        n_items=n_items,
        timestamps=np.tile(np.arange(length, dtype=np.float64), n_users),
    )
    return mr.split.leave_one_out(data, order="time")


def _evaluate(model, split, **kw):
    with pytest.warns(SampledMetricsWarning):
        return sampled_evaluate(model, split, **kw)


def test_warns_that_sampled_metrics_disagree_with_full_ranking(split):
    model = FixedScores(split.n_users, np.zeros(split.n_items))
    with pytest.warns(SampledMetricsWarning, match=r"not consistent with full-ranking.*Krichene"):
        sampled_evaluate(model, split, "test", n_negatives=10)
    assert issubclass(SampledMetricsWarning, UserWarning)


def test_negatives_are_distinct_uniform_and_never_interacted():
    rng = np.random.default_rng(0)
    n_items = 20
    # user 0 has items 0..9, user 1 has none, user 2 has 0..16 (3 left)
    indptr = np.array([0, 10, 10, 27])
    indices = np.concatenate([np.arange(10), np.arange(17)]).astype(np.int32)
    users = np.array([0, 1, 2] * 2000)
    neg = sample_negatives((indptr, indices), users, n_items, 3, rng, memory_mb=0.01)
    assert neg.shape == (6000, 3)
    assert all(len(set(row)) == 3 for row in neg.tolist())
    assert neg[users == 0].min() >= 10
    assert sorted(np.unique(neg[users == 2]).tolist()) == [17, 18, 19]
    counts = np.bincount(neg[users == 1].ravel(), minlength=n_items)
    expected = 2000 * 3 / n_items
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))  # uniform
    again = sample_negatives((indptr, indices), users, n_items, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(again, neg)  # same seed, same negatives
    with pytest.raises(ConfigError, match=r"n_negatives=4 is more than the 3 items"):
        sample_negatives((indptr, indices), users, n_items, 4, rng)


def test_metrics_by_hand(split):
    """Item i scores -i: the held-out item's rank is 1 + the number of negatives below it."""
    values = -np.arange(split.n_items, dtype=np.float64)
    model = FixedScores(split.n_users, values)
    n_neg, seed = 8, 3
    got = _evaluate(
        model,
        split,
        part="test",
        n_negatives=n_neg,
        seed=seed,
        objectives=("hit@3", "ndcg@3", "mrr@3", "hit@9"),
    )
    # the same negatives, drawn by hand
    users = np.unique(split.test.users)
    seen = {u: set() for u in range(split.n_users)}
    for part in (split.train, split.valid, split.test):
        for u, i in zip(part.users.tolist(), part.items.tolist()):
            seen[u].add(i)
    indptr = np.zeros(split.n_users + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(seen[u]) for u in range(split.n_users)])
    indices = np.concatenate([sorted(seen[u]) for u in range(split.n_users)]).astype(np.int32)
    neg = sample_negatives(
        (indptr, indices), users, split.n_items, n_neg, np.random.default_rng(seed)
    )
    test_item = {u: i for u, i in zip(split.test.users.tolist(), split.test.items.tolist())}
    ranks = np.array(
        [1 + np.sum(values[neg[r]] > values[test_item[u]]) for r, u in enumerate(users.tolist())]
    )
    assert got["hit@3"] == pytest.approx(np.mean(ranks <= 3))
    assert got["ndcg@3"] == pytest.approx(np.mean(np.where(ranks <= 3, 1 / np.log2(ranks + 1), 0)))
    assert got["mrr@3"] == pytest.approx(np.mean(np.where(ranks <= 3, 1 / ranks, 0)))
    assert got["hit@9"] == 1.0  # 8 negatives + 1: the whole list
    assert 0.0 < got["hit@3"] < 1.0


def _negatives(split, users, n_neg, seed):
    """The negatives sampled_evaluate draws, drawn by hand."""
    seen = {u: set() for u in range(split.n_users)}
    for part in (split.train, split.valid, split.test):
        for u, i in zip(part.users.tolist(), part.items.tolist()):
            seen[u].add(i)
    indptr = np.zeros(split.n_users + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(seen[u]) for u in range(split.n_users)])
    indices = np.concatenate([sorted(seen[u]) for u in range(split.n_users)]).astype(np.int32)
    return sample_negatives(
        (indptr, indices), users, split.n_items, n_neg, np.random.default_rng(seed)
    )


def test_ties_rank_the_held_out_item_last_without_a_tie_seed(split):
    model = FixedScores(split.n_users, np.zeros(split.n_items))
    got = _evaluate(
        model, split, part="test", n_negatives=10, objectives=("hit@10", "hit@11"), tie_seed=None
    )
    assert got == {"hit@10": 0.0, "hit@11": 1.0}


@pytest.mark.parametrize("tie_seed", [0, 5])
def test_ties_follow_the_seeded_item_order(split, tie_seed):
    """All scores tie: the held-out item's rank is 1 + the negatives placed before it."""
    model = FixedScores(split.n_users, np.zeros(split.n_items))
    got = _evaluate(
        model, split, part="test", n_negatives=10, objectives=("hit@5", "hit@10", "mrr@10"),
        tie_seed=tie_seed,
    )  # fmt: skip
    users = np.unique(split.test.users)
    neg = _negatives(split, users, 10, 0)
    place = np.empty(split.n_items, dtype=np.int64)
    place[np.random.default_rng(tie_seed).permutation(split.n_items)] = np.arange(split.n_items)
    test_item = dict(zip(split.test.users.tolist(), split.test.items.tolist(), strict=True))
    ranks = np.array(
        [1 + np.sum(place[neg[r]] < place[test_item[u]]) for r, u in enumerate(users.tolist())]
    )
    assert 1 < len(set(ranks.tolist()))  # the held-out item is not always first nor last
    assert got["hit@5"] == pytest.approx(np.mean(ranks <= 5))
    assert got["hit@10"] == pytest.approx(np.mean(ranks <= 10))
    assert got["mrr@10"] == pytest.approx(np.mean(np.where(ranks <= 10, 1 / ranks, 0)))
    assert 0.0 < got["hit@5"] < got["hit@10"] < 1.0


def test_history_models_rank_from_the_known_items(split):
    # each user's next item is last + 1: the model ranks it first on valid and on test
    model = LastPlusOne(split.n_users, split.n_items)
    for part in ("valid", "test"):
        got = _evaluate(model, split, part=part, n_negatives=20, objectives=("hit@1",))
        assert got["hit@1"] == 1.0
    full = mr.evaluate(model, split, "test", ["hit@1"])
    assert full["hit@1"] == 1.0


def test_sampled_metrics_are_higher_than_full_ranking(split):
    values = np.random.default_rng(0).normal(size=split.n_items)
    model = FixedScores(split.n_users, values)
    sampled = _evaluate(model, split, part="test", n_negatives=10, objectives=("hit@5",))
    full = mr.evaluate(model, split, "test", ["hit@5"])
    assert sampled["hit@5"] > full["hit@5"]


def test_errors(split):
    model = FixedScores(split.n_users, np.zeros(split.n_items))
    with pytest.raises(UnknownNameError, match=r"unknown split part 'train'"):
        sampled_evaluate(model, split, "train")
    with pytest.raises(ConfigError, match=r"ranking objectives only.*'ild@10'"):
        sampled_evaluate(model, split, "test", objectives=("hit@10", "ild@10"))
    with pytest.raises(ConfigError, match=r"cutoff 20 is longer than the candidate list"):
        sampled_evaluate(model, split, "test", n_negatives=10, objectives=("ndcg@20",))
    with pytest.raises(ConfigError, match=r"n_negatives must be a positive integer"):
        sampled_evaluate(model, split, "test", n_negatives=0)
    with (
        pytest.warns(SampledMetricsWarning),
        pytest.raises(ConfigError, match=r"n_negatives=39 is more than the 34 items"),
    ):
        sampled_evaluate(model, split, "test", n_negatives=39)
