"""The built-in baseline front: one default model re-ranked over a weight sweep, a run folder."""

from __future__ import annotations

import numpy as np
import pytest

import moorec as mr
import moorec.executors.trial as trial_mod
from moorec.data.synthetic import synthetic_shop
from moorec.errors import ConfigError, UnknownNameError
from moorec.objectives.evaluate import Evaluator
from moorec.rerank import Reranker
from moorec.search import baseline_front
from moorec.search.baseline import baseline_settings
from moorec.search.indicators import non_dominated
from moorec.split import random_ratio

KEYS = ["ndcg@10", "ild@10"]


@pytest.fixture(scope="module")
def split():
    shop = synthetic_shop(n_users=300, n_items=200, n_interactions=6000, seed=0)
    return random_ratio(shop, (0.8, 0.1, 0.1), seed=0)


def _baseline(split, out, **kw):
    args = dict(out=out, weights=5, candidates=30, settings={"epochs": 3}, progress=False)
    args.update(kw)
    return baseline_front(split, **args)


def test_baseline_is_one_training_and_a_weight_sweep(split, tmp_path, monkeypatch):
    calls = {"n": 0}
    real = trial_mod.fit

    def counted(*a, **k):
        calls["n"] += 1
        return real(*a, **k)

    monkeypatch.setattr(trial_mod, "fit", counted)
    run = _baseline(split, tmp_path / "base")
    assert calls["n"] == 1  # the sweep and the test re-scoring train nothing
    trials = run.trials()
    assert [t["trial"] for t in trials] == list(range(6))
    assert trials[0]["trained"] and trials[0]["config"] == {"rerank": "none"}
    assert [t["config"] for t in trials[1:]] == [
        {"rerank": "mmr", "rerank_weight": w} for w in (0.0, 0.25, 0.5, 0.75, 1.0)
    ]
    assert all(t["parent"] == 0 and not t["trained"] for t in trials[1:])
    # the defaults of the family, with the settings given over them
    fixed = run.manifest["config"]["fixed"]
    assert fixed["epochs"] == 3 and fixed["lr"] == mr.models.defaults("bpr")["train"]["lr"]
    assert run.manifest["config"]["search"]["algorithm"] == "baseline"
    # the front is the non-dominated set on validation, each member re-scored on test
    values = np.array([[t["valid"][k] for k in KEYS] for t in trials])
    objs = mr.objectives.parse_all(KEYS)
    front_ids = sorted(trials[i]["trial"] for i in non_dominated(values, objs))
    members = run.pareto_front()
    assert sorted(m["trial"] for m in members) == front_ids
    # the test values are those of the trained model re-ranked with each member's weight
    model = trial_mod.TrialSpec(
        split, "bpr", tuple(KEYS), fixed, 0, reuse=True, state_dir=str(tmp_path / "base" / "states")
    ).build()
    trained, _, fitted = model.trained({})
    assert not fitted
    ev = Evaluator(split, "test", KEYS)
    for m in members:
        w = m["config"].get("rerank_weight")
        want = ev(trained) if w is None else ev(trained, rerank=Reranker("mmr", w, 30))
        assert m["test"] == want
    # diversity grows with the weight at the end points of the sweep
    assert trials[5]["valid"]["ild@10"] > trials[1]["valid"]["ild@10"]


def test_finished_baseline_folder_is_resumed_without_work(split, tmp_path, monkeypatch):
    first = _baseline(split, tmp_path / "base")
    monkeypatch.setattr(trial_mod, "fit", lambda *a, **k: pytest.fail("trained again"))
    again = _baseline(split, tmp_path / "base")
    assert [t["valid"] for t in again.trials()] == [t["valid"] for t in first.trials()]


def test_report_overlays_the_baseline_on_a_searched_front(split, tmp_path):
    base = _baseline(split, tmp_path / "base")
    searched = mr.search.search(
        split, mr.search.Space(lr=mr.search.LogReal(0.005, 0.05)), KEYS,
        out=tmp_path / "search", pop_size=2, generations=1, fixed={"epochs": 2}, progress=False,
    )  # fmt: skip
    from moorec.plots.report import report

    written = report([searched, base], tmp_path / "report", formats=("png",))
    assert (tmp_path / "report" / "fronts.png").is_file()
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "baseline sweep" in summary
    assert written


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"candidates": 5}, ConfigError, r"candidates = 5 is shorter than the cutoff k=10"),
        ({"rerank": "mmx"}, UnknownNameError, "mmx"),
        ({"weights": 1}, ConfigError, "count must be >= 2"),
        ({"weights": [0.0, 2.0]}, ConfigError, r"\[0, 1\]"),
        ({"settings": {"lr": -1.0}}, ConfigError, "lr"),
        ({"settings": {"learning_rate": 0.1}}, UnknownNameError, "learning_rate"),
        ({"model": "nope"}, UnknownNameError, "nope"),
        ({"objectives": ["ndcg@10"]}, ConfigError, "at least 2 objectives"),
        ({"similarity": "euclid"}, UnknownNameError, "euclid"),
    ],
)
def test_baseline_refuses_bad_settings_before_any_work(split, tmp_path, kw, error, match):
    with pytest.raises(error, match=match):
        _baseline(split, tmp_path / "base", **kw)
    assert not (tmp_path / "base").exists()


def test_baseline_settings_are_the_family_defaults():
    d = mr.models.defaults("lightgcn")
    got = baseline_settings("lightgcn", {"epochs": 7})
    assert got == {**d["train"], **d["model"], "epochs": 7}
