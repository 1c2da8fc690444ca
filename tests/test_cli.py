"""The `moorec` command: train, demo, datasets, and its errors."""

import json

import pytest

from moorec.cli import main


def test_demo_writes_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "demo",
            "--epochs",
            "3",
            "--no-progress",
            "--out",
            str(out),
            "--objectives",
            "ndcg@10",
            "recall@20",
            "ild@10",
            "latency_ms",
            "params",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "ndcg@10" in printed and "valid" in printed and "test" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["valid"]) == {"ndcg@10", "recall@20", "ild@10", "latency_ms", "params"}
    assert set(metrics["test"]) == set(metrics["valid"])
    assert 0 <= metrics["test"]["ndcg@10"] <= 1 and metrics["test"]["params"] > 0
    assert metrics["train_seconds"] > 0
    assert metrics["config"]["model"] == "bpr" and metrics["config"]["train"]["epochs"] == 3
    assert metrics["config"]["split"]["protocol"] == "random"
    assert len(metrics["history"]) == 3
    n_items = metrics["evaluation"]["test"]["n_items"]
    assert metrics["evaluation"]["valid"]["tie_seed"] == 0 and n_items > 0
    assert metrics["evaluation"]["test"]["part"] == "test"
    assert not list(out.glob(".*tmp")), "no temporary files left behind"


def test_unknown_dataset_is_a_clear_error(tmp_path, capsys):
    code = main(["train", "--dataset", "ml-100", "--out", str(tmp_path / "x")])
    assert code == 2
    err = capsys.readouterr().err
    assert "ml-100" in err and "ml-100k" in err
    assert not (tmp_path / "x").exists(), "nothing written on failure"


def test_unknown_objective_fails_before_training(tmp_path, capsys):
    code = main(
        [
            "demo",
            "--epochs",
            "1",
            "--no-progress",
            "--out",
            str(tmp_path / "y"),
            "--objectives",
            "ndcg@10",
            "diversity@10",
        ]
    )
    assert code == 2
    assert "diversity" in capsys.readouterr().err
    assert not (tmp_path / "y").exists()


def test_unknown_model_rejected_by_parser(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "ml-100k", "--model", "gru4rec"])
    assert "invalid choice: 'gru4rec'" in capsys.readouterr().err


def test_datasets_lists_known_names(capsys):
    assert main(["datasets"]) == 0
    printed = capsys.readouterr().out
    for name in ("ml-100k", "ml-1m", "amazon-video-games", "synthetic-shop"):
        assert name in printed


SEARCH_TOML = """
[data]
dataset = "synthetic-shop"
options = { n_users = 150, n_items = 80, n_interactions = 3000 }

[split]
protocol = "random"
ratios = [0.8, 0.1, 0.1]
seed = 0

[fixed]
epochs = 2
batch_size = 256
dim = 8

[search]
algorithm = "nsga2"
pop_size = 4
generations = 2
seed = 0
objectives = ["ndcg@10", "coverage@10"]
constraints = ["ndcg@10 >= 0.0"]

[space]
lr = { type = "logreal", low = 1e-3, high = 1e-1 }
pop_weight = { type = "real", low = 0.0, high = 1.0 }
"""


def test_search_command_runs_and_resumes(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text(SEARCH_TOML)
    out = tmp_path / "run"
    assert main(["search", str(cfg), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "gen   1/2" in printed and "gen   2/2" in printed and "Pareto set" in printed
    trials = (out / "trials.jsonl").read_text()
    front = json.loads((out / "front.json").read_text())
    assert front["members"] and front["knee"] in [m["trial"] for m in front["members"]]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["evaluation"] == {"tie_seed": 0, "full_ranking": True}
    # the same command again resumes: nothing is trained again
    assert main(["search", str(cfg), "--out", str(out), "--quiet"]) == 0
    assert (out / "trials.jsonl").read_text() == trials


def test_search_command_bad_config(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(SEARCH_TOML.replace("[fixed]", "[fixd]"))
    assert main(["search", str(cfg), "--out", str(tmp_path / "r")]) == 2
    assert "unknown config section 'fixd'" in capsys.readouterr().err
    cfg.write_text(SEARCH_TOML.replace("low = 1e-3, high = 1e-1", "low = 1e-1, high = 1e-3"))
    assert main(["search", str(cfg), "--out", str(tmp_path / "r")]) == 2
    assert "inverted" in capsys.readouterr().err
    assert main(["search", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_model_args_and_default_protocol(tmp_path):
    from moorec.cli import _model_args, default_protocol
    from moorec.errors import ConfigError

    assert _model_args(["n_layers=3", "layers=64,32", "scale=0.5", "norm=true"]) == {
        "n_layers": 3,
        "layers": (64, 32),
        "scale": 0.5,
        "norm": True,
    }
    with pytest.raises(ConfigError, match=r"KEY=VALUE, got 'oops'"):
        _model_args(["oops"])
    assert default_protocol("bpr") == "random"


def test_search_command_executor_from_config_and_flag(tmp_path):
    cfg = tmp_path / "s.toml"
    # Random search proposes the same candidates whatever their values, so the two runs train
    # the same configs. Their objective values come from different compiled programs (vmapped
    # and one-candidate) and may differ where a user's top-10 has a near tie; that agreement is
    # checked with a derived slack in tests/executors/test_vectorized.py. Here: the plumbing.
    cfg.write_text(
        SEARCH_TOML.replace(
            "seed = 0\nobjectives", 'seed = 0\nexecutor = "vectorized"\nobjectives'
        ).replace('algorithm = "nsga2"', 'algorithm = "random"')
    )
    assert main(["search", str(cfg), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    a = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert a["executor"]["name"] == "vectorized"
    flag = ["--executor", "sequential", "--quiet"]
    assert main(["search", str(cfg), "--out", str(tmp_path / "b"), *flag]) == 0
    b = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert b["executor"] == {"name": "sequential"}
    rows, ref = (
        [
            r
            for r in map(json.loads, (tmp_path / d / "trials.jsonl").read_text().splitlines())
            if r["type"] == "trial"
        ]
        for d in ("a", "b")
    )
    assert [r["config"] for r in rows] == [r["config"] for r in ref]
    assert [r["status"] for r in rows] == [r["status"] for r in ref]
    assert all(sorted(r["valid"]) == sorted(s["valid"]) for r, s in zip(rows, ref, strict=True))
    with pytest.raises(SystemExit):
        main(["search", str(cfg), "--out", str(tmp_path / "c"), "--executor", "gpu"])


def test_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"moorec {version('moorec')}\n"


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ("train", ["--seed SEED           seed of split, init and sampling (default: 0)"]),
        ("demo", ["maximum epochs; default: 100", "(default: bpr)", "(default: ndcg@10)"]),
        ("plot", ["objective values (default: valid)", "(default: front)"]),
        ("search", ["default sequential"]),
    ],
)
def test_help_shows_defaults(capsys, command, shown):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # independent of the terminal width
    for piece in shown:
        assert " ".join(piece.split()) in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_search_command_baseline_stores_a_sweep_run(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text(SEARCH_TOML.replace("[fixed]", "[fixed]\nrerank_candidates = 20"))
    out = tmp_path / "base"
    assert main(["search", str(cfg), "--out", str(out), "--baseline", "--baseline-weights",
                 "3", "--quiet"]) == 0  # fmt: skip
    assert "baseline stored in" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["search"]["algorithm"] == "baseline"
    assert manifest["config"]["fixed"]["rerank_candidates"] == 20
    assert manifest["config"]["objectives"] == ["ndcg@10", "coverage@10"]
    lines = [json.loads(line) for line in (out / "trials.jsonl").read_text().splitlines()]
    trials = [t for t in lines if t["type"] == "trial"]
    assert [t["config"].get("rerank_weight") for t in trials] == [None, 0.0, 0.5, 1.0]
    # a bad weight count fails before any data is read or any folder written
    bad = tmp_path / "bad"
    argv = ["search", str(cfg), "--out", str(bad), "--baseline", "--baseline-weights", "1"]
    assert main(argv) == 2
    assert "count must be >= 2, got 1" in capsys.readouterr().err
    assert not bad.exists()
