"""moorec bench: the shipped problems, a run of a small problem, its report, the CLI."""

import json

import numpy as np
import pytest

import moorec as mr
import moorec.bench as bench
from moorec.cli import main
from moorec.errors import RunConfigMismatchError, UnknownNameError
from moorec.objectives import parse_all
from moorec.search.baseline import check_baseline
from moorec.search.config import check_config
from moorec.search.indicators import hypervolume, non_dominated
from moorec.search.study import hypervolumes, load_study
from moorec.stats import holm

SHIPPED = [
    "games-sasrec-ndcg-novelty",
    "ml100k-bpr-ndcg-ild",
    "ml100k-bpr-ndcg-ild-latency",
    "ml100k-ease-ndcg-coverage",
    "shop-bpr-ndcg-ild-large",
]

TINY = """
[problem]
name = "tiny"
version = 2
description = "BPR-MF on a small synthetic shop"
baselines = ["pop", { model = "bpr", settings = { epochs = 2, dim = 8 } }]

[data]
dataset = "synthetic-shop"
options = { n_users = 200, n_items = 120, n_interactions = 3000, seed = 0 }

[split]
protocol = "random"
ratios = [0.8, 0.1, 0.1]
seed = 0

[model]
name = "bpr"

[fixed]
epochs = 2
patience = 0
dim = 8

[search]
pop_size = 3
generations = 2
objectives = ["ndcg@10", "ild@10"]

[reference]
"ndcg@10" = [1.0, 0.0]
"ild@10" = [1.0, 0.0]

[space]
lr = { type = "logreal", low = 1e-3, high = 1e-1 }
"""


def test_the_shipped_problems_are_valid_configs_with_a_reference_for_every_objective():
    assert bench.list_problems() == SHIPPED
    for name in SHIPPED:
        cfg = bench.problem(name)
        check_config({k: v for k, v in cfg.items() if k != "problem"})
        d = bench.describe(name)
        assert d["name"] == name and d["version"] >= 1 and d["description"]
        assert set(d["reference"]) == set(d["objectives"])  # fixed per problem: comparable
        for o in parse_all(d["objectives"]):
            ideal, ref = d["reference"][o.key]
            assert (ideal > ref) if o.direction == "max" else (ideal < ref)
        labels = [label for label, _, _ in bench._baselines(cfg)]
        assert labels and len(set(labels)) == len(labels)  # every problem has its baseline
        for _, model, settings in bench._baselines(cfg):
            check_baseline(model=model, settings=settings, objectives=d["objectives"])
    with pytest.raises(UnknownNameError, match="bench problem"):
        bench.problem("ml100k")


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    folder = tmp_path / "problems"
    folder.mkdir()
    (folder / "tiny.toml").write_text(TINY)
    monkeypatch.setattr(bench, "_files", lambda: {"tiny": folder / "tiny.toml"})
    return "tiny"


@pytest.fixture
def tiny_bench(tiny, tmp_path):
    out = tmp_path / "bench"
    bench.run(tiny, algorithms=["nsga2", "random"], seeds="0-1", out=out, progress=False)
    return out


def test_run_writes_one_study_per_algorithm_and_resumes(tiny, tiny_bench):
    meta = json.loads((tiny_bench / "bench.json").read_text())
    assert meta == {"kind": "moorec-bench", "problem": "tiny", "version": 2,
                    "algorithms": ["nsga2", "random"], "seeds": [0, 1],
                    "baselines": ["baseline-pop", "baseline-bpr"]}  # fmt: skip
    for alg in ("nsga2", "random"):
        study = load_study(tiny_bench / alg)
        assert study.complete and study.seeds == [0, 1]
        runs = study.runs()
        assert {r.config["search"]["algorithm"] for r in runs} == {alg}
        assert [r.manifest["seed"] for r in runs] == [0, 1]
    before = (tiny_bench / "nsga2" / "seed_0" / "trials.jsonl").read_bytes()
    bench.run(tiny, algorithms=["nsga2"], seeds="0-1", out=tiny_bench, progress=False)
    assert (tiny_bench / "nsga2" / "seed_0" / "trials.jsonl").read_bytes() == before


def test_a_bench_folder_of_another_problem_is_refused(tiny, tiny_bench, monkeypatch):
    meta = json.loads((tiny_bench / "bench.json").read_text())
    meta["version"] = 1
    (tiny_bench / "bench.json").write_text(json.dumps(meta))
    with pytest.raises(RunConfigMismatchError, match="is a bench of 'tiny' version 1"):
        bench.run(tiny, algorithms=["nsga2"], seeds="0", out=tiny_bench, progress=False)
    with pytest.raises(UnknownNameError, match="algorithm"):
        bench.run(tiny, algorithms=["nsga3x"], seeds="0", out=tiny_bench / "x", progress=False)
    assert not (tiny_bench / "x").exists()


def test_report_tables_tests_and_figures(tiny, tiny_bench):
    result = bench.report(tiny_bench)
    out = tiny_bench / "report"
    for name in ("report.md", "table.tex", "report.json", "hv_time.png", "hv_time.pdf",
                 "eaf_difference.png", "eaf_difference.pdf"):  # fmt: skip
        assert (out / name).is_file(), name
    bounds = {"ndcg@10": [1.0, 0.0], "ild@10": [1.0, 0.0]}
    assert result["bounds"] == bounds  # the problem's own reference
    by = {(r["algorithm"], r["part"]): r for r in result["rows"]}
    for alg in ("nsga2", "random"):
        for part in ("valid", "test"):
            hv = hypervolumes(load_study(tiny_bench / alg), bounds, part)
            row = by[(alg, part)]
            assert row["hv_values"] == hv.tolist() and row["runs"] == 2
            assert row["hv_mean"] == pytest.approx(np.mean(hv), abs=1e-15)
            assert row["hv_low"] <= row["hv_mean"] <= row["hv_high"]
    for label, n_weights in (("baseline-pop", 21), ("baseline-bpr", 21)):
        run = mr.results.load(tiny_bench / label)
        assert sum(1 for t in run.trials() if t.get("from_sweep")) == n_weights
        pts = np.array([[m["valid"][k] for k in bounds] for m in run.pareto_front()])
        objs = parse_all(list(bounds))
        want = hypervolume(pts[non_dominated(pts, objs)], objs, bounds)
        assert by[(label, "valid")]["hv_mean"] == want and by[(label, "valid")]["runs"] == 1
    assert mr.results.load(tiny_bench / "baseline-bpr").config["fixed"]["epochs"] == 2
    tests = result["tests"]
    assert [(t["algorithm"], t["part"]) for t in tests] == [("random", "valid"), ("random", "test")]
    np.testing.assert_allclose(
        [t["p_holm"] for t in tests], holm([t["mann_whitney_p"] for t in tests]), rtol=1e-12
    )
    md = (out / "report.md").read_text()
    assert "| nsga2 | 2 |" in md and "Holm-corrected over the 2 comparisons" in md
    assert "| baseline-pop (one default model + MMR, 21 weights) | 1 |" in md
    assert "![hv_time](hv_time.png)" in md
    assert r"\begin{tabular}" in (out / "table.tex").read_text()


def test_cli_bench_list_run_report_and_errors(tiny, tmp_path, capsys):
    assert main(["bench", "list"]) == 0
    assert "tiny (version 2): BPR-MF on a small synthetic shop" in capsys.readouterr().out
    out = tmp_path / "b"
    argv = ["bench", "run", "tiny", "--algorithms", "nsga2", "random", "--seeds", "0-1",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "stored in" in capsys.readouterr().out
    assert main(["bench", "report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "report.md" in printed and "| nsga2 |" in printed
    assert main(["bench", "run", "nope", "--out", str(tmp_path / "n")]) == 2
    assert "moorec: error: unknown bench problem 'nope'" in capsys.readouterr().err
    assert main(["bench", "report", str(tmp_path)]) == 2
    assert "is not a bench folder" in capsys.readouterr().err
    assert main(["bench", "run", "tiny", "--seeds", "3-1", "--out", str(tmp_path / "m")]) == 2
    assert "runs backwards" in capsys.readouterr().err
