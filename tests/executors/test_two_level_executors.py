"""A two-level search (re-ranking searched, a sweep) under every executor.

Processes and Dask run each candidate with the sequential trainer in another process, so their
stores equal the sequential one exactly. The vectorized executor trains a shape bucket in one
vmapped program, whose float32 sums may round differently from the one-model program; its
store must have the same structure (configs, keys, parents, sweep points), and each trial's
values must be exactly those of its own stored model scored by the sequential trainer.
"""

from __future__ import annotations

import pytest
from _agreement import param_difference, train_tolerance
from flax import nnx

import moorec as mr
from moorec.data.synthetic import synthetic_shop
from moorec.executors.posthoc import training_key
from moorec.executors.trial import TrialSpec
from moorec.search import Choice, Real, Space
from moorec.split import random_ratio

pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use")

KEYS = ["ndcg@10", "ild@10"]
FIXED = {"epochs": 3, "rerank_candidates": 30}
SPACE = Space(lr=Choice([0.01, 0.05]), dim=Choice([8, 16]), rerank=Choice(["none", "mmr"]),
              rerank_weight=Real(0.0, 1.0))  # fmt: skip


@pytest.fixture(scope="module")
def split():
    shop = synthetic_shop(n_users=300, n_items=200, n_interactions=6000, seed=0)
    return random_ratio(shop, (0.8, 0.1, 0.1), seed=0)


def _search(split, out, **kw):
    # One generation: its candidates do not depend on values, so every executor gets the same
    # ones (later generations under the vectorized executor may differ with its rounding).
    return mr.search.search(split, SPACE, KEYS, out=out, pop_size=6, generations=1, fixed=FIXED,
                            sweep={"rerank_weight": 3}, progress=False, **kw)  # fmt: skip


def _structure(run):
    keep = ("trial", "generation", "index", "key", "config", "status", "parent", "trained",
            "from_sweep")  # fmt: skip
    return [{k: t.get(k) for k in keep} for t in run.trials()]


def _lines(run):
    return [{**s, "valid": t["valid"], "test": t.get("test")}
            for s, t in zip(_structure(run), run.trials(), strict=True)]  # fmt: skip


@pytest.fixture(scope="module")
def sequential(split, tmp_path_factory):
    return _search(split, tmp_path_factory.mktemp("seq") / "run")


def test_processes_store_equals_sequential(split, sequential, tmp_path):
    run = _search(split, tmp_path / "run", executor="processes",
                  executor_options={"workers": 2})  # fmt: skip
    assert _lines(run) == _lines(sequential)


@pytest.mark.slow
def test_dask_store_equals_sequential(split, sequential, tmp_path):
    run = _search(split, tmp_path / "run", executor="dask", executor_options={"n_workers": 2})
    assert _lines(run) == _lines(sequential)


def test_vectorized_store_has_the_same_structure_and_its_models_values(split, sequential,
                                                                        tmp_path):  # fmt: skip
    out = tmp_path / "run"
    run = _search(split, out, executor="vectorized")
    assert _structure(run) == _structure(sequential)
    # each value is that of the trial's own stored model, scored by the sequential trainer
    trainer = TrialSpec(split, "bpr", tuple(KEYS), FIXED, 0, reuse=True,
                        state_dir=str(out / "states")).build()  # fmt: skip
    ev = trainer.evaluator("valid")
    for t in run.trials():
        model, _, fitted = trainer.trained(t["config"])
        assert not fitted
        rr = trainer.reranker(t["config"])
        want = ev(model) if rr is None else ev(model, rerank=rr)
        if t.get("from_sweep"):  # one sweep call: per-user values of the same lists, W at once
            for k in KEYS:
                assert t["valid"][k] == pytest.approx(want[k], abs=8 * 2.0**-23)
        else:
            assert t["valid"] == want
    assert len({training_key(t["config"]) for t in run.trials()}) == sum(
        1 for t in run.trials() if t["trained"]
    )


def test_vectorized_keeps_each_candidates_own_model(split, tmp_path):
    """Each stored model is its own candidate's: within float32 rounding of the sequential one.

    Candidates of one bucket (one dim) that differ in lr must not share parameters: shared
    variables would give them all the model of the last candidate written back.
    """
    space = Space(lr=Real(0.005, 0.1))
    fixed = {**FIXED, "dim": 8, "rerank": "mmr"}
    runs = {
        name: mr.search.search(
            split,
            space,
            KEYS,
            out=tmp_path / name,
            pop_size=3,
            generations=1,
            fixed=fixed,
            sweep={"rerank_weight": 2},
            progress=False,
            executor=name,
        )
        for name in ("sequential", "vectorized")
    }
    load = {
        name: TrialSpec(
            split, "bpr", tuple(KEYS), fixed, 0, reuse=True, state_dir=str(run.path / "states")
        ).build()
        for name, run in runs.items()
    }
    trained = [t for t in runs["sequential"].trials() if t["trained"]]
    assert len({t["config"]["lr"] for t in trained}) == 3  # one bucket, three candidates
    n_batches = -(-len(split.train) // 2048)
    models = []
    for t in trained:
        got, _, _ = load["vectorized"].trained(t["config"])
        want, _, _ = load["sequential"].trained(t["config"])
        dp, scale = param_difference(nnx.state(want, nnx.Param), nnx.state(got, nnx.Param))
        assert dp <= train_tolerance(t["epochs_run"] * n_batches, scale), (t["config"], dp)
        models.append(nnx.state(got, nnx.Param))
    apart, _ = param_difference(models[0], models[1])
    assert apart > 1e3 * train_tolerance(FIXED["epochs"] * n_batches, 1.0)  # truly different
