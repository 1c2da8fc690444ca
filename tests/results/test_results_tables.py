"""Pareto tables: Markdown and booktabs LaTeX from run stores written by the search code."""

import math
import re
import shutil
import subprocess

import numpy as np
import pytest
from _fakes import ClosedFormTrainer as FakeTrainer

import moorec as mr
from moorec.errors import ConfigError, UnknownNameError
from moorec.results import pareto_latex, pareto_markdown
from moorec.search import Choice, Real, Space

# The decision variable `tag` does not change the objectives; its options hold LaTeX specials.
TAGS = ["a_b", "50%", "x&y#1", "m@il"]
SPACE = Space(x=Real(0.0, 1.0), y=Real(0.0, 1.0), tag=Choice(TAGS))


def _search(out, objectives, trainer=None, **kw):
    args = dict(pop_size=8, generations=4, seed=3, progress=False)
    args.update(kw)
    return mr.search.search(
        None, SPACE, objectives, out=out, trainer=trainer or FakeTrainer(), **args
    )


@pytest.fixture(scope="module")
def run2(tmp_path_factory):
    return _search(tmp_path_factory.mktemp("tables") / "two", ["ndcg@10", "ild@10"])


@pytest.fixture(scope="module")
def run3(tmp_path_factory):
    # The first objective is minimised: the table is sorted by latency, lowest first.
    return _search(tmp_path_factory.mktemp("tables") / "three", ["latency_ms", "ndcg@10", "ild@10"])


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables") / "cut"
    with pytest.raises(KeyboardInterrupt):
        _search(out, ["ndcg@10", "ild@10"], FakeTrainer(stop_after=13))
    return mr.results.load(out)


# ------------------------------------------------------------------------ a booktabs parser
def _cells(row):
    """Split a LaTeX row on unescaped `&`; a \\multicolumn{n} cell counts n times."""
    cells = re.split(r"(?<!\\)&", row)
    n = 0
    for c in cells:
        m = re.match(r"\s*\\multicolumn\{(\d+)\}", c)
        n += int(m.group(1)) if m else 1
    return [c.strip() for c in cells], n


def parse_booktabs(tex):
    """Check `tex` holds one booktabs tabular; return (spec columns, header rows, body rows)."""
    m = re.search(r"\\begin\{tabular\}\{([^{}]*)\}\n(.*?)\\end\{tabular\}", tex, re.S)
    assert m, "no \\begin{tabular}{spec} ... \\end{tabular}"
    spec, body = m.group(1), m.group(2)
    assert re.fullmatch(r"[lcr|]+", spec), spec
    columns = spec.replace("|", "")
    assert tex.count(r"\begin{tabular}") == 1 and tex.count(r"\end{tabular}") == 1
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    rules = [
        i for i, line in enumerate(lines) if line in (r"\toprule", r"\midrule", r"\bottomrule")
    ]
    assert [lines[i] for i in rules] == [r"\toprule", r"\midrule", r"\bottomrule"]
    assert sum(body.count(r) for r in (r"\toprule", r"\midrule", r"\bottomrule")) == 3
    assert rules[0] == 0 and rules[2] == len(lines) - 1, "rows outside the rules"
    sections = ([], [])
    for i, line in enumerate(lines):
        if i in rules or re.fullmatch(r"(\\cmidrule(\([lr]+\))?\{\d+-\d+\}\s*)+", line):
            continue
        assert line.endswith(r"\\"), f"row does not end with \\\\: {line}"
        cells, n = _cells(line[:-2])
        assert n == len(columns), f"{n} cells for {len(columns)} columns: {line}"
        sections[0 if i < rules[1] else 1].append(cells)
    # Text outside math must escape LaTeX's specials.
    text = re.sub(r"\$[^$]*\$", "", body)
    assert not re.search(r"(?<!\\)[_%#]", text), "unescaped _ % or #"
    return columns, sections[0], sections[1]


def _number(cell):
    cell = cell.replace(r"\textbf{", "").replace("}", "")
    return math.nan if cell == "--" else float(cell)


def parse_markdown(md):
    """Check `md` holds one GitHub table; return (header cells, body rows of cells)."""
    rows = [line for line in md.splitlines() if line.startswith("|")]
    assert len(rows) >= 2
    split = [[c.strip() for c in re.split(r"(?<!\\)\|", r)[1:-1]] for r in rows]
    head, sep, body = split[0], split[1], split[2:]
    assert all(re.fullmatch(r":?-{3,}:?", c) for c in sep), rows[1]
    assert all(len(r) == len(head) for r in [sep, *body]), "cell counts differ"
    assert all(r.endswith("|") for r in rows)
    return head, body


# --------------------------------------------------------------------------------- LaTeX
def test_latex_is_a_booktabs_tabular_with_the_front_sorted(run2):
    tex = pareto_latex(run2, caption="NSGA-II on a toy problem", label="tab:front")
    columns, header, body = parse_booktabs(tex)
    front = run2.pareto_front()
    assert len(body) == len(front)
    # columns: trial, 2 valid, 2 test, then the decision variables x, y, tag
    assert columns == "rrrrr" + "rr" + "l"
    assert header[1][1:5] == [r"ndcg@10 $\uparrow$", r"ild@10 $\uparrow$"] * 2
    assert header[1][5:] == ["x", "y", "tag"]
    assert r"\caption{NSGA-II on a toy problem}" in tex and r"\label{tab:front}" in tex
    # rows follow the front: ndcg@10 (maximised) from highest to lowest
    ndcg = [_number(r[1]) for r in body]
    assert ndcg == sorted(ndcg, reverse=True)
    ids = [int(re.match(r"\d+", r[0]).group()) for r in body]
    assert sorted(ids) == sorted(m["trial"] for m in front)
    by_id = {m["trial"]: m for m in front}
    for row, tid in zip(body, ids):
        m = by_id[tid]
        assert _number(row[2]) == pytest.approx(m["valid"]["ild@10"], abs=1e-4)
        assert _number(row[3]) == pytest.approx(m["test"]["ndcg@10"], abs=1e-4)
    # the knee, and only the knee, is starred
    starred = [tid for row, tid in zip(body, ids) if r"$^\star$" in row[0]]
    assert starred == [run2.knee()["trial"]]


def test_latex_bolds_the_best_value_of_each_objective_column(run3):
    _, _, body = parse_booktabs(pareto_latex(run3))
    directions = [o["direction"] for o in run3.objectives] * 2
    for j, direction in enumerate(directions, start=1):
        values = np.array([_number(r[j]) for r in body])
        best = values.max() if direction == "max" else values.min()
        bold = [r"\textbf" in r[j] for r in body]
        assert any(bold)
        assert bold == list(values == best), f"column {j}"


def test_latex_escapes_specials_and_marks_directions(run3):
    tex = pareto_latex(run3)
    _, header, body = parse_booktabs(tex)
    # latency_ms is minimised: a down arrow, an escaped underscore, and sorted lowest first
    assert header[1][1] == r"latency\_ms $\downarrow$"
    assert header[1][2] == r"ndcg@10 $\uparrow$"
    latency = [_number(r[1]) for r in body]
    assert latency == sorted(latency)
    tags = {r[-1] for r in body}
    assert tags <= {r"a\_b", r"50\%", r"x\&y\#1", "m@il"}
    assert tags & {r"50\%", r"x\&y\#1", r"a\_b"}, "the fixture should put a special in the table"


def test_latex_of_an_interrupted_run_says_so(interrupted):
    assert not interrupted.complete
    tex = pareto_latex(interrupted)
    _, _, body = parse_booktabs(tex)
    assert len(body) == len(interrupted.pareto_front()) > 0
    assert all(r[3] == "--" and r[4] == "--" for r in body), "no test values before the end"
    assert "incomplete run" in tex and "front.json" in tex.replace(r"\_", "_")
    assert r"$^\star$" not in "".join(c for r in body for c in r), "no knee without front.json"


@pytest.mark.skipif(
    shutil.which("pdflatex") is None,
    reason="pdflatex not installed (Debian: texlive-latex-base texlive-latex-recommended)",
)
@pytest.mark.optional_path("pdflatex")
def test_latex_compiles(run3, tmp_path):
    doc = (
        "\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n"
        + pareto_latex(run3, caption="c")
        + "\\end{document}\n"
    )
    (tmp_path / "t.tex").write_text(doc)
    out = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout[-2000:]


# ------------------------------------------------------------------------------ Markdown
def test_markdown_table_rows_and_columns(run2):
    md = pareto_markdown(run2)
    head, body = parse_markdown(md)
    assert head == [
        "trial",
        "ndcg@10 ↑ (valid)",
        "ild@10 ↑ (valid)",
        "ndcg@10 ↑ (test)",
        "ild@10 ↑ (test)",
        "x",
        "y",
        "tag",
    ]
    front = run2.pareto_front()
    assert len(body) == len(front)
    assert [r[0] for r in body].count(f"{run2.knee()['trial']} (knee)") == 1
    values = [float(r[1].strip("*")) for r in body]
    assert values == sorted(values, reverse=True)
    assert body[0][1].startswith("**") and not body[-1][1].startswith("**")
    assert body[-1][2].startswith("**"), "the last row has the best ild@10"
    assert f"{len(front)} of {len(run2.trials())} trials" in md


def test_tables_name_the_algorithm_by_its_display_name(run2, tmp_path):
    md = pareto_markdown(run2)
    assert md.startswith(f"Pareto set of two (NSGA-II, seed 3): {len(run2.pareto_front())} of ")
    assert "nsga2" not in md
    tex = pareto_latex(run2)
    assert tex.splitlines()[-2].endswith("in bold; found by NSGA-II, seed 3.}")
    assert "nsga2" not in tex
    rand = _search(tmp_path / "rand", ["ndcg@10", "ild@10"], algorithm="random", generations=1)
    assert pareto_markdown(rand).startswith("Pareto set of rand (random search, seed 3): ")
    assert "found by random search, seed 3." in pareto_latex(rand)
    assert mr.results.tables.algorithm_name("moead") == "MOEA/D"
    assert mr.results.tables.algorithm_name("my-ga") == "my-ga"


def test_markdown_single_split_and_digits(run3):
    head, body = parse_markdown(pareto_markdown(run3, split="test", digits=2))
    assert head[1:4] == ["latency_ms ↓ (test)", "ndcg@10 ↑ (test)", "ild@10 ↑ (test)"]
    assert all(re.fullmatch(r"(\*\*)?\d+\.\d\d(\*\*)?", r[1]) for r in body)


def test_markdown_of_an_interrupted_run(interrupted):
    md = pareto_markdown(interrupted)
    _, body = parse_markdown(md)
    assert len(body) == len(interrupted.pareto_front())
    assert all(r[3] == "" for r in body) and not any("(knee)" in r[0] for r in body)
    assert "incomplete (missing front.json)" in md


def test_bad_arguments_are_clear_errors(run2):
    with pytest.raises(UnknownNameError, match=r"unknown split 'train'.*test, valid"):
        pareto_markdown(run2, split="train")
    with pytest.raises(UnknownNameError, match="unknown split 'tset'"):
        pareto_latex(run2, split=("valid", "tset"))
    with pytest.raises(ConfigError, match="digits must be an integer >= 0, got -1"):
        pareto_latex(run2, digits=-1)
    with pytest.raises(ConfigError, match="at least one"):
        pareto_markdown(run2, split=())
