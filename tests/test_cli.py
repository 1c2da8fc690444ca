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
        main(["train", "--dataset", "ml-100k", "--model", "caser"])
    assert "invalid choice: 'caser'" in capsys.readouterr().err


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


# -- saving a trained model, serving a saved front member ------------------------------------


def _shop_csv(path):
    import numpy as np

    import moorec as mr

    shop = mr.datasets.synthetic_shop(n_users=80, n_items=50, n_interactions=1500, seed=0)
    rows = np.stack([shop.user_ids[shop.users], shop.item_ids[shop.items]], axis=1)
    lines = ["user_id,item_id,timestamp"]
    lines += [f"{u},{i},{t:.0f}" for (u, i), t in zip(rows, shop.timestamps, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_save_keeps_a_model_that_loads_and_scores_as_trained(tmp_path, capsys):
    import moorec as mr
    from moorec.cli import split_options
    from moorec.data.registry import load_source

    csv = _shop_csv(tmp_path / "shop.csv")
    out = tmp_path / "run"
    argv = ["train", "--dataset", str(csv), "--model", "bpr", "--epochs", "2", "--dim", "8",
            "--no-progress", "--objectives", "ndcg@10", "recall@10", "--out", str(out),
            "--save"]  # fmt: skip
    assert main(argv) == 0
    assert f"saved the model in {out / 'model'}" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["saved_model"] == "model"
    desc = mr.models.describe(out / "model")
    assert desc["family"] == "bpr" and desc["settings"] == {"dim": 8}
    assert desc["info"]["made_by"] == "moorec train" and desc["info"]["train"]["epochs"] == 2
    # the same data and split again: the saved model scores on test what the command printed
    data = load_source(str(csv))
    split = mr.split.split(data, "random", **split_options("random", 0))
    model = mr.models.load(out / "model", data=split.train)
    assert mr.evaluate(model, split, "test", ["ndcg@10", "recall@10"]) == metrics["test"]
    assert not list(out.glob(".*tmp")), "no temporary folder left behind"


def test_train_save_needs_out(tmp_path, capsys):
    assert main(["demo", "--epochs", "1", "--save"]) == 2
    assert "--save keeps the trained model in the --out folder" in capsys.readouterr().err


def test_search_save_front_then_recommend_serves_the_saved_members(tmp_path, capsys):
    import moorec as mr

    cfg = tmp_path / "s.toml"
    cfg.write_text(
        SEARCH_TOML.replace("generations = 2", "generations = 1").replace(
            "seed = 0\nobjectives", "seed = 0\nsave_front = true\nobjectives"
        )
    )
    out = tmp_path / "run"
    assert main(["search", str(cfg), "--out", str(out)]) == 0
    front = json.loads((out / "front.json").read_text())
    members = [m["trial"] for m in front["members"]]
    assert f"saved {len(members)} front models in {out / 'models'}" in capsys.readouterr().out
    assert [m["model"] for m in front["members"]] == [f"models/trial_{t}" for t in members]
    assert sorted(mr.results.load(out).saved_models()) == sorted(members)
    # the same data and split as the config's
    shop = mr.datasets.synthetic_shop(n_users=150, n_items=80, n_interactions=3000)
    split = mr.split.random_ratio(shop, (0.8, 0.1, 0.1), seed=0)
    users = [int(u) for u in shop.user_ids[[0, 7, 42]]]
    trial = members[0]
    argv = ["recommend", str(out), "--trial", str(trial), "--users", *map(str, users)]
    assert main([*argv, "--k", "5", "--json"]) == 0
    served = json.loads(capsys.readouterr().out)
    model = mr.models.load(out / "models" / f"trial_{trial}", data=split.train)
    items, scores = mr.recommend(model, users, k=5, exclude=split.train, raw=True)
    assert [r["user"] for r in served["recommendations"]] == users
    assert [r["items"] for r in served["recommendations"]] == items.tolist()
    assert [r["scores"] for r in served["recommendations"]] == scores.tolist()
    assert served["trial"] == trial and served["k"] == 5 and served["rerank"] is None
    assert main(argv) == 0  # as text: one line per user
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == f"top-10 items of trial {trial} (bpr)"
    top10, _ = mr.recommend(model, users, k=10, exclude=split.train, raw=True)
    assert [line.split()[2:] for line in lines[1:]] == [list(map(str, r)) for r in top10.tolist()]
    # errors: one line each, no traceback
    unsaved = next(t for t in range(4) if t not in members)
    for bad, message in [
        (["--trial", "99", "--users", "1"], "has no trial 99 (it has trials 0 to 3)"),
        (["--trial", str(unsaved), "--users", "1"], f"trial {unsaved} of run"),
        (["--trial", str(trial), "--users", "123456"], "raw user id 123456 is not in data set"),
        (["--trial", str(trial), "--users", "abc"], "user 'abc' is not a user of the data set"),
        (["--trial", str(trial), "--users", "1", "--k", "0"], "k must be a positive integer"),
    ]:
        assert main(["recommend", str(out), *bad]) == 2
        err = capsys.readouterr().err
        assert err.startswith("moorec: error: ") and message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
    assert main(["recommend", str(tmp_path / "nowhere"), "--trial", "0", "--users", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
