"""Deterministic cost objectives: FLOPs and bytes of serving a batch, from XLA's cost analysis."""

import pytest

from moorec.data import csr_by_user
from moorec.models import create
from moorec.objectives import Evaluator, parse
from moorec.objectives.latency import recommend_cost

BATCH = 128


def _bpr(split, dim):
    return create("bpr", split.n_users, split.n_items, seed=0, dim=dim)


def test_bpr_flops_grow_linearly_with_dim_and_match_the_hand_count(planted_split):
    known = csr_by_user(planted_split.train)
    n_items = planted_split.n_items
    flops = {
        d: recommend_cost(_bpr(planted_split, d), known, batch=BATCH)["flops"]
        for d in (8, 16, 32, 64)
    }
    # the scoring product [B, d] @ [d, n_items]: a multiply and an add per term
    hand = {d: 2 * BATCH * n_items * d for d in flops}
    # everything else (masking, top-k) does not depend on dim: the differences are the
    # product's alone, exactly as counted by hand
    for lo, hi in ((8, 16), (16, 32), (32, 64)):
        assert flops[hi] - flops[lo] == pytest.approx(hand[hi] - hand[lo], rel=1e-9)
    for d in (32, 64):  # where the product dominates, within 10% of the whole program
        assert flops[d] == pytest.approx(hand[d], rel=0.10), (d, flops[d], hand[d])


def test_cost_is_deterministic_and_reaches_the_evaluator(planted_split):
    model = _bpr(planted_split, 16)
    known = csr_by_user(planted_split.train)
    a = recommend_cost(model, known, batch=BATCH)
    assert a == recommend_cost(model, known, batch=BATCH)  # no timing: the same numbers
    assert a["bytes_accessed"] > 0 and a["loops"] is False
    ev = Evaluator(planted_split, "valid", ["ndcg@10", "flops", "bytes_accessed"],
                   latency_batch=BATCH)  # fmt: skip
    values = ev(model)
    assert values["flops"] == a["flops"] and values["bytes_accessed"] == a["bytes_accessed"]
    assert parse("flops").direction == "min" and parse("flops").kind == "system"


def test_a_reranker_adds_its_program_and_says_its_loops_are_counted_once(planted_split):
    model = _bpr(planted_split, 16)
    known = csr_by_user(planted_split.train)
    cats = planted_split.train.item_features.categories
    alone = recommend_cost(model, known, batch=BATCH)
    mmr = recommend_cost(model, known, known=planted_split.train, batch=BATCH,
                         rerank={"method": "mmr", "weight": 0.5, "candidates": 30},
                         item_categories=cats)  # fmt: skip
    assert mmr["loops"] is True  # the greedy steps are a loop: a lower bound
    assert mmr["bytes_accessed"] > alone["bytes_accessed"]


def test_latency_reports_a_bootstrap_interval_of_its_median_and_the_load(planted_split):
    import numpy as np
    from scipy import stats as sps

    from moorec.objectives.latency import _median_interval, measure_latency

    times = np.array([1.0, 1.2, 0.9, 1.1, 5.0, 1.05, 0.95, 1.15])
    ref = sps.bootstrap((times,), np.median, method="percentile", n_resamples=2000,
                        rng=np.random.default_rng(0)).confidence_interval  # fmt: skip
    assert _median_interval(times) == [ref.low, ref.high]
    assert _median_interval(np.array([2.0])) == [2.0, 2.0]
    r = measure_latency(_bpr(planted_split, 8), batch=32, repeats=10)
    lo, hi = r["median_interval_ms"]
    assert lo <= r["median_ms"] <= hi
    assert r["load_1min"] is None or r["load_1min"] >= 0.0
