"""Search settings checked before any work, and progress lines that tell what happened.

The Python API refuses what a TOML config refuses (one check, ``check_search``); a generation
whose trials all failed names the most common reason; a replayed generation prints the figures
it had when it first ran, and a resumed run says how many trials it reused and trained.
"""

import re

import pytest
from _fakes import ClosedFormTrainer

import moorec as mr
from moorec.errors import ConfigError, UnknownNameError
from moorec.objectives import parse_all
from moorec.search import Choice, Integer, LogReal, Real, Space
from moorec.search.indicators import check_knee, check_reference
from moorec.search.runner import check_search, failure_summary, generation_line
from moorec.search.space import check_space_settings

XY = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))
OBJECTIVES = ["ndcg@10", "ild@10"]


def _fake_search(out, trainer, **kw):
    args = dict(out=out, trainer=trainer, pop_size=8, generations=4, seed=3, progress=True)
    args.update(kw)
    return mr.search.search(None, XY, OBJECTIVES, **args)


def _gen_lines(text):
    return [ln for ln in text.splitlines() if ln.startswith("gen ")]


# ------------------------------------------------------------------- the Python API refuses
@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        (
            {"fixed": {"epochs": -3}},
            ConfigError,
            r"fixed setting epochs = -3: epochs must be a positive integer \(> 0\), got -3",
        ),
        (
            {"space": Space(epochs=Integer(-2, 3))},
            ConfigError,
            r"search variable 'epochs' = Integer\(low=-2, high=3\) reaches -2",
        ),
        (
            {"space": Space(lr=LogReal(1e-3, 1e-1), dropout=Real(0.0, 1.0))},
            ConfigError,
            r"'dropout' = Real\(low=0\.0, high=1\.0\) reaches 1\.0.*in \[0, 1\), got 1\.0",
        ),
        (
            {"space": Space(dim=Choice([8, 0]))},
            ConfigError,
            r"search variable 'dim' = Choice\(options=\(8, 0\)\) reaches 0",
        ),
        (
            {"fixed": {"nope": 1}},
            UnknownNameError,
            r"unknown fixed setting 'nope'; valid choices: .*\bepochs\b",
        ),
        (
            {"objectives": ["ndcg@10", "latency_ms"], "reference": {"latency_ms": [10.0, 0.0]}},
            ConfigError,
            r"reference latency_ms = \[10\.0, 0\.0\] is reversed.*did you mean \[0\.0, 10\.0\]",
        ),
        (
            {"reference": {"latency_ms": [0.0, 10.0]}},
            UnknownNameError,
            r"unknown reference key \(an objective of the search\) 'latency_ms'; "
            r"valid choices: ild@10, ndcg@10",
        ),
        ({"pop_size": 0}, ConfigError, r"pop_size must be an integer >= 2, got 0"),
        ({"generations": -2}, ConfigError, r"generations must be an integer >= 1, got -2"),
        ({"executor": "gpu"}, UnknownNameError, r"unknown executor 'gpu'; valid choices: auto"),
        (
            {"executor": "processes", "executor_options": {"worker": 2}},
            ConfigError,
            r"executor 'processes'.*worker",
        ),
        (
            {"executor": "auto", "executor_options": {"processes": {"workers": 0}}},
            ConfigError,
            r"workers must be >= 1, got 0",
        ),
        ({"constraints": "latency_ms <= 5"}, ConfigError, r"constraints must be a list"),
        ({"constraints": ["ndcg@10 => 0.2"]}, ConfigError, r"constraint 'ndcg@10 => 0\.2'"),
        ({"seed": -1}, ConfigError, r"seed must be an integer >= 0, got -1"),
    ],
)
def test_search_refuses_before_any_work(tmp_path, planted_split, kw, error, match):
    kw = {"space": Space(lr=LogReal(1e-3, 1e-1)), "objectives": OBJECTIVES, **kw}
    space, objectives = kw.pop("space"), kw.pop("objectives")
    out = tmp_path / "r"
    with pytest.raises(error, match=match):
        mr.search.search(planted_split, space, objectives, out=out, pop_size=kw.pop("pop_size", 4),
                         generations=kw.pop("generations", 1), progress=False, **kw)  # fmt: skip
    assert not out.exists()


def test_valid_settings_pass_and_reference_keys_are_normalised():
    checked = check_search(
        {"lr": {"type": "logreal", "low": 1e-3, "high": 1e-1}},
        ["ndcg@10", "latency_ms"],
        fixed={"epochs": 3, "dim": 8, "patience": 0},
        reference={"NDCG@10": [1, 0], "latency_ms": [0.0, 5.0]},
        knee_weights=[2, 1],
    )
    assert checked.space.names == ["lr"]
    assert checked.reference == {"ndcg@10": [1, 0], "latency_ms": [0.0, 5.0]}
    assert checked.knee_weights == [2.0, 1.0]
    # a range just inside each setting's valid range is fine
    space = Space(epochs=Integer(1, 4), dropout=Real(0.0, 0.9), dim=Choice([1, 8]))
    check_space_settings("bpr", space, {"div_temperature": 0.5})


@pytest.mark.parametrize(
    ("fixed", "match"),
    [
        ({"div_temperature": 0.0}, r"div_temperature must be > 0, got 0\.0"),
        ({"neg_rounds": 1.5}, r"neg_rounds must be an integer >= 0, got 1\.5"),
        ({"patience": -1}, r"patience must be an integer >= 0, got -1"),
        ({"batch_size": 0}, r"batch_size must be a positive integer \(> 0\), got 0"),
        ({"pop_weight": "high"}, r"pop_weight must be a finite number, got 'high'"),
    ],
)
def test_fixed_values_outside_their_range(fixed, match):
    with pytest.raises(ConfigError, match=r"fixed setting .*: " + match):
        check_space_settings("bpr", Space(lr=LogReal(1e-3, 1e-1)), fixed)


def test_reference_and_knee_checks():
    objs = parse_all(["ndcg@10", "latency_ms"])
    with pytest.raises(ConfigError, match=r"reference ndcg@10 = \[0\.5, 0\.5\] is empty"):
        check_reference({"ndcg@10": [0.5, 0.5]}, objs)
    with pytest.raises(ConfigError, match=r"two finite numbers, got \[0\.0, inf\]"):
        check_reference({"latency_ms": [0.0, float("inf")]}, objs)
    with pytest.raises(ConfigError, match=r"knee_weights must be 2 .*not all 0, got \[0, 0\]"):
        check_knee("asf", [0, 0], objs)
    with pytest.raises(ConfigError, match=r"got \[1, -1\]"):
        check_knee("asf", [1, -1], objs)


# --------------------------------------------------------------------------- progress lines
def test_failure_summary_groups_reasons_without_the_trial_settings():
    trials = [
        {"reason": "TrainingError: loss became nan at epoch 1 (lr=0.01, l2=0.6)"},
        {"reason": "TrainingError: loss became nan at epoch 1 (lr=0.03, l2=0.7)"},
        {"reason": "TrainingError: loss became nan at epoch 1 (lr=0.05, l2=0.9)"},
        {"reason": "FloatingPointError: non-finite objectives ['ndcg@10']"},
    ]
    assert failure_summary(trials) == (
        "TrainingError: loss became nan at epoch 1 (3x; 1 with other reasons)"
    )
    assert failure_summary(trials[:2]) == "TrainingError: loss became nan at epoch 1 (2x)"


def test_generation_line_from_its_record():
    rec = {
        "generation": 2,
        "evaluations": 16,
        "failures": 3,
        "hypervolume": 0.25,
        "best": {"ndcg@10": 0.5, "ild@10": 0.125},
    }
    ok = {"generation": 2, "status": "ok"}
    bad = {"generation": 2, "status": "failed", "reason": "TrainingError: x (lr=1)"}
    line = generation_line(rec, 5, [ok, bad])
    assert line == (
        "gen   2/5:   16 evaluations, 3 failed, hypervolume 0.2500; best ndcg@10 0.5, ild@10 0.125"
    )
    line = generation_line(rec, 5, [{**bad, "generation": 1}, bad, bad])
    assert line.endswith("; all 2 trials failed: TrainingError: x (2x); best so far ndcg@10 0.5, "
                         "ild@10 0.125")  # fmt: skip


def test_all_failed_generation_prints_the_reason(tmp_path, capsys):
    trainer = ClosedFormTrainer(fail=(-1.0, 2.0))  # every x fails
    run = _fake_search(tmp_path / "r", trainer, generations=2)
    assert len(run.failed()) == len(run.trials()) == 16
    lines = _gen_lines(capsys.readouterr().out)
    assert lines == [
        "gen   1/2:    8 evaluations, 8 failed, hypervolume 0.0000; all 8 trials failed: "
        "TrainingError: loss became nan at epoch 3 (8x)",
        "gen   2/2:   16 evaluations, 16 failed, hypervolume 0.0000; all 8 trials failed: "
        "TrainingError: loss became nan at epoch 3 (8x)",
    ]


def test_rerun_of_a_finished_search_replays_each_generations_own_figures(tmp_path, capsys):
    first = _fake_search(tmp_path / "r", ClosedFormTrainer())
    printed_first = capsys.readouterr().out
    lines_first = _gen_lines(printed_first)
    gens = first.generations()
    evaluations = [g["evaluations"] for g in gens]
    assert evaluations == sorted(evaluations) and evaluations[0] == 8 < evaluations[-1]
    for line, g in zip(lines_first, gens, strict=True):
        assert f"{g['evaluations']:4d} evaluations, {g['failures']} failed, " in line
        assert f"hypervolume {g['hypervolume']:.4f}" in line
    assert "resumed:" not in printed_first

    trainer = ClosedFormTrainer()
    _fake_search(tmp_path / "r", trainer)
    printed = capsys.readouterr().out
    assert trainer.calls == 0  # nothing trained again (the front already has test values)
    assert _gen_lines(printed) == lines_first
    n = len(first.trials())
    assert re.findall(r"^resumed: .*$", printed, re.M) == [f"resumed: {n} trials reused, 0 trained"]


def test_resume_after_interruption_prints_the_uninterrupted_lines(tmp_path, capsys):
    _fake_search(tmp_path / "full", ClosedFormTrainer())
    full = _gen_lines(capsys.readouterr().out)
    n_full = len(mr.results.load(tmp_path / "full").trials())
    with pytest.raises(KeyboardInterrupt):
        _fake_search(tmp_path / "r", ClosedFormTrainer(stop_after=19))  # inside generation 3
    capsys.readouterr()
    _fake_search(tmp_path / "r", ClosedFormTrainer())
    printed = capsys.readouterr().out
    assert _gen_lines(printed) == full
    assert f"resumed: 19 trials reused, {n_full - 19} trained" in printed.splitlines()
