"""The vectorized executor on CPU: same records as sequential, buckets, chunks, sharding."""

import json
import math
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from _fakes import SMALL_ZOO
from flax import nnx

import moorec as mr
import moorec.executors.vectorized as vectorized
from moorec.errors import ConfigError
from moorec.executors import Given, TrialSpec, make_executor
from moorec.objectives import Evaluator
from moorec.search import LogReal, Space
from moorec.train import TrainConfig, fit
from moorec.train.population import fit_population

KEYS = ("ndcg@10", "recall@10", "ild@10", "coverage@10", "gini@10", "params")
FIXED = {"epochs": 6, "batch_size": 256}
# Early stopping (patience 1-2), another embedding size, a NaN loss, a bad setting.
CONFIGS = [
    {"lr": 3e-2, "dim": 16, "patience": 2},
    {"lr": 1e-3, "dim": 16, "patience": 1},
    {"lr": 1e-2, "dim": 16, "patience": 0, "l2": 1e-4},
    {"lr": 1e-2, "dim": 8, "patience": 0, "epochs": 3},
    {"lr": 1e30, "dim": 8, "patience": 0},
    {"lr": -1.0, "dim": 8, "patience": 0},
]


@pytest.fixture(scope="module")
def spec(planted_split):
    return TrialSpec(planted_split, "bpr", KEYS, FIXED, 0)


@pytest.fixture(scope="module")
def reference(spec):
    with make_executor("sequential") as ex:
        ex.start(spec)
        return ex.map(CONFIGS)


@pytest.fixture(scope="module")
def reference_test(spec):
    """The configs re-scored on test one at a time, as the final front is."""
    with make_executor("sequential") as ex:
        ex.start(spec)
        return ex.map(CONFIGS, part="test")


def _same(a, b, tol=1e-6, part="valid"):
    assert a["status"] == b["status"], (a.get("reason"), b.get("reason"))
    if a["status"] != "ok":
        assert a["reason"] == b["reason"]
        return
    assert (a["best_epoch"], a["epochs_run"]) == (b["best_epoch"], b["epochs_run"])
    for k in KEYS:
        assert b[part][k] == pytest.approx(a[part][k], abs=tol), k


def test_reference_covers_the_cases(reference):
    assert [r["status"] for r in reference] == ["ok"] * 4 + ["failed"] * 2
    assert "loss became nan" in reference[4]["reason"]
    assert "lr must be" in reference[5]["reason"]
    # early stopping happened: fewer epochs than allowed for the patience-1 candidate
    assert reference[1]["epochs_run"] < FIXED["epochs"]


def test_vectorized_equals_sequential_and_buckets_by_shape(spec, reference, reference_test):
    with make_executor("vectorized") as ex:
        ex.start(spec)
        got = ex.map(CONFIGS)
        info = ex.describe()
        tested = ex.map(CONFIGS, part="test")
    for a, b in zip(reference, got, strict=True):
        _same(a, b)
    # re-scored on test: the same models as on validation, ranked against the test split
    for a, b, v in zip(reference_test, tested, got, strict=True):
        _same(a, b, part="test")
        assert "valid" not in b
        if b["status"] == "ok":
            assert b["test"] != v["valid"]
    # dim 16 and dim 8 (epochs may differ within a bucket): two programs
    assert sorted(b["candidates"] for b in ex.batches[:2]) == [2, 3]
    assert len(ex.batches) == 4  # and the same two for the test re-scoring
    assert info["name"] == "vectorized" and info["batches"] == 2


def test_max_batch_chunks_a_bucket(spec, reference):
    with make_executor("vectorized", max_batch=2) as ex:
        ex.start(spec)
        got = ex.map(CONFIGS)
    for a, b in zip(reference, got, strict=True):
        _same(a, b)
    assert sorted(b["candidates"] for b in ex.batches) == [1, 2, 2]


def test_memory_estimate_chunks_a_bucket(spec, reference, monkeypatch):
    cfg, kw = spec.settings({"dim": 16})
    model = spec.create(kw)
    with make_executor("vectorized") as ex:
        ex.start(spec)
        roomy = ex.batch_limit(model, cfg)
        # Free memory for about two candidates of dim 16 at memory_fraction 0.5.
        per = roomy and (vectorized.device_memory_bytes() * 0.5) / roomy
        monkeypatch.setattr(vectorized, "device_memory_bytes", lambda d=None: int(per * 4.5))
        assert ex.batch_limit(model, cfg) == 2
        got = ex.map(CONFIGS[:3])
    for a, b in zip(reference[:3], got, strict=True):
        _same(a, b)
    assert sorted(b["candidates"] for b in ex.batches) == [1, 2]


def test_out_of_memory_halves_the_batch(spec, reference, monkeypatch):
    real = vectorized.fit_population
    sizes = []

    def tight(models, *args, **kwargs):
        sizes.append(len(models))
        if len(models) > 1:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")
        return real(models, *args, **kwargs)

    monkeypatch.setattr(vectorized, "fit_population", tight)
    with make_executor("vectorized") as ex:
        ex.start(spec)
        got = ex.map(CONFIGS[:3])
    for a, b in zip(reference[:3], got, strict=True):
        _same(a, b)
    assert sizes == [3, 1, 2, 1, 1]


def test_another_error_fails_the_batch_not_the_search(spec, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("compiler said no")

    monkeypatch.setattr(vectorized, "fit_population", broken)
    with make_executor("vectorized") as ex:
        ex.start(spec)
        got = ex.map(CONFIGS[:2])
    assert [r["status"] for r in got] == ["failed", "failed"]
    assert all(r["reason"] == "ValueError: compiler said no" for r in got)


def test_population_fit_matches_fit_per_candidate(planted_split):
    """Per-candidate early stopping: each keeps its best parameters, as fit() does."""
    train = planted_split.train
    ev = Evaluator(planted_split, "valid", ["ndcg@10"])
    validate = ev.metric("ndcg@10")
    cfgs = [
        TrainConfig(epochs=10, batch_size=256, lr=0.3, patience=1, seed=3),
        TrainConfig(epochs=10, batch_size=256, lr=5e-2, patience=2, seed=3),
        TrainConfig(epochs=4, batch_size=256, lr=1e-2, patience=0, seed=3),
    ]

    def build():
        return mr.models.create("bpr", train.n_users, train.n_items, seed=3, dim=8)

    def pop_validate(graphdef, params, rest, rest_axis):
        topk, hits = ev.rank_population(graphdef, params, rest, rest_axis=rest_axis)
        return np.array([v["ndcg@10"] for v in ev.values_population(topk, hits)])

    out = fit_population([build() for _ in cfgs], train, cfgs, validate=pop_validate)
    assert [m.stopped_early for m in out.members] == [True, False, False]
    for cfg, member in zip(cfgs, out.members, strict=True):
        ref = fit(build(), train, cfg, validate=validate)
        assert member.best_epoch == ref.best_epoch
        assert member.stopped_early == ref.stopped_early
        assert [h["epoch"] for h in member.history] == [h["epoch"] for h in ref.history]
        assert [h.get("valid") for h in member.history] == pytest.approx(
            [h.get("valid") for h in ref.history], nan_ok=True
        )
        want = nnx.state(ref.model, nnx.Param)
        got = nnx.state(member.model, nnx.Param)
        for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sync_every", [10, 4])
def test_population_reads_losses_late_yet_fails_a_candidate_at_its_epoch(
    planted_split, monkeypatch, sync_every
):
    """Losses are read every SYNC_EVERY epochs; a NaN still fails at the epoch fit() names."""
    import moorec.train.population as population

    monkeypatch.setattr(population, "SYNC_EVERY", sync_every)
    train = planted_split.train
    cfgs = [
        TrainConfig(epochs=9, batch_size=256, lr=1e-2, patience=0, seed=5),
        TrainConfig(epochs=9, batch_size=256, lr=1e30, patience=0, seed=5),
        TrainConfig(epochs=7, batch_size=256, lr=3e-3, patience=0, seed=5, l2=1e-4),
    ]

    def build():
        return mr.models.create("bpr", train.n_users, train.n_items, seed=5, dim=8)

    out = fit_population([build() for _ in cfgs], train, cfgs)
    with pytest.raises(mr.errors.TrainingError, match="loss became nan at epoch") as info:
        fit(build(), train, cfgs[1])
    failed = out.members[1]
    assert str(failed.error) == str(info.value) and failed.model is None
    # its history ends before the epoch that failed, as fit()'s would
    bad_epoch = int(str(info.value).split("epoch ")[1].split(" ")[0])
    assert [h["epoch"] for h in failed.history] == list(range(1, bad_epoch))
    for j in (0, 2):
        ref = fit(build(), train, cfgs[j])
        member = out.members[j]
        assert [h["epoch"] for h in member.history] == list(range(1, cfgs[j].epochs + 1))
        assert [h["loss"] for h in member.history] == pytest.approx(
            [h["loss"] for h in ref.history], rel=1e-5
        )
        assert all(h["seconds"] > 0 for h in member.history)
        want = jax.tree.leaves(nnx.state(ref.model, nnx.Param))
        got = jax.tree.leaves(nnx.state(member.model, nnx.Param))
        for a, b in zip(want, got, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_one_model_object_may_start_many_candidates(planted_split):
    train = planted_split.train
    cfgs = [TrainConfig(epochs=3, batch_size=256, lr=lr, patience=0) for lr in (1e-2, 3e-3)]

    def build():
        return mr.models.create("bpr", train.n_users, train.n_items, seed=1, dim=8)

    shared = build()
    got = fit_population([shared, shared], train, cfgs, materialize=False)
    want = fit_population([build(), build()], train, cfgs, materialize=False)
    assert all(m.model is None for m in got.members)
    for a, b in zip(jax.tree.leaves(want.params), jax.tree.leaves(got.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ConfigError, match="give 2 distinct model objects, not 1"):
        fit_population([shared, shared], train, cfgs)


def test_population_needs_shared_static_settings(planted_split):
    train = planted_split.train
    models = [mr.models.create("bpr", train.n_users, train.n_items, dim=8) for _ in range(2)]
    cfgs = [TrainConfig(batch_size=256), TrainConfig(batch_size=128)]
    with pytest.raises(ConfigError, match="shares 'batch_size'"):
        fit_population(models, train, cfgs)
    other = mr.models.create("bpr", train.n_users, train.n_items, dim=16)
    with pytest.raises(ConfigError, match="share their structure"):
        fit_population([models[0], other], train, [TrainConfig(), TrainConfig()])


def test_population_values_equal_one_by_one(planted_split):
    ev = Evaluator(planted_split, "valid", [*KEYS, "novelty@10", "mrr@10"])
    train = planted_split.train
    models = [
        mr.models.create("bpr", train.n_users, train.n_items, seed=s, dim=8) for s in range(3)
    ]
    splits = [nnx.split(m, nnx.Param, ...) for m in models]
    from moorec.train.population import stack

    params = stack([s[1] for s in splits])
    rest = stack([s[2] for s in splits])
    topk, hits = ev.rank_population(splits[0][0], params, rest, rest_axis=0, group=2)
    assert topk.shape == (3, len(ev.users), ev.k)
    got = ev.values_population(topk, hits, models)
    for m, values in zip(models, got, strict=True):
        want = ev(m)
        for k, v in want.items():
            assert values[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k


def test_a_custom_trainer_is_refused():
    ex = make_executor("vectorized")
    with pytest.raises(ConfigError, match="custom trainer needs the sequential"):
        ex.start(Given(lambda cfg: {}))
    with pytest.raises(ConfigError, match="max_batch must be"):
        make_executor("vectorized", max_batch=0)
    with pytest.raises(ConfigError, match="not started"):
        ex.map([{}])


def test_search_with_the_vectorized_executor(planted_split, tmp_path):
    space = Space(lr=LogReal(1e-3, 5e-2))
    kw = {
        "model": "bpr",
        "pop_size": 4,
        "generations": 2,
        "fixed": {"epochs": 3, "patience": 0, "batch_size": 256, "dim": 8},
        "progress": False,
    }
    objectives = ["ndcg@10", "ild@10"]
    a = mr.search.search(planted_split, space, objectives, out=tmp_path / "a", **kw)
    b = mr.search.search(
        planted_split, space, objectives, out=tmp_path / "b", executor="vectorized", **kw
    )
    assert b.manifest["executor"]["name"] == "vectorized"
    # refreshed at the end of the search: the batches that ran (0 when the search started)
    assert b.manifest["executor"]["batches"] >= 1
    ta, tb = a.trials(), b.trials()
    assert [t["config"] for t in ta] == [t["config"] for t in tb]
    assert {t["executor"] for t in tb} == {"vectorized"}
    for x, y in zip(ta, tb, strict=True):
        for k in objectives:
            assert y["valid"][k] == pytest.approx(x["valid"][k], abs=1e-6)
    # the front is re-scored on test by the vectorized executor, to the same values
    fa, fb = a.pareto_front(), b.pareto_front()
    assert [m["trial"] for m in fa] == [m["trial"] for m in fb] and fa
    for x, y in zip(fa, fb, strict=True):
        for k in objectives:
            assert y["test"][k] == pytest.approx(x["test"][k], abs=1e-6)


SHARDED = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, "tests")
    import jax
    from conftest import planted_interactions
    from moorec.split import random_ratio
    from moorec.executors import TrialSpec, make_executor
    import moorec.train.population as pop

    seen = []
    real = pop.population_epoch
    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(len(jax.tree.leaves(out[0])[0].sharding.device_set))
        return out
    pop.population_epoch = spy

    split = random_ratio(planted_interactions(), (0.8, 0.1, 0.1), seed=0)
    spec = TrialSpec(split, "bpr", ("ndcg@10", "recall@10"), {"epochs": 4, "batch_size": 256,
                     "dim": 8}, 0)
    configs = [{"lr": lr, "patience": p} for lr, p in
               [(3e-2, 1), (1e-2, 0), (1e-3, 2), (5e-3, 0), (2e-2, 1)]]
    out = {"devices": jax.device_count()}
    for name in ("sequential", "vectorized"):
        with make_executor(name) as ex:
            ex.start(spec)
            out[name] = [[r["valid"], r["best_epoch"]] for r in ex.map(configs)]
    out["sharded_over"] = sorted(set(seen))
    print(json.dumps(out))
    """
)


def test_population_sharded_over_four_cpu_devices(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    env["JAX_PLATFORMS"] = "cpu"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-c", SHARDED],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    assert out["sharded_over"] == [4]  # 5 candidates padded to 8, two per device
    for (va, ea), (vb, eb) in zip(out["sequential"], out["vectorized"], strict=True):
        assert ea == eb
        for k in va:
            assert math.isclose(va[k], vb[k], abs_tol=1e-6), k


@pytest.mark.parametrize("name", sorted(SMALL_ZOO))
def test_every_model_trains_vectorized_as_it_does_alone(name, planted_split):
    """Per-candidate dropout, L2, learning rate and early stopping, for each model family."""
    assert sorted(SMALL_ZOO) == sorted(mr.models.available())
    fixed = {"epochs": 3, "batch_size": 256, **SMALL_ZOO[name]}
    spec = TrialSpec(planted_split, name, ("ndcg@10", "ild@10", "params"), fixed, 0)
    configs = [
        {"lr": 1e-2, "patience": 0, "dropout": 0.1},
        {"lr": 3e-3, "patience": 1, "dropout": 0.2, "l2": 1e-4},
    ]
    out = {}
    for executor in ("sequential", "vectorized"):
        with make_executor(executor) as ex:
            ex.start(spec)
            out[executor] = ex.map(configs)
    for a, b in zip(out["sequential"], out["vectorized"], strict=True):
        assert a["status"] == b["status"] == "ok", (a.get("reason"), b.get("reason"))
        assert a["best_epoch"] == b["best_epoch"]
        for k, v in a["valid"].items():
            assert b["valid"][k] == pytest.approx(v, abs=1e-6), k
