"""The vectorized executor on CPU: the records of sequential, buckets, chunks, sharding.

The vectorized program and the one-candidate program are different XLA programs, so their float32
results may differ in the last bits, by CPU. These tests therefore compare (see _agreement.py):
parameters within a float32 rounding bound of the steps run; objectives exactly except for what
the users whose reference lists have a near tie (at the measured parameter difference) may
change; buckets and batches by which candidates went into which program; and results of one and
the same program bit for bit. Early-stopping decisions in the equivalence tests are made with
margins of several users' worth of NDCG, which no last-bit difference can flip; the stopping
rule itself is checked exactly with a scripted validation curve.
"""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest
from _agreement import (
    assert_values_agree,
    bpr_embeddings,
    measured_score_bound,
    model_scores,
    near_ties,
    param_difference,
    score_bound,
    train_tolerance,
)
from _fakes import SMALL_ZOO
from flax import nnx

import moorec as mr
import moorec.executors.vectorized as vectorized
from moorec.errors import ConfigError
from moorec.executors import Given, TrialSpec, make_executor
from moorec.models.registry import _MODELS
from moorec.objectives import Evaluator
from moorec.search import LogReal, Space
from moorec.train import TrainConfig, fit
from moorec.train.population import fit_population, stack, unstack

KEYS = ("ndcg@10", "recall@10", "ild@10", "coverage@10", "gini@10", "params")
FIXED = {"epochs": 6, "batch_size": 256}
# Early stopping (patience 1 and 2), another embedding size, a NaN loss, a bad setting.
CONFIGS = [
    {"lr": 3e-2, "dim": 16, "patience": 2},  # validated every epoch, better every epoch
    {"lr": 0.1, "dim": 16, "patience": 1},  # best at epoch 4, stops at epoch 5
    {"lr": 1e-2, "dim": 16, "patience": 0, "l2": 1e-4},
    {"lr": 1e-2, "dim": 8, "patience": 0, "epochs": 3},
    {"lr": 1e30, "dim": 8, "patience": 0},
    {"lr": -1.0, "dim": 8, "patience": 0},
]
OK = (0, 1, 2, 3)


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


@pytest.fixture(scope="module")
def reference_fits(spec):
    """Each candidate trained alone, as the sequential executor trains it (its model kept)."""
    trainer = spec.build()
    return {i: trainer.fit(CONFIGS[i]) for i in OK}


@pytest.fixture
def trained(monkeypatch):
    """Every ``fit_population`` call of the vectorized executor: ``(configs, PopulationFit)``."""
    calls = []
    real = vectorized.fit_population

    def spying(models, train, configs, **kwargs):
        out = real(models, train, configs, **kwargs)
        calls.append((list(configs), out))
        return out

    monkeypatch.setattr(vectorized, "fit_population", spying)
    return calls


def _index(spec, cfg) -> int:
    """Which of CONFIGS a TrainConfig was made from."""
    (i,) = [j for j in (*OK, 4) if spec.settings(CONFIGS[j])[0] == cfg]  # 5: a bad setting
    return i


def _programs(spec, calls) -> list[list[int]]:
    """The configs (by index) of each population program, in the order they ran."""
    return [[_index(spec, c) for c in cfgs] for cfgs, _ in calls]


def _params(spec, calls, i):
    """Config ``i``'s kept parameters as its population program returned them."""
    for cfgs, out in calls:
        for j, c in enumerate(cfgs):
            if _index(spec, c) == i:
                return unstack(out.params, j)
    raise KeyError(i)


def _agrees(spec, ref, got, fits, calls, part="valid"):
    """Vectorized records ``got`` agree with the sequential ``ref`` (see the module doc)."""
    n_batches = -(-len(spec.split.train) // FIXED["batch_size"])
    ev = spec.build().evaluator(part)
    near_ties = 0
    for i, (a, b) in enumerate(zip(ref, got, strict=True)):
        assert a["status"] == b["status"], (i, a.get("reason"), b.get("reason"))
        if a["status"] != "ok":
            assert a["reason"] == b["reason"]
            continue
        assert (a["best_epoch"], a["epochs_run"]) == (b["best_epoch"], b["epochs_run"]), i
        ref_state = nnx.state(fits[i].model, nnx.Param)
        dp, scale = param_difference(ref_state, _params(spec, calls, i))
        steps = b["epochs_run"] * n_batches
        assert dp <= train_tolerance(steps, scale), (i, dp, steps, scale)
        user, item = bpr_embeddings(ref_state)
        delta = score_bound(user, item, dp)
        near_ties += assert_values_agree(
            ev, a[part], b[part], user @ item.T, delta, f"config {i} on {part}"
        )
    return near_ties


def test_reference_covers_the_cases(reference, reference_fits, planted_split):
    assert [r["status"] for r in reference] == ["ok"] * 4 + ["failed"] * 2
    assert "loss became nan" in reference[4]["reason"]
    assert "lr must be" in reference[5]["reason"]
    # early stopping happened: fewer epochs than allowed for the patience-1 candidate
    assert (reference[1]["best_epoch"], reference[1]["epochs_run"]) == (4, 5)
    assert reference[0]["epochs_run"] == FIXED["epochs"]
    # every stopping decision is taken by a margin of more than two users' whole NDCG, so the
    # last-bit differences of another program cannot turn it
    margin = 2 / len(np.unique(planted_split.valid.users))
    for i in (0, 1):
        values = [h["valid"] for h in reference_fits[i].history]
        for e in range(1, len(values)):
            assert abs(values[e] - max(values[:e])) > margin, (i, values)


def test_vectorized_buckets_by_shape(spec, trained):
    with make_executor("vectorized") as ex:
        ex.start(spec)
        got = ex.map(CONFIGS)
        info = ex.describe()
    # dim 16 and dim 8 (epochs may differ within a bucket): two programs; the bad setting
    # never reaches one
    assert _programs(spec, trained) == [[0, 1, 2], [3, 4]]
    assert [b["candidates"] for b in ex.batches] == [3, 2]
    assert info["name"] == "vectorized" and info["batches"] == 2
    # the limit each bucket ran with (here from the free memory: less room for dim 16) is
    # recorded
    assert len(info["batch_limits"]) == 2 and min(info["batch_limits"]) >= 3
    assert [r["status"] for r in got] == ["ok"] * 4 + ["failed"] * 2


def test_vectorized_agrees_with_sequential(
    spec, reference, reference_test, reference_fits, trained
):
    with make_executor("vectorized") as ex:
        ex.start(spec)
        got = ex.map(CONFIGS)
        on_valid = list(trained)
        trained.clear()
        tested = ex.map(CONFIGS, part="test")
    assert _programs(spec, trained) == _programs(spec, on_valid) == [[0, 1, 2], [3, 4]]
    _agrees(spec, reference, got, reference_fits, on_valid)
    _agrees(spec, reference_test, tested, reference_fits, trained, part="test")
    # re-scored on test: the same program trained the same models, bit for bit
    for i in OK:
        want = jax.tree.leaves(_params(spec, on_valid, i))
        for a, b in zip(want, jax.tree.leaves(_params(spec, trained, i)), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for b, v in zip(tested, got, strict=True):
        assert "valid" not in b
        if b["status"] == "ok":
            assert b["test"] != v["valid"]


def test_max_batch_chunks_a_bucket(spec, reference, reference_fits, trained):
    with make_executor("vectorized", max_batch=2) as ex:
        ex.start(spec)
        got = ex.map(CONFIGS)
    assert _programs(spec, trained) == [[0, 1], [2], [3, 4]]
    assert [b["candidates"] for b in ex.batches] == [2, 1, 2]
    assert ex.describe()["batch_limits"] == [2]
    _agrees(spec, reference, got, reference_fits, trained)


def test_memory_estimate_chunks_a_bucket(spec, reference, reference_fits, trained, monkeypatch):
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
        assert ex.describe()["batch_limits"] == [2]  # what the free memory allowed
    assert _programs(spec, trained) == [[0, 1], [2]]
    _agrees(spec, reference[:3], got, reference_fits, trained)


def test_out_of_memory_halves_the_batch(spec, reference, reference_fits, trained, monkeypatch):
    real = vectorized.fit_population  # the spy, which records the programs that ran
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
    assert sizes == [3, 1, 2, 1, 1]
    assert _programs(spec, trained) == [[0], [1], [2]]
    _agrees(spec, reference[:3], got, reference_fits, trained)


def test_another_error_fails_the_batch_not_the_search(spec, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("compiler said no")

    monkeypatch.setattr(vectorized, "fit_population", broken)
    with make_executor("vectorized") as ex:
        ex.start(spec)
        got = ex.map(CONFIGS[:2])
    assert [r["status"] for r in got] == ["failed", "failed"]
    assert all(r["reason"] == "ValueError: compiler said no" for r in got)


class Scripted:
    """A validation curve per candidate, by epoch: early stopping without float ties."""

    CURVES = (
        [0.1, 0.3, 0.2, 0.25, 0.9],  # patience 1: best at 2, stops at 3
        [0.1, 0.2, 0.2, 0.15, 0.5, 0.6],  # patience 2: an equal value is no better; stops at 4
        [0.5, 0.1, 0.1, 0.1],  # patience 0: never validated
    )

    def __init__(self):
        self.calls = [0, 0, 0]

    def one(self, i):
        def validate(model):
            self.calls[i] += 1
            return self.CURVES[i][self.calls[i] - 1]

        return validate

    def population(self):
        epoch = [0]

        def validate(graphdef, params, rest, rest_axis):
            epoch[0] += 1
            return np.array([c[min(epoch[0], len(c)) - 1] for c in self.CURVES])

        return validate


def test_population_stops_each_candidate_as_fit_does(planted_split):
    """Per-candidate early stopping: each keeps its best parameters, as fit() does."""
    train = planted_split.train
    cfgs = [
        TrainConfig(epochs=6, batch_size=256, lr=0.3, patience=1, seed=3),
        TrainConfig(epochs=6, batch_size=256, lr=5e-2, patience=2, seed=3),
        TrainConfig(epochs=4, batch_size=256, lr=1e-2, patience=0, seed=3),
    ]

    def build():
        return mr.models.create("bpr", train.n_users, train.n_items, seed=3, dim=8)

    out = fit_population([build() for _ in cfgs], train, cfgs, validate=Scripted().population())
    assert [m.stopped_early for m in out.members] == [True, True, False]
    assert [m.best_epoch for m in out.members] == [2, 2, 4]
    alone = Scripted()
    n_batches = -(-len(train) // 256)
    for i, (cfg, member) in enumerate(zip(cfgs, out.members, strict=True)):
        ref = fit(build(), train, cfg, validate=alone.one(i))
        assert member.best_epoch == ref.best_epoch
        assert member.stopped_early == ref.stopped_early
        assert [h["epoch"] for h in member.history] == [h["epoch"] for h in ref.history]
        assert [h.get("valid") for h in member.history] == [h.get("valid") for h in ref.history]
        # the kept parameters: those of the best epoch, within float32 rounding of its steps
        dp, scale = param_difference(
            nnx.state(ref.model, nnx.Param), nnx.state(member.model, nnx.Param)
        )
        assert dp <= train_tolerance(ref.best_epoch * n_batches, scale), (i, dp)
    # stopped at epochs 3 and 4 of 6, where their curves said so
    assert [len(m.history) for m in out.members] == [3, 4, 4]


def test_one_step_agrees_within_float32_rounding(planted_split):
    """One optimiser step (one batch holds every row): vmapped and alone differ by <= 8 ulps."""
    train = planted_split.train
    cfgs = [
        TrainConfig(epochs=1, batch_size=2048, lr=lr, patience=0, seed=1, l2=l2)
        for lr, l2 in ((1e-2, 0.0), (3e-1, 1e-3), (1e-3, 0.0))
    ]

    def build():
        return mr.models.create("bpr", train.n_users, train.n_items, seed=1, dim=16)

    start = nnx.state(build(), nnx.Param)
    out = fit_population([build() for _ in cfgs], train, cfgs)
    for cfg, member in zip(cfgs, out.members, strict=True):
        ref = fit(build(), train, cfg)
        got, want = nnx.state(member.model, nnx.Param), nnx.state(ref.model, nnx.Param)
        dp, scale = param_difference(want, got)
        assert dp <= train_tolerance(1, scale), (cfg.lr, dp)
        moved, _ = param_difference(start, want)
        assert moved > 100 * train_tolerance(1, scale)  # the step itself is far larger


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
        dp, scale = param_difference(
            nnx.state(ref.model, nnx.Param), nnx.state(member.model, nnx.Param)
        )
        assert dp <= train_tolerance(cfgs[j].epochs * -(-len(train) // 256), scale), (j, dp)


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
    """The same parameters ranked together and alone: the lists of users without a near tie
    are identical, and the objectives agree up to what the others may change."""
    ev = Evaluator(planted_split, "valid", [*KEYS, "mrr@10"])
    train = planted_split.train
    models = [
        mr.models.create("bpr", train.n_users, train.n_items, seed=s, dim=8) for s in range(3)
    ]
    splits = [nnx.split(m, nnx.Param, ...) for m in models]
    params = stack([s[1] for s in splits])
    rest = stack([s[2] for s in splits])
    topk, hits = ev.rank_population(splits[0][0], params, rest, rest_axis=0, group=2)
    assert topk.shape == (3, len(ev.users), ev.k)
    got = ev.values_population(topk, hits, models)
    for i, (m, values) in enumerate(zip(models, got, strict=True)):
        alone, alone_hits = ev.rank(m)
        user, item = bpr_embeddings(nnx.state(m, nnx.Param))
        delta = score_bound(user, item, 0.0)  # the same parameters: rounding only
        near, _ = near_ties(ev, user @ item.T, delta)
        assert near.sum() < len(near) // 10  # most users have no near tie at all
        np.testing.assert_array_equal(topk[i][~near], alone[~near])
        np.testing.assert_array_equal(hits[i][~near], alone_hits[~near])
        assert_values_agree(ev, ev(m), values, user @ item.T, delta, f"model {i}")


def test_a_custom_trainer_is_refused():
    ex = make_executor("vectorized")
    with pytest.raises(ConfigError, match="custom trainer needs the sequential"):
        ex.start(Given(lambda cfg: {}))
    with pytest.raises(ConfigError, match="max_batch must be"):
        make_executor("vectorized", max_batch=0)
    with pytest.raises(ConfigError, match="not started"):
        ex.map([{}])


def _by_lr(calls, lr):
    """Every kept parameter state, in program order, of the candidate trained with ``lr``."""
    out = []
    for cfgs, fitted in calls:
        out += [unstack(fitted.params, j) for j, c in enumerate(cfgs) if c.lr == lr]
    return out


def test_search_with_the_vectorized_executor(planted_split, tmp_path, trained):
    space = Space(lr=LogReal(1e-3, 5e-2))
    fixed = {"epochs": 3, "patience": 0, "batch_size": 256, "dim": 8}
    kw = {
        "model": "bpr",
        "pop_size": 4,
        "generations": 2,
        "fixed": fixed,
        "progress": False,
        "algorithm": "random",  # new candidates do not depend on the objective values
    }
    objectives = ["ndcg@10", "ild@10"]
    a = mr.search.search(planted_split, space, objectives, out=tmp_path / "a", **kw)
    assert not trained
    b = mr.search.search(
        planted_split, space, objectives, out=tmp_path / "b", executor="vectorized", **kw
    )
    assert b.manifest["executor"]["name"] == "vectorized"
    # refreshed at the end of the search: the batches that ran (0 when the search started)
    assert b.manifest["executor"]["batches"] >= 1
    ta, tb = a.trials(), b.trials()
    assert [t["config"] for t in ta] == [t["config"] for t in tb] and len(ta) == 8
    assert {t["executor"] for t in tb} == {"vectorized"}
    # each trial's model trained alone is what the sequential search scored, bit for bit;
    # the vectorized search's values agree with it as the executor tests require
    trainer = TrialSpec(planted_split, "bpr", tuple(objectives), fixed, 0).build()
    steps = fixed["epochs"] * -(-len(planted_split.train) // fixed["batch_size"])
    fb = {m["trial"]: m for m in b.pareto_front()}
    fa = a.pareto_front()
    assert fa
    for x, y in zip(ta, tb, strict=True):
        ref = trainer.fit(x["config"]).model
        assert trainer.evaluator("valid")(ref) == x["valid"]
        state = nnx.state(ref, nnx.Param)
        user, item = bpr_embeddings(state)
        runs = _by_lr(trained, x["config"]["lr"])
        dp, scale = param_difference(state, runs[0])
        assert dp <= train_tolerance(steps, scale)
        delta = score_bound(user, item, dp)
        ev = trainer.evaluator("valid")
        assert_values_agree(ev, x["valid"], y["valid"], user @ item.T, delta, f"trial {x['trial']}")
        if x["trial"] in fb:  # re-scored on test by the vectorized executor: its last program
            assert y["test"] is not None and len(runs) == 2
            dp, scale = param_difference(state, runs[-1])
            assert dp <= train_tolerance(steps, scale)
            want = trainer.evaluator("test")(ref)
            assert_values_agree(
                trainer.evaluator("test"), want, y["test"], user @ item.T,
                score_bound(user, item, dp), f"front trial {x['trial']} on test",
            )  # fmt: skip
    for m in fa:  # the sequential front's test values are its models' own
        ref = trainer.fit(m["config"]).model
        assert m["test"] == trainer.evaluator("test")(ref)


SHARDED = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, "tests")
    sys.path.insert(0, "tests/executors")
    import jax
    from flax import nnx
    from conftest import planted_interactions
    from _agreement import (assert_values_agree, bpr_embeddings, param_difference,
                            score_bound, train_tolerance)
    from moorec.split import random_ratio
    from moorec.executors import TrialSpec, make_executor
    import moorec.executors.vectorized as vectorized
    import moorec.train.population as pop

    seen, fits = [], []
    real = pop.population_epoch
    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(len(jax.tree.leaves(out[0])[0].sharding.device_set))
        return out
    pop.population_epoch = spy
    real_fit = vectorized.fit_population
    def keep(models, train, configs, **kwargs):
        fits.append(real_fit(models, train, configs, **kwargs))
        return fits[-1]
    vectorized.fit_population = keep

    split = random_ratio(planted_interactions(), (0.8, 0.1, 0.1), seed=0)
    fixed = {"epochs": 4, "batch_size": 256, "dim": 8}
    spec = TrialSpec(split, "bpr", ("ndcg@10", "recall@10"), fixed, 0)
    configs = [{"lr": lr, "patience": p} for lr, p in
               [(3e-2, 0), (1e-2, 0), (1e-3, 0), (5e-3, 0), (2e-2, 0)]]
    out = {"devices": jax.device_count()}
    records = {}
    for name in ("sequential", "vectorized"):
        with make_executor(name) as ex:
            ex.start(spec)
            records[name] = ex.map(configs)
    trainer = spec.build()
    steps = fixed["epochs"] * -(-len(split.train) // 256)
    near = 0
    for j, (cfg, a, b) in enumerate(zip(configs, records["sequential"], records["vectorized"])):
        assert a["epochs_run"] == b["epochs_run"] == 4
        state = nnx.state(trainer.fit(cfg).model, nnx.Param)
        got = jax.tree.map(lambda x: x[j], fits[0].params)
        dp, scale = param_difference(state, got)
        assert dp <= train_tolerance(steps, scale), (j, dp)
        user, item = bpr_embeddings(state)
        near += assert_values_agree(trainer.evaluator("valid"), a["valid"], b["valid"],
                                    user @ item.T, score_bound(user, item, dp), f"config {j}")
    out["programs"] = len(fits)
    out["near_ties"] = near
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
    assert out["programs"] == 1  # one bucket, one program: its values agree with sequential's


# SASRec as its paper sets it up: BCE on sequence negatives, ReLU, scaled embeddings, Adam b2.
SASREC_PAPER = {"loss": "bce", "activation": "relu", "scale_embeddings": True, "b2": 0.98}


@pytest.mark.parametrize(
    "name, extra",
    [(n, {}) for n in sorted(SMALL_ZOO)] + [("sasrec", SASREC_PAPER)],
    ids=[*sorted(SMALL_ZOO), "sasrec-paper"],
)
def test_every_model_trains_vectorized_as_it_does_alone(name, extra, planted_split, trained):
    """Per-candidate dropout, L2 and learning rate, for each model family."""
    assert sorted(SMALL_ZOO) == sorted(mr.models.available())
    if getattr(_MODELS[name], "closed_form", False):
        # one pass, no epochs, no loss terms: the vectorized executor solves and scores each
        # candidate alone, as sequential does, so the records are the same bit for bit
        spec = TrialSpec(planted_split, name, ("ndcg@10", "ild@10", "params"), SMALL_ZOO[name], 0)
        configs = [{"patience": 0}, {"patience": 1, "valid_metric": "recall@10"}]
        records = {}
        for executor in ("sequential", "vectorized"):
            with make_executor(executor) as ex:
                ex.start(spec)
                records[executor] = ex.map(configs)
        for a, b in zip(records["sequential"], records["vectorized"], strict=True):
            assert a["status"] == b["status"] == "ok", (a.get("reason"), b.get("reason"))
            assert a["valid"] == b["valid"] and a["best_epoch"] == b["best_epoch"] == 1
        assert trained == []  # nothing went through fit_population
        return
    fixed = {"epochs": 3, "batch_size": 256, **SMALL_ZOO[name], **extra}
    spec = TrialSpec(planted_split, name, ("ndcg@10", "ild@10", "params"), fixed, 0)
    configs = [
        {"lr": 1e-2, "patience": 0, "dropout": 0.1},
        {"lr": 3e-3, "patience": 0, "dropout": 0.2, "l2": 1e-4},
    ]
    out = {}
    for executor in ("sequential", "vectorized"):
        with make_executor(executor) as ex:
            ex.start(spec)
            out[executor] = ex.map(configs)
    ((_, fitted),) = trained  # one bucket
    trainer = spec.build()
    ev = trainer.evaluator("valid")
    for j, (cfg, a, b) in enumerate(zip(configs, out["sequential"], out["vectorized"])):
        assert a["status"] == b["status"] == "ok", (a.get("reason"), b.get("reason"))
        assert a["best_epoch"] == b["best_epoch"] == 3
        ref = trainer.fit(cfg).model
        rest = fitted.rest if fitted.rest_axis is None else unstack(fitted.rest, j)
        got = nnx.merge(fitted.graphdef, unstack(fitted.params, j), rest)
        # another model's scores are not a plain dot product: the bound is measured
        delta = measured_score_bound(ev, ref, got)
        assert_values_agree(ev, a["valid"], b["valid"], model_scores(ev, ref), delta, name)
