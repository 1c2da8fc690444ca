"""Optuna's samplers driving a moorec search: trials in the run store, replay, warm starts."""

import sys

import pytest
from _fakes import ClosedFormTrainer

import moorec as mr
from moorec.errors import ConfigError
from moorec.search import Choice, Integer, LogReal, Real, Space
from moorec.search.optuna_search import distributions, natural

pytest.importorskip("optuna", reason="the optuna extra (pip install 'moorec[optuna]')")

XY = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))
OBJECTIVES = ["ndcg@10", "ild@10"]


def _search(out, algorithm="optuna-tpe", trainer=None, **kw):
    args = dict(out=out, trainer=trainer or ClosedFormTrainer(), algorithm=algorithm,
                pop_size=5, generations=3, seed=3, progress=False)  # fmt: skip
    args.update(kw)
    return mr.search.search(None, XY, OBJECTIVES, **args)


def _lines(run):
    return [(t["trial"], t["generation"], t["key"], t["status"], t["valid"]) for t in run.trials()]


def test_distributions_and_values_by_hand():
    import optuna.distributions as d

    space = Space(lr=LogReal(1e-4, 1e-1), w=Real(0.0, 2.0), k=Integer(1, 9), m=Choice(["a", "b"]))
    got = distributions(space)
    assert got["lr"] == d.FloatDistribution(1e-4, 1e-1, log=True)
    assert got["w"] == d.FloatDistribution(0.0, 2.0)
    assert got["k"] == d.IntDistribution(1, 9)
    assert got["m"] == d.CategoricalDistribution(["a", "b"])
    # Optuna's values are natural already: LogReal is not exponentiated again
    assert natural(space, {"lr": 1e-3, "w": 1, "k": 4, "m": "b"}) == {
        "lr": 1e-3, "w": 1.0, "k": 4, "m": "b"
    }  # fmt: skip


@pytest.mark.parametrize("algorithm", ["optuna-tpe", "optuna-nsga2", "optuna-gp"])
def test_a_small_search_lands_in_the_run_store(tmp_path, algorithm):
    if algorithm == "optuna-gp":
        pytest.importorskip("torch", reason="Optuna's GP sampler needs PyTorch")
    run = _search(tmp_path / "r", algorithm)
    trials = run.trials()
    assert run.complete and run.config["search"]["algorithm"] == algorithm
    assert [g["generation"] for g in run.generations()] == [1, 2, 3]
    assert {t["generation"] for t in trials} <= {1, 2, 3} and 5 <= len(trials) <= 15
    assert all(t["status"] in ("ok", "failed") for t in trials)
    assert run.pareto_front() and all("test" in m for m in run.pareto_front())
    # every config lies in the space
    assert all(0.0 <= t["config"]["x"] <= 1.0 and 0.0 <= t["config"]["y"] <= 1.0 for t in trials)


def test_same_seed_same_trials_and_resume_replays_to_the_same_store(tmp_path):
    full = _search(tmp_path / "full")
    again = _search(tmp_path / "again")
    assert _lines(again) == _lines(full)
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path / "r", trainer=ClosedFormTrainer(stop_after=7))
    trainer = ClosedFormTrainer()
    resumed = _search(tmp_path / "r", trainer=trainer)
    assert _lines(resumed) == _lines(full)
    assert trainer.calls == len(full.trials()) - 7 + len(full.pareto_front())


def test_failed_trials_are_told_as_failed_and_recorded(tmp_path):
    # every x in (0, 1) fails: the sampler gets no values, the store records each failure
    run = _search(tmp_path / "f", trainer=ClosedFormTrainer(fail=(0.0, 1.0)), generations=1)
    assert [t["status"] for t in run.trials()] == ["failed"] * 5
    assert all("loss became nan" in t["reason"] for t in run.trials())


def test_warm_start_configs_are_enqueued_first(tmp_path):
    run = _search(tmp_path / "w", initial=[{"x": 0.25, "y": 0.0}], generations=1)
    assert run.trials()[0]["config"] == {"x": 0.25, "y": 0.0}


def test_constraints_reach_the_sampler(tmp_path):
    run = _search(tmp_path / "c", constraints=["latency_ms <= 2.0"], generations=2)
    front = run.pareto_front()
    assert front and all(m["valid"]["latency_ms"] <= 2.0 for m in front)


def test_gp_without_torch_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ConfigError, match="optuna-gp needs PyTorch"):
        _search(tmp_path / "g", "optuna-gp")
    assert not (tmp_path / "g").exists()


def test_without_optuna_the_algorithm_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(ConfigError, match=r"need Optuna: pip install 'moorec\[optuna\]'"):
        _search(tmp_path / "n")
    assert not (tmp_path / "n").exists()


def test_each_told_trial_carries_its_constraint_values():
    from moorec.objectives import parse_all
    from moorec.search.optuna_search import run_optuna
    from moorec.search.problem import parse_constraints

    def evaluate(configs):
        values = [
            {"ndcg@10": 1 - c["x"], "ild@10": c["y"], "latency_ms": 1 + 3 * c["x"]} for c in configs
        ]
        return [{"status": "ok", "valid": v} for v in values]

    gens = []
    study = run_optuna(
        "optuna-tpe", space=XY, objectives=parse_all(OBJECTIVES),
        constraints=parse_constraints(["latency_ms <= 2.0"]), evaluate=evaluate,
        on_generation=gens.append, set_generation=lambda g: None, pop_size=3,
        generations=2, seed=0,
    )  # fmt: skip
    assert gens == [1, 2] and len(study.trials) == 6
    for t in study.trials:  # g = latency - 2 (<= 0 feasible), as the sampler reads it
        assert list(t.constraints.values()) == pytest.approx([1 + 3 * t.params["x"] - 2.0])
        assert t.values == pytest.approx([1 - t.params["x"], t.params["y"]])
