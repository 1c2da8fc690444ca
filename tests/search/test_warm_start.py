"""Warm starts: known configs, another run's front and the family's defaults open a search."""

import numpy as np
import pytest
from _fakes import ClosedFormTrainer

import moorec as mr
from moorec.errors import ConfigError, UnknownNameError
from moorec.search import Choice, Integer, LogReal, Real, Space
from moorec.search.warm import default_config, family_default, inside, resolve_initial

XY = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))
OBJECTIVES = ["ndcg@10", "ild@10"]


def _search(out, trainer=None, **kw):
    args = dict(out=out, trainer=trainer or ClosedFormTrainer(), pop_size=6, generations=3,
                seed=3, progress=False)  # fmt: skip
    args.update(kw)
    return mr.search.search(None, XY, OBJECTIVES, **args)


def _trials(path):
    return mr.results.load(path).trials()


class Line:
    """ndcg = 1 - x, ild = x (1 - y): every x with y = 0 is on the front."""

    def __call__(self, cfg):
        valid = {"ndcg@10": 1.0 - cfg["x"], "ild@10": cfg["x"] * (1.0 - cfg["y"])}
        return {"status": "ok", "reason": None, "valid": valid, "train_seconds": 0.0,
                "eval_seconds": 0.0}  # fmt: skip

    def test(self, cfg):
        return self(cfg)["valid"]


# --------------------------------------------------------------------------- resolving
def test_the_defaults_point_of_bpr_by_hand():
    space = Space(lr=LogReal(1e-4, 1e-1), dim=Choice([16, 32, 64]), pop_weight=Real(0.0, 2.0))
    config, moved = default_config("bpr", space)
    # moorec.models.defaults("bpr"): lr 1e-3, dim 64; BPRMF.hparam_defaults: pop_weight 0
    assert config == {"lr": 1e-3, "dim": 64, "pop_weight": 0.0} and moved == {}
    assert type(config["dim"]) is int and type(config["pop_weight"]) is float


def test_a_default_outside_its_variable_moves_to_the_nearest_value():
    space = Space(lr=LogReal(1e-2, 1e-1), dim=Choice([16, 48]), epochs=Integer(2, 20))
    config, moved = default_config("bpr", space)
    assert config == {"lr": 1e-2, "dim": 48, "epochs": 20}
    assert moved == {"lr": [1e-3, 1e-2], "dim": [64, 48], "epochs": [300, 20]}
    # a fixed setting wins over the family's default
    config, _ = default_config("bpr", space, fixed={"epochs": 5})
    assert config["epochs"] == 5


def test_post_hoc_defaults_are_the_models_own_list():
    assert family_default("bpr", "rerank") == (True, "none")
    assert family_default("bpr", "rerank_weight") == (True, 0.0)
    assert family_default("bpr", "no_such_setting") == (False, None)


def test_inside_by_hand():
    assert inside(Real(0.0, 1.0), 1.0) and not inside(Real(0.0, 1.0), 1.5)
    assert inside(Integer(1, 3), 2) and not inside(Integer(1, 3), 2.5)
    assert inside(Choice([16, 32]), 32) and not inside(Choice([16, 32]), 33)
    assert inside(Choice(["mmr", "dpp"]), "dpp") and not inside(Choice(["mmr"]), "MMR")
    assert not inside(Real(0.0, 1.0), "0.5") and not inside(Real(0.0, 1.0), True)
    assert not inside(Real(0.0, 1.0), float("nan"))


def test_partial_configs_are_completed_with_defaults_and_duplicates_dropped():
    space = Space(lr=LogReal(1e-4, 1e-1), dim=Choice([16, 32, 64]))
    configs, info = resolve_initial(
        space, model="bpr", pop_size=4, initial=[{"dim": 16}, {"lr": 1e-3, "dim": 64}]
    )
    # the defaults point first; the second given config equals it and is dropped
    assert configs == [{"lr": 1e-3, "dim": 64}, {"lr": 1e-3, "dim": 16}]
    assert info == {"defaults": True, "moved": {}, "duplicates_dropped": 1}
    configs, info = resolve_initial(space, model="bpr", pop_size=4, include_defaults=False)
    assert configs == [] and info["defaults"] is False


@pytest.mark.parametrize(
    "initial, error, match",
    [
        ([{"lr": 1.0}], ConfigError, r"initial\[0\]: lr = 1.0 is outside its variable"),
        ([{"dim": 24}], ConfigError, r"initial\[0\]: dim = 24 is outside its variable"),
        ([{"dims": 16}], UnknownNameError, r"variable of initial\[0\]"),
        (["lr=1e-3"], ConfigError, r"initial\[0\] must be a table of variable values"),
        ({"lr": 1e-3}, ConfigError, r"initial must be a list of configs"),
        ([{"dim": d} for d in (16, 32)] * 1 + [{"lr": 1e-2}, {"lr": 2e-2}], ConfigError,
         r"5 warm-start configs do not fit a first generation of pop_size=4"),
    ],
)  # fmt: skip
def test_bad_warm_starts_are_refused(initial, error, match):
    space = Space(lr=LogReal(1e-4, 1e-1), dim=Choice([16, 32, 64]))
    with pytest.raises(error, match=match):
        resolve_initial(space, model="bpr", pop_size=4, initial=initial)


def test_a_custom_trainer_has_no_defaults_so_initial_configs_must_be_complete():
    with pytest.raises(ConfigError, match=r"initial\[0\] lacks variables \['y'\]"):
        resolve_initial(XY, model=None, pop_size=4, initial=[{"x": 0.5}])
    configs, info = resolve_initial(XY, model=None, pop_size=4, initial=[{"x": 0.5, "y": 0}])
    assert configs == [{"x": 0.5, "y": 0.0}] and info["defaults"] is False


def test_include_defaults_must_be_a_bool():
    with pytest.raises(ConfigError, match="include_defaults must be true or false, got 'yes'"):
        resolve_initial(XY, model="bpr", pop_size=4, include_defaults="yes")


# --------------------------------------------------------------------------- in a search
def test_initial_configs_open_the_first_generation_and_the_rest_is_unchanged(tmp_path):
    plain = _search(tmp_path / "plain")
    warm = _search(tmp_path / "warm", initial=[{"x": 0.25, "y": 0.0}, {"x": 0.75, "y": 0.5}])
    a, b = _trials(tmp_path / "plain"), _trials(tmp_path / "warm")
    assert [t["config"] for t in b[:2]] == [{"x": 0.25, "y": 0.0}, {"x": 0.75, "y": 0.5}]
    # the other draws of the first generation are the ones the plain run made
    assert [t["config"] for t in b[2:6]] == [t["config"] for t in a[2:6]]
    assert warm.manifest["config"]["initial"] == [{"x": 0.25, "y": 0.0}, {"x": 0.75, "y": 0.5}]
    assert "initial" not in plain.manifest["config"]
    assert warm.manifest["config_hash"] != plain.manifest["config_hash"]


def test_a_warm_search_resumed_after_an_interruption_replays_to_the_same_store(tmp_path):
    init = [{"x": 0.25, "y": 0.0}]
    _search(tmp_path / "full", initial=init)
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path / "r", ClosedFormTrainer(stop_after=8), initial=init)
    _search(tmp_path / "r", initial=init)
    strip = lambda ts: [{k: t[k] for k in ("trial", "config", "valid", "status")} for t in ts]  # noqa: E731
    assert strip(_trials(tmp_path / "r")) == strip(_trials(tmp_path / "full"))


def test_another_runs_front_joins_the_first_generation(tmp_path):
    first = _search(tmp_path / "first")
    front = [{k: m["config"][k] for k in ("x", "y")} for m in first.pareto_front()][:6]
    second = _search(tmp_path / "second", initial_from=str(tmp_path / "first"))
    got = [t["config"] for t in _trials(tmp_path / "second")[: len(front)]]
    assert got == front
    assert second.manifest["warm_start"]["defaults"] is False  # a custom trainer: no family
    # a front larger than the room left: an even spread of it
    big = _search(tmp_path / "big", Line(), pop_size=12, generations=4)
    all_front = [{k: m["config"][k] for k in ("x", "y")} for m in big.pareto_front()]
    assert len(all_front) >= 4
    small = _search(tmp_path / "small", Line(), pop_size=3, initial=[{"x": 0.5, "y": 0.5}],
                    initial_from=str(tmp_path / "big"))  # fmt: skip
    assert small.manifest["warm_start"]["initial_from_kept"] == [2, len(all_front)]
    got = [t["config"] for t in _trials(tmp_path / "small")[:3]]
    assert got == [{"x": 0.5, "y": 0.5}, all_front[0], all_front[-1]]
    with pytest.raises(ConfigError, match="holds no finished run"):
        _search(tmp_path / "third", initial_from=str(tmp_path / "nothing"))


def test_a_model_search_starts_from_the_family_defaults(tmp_path):
    data = mr.datasets.synthetic_shop(n_users=40, n_items=30, n_interactions=400, seed=0)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    space = Space(lr=LogReal(1e-4, 1e-1), dim=Choice([8, 64]))
    run = mr.search.search(
        split, space, OBJECTIVES, out=tmp_path / "bpr", model="bpr", pop_size=3,
        generations=1, seed=0, fixed={"epochs": 1, "patience": 0}, progress=False,
    )  # fmt: skip
    first = _trials(tmp_path / "bpr")[0]
    assert first["config"] == {"lr": 1e-3, "dim": 64}
    assert run.manifest["warm_start"] == {"defaults": True, "moved": {}}
    off = mr.search.search(
        split, space, OBJECTIVES, out=tmp_path / "off", model="bpr", pop_size=3,
        generations=1, seed=0, fixed={"epochs": 1, "patience": 0}, progress=False,
        include_defaults=False,
    )  # fmt: skip
    assert "initial" not in off.manifest["config"]
    assert _trials(tmp_path / "off")[0]["config"] != first["config"]
    assert np.isfinite(first["valid"]["ndcg@10"])


def test_moead_takes_the_warm_start_as_a_vector(tmp_path):
    _search(tmp_path / "m", algorithm="moead", initial=[{"x": 0.5, "y": 0.25}])
    assert _trials(tmp_path / "m")[0]["config"] == {"x": 0.5, "y": 0.25}
