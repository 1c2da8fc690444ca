"""The search loop: a small NSGA-II run, determinism, resume, failures, refusal, real training."""

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import jax.numpy as jnp
import numpy as np
import pytest
from _fakes import ClosedFormTrainer

import moorec as mr
from moorec.errors import ConfigError, RunConfigMismatchError, UnknownNameError
from moorec.search import LogReal, Real, Space

SPACE = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))
OBJECTIVES = ["ndcg@10", "ild@10"]


class FakeTrainer(ClosedFormTrainer):
    """The shared closed-form trainer (tests/_fakes.py), counting its test re-scorings."""

    def __init__(self, stop_after=None):
        super().__init__(stop_after)
        self.tested = 0

    def test(self, cfg):
        self.tested += 1
        return super().test(cfg)


def _search(out, trainer, **kw):
    args = dict(out=out, trainer=trainer, pop_size=8, generations=5, seed=3, progress=False)
    args.update(kw)
    return mr.search.search(None, SPACE, OBJECTIVES, **args)


def _trial_lines(run):
    return [(t["trial"], t["generation"], t["key"], t["status"], t["valid"]) for t in run.trials()]


def test_small_nsga2_run_writes_a_complete_store(tmp_path):
    trainer = FakeTrainer()
    run = _search(tmp_path / "run", trainer)
    assert run.complete and not run.missing
    gens = run.generations()
    assert [g["generation"] for g in gens] == [1, 2, 3, 4, 5]
    assert gens[-1]["evaluations"] == len(run.trials()) == trainer.calls - trainer.tested
    hv = [h for _, h in run.hypervolume_history()]
    assert hv[0] > 0 and all(b >= a - 1e-12 for a, b in itertools.pairwise(hv))  # archive HV grows
    front = run.pareto_front()
    assert len(front) >= 3
    # every member is non-dominated among the ok trials, and carries test values
    vals = np.array(
        [[t["valid"]["ndcg@10"], t["valid"]["ild@10"]] for t in run.trials() if t["status"] == "ok"]
    )
    for m in front:
        v = np.array([m["valid"]["ndcg@10"], m["valid"]["ild@10"]])
        assert not np.any(np.all(vals >= v, axis=1) & np.any(vals > v, axis=1))
        assert m["test"]["ndcg@10"] == pytest.approx(m["valid"]["ndcg@10"] - 0.01)
    assert trainer.tested == len(front)
    assert run.knee()["trial"] in {m["trial"] for m in front}
    manifest = run.manifest
    assert manifest["reference_point"] == {"ndcg@10": [1.0, 0.0], "ild@10": [1.0, 0.0]}
    assert manifest["config"]["search"]["algorithm"] == "nsga2"
    assert "jax" in manifest["packages"] and manifest["device"]["backend"] == "cpu"
    from moorec.env import source_digest

    assert manifest["source_sha256"] == source_digest()  # the code that ran


def test_nsga2_beats_the_first_generation(tmp_path):
    run = _search(tmp_path / "run", FakeTrainer(), generations=8)
    hv = dict(run.hypervolume_history())
    assert hv[8] > hv[1] * 1.02


def test_same_seed_same_trials(tmp_path):
    a = _search(tmp_path / "a", FakeTrainer())
    b = _search(tmp_path / "b", FakeTrainer())
    assert _trial_lines(a) == _trial_lines(b)
    c = _search(tmp_path / "c", FakeTrainer(), seed=4)
    assert _trial_lines(c) != _trial_lines(a)


def test_resume_after_interruption_gives_the_same_run(tmp_path):
    full = _search(tmp_path / "full", FakeTrainer())
    n_full = len(full.trials())
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path / "resumed", FakeTrainer(stop_after=19))  # dies inside generation 3
    partial = mr.results.load(tmp_path / "resumed")
    assert not partial.complete and len(partial.trials()) == 19
    trainer = FakeTrainer()
    resumed = _search(tmp_path / "resumed", trainer)
    assert trainer.calls == n_full - 19 + len(resumed.pareto_front())  # no trial trained twice
    assert _trial_lines(resumed) == _trial_lines(full)
    strip = lambda front: [(m["trial"], m["valid"], m["test"]) for m in front]  # noqa: E731
    assert strip(resumed.pareto_front()) == strip(full.pareto_front())
    assert resumed.hypervolume_history() == full.hypervolume_history()
    assert len(resumed.manifest["resumed"]) == 1


def test_failed_trials_are_recorded_and_survived(tmp_path):
    space = Space(x=Real(0.44, 0.47), y=Real(0.0, 1.0))
    run = mr.search.search(
        None,
        space,
        OBJECTIVES,
        out=tmp_path / "r",
        trainer=FakeTrainer(),
        pop_size=8,
        generations=3,
        seed=0,
        progress=False,
    )
    failed = run.failed()
    assert failed, "the space was chosen so that about a third of the trials fail"
    assert all(t["reason"].startswith("TrainingError: loss became nan") for t in failed)
    assert run.generations()[-1]["failures"] == len(failed)
    assert all(m["trial"] not in {t["trial"] for t in failed} for m in run.pareto_front())


def test_constraints_exclude_infeasible_trials_from_the_front(tmp_path):
    run = _search(tmp_path / "r", FakeTrainer(), constraints=["ndcg@10 >= 0.5"])
    assert run.pareto_front() and all(m["valid"]["ndcg@10"] >= 0.5 for m in run.pareto_front())
    assert any(t.get("feasible") is False for t in run.trials())


def test_another_config_in_the_same_folder_is_refused(tmp_path):
    _search(tmp_path / "r", FakeTrainer(), generations=2)
    before = {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()}
    with pytest.raises(RunConfigMismatchError, match=r"pop_size: 8 != 6"):
        _search(tmp_path / "r", FakeTrainer(), generations=2, pop_size=6)
    assert {p.name: p.read_bytes() for p in (tmp_path / "r").iterdir()} == before


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"pop_size": 1}, ConfigError, r"pop_size must be an integer >= 2, got 1"),
        ({"generations": 0}, ConfigError, r"generations must be an integer >= 1, got 0"),
        ({"algorithm": "nsga4"}, UnknownNameError, r"unknown algorithm 'nsga4'"),
        ({"knee": "middle"}, UnknownNameError, r"unknown knee method 'middle'"),
    ],
)
def test_bad_search_arguments_write_nothing(tmp_path, kw, error, match):
    with pytest.raises(error, match=match):
        _search(tmp_path / "r", FakeTrainer(), **kw)
    assert not (tmp_path / "r").exists()


def test_bad_objectives_and_variables(tmp_path, planted_split):
    with pytest.raises(ConfigError, match=r"at least 2 objectives"):
        mr.search.search(planted_split, SPACE, ["ndcg@10"], out=tmp_path / "a")
    with pytest.raises(UnknownNameError, match=r"unknown objective 'ndgc'"):
        mr.search.search(planted_split, SPACE, ["ndgc@10", "ild@10"], out=tmp_path / "a")
    with pytest.raises(UnknownNameError, match=r"unknown search variable 'x'.*lr.*pop_weight"):
        mr.search.search(planted_split, SPACE, OBJECTIVES, out=tmp_path / "a")
    assert not (tmp_path / "a").exists()


def test_real_training_search_on_planted_data(tmp_path, planted_split):
    space = Space(lr=LogReal(1e-3, 1e-1), pop_weight=Real(0.0, 2.0))
    run = mr.search.search(
        planted_split,
        space,
        ["ndcg@10", "ild@10", "params"],
        out=tmp_path / "r",
        fixed={"epochs": 3, "batch_size": 256, "dim": 8},
        pop_size=4,
        generations=2,
        seed=0,
        progress=False,
    )
    assert len(run.trials()) == 8 and not run.failed()
    t = run.trials()[0]
    assert t["best_epoch"] >= 1 and t["train_seconds"] > 0
    assert set(t["valid"]) == {"ndcg@10", "ild@10", "params"}
    assert all(
        m["test"] is not None and set(m["test"]) == set(t["valid"]) for m in run.pareto_front()
    )
    # the test split never reached the search: only front members have test values
    front_ids = {m["trial"] for m in run.pareto_front()}
    assert all((tr["test"] is None) == (tr["trial"] not in front_ids) for tr in run.trials())


SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{tests!r}, {root!r}]  # this test module, and tests/_fakes.py
    from test_search_run import FakeTrainer, _search

    class Slow(FakeTrainer):
        def __call__(self, cfg):
            time.sleep(0.05)
            return super().__call__(cfg)

    _search({out!r}, Slow(), generations=5)
    print("done")
""")


def test_kill_9_then_resume(tmp_path):
    out = tmp_path / "run"
    script = tmp_path / "run_search.py"
    script.write_text(
        SCRIPT.format(
            tests=os.path.dirname(__file__),
            root=os.path.dirname(os.path.dirname(__file__)),
            out=str(out),
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    deadline = time.time() + 120
    trials = out / "trials.jsonl"
    while time.time() < deadline:
        if trials.exists() and trials.read_text().count("\n") >= 12:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = trials.read_text().count("\n")
    assert 12 <= n_before < 40
    trainer = FakeTrainer()
    resumed = _search(out, trainer)
    full = _search(tmp_path / "full", FakeTrainer())
    assert _trial_lines(resumed) == _trial_lines(full)
    assert trainer.calls == len(full.trials()) - n_before + len(full.pareto_front())
    json.loads((out / "front.json").read_text())


class _NaNAboveHalf(mr.models.BPRMF):
    """BPR whose loss turns NaN when l2 > 0.5: a real training failure inside the search."""

    def loss(self, batch, hparams):
        loss = super().loss(batch, hparams)
        # l2 is a switch: at 0 it is left out of hparams
        return loss + jnp.where(hparams.get("l2", 0.0) > 0.5, jnp.nan, 0.0)


@pytest.fixture
def nan_model():
    mr.models.register("nan_bpr", _NaNAboveHalf)
    yield "nan_bpr"
    mr.models.registry._MODELS.pop("nan_bpr")


def test_real_nan_trials_recorded_and_search_goes_on(tmp_path, planted_split, nan_model):
    space = Space(l2=Real(0.0, 1.0), lr=LogReal(1e-3, 1e-1))
    run = mr.search.search(
        planted_split,
        space,
        ["ndcg@10", "coverage@10"],
        out=tmp_path / "r",
        model=nan_model,
        fixed={"epochs": 2, "batch_size": 256, "dim": 4, "patience": 0},
        pop_size=6,
        generations=2,
        seed=1,
        progress=False,
    )
    failed = run.failed()
    assert failed and len(failed) < len(run.trials())
    for t in failed:
        assert t["config"]["l2"] > 0.5
        assert t["reason"].startswith("TrainingError: loss became nan at epoch 1")
    assert all(t["config"]["l2"] <= 0.5 for t in run.trials() if t["status"] == "ok")
    assert run.generations()[-1]["failures"] == len(failed)
    assert json.loads((tmp_path / "r" / "front.json").read_text())["failures"] == len(failed)


def test_real_training_same_seed_same_trials(tmp_path, planted_split):
    space = Space(lr=LogReal(1e-3, 1e-1), div_weight=Real(0.0, 1.0))
    kw = dict(
        fixed={"epochs": 2, "batch_size": 256, "dim": 8, "patience": 0},
        pop_size=4,
        generations=2,
        seed=5,
        progress=False,
    )
    a = mr.search.search(planted_split, space, ["ndcg@10", "ild@10"], out=tmp_path / "a", **kw)
    b = mr.search.search(planted_split, space, ["ndcg@10", "ild@10"], out=tmp_path / "b", **kw)
    assert _trial_lines(a) == _trial_lines(b)
    assert [m["test"] for m in a.pareto_front()] == [m["test"] for m in b.pareto_front()]
