"""Two-level search: post-hoc re-ranking settings, the trained-state cache, sweeps, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

import moorec as mr
import moorec.executors.trial as trial_mod
from moorec.data.synthetic import synthetic_shop
from moorec.errors import ConfigError, UnknownNameError
from moorec.executors.posthoc import (
    StateCache,
    Sweep,
    effective_config,
    posthoc_part,
    training_key,
    training_part,
)
from moorec.executors.trial import TrialSpec, searchable_names
from moorec.objectives.evaluate import Evaluator
from moorec.rerank import Reranker
from moorec.search import Choice, Real, Space
from moorec.search.runner import check_search
from moorec.split import random_ratio

KEYS = ("ndcg@10", "ild@10")
FIXED = {"epochs": 3, "rerank_candidates": 30}
ULPS = 8 * float(np.finfo(np.float32).eps)  # per-user float32 values of one list, two programs


@pytest.fixture(scope="module")
def split():
    shop = synthetic_shop(n_users=300, n_items=200, n_interactions=6000, seed=0)
    return random_ratio(shop, (0.8, 0.1, 0.1), seed=0)


class CountFits:
    """Counts the trainings of ``moorec.executors.trial.fit`` (the sequential path's fit)."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = trial_mod.fit

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(trial_mod, "fit", counted)


def _search(split, out, **kw):
    args = dict(
        space=Space(
            lr=Choice([0.01, 0.05]), rerank=Choice(["none", "mmr"]), rerank_weight=Real(0.0, 1.0)
        ),
        objectives=list(KEYS),
        out=out,
        pop_size=4,
        generations=3,
        fixed=FIXED,
        sweep={"rerank_weight": 3},
        progress=False,
    )
    args.update(kw)
    return mr.search.search(split, **args)


def _lines(run):
    keep = ("trial", "generation", "index", "key", "config", "status", "valid", "test",
            "parent", "trained", "best_epoch", "epochs_run")  # fmt: skip
    return [{k: t.get(k) for k in keep} for t in run.trials()]


# -- the parts of a candidate ------------------------------------------------------------------


def test_config_splits_into_training_and_posthoc_parts():
    cfg = {"lr": 0.01, "dim": 16, "rerank": "mmr", "rerank_weight": 0.3, "rerank_candidates": 50}
    assert training_part(cfg) == {"lr": 0.01, "dim": 16}
    assert posthoc_part(cfg) == {"rerank": "mmr", "rerank_weight": 0.3, "rerank_candidates": 50}
    other = {**cfg, "rerank_weight": 0.9, "rerank": "dpp"}
    assert training_key(cfg) == training_key(other)
    assert training_key(cfg) != training_key({**cfg, "lr": 0.02})
    # without a re-ranker the other post-hoc settings change nothing, so they are dropped
    none = {"lr": 0.01, "rerank": "none", "rerank_weight": 0.7}
    assert effective_config(none) == {"lr": 0.01}
    assert effective_config({"lr": 0.01, "rerank_weight": 0.7}, {"rerank": "mmr"}) == {
        "lr": 0.01,
        "rerank_weight": 0.7,
    }
    assert {"rerank", "rerank_weight", "rerank_candidates"} <= set(searchable_names("bpr"))


def test_sweep_grid():
    sweep = Sweep({"rerank_weight": 3})
    assert sweep.weights == [0.0, 0.5, 1.0] and sweep.method == "mmr"
    assert Sweep({"rerank_weight": [0.2, 0.4], "rerank": "dpp"}).weights == [0.2, 0.4]
    got = sweep.configs({"lr": 0.1, "rerank": "none"})
    assert got == [{"lr": 0.1, "rerank": "mmr", "rerank_weight": w} for w in (0.0, 0.5, 1.0)]
    # a candidate's own re-ranker (or a fixed one) is swept, not the sweep's default
    assert sweep.configs({"rerank": "dpp"})[1] == {"rerank": "dpp", "rerank_weight": 0.5}
    assert sweep.configs({}, {"rerank": "xquad"})[0] == {"rerank_weight": 0.0}


@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"rerank_weight": 1}, ConfigError, "count must be >= 2, got 1"),
        ({"rerank_weight": [0.1, 1.5]}, ConfigError, r"in \[0, 1\], got 1.5"),
        ({"rerank_weight": "many"}, ConfigError, "count >= 2 or a list"),
        ({"rerank_weight": 4, "dim": 3}, UnknownNameError, "dim"),
        ({"rerank_weight": 4, "rerank": "none"}, ConfigError, "must be a re-ranker"),
        ({"rerank_weight": 4, "rerank": "mmx"}, UnknownNameError, "mmx"),
        ({"rerank": "mmr"}, ConfigError, "needs rerank_weight"),
        ([21], ConfigError, "must be a table"),
    ],
)
def test_sweep_refuses_bad_settings(settings, error, match):
    with pytest.raises(error, match=match):
        Sweep(settings)


def test_state_cache_gives_back_the_trained_model_bit_for_bit(split, tmp_path):
    spec = TrialSpec(split, "bpr", KEYS, {"epochs": 2}, 0)
    trainer = spec.build()
    result = trainer.fit({"lr": 0.05})
    cache = StateCache(tmp_path / "states", keep=1)
    cache.put("k1", result.model, {"train_seconds": 1.5, "best_epoch": 2, "epochs_run": 2})
    assert "k1" in cache
    fresh = StateCache(tmp_path / "states")  # another process: only the folder is shared
    model, summary = fresh.get("k1", lambda: spec.create({}))
    assert summary == {"train_seconds": 1.5, "best_epoch": 2, "epochs_run": 2}
    want = jax_leaves(result.model)
    got = jax_leaves(model)
    assert len(want) == len(got) and all(np.array_equal(a, b) for a, b in zip(want, got))
    assert not np.array_equal(want[0], jax_leaves(spec.create({}))[0])  # it was trained
    assert fresh.get("missing", lambda: spec.create({})) is None
    # memory keeps the latest `keep`; the folder keeps all
    cache.put("k2", model, summary)
    assert list(cache._memory) == ["k2"] and "k1" in cache


def jax_leaves(model):
    import jax

    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model))]


def test_rerank_only_candidate_trains_nothing(split, monkeypatch):
    fits = CountFits(monkeypatch)
    spec = TrialSpec(split, "bpr", KEYS, FIXED, 0, reuse=True)
    trainer = spec.build()
    low = trainer({"lr": 0.05, "rerank": "mmr", "rerank_weight": 0.2})
    high = trainer({"lr": 0.05, "rerank": "mmr", "rerank_weight": 0.9})
    plain = trainer({"lr": 0.05})
    assert fits.calls == 1 and trainer.trainings == 1
    assert (low["trained"], high["trained"], plain["trained"]) == (True, False, False)
    assert high["valid"]["ild@10"] > low["valid"]["ild@10"] > plain["valid"]["ild@10"]
    # the values are the evaluator's for that model and re-ranker: the same programs, exact
    model, _, _ = trainer.trained({"lr": 0.05})
    ev = Evaluator(split, "valid", list(KEYS))
    assert high["valid"] == ev(model, rerank=Reranker("mmr", weight=0.9, candidates=30))
    assert plain["valid"] == ev(model)
    trainer({"lr": 0.01, "rerank": "mmr", "rerank_weight": 0.2})
    assert fits.calls == 2


def test_sweep_record_equals_one_call_per_weight(split):
    spec = TrialSpec(split, "bpr", KEYS, FIXED, 0, sweep=Sweep({"rerank_weight": 3}), reuse=True)
    trainer = spec.build()
    rec = trainer({"lr": 0.05})
    assert [p["config"] for p in rec["sweep"]] == [
        {"lr": 0.05, "rerank": "mmr", "rerank_weight": w} for w in (0.0, 0.5, 1.0)
    ]
    for point in rec["sweep"]:
        one = trainer(point["config"])
        assert one["trained"] is False
        # the same lists; their per-user float32 values may come from two programs (one
        # vmapped over the weights), so the means agree within a few float32 ulps at 1.0
        np.testing.assert_allclose(
            [point["valid"][k] for k in KEYS], [one["valid"][k] for k in KEYS], rtol=0, atol=ULPS
        )
    # weight 0 is the model's own top-K
    np.testing.assert_allclose(
        [rec["sweep"][0]["valid"][k] for k in KEYS], [rec["valid"][k] for k in KEYS], atol=ULPS
    )


# -- checks before any work ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "fixed", "sweep", "error", "match"),
    [
        ({"rerank": Choice(["none", "mmx"])}, {}, None, UnknownNameError, "mmx"),
        ({"rerank_weight": Real(0.0, 1.5)}, {}, None, ConfigError, "rerank_weight"),
        ({"lr": Real(0.01, 0.1)}, {"rerank_candidates": 5}, None, ConfigError,
         r"rerank_candidates = 5 is shorter than the cutoff k=10"),
        ({"rerank_candidates": Real(20.0, 50.0)}, {}, None, ConfigError, "takes integers"),
        ({"lr": Real(0.01, 0.1)}, {}, {"rerank_weight": 1}, ConfigError, "count must be >= 2"),
        ({"lr": Real(0.01, 0.1)}, {"rerank": "dpp", "rerank_similarity": "euclid"}, None,
         UnknownNameError, "euclid"),
    ],
)  # fmt: skip
def test_check_search_refuses_bad_posthoc_settings(space, fixed, sweep, error, match):
    with pytest.raises(error, match=match):
        check_search(Space(**space), list(KEYS), fixed=fixed, sweep=sweep)


def test_custom_trainer_cannot_take_a_sweep(tmp_path):
    with pytest.raises(ConfigError, match="custom trainer cannot take one"):
        mr.search.search(
            None, Space(x=Real(0.0, 1.0)), list(KEYS), out=tmp_path / "r",
            trainer=lambda c: {}, sweep={"rerank_weight": 3}, progress=False,
        )  # fmt: skip
    assert not (tmp_path / "r").exists()


# -- the two-level search -----------------------------------------------------------------------


def test_two_level_search_trains_each_training_part_once(split, tmp_path, monkeypatch):
    fits = CountFits(monkeypatch)
    run = _search(split, tmp_path / "run")
    trials = run.trials()
    by_id = {t["trial"]: t for t in trials}
    owners = [t for t in trials if t["trained"]]
    parts = {training_key(t["config"]) for t in trials}
    # one fit per training part, none for re-ranking-only candidates, sweeps or test re-scoring
    assert fits.calls == len(owners) == len(parts)
    assert all(t["train_seconds"] > 0 for t in owners)
    for t in trials:
        if t["trained"]:
            assert "parent" not in t
        else:
            parent = by_id[t["parent"]]
            assert parent["trained"] and t["train_seconds"] == 0.0
            assert training_key(parent["config"]) == training_key(t["config"])
    # every trained candidate's sweep follows it: weights 0, 0.5, 1 of MMR, marked as such
    for owner in owners:
        kids = [t for t in trials if t.get("from_sweep") and t["parent"] == owner["trial"]]
        assert [k["trial"] for k in kids] == [owner["trial"] + j for j in (1, 2, 3)]
        assert [k["config"]["rerank_weight"] for k in kids] == [0.0, 0.5, 1.0]
        assert all(k["generation"] == owner["generation"] for k in kids)
    proposed = [t for t in trials if not t.get("from_sweep")]
    assert len(trials) == len(proposed) + 3 * len(owners)
    front = run.pareto_front()
    assert front and all(m["test"] is not None for m in front)
    assert len(list((tmp_path / "run" / "states").glob("*.npz"))) == len(parts)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["sweep"] == {"rerank_weight": 3, "rerank": "mmr"}


def test_front_test_values_use_the_members_reranker(split, tmp_path):
    run = _search(split, tmp_path / "run", generations=1)
    ev = Evaluator(split, "test", list(KEYS))
    states = str(tmp_path / "run" / "states")
    spec = TrialSpec(split, "bpr", KEYS, FIXED, 0, reuse=True, state_dir=states)
    trainer = spec.build()
    for m in run.pareto_front():
        model, _, fitted = trainer.trained(m["config"])
        assert not fitted  # found in the run folder
        rr = trainer.reranker(m["config"])
        want = ev(model) if rr is None else ev(model, rerank=rr)
        assert m["test"] == want


def test_two_level_resume_replays_to_the_identical_store(split, tmp_path, monkeypatch):
    full = _search(split, tmp_path / "full")
    calls = {"n": 0}
    real = trial_mod.Trainer.score

    def dying(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # inside generation 2 or 3: some trials stored, some not
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(trial_mod.Trainer, "score", dying)
    with pytest.raises(KeyboardInterrupt):
        _search(split, tmp_path / "resumed")
    partial = mr.results.load(tmp_path / "resumed")
    assert 0 < len(partial.trials()) < len(full.trials())
    saved = len(list((tmp_path / "resumed" / "states").glob("*.npz")))
    monkeypatch.setattr(trial_mod.Trainer, "score", real)
    fits = CountFits(monkeypatch)
    resumed = _search(split, tmp_path / "resumed")
    assert _lines(resumed) == _lines(full)
    strip = lambda ms: [{k: m[k] for k in ("trial", "config", "valid", "test")} for m in ms]  # noqa: E731
    assert strip(resumed.pareto_front()) == strip(full.pareto_front())
    assert resumed.hypervolume_history() == full.hypervolume_history()
    # the resumed session trained only the models the interrupted one had not saved
    parts = len({training_key(t["config"]) for t in full.trials()})
    assert fits.calls == parts - saved
    assert len(list((tmp_path / "resumed" / "states").glob("*.npz"))) == parts


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).resolve().parents[2] / "examples" / "configs").glob("*.toml"))
)
def test_example_configs_pass_every_check(path):
    from moorec.search.config import load_config, search_settings

    cfg = load_config(path)
    checked = check_search(cfg["space"], **search_settings(cfg))
    if "two_level" in path.name:
        assert checked.sweep is not None and checked.sweep.weights[1] == pytest.approx(0.05)
        assert {"rerank", "rerank_weight"} <= set(checked.space.names)
