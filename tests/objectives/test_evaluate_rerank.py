"""Evaluation and serving with a re-ranker: candidates, re-ranked objectives against NumPy,
weight 0 and method "none" bit-identical to no re-ranker, sweeps, latency and errors."""

import types

import numpy as np
import pytest
from flax import nnx

import moorec as mr
import moorec.rerank as rr
from moorec.errors import ConfigError, MoorecError, UnknownNameError
from moorec.models import create
from moorec.objectives import Evaluator, Latency, latency
from moorec.objectives.metrics import long_tail_mask
from moorec.rerank import Reranker
from moorec.train.population import stack

KEYS = [
    "recall@10", "ndcg@10", "hit@10", "precision@10", "mrr@10", "map@10", "ild@10",
    "category_coverage@10", "coverage@10", "novelty@10", "gini@10", "aplt@10", "params",
]  # fmt: skip
N = 30  # candidates per user (the planted catalogue has 80 items)


@pytest.fixture(scope="module")
def model(planted_split):
    return create("bpr", planted_split.n_users, planted_split.n_items, seed=3, dim=8)


@pytest.fixture(scope="module")
def ev(planted_split):
    return Evaluator(planted_split, "valid", KEYS)


# ---------------------------------------------------------------------------------------------
# NumPy references
# ---------------------------------------------------------------------------------------------
def numpy_candidates(model, split, part, users, n):
    """Each user's top-n by BPR-MF score in float64, known items excluded."""
    scores = np.asarray(model.user_emb[...], np.float64) @ np.asarray(model.item_emb[...]).T
    known = split.known(part)
    out = []
    for u in users:
        s = scores[u].copy()
        s[known.items[known.users == u]] = -np.inf
        out.append(np.argsort(-s, kind="stable")[:n])
    return np.array(out)


def held_out(split, part, users):
    target = getattr(split, part)
    return [set(target.items[target.users == u].tolist()) for u in users]


def numpy_ndcg(lists, relevant):
    values = []
    for row, rel in zip(lists, relevant, strict=True):
        dcg = sum(1.0 / np.log2(r + 2) for r, i in enumerate(row) if int(i) in rel)
        idcg = sum(1.0 / np.log2(r + 2) for r in range(min(len(rel), len(row))))
        values.append(dcg / idcg)
    return float(np.mean(values))


def numpy_ild(lists, categories):
    values = []
    for row in lists:
        sets = [set(np.flatnonzero(categories[i]).tolist()) for i in row]
        d = []
        for a in range(len(sets)):
            for b in range(a + 1, len(sets)):
                union = sets[a] | sets[b]
                d.append(0.0 if not union else 1.0 - len(sets[a] & sets[b]) / len(union))
        values.append(np.mean(d))
    return float(np.mean(values))


def side_information(method, split, part, users):
    """rr.rerank's side information built by hand from the split, for ``method``."""
    cats = split.train.item_features.categories
    known = split.known(part)
    if method in ("mmr", "dpp"):
        return {"categories": cats}
    if method == "calibration":
        return {
            "categories": cats,
            "user_categories": rr.history_category_distribution(known, users, cats),
        }
    tail = np.asarray(long_tail_mask(split.train.item_counts()))
    return {"tail": tail, "user_groups": rr.history_group_share(known, users, tail)}


# ---------------------------------------------------------------------------------------------
# candidates
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("part", ["valid", "test"])
def test_candidates_match_numpy_and_extend_rank(planted_split, model, part):
    ev = Evaluator(planted_split, part, ["ndcg@10"], chunk_users=50)  # several chunks
    items, scores = ev.candidates(model, N)
    assert items.shape == scores.shape == (len(ev.users), N)
    assert items.dtype == np.int32 and scores.dtype == np.float32
    np.testing.assert_array_equal(items, numpy_candidates(model, planted_split, part, ev.users, N))
    ref = np.asarray(model.user_emb[...]) @ np.asarray(model.item_emb[...]).T
    np.testing.assert_allclose(
        scores, np.take_along_axis(ref[ev.users], items, axis=1), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_array_equal(items[:, : ev.k], ev.rank(model)[0])


def test_candidates_population_equals_each_model(planted_split):
    models = [create("bpr", planted_split.n_users, planted_split.n_items, seed=s, dim=8)
              for s in (0, 1, 2)]  # fmt: skip
    ev = Evaluator(planted_split, "valid", ["ndcg@10"], chunk_users=50)
    parts = [nnx.split(m, nnx.Param, ...) for m in models]
    items, scores = ev.candidates_population(
        parts[0][0], stack([p[1] for p in parts]), parts[0][2], N, rest_axis=None, group=2
    )
    assert items.shape == scores.shape == (3, len(ev.users), N)
    for i, m in enumerate(models):
        one_items, one_scores = ev.candidates(m, N)
        np.testing.assert_array_equal(items[i], one_items)
        np.testing.assert_allclose(scores[i], one_scores, rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# no re-ranking, weight 0
# ---------------------------------------------------------------------------------------------
def test_method_none_is_bit_identical_to_no_reranker(planted_split, model, ev):
    base = ev(model)
    assert ev(model, rerank="none") == base
    none = Evaluator(planted_split, "valid", KEYS, rerank="none")
    assert none.rerank is None and none(model) == base
    assert none.describe() == ev.describe() and "rerank" not in ev.describe()
    items, scores = ev.candidates(model, N)
    assert ev.values_reranked(items, scores, "none", model=model) == [base]


@pytest.mark.parametrize("method", ["mmr", "dpp", "calibration", "xquad"])
def test_weight_zero_is_bit_identical_to_no_reranker(planted_split, model, ev, method):
    # Weight 0 is relevance alone: the re-ranked lists are the model's own, so every value,
    # accuracy, beyond-accuracy and system alike, is the same float.
    reranker = Reranker(method, weight=0.0, candidates=N)
    assert ev(model, rerank=reranker) == ev(model)
    default = Evaluator(planted_split, "valid", KEYS, rerank=reranker)
    assert default(model) == ev(model)
    items, scores = ev.candidates(model, N)
    side = side_information(method, planted_split, "valid", ev.users)
    lists = rr.rerank(scores, items, 0.0, method=method, k=10, **side).items
    np.testing.assert_array_equal(lists, ev.rank(model)[0])


# ---------------------------------------------------------------------------------------------
# re-ranked values against NumPy
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "part"),
    [("mmr", "valid"), ("dpp", "valid"), ("calibration", "test"), ("xquad", "test")],
)
def test_reranked_values_match_numpy(planted_split, model, method, part):
    ev = Evaluator(planted_split, part, ["ndcg@10", "ild@10"])
    items, scores = ev.candidates(model, N)
    side = side_information(method, planted_split, part, ev.users)
    lists = rr.rerank(scores, items, 0.7, method=method, k=10, **side).items
    assert not np.array_equal(lists, items[:, :10])  # the re-ranker changed the lists
    got = ev(model, rerank=Reranker(method, weight=0.7, candidates=N))
    relevant = held_out(planted_split, part, ev.users)
    cats = planted_split.train.item_features.categories
    # float32 per-user values averaged in float64 against float64 NumPy.
    assert got["ndcg@10"] == pytest.approx(numpy_ndcg(lists, relevant), rel=1e-6)
    assert got["ild@10"] == pytest.approx(numpy_ild(lists, cats), rel=1e-6)
    assert got == ev.values_reranked(items, scores, Reranker(method, weight=0.7))[0]


def test_embedding_similarity_uses_the_model_item_embeddings(planted_split, model, ev):
    items, scores = ev.candidates(model, N)
    emb = np.asarray(model.item_emb[...])
    lists = rr.mmr(scores, items, 0.8, k=10, embeddings=emb, similarity="embedding").items
    got = ev(model, rerank=Reranker("mmr", weight=0.8, candidates=N, similarity="embedding"))
    relevant = held_out(planted_split, "valid", ev.users)
    cats = planted_split.train.item_features.categories
    assert got["ndcg@10"] == pytest.approx(numpy_ndcg(lists, relevant), rel=1e-6)
    assert got["ild@10"] == pytest.approx(numpy_ild(lists, cats), rel=1e-6)


# ---------------------------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["mmr", "xquad"])
def test_sweep_equals_single_weight_calls(model, ev, method):
    weights = [0.0, 0.3, 0.6, 1.0]
    swept = ev.sweep(model, Reranker(method, candidates=N), weights)
    assert len(swept) == len(weights)
    single = [ev(model, rerank=Reranker(method, weight=w, candidates=N)) for w in weights]
    # Not the same compiled program: the sweep scores the per-user objectives of its 4 lists in
    # one jitted, vmapped program, a single weight is scored op by op as ev(model) scores; the
    # lists are the same, and the values agree to float32 rounding (XLA fuses e.g. novelty's
    # log2 differently), so rel=1e-6; counts and catalogue-level values agree exactly.
    for a, b in zip(swept, single, strict=True):
        assert list(a) == KEYS
        for key in KEYS:
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9), key
        assert a["params"] == b["params"] and a["coverage@10"] == b["coverage@10"]
    assert swept[0]["ndcg@10"] == pytest.approx(ev(model)["ndcg@10"], rel=1e-6)
    assert len({round(v["ild@10"], 6) for v in swept}) > 1  # the weights move the lists


def test_sweep_is_one_candidate_ranking_and_one_rerank_call(model, ev, monkeypatch):
    calls = {"candidates": 0, "rerank": []}
    real_candidates, real_rerank = ev.candidates, rr.api.rerank

    def candidates(m, n):
        calls["candidates"] += 1
        return real_candidates(m, n)

    def rerank(scores, items, weights, **kw):
        calls["rerank"].append(np.shape(weights))
        return real_rerank(scores, items, weights, **kw)

    monkeypatch.setattr(ev, "candidates", candidates)
    monkeypatch.setattr(rr.api, "rerank", rerank)
    ev.sweep(model, Reranker("dpp", candidates=N), np.linspace(0, 1, 5))
    assert calls == {"candidates": 1, "rerank": [(5,)]}


def test_values_reranked_takes_system_values(model, ev):
    items, scores = ev.candidates(model, N)
    out = ev.values_reranked(items, scores, "mmr", [0.2, 0.9], system={"params": 7.0})
    assert [v["params"] for v in out] == [7.0, 7.0]
    measured = ev.values_reranked(items, scores, "mmr", [0.2, 0.9], model=model)
    assert [v["params"] for v in measured] == [ev(model)["params"]] * 2
    with pytest.raises(MoorecError, match=r"params was not measured"):
        ev.values_reranked(items, scores, "mmr")  # neither model nor system: params missing


# ---------------------------------------------------------------------------------------------
# latency
# ---------------------------------------------------------------------------------------------
def test_latency_times_model_and_reranker_together(planted_split, model, monkeypatch):
    events = []
    real_jit, real_rerank = latency.recommend_jit, rr.api.rerank

    def recommend_jit(*args, **kw):
        events.append(f"model k={kw['k']}")
        return real_jit(*args, **kw)

    def rerank(scores, items, weights, **kw):
        events.append(f"rerank {np.shape(scores)}")
        return real_rerank(scores, items, weights, **kw)

    def perf_counter():
        events.append("clock")
        return 0.0

    monkeypatch.setattr(latency, "recommend_jit", recommend_jit)
    monkeypatch.setattr(rr.api, "rerank", rerank)
    monkeypatch.setattr(latency, "time", types.SimpleNamespace(perf_counter=perf_counter))
    reranker = Reranker("dpp", candidates=N)
    out = latency.measure_latency(
        model, known=planted_split.train, batch=16, k=10, repeats=3, warmup=2, rerank=reranker,
    )  # fmt: skip
    assert out["rerank"] == reranker.settings() and out["candidates"] == N
    call = [f"model k={N}", "rerank (16, 30)"]
    timed = ["clock", *call, "clock"]
    # compile (timed apart), one more warm-up call, then 3 timed calls of model + re-ranker.
    assert events == timed + call + timed * 3

    events.clear()
    plain = latency.measure_latency(model, batch=16, k=10, repeats=3, warmup=2)
    assert "rerank" not in plain
    assert events == ["clock", "model k=10", "clock", "model k=10"] + [
        "clock", "model k=10", "clock"
    ] * 3  # fmt: skip


def test_evaluator_latency_includes_the_reranker(planted_split, model, monkeypatch):
    rows = []
    real_rerank = rr.api.rerank

    def rerank(scores, items, weights, **kw):
        rows.append(np.shape(scores)[0])
        return real_rerank(scores, items, weights, **kw)

    monkeypatch.setattr(rr.api, "rerank", rerank)
    ev = Evaluator(
        planted_split, "valid", ["ndcg@10", Latency(batch=16)], latency_repeats=4,
        rerank=Reranker("dpp", candidates=N),
    )  # fmt: skip
    values = ev(model)
    assert values["latency_ms"] > 0
    # One re-ranking of the evaluated users, then 3 warm-up and 4 timed calls on the batch.
    assert sorted(rows) == [16] * 7 + [len(ev.users)]
    rows.clear()
    ev(model, rerank="none")
    assert rows == []  # the model's own lists: no re-ranker anywhere, latency included


# ---------------------------------------------------------------------------------------------
# describe, metric, API
# ---------------------------------------------------------------------------------------------
def test_describe_records_the_reranker(planted_split, ev):
    r = Reranker("xquad", weight=0.3, candidates=40, variant="smooth")
    d = Evaluator(planted_split, "valid", KEYS, rerank=r).describe()
    assert d == {**ev.describe(), "rerank": r.settings()}


def test_early_stopping_metric_does_not_rerank(planted_split, model, ev):
    r = Evaluator(planted_split, "valid", KEYS, rerank=Reranker("mmr", weight=1.0, candidates=N))
    assert r.metric("ild@10")(model) == ev.metric("ild@10")(model)
    assert r(model)["ild@10"] != ev(model)["ild@10"]


def test_api_evaluate_takes_a_reranker(planted_split, model):
    keys = ["ndcg@10", "ild@10", "coverage@10"]
    ref = Evaluator(planted_split, "valid", keys, rerank=Reranker("mmr", weight=0.4))(model)
    assert mr.evaluate(model, planted_split, "valid", keys, rerank="mmr", rerank_weight=0.4) == ref
    by_map = mr.evaluate(
        model, planted_split, "valid", keys, rerank={"method": "mmr", "weight": 0.4}
    )
    assert by_map == ref
    assert mr.evaluate(model, planted_split, "valid", keys, rerank="none") == mr.evaluate(
        model, planted_split, "valid", keys
    )
    with pytest.raises(ConfigError, match=r"settings \['weight'\] given without a re-ranker"):
        mr.evaluate(model, planted_split, "valid", keys, rerank_weight=0.4)


def test_api_recommend_returns_reranked_items_and_their_scores(planted, planted_split, model):
    users = [0, 5, 7]
    r = Reranker("mmr", weight=0.6, candidates=20)
    items, scores = mr.recommend(model, users, k=5, exclude=planted_split.train, rerank=r)
    cand, cand_scores = mr.recommend(model, users, k=20, exclude=planted_split.train)
    ref = rr.mmr(cand_scores, cand, 0.6, k=5, categories=planted.item_features.categories)
    np.testing.assert_array_equal(items, ref.items)
    np.testing.assert_array_equal(scores, np.take_along_axis(cand_scores, ref.positions, axis=1))
    mapping = {"method": "mmr", "candidates": 20}
    again = mr.recommend(model, users, k=5, exclude=planted_split.train, rerank=mapping,
                         rerank_weight=0.6)  # fmt: skip
    np.testing.assert_array_equal(again[0], items)
    # Weight 0: the model's own top-k.
    own = mr.recommend(model, users, k=5, exclude=planted_split.train)
    zero = mr.recommend(model, users, k=5, exclude=planted_split.train, rerank="dpp",
                        rerank_weight=0.0)  # fmt: skip
    np.testing.assert_array_equal(zero[0], own[0])
    np.testing.assert_array_equal(zero[1], own[1])
    # Raw ids map the re-ranked indices.
    raw_users = np.asarray(planted.user_ids)[users]
    raw, _ = mr.recommend(model, raw_users, k=5, exclude=planted_split.train, raw=True, rerank=r)
    np.testing.assert_array_equal(raw, np.asarray(planted.item_ids)[items])


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
def test_unknown_method_is_refused(planted_split, model, ev):
    with pytest.raises(UnknownNameError, match=r"unknown re-ranker 'mmx'; valid choices: "
                       r"calibration, dpp, mmr, none, xquad"):  # fmt: skip
        Evaluator(planted_split, "valid", KEYS, rerank="mmx")
    with pytest.raises(UnknownNameError, match=r"unknown re-ranker 'mmx'"):
        ev(model, rerank="mmx")
    with pytest.raises(UnknownNameError, match=r"unknown re-ranker 'mmx'"):
        mr.recommend(model, [0], k=5, exclude=planted_split.train, rerank="mmx")


def test_weight_outside_unit_interval_is_refused(planted_split, model, ev):
    with pytest.raises(
        ConfigError, match=r"re-ranking weight must be a number in \[0, 1\], got 1.5"
    ):
        Evaluator(planted_split, "valid", KEYS, rerank={"method": "mmr", "weight": 1.5})
    with pytest.raises(ConfigError, match=r"weight must be a number in \[0, 1\], got -0.5"):
        mr.evaluate(model, planted_split, "valid", KEYS, rerank="mmr", rerank_weight=-0.5)
    with pytest.raises(ConfigError, match=r"weight must be a number in \[0, 1\], got 1.3"):
        ev.sweep(model, Reranker("mmr", candidates=N), [0.2, 1.3])
    with pytest.raises(ConfigError, match=r"sweep weights must be a 1-D sequence, got 0.5"):
        ev.sweep(model, Reranker("mmr", candidates=N), 0.5)


def test_fewer_candidates_than_k_are_refused(planted_split, model, ev):
    with pytest.raises(ConfigError, match=r"candidates N=5 is fewer than the evaluator's k=10 "
                       r"\(cutoff of 'recall@10'\); use candidates >= 10"):  # fmt: skip
        Evaluator(planted_split, "valid", KEYS, rerank=Reranker("mmr", candidates=5))
    with pytest.raises(ConfigError, match=r"candidates N=3 is fewer than the evaluator's k=10"):
        ev(model, rerank=Reranker("dpp", candidates=3))
    with pytest.raises(ConfigError, match=r"N=4 is fewer than the list length k=5"):
        mr.recommend(model, [0], k=5, exclude=planted_split.train,
                     rerank=Reranker("mmr", candidates=4))  # fmt: skip
    items, scores = ev.candidates(model, 8)
    with pytest.raises(ConfigError, match=r"8 candidates per user are fewer than the evaluator's"):
        ev.values_reranked(items, scores, "mmr", model=model)


def test_embedding_similarity_on_a_model_without_embeddings_is_refused(
    planted_split, ev, monkeypatch
):
    neumf = create("neumf", planted_split.n_users, planted_split.n_items, seed=0, dim=8,
                   layers=(16, 8))  # fmt: skip
    monkeypatch.setattr(ev, "candidates", lambda *a: pytest.fail("ranked before the check"))
    r = Reranker("mmr", similarity="embedding", candidates=N)
    with pytest.raises(ConfigError, match=r"item embeddings, and model NeuMF has none; use "
                       r"similarity='jaccard' or 'cosine'"):  # fmt: skip
        ev(neumf, rerank=r)
    with pytest.raises(ConfigError, match=r"model NeuMF has none"):
        mr.recommend(neumf, [0], k=5, exclude=planted_split.train, rerank=r)


def test_mapping_with_an_unknown_key_is_refused(planted_split, model):
    with pytest.raises(UnknownNameError, match=r"unknown re-ranker setting 'lam'; valid choices: "
                       r"candidates, head_share, method, similarity, variant, weight"):  # fmt: skip
        Evaluator(planted_split, "valid", KEYS, rerank={"method": "mmr", "lam": 0.2})
    with pytest.raises(UnknownNameError, match=r"unknown re-ranker setting 'lam'"):
        mr.recommend(model, [0], k=5, exclude=planted_split.train,
                     rerank={"method": "mmr", "lam": 0.2})  # fmt: skip


def test_side_information_the_data_lacks_is_refused_when_built(model):
    data = mr.data.Interactions(
        users=np.repeat(np.arange(20), 6), items=np.tile(np.arange(6), 20) * 3 % 40,
        n_users=20, n_items=40, name="bare",
    )  # fmt: skip
    split = mr.split.random_ratio(data, (0.5, 0.5), seed=0)
    with pytest.raises(ConfigError, match=r"reads item categories, and data set 'bare"):
        Evaluator(split, "test", ["ndcg@10"], rerank="mmr")
    with pytest.raises(ConfigError, match=r"'xquad' reads each user's known items: pass exclude"):
        mr.recommend(model, [0], k=5, rerank="xquad")
    with pytest.raises(ConfigError, match=r"sweep needs a re-ranker"):
        Evaluator(split, "test", ["ndcg@10"]).sweep(model, None, [0.1, 0.2])


# ---------------------------------------------------------------------------------------------
# per-user values (paired tests)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rerank", [None, {"method": "mmr", "weight": 0.6, "candidates": N}])
def test_per_user_values_average_to_the_reported_values(planted_split, model, ev, rerank):
    per = ev.per_user(model, rerank=rerank)
    whole = ev(model, rerank=rerank)
    # coverage, Gini and size are not means over users: left out
    assert set(per) == {k for k in KEYS if k.split("@")[0] not in ("coverage", "gini", "params")}
    for key, values in per.items():
        assert values.shape == (len(ev.users),) and values.dtype == np.float64
        assert float(np.mean(values)) == whole[key]  # the same lists, the same float64 mean
    # per user against NumPy: the model's own lists (no re-ranker) give each user's NDCG
    if rerank is None:
        lists = numpy_candidates(model, planted_split, "valid", ev.users, 10)
        relevant = held_out(planted_split, "valid", ev.users)
        want = [numpy_ndcg([row], [rel]) for row, rel in zip(lists, relevant, strict=True)]
        np.testing.assert_allclose(per["ndcg@10"], want, rtol=1e-6, atol=1e-7)
