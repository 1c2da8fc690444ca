"""Full-ranking evaluation against a brute-force NumPy reference."""

import jax.numpy as jnp
import numpy as np
import pytest

from moorec.data import csr_by_user
from moorec.errors import ConfigError, UnknownNameError
from moorec.models import create
from moorec.objectives import Evaluator, evaluate, rank_chunk


def _reference_rank(model, split, part, k):
    """Loop over users in NumPy: score, drop known items, sort, check hits."""
    scores_all = np.asarray(model.user_emb[...]) @ np.asarray(model.item_emb[...]).T
    known = split.known(part)
    target = getattr(split, part)
    tops, hits, n_rel = [], [], []
    for u in range(split.n_users):
        rel = set(target.items[target.users == u].tolist())
        if not rel:
            continue
        s = scores_all[u].astype(np.float64).copy()
        s[known.items[known.users == u]] = -np.inf
        order = np.argsort(-s, kind="stable")[:k]
        tops.append(order)
        hits.append([i in rel for i in order])
        n_rel.append(len(rel))
    return np.array(tops), np.array(hits), np.array(n_rel)


def _ref_metrics(hits, n_rel, k):
    out = {"recall": [], "ndcg": [], "hit": [], "precision": [], "mrr": [], "map": []}
    for h, r in zip(hits, n_rel):
        h = h[:k]
        out["recall"].append(h.sum() / r)
        out["precision"].append(h.sum() / k)
        out["hit"].append(float(h.any()))
        ranks = np.flatnonzero(h) + 1
        out["mrr"].append(1.0 / ranks[0] if len(ranks) else 0.0)
        dcg = sum(1.0 / np.log2(rk + 1) for rk in ranks)
        idcg = sum(1.0 / np.log2(rk + 1) for rk in range(1, min(r, k) + 1))
        out["ndcg"].append(dcg / idcg)
        ap = sum(h[:rk].sum() / rk for rk in ranks)
        out["map"].append(ap / min(r, k))
    return {name: float(np.mean(v)) for name, v in out.items()}


@pytest.mark.parametrize("part", ["valid", "test"])
def test_rank_matches_bruteforce(planted_split, part):
    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=3, dim=8)
    ev = Evaluator(planted_split, part, ["ndcg@5", "recall@7"])
    topk, hits = ev.rank(model)
    ref_top, ref_hits, ref_rel = _reference_rank(model, planted_split, part, 7)
    np.testing.assert_array_equal(topk, ref_top)
    np.testing.assert_array_equal(hits, ref_hits)
    np.testing.assert_array_equal(ev.n_relevant, ref_rel)


def test_metric_values_match_reference(planted_split):
    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=1, dim=8)
    keys = [
        f"{m}@{k}" for m in ("recall", "ndcg", "hit", "precision", "mrr", "map") for k in (3, 10)
    ]
    got = evaluate(model, planted_split, "test", keys)
    _, hits, n_rel = _reference_rank(model, planted_split, "test", 10)
    for k in (3, 10):
        ref = _ref_metrics(hits, n_rel, k)
        for name, value in ref.items():
            assert got[f"{name}@{k}"] == pytest.approx(value, rel=1e-5, abs=1e-7), (name, k)


def test_known_items_never_ranked(planted_split):
    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8)
    for part in ("valid", "test"):
        ev = Evaluator(planted_split, part, ["ndcg@20"])
        topk, _ = ev.rank(model)
        known = planted_split.known(part)
        pairs = {(u, i) for u, i in zip(known.users.tolist(), known.items.tolist())}
        for row, u in enumerate(ev.users.tolist()):
            assert not any((u, i) in pairs for i in topk[row].tolist())


def test_chunks_give_the_same_result(planted_split):
    """Chunks of 7 users and one chunk of all are programs of other shapes, whose float32 scores
    may round differently: lists agree exactly except where a near tie lets rounding turn them
    (tests/executors/_agreement.py), and so do the objectives."""
    from executors._agreement import assert_values_agree, bpr_embeddings, near_ties, score_bound
    from flax import nnx

    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8)
    keys = ["ndcg@10", "coverage@10", "ild@10"]
    one = Evaluator(planted_split, "test", keys)
    many = Evaluator(planted_split, "test", keys, chunk_users=7)
    assert len(many._chunks) > 1 and len(one._chunks) == 1
    user, item = bpr_embeddings(nnx.state(model, nnx.Param))
    delta = score_bound(user, item, 0.0)  # the same parameters: rounding only
    near, _ = near_ties(one, user @ item.T, delta)
    np.testing.assert_array_equal(one.rank(model)[0][~near], many.rank(model)[0][~near])
    assert_values_agree(one, one(model), many(model), user @ item.T, delta, "chunked")


def test_chunk_size_follows_memory_budget(planted_split):
    ev = Evaluator(planted_split, "valid", ["ndcg@10"], memory_mb=4 * 80 * 10 / 2**20)
    assert ev.chunk_users == 10  # 10 users x 80 items x 4 bytes fit the budget


def test_system_objectives_measured(planted_split):
    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8)
    out = evaluate(
        model,
        planted_split,
        "valid",
        ["ndcg@10", "latency_ms", "latency_p95_ms", "params"],
        latency_repeats=5,
    )
    assert out["params"] == (planted_split.n_users + planted_split.n_items) * 8
    assert 0 < out["latency_ms"] <= out["latency_p95_ms"]


def test_no_recompile_for_another_model_of_same_shape(planted_split):
    ev = Evaluator(planted_split, "valid", ["ndcg@10"])
    ev(create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8))
    before = rank_chunk._cache_size()
    ev(create("bpr", planted_split.n_users, planted_split.n_items, seed=5, dim=8))
    assert rank_chunk._cache_size() == before


def test_bad_part_and_objectives(planted_split):
    with pytest.raises(UnknownNameError, match=r"unknown split part 'train'.*test, valid"):
        Evaluator(planted_split, "train", ["ndcg@10"])
    with pytest.raises(UnknownNameError, match=r"ndgc"):
        Evaluator(planted_split, "valid", ["ndgc@10"])
    with pytest.raises(ConfigError, match=r"-1"):
        Evaluator(planted_split, "valid", ["ndcg@-1"])
    with pytest.raises(ConfigError, match=r"at least one objective"):
        Evaluator(planted_split, "valid", [])


def test_csr_by_user_groups_items(planted):
    indptr, indices = csr_by_user(planted)
    for u in (0, 5, planted.n_users - 1):
        assert sorted(indices[indptr[u] : indptr[u + 1]].tolist()) == sorted(
            planted.items[planted.users == u].tolist()
        )


def test_flat_exclusions_against_a_loop():
    from moorec.objectives.evaluate import flat_exclusions

    rng = np.random.default_rng(0)
    n_users, n_items = 12, 9
    known = rng.random((n_users, n_items)) < 0.3
    known[4] = False  # a user with no known item
    indptr = np.concatenate([[0], np.cumsum(known.sum(axis=1))])
    indices = np.concatenate([np.flatnonzero(row) for row in known]).astype(np.int32)
    users = np.array([3, 4, 0, 3, 11], dtype=np.int32)  # a repeated user: padding of a chunk
    width = 64
    got = flat_exclusions(indptr, indices, users, n_items, width)
    expected = [r * n_items + i for r, u in enumerate(users) for i in np.flatnonzero(known[u])]
    assert got.dtype == np.int32 and got.shape == (width,)
    np.testing.assert_array_equal(got[: len(expected)], expected)
    assert (got[len(expected) :] == len(users) * n_items).all()  # out of range: dropped
    # the scatter of the flat positions masks exactly the known items of each row
    from moorec.objectives.evaluate import _masked_scores

    class Ones:
        def score(self, u):
            return jnp.ones((u.shape[0], n_items))

    masked = np.asarray(_masked_scores(Ones(), jnp.asarray(users), jnp.asarray(got), None, None))
    np.testing.assert_array_equal(np.isinf(masked), known[users])
    with pytest.raises(ConfigError, match=r"2\*\*31 scores or more; give a smaller chunk_users"):
        flat_exclusions(indptr, indices, np.zeros(2**31 // n_items + 1, np.int32), n_items, 8)
