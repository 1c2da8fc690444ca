"""Multi-fidelity search: successive halving over epochs inside each generation."""

import numpy as np
import pytest

import moorec as mr
from moorec.errors import ConfigError
from moorec.search import Integer, Real, Space
from moorec.search.fidelity import Fidelity, promote, rung_sizes

XY = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))
OBJECTIVES = ["ndcg@10", "ild@10"]
SCHEDULE = {"epochs": [1, 3, 9], "eta": 3}


class Budgeted:
    """ndcg grows with epochs, ild = x (1 - y): a front along y = 0. Counts calls per budget."""

    def __init__(self, stop_after=None):
        self.calls, self.stop_after = [], stop_after

    def __call__(self, cfg):
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise KeyboardInterrupt
        self.calls.append(cfg["epochs"])
        e = cfg["epochs"]
        valid = {"ndcg@10": (1.0 - cfg["x"]) * e / (e + 1.0), "ild@10": cfg["x"] * (1 - cfg["y"])}
        return {"status": "ok", "reason": None, "valid": valid, "train_seconds": 0.01 * e,
                "eval_seconds": 0.0}  # fmt: skip

    def test(self, cfg):
        return self(cfg)["valid"]


def _search(out, trainer, **kw):
    args = dict(out=out, trainer=trainer, pop_size=9, generations=3, seed=1, progress=False,
                fidelity=SCHEDULE)  # fmt: skip
    args.update(kw)
    return mr.search.search(None, XY, OBJECTIVES, **args)


def test_rung_sizes_by_hand():
    assert rung_sizes(9, Fidelity((1, 3, 9), 3)) == [9, 3, 1]
    assert rung_sizes(16, Fidelity((2, 8), 4)) == [16, 4]
    assert rung_sizes(2, Fidelity((1, 2, 4), 3)) == [2, 1, 1]  # at least one moves on


def test_promotion_picks_the_non_dominated_then_the_crowding_by_hand():
    # minimised values: rows 0, 1, 2, 4 are non-dominated; 3 is dominated by 2
    values = np.array([[0.0, 1.0], [1.0, 0.0], [0.4, 0.4], [0.5, 0.5], [0.6, 0.3]])
    feasible = np.ones(5, bool)
    # the front's extremes (0, 1: infinite crowding) first, then by crowding distance:
    # 2 has neighbours 0 and 4 in f1 (0.6 apart) and 4 and 0 in f2 (0.7): 1.3 over the unit
    # ranges; 4 has 2 and 1 in f1 (0.6) and 1 and 2 in f2 (0.4): 1.0; the dominated 3 last
    assert promote(values, feasible, 5) == [0, 1, 2, 4, 3]
    assert promote(values, feasible, 2) == [0, 1]
    assert promote(values, feasible, 3) == [0, 1, 2]
    # an infeasible row ranks after every feasible one, however good
    feasible = np.array([False, True, True, True, True])
    assert promote(values, feasible, 5)[-1] == 0


def test_each_generation_trains_its_rungs_and_stores_their_budgets(tmp_path):
    trainer = Budgeted()
    run = _search(tmp_path / "r", trainer)
    trials = run.trials()
    # 9 at 1 epoch, 3 at 3, 1 at 9 in the first generation (later ones may reuse configs)
    assert trainer.calls[:13] == [1] * 9 + [3] * 3 + [9]
    for t in trials:
        assert t["config"]["epochs"] == t["budget"] == [1, 3, 9][t["rung"]]
        assert t["full_budget"] is (t["rung"] == 2)
    # the front and the archive hold full-budget trials only
    front = run.pareto_front()
    assert front and all(m["config"]["epochs"] == 9 for m in front)
    full = {t["trial"] for t in trials if t["full_budget"]}
    assert {m["trial"] for m in front} <= full
    assert run.manifest["config"]["fidelity"] == {"epochs": [1, 3, 9], "eta": 3.0}
    # the promoted ones were the best of their rung: at rung 0 of generation 1, the 3 promoted
    # configs are the first three of promote() over the rung's values
    gen1 = [t for t in trials if t["generation"] == 1]
    r0 = [t for t in gen1 if t["rung"] == 0]
    vals = np.array([[-t["valid"]["ndcg@10"], -t["valid"]["ild@10"]] for t in r0])
    keep = promote(vals, np.ones(len(r0), bool), 3)
    promoted = [t["config"]["x"] for t in gen1 if t["rung"] == 1]
    assert sorted(promoted) == sorted(r0[k]["config"]["x"] for k in keep)


def test_a_multi_fidelity_search_resumed_after_an_interruption_replays_to_the_same_store(
    tmp_path,
):
    _search(tmp_path / "full", Budgeted())
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path / "r", Budgeted(stop_after=17))  # inside generation 2's rung 1
    trainer = Budgeted()
    resumed = _search(tmp_path / "r", trainer)
    full = mr.results.load(tmp_path / "full")
    strip = lambda run: [  # noqa: E731
        (t["trial"], t["generation"], t["key"], t["budget"], t["valid"]) for t in run.trials()
    ]
    assert strip(resumed) == strip(full)
    assert resumed.hypervolume_history() == full.hypervolume_history()
    assert len(trainer.calls) == len(full.trials()) - 17 + len(full.pareto_front())


def test_the_front_from_every_budget_on_request(tmp_path):
    full = _search(tmp_path / "full", Budgeted())
    every = _search(tmp_path / "all", Budgeted(), fidelity={**SCHEDULE, "front": "all"})
    # the same trials (the option changes which of them form the front, nothing else)
    assert [t["key"] for t in every.trials()] == [t["key"] for t in full.trials()]
    assert every.hypervolume_history() == full.hypervolume_history()
    assert every.manifest["config"]["fidelity"] == {"epochs": [1, 3, 9], "eta": 3.0, "front": "all"}
    # by hand: the non-dominated ok trials of every rung (ndcg grows with epochs, so a lower
    # rung's trial is on the front only where no full-budget trial dominates it)
    trials = [t for t in every.trials() if t["status"] == "ok"]
    vals = np.array([[t["valid"]["ndcg@10"], t["valid"]["ild@10"]] for t in trials])
    dominated = [any((w >= v).all() and (w > v).any() for w in vals) for v in vals]
    expected = {t["trial"] for t, d in zip(trials, dominated, strict=True) if not d}
    assert {m["trial"] for m in every.pareto_front()} == expected
    assert any(m["config"]["epochs"] < 9 for m in every.pareto_front())
    assert all(m["config"]["epochs"] == 9 for m in full.pareto_front())


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"fidelity": {"epochs": [1, 3], "front": "best"}}, "front must be one of full, all"),
        ({"fidelity": {"epochs": [3]}}, "at least 2 epochs"),
        ({"fidelity": {"epochs": [3, 3, 9]}}, "must increase strictly"),
        ({"fidelity": {"epochs": [0, 3]}}, "positive integers"),
        ({"fidelity": {"epochs": [1, 3], "eta": 1}}, "eta must be a number > 1"),
        ({"fidelity": {"epochs": [1, 3], "rounds": 2}}, r"eta and front; got unknown keys"),
        ({"fidelity": {"eta": 3}}, "needs its budgets"),
        ({"fidelity": "epochs"}, "must be a table"),
        ({"fixed": {"epochs": 5}}, "epochs is set by the fidelity schedule"),
        ({"algorithm": "optuna-nsga2"}, "fidelity is not available with optuna-nsga2"),
    ],
)
def test_bad_schedules_are_refused_before_any_work(tmp_path, kw, match):
    if kw.get("algorithm", "").startswith("optuna"):
        pytest.importorskip("optuna", reason="the optuna extra")
    with pytest.raises(ConfigError, match=match):
        _search(tmp_path / "bad", Budgeted(), **{"fidelity": SCHEDULE, **kw})
    assert not (tmp_path / "bad").exists()


def test_a_searched_epochs_variable_is_refused(tmp_path):
    space = Space(x=Real(0.0, 1.0), epochs=Integer(1, 9))
    with pytest.raises(ConfigError, match="epochs is set by the fidelity schedule"):
        mr.search.search(None, space, OBJECTIVES, out=tmp_path / "e", trainer=Budgeted(),
                         fidelity=SCHEDULE, progress=False)  # fmt: skip


def test_a_real_model_search_with_a_schedule(tmp_path):
    data = mr.datasets.synthetic_shop(n_users=60, n_items=40, n_interactions=800, seed=0)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    run = mr.search.search(
        split, Space(lr=mr.search.LogReal(1e-3, 1e-1)), OBJECTIVES, out=tmp_path / "bpr",
        model="bpr", pop_size=4, generations=1, seed=0, fidelity={"epochs": [1, 2], "eta": 2},
        fixed={"patience": 0, "dim": 8}, progress=False,
    )  # fmt: skip
    rungs = [(t["rung"], t["config"]["epochs"]) for t in run.trials()]
    assert rungs == [(0, 1)] * 4 + [(1, 2)] * 2
    assert all(m["config"]["epochs"] == 2 and m.get("test") for m in run.pareto_front())


def test_promoted_candidates_continue_their_fit_and_score_as_if_trained_from_scratch(tmp_path):
    from moorec.executors import TrialSpec

    data = mr.datasets.synthetic_shop(n_users=60, n_items=40, n_interactions=800, seed=0)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    fixed = {"patience": 0, "dim": 8}
    run = mr.search.search(
        split, Space(lr=mr.search.LogReal(1e-3, 1e-1)), OBJECTIVES, out=tmp_path / "c",
        model="bpr", pop_size=4, generations=1, seed=0, fidelity={"epochs": [1, 3], "eta": 2},
        fixed=fixed, progress=False, include_defaults=False,
    )  # fmt: skip
    promoted = [t for t in run.trials() if t["rung"] == 1]
    assert len(promoted) == 2 and all(t.get("continued_from") == 1 for t in promoted)
    scratch = TrialSpec(split, "bpr", ("ndcg@10", "ild@10"), fixed, 0).build()  # no states
    for t in promoted:
        assert scratch(t["config"])["valid"] == t["valid"]  # identical values


@pytest.mark.parametrize("executor", ["sequential", "vectorized"])
def test_a_two_level_search_with_a_schedule_under_each_executor(tmp_path, executor):
    """Re-ranking weights searched beside training settings; rungs go to the executor whole."""
    data = mr.datasets.synthetic_shop(n_users=60, n_items=40, n_interactions=800, seed=0)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    space = Space(lr=mr.search.LogReal(1e-3, 1e-1), rerank_weight=Real(0.0, 1.0))
    run = mr.search.search(
        split, space, OBJECTIVES, out=tmp_path / executor, model="bpr", pop_size=4,
        generations=2, seed=0, fidelity={"epochs": [1, 2], "eta": 2}, executor=executor,
        fixed={"patience": 0, "dim": 8, "rerank": "mmr"}, progress=False,
    )  # fmt: skip
    trials = run.trials()
    assert {t["budget"] for t in trials} == {1, 2}
    assert all(t["config"]["epochs"] == t["budget"] for t in trials)
    front = run.pareto_front()
    assert front and all(m["config"]["epochs"] == 2 and m.get("test") for m in front)
    assert run.manifest["executor"]["name"] == executor
