"""Tied scores rank in a seeded random order of the items, not by lowest item index."""

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.data import Interactions, csr_by_user
from moorec.errors import ConfigError
from moorec.models import Recommender
from moorec.objectives import Evaluator
from moorec.objectives.latency import recommend, tie_order, top_k
from moorec.train.population import stack

N_USERS, N_ITEMS, K = 40, 30, 5


class TableScores(Recommender):
    """Scores from a fixed ``[n_users, n_items]`` table."""

    def __init__(self, table):
        self.n_users, self.n_items = table.shape
        self.table = nnx.Param(jnp.asarray(table, jnp.float32))

    def score(self, users, history=None):
        return self.table[...][users]


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(N_USERS), 8)
    items = np.concatenate([rng.choice(N_ITEMS, 8, replace=False) for _ in range(N_USERS)])
    data = Interactions(users=users, items=items, n_users=N_USERS, n_items=N_ITEMS)
    return mr.split.random_ratio(data, (0.5, 0.5), seed=0)


def tied_table(seed=1):
    """Integer scores 0..2: about ten items share each user's top score."""
    return np.random.default_rng(seed).integers(0, 3, (N_USERS, N_ITEMS)).astype(np.float32)


def numpy_lists(table, split, users, k, order):
    """Each user's top-k by score, known (train) items excluded, ties in ``order``'s order."""
    place = np.empty(N_ITEMS, dtype=np.int64)
    place[np.arange(N_ITEMS) if order is None else order] = np.arange(N_ITEMS)
    indptr, indices = csr_by_user(split.train)
    out = []
    for u in users:
        s = table[u].astype(np.float64).copy()
        s[indices[indptr[u] : indptr[u + 1]]] = -np.inf
        out.append(np.lexsort((place, -s))[:k])  # by score, then by place in the order
    return np.array(out)


def numpy_coverage_gini(lists):
    counts = np.sort(np.bincount(lists.ravel(), minlength=N_ITEMS)).astype(np.float64)
    i = np.arange(1, N_ITEMS + 1)
    gini = np.sum((2 * i - N_ITEMS - 1) * counts) / (N_ITEMS * counts.sum())
    return len(np.unique(lists)) / N_ITEMS, gini


KEYS = [f"coverage@{K}", f"gini@{K}", f"ndcg@{K}"]


def test_ties_follow_a_seeded_permutation_and_match_numpy(split):
    table = tied_table()
    model = TableScores(table)
    by_index = Evaluator(split, "test", KEYS, tie_seed=None)
    seeded = Evaluator(split, "test", KEYS, tie_seed=0)
    assert by_index.tie_order is None
    np.testing.assert_array_equal(seeded.tie_order, np.random.default_rng(0).permutation(N_ITEMS))
    got_index, _ = by_index.rank(model)
    got_seeded, _ = seeded.rank(model)
    want_index = numpy_lists(table, split, seeded.users, K, None)
    want_seeded = numpy_lists(table, split, seeded.users, K, seeded.tie_order)
    np.testing.assert_array_equal(got_index, want_index)
    np.testing.assert_array_equal(got_seeded, want_seeded)
    v_index, v_seeded = by_index(model), seeded(model)
    for values, lists in ((v_index, want_index), (v_seeded, want_seeded)):
        cov, gini = numpy_coverage_gini(lists)
        assert values[f"coverage@{K}"] == pytest.approx(cov, abs=1e-7)
        assert values[f"gini@{K}"] == pytest.approx(gini, abs=1e-6)
    # lowest-index-first favours low indices: the two rules give other objectives
    assert v_index[f"coverage@{K}"] != v_seeded[f"coverage@{K}"]
    assert v_index[f"gini@{K}"] != pytest.approx(v_seeded[f"gini@{K}"], abs=1e-3)
    assert np.mean(got_index) < np.mean(got_seeded)  # index order picks lower indices


def test_scores_without_ties_rank_exactly_as_before(split):
    table = np.random.default_rng(3).normal(size=(N_USERS, N_ITEMS)).astype(np.float32)
    assert all(len(np.unique(row)) == N_ITEMS for row in table)  # no ties
    model = TableScores(table)
    lists = [Evaluator(split, "test", KEYS, tie_seed=s).rank(model) for s in (None, 0, 7)]
    for topk, hits in lists[1:]:
        np.testing.assert_array_equal(topk, lists[0][0])
        np.testing.assert_array_equal(hits, lists[0][1])
    values = [Evaluator(split, "test", KEYS, tie_seed=s)(model) for s in (None, 0, 7)]
    assert values[0] == values[1] == values[2]


def test_same_seed_same_lists_other_seed_other_tie_order(split):
    model = TableScores(tied_table())
    a = Evaluator(split, "test", KEYS, tie_seed=4).rank(model)[0]
    b = Evaluator(split, "test", KEYS, tie_seed=4).rank(model)[0]
    c = Evaluator(split, "test", KEYS, tie_seed=5).rank(model)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(tie_order(N_ITEMS, 4), tie_order(N_ITEMS, 5))
    # the lists differ only in which of the tied items come first: same scores in each slot
    table = tied_table()
    rows = Evaluator(split, "test", KEYS).users
    np.testing.assert_array_equal(
        np.take_along_axis(table[rows], a, axis=1), np.take_along_axis(table[rows], c, axis=1)
    )


def test_population_ranking_and_recommend_break_ties_alike(split):
    tables = [tied_table(s) for s in (1, 2, 3)]
    models = [TableScores(t) for t in tables]
    ev = Evaluator(split, "test", KEYS, tie_seed=2, chunk_users=16)  # several chunks
    parts = [nnx.split(m, nnx.Param, ...) for m in models]
    topk, _ = ev.rank_population(
        parts[0][0], stack([p[1] for p in parts]), parts[0][2], rest_axis=None
    )
    for i, (m, t) in enumerate(zip(models, tables, strict=True)):
        np.testing.assert_array_equal(topk[i], ev.rank(m)[0])
        np.testing.assert_array_equal(topk[i], numpy_lists(t, split, ev.users, K, ev.tie_order))
    items, _ = recommend(models[0], ev.users, K, known_csr=csr_by_user(split.train), tie_seed=2)
    np.testing.assert_array_equal(items, topk[0])


def test_top_k_maps_permuted_indices_back():
    scores = jnp.asarray([[1.0, 3.0, 3.0, 0.0, 3.0]])
    order = jnp.asarray([4, 2, 0, 1, 3], jnp.int32)
    values, items = top_k(scores, 3, order)
    assert items.tolist() == [[4, 2, 1]] and values.tolist() == [[3.0, 3.0, 3.0]]
    assert top_k(scores, 3)[1].tolist() == [[1, 2, 4]]  # lax.top_k's lowest index first


def test_the_evaluation_records_its_tie_seed(split):
    ev = Evaluator(split, "test", KEYS, tie_seed=9)
    assert ev.describe() == {
        "part": "test",
        "objectives": KEYS,
        "k": K,
        "n_users": len(ev.users),
        "n_items": N_ITEMS,
        "tie_seed": 9,
    }
    assert Evaluator(split, "test", KEYS).describe()["tie_seed"] == 0  # the default


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_a_bad_tie_seed_is_refused(split, bad):
    with pytest.raises(
        ConfigError, match=rf"tie_seed must be an integer >= 0 or None, got {bad!r}"
    ):
        Evaluator(split, "test", KEYS, tie_seed=bad)
