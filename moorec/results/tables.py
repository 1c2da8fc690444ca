"""The Pareto set of a run as a table for a paper: Markdown and LaTeX (booktabs).

Both tables hold one row per member of :meth:`Run.pareto_front`, sorted along the front (by the
first objective, best first), with the objective values of each split (validation, which chose
the front, and test, the estimate to report) and the decision variables (the member's config).
The knee point recorded by the search is marked and the best value of each objective column is
set in bold. Values keep each metric's natural direction; the header shows it with an arrow.

Example:
    >>> import tempfile
    >>> from moorec.results import RunStore, load, pareto_markdown
    >>> folder = tempfile.mkdtemp()
    >>> store = RunStore.create_or_resume(folder, {
    ...     "config": {}, "config_hash": "abc",
    ...     "objectives": [{"key": "ndcg@10", "direction": "max"},
    ...                    {"key": "latency_ms", "direction": "min"}]})
    >>> for i, (ndcg, ms) in enumerate([(0.30, 2.0), (0.20, 1.0)]):
    ...     _ = store.append_trial({
    ...         "trial": i, "generation": 0, "index": i, "key": f"dim={i}",
    ...         "config": {"dim": 32 * (i + 1)}, "valid": {"ndcg@10": ndcg, "latency_ms": ms},
    ...         "train_seconds": 1.0, "eval_seconds": 0.1, "status": "ok", "reason": None})
    >>> print(pareto_markdown(load(folder), split="valid").splitlines()[2])
    | trial | ndcg@10 ↑ (valid) | latency_ms ↓ (valid) | dim |
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from moorec.errors import ConfigError, check_choice
from moorec.results.run import SPLITS, Run

__all__ = ["ALGORITHM_NAMES", "algorithm_name", "pareto_latex", "pareto_markdown", "run_algorithm"]

#: The display name of each search algorithm (``moorec.search.ALGORITHMS``), used wherever an
#: algorithm is named for a reader: tables, figure legends, report summaries.
ALGORITHM_NAMES = {
    "nsga2": "NSGA-II",
    "nsga3": "NSGA-III",
    "moead": "MOEA/D",
    "smsemoa": "SMS-EMOA",
    "random": "random search",
    "optuna-tpe": "Optuna TPE",
    "optuna-nsga2": "Optuna NSGA-II",
    "optuna-gp": "Optuna GP",
    "baseline": "baseline sweep",
}

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_RE = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def latex_escape(text: str) -> str:
    r"""Escape the characters LaTeX treats specially (``& % $ # _ { } ~ ^ \``) in ``text``."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], str(text))


def algorithm_name(algorithm: str) -> str:
    """The display name of a search algorithm: ``"nsga2"`` -> ``"NSGA-II"``.

    A name moorec does not know is returned as it is.

    Example:
        >>> algorithm_name("nsga2"), algorithm_name("random"), algorithm_name("my-ga")
        ('NSGA-II', 'random search', 'my-ga')
    """
    return ALGORITHM_NAMES.get(algorithm, algorithm)


def run_algorithm(run: Run) -> str | None:
    """The search algorithm of a run (manifest ``config.search.algorithm``), or ``None``."""
    search = run.config.get("search") if isinstance(run.config, dict) else None
    algorithm = search.get("algorithm") if isinstance(search, dict) else None
    return algorithm if isinstance(algorithm, str) else None


def _found_by(run: Run) -> str | None:
    """``"NSGA-II, seed 0"`` from the manifest, or ``None`` when it records no algorithm."""
    algorithm = run_algorithm(run)
    if algorithm is None:
        return None
    search = run.config["search"]
    seed = search.get("seed", run.manifest.get("seed"))
    name = algorithm_name(algorithm)
    return name if seed is None else f"{name}, seed {seed}"


def _splits(split: str | Sequence[str]) -> list[str]:
    chosen = [split] if isinstance(split, str) else list(split)
    if not chosen:
        raise ConfigError(f"split must name at least one of {list(SPLITS)}, got {split!r}")
    for s in chosen:
        check_choice("split", s, SPLITS)
    return list(dict.fromkeys(chosen))


def _value(member: dict, split: str, key: str) -> float:
    value = (member.get(split) or {}).get(key)
    return math.nan if value is None else float(value)


def _sorted_front(run: Run) -> list[dict]:
    """The Pareto members, best first along the first objective, ties by the next ones."""
    objectives = run.objectives

    def order(m: dict) -> tuple:
        out = []
        for o in objectives:
            v = _value(m, "valid", o["key"])
            v = -v if o["direction"] == "max" else v
            out.append(math.inf if math.isnan(v) else v)
        return (*out, m["trial"])

    return sorted(run.pareto_front(), key=order)


def _best(values: list[float], direction: str) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return max(finite) if direction == "max" else min(finite)


def _number(value: float, digits: int) -> str:
    if not math.isfinite(value):
        return ""
    if abs(value) >= 10**5:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def _setting(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


class _Table:
    """The cells of a Pareto table, before they are written as Markdown or LaTeX."""

    def __init__(self, run: Run, splits: list[str], digits: int):
        if isinstance(digits, bool) or not isinstance(digits, int) or digits < 0:
            raise ConfigError(f"digits must be an integer >= 0, got {digits!r}")
        if not run.objectives:
            raise ConfigError(f"{run.path} records no objectives, so it has no Pareto table")
        self.run, self.splits, self.digits = run, splits, digits
        self.members = _sorted_front(run)
        knee = run.knee()
        self.knee = None if knee is None else knee["trial"]
        search = run.config.get("search") if isinstance(run.config, dict) else None
        self.knee_method = search.get("knee") if isinstance(search, dict) else None
        self.names = list(dict.fromkeys(n for m in self.members for n in m.get("config") or {}))
        self.numeric = {
            n: all(
                isinstance(m["config"].get(n), int | float)
                and not isinstance(m["config"].get(n), bool)
                for m in self.members
                if n in (m.get("config") or {})
            )
            for n in self.names
        }
        self.best = {
            (s, o["key"]): _best([_value(m, s, o["key"]) for m in self.members], o["direction"])
            for s in splits
            for o in run.objectives
        }

    def objective_cells(self, member: dict) -> list[tuple[str, bool]]:
        """``(text, is_best)`` per split and objective; the text is empty where missing."""
        cells = []
        for s in self.splits:
            for o in self.run.objectives:
                v = _value(member, s, o["key"])
                best = self.best[(s, o["key"])]
                cells.append((_number(v, self.digits), math.isfinite(v) and v == best))
        return cells

    def config_cells(self, member: dict) -> list[str]:
        """The member's decision variables, one per column; empty where it has none."""
        config = member.get("config") or {}
        return [_setting(config[n]) if n in config else "" for n in self.names]

    def description(self) -> str:
        """One sentence saying what the table shows."""
        first = self.run.objectives[0]
        order = "highest" if first["direction"] == "max" else "lowest"
        n_trials = len(self.run.trials())
        found_by = _found_by(self.run)
        name = self.run.path.name + (f" ({found_by})" if found_by else "")
        text = (
            f"Pareto set of {name}: {len(self.members)} of {n_trials} trials, "
            f"sorted by {first['key']} ({order} first)"
        )
        if self.knee is not None:
            text += f"; the knee point ({self.knee_method or 'recorded'}) is marked"
        text += "; the best value of each objective column is in bold"
        if not self.run.complete:
            text += f"; the run is incomplete (missing {', '.join(self.run.missing)})"
        return text + "."


def pareto_markdown(
    run: Run, *, split: str | Sequence[str] = ("valid", "test"), digits: int = 4
) -> str:
    """The Pareto set of ``run`` as a Markdown (GitHub) table.

    Args:
        run: a loaded run (:func:`moorec.results.load`).
        split: the split or splits whose objective values get columns: ``"valid"``, ``"test"``
            or both, in the order given.
        digits: decimals of the objective values (values of 100000 or more use ``digits``
            significant digits instead).

    Returns:
        A sentence describing the table, a blank line, then the table: a ``trial`` column
        (the knee marked ``(knee)``), one column per split and objective headed
        ``key ↑ (split)`` (``↑`` maximised, ``↓`` minimised), then one column per decision
        variable. The best value of each objective column is in bold; a missing value (e.g. a
        test score of an interrupted run) is an empty cell.

    Raises:
        UnknownNameError: a split other than ``"valid"`` or ``"test"``.
        ConfigError: ``digits`` is not a non-negative integer, or the run records no objectives.
    """
    table = _Table(run, _splits(split), digits)
    arrows = {"max": "↑", "min": "↓"}
    head = ["trial"]
    head += [
        f"{o['key']} {arrows[o['direction']]} ({s})" for s in table.splits for o in run.objectives
    ]
    head += table.names
    align = ["---:"] * (1 + len(table.splits) * len(run.objectives))
    align += ["---:" if table.numeric[n] else ":---" for n in table.names]

    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"

    lines = [table.description(), "", row(head), "| " + " | ".join(align) + " |"]
    for m in table.members:
        trial = f"{m['trial']} (knee)" if m["trial"] == table.knee else str(m["trial"])
        cells = [trial]
        cells += [f"**{t}**" if best else t for t, best in table.objective_cells(m)]
        cells += table.config_cells(m)
        lines.append(row(cells))
    if not table.members:
        lines.append(row(["no feasible trial"] + [""] * (len(head) - 1)))
    return "\n".join(lines) + "\n"


def pareto_latex(
    run: Run,
    *,
    caption: str | None = None,
    label: str | None = None,
    digits: int = 4,
    split: str | Sequence[str] = ("valid", "test"),
) -> str:
    r"""The Pareto set of ``run`` as a LaTeX ``table`` with a booktabs ``tabular``.

    Needs ``\usepackage{booktabs}`` in the preamble. The header has two rows: the split of each
    group of objective columns (``valid``, ``test``) and ``config`` over the decision variables,
    underlined with ``\cmidrule``; then the column names, with ``$\uparrow$`` for a maximised
    and ``$\downarrow$`` for a minimised objective. Objective columns are right-aligned, as are
    numeric decision variables; text ones are left-aligned. Text from the run (objective keys,
    variable names and values) is escaped; ``caption`` and ``label`` are inserted as given, so
    they may hold LaTeX.

    Args:
        run: a loaded run (:func:`moorec.results.load`).
        caption: the table's ``\caption``; none when ``None``.
        label: the table's ``\label``; none when ``None``.
        digits: decimals of the objective values (values of 100000 or more use ``digits``
            significant digits instead).
        split: the split or splits whose objective values get columns, in the order given.

    Returns:
        The LaTeX source, from ``\begin{table}`` to ``\end{table}``. The knee point's trial id
        carries ``$\star$``, the best value of each objective column is in ``\textbf``, a
        missing value is ``--``, and a footnote under the table says so.

    Raises:
        UnknownNameError: a split other than ``"valid"`` or ``"test"``.
        ConfigError: ``digits`` is not a non-negative integer, or the run records no objectives.
    """
    table = _Table(run, _splits(split), digits)
    n_obj = len(run.objectives)
    arrows = {"max": r"$\uparrow$", "min": r"$\downarrow$"}
    spec = "r" + "r" * (len(table.splits) * n_obj)
    spec += "".join("r" if table.numeric[n] else "l" for n in table.names)
    n_cols = len(spec)

    groups, rules, col = [""], [], 2
    for s in table.splits:
        groups.append(rf"\multicolumn{{{n_obj}}}{{c}}{{{latex_escape(s)}}}")
        rules.append(rf"\cmidrule(lr){{{col}-{col + n_obj - 1}}}")
        col += n_obj
    if table.names:
        groups.append(rf"\multicolumn{{{len(table.names)}}}{{c}}{{config}}")
        rules.append(rf"\cmidrule(lr){{{col}-{n_cols}}}")
    names = ["trial"]
    names += [
        f"{latex_escape(o['key'])} {arrows[o['direction']]}"
        for _ in table.splits
        for o in run.objectives
    ]
    names += [latex_escape(n) for n in table.names]

    lines = [r"\begin{table}[t]", r"\centering"]
    if caption is not None:
        lines.append(rf"\caption{{{caption}}}")
    if label is not None:
        lines.append(rf"\label{{{label}}}")
    lines += [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(groups) + r" \\",
        " ".join(rules),
        " & ".join(names) + r" \\",
        r"\midrule",
    ]
    for m in table.members:
        trial = str(m["trial"]) + (r"$^\star$" if m["trial"] == table.knee else "")
        cells = [trial]
        cells += [
            (rf"\textbf{{{t}}}" if best else t) if t else "--"
            for t, best in table.objective_cells(m)
        ]
        cells += [latex_escape(c) if c else "--" for c in table.config_cells(m)]
        lines.append(" & ".join(cells) + r" \\")
    if not table.members:
        lines.append(rf"\multicolumn{{{n_cols}}}{{c}}{{no feasible trial}} \\")
    notes = ["best value per objective column in bold"]
    found_by = _found_by(run)
    if found_by is not None:
        notes.append(f"found by {latex_escape(found_by)}")
    if table.knee is not None:
        notes.insert(0, rf"$^\star$ knee point ({latex_escape(table.knee_method or 'recorded')})")
    if not run.complete:
        notes.append(f"incomplete run (missing {latex_escape(', '.join(run.missing))})")
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\par\smallskip{\footnotesize " + "; ".join(notes) + ".}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"
