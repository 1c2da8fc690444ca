"""Small run stores for the figure tests, written by the search itself with a closed-form trainer.

The runs are made once per session (a second or two in all): two-objective NSGA-II and random
search over three seeds, an NSGA-II run with a longer budget, a three-objective run with a latency
objective (max, max, min), a run where some trials fail, and a run interrupted partway (no
``front.json``).
"""

from __future__ import annotations

import math

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import moorec as mr
from moorec.search import Choice, LogReal, Real, Space

SPACE = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0), lr=LogReal(1e-3, 1e-1), dim=Choice([16, 32, 64]))
TWO = ["ndcg@10", "ild@10"]
THREE = ["ndcg@10", "ild@10", "latency_ms"]


class FakeTrainer:
    """A closed-form problem in place of training (ZDT1-like in x and y).

    ndcg = (1 - x) * (0.7 + 0.3 * dim / 64), ild = (1 - sqrt(x / g)) * g / 2 with g = 1 + y,
    latency_ms = 1 + dim / 32 + y. Trials with ``fail_low < x < fail_high`` fail like a NaN loss;
    after ``stop_after`` calls the trainer raises ``KeyboardInterrupt`` (an interrupted search).
    Test scores differ from validation scores by a config-dependent amount.
    """

    def __init__(self, fail=(0.0, 0.0), stop_after=None):
        self.fail, self.stop_after, self.calls = fail, stop_after, 0

    def scores(self, cfg):
        g = 1.0 + cfg["y"]
        return {
            "ndcg@10": (1.0 - cfg["x"]) * (0.7 + 0.3 * cfg["dim"] / 64),
            "ild@10": (1.0 - math.sqrt(cfg["x"] / g)) * g / 2,
            "latency_ms": 1.0 + cfg["dim"] / 32 + cfg["y"],
        }

    def __call__(self, cfg):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt
        self.calls += 1
        if self.fail[0] < cfg["x"] < self.fail[1]:
            return {
                "status": "failed",
                "reason": "TrainingError: loss became nan at epoch 2",
                "valid": None,
                "train_seconds": 0.0,
                "eval_seconds": 0.0,
            }
        return {
            "status": "ok",
            "reason": None,
            "valid": self.scores(cfg),
            "train_seconds": 0.01,
            "eval_seconds": 0.0,
        }

    def test(self, cfg):
        shift = 0.03 * math.sin(7.0 * cfg["x"] + 3.0 * cfg["y"])
        return {k: v * (1.0 + shift) for k, v in self.scores(cfg).items()}


def make_run(out, objectives=TWO, *, algorithm="nsga2", seed=0, trainer=None, generations=5):
    """Run the search with the fake trainer into ``out`` and return the loaded run."""
    return mr.search.search(
        None,
        SPACE,
        objectives,
        out=out,
        trainer=trainer or FakeTrainer(),
        algorithm=algorithm,
        pop_size=8,
        generations=generations,
        seed=seed,
        progress=False,
    )


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("plot_runs")


@pytest.fixture(scope="session")
def seed_runs(runs_dir):
    """``{"nsga2": [3 runs], "random": [3 runs]}`` on ndcg@10 and ild@10 (both maximised)."""
    return {
        algorithm: [
            make_run(runs_dir / f"{algorithm}-seed{s}", algorithm=algorithm, seed=s)
            for s in range(3)
        ]
        for algorithm in ("nsga2", "random")
    }


@pytest.fixture(scope="session")
def run2(seed_runs):
    """One complete two-objective NSGA-II run."""
    return seed_runs["nsga2"][0]


@pytest.fixture(scope="session")
def longer_run(runs_dir):
    """NSGA-II, seed 1, like ``seed_runs["nsga2"][1]`` but 6 generations instead of 5."""
    return make_run(runs_dir / "nsga2-seed1-longer", seed=1, generations=6)


@pytest.fixture(scope="session")
def run3(runs_dir):
    """A complete three-objective run: ndcg@10 (max), ild@10 (max), latency_ms (min)."""
    return make_run(runs_dir / "three", THREE, seed=1)


@pytest.fixture(scope="session")
def failed_run(runs_dir):
    """A complete run in which about a fifth of the trials failed."""
    run = make_run(runs_dir / "failures", THREE, seed=2, trainer=FakeTrainer(fail=(0.3, 0.5)))
    assert run.failed(), "the fixture needs failed trials"
    return run


@pytest.fixture(scope="session")
def interrupted_run(runs_dir):
    """A run stopped by KeyboardInterrupt in its third generation: no front.json."""
    out = runs_dir / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        make_run(out, THREE, seed=4, trainer=FakeTrainer(stop_after=19))
    run = mr.results.load(out)
    assert not run.complete and "front.json" in run.missing
    return run


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
