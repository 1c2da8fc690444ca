"""moorec.plots.report: every figure, the tables and the summary, from stored runs."""

import re
import warnings

import matplotlib.image
import numpy as np
import pytest
from _fakes import ClosedFormTrainer as FakeTrainer

import moorec as mr
from moorec.errors import ConfigError, DataNotFoundError, UnknownNameError
from moorec.plots import RunIncompleteWarning
from moorec.plots.report import draw, report
from moorec.results import RunStore
from moorec.search import Real, Space

SPACE = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))


def _search(out, objectives=("ndcg@10", "ild@10"), trainer=None, **kw):
    args = dict(pop_size=8, generations=3, seed=3, progress=False)
    args.update(kw)
    return mr.search.search(
        None, SPACE, list(objectives), out=out, trainer=trainer or FakeTrainer(), **args
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two NSGA-II runs (seeds 3 and 4) and one random-search run, 2 objectives."""
    root = tmp_path_factory.mktemp("runs")
    return [
        _search(root / "nsga2-seed3"),
        _search(root / "nsga2-seed4", seed=4),
        _search(root / "random-seed3", algorithm="random"),
    ]


@pytest.fixture(scope="module")
def run3(tmp_path_factory):
    return _search(tmp_path_factory.mktemp("runs") / "three", ("ndcg@10", "ild@10", "latency_ms"))


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cut"
    with pytest.raises(KeyboardInterrupt):
        _search(out, trainer=FakeTrainer(stop_after=19))  # dies inside generation 3
    return mr.results.load(out)


@pytest.fixture(scope="module")
def multi(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "multi"
    return out, report([r.path for r in runs], out)


def _check_png(png):
    img = matplotlib.image.imread(png)
    assert img.shape[0] > 200 and img.shape[1] > 200
    ink = (img[..., :3] < 0.85).any(axis=-1).mean()
    assert ink > 0.01, f"{png} is nearly blank ({ink:.3%} ink)"


def _check_figure(paths):
    pdf, png = paths
    assert pdf.suffix == ".pdf" and png.suffix == ".png"
    _check_png(png)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 2000


def _table_rows(md):
    return [line for line in md.splitlines() if line.startswith("|")][2:]


def test_report_of_several_runs_writes_every_figure_and_table(multi, runs):
    out, written = multi
    names = ["nsga2-seed3", "nsga2-seed4", "random-seed3"]
    expected = {"hypervolume_generation", "hypervolume_time", "fronts", "attainment"}
    for name in names:
        expected |= {f"{name}/{k}" for k in ("front", "scatter_matrix", "parallel_coordinates")}
    assert set(written["figures"]) == expected
    for stem, paths in written["figures"].items():
        assert paths == [out / f"{stem}.pdf", out / f"{stem}.png"]
        _check_figure(paths)
    assert set(written["tables"]) == {f"{n}/pareto.{s}" for n in names for s in ("md", "tex")}
    for run, name in zip(runs, names):
        md = (out / name / "pareto.md").read_text()
        assert len(_table_rows(md)) == len(run.pareto_front())
        tex = (out / name / "pareto.tex").read_text()
        assert r"\toprule" in tex and rf"\caption{{Pareto set of {name}}}" in tex
    assert written["summary"] == out / "summary.md"
    assert {f"{n}/front3d" for n in names} <= set(written["skipped"])
    assert sorted(written["files"]) == sorted(p for p in out.rglob("*") if p.is_file())
    assert not list(out.rglob(".*.tmp")), "no temporary files left behind"


def test_summary_of_several_runs(multi, runs):
    out, _ = multi
    summary = (out / "summary.md").read_text()
    overview = _table_rows(summary.split("## ")[0])
    assert len(overview) == 3
    for run, row in zip(runs, overview):
        cells = [c.strip() for c in row.strip("|").split("|")]
        hv = run.hypervolume_history()[-1][1]
        assert cells[0] == run.path.name
        assert (
            cells[1]
            == {"nsga2": "NSGA-II", "random": "random search"}[run.config["search"]["algorithm"]]
        )
        assert cells[2:6] == [
            str(len(run.trials())),
            str(len(run.failed())),
            str(len(run.pareto_front())),
            f"{hv:.4f}",
        ]
        assert cells[6] == "yes"
    section = summary.split("## nsga2-seed4")[1].split("## ")[0]
    run = runs[1]
    front = run.pareto_front()
    best = max(front, key=lambda m: m["valid"]["ndcg@10"])
    best_test = max(front, key=lambda m: m["test"]["ild@10"])
    assert f"| ndcg@10 | max ↑ | {best['valid']['ndcg@10']:.4f} | {best['trial']} |" in section
    assert f"{best_test['test']['ild@10']:.4f} | {best_test['trial']} |" in section
    knee = run.knee()
    assert f"Knee point (asf): trial {knee['trial']}; valid ndcg@10 " in section
    assert f"x={knee['config']['x']:.3g}" in section
    assert f"- Pareto set: {len(front)} trials" in section
    assert "Status: complete." in section
    assert "; algorithm NSGA-II;" in section
    assert "attainment: `attainment.pdf`, `attainment.png`" in summary


def test_algorithm_display_name_everywhere(multi, runs):
    out, _ = multi
    # tables: the Markdown sentence and the LaTeX footnote name the algorithm and seed
    md = (out / "nsga2-seed3" / "pareto.md").read_text()
    assert md.startswith("Pareto set of nsga2-seed3 (NSGA-II, seed 3): ")
    tex = (out / "nsga2-seed3" / "pareto.tex").read_text()
    assert "found by NSGA-II, seed 3." in tex
    assert "found by random search, seed 3." in (out / "random-seed3" / "pareto.tex").read_text()
    summary = (out / "summary.md").read_text()
    assert "| nsga2-seed4 | NSGA-II |" in summary and "| random-seed3 | random search |" in summary
    assert "algorithm nsga2" not in summary
    # figures: the legends of overlaid fronts, hypervolume and attainment surfaces
    for kind, expected in (
        ("front", ["NSGA-II (seed 3)", "NSGA-II (seed 4)", "random search (seed 3)"]),
        ("hv", ["NSGA-II (seed 3)", "NSGA-II (seed 4)", "random search (seed 3)"]),
    ):
        legend = draw(kind, runs).axes[0].get_legend()
        assert [t.get_text() for t in legend.get_texts()] == expected, kind
    legend = draw("attainment", runs).axes[0].get_legend()
    assert legend.get_texts()[0].get_text() == "NSGA-II (2 runs)"


def test_report_skips_attainment_of_runs_that_differ_in_more_than_the_seed(runs, tmp_path):
    longer = _search(tmp_path / "nsga2-seed5-longer", seed=5, generations=4)
    pair = [runs[0], longer]
    with pytest.raises(ConfigError, match=r"search.generations is 3 in .*nsga2-seed3, 4 in"):
        draw("attainment", pair)
    written = report(pair, tmp_path / "r", formats=["png"], dpi=72)
    assert "attainment" not in written["figures"]
    assert written["skipped"]["attainment"].startswith(
        "attainment group 'NSGA-II' pools runs whose configs differ in more than the search seed"
    )
    assert "- attainment: attainment group 'NSGA-II'" in written["summary"].read_text()


def test_report_of_one_run_with_three_objectives(run3, tmp_path):
    written = report(
        [run3.path], tmp_path / "r", x="latency_ms", y="ndcg@10", formats=["png"], dpi=100
    )
    assert set(written["figures"]) == {
        "front",
        "front3d",
        "scatter_matrix",
        "parallel_coordinates",
        "hypervolume_generation",
        "hypervolume_time",
    }
    for paths in written["figures"].values():
        assert [p.suffix for p in paths] == [".png"]
        _check_png(paths[0])
    assert set(written["tables"]) == {"pareto.md", "pareto.tex"}
    assert written["skipped"].keys() == {"attainment"}
    summary = written["summary"].read_text()
    assert "| latency_ms | min ↓ |" in summary
    assert "figures drawn with latency_ms on the x axis and ndcg@10 on the y axis" in summary


def test_draw_front_plots_the_non_dominated_points_on_the_chosen_axes(run3):
    fig = draw("front", run3, x="latency_ms", y="ndcg@10")
    ax = fig.axes[0]
    assert "latency" in ax.get_xlabel() and "NDCG@10" in ax.get_ylabel()
    values, _ = run3.objective_matrix()
    keep = mr.search.non_dominated(
        values[:, [2, 0]], mr.objectives.parse_all(["latency_ms", "ndcg@10"])
    )
    assert ax.moorec_front["n_front"] == len(keep) < len(run3.pareto_front())


def test_interrupted_run_is_drawn_and_the_summary_says_so(interrupted, tmp_path):
    assert not interrupted.complete
    with pytest.warns(RunIncompleteWarning, match="incomplete.*front.json") as record:
        written = report([interrupted.path], tmp_path / "r", formats="png", dpi=100)
    assert sum(issubclass(w.category, RunIncompleteWarning) for w in record) == 1
    assert {"front", "scatter_matrix", "parallel_coordinates"} <= set(written["figures"])
    _check_png(written["figures"]["front"][0])
    summary = written["summary"].read_text()
    assert "**Status: incomplete** (missing `front.json`)" in summary
    assert f"{len(interrupted.generations())} of 3 generations finished" in summary
    assert "Knee point: none recorded" in summary
    assert re.search(r"\| ndcg@10 \| max ↑ \| [0-9.]+ \| \d+ \| n/a \|", summary)


def test_runs_without_generations_skip_hypervolume(tmp_path):
    out = tmp_path / "early"
    with pytest.raises(KeyboardInterrupt):
        _search(out, trainer=FakeTrainer(stop_after=5))  # dies inside generation 1
    with pytest.warns(RunIncompleteWarning):
        written = report([out], tmp_path / "r", formats=["png"], dpi=72)
    assert written["skipped"]["hypervolume_generation"] == "no run has a finished generation"
    assert "front" in written["figures"]
    assert "hypervolume_generation: no run has a finished generation" in (
        written["summary"].read_text()
    )


def test_draw_every_kind(runs, run3):
    kinds = {
        "front": (runs[0], {}),
        "front3d": (run3, {}),
        "scatter": (run3, {}),
        "pcp": (runs[0], {"split": "test"}),
        "hv": (runs, {"x": "time"}),
        "attainment": (runs, {}),
    }
    for kind, (given, kw) in kinds.items():
        fig = draw(kind, given, **kw)
        assert fig.axes, kind
        assert fig.get_size_inches()[0] in (3.5, 7.16), kind
    fig = draw("scatter", run3)
    labels = " ".join(a.get_xlabel() + a.get_ylabel() for a in fig.axes)
    assert "NDCG@10" in labels and "ILD@10" in labels and "latency" in labels


def test_bad_input_is_a_clear_error(runs, run3, tmp_path):
    with pytest.raises(UnknownNameError, match=r"unknown objective 'recall@10'.*ild@10, ndcg@10"):
        report([runs[0]], tmp_path / "r", x="recall@10")
    assert not (tmp_path / "r").exists(), "nothing written on failure"
    with pytest.raises(UnknownNameError, match="unknown objective 'latency_ms'"):
        report([run3, runs[0]], tmp_path / "r", y="latency_ms")
    with pytest.raises(ConfigError, match="two different objectives"):
        report([runs[0]], tmp_path / "r", x="ndcg@10", y="ndcg@10")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        report([tmp_path / "nowhere"], tmp_path / "r")
    with pytest.raises(ConfigError, match="no run given"):
        report([], tmp_path / "r")
    with pytest.raises(ConfigError, match=r"formats must be one or more of.*got \['docx'\]"):
        report([runs[0]], tmp_path / "r", formats=["docx"])
    with pytest.raises(ConfigError, match="'front3d' needs 3 or more objectives"):
        draw("front3d", runs[0])
    with pytest.raises(ConfigError, match="draws one run, got 3"):
        draw("scatter", runs)
    with pytest.raises(ConfigError, match="at least 2 runs of the same search algorithm"):
        draw("attainment", [runs[0], runs[2]])
    with pytest.raises(UnknownNameError, match="unknown hypervolume axis 'seconds'"):
        draw("hv", runs, x="seconds")
    with pytest.raises(UnknownNameError, match="unknown plot kind 'pareto'"):
        draw("pareto", runs)


def test_one_objective_is_refused(tmp_path):
    # A run store written by the store itself: the search refuses one objective up front.
    store = RunStore.create_or_resume(
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunIncompleteWarning)
        with pytest.raises(ConfigError, match=r"1 objective\(s\) \['ndcg@10'\].*at least 2"):
            report([tmp_path / "one"], tmp_path / "r")
        with pytest.raises(ConfigError, match="at least 2"):
            draw("scatter", tmp_path / "one")


def test_png_is_not_blank_check_can_fail(tmp_path):
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3, 3))
    paths = [tmp_path / "blank.pdf", tmp_path / "blank.png"]
    for p in paths:
        fig.savefig(p)
    plt.close(fig)
    with pytest.raises(AssertionError, match="nearly blank"):
        _check_figure(paths)
    assert np.isfinite(matplotlib.image.imread(paths[1])).all()


def test_run_where_every_trial_failed(runs, tmp_path):
    space = Space(x=Real(0.451, 0.459), y=Real(0.0, 1.0))  # FakeTrainer fails all of these
    run = mr.search.search(
        None,
        space,
        ["ndcg@10", "ild@10"],
        out=tmp_path / "failed",
        trainer=FakeTrainer(),
        pop_size=4,
        generations=2,
        seed=0,
        progress=False,
    )
    assert len(run.failed()) == len(run.trials()) > 0
    # one figure or a whole report: both refuse, naming the folder and why, writing nothing
    message = (
        rf"run {run.path} has no finished trial: all 8 trials failed \(most common reason, "
        r"8 of 8: TrainingError: loss became nan at epoch 3\)"
    )
    for kind in ("front", "pcp", "scatter", "hv"):
        with pytest.raises(ConfigError, match=message):
            draw(kind, run)
    with pytest.raises(ConfigError, match=message):
        draw("front", [runs[0], run])
    with pytest.raises(ConfigError, match=message):
        report([run], tmp_path / "r", formats=["png"], dpi=72)
    assert not (tmp_path / "r").exists()
    # among runs that have something to show, its figures are left out and its tables written
    written = report([runs[0], run], tmp_path / "r2", formats=["png"], dpi=72)
    for stem in ("front", "scatter_matrix", "parallel_coordinates"):
        assert written["skipped"][f"failed/{stem}"] == "no finished trial to draw"
    assert "| no feasible trial |" in (tmp_path / "r2" / "failed" / "pareto.md").read_text()
    assert (
        r"\multicolumn{5}{c}{no feasible trial} \\"
        in (tmp_path / "r2" / "failed" / "pareto.tex").read_text()
    )
    summary = written["summary"].read_text()
    assert f"- trials: {len(run.trials())} ({len(run.trials())} failed)" in summary
    assert "TrainingError: loss became nan at epoch 3" in summary
