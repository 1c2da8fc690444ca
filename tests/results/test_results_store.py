"""RunStore: create, resume, refusal of another config, crash safety, record checks."""

from __future__ import annotations

import doctest
import json
import os
from pathlib import Path

import numpy as np
import pytest

import moorec.io
import moorec.results.run
import moorec.results.store
from moorec.errors import (
    CorruptRunError,
    MoorecError,
    RecordError,
    RunConfigMismatchError,
    RunStoreError,
)
from moorec.results import RunStore, load

OBJECTIVES = [
    {"key": "ndcg@10", "direction": "max"},
    {"key": "latency_ms", "direction": "min"},
]


def manifest(pop_size: int = 16, config_hash: str = "hash-16", **extra) -> dict:
    return {
        "config": {
            "model": "bpr",
            "search": {"pop_size": pop_size, "generations": 8, "algorithm": "nsga2"},
            "objectives": ["ndcg@10", "latency_ms"],
        },
        "config_hash": config_hash,
        "objectives": OBJECTIVES,
        "reference_point": {"ndcg@10": 0.0, "latency_ms": 10.0},
        "seed": 0,
        "packages": {"pymoo": "0.6.2"},
        **extra,
    }


def trial(i: int, generation: int = 0, *, status: str = "ok", valid=None, **extra) -> dict:
    if valid is None and status == "ok":
        valid = {"ndcg@10": 0.1 + 0.01 * i, "latency_ms": 1.0 + 0.1 * i}
    return {
        "trial": i,
        "generation": generation,
        "index": i,
        "key": f"dim={i}",
        "config": {"dim": i, "lr": 0.01},
        "valid": valid,
        "train_seconds": 1.5,
        "eval_seconds": 0.25,
        "status": status,
        "reason": None if status == "ok" else "loss became nan at epoch 3",
        **extra,
    }


def generation(g: int, hv: float, evaluations: int = 4) -> dict:
    return {
        "generation": g,
        "evaluations": evaluations,
        "new_evaluations": 4,
        "failures": 0,
        "hypervolume": hv,
        "best": {"ndcg@10": 0.3, "latency_ms": 1.0},
        "seconds": 2.0,
    }


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --------------------------------------------------------------------------------- create
def test_create_writes_manifest_and_records(tmp_path):
    folder = tmp_path / "runs" / "bpr"
    store = RunStore.create_or_resume(folder, manifest(extra_info={"device": "cpu"}))
    assert store.path == folder
    written = json.loads((folder / "manifest.json").read_text())
    assert written["config_hash"] == "hash-16" and written["config"]["search"]["pop_size"] == 16
    assert written["extra_info"] == {"device": "cpu"} and written["objectives"] == OBJECTIVES
    assert written["created"].endswith("+00:00") and "resumed" not in written

    assert store.next_trial_id() == 0
    assert store.append_trial(trial(0, best_epoch=7)) == 0
    store.append_trial(trial(1, status="failed"))
    store.append_test(0, {"ndcg@10": 0.09, "latency_ms": 1.1})
    store.append_generation(generation(0, 0.5, evaluations=2))

    recs = lines(folder / "trials.jsonl")
    assert [r["type"] for r in recs] == ["trial", "trial", "test"]
    assert recs[0]["best_epoch"] == 7 and recs[1]["valid"] is None
    assert recs[2] == {"type": "test", "trial": 0, "test": {"ndcg@10": 0.09, "latency_ms": 1.1}}
    assert lines(folder / "generations.jsonl") == [generation(0, 0.5, evaluations=2)]

    # The store's view and the reader's view are the same merged records.
    assert store.trials() == load(folder).trials()
    assert store.trials()[0]["test"] == {"ndcg@10": 0.09, "latency_ms": 1.1}
    assert store.trials()[1]["test"] is None
    assert [t["trial"] for t in store.trials(include_failed=False)] == [0]
    assert store.generations() == load(folder).generations()


def test_numpy_values_are_written_as_plain_json(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "r", manifest())
    valid = {"ndcg@10": np.float32(0.25), "latency_ms": np.float64(1.5)}
    store.append_trial(trial(np.int64(0), config={"dim": np.int32(4)}, valid=valid))
    rec = lines(tmp_path / "r" / "trials.jsonl")[0]
    assert rec["trial"] == 0 and rec["config"] == {"dim": 4}
    assert rec["valid"]["ndcg@10"] == pytest.approx(0.25) and rec["valid"]["latency_ms"] == 1.5


def test_existing_empty_folder_is_used(tmp_path):
    (tmp_path / "r").mkdir()
    RunStore.create_or_resume(tmp_path / "r", manifest())
    assert (tmp_path / "r" / "manifest.json").exists()


def test_leftover_temp_file_of_an_interrupted_manifest_write_is_cleared(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / ".manifest.json.abc123.tmp").write_text('{"config": ')
    RunStore.create_or_resume(folder, manifest())
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json"]


# --------------------------------------------------------------------------------- resume
def test_resume_with_same_hash_continues(tmp_path):
    folder = tmp_path / "r"
    store = RunStore.create_or_resume(folder, manifest())
    for i in range(3):
        store.append_trial(trial(i))
    store.append_trial(trial(3, status="failed"))
    store.append_trial({**trial(4), "key": "dim=0"})  # same config trained again later
    store.append_generation(generation(0, 0.4))
    created = json.loads((folder / "manifest.json").read_text())["created"]

    # Another process starts with the same config (other package versions don't matter).
    again = RunStore.create_or_resume(folder, manifest(packages={"pymoo": "9.9"}))
    assert again.next_trial_id() == 5
    assert again.trials() == store.trials() and again.generations() == store.generations()
    by_key = again.trial_by_key()
    assert sorted(by_key) == ["dim=0", "dim=1", "dim=2", "dim=3"]
    assert by_key["dim=0"]["trial"] == 4  # the latest record of a key
    assert by_key["dim=3"]["status"] == "failed"

    written = json.loads((folder / "manifest.json").read_text())
    assert written["created"] == created and len(written["resumed"]) == 1
    assert written["packages"] == {"pymoo": "0.6.2"}  # the manifest is not rewritten
    again.append_trial(trial(5, generation=1))
    again.append_generation(generation(1, 0.6))
    RunStore.create_or_resume(folder, manifest())
    assert len(json.loads((folder / "manifest.json").read_text())["resumed"]) == 2
    run = load(folder)
    assert [t["trial"] for t in run.trials()] == list(range(6))
    assert run.hypervolume_history() == [(0, 0.4), (1, 0.6)]


def test_different_config_is_refused_and_nothing_written(tmp_path):
    folder = tmp_path / "r"
    store = RunStore.create_or_resume(folder, manifest(pop_size=16))
    store.append_trial(trial(0))
    store.append_generation(generation(0, 0.3))
    store.write_front(
        {
            "objectives": OBJECTIVES,
            "reference_point": [0.0, 10.0],
            "members": [{"trial": 0, "config": {}, "valid": {}, "test": None}],
            "knee": 0,
            "knee_method": "asf",
        }
    )
    before = snapshot(folder)
    other = manifest(pop_size=8, config_hash="hash-8")
    other["config"]["model"] = "ncf"
    with pytest.raises(RunConfigMismatchError, match=r"search\.pop_size: 16 != 8") as info:
        RunStore.create_or_resume(folder, other)
    msg = str(info.value)
    assert str(folder) in msg and "'hash-16'" in msg and "'hash-8'" in msg
    assert 'model: "bpr" != "ncf"' in msg and "differ: model, search (" in msg
    assert "generations" not in msg.split("(in the folder")[1]  # equal entries are not listed
    assert isinstance(info.value, MoorecError)
    assert snapshot(folder) == before


def test_refusal_shows_keys_on_one_side_only(tmp_path):
    RunStore.create_or_resume(tmp_path / "r", manifest())
    other = manifest(config_hash="x")
    del other["config"]["model"]
    other["config"]["search"]["crossover"] = {"eta": 15}
    other["config"]["objectives"][1] = "ild@10"
    with pytest.raises(RunConfigMismatchError) as info:
        RunStore.create_or_resume(tmp_path / "r", other)
    assert 'model: "bpr" != (absent)' in str(info.value)
    assert 'search.crossover: (absent) != {"eta": 15}' in str(info.value)
    assert 'objectives[1]: "latency_ms" != "ild@10"' in str(info.value)
    assert "differ: model, search, objectives (" in str(info.value)


def test_same_config_other_hash_is_refused(tmp_path):
    RunStore.create_or_resume(tmp_path / "r", manifest())
    with pytest.raises(RunConfigMismatchError, match="configs are equal; only their hashes"):
        RunStore.create_or_resume(tmp_path / "r", manifest(config_hash="other"))


def test_non_empty_folder_without_manifest_is_refused(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "trials.jsonl").write_text("")
    before = snapshot(folder)
    with pytest.raises(RunStoreError, match=r"holds no manifest\.json.*notes\.txt, trials\.jsonl"):
        RunStore.create_or_resume(folder, manifest())
    assert snapshot(folder) == before


def test_path_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "r").write_text("x")
    with pytest.raises(RunStoreError, match="is a file"):
        RunStore.create_or_resume(tmp_path / "r", manifest())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m: m.pop("config_hash"), "lacks field.*config_hash"),
        (lambda m: m.pop("config"), "lacks field.*config"),
        (lambda m: m.update(config_hash=""), "config_hash' must be a non-empty str"),
        (lambda m: m.update(config=[1]), "'config' must be a dict"),
        (lambda m: m.update(objectives=[{"key": "a", "direction": "up"}]), "direction"),
        (lambda m: m.update(seed=object()), "cannot be written as JSON"),
    ],
)
def test_bad_manifest_writes_nothing(tmp_path, change, match):
    m = manifest()
    change(m)
    with pytest.raises(RecordError, match=match):
        RunStore.create_or_resume(tmp_path / "r", m)
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- crash safety
def test_torn_last_line_is_ignored_by_reader_and_cut_by_writer(tmp_path):
    folder = tmp_path / "r"
    store = RunStore.create_or_resume(folder, manifest())
    store.append_trial(trial(0))
    store.append_trial(trial(1))
    store.append_generation(generation(0, 0.5))
    whole = json.dumps({"type": "trial", **trial(2)}) + "\n"
    with open(folder / "trials.jsonl", "a") as f:  # a write killed half way
        f.write(whole[: len(whole) // 2])
    with open(folder / "generations.jsonl", "a") as f:
        f.write('{"generation": 1, "evalua')
    torn = (folder / "trials.jsonl").read_bytes()

    run = load(folder)
    assert [t["trial"] for t in run.trials()] == [0, 1] and len(run.generations()) == 1
    assert (folder / "trials.jsonl").read_bytes() == torn  # the reader changes nothing

    again = RunStore.create_or_resume(folder, manifest())
    assert again.next_trial_id() == 2
    assert (folder / "trials.jsonl").read_bytes().endswith(b"}\n")
    assert (folder / "generations.jsonl").read_bytes().endswith(b"}\n")
    again.append_trial(trial(2))
    again.append_test(2, {"ndcg@10": 0.2, "latency_ms": 1.0})
    again.append_generation(generation(1, 0.7))
    assert len(lines(folder / "trials.jsonl")) == 4  # every line parses
    run = load(folder)
    assert [t["trial"] for t in run.trials()] == [0, 1, 2]
    assert run.trials()[2]["test"] == {"ndcg@10": 0.2, "latency_ms": 1.0}
    assert run.hypervolume_history() == [(0, 0.5), (1, 0.7)]


def test_complete_but_unterminated_last_line_counts_as_torn(tmp_path):
    folder = tmp_path / "r"
    RunStore.create_or_resume(folder, manifest()).append_trial(trial(0))
    with open(folder / "trials.jsonl", "a") as f:  # killed before the newline reached disk
        f.write(json.dumps({"type": "trial", **trial(1)}))
    assert len(load(folder).trials()) == 1
    store = RunStore.create_or_resume(folder, manifest())
    assert store.next_trial_id() == 1
    store.append_trial(trial(1))
    assert [r["trial"] for r in lines(folder / "trials.jsonl")] == [0, 1]


def test_corrupt_middle_line_is_an_error_and_resume_writes_nothing(tmp_path):
    folder = tmp_path / "r"
    store = RunStore.create_or_resume(folder, manifest())
    for i in range(3):
        store.append_trial(trial(i))
    text = (folder / "trials.jsonl").read_text().splitlines(keepends=True)
    text[1] = text[1][:20] + "\n"
    (folder / "trials.jsonl").write_text("".join(text))
    before = snapshot(folder)
    with pytest.raises(CorruptRunError, match=r"trials\.jsonl, line 2: not a valid record"):
        load(folder)
    with pytest.raises(CorruptRunError, match=r"trials\.jsonl, line 2"):
        RunStore.create_or_resume(folder, manifest())
    assert snapshot(folder) == before


def test_failed_append_leaves_no_partial_line(tmp_path, monkeypatch):
    folder = tmp_path / "r"
    store = RunStore.create_or_resume(folder, manifest())
    store.append_trial(trial(0))
    before = (folder / "trials.jsonl").read_bytes()

    def no_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_disk)
    with pytest.raises(OSError, match="No space left"):
        store.append_trial(trial(1))
    monkeypatch.undo()
    assert (folder / "trials.jsonl").read_bytes() == before
    assert store.next_trial_id() == 1
    store.append_trial(trial(1))
    assert [r["trial"] for r in lines(folder / "trials.jsonl")] == [0, 1]


def test_each_record_is_one_write_call(tmp_path, monkeypatch):
    store = RunStore.create_or_resume(tmp_path / "r", manifest())
    calls = []
    real_write = os.write

    def spy(fd, data):
        calls.append(bytes(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", spy)
    store.append_trial(trial(0))
    store.append_generation(generation(0, 0.1))
    assert len(calls) == 2 and all(c.endswith(b"\n") and c.count(b"\n") == 1 for c in calls)


# ----------------------------------------------------------------------------------- front
def front(members=(0, 1), knee=1) -> dict:
    return {
        "objectives": OBJECTIVES,
        "reference_point": {"ndcg@10": 0.0, "latency_ms": 10.0},
        "members": [
            {"trial": i, "config": {"dim": i}, "valid": {"ndcg@10": 0.1}, "test": None}
            for i in members
        ],
        "knee": knee,
        "knee_method": "pseudo_weights",
        "igd_plus": 0.01,
    }


def test_front_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    folder = tmp_path / "r"
    store = RunStore.create_or_resume(folder, manifest())
    store.append_trial(trial(0))
    store.append_trial(trial(1))
    store.write_front(front())
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((folder / "front.json").read_text()) == front()
    before = (folder / "front.json").read_bytes()

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(moorec.io.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        store.write_front(front(members=(0,), knee=0))
    monkeypatch.undo()
    assert (folder / "front.json").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [
        "front.json",
        "manifest.json",
        "trials.jsonl",
    ]


# ----------------------------------------------------------------------------- bad records
@pytest.mark.parametrize(
    ("record", "match"),
    [
        (
            {k: v for k, v in trial(0).items() if k not in ("key", "status")},
            "lacks field.*key, status",
        ),
        (trial(1), r"'trial' is 1, expected 0"),
        (trial(0, status="done"), r"'status' is 'done'; valid choices: ok, failed"),
        ({**trial(0), "reason": None, "status": "failed"}, "failed trial needs its 'reason'"),
        (trial(0, valid={"ndcg@10": 0.1}), r"lacks objective\(s\) latency_ms"),
        (trial(0, valid={"ndcg@10": "high", "latency_ms": 1.0}), "must map objective keys"),
        ({**trial(0), "generation": -1}, "'generation' must be an int >= 0"),
        ({**trial(0), "key": ""}, "'key' must be a non-empty str"),
        ({**trial(0), "train_seconds": "1s"}, "'train_seconds' must be a number"),
        ({**trial(0), "test": {"ndcg@10": 0.1}}, "append_test"),
        ({**trial(0), "type": "test"}, "'type' must be 'trial'"),
        ([1, 2], "trial record must be a dict"),
    ],
)
def test_bad_trial_record(tmp_path, record, match):
    store = RunStore.create_or_resume(tmp_path / "r", manifest())
    with pytest.raises(RecordError, match=match):
        store.append_trial(record)
    assert not (tmp_path / "r" / "trials.jsonl").exists() and store.next_trial_id() == 0


def test_bad_test_generation_and_front_records(tmp_path):
    store = RunStore.create_or_resume(tmp_path / "r", manifest())
    with pytest.raises(RecordError, match="trial 0 is not recorded"):
        store.append_test(0, {"ndcg@10": 0.1, "latency_ms": 1.0})
    store.append_trial(trial(0))
    store.append_trial(trial(1, status="failed"))
    with pytest.raises(RecordError, match="trial 1 failed"):
        store.append_test(1, {"ndcg@10": 0.1, "latency_ms": 1.0})
    with pytest.raises(RecordError, match=r"lacks objective\(s\) latency_ms"):
        store.append_test(0, {"ndcg@10": 0.1})
    with pytest.raises(RecordError, match=r"lacks field.*hypervolume"):
        store.append_generation({k: v for k, v in generation(0, 0.1).items() if k != "hypervolume"})
    store.append_generation(generation(3, 0.1))
    with pytest.raises(RecordError, match="generation 3 is already recorded"):
        store.append_generation(generation(3, 0.2))
    with pytest.raises(RecordError, match="knee 5 is not a member"):
        store.write_front(front(members=(0,), knee=5))
    with pytest.raises(RecordError, match="trial 7 is not a recorded trial"):
        store.write_front(front(members=(0, 7), knee=0))
    with pytest.raises(RecordError, match=r"lacks field.*knee_method"):
        store.write_front({k: v for k, v in front().items() if k != "knee_method"})
    assert not (tmp_path / "r" / "front.json").exists()
    assert len(lines(tmp_path / "r" / "trials.jsonl")) == 2
    assert len(store.generations()) == 1


def test_module_examples_run():
    for module in (moorec.results.store, moorec.results.run):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_update_manifest_sets_entries_but_not_identity(tmp_path):
    folder = tmp_path / "r"
    store = RunStore.create_or_resume(folder, manifest(reference_point=None))
    store.update_manifest(reference_point=np.array([0.0, 10.0]), note="bounds from generation 1")
    written = json.loads((folder / "manifest.json").read_text())
    assert (
        written["reference_point"] == [0.0, 10.0] and written["note"] == "bounds from generation 1"
    )
    assert written["config_hash"] == "hash-16" and store.manifest == written
    before = snapshot(folder)
    with pytest.raises(RecordError, match="config_hash, created cannot be changed"):
        store.update_manifest(config_hash="x", created="now")
    with pytest.raises(RecordError, match="direction"):
        store.update_manifest(objectives=[{"key": "a"}])
    assert snapshot(folder) == before
    # A resume keeps the update and still matches on the hash.
    assert RunStore.create_or_resume(folder, manifest()).manifest["reference_point"] == [0.0, 10.0]
