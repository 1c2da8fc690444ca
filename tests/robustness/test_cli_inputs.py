"""Bad inputs at the `moorec` command line.

Each is refused with exit code 2 and one line ``moorec: error: ...`` on stderr (no traceback)
that names the bad value, before any work starts, and leaves no output file or folder.
"""

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from moorec.cli import main, split_options
from moorec.data import registry
from moorec.data.synthetic import synthetic_shop

TINY = {"n_users": 80, "n_items": 50, "n_interactions": 1500}


def _tiny(*, timestamps: bool = True):
    data = synthetic_shop(**TINY, seed=0)
    return dataclasses.replace(
        data, item_features=None, timestamps=data.timestamps if timestamps else None
    )


@pytest.fixture(scope="module", autouse=True)
def tiny_datasets():
    """Two small generated data sets without item categories, one also without timestamps."""
    infos = [
        registry.DatasetInfo(name="tiny-nocats", generator=lambda: _tiny()),
        registry.DatasetInfo(name="tiny-notime", generator=lambda: _tiny(timestamps=False)),
    ]
    for info in infos:
        registry.register(info, overwrite=True)
    yield
    for info in infos:
        registry.unregister(info.name)


def _refused(capsys, argv, names):
    """Run ``moorec argv``; check exit 2, one error line naming ``names``, no traceback."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("moorec: error: "), captured.err
    assert "Traceback" not in captured.err + captured.out
    for text in names:
        assert text in lines[0], (text, lines[0])
    return lines[0]


# (argv after `moorec`, texts the error line must hold); every one gets --out OUT
CASES = [
    (["demo", "--dim", "0"], ["'dim'", "got 0"]),
    (["demo", "--dim", "-4"], ["'dim'", "got -4"]),
    (["demo", "--model-arg", "n_layer=3"], ["'n_layer'", "valid choices: dim"]),
    (["demo", "--model-arg", "dim=abc"], ["'dim'", "got 'abc'"]),
    (["demo", "--model-arg", "oops"], ["KEY=VALUE", "'oops'"]),
    (["demo", "--model", "lightgcn", "--model-arg", "n_layers=-1"], ["'n_layers'", "got -1"]),
    (["demo", "--model", "neumf", "--model-arg", "layers=64,0"], ["'layers'", "got 0"]),
    (["demo", "--model", "sasrec", "--model-arg", "n_heads=0"], ["'n_heads'", "got 0"]),
    (["demo", "--epochs", "0"], ["epochs", "got 0"]),
    (["demo", "--batch-size", "0"], ["batch_size", "got 0"]),
    (["demo", "--lr", "0"], ["lr", "got 0.0"]),
    (["demo", "--lr", "nan"], ["lr", "got nan"]),
    (["demo", "--l2", "-1"], ["l2", "got -1.0"]),
    (["demo", "--patience", "-1"], ["patience", "got -1"]),
    (["demo", "--seed", "-1"], ["seed", "got -1"]),
    (["demo", "--valid-metric", "ndgc@10"], ["'ndgc'", "ndcg"]),
    (["demo", "--valid-metric", "latency_ms"], ["'latency_ms'", "early stopping"]),
    (["demo", "--objectives", "ndcg@10", "diversity@10"], ["'diversity'"]),
    (["train", "--dataset", "ml-100", "--epochs", "1"], ["'ml-100'", "ml-100k"]),
    (
        ["train", "--dataset", "tiny-nocats", "--objectives", "ndcg@10", "ild@10"],
        ["ild@10", "need item categories", "'tiny-nocats' has none", "--categories FILE"],
    ),
    (
        ["train", "--dataset", "tiny-nocats", "--objectives", "category_coverage@5"],
        ["category_coverage@5", "need item categories"],
    ),
    (["train", "--dataset", "tiny-notime", "--split", "temporal"], ["temporal", "timestamps"]),
]


@pytest.mark.parametrize(("argv", "names"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_refused_before_any_work(tmp_path, capsys, monkeypatch, argv, names):
    def no_training(*args, **kw):
        raise AssertionError("training started despite a bad input")

    monkeypatch.setattr("moorec.api.fit", no_training)
    out = tmp_path / "run"
    _refused(capsys, [*argv, "--no-progress", "--out", str(out)], names)
    assert not out.exists(), "no output folder on a refused input"


@pytest.mark.parametrize("command", ["demo", "report", "search"])
def test_out_that_is_a_file(tmp_path, capsys, command):
    existing = tmp_path / "taken.txt"
    existing.write_text("keep me")
    before = sorted(p.name for p in tmp_path.iterdir())
    head = {"demo": ["demo"], "report": ["report", str(tmp_path)], "search": ["search", "c.toml"]}
    for out in (existing, existing / "sub"):
        line = _refused(capsys, [*head[command], "--out", str(out)], [str(out)])
        assert "existing file" in line or "lies under file" in line
    assert existing.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_checksum_error_hint_is_something_the_cli_can_do(tmp_path, capsys):
    folder = tmp_path / "amazon-video-games"
    folder.mkdir()
    (folder / "Video.txt").write_text("1 1\n1 2\n")
    out = tmp_path / "run"
    argv = ["train", "--dataset", "amazon-video-games", "--data-path", str(folder)]
    line = _refused(capsys, [*argv, "--out", str(out)], [str(folder / "Video.txt")])
    assert "does not match the registered sha256" in line
    assert "rerun without --data-path" in line and "downloads a checked copy" in line
    assert not out.exists()


def test_subprocess_errors_have_no_traceback(tmp_path):
    existing = tmp_path / "file"
    existing.write_text("")
    runs = [
        (["demo", "--dim", "0", "--out", str(tmp_path / "a")], "got 0"),
        (["train", "--dataset", "synthetic-shop", "--model-arg", "n_layer=3"], "'n_layer'"),
        (["demo", "--out", str(existing)], str(existing)),
    ]
    for argv, text in runs:
        proc = subprocess.run(
            [sys.executable, "-m", "moorec.cli", *argv], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("moorec: error:")]
        assert len(errors) == 1 and text in errors[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# -------------------------------------------------------------------------- interrupts
def test_ctrl_c_in_train_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr("moorec.api.fit", interrupted)
    out = tmp_path / "run"
    argv = ["train", "--dataset", "tiny-nocats", "--objectives", "ndcg@10", "--out", str(out)]
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert captured.err == "moorec: interrupted\n"
    assert "Traceback" not in captured.out
    assert not out.exists()


def test_real_sigint_during_training(tmp_path):
    """A real Ctrl-C (SIGINT) while training: one line, exit 130, no traceback, nothing written."""
    import signal

    out = tmp_path / "run"
    argv = ["train", "--dataset", "synthetic-shop", "--epochs", "300", "--patience", "0"]
    # Unbuffered, so the line below arrives when it is printed, not when the process ends (a
    # block-buffered pipe would hand it over only at exit, after training had finished).
    # A test run started in the background (as CI may be) ignores SIGINT, and a child inherits
    # that: Python then installs no KeyboardInterrupt handler. The child installs Python's own
    # handler first, so it sees Ctrl-C as a command started from a terminal does.
    start = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv[0] = 'moorec'; runpy.run_module('moorec.cli', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, *argv, "--no-progress", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    for line in proc.stdout:  # the split summary's last line: training starts next
        if line.startswith("  index space"):
            break
    else:
        raise AssertionError("the command ended before training started")
    assert proc.poll() is None, "the command must still be running when interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("moorec")] == [
        "moorec: interrupted"
    ]
    assert not out.exists()


def test_ctrl_c_in_search_says_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kw):
        raise KeyboardInterrupt

    cfg = tmp_path / "s.toml"
    cfg.write_text('[data]\ndataset = "synthetic-shop"\n')
    monkeypatch.setattr("moorec.search.config.load_config", lambda path: {})
    monkeypatch.setattr("moorec.search.config.run_config", interrupted)
    assert main(["search", str(cfg), "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == "moorec: interrupted; rerun the same command to resume\n"


# ----------------------------------------------------------------- what now works instead
@pytest.mark.parametrize("protocol", ["random", "loo", "temporal", "cold_items"])
def test_every_split_choice_has_options_its_protocol_takes(protocol):
    import moorec.split as msplit

    options = split_options(protocol, seed=3)
    split = msplit.split(_tiny(), protocol, **options)
    assert split.protocol == protocol
    assert len(split.train) and len(split.test)
    assert ("seed" in options) == (protocol != "temporal")  # temporal is not random


def test_train_temporal_split_and_default_objectives_without_categories(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "tiny-nocats", "--split", "temporal", "--epochs", "1"]
    argv += ["--dim", "4", "--batch-size", "256", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    note = [line for line in printed.splitlines() if line.startswith("left out")]
    assert note == [
        "left out ild@10, category_coverage@10: data set 'tiny-nocats' has no item categories"
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["split"]["protocol"] == "temporal"
    assert metrics["config"]["split"]["ratios"] == [0.8, 0.1, 0.1]
    assert "seed" not in metrics["config"]["split"]
    assert "ild@10" not in metrics["test"] and "ndcg@10" in metrics["test"]


@pytest.mark.realdata
def test_amazon_video_games_has_no_categories_for_ild(data_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MOOREC_DATA", str(data_root))
    out = tmp_path / "run"
    argv = ["train", "--dataset", "amazon-video-games", "--objectives", "ndcg@10", "ild@10"]
    _refused(
        capsys,
        [*argv, "--out", str(out)],
        ["ild@10", "need item categories", "'amazon-video-games' has none"],
    )
    assert not out.exists()
