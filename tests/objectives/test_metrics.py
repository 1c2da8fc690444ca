"""Tests of the pure metric functions: hand-computed cases, brute-force references, jit and vmap."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from moorec.objectives import metrics as M

L2, L3, L4, L5 = (1 / math.log2(x) for x in (2, 3, 4, 5))  # discounts of ranks 1..4

EAGER = {
    "recall": M.recall,
    "ndcg": M.ndcg,
    "hit": M.hit,
    "precision": M.precision,
    "mrr": M.mrr,
    "map": M.map,
}
# Most tests call jitted copies: one compilation per shape is far cheaper than eager dispatch.
# test_*_under_jit check that the jitted and eager values agree.
RANKING = {name: jax.jit(fn) for name, fn in EAGER.items()}
ild = jax.jit(M.ild, static_argnames="distance")
category_coverage = jax.jit(M.category_coverage)
catalogue_coverage = jax.jit(M.catalogue_coverage, static_argnames="n_items")
gini = jax.jit(M.gini, static_argnames="n_items")
exposure = jax.jit(M.exposure, static_argnames="n_items")
novelty = jax.jit(M.novelty)
arp = jax.jit(M.arp)
aplt = jax.jit(M.aplt, static_argnames="head_share")
long_tail_mask = jax.jit(M.long_tail_mask, static_argnames="head_share")


def _row(fn, hits, n_rel):
    out = fn(np.array([hits], dtype=bool), np.array([n_rel]))
    assert out.shape == (1,)
    assert out.dtype == jnp.float32
    return float(out[0])


# ------------------------------------------------------------------------------------------
# hand-computed ranking cases
# ------------------------------------------------------------------------------------------
HAND = [
    # hits [0,1,0,1], |R| = 3, K = 4 (|R| < K, two hits)
    #   recall = 2/3; precision = 2/4; hit = 1; mrr = 1/2
    #   ndcg = (1/log2 3 + 1/log2 5) / (1 + 1/log2 3 + 1/log2 4)  (ideal: min(3, 4) = 3 hits)
    #   map  = (P@2 + P@4) / min(3, 4) = (1/2 + 2/4) / 3 = 1/3
    (
        [0, 1, 0, 1],
        3,
        dict(
            recall=2 / 3,
            precision=0.5,
            hit=1.0,
            mrr=0.5,
            ndcg=(L3 + L5) / (L2 + L3 + L4),
            map=1 / 3,
        ),
    ),
    # no hits: everything 0
    ([0, 0, 0, 0], 2, dict(recall=0.0, precision=0.0, hit=0.0, mrr=0.0, ndcg=0.0, map=0.0)),
    # |R| = 5 > K = 3, hits [1,1,0]
    #   recall = 2/5; precision = 2/3; mrr = 1
    #   ndcg = (1 + 1/log2 3) / (1 + 1/log2 3 + 1/log2 4)  (ideal: min(5, 3) = 3 hits)
    #   map  = (P@1 + P@2) / min(5, 3) = (1 + 1) / 3
    (
        [1, 1, 0],
        5,
        dict(
            recall=0.4,
            precision=2 / 3,
            hit=1.0,
            mrr=1.0,
            ndcg=(L2 + L3) / (L2 + L3 + L4),
            map=2 / 3,
        ),
    ),
    # |R| = 2 < K = 5, both found at ranks 1 and 3
    #   ndcg = (1 + 1/log2 4) / (1 + 1/log2 3); map = (1 + 2/3) / 2
    (
        [1, 0, 1, 0, 0],
        2,
        dict(
            recall=1.0,
            precision=0.4,
            hit=1.0,
            mrr=1.0,
            ndcg=(L2 + L4) / (L2 + L3),
            map=(1 + 2 / 3) / 2,
        ),
    ),
    # K = 1, |R| = 4: ideal DCG holds one hit only, so ndcg = 1 and map = 1 / min(4, 1) = 1
    ([1], 4, dict(recall=0.25, precision=1.0, hit=1.0, mrr=1.0, ndcg=1.0, map=1.0)),
    # every position a hit, |R| = K = 3: perfect list
    ([1, 1, 1], 3, dict(recall=1.0, precision=1.0, hit=1.0, mrr=1.0, ndcg=1.0, map=1.0)),
    # first (and only) hit at rank 3 of 3, |R| = 1
    #   ndcg = (1/log2 4) / 1 = 0.5; mrr = 1/3; map = P@3 / 1 = 1/3
    ([0, 0, 1], 1, dict(recall=1.0, precision=1 / 3, hit=1.0, mrr=1 / 3, ndcg=0.5, map=1 / 3)),
    # two hits at the bottom, |R| = 2, K = 4
    #   ndcg = (1/log2 4 + 1/log2 5) / (1 + 1/log2 3); map = (1/3 + 2/4) / 2
    (
        [0, 0, 1, 1],
        2,
        dict(
            recall=1.0,
            precision=0.5,
            hit=1.0,
            mrr=1 / 3,
            ndcg=(L4 + L5) / (L2 + L3),
            map=(1 / 3 + 2 / 4) / 2,
        ),
    ),
]


@pytest.mark.parametrize(("hits", "n_rel", "expected"), HAND)
@pytest.mark.parametrize("name", sorted(RANKING))
def test_ranking_hand_computed(name, hits, n_rel, expected):
    assert _row(RANKING[name], hits, n_rel) == pytest.approx(expected[name], rel=1e-6, abs=1e-7)


def test_ndcg_example_from_docs():
    # (1/log2(3) + 1/log2(5)) / (1 + 1/log2(3) + 1/log2(4)) = 1.0616064 / 2.1309298
    assert _row(RANKING["ndcg"], [0, 1, 0, 1], 3) == pytest.approx(0.4981893, abs=1e-6)


def test_ranking_metrics_depend_only_on_hits_and_n_relevant():
    # Users whose lists hold different items but the same hit pattern score the same; the items
    # themselves (and any score ties that ordered them) do not enter the definitions.
    hits = np.array([[0, 1, 1, 0], [0, 1, 1, 0], [1, 0, 0, 0]], dtype=bool)
    n_rel = np.array([3, 3, 1])
    for fn in RANKING.values():
        out = np.asarray(fn(hits, n_rel))
        assert out[0] == out[1]


def test_precision_denominator_is_k_not_relevant_count():
    # one relevant item, found at rank 1 of 10: precision@10 = 1/10 although |R| = 1
    hits = np.zeros((1, 10), dtype=bool)
    hits[0, 0] = True
    assert float(RANKING["precision"](hits, np.array([1]))[0]) == pytest.approx(0.1)


def test_map_normaliser_is_min_relevant_k():
    # |R| = 10 > K = 2, both slots hits: AP = (1 + 1) / min(10, 2) = 1 (not 2 / 10)
    assert _row(RANKING["map"], [1, 1], 10) == pytest.approx(1.0)
    assert M.map is M.average_precision


def test_zero_relevant_gives_zero_not_nan():
    hits = np.zeros((1, 3), dtype=bool)
    for fn in RANKING.values():
        out = np.asarray(fn(hits, np.array([0])))
        assert np.isfinite(out).all() and out[0] == 0.0


# ------------------------------------------------------------------------------------------
# brute-force references, written from the definitions with loops
# ------------------------------------------------------------------------------------------
def ref_ranking(hits_row, n_rel):
    k = len(hits_row)
    ranks_hit = [r + 1 for r in range(k) if hits_row[r]]  # 1-based ranks of the hits
    n_hit = len(ranks_hit)
    dcg = sum(1.0 / math.log2(r + 1) for r in ranks_hit)
    idcg = sum(1.0 / math.log2(r + 1) for r in range(1, min(n_rel, k) + 1))
    ap = 0.0
    for j, r in enumerate(ranks_hit, start=1):
        ap += j / r  # precision at the rank of the j-th hit
    return {
        "recall": n_hit / n_rel,
        "precision": n_hit / k,
        "hit": 1.0 if n_hit else 0.0,
        "mrr": 1.0 / ranks_hit[0] if ranks_hit else 0.0,
        "ndcg": dcg / idcg,
        "map": ap / min(n_rel, k),
    }


def random_lists(seed):
    """Random users: relevant sets of random size (some larger than K), random rankings."""
    rng = np.random.default_rng(seed)
    # few distinct shapes, so that the jitted functions compile only a few times
    n_items = 40
    k = (1, 3, 4, 10)[seed % 4]
    u = 1 if seed % 5 == 2 else 25
    topk = np.empty((u, k), dtype=np.int32)
    hits = np.empty((u, k), dtype=bool)
    n_rel = np.empty(u, dtype=np.int32)
    relevant = []
    for i in range(u):
        size = int(rng.integers(1, min(2 * k + 3, n_items) + 1))
        rel = set(rng.choice(n_items, size=size, replace=False).tolist())
        # a model that ranks relevant items a bit higher, so that hits are frequent
        scores = rng.random(n_items) + 0.3 * np.isin(np.arange(n_items), list(rel))
        order = np.argsort(-scores, kind="stable")[:k]
        topk[i] = order
        hits[i] = [int(x) in rel for x in order]
        n_rel[i] = size
        relevant.append(rel)
    return rng, n_items, topk, hits, n_rel


SEEDS = list(range(8))


@pytest.mark.parametrize("seed", SEEDS)
def test_ranking_against_brute_force(seed):
    _, _, _, hits, n_rel = random_lists(seed)
    expected = [ref_ranking(hits[i].tolist(), int(n_rel[i])) for i in range(len(n_rel))]
    for name, fn in RANKING.items():
        got = np.asarray(fn(hits, n_rel))
        want = np.array([e[name] for e in expected])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)


def ref_ild(topk, cat_sets, distance):
    out = []
    for row in topk:
        k = len(row)
        if k < 2:
            out.append(0.0)
            continue
        total, pairs = 0.0, 0
        for a in range(k):
            for b in range(a + 1, k):
                s, t = cat_sets[row[a]], cat_sets[row[b]]
                if not s and not t:
                    d = 0.0
                elif not s or not t:
                    d = 1.0
                elif distance == "jaccard":
                    d = 1.0 - len(s & t) / len(s | t)
                else:
                    d = 1.0 - len(s & t) / math.sqrt(len(s) * len(t))
                total += d
                pairs += 1
        out.append(total / pairs)
    return np.array(out)


def ref_category_coverage(topk, cat_sets, n_cat):
    return np.array([len(set().union(*(cat_sets[i] for i in row))) / n_cat for row in topk])


def ref_catalogue_coverage(topk, n_items):
    return len({int(i) for row in topk for i in row}) / n_items


def ref_gini(topk, n_items):
    # mean-absolute-difference form: sum_i sum_j |x_i - x_j| / (2 n sum_i x_i), over ALL items
    counts = [0] * n_items
    for row in topk:
        for i in row:
            counts[int(i)] += 1
    total = sum(counts)
    mad = sum(abs(a - b) for a in counts for b in counts)
    return mad / (2 * n_items * total)


def ref_novelty(topk, pop):
    n, total = len(pop), sum(pop)
    return np.array(
        [np.mean([-math.log2((pop[i] + 1) / (total + n)) for i in row]) for row in topk]
    )


def ref_arp(topk, pop):
    return np.array([sum(pop[i] for i in row) / len(row) for row in topk])


def ref_tail(pop, head_share=0.2):
    order = sorted(range(len(pop)), key=lambda i: (-pop[i], i))
    head = set(order[: math.floor(head_share * len(pop) + 1e-9)])
    return {i for i in range(len(pop)) if i not in head or pop[i] == 0}


def ref_aplt(topk, pop, head_share=0.2):
    tail = ref_tail(pop, head_share)
    return np.array([sum(int(i) in tail for i in row) / len(row) for row in topk])


def random_side_info(rng, n_items):
    n_cat = int(rng.integers(1, 8))
    cats = rng.random((n_items, n_cat)) < 0.3  # some items get no category at all
    pop = rng.integers(0, 30, size=n_items)
    pop[rng.random(n_items) < 0.2] = 0  # items never seen in training
    cat_sets = [set(np.flatnonzero(r).tolist()) for r in cats]
    return cats, cat_sets, pop


@pytest.mark.parametrize("seed", SEEDS)
def test_beyond_accuracy_against_brute_force(seed):
    rng, n_items, topk, _, _ = random_lists(seed)
    cats, cat_sets, pop = random_side_info(rng, n_items)
    tl = topk.tolist()
    pl = pop.tolist()
    for distance in ("jaccard", "cosine"):
        np.testing.assert_allclose(
            ild(topk, cats, distance), ref_ild(tl, cat_sets, distance), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_allclose(
        category_coverage(topk, cats),
        ref_category_coverage(tl, cat_sets, cats.shape[1]),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        float(catalogue_coverage(topk, n_items)), ref_catalogue_coverage(tl, n_items), rtol=1e-6
    )
    np.testing.assert_allclose(float(gini(topk, n_items)), ref_gini(tl, n_items), rtol=1e-5)
    np.testing.assert_allclose(novelty(topk, pop), ref_novelty(tl, pl), rtol=1e-5)
    np.testing.assert_allclose(arp(topk, pop), ref_arp(tl, pl), rtol=1e-6)
    for share in (0.2, 0.5):
        np.testing.assert_allclose(aplt(topk, pop, share), ref_aplt(tl, pl, share), rtol=1e-6)
        tail = ref_tail(pl, share)
        np.testing.assert_array_equal(
            np.asarray(long_tail_mask(pop, share)), [i in tail for i in range(n_items)]
        )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gini_matches_recbole_formulation(seed):
    # RecBole 1.2.1 GiniIndex.get_gini: sorted counts of the recommended items only, placed at
    # positions n-m+1..n of the whole catalogue (items never recommended are the zeros below).
    _, n_items, topk, _, _ = random_lists(seed)
    _, counts = np.unique(topk, return_counts=True)
    sorted_count = np.sort(counts)
    m = len(sorted_count)
    idx = np.arange(n_items - m + 1, n_items + 1)
    want = np.sum((2 * idx - n_items - 1) * sorted_count) / topk.size / n_items
    assert float(gini(topk, n_items)) == pytest.approx(want, rel=1e-5)


# ------------------------------------------------------------------------------------------
# hand-computed beyond-accuracy cases
# ------------------------------------------------------------------------------------------
# items: 0 {a, b}, 1 {b, c}, 2 {d}, 3 {} , 4 {}; categories a, b, c, d
CATS = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)


def test_ild_hand_computed():
    topk = np.array([[0, 1, 2], [2, 3, 0], [3, 4, 3]])
    # list [0, 1, 2]: jaccard d(0,1) = 1 - |{b}|/|{a,b,c}| = 2/3, d(0,2) = d(1,2) = 1 -> 8/9
    #                 cosine  d(0,1) = 1 - 1/sqrt(2*2) = 1/2, others 1 -> 5/6
    # list [2, 3, 0]: d(2,3) = 1 (one has no category), d(2,0) = 1, d(3,0) = 1 -> 1
    # list [3, 4, 3]: all items without category -> 0
    np.testing.assert_allclose(ild(topk, CATS, "jaccard"), [8 / 9, 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(ild(topk, CATS, "cosine"), [5 / 6, 1.0, 0.0], rtol=1e-6)


def test_ild_single_item_and_identical_items():
    assert float(ild(np.array([[0]]), CATS)[0]) == 0.0
    same = np.array([[0, 1, 0, 1], [0, 1, 0, 1]], dtype=bool)  # two items, same categories
    np.testing.assert_allclose(ild(np.array([[0, 1]]), same, "cosine"), [0.0], atol=1e-6)
    np.testing.assert_allclose(ild(np.array([[0, 1]]), same, "jaccard"), [0.0], atol=1e-6)


def test_ild_rejects_unknown_distance():
    with pytest.raises(ValueError, match="distance must be one of"):
        ild(np.array([[0, 1]]), CATS, "euclid")


def test_category_coverage_hand_computed():
    # [0, 1] covers {a, b, c} -> 3/4; [2, 3] covers {d} -> 1/4; [3, 4] covers nothing -> 0
    topk = np.array([[0, 1], [2, 3], [3, 4]])
    np.testing.assert_allclose(category_coverage(topk, CATS), [0.75, 0.25, 0.0])


def test_catalogue_coverage_and_exposure_hand_computed():
    topk = np.array([[0, 1], [1, 2]])
    np.testing.assert_array_equal(exposure(topk, 5), [1, 2, 1, 0, 0])
    assert float(catalogue_coverage(topk, 5)) == pytest.approx(3 / 5)


def test_gini_hand_computed():
    # counts over 4 items: [1, 2, 1, 0] -> sorted [0, 1, 1, 2], sum 4
    # sum (2i - n - 1) x_(i) = -3*0 - 1*1 + 1*1 + 3*2 = 6 -> 6 / (4 * 4) = 0.375
    assert float(gini(np.array([[0, 1], [1, 2]]), 4)) == pytest.approx(0.375)
    # every item equally exposed -> 0
    assert float(gini(np.array([[0, 1], [2, 3]]), 4)) == pytest.approx(0.0, abs=1e-7)
    # one item only, over 4 items: 3 * 5 / (4 * 5) = 1 - 1/n
    assert float(gini(np.full((5, 1), 3), 4)) == pytest.approx(0.75)


def test_novelty_hand_computed():
    # popularity [3, 1, 0, 0]: sum 4, n 4 -> p = (c + 1) / 8 = [1/2, 1/4, 1/8, 1/8]
    # self-information [1, 2, 3, 3] bits; [0, 2] -> 2, [1, 3] -> 2.5
    pop = np.array([3, 1, 0, 0])
    np.testing.assert_allclose(novelty(np.array([[0, 2], [1, 3]]), pop), [2.0, 2.5], rtol=1e-6)


def test_arp_hand_computed():
    pop = np.array([3, 1, 0, 0])
    np.testing.assert_allclose(arp(np.array([[0, 1], [2, 3]]), pop), [2.0, 0.0])


def test_aplt_hand_computed():
    # 10 items, head = 2 most popular: item 4 (9) and item 0 (5); the rest is the tail
    pop = np.array([5, 0, 3, 3, 9, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(np.asarray(long_tail_mask(pop)), [0, 1, 1, 1, 0, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(aplt(np.array([[4, 2, 1], [0, 4, 9]]), pop), [2 / 3, 1 / 3])
    # equal counts at the boundary: the lower index goes to the head
    tie = np.array([3, 3, 3, 3, 3, 1, 1, 1, 1, 1])
    np.testing.assert_allclose(aplt(np.array([[0, 2]]), tie), [0.5])


# ------------------------------------------------------------------------------------------
# jit and vmap
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EAGER))
def test_ranking_metrics_under_jit(name):
    _, _, _, hits, n_rel = random_lists(3)
    fn = EAGER[name]
    np.testing.assert_allclose(jax.jit(fn)(hits, n_rel), fn(hits, n_rel), rtol=1e-6)


def test_beyond_metrics_under_jit():
    rng, n_items, topk, _, _ = random_lists(5)
    cats, _, pop = random_side_info(rng, n_items)
    cases = [
        (M.ild, (topk, cats), {"distance": "cosine"}),
        (M.ild, (topk, cats), {"distance": "jaccard"}),
        (M.category_coverage, (topk, cats), {}),
        (M.catalogue_coverage, (topk,), {"n_items": n_items}),
        (M.gini, (topk,), {"n_items": n_items}),
        (M.exposure, (topk,), {"n_items": n_items}),
        (M.novelty, (topk, pop), {}),
        (M.arp, (topk, pop), {}),
        (M.aplt, (topk, pop), {"head_share": 0.3}),
        (M.long_tail_mask, (pop,), {"head_share": 0.2}),
    ]
    for fn, args, kw in cases:
        jitted = jax.jit(fn, static_argnames=tuple(kw))
        np.testing.assert_allclose(
            jitted(*args, **kw), fn(*args, **kw), rtol=1e-6, err_msg=fn.__name__
        )


def test_metrics_under_vmap_over_candidates():
    # a stack of 3 candidates' lists for the same users, as a vmapped population would give
    rng, n_items, topk, hits, n_rel = random_lists(10)
    perm = [np.random.default_rng(s).permutation(topk.shape[1]) for s in range(3)]
    hits3 = np.stack([hits[:, p] for p in perm])
    topk3 = np.stack([topk[:, p] for p in perm[:2]] + [np.roll(topk, 1, axis=0)])
    for name, fn in EAGER.items():
        got = jax.jit(jax.vmap(fn, in_axes=(0, None)))(hits3, n_rel)
        want = np.stack([RANKING[name](h, n_rel) for h in hits3])
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=name)
    cats, _, _ = random_side_info(rng, n_items)
    got = jax.jit(jax.vmap(lambda t: M.gini(t, n_items)))(topk3)
    np.testing.assert_allclose(got, [float(gini(t, n_items)) for t in topk3], rtol=1e-6)
    got = jax.jit(jax.vmap(lambda t: M.ild(t, cats)))(topk3)
    np.testing.assert_allclose(got, np.stack([ild(t, cats) for t in topk3]), rtol=1e-6)
