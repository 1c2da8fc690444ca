"""`moorec plot` and `moorec report`: files written, and errors that exit 2 with a message."""

import matplotlib.image
import pytest
from _fakes import ClosedFormTrainer

import moorec as mr
from moorec.cli import main
from moorec.search import Real, Space

SPACE = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))


class FakeTrainer(ClosedFormTrainer):
    """The shared closed-form trainer (tests/_fakes.py), with no failing trials."""

    def __init__(self, stop_after=None):
        super().__init__(stop_after, fail=None)


def _search(out, objectives=("ndcg@10", "ild@10"), trainer=None, **kw):
    args = dict(pop_size=6, generations=2, seed=1, progress=False)
    args.update(kw)
    return mr.search.search(
        None, SPACE, list(objectives), out=out, trainer=trainer or FakeTrainer(), **args
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return _search(tmp_path_factory.mktemp("cli") / "run", ("ndcg@10", "ild@10", "latency_ms")).path


def _png_has_ink(path):
    img = matplotlib.image.imread(path)
    return (img[..., :3] < 0.85).any(axis=-1).mean() > 0.01


def test_plot_front_defaults_to_the_run_folder(run_dir, capsys):
    assert main(["plot", str(run_dir)]) == 0
    pdf, png = run_dir / "figures" / "front.pdf", run_dir / "figures" / "front.png"
    assert pdf.read_bytes()[:5] == b"%PDF-" and _png_has_ink(png)
    printed = capsys.readouterr().out
    assert f"wrote {pdf}" in printed and f"wrote {png}" in printed


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("front", ["--x", "latency_ms", "--y", "ild@10", "--split", "test"]),
        ("front3d", []),
        ("scatter", []),
        ("pcp", []),
        ("hv", ["--x", "time"]),
    ],
)
def test_plot_each_kind(run_dir, tmp_path, kind, extra):
    out = tmp_path / "fig" / kind
    assert main(["plot", str(run_dir), "--kind", kind, "--out", str(out), *extra]) == 0
    assert _png_has_ink(out.with_suffix(".png"))
    assert out.with_suffix(".pdf").stat().st_size > 2000


def test_plot_attainment_of_repeated_runs(tmp_path):
    dirs = [str(_search(tmp_path / f"s{seed}", seed=seed).path) for seed in (1, 2)]
    out = tmp_path / "eaf"
    assert main(["plot", *dirs, "--kind", "attainment", "--out", str(out)]) == 0
    assert _png_has_ink(out.with_suffix(".png"))


def test_report_of_an_interrupted_run_warns_and_writes_everything_it_can(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path / "cut", trainer=FakeTrainer(stop_after=9))  # dies in generation 2
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "cut"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "moorec: warning:" in captured.err and "front.json" in captured.err
    for name in ("front.pdf", "front.png", "hypervolume_time.png", "pareto.md", "pareto.tex"):
        assert (out / name).is_file()
        assert f"wrote {out / name}" in captured.out
    assert "not drawn: front3d" in captured.out and "not drawn: attainment" in captured.out
    assert "**Status: incomplete**" in (out / "summary.md").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plot", "{run}", "--x", "recall@10"], "unknown objective 'recall@10'"),
        (["plot", "{run}", "--y", "ndcg"], "ild@10, latency_ms, ndcg@10"),
        (["plot", "{missing}"], "does not exist; it is not a moorec run"),
        (["report", "{missing}", "--out", "{out}"], "does not exist"),
        (["report", "{run}", "--out", "{out}", "--x", "novelty@10"], "unknown objective"),
        (["plot", "{run}", "{run}", "--kind", "scatter"], "draws one run, got 2"),
        (["plot", "{run}", "--kind", "hv", "--x", "epoch"], "unknown hypervolume axis"),
    ],
)
def test_errors_exit_2_with_a_message(run_dir, tmp_path, capsys, argv, message):
    fill = {"run": str(run_dir), "missing": str(tmp_path / "nope"), "out": str(tmp_path / "o")}
    assert main([a.format(**fill) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("moorec: error: ") and message in err
    assert not (tmp_path / "o").exists()


def test_two_objective_run_refuses_front3d(tmp_path, capsys):
    run = _search(tmp_path / "two")
    assert main(["plot", str(run.path), "--kind", "front3d"]) == 2
    assert "needs 3 or more objectives" in capsys.readouterr().err


def test_unknown_kind_is_refused_by_the_parser(run_dir, capsys):
    with pytest.raises(SystemExit):
        main(["plot", str(run_dir), "--kind", "pareto"])
    assert "invalid choice: 'pareto'" in capsys.readouterr().err


def test_one_objective_exits_2(tmp_path, capsys):
    # Written by the run store itself: the search refuses fewer than two objectives up front.
    store = mr.results.RunStore.create_or_resume(
        tmp_path / "one",
        {"config": {}, "config_hash": "h", "objectives": [{"key": "ndcg@10", "direction": "max"}]},
    )
    store.append_trial(
        {
            "trial": 0,
            "generation": 1,
            "index": 0,
            "key": "x=0",
            "config": {"x": 0.0},
            "valid": {"ndcg@10": 0.3},
            "train_seconds": 1.0,
            "eval_seconds": 0.1,
            "status": "ok",
            "reason": None,
        }
    )
    out = str(tmp_path / "r")
    for argv in (["plot", str(tmp_path / "one")], ["report", str(tmp_path / "one"), "--out", out]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "moorec: error: " in err and "at least 2" in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "one" / "figures").exists()
