"""Bad input to `moorec plot`, `moorec report` and the figure functions: each one is refused with
a MoorecError (exit 2 on the shell, one line, no traceback) that names the value, before anything
is written."""

import pytest
from _fakes import ClosedFormTrainer

import moorec as mr
from moorec import plots
from moorec.cli import main
from moorec.errors import ConfigError, MoorecError, UnknownNameError
from moorec.search import Real, Space

SPACE = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0))


def _search(out, *, fail=None, objectives=("ndcg@10", "ild@10", "latency_ms"), **kw):
    args = dict(pop_size=4, generations=2, seed=0, progress=False)
    args.update(kw)
    return mr.search.search(
        None, SPACE, list(objectives), out=out, trainer=ClosedFormTrainer(fail=fail), **args
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_plot_inputs")
    not_a_run = root / "not-a-run"
    not_a_run.mkdir()
    (not_a_run / "notes.txt").write_text("a folder, but not a run\n")
    a_file = root / "report.txt"
    a_file.write_text("keep me\n")
    return {
        "run": _search(root / "run").path,
        # every x lies in the trainer's failing interval: every trial fails like a NaN loss
        "failed": _search(root / "failed", fail=(-1.0, 2.0), objectives=("ndcg@10", "ild@10")).path,
        "seed0": _search(root / "seed0", objectives=("ndcg@10", "ild@10")).path,
        "longer": _search(
            root / "longer", objectives=("ndcg@10", "ild@10"), seed=1, generations=3
        ).path,
        "not_a_run": not_a_run,
        "file": a_file,
        "root": root,
    }


def _snapshot(root):
    return sorted((p.relative_to(root).as_posix(), p.stat().st_size) for p in root.rglob("*"))


# (argv, what the one-line message must hold)
CLI_CASES = {
    "unknown --x lists the objectives": (
        ["plot", "{run}", "--x", "recall@10"],
        ["unknown objective 'recall@10'", "ild@10, latency_ms, ndcg@10", "{run}"],
    ),
    "unknown --y of report": (
        ["report", "{run}", "--out", "{root}/r1", "--y", "novelty@10"],
        ["unknown objective 'novelty@10'", "ild@10, latency_ms, ndcg@10"],
    ),
    "a folder that is not a run": (
        ["plot", "{not_a_run}"],
        ["{not_a_run}", "no manifest.json", "not a moorec run"],
    ),
    "report of a folder that is not a run": (
        ["report", "{not_a_run}", "--out", "{root}/r2"],
        ["{not_a_run}", "not a moorec run"],
    ),
    "plot of an all-failed run": (
        ["plot", "{failed}"],
        ["run {failed} has no finished trial", "all 8 trials failed", "loss became nan"],
    ),
    "pcp of an all-failed run": (
        ["plot", "{failed}", "--kind", "pcp", "--out", "{root}/pcp"],
        ["run {failed} has no finished trial"],
    ),
    "hv of an all-failed run": (
        ["plot", "{failed}", "--kind", "hv", "--out", "{root}/hv"],
        ["run {failed} has no finished trial"],
    ),
    "fronts of two runs, one all-failed": (
        ["plot", "{run}", "{failed}", "--out", "{root}/fronts"],
        ["run {failed} has no finished trial"],
    ),
    "report of an all-failed run": (
        ["report", "{failed}", "--out", "{root}/r3"],
        ["run {failed} has no finished trial", "all 8 trials failed"],
    ),
    "attainment over runs with different budgets": (
        ["plot", "{seed0}", "{longer}", "--kind", "attainment", "--out", "{root}/eaf"],
        [
            "attainment group 'NSGA-II'",
            "differ in more than the search seed",
            "search.generations is 2 in {seed0}, 3 in {longer}",
        ],
    ),
    "report --out an existing file": (
        ["report", "{run}", "--out", "{file}"],
        ["{file}", "is an existing file"],
    ),
    "report --out under an existing file": (
        ["report", "{run}", "--out", "{file}/sub"],
        ["{file}/sub", "lies under", "{file}"],
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_refuses_with_exit_2_and_writes_nothing(case, runs, capsys):
    argv, expected = CLI_CASES[case]
    fill = {k: str(v) for k, v in runs.items()}
    before = _snapshot(runs["root"])
    assert main([a.format(**fill) for a in argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("moorec: error: "), captured.err
    assert "Traceback" not in captured.err
    for text in expected:
        assert text.format(**fill) in lines[0]
    assert _snapshot(runs["root"]) == before, "nothing may be written"
    assert runs["file"].read_text() == "keep me\n"


def test_python_figures_refuse_an_all_failed_run(runs, tmp_path):
    failed = mr.results.load(runs["failed"])
    message = rf"run {failed.path} has no finished trial: all 8 trials failed"
    for draw in (
        lambda: plots.front(failed, "ndcg@10", "ild@10"),
        lambda: plots.fronts([runs["run"], failed], "ndcg@10", "ild@10"),
        lambda: plots.scatter_matrix(failed),
        lambda: plots.parallel_coordinates(failed),
    ):
        with pytest.raises(ConfigError, match=message):
            draw()
    with pytest.raises(ConfigError, match=message):
        plots.report([failed], tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_python_attainment_refuses_mixed_configs_and_warns_on_a_shared_seed(runs):
    seed0, longer = runs["seed0"], runs["longer"]
    with pytest.raises(
        ConfigError,
        match=rf"'g'.*search.generations is 2 in {seed0}, 3 in {longer}.*differ only in",
    ):
        plots.attainment({"g": [seed0, longer]}, "ndcg@10", "ild@10")
    with pytest.warns(UserWarning, match=rf"'g': runs {seed0}, {seed0} share the search seed 0"):
        plots.attainment({"g": [seed0, seed0]}, "ndcg@10", "ild@10")


def test_python_report_refuses_an_existing_file_as_its_folder(runs):
    with pytest.raises(ConfigError, match=rf"{runs['file']} is an existing file, not a folder"):
        plots.report([runs["run"]], runs["file"])
    under = runs["file"] / "sub"
    with pytest.raises(ConfigError, match=rf"{under} lies under {runs['file']}, which is an"):
        plots.report([runs["run"]], under)
    assert runs["file"].read_text() == "keep me\n"


def test_every_refusal_is_a_moorec_error(runs):
    with pytest.raises(MoorecError):
        plots.front(runs["not_a_run"], "ndcg@10", "ild@10")
    with pytest.raises(UnknownNameError, match=r"unknown objective 'recall@10'.*ild@10"):
        plots.front(runs["run"], "recall@10", "ild@10")
