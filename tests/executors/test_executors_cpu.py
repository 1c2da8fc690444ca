"""Executors on CPU: sequential, processes, dask and auto give the same records; dead workers.

Processes and Dask workers run the very programs the sequential executor runs (one candidate's
jitted epoch and ranking), so their objectives are compared for equality, not within a
tolerance: a difference would mean another program ran. The vectorized executor runs another
program and is compared in test_vectorized.py.

The trainers below are module-level classes so that they pickle by reference into worker
processes (spawned, or Dask workers), which import this module to rebuild them.
"""

import json
import math
import os

import jax
import pytest

import moorec as mr
import moorec.executors.base as executors_base
from moorec.errors import ConfigError, UnknownNameError
from moorec.executors import (
    EXECUTORS,
    Given,
    SequentialExecutor,
    Trainer,
    TrialSpec,
    available_cores,
    choose,
    make_executor,
)
from moorec.executors.processes import ProcessExecutor
from moorec.search import Real, Space

KEYS = ("ndcg@10", "recall@10", "ild@10", "params")
FIXED = {"epochs": 4, "patience": 0, "batch_size": 256}
CONFIGS = [{"lr": 1e-2, "dim": 8}, {"lr": 1e-3, "dim": 16}, {"lr": 1e-2, "dim": 16}]
SPACE = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))
OBJECTIVES = ["ndcg@10", "ild@10"]

# Two local clusters at once (pytest -n 2) cannot both serve HTTP on Dask's default port.
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use")

cpu_only = pytest.mark.skipif(
    jax.default_backend() != "cpu", reason="auto picks the vectorized executor on accelerators"
)


def _ok(valid):
    return {
        "status": "ok",
        "reason": None,
        "valid": valid,
        "train_seconds": 0.0,
        "eval_seconds": 0.0,
    }


def _closed_form(cfg):
    """ZDT1-like objectives: the ndcg and ild of ClosedFormTrainer (tests/_fakes.py), written
    out here so that worker processes unpickling ``Closed`` need only this module."""
    g = 1.0 + cfg["y"]
    return {"ndcg@10": 1.0 - cfg["x"], "ild@10": (1.0 - math.sqrt(cfg["x"] / g)) * g / 2}


class Counting:
    """A factory whose trainers also report how many epoch programs their process compiled."""

    def __init__(self, spec):
        self.spec = spec

    def build(self):
        return CountingTrainer(self.spec)


class CountingTrainer(Trainer):
    def __call__(self, cfg, part="valid"):
        from moorec.train.loop import train_epoch

        rec = super().__call__(cfg, part)
        rec["compiled"] = train_epoch._cache_size()
        return rec


class Closed:
    """A picklable trainer with closed-form objectives and a ``test`` method."""

    def __call__(self, cfg):
        return _ok(_closed_form(cfg))

    def test(self, cfg):
        return {k: v - 0.01 for k, v in _closed_form(cfg).items()}


class Slow(Closed):
    """:class:`Closed` taking ``seconds`` per candidate (work auto can time)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __call__(self, cfg):
        import time

        time.sleep(self.seconds)
        return super().__call__(cfg)


class FailsOnTest(Closed):
    """Scores on validation; re-scoring on test raises for every candidate with ``x > 0.05``."""

    def test(self, cfg):
        if cfg["x"] > 0.05:
            raise ValueError(f"no test data for x={cfg['x']:.3f}")
        return super().test(cfg)


class DiesOn:
    """Kills its worker process whenever it is given ``x == "die"``; other configs are ok."""

    def __call__(self, cfg):
        if cfg["x"] == "die":
            os._exit(1)
        return _ok({"ndcg@10": float(cfg["x"])})


class DiesOnce(Closed):
    """Kills its worker process on the first config any worker runs (one death in all).

    The marker file is created atomically, so of two workers starting at once only one dies;
    it holds the config that killed its worker.
    """

    def __init__(self, marker):
        self.marker = str(marker)

    def __call__(self, cfg):
        try:
            fd = os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return super().__call__(cfg)
        os.write(fd, json.dumps(cfg).encode())
        os.close(fd)
        os._exit(1)


def _spec(split):
    return TrialSpec(split, "bpr", KEYS, FIXED, 0)


def _assert_same_records(records, reference, part="valid"):
    """The same program on the same inputs: the same objectives, bit for bit."""
    assert len(records) == len(reference)
    for rec, ref, cfg in zip(records, reference, CONFIGS, strict=True):
        assert rec["status"] == "ok", (cfg, rec.get("reason"))
        assert set(rec[part]) == set(KEYS)
        assert rec[part] == ref[part], cfg
        assert rec["best_epoch"] == ref["best_epoch"] and rec["epochs_run"] == ref["epochs_run"]


def _search(out, trainer, **kw):
    args = dict(out=out, trainer=trainer, pop_size=6, generations=2, seed=3, progress=False)
    args.update(kw)
    return mr.search.search(None, SPACE, OBJECTIVES, **args)


def _trials(run):
    return [(t["trial"], t["config"], t["valid"]) for t in run.trials()]


def _front(run):
    return [(m["trial"], m["config"], m["valid"], m["test"]) for m in run.pareto_front()]


@pytest.fixture(scope="module")
def sequential_records(planted_split):
    with make_executor("sequential") as ex:
        ex.start(_spec(planted_split))
        records = ex.map(CONFIGS)
    assert [r["status"] for r in records] == ["ok"] * len(CONFIGS)
    # the configs differ, and so do their numbers: equality below is not trivial
    assert len({r["valid"]["ndcg@10"] for r in records}) == len(CONFIGS)
    return records


@pytest.fixture(scope="module")
def sequential_tests(planted_split, sequential_records):
    """The configs re-scored on test, as the final front is."""
    spec = _spec(planted_split)
    with make_executor("sequential") as ex:
        ex.start(spec)
        records = ex.map(CONFIGS, part="test")
    trainer = spec.build()
    for rec, ref, cfg in zip(records, sequential_records, CONFIGS, strict=True):
        assert rec["status"] == "ok" and "valid" not in rec
        assert rec["test"] == trainer.test(cfg)  # the same model, scored on test
        assert rec["test"] != ref["valid"]  # and test is not validation
        assert (rec["best_epoch"], rec["epochs_run"]) == (ref["best_epoch"], ref["epochs_run"])
    return records


@pytest.fixture(scope="module")
def sequential_search(tmp_path_factory):
    return _search(tmp_path_factory.mktemp("seq") / "run", Closed(), executor="sequential")


# ----------------------------------------------------------------------------- equivalence


def test_processes_match_sequential_and_workers_stay_warm(
    planted_split, sequential_records, sequential_tests
):
    with make_executor("processes", workers=2) as ex:
        ex.start(Counting(_spec(planted_split)))
        pids = list(ex.pids)
        assert len(pids) == 2 and os.getpid() not in pids
        first = ex.map(CONFIGS)
        second = ex.map(CONFIGS)
        _assert_same_records(first, sequential_records)
        _assert_same_records(second, sequential_records)
        _assert_same_records(ex.map(CONFIGS, part="test"), sequential_tests, "test")
        # the same worker processes ran both calls: none restarted, none replaced
        assert {r["worker"] for r in first + second} <= set(pids)
        assert ex.pids == pids
        desc = ex.describe()
        assert {k: desc[k] for k in ("name", "workers", "threads_per_worker", "restarts")} == {
            "name": "processes",
            "workers": 2,
            "threads_per_worker": max(1, available_cores() // 2),
            "restarts": 0,
        }
        # warm workers compile once per model shape, not once per trial: 6 trials, and each
        # worker's count of compiled epoch programs is at most the shapes it trained
        shapes: dict[int, set] = {}
        for r, cfg in zip(first + second, CONFIGS + CONFIGS, strict=True):
            shapes.setdefault(r["worker"], set()).add(cfg["dim"])
        for r in first + second:
            assert 1 <= r["compiled"] <= len(shapes[r["worker"]]), (r["compiled"], shapes)


def test_dask_matches_sequential(planted_split, sequential_records, sequential_tests):
    ex = make_executor("dask", n_workers=2)
    with ex:
        ex.start(_spec(planted_split))
        desc = ex.describe()
        records = ex.map(CONFIGS)
        tested = ex.map(CONFIGS, part="test")
    _assert_same_records(records, sequential_records)
    _assert_same_records(tested, sequential_tests, "test")
    assert desc["name"] == "dask" and desc["workers"] == 2 and desc["local_cluster"] is True
    assert desc["scheduler"].startswith("tcp://")
    assert all(r["worker"] != os.getpid() for r in records)
    assert ex.client is None  # closed with the executor


# ----------------------------------------------------------------------------- processes


def test_processes_record_a_worker_that_always_dies_as_failed():
    configs = [{"x": 0.25}, {"x": "die"}, {"x": 0.75}]
    with make_executor("processes", workers=2) as ex:
        ex.start(Given(DiesOn()))
        records = ex.map(configs)
        restarts = ex.describe()["restarts"]
    assert [r["status"] for r in records] == ["ok", "failed", "ok"]
    assert [records[0]["valid"], records[2]["valid"]] == [{"ndcg@10": 0.25}, {"ndcg@10": 0.75}]
    assert records[1]["valid"] is None
    assert records[1]["reason"].startswith("RuntimeError: worker process died")
    assert restarts >= 1


def test_processes_retry_a_trial_whose_worker_died_once(tmp_path):
    marker = tmp_path / "died"
    configs = [{"x": 0.1, "y": 0.0}, {"x": 0.5, "y": 0.5}, {"x": 0.9, "y": 1.0}]
    with make_executor("processes", workers=2) as ex:
        ex.start(Given(DiesOnce(marker)))
        before = set(ex.pids)
        records = ex.map(configs)
        assert ex.describe()["restarts"] == 1
        # the pool was restarted with new processes; a trial may have ended before the death
        assert len(ex.pids) == 2 and before.isdisjoint(ex.pids)
        assert {r["worker"] for r in records} <= before | set(ex.pids)
    assert json.loads(marker.read_text()) in configs  # a worker did die
    assert [r["status"] for r in records] == ["ok"] * 3
    assert [r["valid"] for r in records] == [_closed_form(c) for c in configs]


# ----------------------------------------------------------------------------- dask


def test_dask_search_equals_sequential_search(tmp_path, sequential_search):
    run = _search(tmp_path / "dask", Closed(), executor="dask", executor_options={"n_workers": 2})
    assert run.complete
    assert len(run.trials()) >= 6
    assert _trials(run) == _trials(sequential_search)
    assert _front(run) == _front(sequential_search) and _front(run)
    assert run.manifest["executor"]["name"] == "dask"
    assert run.manifest["executor"]["workers"] == 2
    assert sequential_search.manifest["executor"] == {"name": "sequential"}
    assert {t["executor"] for t in run.trials()} == {"dask"}
    assert all(t["worker"] != os.getpid() for t in run.trials())


def test_dask_search_survives_a_killed_worker(tmp_path, sequential_search):
    marker = tmp_path / "died"
    run = _search(
        tmp_path / "run",
        DiesOnce(marker),
        executor="dask",
        executor_options={"n_workers": 2},
    )
    assert run.complete
    killer = json.loads(marker.read_text())  # the config whose first worker died
    trial = next(t for t in run.trials() if t["config"] == killer)
    assert trial["status"] == "ok"
    assert trial["valid"] == _closed_form(killer)
    assert all(t["status"] == "ok" for t in run.trials())
    assert _trials(run) == _trials(sequential_search)


def test_dask_single_worker_survives_its_death(tmp_path):
    configs = [{"x": 0.1, "y": 0.0}, {"x": 0.5, "y": 0.5}]
    with make_executor("dask", n_workers=1) as ex:
        ex.start(Given(DiesOnce(tmp_path / "died")))
        records = ex.map(configs)
    assert [r.get("reason") for r in records] == [None, None]
    assert [r["valid"] for r in records] == [_closed_form(c) for c in configs]


# ----------------------------------------------------------------------------- auto


@cpu_only
def test_choose_follows_the_cores(monkeypatch):
    expected = "processes" if available_cores() >= 2 else "sequential"
    assert choose()[0] == expected
    monkeypatch.setattr(executors_base, "available_cores", lambda: 1)
    name, reason = choose()
    assert name == "sequential" and "1 CPU core" in reason
    monkeypatch.setattr(executors_base, "available_cores", lambda: 4)
    name, reason = choose()
    assert name == "processes" and "4 CPU cores" in reason
    assert choose(builtin_trainer=False)[0] == "processes"


@cpu_only
def test_auto_runs_a_lone_candidate_here(monkeypatch):
    import moorec

    monkeypatch.setattr(executors_base, "available_cores", lambda: 4)  # processes are possible
    monkeypatch.setattr(moorec, "IMPORT_SECONDS", 0.0)
    with make_executor("auto", processes={"workers": 2}) as ex:
        ex.plan(10_000)  # a long search: once timed, processes pay
        ex.start(Given(Slow(0.05)))
        (rec,) = ex.map([{"x": 0.5, "y": 0.0}])
        assert rec["executor"] == "sequential" and "worker" not in rec
        assert rec["valid"] == _closed_form({"x": 0.5, "y": 0.0})
        timed = ex.map([{"x": 0.1, "y": 0.0}, {"x": 0.2, "y": 0.0}])  # timed here, then decided
        assert {r["executor"] for r in timed} == {"sequential"}
        assert ex.decision["processes"] is True and ex.decision["credited_speedup"] == 2
        two = ex.map([{"x": 0.3, "y": 0.0}, {"x": 0.4, "y": 0.0}])
        assert all(r["worker"] in ex.inner.pids for r in two)
        desc = ex.describe()
    assert desc["requested"] == "auto" and desc["name"] == "processes"
    assert desc["workers"] == 2 and "then processes" in desc["reason"]
    assert desc["candidates"] == {"sequential": 3, "processes": 2}


@cpu_only
def test_auto_stays_in_this_process_when_start_up_would_not_pay(monkeypatch):
    monkeypatch.setattr(executors_base, "available_cores", lambda: 4)
    with make_executor("auto", processes={"workers": 2}) as ex:
        ex.plan(6)  # a small search: the remaining work cannot pay for new interpreters
        ex.start(Given(Closed()))
        records = ex.map([{"x": 0.1 * i, "y": 0.0} for i in range(1, 4)])
        assert {r["executor"] for r in records} == {"sequential"}
        assert ex.decision["processes"] is False and ex.decision["remaining"] == 3
        later = ex.map([{"x": 0.5, "y": 0.0}, {"x": 0.6, "y": 0.0}])
        desc = ex.describe()
    assert {r["executor"] for r in later} == {"sequential"}
    assert desc["name"] == "sequential" and "then stayed here" in desc["reason"]


def test_processes_pay_by_hand():
    kw = dict(first_seconds=2.0, candidate_seconds=1.0, import_seconds=3.0)
    # 16 cores, 8 workers of 2 threads: at most 8x; 100 left save 100 * (1 - 1/8) = 87.5 s;
    # start-up 3 + 2 * 16 / 2 = 19 s
    pays, f = executors_base.processes_pay(remaining=100, workers=8, cores=16, **kw)
    assert pays and f["credited_speedup"] == 8 and f["predicted_saving_seconds"] == 87.5
    assert f["startup_seconds"] == 19.0
    # 20 left: 17.5 s saved < 19 s start-up
    assert not executors_base.processes_pay(remaining=20, workers=8, cores=16, **kw)[0]
    # 2 cores, 2 workers of 1 thread: start-up 3 + 2 * 2 / 1 = 7 s; 16 left save 16 * 0.5 =
    # 8 s (pays), 12 left 6 s (does not)
    assert executors_base.processes_pay(remaining=16, workers=2, cores=2, **kw)[0]
    assert not executors_base.processes_pay(remaining=12, workers=2, cores=2, **kw)[0]
    # one core: nothing to gain
    pays, f = executors_base.processes_pay(remaining=10_000, workers=4, cores=1, **kw)
    assert not pays and f["credited_speedup"] == 1 and f["predicted_saving_seconds"] == 0.0


@cpu_only
def test_search_with_auto_records_the_choice(tmp_path, sequential_search):
    run = _search(
        tmp_path / "run",
        Closed(),
        executor="auto",
        executor_options={"processes": {"workers": 2}},
    )
    chosen = choose(builtin_trainer=False)[0]
    manifest = run.manifest["executor"]
    if chosen == "processes":  # possible; taken only where the timed work pays for it
        chosen = "processes" if manifest["decision"]["processes"] else "sequential"
    assert manifest["requested"] == "auto" and manifest["name"] == chosen
    assert manifest["reason"]
    assert {t["executor"] for t in run.trials()} == {chosen}
    assert _trials(run) == _trials(sequential_search)
    # the front is re-scored on test by the chosen executor, with the same values
    assert _front(run) == _front(sequential_search)
    assert all(m[3] is not None for m in _front(run))


# ----------------------------------------------------------------------------- errors


def test_a_part_other_than_valid_or_test_is_refused(planted_split):
    with make_executor("sequential") as ex:
        ex.start(_spec(planted_split))
        with pytest.raises(UnknownNameError, match="unknown part 'train'; valid choices: test"):
            ex.map(CONFIGS[:1], part="train")


@pytest.mark.parametrize("executor", ["sequential", "processes"])
def test_a_failed_test_rescoring_is_recorded_not_fatal(tmp_path, executor):
    kw = {"workers": 2} if executor == "processes" else {}
    run = _search(
        tmp_path / "run", FailsOnTest(), executor=executor, executor_options=kw,
        pop_size=16, generations=4,
    )  # fmt: skip
    front = json.loads((run.path / "front.json").read_text())
    failed = [m for m in front["members"] if m["config"]["x"] > 0.05]
    passed = [m for m in front["members"] if m["config"]["x"] <= 0.05]
    assert failed and passed  # the front spans both sides
    for m in failed:
        assert m["test"] is None
        assert m["test_error"] == f"ValueError: no test data for x={m['config']['x']:.3f}"
    for m in passed:
        assert "test_error" not in m
        assert m["test"] == {k: v - 0.01 for k, v in _closed_form(m["config"]).items()}
    # nothing is stored for the failed members, so resuming tries them again
    assert {t["trial"] for t in run.trials() if t["test"] is not None} == {
        m["trial"] for m in passed
    }


def test_unknown_executor_name_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="executor 'gpu'") as err:
        make_executor("gpu")
    for name in EXECUTORS:
        assert name in str(err.value)


def test_bad_executor_settings():
    with pytest.raises(ConfigError, match="bogus"):
        make_executor("processes", bogus=1)
    with pytest.raises(ConfigError, match="bogus"):
        make_executor("dask", bogus=1)
    with pytest.raises(ConfigError, match="bogus"):
        make_executor("auto", bogus={})
    with pytest.raises(ConfigError, match="workers"):
        ProcessExecutor(workers=0)
    with pytest.raises(ConfigError, match="workers"):
        make_executor("processes", workers=-1)
    ex = SequentialExecutor()
    assert make_executor(ex) is ex
    with pytest.raises(ConfigError, match="options"):
        make_executor(ex, workers=2)


@pytest.mark.parametrize("name", ["sequential", "processes", "dask"])
def test_run_before_start(name):
    ex = make_executor(name)
    with pytest.raises(ConfigError, match="not started"):
        ex.map([{"x": 0.5, "y": 0.0}])
    ex.close()


def test_search_rejects_a_bad_executor_before_training(tmp_path):
    with pytest.raises(UnknownNameError, match="executor"):
        _search(tmp_path / "run", Closed(), executor="gpu")
    with pytest.raises(ConfigError, match="bogus"):
        _search(tmp_path / "run2", Closed(), executor="processes", executor_options={"bogus": 1})
    assert not (tmp_path / "run").exists() and not (tmp_path / "run2").exists()


NO_MAIN_GUARD = """
import sys
sys.path.insert(0, "tests")
import moorec as mr
from conftest import planted_interactions
from moorec.executors import TrialSpec, make_executor
from moorec.split import random_ratio

split = random_ratio(planted_interactions(), (0.8, 0.1, 0.1), seed=0)
ex = make_executor("processes", start_timeout=15)
try:
    ex.start(TrialSpec(split, "bpr", ("ndcg@10",), {"epochs": 1}, 0))
except mr.MoorecError as err:
    print(type(err).__name__, err)
"""


def test_workers_that_cannot_start_raise_a_clear_error(tmp_path):
    """A script without a main guard cannot spawn workers: an error says so, no hang."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "no_guard.py"
    script.write_text(NO_MAIN_GUARD)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=240
    )
    assert "ExecutorError 2 worker processes did not start within 15 s" in proc.stdout, (
        proc.stdout[-1000:] + proc.stderr[-1000:]
    )
    assert "if __name__ == '__main__':" in proc.stdout
