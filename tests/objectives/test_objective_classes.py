"""Tests of the Objective classes, RankingContext validation and the name registry."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from moorec.errors import ConfigError, DataError, MoorecError, UnknownNameError
from moorec.objectives import base
from moorec.objectives.base import (
    APLT,
    ARP,
    ILD,
    MAP,
    MRR,
    NDCG,
    BytesAccessed,
    CategoryCoverage,
    Coverage,
    Flops,
    Gini,
    Hit,
    Latency,
    Novelty,
    Objective,
    Params,
    Precision,
    RankingContext,
    Recall,
    TrainableParams,
    available,
    max_cutoff,
    parse,
    parse_all,
)

# key, objective, direction, kind
TABLE = [
    ("recall@10", Recall(10), "max", "ranking"),
    ("ndcg@10", NDCG(10), "max", "ranking"),
    ("hit@5", Hit(5), "max", "ranking"),
    ("precision@20", Precision(20), "max", "ranking"),
    ("mrr@10", MRR(10), "max", "ranking"),
    ("map@10", MAP(10), "max", "ranking"),
    ("ild@10", ILD(10), "max", "beyond"),
    ("ild_cosine@10", ILD(10, distance="cosine"), "max", "beyond"),
    ("category_coverage@10", CategoryCoverage(10), "max", "beyond"),
    ("coverage@10", Coverage(10), "max", "beyond"),
    ("novelty@10", Novelty(10), "max", "beyond"),
    ("gini@10", Gini(10), "min", "beyond"),
    ("arp@10", ARP(10), "min", "beyond"),
    ("aplt@10", APLT(10), "max", "beyond"),
    ("latency_ms", Latency(), "min", "system"),
    ("latency_p95_ms", Latency(stat="p95"), "min", "system"),
    ("params", Params(), "min", "system"),
    ("trainable_params", TrainableParams(), "min", "system"),
    ("flops", Flops(), "min", "system"),
    ("bytes_accessed", BytesAccessed(), "min", "system"),
]


@pytest.mark.parametrize(("key", "obj", "direction", "kind"), TABLE)
def test_key_direction_kind(key, obj, direction, kind):
    assert obj.key == key
    assert str(obj) == key
    assert obj.direction == direction
    assert obj.kind == kind
    assert obj.name == obj.name.lower()
    assert parse(key) == obj
    assert parse(key.upper()) == obj
    assert parse(f"  {key} ") == obj
    if kind == "system":
        assert obj.k is None
    else:
        assert obj.k == int(key.split("@")[1])


def test_table_covers_every_available_name():
    assert sorted({key.split("@")[0] for key, *_ in TABLE}) == available()


@pytest.mark.parametrize("name", available())
def test_parse_round_trip_every_name(name):
    obj = parse(name if base._KIND_OF[name] == "system" else f"{name}@7")
    assert isinstance(obj, Objective)
    assert obj.name == name
    assert parse(obj.key) == obj
    assert parse(obj) is obj
    assert base._KIND_OF[name] == obj.kind


def test_available_by_kind():
    assert available("system") == [
        "bytes_accessed", "flops", "latency_ms", "latency_p95_ms", "params", "trainable_params"
    ]  # fmt: skip
    assert available("ranking") == ["hit", "map", "mrr", "ndcg", "precision", "recall"]
    assert set(available("beyond")) | set(available("ranking")) | set(available("system")) == set(
        available()
    )
    with pytest.raises(UnknownNameError, match="unknown objective kind 'accuracy'"):
        available("accuracy")


def test_objectives_are_frozen_values():
    assert NDCG(10) == NDCG(10)
    assert NDCG(10) != Recall(10)
    assert NDCG(10) != NDCG(20)
    assert ILD(10) != ILD(10, "cosine")
    assert len({NDCG(10), parse("ndcg@10"), Recall(10)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        NDCG(10).k = 5
    with pytest.raises(TypeError):
        Objective()


def test_unknown_name_lists_valid_names():
    with pytest.raises(UnknownNameError, match=r"unknown objective 'ndgc'; valid choices: .*ndcg"):
        parse("ndgc@10")
    with pytest.raises(UnknownNameError, match=r"'latency'.*latency_ms"):
        parse("latency")


@pytest.mark.parametrize("spec", ["ndcg@0", "ndcg@-3", "ndcg@1.5", "ndcg@ten", "ndcg@"])
def test_bad_cutoff_in_key(spec):
    cutoff = spec.split("@")[1]
    with pytest.raises(ConfigError, match=f"must be a positive integer, got '{cutoff}'"):
        parse(spec)


@pytest.mark.parametrize("k", [0, -1, 2.5, "10", True, None])
def test_bad_cutoff_in_constructor(k):
    with pytest.raises(ConfigError, match=f"positive integer, got {k!r}"):
        NDCG(k)


def test_numpy_integer_cutoff_is_accepted():
    obj = Recall(np.int64(5))
    assert obj == Recall(5) and type(obj.k) is int


def test_missing_cutoff():
    with pytest.raises(ConfigError, match=r"'ndcg' needs a cutoff: write 'ndcg@k', e.g. 'ndcg@10'"):
        parse("ndcg")
    with pytest.raises(ConfigError, match="'ild_cosine' needs a cutoff"):
        parse("ILD_COSINE")


def test_system_objective_takes_no_cutoff():
    with pytest.raises(ConfigError, match="'latency_ms' takes no cutoff"):
        parse("latency_ms@10")


def test_parse_rejects_non_strings():
    with pytest.raises(ConfigError, match="got 10"):
        parse(10)


def test_parse_all():
    objs = parse_all(["ndcg@10", Recall(20), "ILD@5", "latency_ms"])
    assert objs == [NDCG(10), Recall(20), ILD(5), Latency()]
    assert parse_all("ndcg@10, gini@10,params") == [NDCG(10), Gini(10), Params()]
    with pytest.raises(ConfigError, match="'ndcg@10' is given twice"):
        parse_all(["ndcg@10", NDCG(10)])
    with pytest.raises(ConfigError, match="at least one objective"):
        parse_all([])
    with pytest.raises(UnknownNameError, match="'foo'"):
        parse_all(["ndcg@10", "foo@3"])


def test_max_cutoff():
    assert max_cutoff(parse_all(["ndcg@10", "recall@20", "latency_ms"])) == 20
    assert max_cutoff([Params()]) is None


def test_ild_distance_and_latency_settings_are_validated():
    with pytest.raises(ConfigError, match="distance must be one of jaccard, cosine, got 'euclid'"):
        ILD(10, distance="euclid")
    with pytest.raises(ConfigError, match="stat must be one of median, p95, got 'mean'"):
        Latency(stat="mean")
    with pytest.raises(ConfigError, match=r"batch must be a positive integer.*got 0"):
        Latency(batch=0)
    assert Latency(batch=512).key == "latency_ms"


# ------------------------------------------------------------------------------------------
# computing from a RankingContext
# ------------------------------------------------------------------------------------------
# 3 users, top-4 lists over 6 items
TOPK = np.array([[3, 0, 2, 1], [0, 1, 4, 5], [5, 4, 3, 2]], dtype=np.int32)
HITS = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
N_REL = np.array([3, 2, 1], dtype=np.int32)
# items 0 {a, b}, 1 {b}, 2 {c}, 3 {}, 4 {a}, 5 {a, c}
CATS = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0], [1, 0, 1]], dtype=bool)
POP = np.array([10, 5, 0, 2, 1, 7])


def make_ctx(**kw):
    args = dict(
        topk=TOPK,
        hits=HITS,
        n_relevant=N_REL,
        n_items=6,
        item_categories=CATS,
        item_popularity=POP,
        system={"latency_ms": 1.5, "params": 1000.0},
    )
    args.update(kw)
    return RankingContext(**args)


def test_ranking_values_hand_computed():
    ctx = make_ctx()
    l3, l5 = 1 / math.log2(3), 1 / math.log2(5)
    # user 0: hits [0,1,0,1], |R|=3: ndcg (l3 + l5) / (1 + l3 + 1/2); user 1: 0; user 2: 1
    ndcg_u0 = (l3 + l5) / (1 + l3 + 0.5)
    assert NDCG(4).compute(ctx) == pytest.approx((ndcg_u0 + 0 + 1) / 3, rel=1e-6)
    np.testing.assert_allclose(NDCG(4).per_user(ctx), [ndcg_u0, 0.0, 1.0], rtol=1e-6)
    # recall: 2/3, 0, 1 -> mean 5/9
    assert Recall(4).compute(ctx) == pytest.approx(5 / 9, rel=1e-6)
    assert Hit(4).compute(ctx) == pytest.approx(2 / 3)
    # precision@4: 2/4, 0, 1/4
    assert Precision(4).compute(ctx) == pytest.approx(0.25)
    # mrr: 1/2, 0, 1
    assert MRR(4).compute(ctx) == pytest.approx(0.5)
    # map@4: (1/2 + 2/4)/3 = 1/3, 0, 1/1 -> 4/9
    assert MAP(4).compute(ctx) == pytest.approx(4 / 9, rel=1e-6)
    # cutoff 1 reads only the first column: hits [0, 0, 1]
    assert Hit(1).compute(ctx) == pytest.approx(1 / 3)
    assert Recall(1).compute(ctx) == pytest.approx(1 / 3)


def test_beyond_values_hand_computed():
    ctx = make_ctx()
    # coverage@2: items {3, 0, 1, 5, 4} of 6
    assert Coverage(2).compute(ctx) == pytest.approx(5 / 6)
    # gini@1: exposure [1, 0, 0, 1, 0, 1] sorted [0,0,0,1,1,1], n=6, sum 3:
    #   sum (2i - 7) x_(i) over i = 4, 5, 6 -> 1 + 3 + 5 = 9 -> 9 / (6 * 3) = 0.5
    assert Gini(1).compute(ctx) == pytest.approx(0.5)
    # category coverage@2: [3, 0] -> {a, b} 2/3; [0, 1] -> {a, b} 2/3; [5, 4] -> {a, c} 2/3
    assert CategoryCoverage(2).compute(ctx) == pytest.approx(2 / 3)
    # ild@2 jaccard: d(3, 0) = 1 (one has none); d(0, 1) = 1 - 1/2; d(5, 4) = 1 - 1/2
    assert ILD(2).compute(ctx) == pytest.approx((1 + 0.5 + 0.5) / 3)
    # cosine: d(0, 1) = 1 - 1/sqrt(2); d(5, 4) = 1 - 1/sqrt(2)
    c = 1 - 1 / math.sqrt(2)
    assert ILD(2, "cosine").compute(ctx) == pytest.approx((1 + 2 * c) / 3, rel=1e-6)
    # arp@2: (2 + 10)/2 = 6, (10 + 5)/2 = 7.5, (7 + 1)/2 = 4 -> 17.5 / 3
    assert ARP(2).compute(ctx) == pytest.approx(17.5 / 3)
    # novelty@1: sum pop 25, n 6 -> p = (c + 1) / 31; items 3, 0, 5
    nov = [math.log2(31 / 3), math.log2(31 / 11), math.log2(31 / 8)]
    assert Novelty(1).compute(ctx) == pytest.approx(sum(nov) / 3, rel=1e-6)
    # aplt@4: head = floor(0.2 * 6) = 1 item (item 0, 10 interactions); tail = the rest
    #   [3,0,2,1] -> 3/4; [0,1,4,5] -> 3/4; [5,4,3,2] -> 1 -> mean 5/6
    assert APLT(4).compute(ctx) == pytest.approx(5 / 6)


def test_compute_is_mean_of_per_user():
    ctx = make_ctx()
    for obj in parse_all(["recall@3", "ndcg@3", "map@2", "ild@3", "novelty@4", "aplt@3"]):
        assert obj.compute(ctx) == pytest.approx(float(np.mean(obj.per_user(ctx))), rel=1e-6)
        assert np.shape(obj.per_user(ctx)) == (3,)


def test_system_objectives_read_measurements():
    ctx = make_ctx()
    assert Latency().compute(ctx) == 1.5
    assert Params().compute(ctx) == 1000.0
    with pytest.raises(MoorecError, match=r"latency_p95_ms was not measured.*latency_ms, params"):
        Latency(stat="p95").compute(ctx)
    with pytest.raises(MoorecError, match=r"params was not measured.*\(none\)"):
        Params().compute(make_ctx(system={}))


def test_cutoff_larger_than_lists():
    with pytest.raises(ConfigError, match=r"ndcg@10 needs lists of at least 10 items.*top-4"):
        NDCG(10).compute(make_ctx())
    with pytest.raises(ConfigError, match="coverage@5 needs lists of at least 5"):
        Coverage(5).compute(make_ctx())


@pytest.mark.parametrize("obj", [ILD(2), ILD(2, "cosine"), CategoryCoverage(2)])
def test_category_objectives_without_categories(obj):
    with pytest.raises(
        MoorecError, match=f"{obj.key} needs item categories, but the data set has no categories"
    ):
        obj.compute(make_ctx(item_categories=None))
    with pytest.raises(MoorecError, match="has no categories"):
        obj.compute(make_ctx(item_categories=np.zeros((6, 0), dtype=bool)))


@pytest.mark.parametrize("obj", [Novelty(2), ARP(2), APLT(2)])
def test_popularity_objectives_without_popularity(obj):
    with pytest.raises(MoorecError, match=f"{obj.key} needs item popularity"):
        obj.compute(make_ctx(item_popularity=None))


def test_objectives_not_needing_side_information_work_without_it():
    ctx = make_ctx(item_categories=None, item_popularity=None)
    for key in ["ndcg@4", "coverage@4", "gini@4"]:
        assert np.isfinite(parse(key).compute(ctx))


def test_ild_and_category_coverage_in_user_chunks(monkeypatch):
    ctx = make_ctx()
    whole = {
        o: np.asarray(o.per_user(ctx)) for o in (ILD(4), ILD(4, "cosine"), CategoryCoverage(4))
    }
    monkeypatch.setattr(base, "_CHUNK_ELEMENTS", 8)  # forces chunks of 1 user
    for obj, want in whole.items():
        np.testing.assert_allclose(obj.per_user(ctx), want, rtol=1e-6)


def test_context_accepts_jax_arrays():
    import jax.numpy as jnp

    ctx = make_ctx(topk=jnp.asarray(TOPK), hits=jnp.asarray(HITS), n_relevant=jnp.asarray(N_REL))
    assert ctx.n_users == 3 and ctx.k == 4
    assert NDCG(4).compute(ctx) == pytest.approx(NDCG(4).compute(make_ctx()))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"topk": TOPK[:, :3]}, r"hits has shape \(3, 4\), expected topk's \(3, 3\)"),
        ({"topk": TOPK[0]}, r"topk must be \[U, K\] item indices, got shape \(4,\)"),
        ({"topk": TOPK[:0], "hits": HITS[:0], "n_relevant": N_REL[:0]}, "no lists to evaluate"),
        ({"hits": HITS.astype(int)}, "hits must be a bool array, got dtype int"),
        ({"n_relevant": N_REL[:2]}, r"n_relevant has shape \(2,\), expected \(3,\)"),
        ({"n_relevant": np.array([3, 0, 1])}, "needs >= 1 relevant item, got n_relevant min 0"),
        ({"topk": TOPK + 1}, r"must lie in \[0, 6\), got \[1, 6\]"),
        ({"topk": TOPK.astype(float)}, "integer item indices, got dtype float64"),
        ({"item_categories": CATS[:5]}, r"item_categories must be \[n_items=6, n_categories\]"),
        ({"item_popularity": POP[:5]}, r"item_popularity has shape \(5,\)"),
        ({"item_popularity": -POP}, "counts >= 0"),
    ],
)
def test_context_validation(kw, match):
    with pytest.raises(DataError, match=match):
        make_ctx(**kw)


def test_context_rejects_bad_n_items():
    with pytest.raises(ConfigError, match=r"n_items must be a positive integer.*got 0"):
        make_ctx(n_items=0)
