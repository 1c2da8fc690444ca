"""Evaluation plumbing for sequential models (history) and restricted candidates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.data import Interactions, history_matrix
from moorec.errors import ConfigError
from moorec.models import Recommender
from moorec.objectives import Evaluator


def test_history_matrix_by_hand():
    inter = Interactions(
        users=np.array([0, 0, 1, 0, 1, 0]),
        items=np.array([5, 3, 7, 4, 8, 1]),
        n_users=3,
        n_items=10,
        timestamps=np.array([3.0, 1.0, 5.0, 2.0, 4.0, 9.0]),
    )
    # user 0 in time order: 3 (t1), 4 (t2), 5 (t3), 1 (t9); user 1: 8 (t4), 7 (t5); user 2: none
    np.testing.assert_array_equal(
        history_matrix(inter, np.array([0, 1, 2]), 3), [[4, 5, 1], [-1, 8, 7], [-1, -1, -1]]
    )


class NextOfLast(Recommender):
    """Scores item (last history item + 1) mod n_items highest: checks what history it gets."""

    uses_history = True

    def __init__(self, n_users, n_items, rngs=None):
        self.n_users, self.n_items, self.max_len = n_users, n_items, 4
        self.bias = nnx.Param(-0.001 * jnp.arange(n_items, dtype=jnp.float32))

    def score(self, users, history=None):
        nxt = (history[:, -1] + 1) % self.n_items
        return jax.nn.one_hot(nxt, self.n_items) * 10.0 + self.bias[...]


def test_sequential_models_get_each_users_recent_known_items(planted_split):
    model = NextOfLast(planted_split.n_users, planted_split.n_items)
    for part in ("valid", "test"):
        ev = Evaluator(planted_split, part, ["ndcg@10"])
        topk, _ = ev.rank(model)
        known = planted_split.known(part)
        hist = history_matrix(known, ev.users, 4)
        expected = (hist[:, -1] + 1) % planted_split.n_items
        seen = [set(known.items[known.users == u].tolist()) for u in ev.users]
        fresh = np.array([e not in s for e, s in zip(expected, seen)])
        assert fresh.sum() > 10
        np.testing.assert_array_equal(topk[fresh, 0], expected[fresh])
    items, _ = mr.recommend(model, ev.users[:3], k=2, exclude=planted_split.train)
    assert items.shape == (3, 2)
    with pytest.raises(ConfigError, match=r"pass the known interactions"):
        mr.recommend(model, [0], k=2)


def test_candidates_restrict_the_ranking(planted_split):
    model = mr.models.create("bpr", planted_split.n_users, planted_split.n_items, dim=8)
    cand = np.arange(0, planted_split.n_items, 3)
    ev = Evaluator(planted_split, "test", ["ndcg@5"], candidates=cand)
    topk, _ = ev.rank(model)
    assert set(np.unique(topk)) <= set(cand.tolist())
    with pytest.raises(ConfigError, match=r"candidates must be a non-empty list"):
        Evaluator(planted_split, "test", ["ndcg@5"], candidates=np.array([10_000]))
