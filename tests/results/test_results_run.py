"""Reading a run: load, interrupted runs, merged test scores, Pareto front, tables."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pytest

from moorec.errors import CorruptRunError, DataNotFoundError, MoorecError, UnknownNameError
from moorec.results import Run, RunStore, load

# Mixed directions: accuracy up, latency down, diversity up.
OBJECTIVES = [
    {"key": "ndcg@10", "direction": "max"},
    {"key": "latency_ms", "direction": "min"},
    {"key": "ild@10", "direction": "max"},
]
KEYS = [o["key"] for o in OBJECTIVES]


def manifest() -> dict:
    return {
        "config": {"search": {"pop_size": 4}},
        "config_hash": "h",
        "objectives": OBJECTIVES,
        "reference_point": [0.0, 5.0, 0.0],
    }


def trial(i: int, values, *, generation: int = 0, status: str = "ok", **extra) -> dict:
    return {
        "trial": i,
        "generation": generation,
        "index": i % 4,
        "key": f"k{i}",
        "config": {"lr": 0.001 * (i + 1), "model": {"dim": 8 * (i % 3 + 1)}},
        "valid": None if values is None else dict(zip(KEYS, map(float, values))),
        "train_seconds": 1.0,
        "eval_seconds": 0.5,
        "status": status,
        "reason": None if status == "ok" else "RuntimeError: out of memory",
        **extra,
    }


def brute_force_front(values: np.ndarray, directions: list[str]) -> list[int]:
    """Rows not dominated by any other row, directions taken into account."""
    better = np.where(np.array(directions) == "max", 1.0, -1.0) * values  # larger is better
    front = []
    for i in range(len(values)):
        dominated = False
        for j in range(len(values)):
            if np.all(better[j] >= better[i]) and np.any(better[j] > better[i]):
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


@pytest.fixture
def run_folder(tmp_path):
    """A run of 3 generations, 12 trials (one failed), test scores for two, no front yet."""
    store = RunStore.create_or_resume(tmp_path / "run", manifest())
    rng = np.random.default_rng(0)
    for i in range(12):
        if i == 5:
            store.append_trial(trial(i, None, generation=1, status="failed"))
            continue
        values = np.round(rng.uniform([0.0, 0.5, 0.0], [0.4, 3.0, 1.0]), 2)
        store.append_trial(trial(i, values, generation=i // 4, seed=i))
    store.append_test(2, {"ndcg@10": 0.11, "latency_ms": 1.2, "ild@10": 0.4})
    store.append_test(7, {"ndcg@10": 0.12, "latency_ms": 1.3, "ild@10": 0.5})
    store.append_test(2, {"ndcg@10": 0.13, "latency_ms": 1.2, "ild@10": 0.4})  # replaces
    for g, hv in enumerate([0.2, 0.35, 0.5]):
        store.append_generation(
            {
                "generation": g,
                "evaluations": 4 * (g + 1),
                "new_evaluations": 4,
                "failures": int(g >= 1),
                "hypervolume": hv,
                "best": {"ndcg@10": 0.3},
                "seconds": 1.0,
                "igd_plus": 0.1,
            }
        )
    return tmp_path / "run"


# ------------------------------------------------------------------------------------ load
def test_load_missing_folder_or_manifest(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"run folder .*nowhere does not exist"):
        load(tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "trials.jsonl").write_text("")
    with pytest.raises(DataNotFoundError, match=r"other has no manifest\.json"):
        load(tmp_path / "other")


def test_interrupted_run_loads_what_is_there(tmp_path):
    RunStore.create_or_resume(tmp_path / "r", manifest())
    run = load(tmp_path / "r")
    assert run.complete is False
    assert run.missing == ["trials.jsonl", "generations.jsonl", "front.json"]
    assert run.trials() == [] and run.generations() == [] and run.pareto_front() == []
    assert run.knee() is None and run.hypervolume_history() == []


def test_run_attributes(run_folder):
    run = load(run_folder)
    assert isinstance(run, Run) and run.path == run_folder
    assert run.config == {"search": {"pop_size": 4}} and run.manifest["config_hash"] == "h"
    assert run.objectives == OBJECTIVES and run.reference_point == [0.0, 5.0, 0.0]
    assert run.complete is False and run.missing == ["front.json"]
    assert "trials=12, failed=1" in repr(run)


def test_test_records_merge_into_trials(run_folder):
    trials = load(run_folder).trials()
    assert [t["trial"] for t in trials] == list(range(12))
    assert trials[2]["test"] == {"ndcg@10": 0.13, "latency_ms": 1.2, "ild@10": 0.4}
    assert trials[7]["test"]["ild@10"] == 0.5
    assert all(t["test"] is None for t in trials if t["trial"] not in (2, 7))
    assert all("type" not in t for t in trials) and trials[3]["seed"] == 3


def test_failed_trials(run_folder):
    run = load(run_folder)
    assert [t["trial"] for t in run.failed()] == [5]
    assert run.failed()[0]["reason"] == "RuntimeError: out of memory"
    assert 5 not in [t["trial"] for t in run.trials(include_failed=False)]
    assert len(run.trials(include_failed=False)) == 11


def test_hypervolume_history_and_generations(run_folder):
    run = load(run_folder)
    assert run.hypervolume_history() == [(0, 0.2), (1, 0.35), (2, 0.5)]
    assert [g["failures"] for g in run.generations()] == [0, 1, 1]
    assert run.generations()[0]["igd_plus"] == 0.1


def test_objective_matrix(run_folder):
    run = load(run_folder)
    values, ids = run.objective_matrix()
    assert values.shape == (11, 3) and values.dtype == np.float64 and 5 not in ids
    trials = {t["trial"]: t for t in run.trials()}
    for row, i in zip(values, ids):
        assert row.tolist() == [trials[i]["valid"][k] for k in KEYS]  # natural directions

    values, ids = run.objective_matrix(include_failed=True)
    assert ids == list(range(12)) and np.isnan(values[5]).all()

    values, ids = run.objective_matrix("test")
    assert ids == [2, 7] and values[0].tolist() == [0.13, 1.2, 0.4]

    with pytest.raises(UnknownNameError, match="valid choices: test, valid"):
        run.objective_matrix("train")


# ---------------------------------------------------------------------------------- Pareto
def test_pareto_front_without_front_json_matches_brute_force(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "r", manifest())
    rng = np.random.default_rng(3)
    # Coarse values so that ties and exact duplicates occur.
    values = rng.integers(0, 4, size=(40, 3)).astype(float)
    directions = [o["direction"] for o in OBJECTIVES]
    values[39] = values[brute_force_front(values, directions)[0]]  # a duplicate of a member
    for i, v in enumerate(values):
        store.append_trial(trial(i, v))
    # A failed trial whose numbers would dominate everything must not enter the front.
    store.append_trial(trial(40, None, status="failed") | {"valid": dict(zip(KEYS, [9, -9, 9]))})
    # An infeasible trial (constraint violated) that would also dominate everything.
    store.append_trial(trial(41, [8.0, -8.0, 8.0], feasible=False))
    # A trial with a NaN value is left out too.
    store.append_trial(trial(42, [math.nan, -7.0, 7.0]))

    run = load(tmp_path / "r")
    expected = brute_force_front(values, directions)
    front = run.pareto_front()
    assert [m["trial"] for m in front] == expected
    assert 39 in expected and sum((values[expected] == values[39]).all(axis=1)) == 2  # both kept
    assert 0 < len(expected) < 40
    member = front[0]
    assert set(member) == {"trial", "config", "valid", "test"}
    assert member["valid"] == dict(zip(KEYS, values[expected[0]].tolist()))
    # Flipping a direction changes the answer, so the directions are really used.
    flipped = brute_force_front(values, ["min", "min", "max"])
    assert flipped != expected


def test_pareto_front_and_knee_from_front_json(run_folder):
    store = RunStore.create_or_resume(run_folder, manifest())
    members = [
        {"trial": 2, "config": {"lr": 0.003}, "valid": {"ndcg@10": 0.2}, "test": {"ndcg@10": 0.1}},
        {"trial": 7, "config": {"lr": 0.008}, "valid": {"ndcg@10": 0.3}, "test": None},
    ]
    store.write_front(
        {
            "objectives": OBJECTIVES,
            "reference_point": [0.0, 5.0, 0.0],
            "members": members,
            "knee": 7,
            "knee_method": "asf",
        }
    )
    run = load(run_folder)
    assert run.complete and run.missing == []
    assert run.pareto_front() == members
    assert run.knee() == members[1]


def test_pareto_front_needs_objectives(tmp_path):
    m = manifest()
    del m["objectives"]
    store = RunStore.create_or_resume(tmp_path / "r", m)
    store.append_trial(trial(0, [0.1, 1.0, 0.2]))
    with pytest.raises(MoorecError, match="lists no 'objectives'"):
        load(tmp_path / "r").pareto_front()


# ------------------------------------------------------------------------------- bad files
def test_reader_ignores_torn_last_line(run_folder):
    with open(run_folder / "trials.jsonl", "a") as f:
        f.write('{"type": "trial", "trial": 12, "gener')
    assert len(load(run_folder).trials()) == 12


def test_corrupt_middle_line_names_file_and_line(run_folder):
    text = (run_folder / "generations.jsonl").read_text().splitlines(keepends=True)
    text[0] = "garbage\n"
    (run_folder / "generations.jsonl").write_text("".join(text))
    with pytest.raises(CorruptRunError, match=r"generations\.jsonl, line 1: not a valid record"):
        load(run_folder)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ({"type": "note", "trial": 0}, r"line 16: unknown record type 'note'; valid types"),
        ({"type": "trial", "trial": 20}, r"line 16: trial id 20 out of sequence, expected 12"),
        ({"type": "test", "trial": 30, "test": {}}, r"line 16: test record for trial 30"),
    ],
)
def test_bad_records_name_their_line(run_folder, line, match):
    with open(run_folder / "trials.jsonl", "a") as f:
        f.write(json.dumps(line) + "\n")
    with pytest.raises(CorruptRunError, match=match):
        load(run_folder)


def test_unreadable_manifest(tmp_path):
    RunStore.create_or_resume(tmp_path / "r", manifest())
    (tmp_path / "r" / "manifest.json").write_text("{not json")
    with pytest.raises(CorruptRunError, match=r"manifest\.json: not a valid JSON object"):
        load(tmp_path / "r")


# ---------------------------------------------------------------------------------- tables
def test_table_rows(run_folder):
    columns, rows = load(run_folder).table_rows()
    assert columns[:8] == [
        "trial",
        "generation",
        "index",
        "key",
        "status",
        "reason",
        "train_seconds",
        "eval_seconds",
    ]
    assert "seed" in columns
    assert [c for c in columns if c.startswith("config.")] == ["config.lr", "config.model.dim"]
    assert [c for c in columns if c.startswith("valid.")] == [f"valid.{k}" for k in KEYS]
    assert [c for c in columns if c.startswith("test.")] == [f"test.{k}" for k in KEYS]
    assert columns.index("seed") < columns.index("config.lr") < columns.index("valid.ndcg@10")
    assert len(rows) == 12 and rows[2]["test.ndcg@10"] == 0.13 and "test.ndcg@10" not in rows[3]
    assert rows[5]["status"] == "failed" and "valid.ndcg@10" not in rows[5]
    assert rows[1]["config.model.dim"] == 16


def test_to_pandas(run_folder):
    pd = pytest.importorskip("pandas")
    df = load(run_folder).to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 12
    for col in ("trial", "generation", "status", "reason", "config.lr", "config.model.dim"):
        assert col in df.columns
    assert [c for c in df.columns if c.startswith(("valid.", "test."))] == [
        f"{s}.{k}" for s in ("valid", "test") for k in KEYS
    ]
    assert df.loc[2, "test.ndcg@10"] == 0.13 and np.isnan(df.loc[3, "test.ndcg@10"])
    assert df.loc[5, "status"] == "failed"


def test_to_pandas_without_pandas_says_how_to_install(run_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(MoorecError, match="pip install pandas"):
        load(run_folder).to_pandas()
