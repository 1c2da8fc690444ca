"""``save_front``: the front's trained models kept in the run folder, reused from ``states/``."""

from __future__ import annotations

import pytest

import moorec as mr
import moorec.executors.trial as trial_mod
from moorec.errors import ConfigError
from moorec.executors.posthoc import reranker_of
from moorec.objectives.evaluate import Evaluator
from moorec.search import Choice, LogReal, Real, Space
from moorec.search.config import check_config, search_settings
from moorec.search.runner import check_search

KEYS = ["ndcg@10", "ild@10"]


@pytest.fixture(scope="module")
def split():
    shop = mr.datasets.synthetic_shop(n_users=150, n_items=80, n_interactions=3000, seed=0)
    return mr.split.random_ratio(shop, (0.8, 0.1, 0.1), seed=0)


class CountFits:
    """Counts the trainings of the sequential path (``moorec.executors.trial.fit``)."""

    def __init__(self, monkeypatch, fail=False):
        self.calls = 0
        real = trial_mod.fit

        def counted(*args, **kwargs):
            self.calls += 1
            if fail:
                raise AssertionError("no model should be trained")
            return real(*args, **kwargs)

        monkeypatch.setattr(trial_mod, "fit", counted)


def _search(split, out, space, fixed, **kw):
    return mr.search.search(split, space, KEYS, out=out, pop_size=4, generations=1, fixed=fixed,
                            progress=False, **kw)  # fmt: skip


def _valid_values(run, split, trial):
    """The saved model of ``trial`` scored on validation as the search scored it."""
    member = next(m for m in run.pareto_front() if m["trial"] == trial)
    model = mr.models.load(run.saved_models()[trial], data=split.train)
    rr = reranker_of({**run.config["fixed"], **member["config"]})
    ev = Evaluator(split, "valid", KEYS)
    return member, ev(model) if rr is None else ev(model, rerank=rr)


def test_two_level_front_models_come_from_states_without_training(split, tmp_path, monkeypatch):
    space = Space(rerank=Choice(["none", "mmr"]), rerank_weight=Real(0.0, 1.0))
    fixed = {"epochs": 2, "batch_size": 256, "dim": 8, "rerank_candidates": 20}
    run = _search(split, tmp_path / "run", space, fixed, save_front=True)
    front = run.pareto_front()
    assert front and all(m["model"] == f"models/trial_{m['trial']}" for m in front)
    assert sorted(run.saved_models()) == [m["trial"] for m in front]
    for m in front:
        member, values = _valid_values(run, split, m["trial"])
        assert values == member["valid"], "the saved model is the one that was scored"
        desc = mr.models.describe(run.saved_models()[m["trial"]])
        assert desc["info"]["trial"] == m["trial"] and desc["info"]["config"] == m["config"]
    # saved again from states/ alone: a resumed run trains nothing, not even to save
    for folder in run.saved_models().values():
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()
    CountFits(monkeypatch, fail=True)
    again = _search(split, tmp_path / "run", space, fixed, save_front=True)
    assert sorted(again.saved_models()) == [m["trial"] for m in front]
    for m in front:
        member, values = _valid_values(again, split, m["trial"])
        assert values == member["valid"]


def test_one_level_front_is_trained_again_once_and_kept(split, tmp_path, monkeypatch):
    space = Space(lr=LogReal(1e-3, 1e-1), dim=Choice([4, 8]))
    fixed = {"epochs": 2, "batch_size": 256}
    run = _search(split, tmp_path / "run", space, fixed)
    assert run.saved_models() == {} and not (tmp_path / "run" / "models").exists()
    assert all("model" not in m for m in run.pareto_front())
    # resuming the finished run with save_front saves its front afterwards; a member whose
    # model cannot be saved is named in front.json and does not stop the others
    import moorec.models.persist as persist

    real_save, calls = persist.save, []

    def first_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OSError("disk full")
        return real_save(*args, **kwargs)

    fits = CountFits(monkeypatch)
    with monkeypatch.context() as m:
        m.setattr(persist, "save", first_fails)
        run = _search(split, tmp_path / "run", space, fixed, save_front=True)
    front = run.pareto_front()
    assert fits.calls == len(front) >= 2
    assert front[0]["model_error"] == "OSError: disk full" and "model" not in front[0]
    assert sorted(run.saved_models()) == [m["trial"] for m in front[1:]]
    # the next resume saves what is missing, and keeps what is there as it is
    stamps = {p: p.stat().st_mtime_ns for f in run.saved_models().values() for p in f.iterdir()}
    fits.calls = 0
    run = _search(split, tmp_path / "run", space, fixed, save_front=True)
    front = run.pareto_front()
    assert fits.calls == 1 and sorted(run.saved_models()) == [m["trial"] for m in front]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    for m in front:
        member, values = _valid_values(run, split, m["trial"])
        assert values == member["valid"]
        assert (
            mr.models.describe(run.saved_models()[m["trial"]])["settings"]["dim"]
            == (m["config"]["dim"])
        )
    fits.calls = 0
    _search(split, tmp_path / "run", space, fixed, save_front=True)
    assert fits.calls == 0


def test_save_front_is_checked(split):
    cfg = {
        "search": {"objectives": KEYS, "save_front": True},
        "space": {"lr": {"type": "logreal", "low": 1e-3, "high": 1e-1}},
    }
    check_config(cfg)
    assert search_settings(cfg)["save_front"] is True
    assert "save_front" not in search_settings({**cfg, "search": {"objectives": KEYS}})
    for bad in ("yes", 1):
        with pytest.raises(ConfigError, match=r"search\.save_front must be true or false"):
            check_config({**cfg, "search": {"objectives": KEYS, "save_front": bad}})
    space = Space(lr=LogReal(1e-3, 1e-1))
    with pytest.raises(ConfigError, match=r"save_front must be true or false, got 'yes'"):
        check_search(space, KEYS, save_front="yes")
    with pytest.raises(ConfigError, match=r"a custom trainer has none"):
        check_search(space, KEYS, save_front=True, custom_trainer=True)
    # a boolean stays refused where an integer is asked for
    with pytest.raises(ConfigError, match=r"search\.pop_size must be an integer, got True"):
        check_config({**cfg, "search": {"objectives": KEYS, "pop_size": True}})
