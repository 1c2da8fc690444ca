"""Everything a paper needs from one or more run folders, written into one folder.

:func:`report` draws every kind of figure (PDF and PNG), writes the Pareto tables (Markdown and
LaTeX) and a short Markdown summary of each run; :func:`draw` makes one figure of one kind and
is what ``moorec plot`` calls. Both read only the run store (:func:`moorec.results.load`), so a
report can be remade or restyled at any time without running a search again.

Example:
    >>> from moorec.plots import report
    >>> written = report(["runs/nsga2-seed0", "runs/random-seed0"], "report/")  # doctest: +SKIP
    >>> written["summary"]  # doctest: +SKIP
    PosixPath('report/summary.md')
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from moorec.errors import ConfigError, UnknownNameError, check_choice, check_positive_int
from moorec.io import atomic_write_text
from moorec.results import Run, load, pareto_latex, pareto_markdown
from moorec.results.tables import algorithm_name, latex_escape, run_algorithm

__all__ = ["KINDS", "draw", "report"]

#: Figure kinds :func:`draw` knows (the ``--kind`` choices of ``moorec plot``).
KINDS = ("front", "front3d", "scatter", "pcp", "hv", "attainment")

_HV_AXES = ("generation", "time")
_ARROWS = {"max": "↑", "min": "↓"}


# ------------------------------------------------------------------------------- the runs
def load_runs(runs: Run | str | os.PathLike | Sequence[Run | str | os.PathLike]) -> list[Run]:
    """Runs given as :class:`Run` objects or run folders, loaded; a single one may be given.

    Raises:
        ConfigError: no run is given.
        DataNotFoundError: a folder does not exist or is not a run folder.
    """
    if isinstance(runs, Run | str | os.PathLike):
        runs = [runs]
    loaded = [r if isinstance(r, Run) else load(r) for r in runs]
    if not loaded:
        raise ConfigError("no run given: pass one or more run folders (or loaded runs)")
    return loaded


def run_names(runs: Sequence[Run]) -> list[str]:
    """A short distinct name per run: its folder name, numbered where two are the same."""
    names = [r.path.resolve().name or "run" for r in runs]
    out = []
    for i, name in enumerate(names):
        if names.count(name) > 1:
            name = f"{name}-{names[:i].count(name) + 1}"
        out.append(name)
    return out


def _algorithm(run: Run) -> str | None:
    """The display name of the run's search algorithm (``"NSGA-II"``), or ``None``."""
    algorithm = run_algorithm(run)
    return None if algorithm is None else algorithm_name(algorithm)


def _groups(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """The runs grouped by search algorithm (manifest ``config.search.algorithm``).

    Each group is keyed by the algorithm's display name (``"NSGA-II"``).
    """
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(_algorithm(r) or "unknown algorithm", []).append(r)
    return groups


def _refuse_unfinished(runs: Sequence[Run]) -> None:
    """Refuse runs that have nothing to draw (no finished trial), naming each one and why."""
    from moorec.plots.common import no_finished_trial

    reasons = [m for m in (no_finished_trial(r) for r in runs) if m is not None]
    if reasons:
        raise ConfigError("; ".join(reasons))


def _check_objectives(runs: Sequence[Run], what: str) -> None:
    for r in runs:
        keys = r.objective_keys
        if len(keys) < 2:
            raise ConfigError(
                f"run {r.path} has {len(keys)} objective(s) {keys}; {what} needs at least 2"
            )


def front_axes(runs: Sequence[Run], x: str | None, y: str | None) -> tuple[str, str]:
    """The objectives of a 2-D front, checked against every run.

    Args:
        runs: the runs to draw.
        x: objective key on the x axis; the first run's first objective when ``None``.
        y: objective key on the y axis; the first run's first other objective when ``None``.

    Returns:
        ``(x, y)``.

    Raises:
        ConfigError: a run has fewer than two objectives, or ``x == y``.
        UnknownNameError: ``x`` or ``y`` is not an objective of every run; the message lists the
            objectives of the run that lacks it.
    """
    _check_objectives(runs, "a Pareto front")
    keys = runs[0].objective_keys
    x = keys[0] if x is None else x
    y = next(k for k in keys if k != x) if y is None else y
    if x == y:
        raise ConfigError(f"x and y must be two different objectives, got {x!r} twice")
    for r in runs:
        for key in (x, y):
            if key not in r.objective_keys:
                err = UnknownNameError("objective", key, r.objective_keys)
                err.args = (f"{err.args[0]} (the objectives of run {r.path})",)
                raise err
    return x, y


# ------------------------------------------------------------------------------- one figure
def draw(
    kind: str,
    runs: Run | str | os.PathLike | Sequence[Run | str | os.PathLike],
    *,
    x: str | None = None,
    y: str | None = None,
    split: str = "valid",
    usetex: bool = False,
):
    """One figure of one kind, in the paper style.

    Args:
        kind: ``"front"`` (the 2-D front of one run, or the fronts of several runs overlaid),
            ``"front3d"`` (one run with 3 or more objectives), ``"scatter"`` (scatter matrix of
            one run), ``"pcp"`` (parallel coordinates of one run), ``"hv"`` (hypervolume of
            each run) or ``"attainment"`` (empirical attainment surfaces of runs repeated over
            seeds, grouped by search algorithm and labelled with its display name, e.g.
            ``"NSGA-II"``; groups of fewer than 2 runs are left out). Several runs are
            labelled by algorithm and seed (``"NSGA-II (seed 0)"``).
        runs: :class:`Run` objects or run folders.
        x: for ``front`` and ``attainment``, the objective on the x axis (default: the first);
            for ``hv``, ``"generation"`` (default) or ``"time"``.
        y: for ``front`` and ``attainment``, the objective on the y axis (default: the second).
        split: ``"valid"`` or ``"test"`` objective values.
        usetex: render text with LaTeX (needs a LaTeX installation).

    Returns:
        The ``matplotlib.figure.Figure`` (save it with :func:`moorec.plots.style.save`).

    Raises:
        UnknownNameError: an unknown ``kind``, ``split``, hypervolume axis, or an objective
            that is not in the run (the message lists the run's objectives).
        ConfigError: fewer than 2 objectives, fewer than 3 for ``front3d``, several runs for a
            kind that draws one, a run without a finished trial (all failed, or none recorded
            yet), no group of 2 or more runs for ``attainment``, or a group whose runs differ
            in more than their seed.
        DataNotFoundError: a run folder does not exist.
    """
    from moorec import plots
    from moorec.plots.style import WIDTHS, figure

    check_choice("plot kind", kind, KINDS)
    check_choice("split", split, ("valid", "test"))
    runs = load_runs(runs)
    if kind in ("front3d", "scatter", "pcp") and len(runs) > 1:
        raise ConfigError(
            f"kind {kind!r} draws one run, got {len(runs)}; the kinds that take several runs "
            "are front (overlaid fronts), hv and attainment"
        )
    if kind == "hv":
        axis = "generation" if x is None else x
        check_choice("hypervolume axis", axis, _HV_AXES)
        _refuse_unfinished(runs)
        fig, ax = figure("single", usetex=usetex)
        plots.hypervolume(runs, x=axis, ax=ax)
        return fig
    if kind == "front":
        x, y = front_axes(runs, x, y)
        _refuse_unfinished(runs)
        fig, ax = figure("single", usetex=usetex)
        if len(runs) == 1:
            plots.front(runs[0], x, y, split=split, ax=ax)
        else:
            plots.fronts(runs, x, y, split=split, ax=ax)
        return fig
    if kind == "attainment":
        x, y = front_axes(runs, x, y)
        _refuse_unfinished(runs)
        groups = {k: g for k, g in _groups(runs).items() if len(g) >= 2}
        if not groups:
            sizes = {k: len(g) for k, g in _groups(runs).items()}
            raise ConfigError(
                "attainment surfaces need runs repeated over seeds: at least 2 runs of the "
                f"same search algorithm; got runs per algorithm {sizes}"
            )
        from moorec.plots.attainment import check_repeats

        for name, group in groups.items():
            check_repeats(name, group, warn=False)
        fig, ax = figure("single", usetex=usetex)
        plots.attainment(groups, x, y, split=split, ax=ax)
        return fig
    run = runs[0]
    _check_objectives(runs, f"kind {kind!r}")
    _refuse_unfinished(runs)
    if kind == "front3d":
        if len(run.objective_keys) < 3:
            raise ConfigError(
                f"kind 'front3d' needs 3 or more objectives; run {run.path} has "
                f"{run.objective_keys}: use kind 'front'"
            )
        fig, ax = figure("single", WIDTHS["single"], usetex=usetex, projection="3d")
        plots.front3d(run, split=split, ax=ax)
        return fig
    if kind == "scatter":
        fig = plots.scatter_matrix(run, split=split)  # sized by the number of objectives
        if usetex:
            import matplotlib.pyplot as plt

            width, height = fig.get_size_inches()
            plt.close(fig)
            fig, ax = figure(width, height, usetex=usetex)
            ax.remove()
            plots.scatter_matrix(run, split=split, fig=fig)
        return fig
    fig, ax = figure("double", usetex=usetex)
    plots.parallel_coordinates(run, split=split, ax=ax)
    return fig


# ---------------------------------------------------------------------------------- report
def _check_out_dir(out: Path) -> None:
    """Refuse a report folder that is an existing file, or that lies under one."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                where = "is" if path == out else f"lies under {path}, which is"
                raise ConfigError(
                    f"the report folder (--out / out_dir) {out} {where} an existing file, not "
                    "a folder; give a folder path (it is created if missing)"
                )
            return


def report(
    runs: Sequence[Run] | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    x: str | None = None,
    y: str | None = None,
    usetex: bool = False,
    formats: Sequence[str] = ("pdf", "png"),
    dpi: int = 300,
) -> dict[str, Any]:
    """Write every figure, the Pareto tables and a summary of one or more runs into a folder.

    With one run everything goes into ``out_dir``. With several, what belongs to one run goes
    into ``out_dir/<run folder name>/`` and the figures that compare runs into ``out_dir``:

    - ``front``: the 2-D front of ``x`` against ``y`` (validation values, all trials faded,
      knee marked); ``front3d`` when the run has 3 or more objectives; ``scatter_matrix``;
      ``parallel_coordinates``; ``pareto.md`` and ``pareto.tex`` (per run);
    - ``hypervolume_generation`` and ``hypervolume_time``: hypervolume of every run against
      generation and against wall-clock time;
    - ``fronts``: the fronts of all runs overlaid (several runs only);
    - ``attainment``: median and 25/75 % attainment surfaces of each search algorithm that
      has 2 or more runs (grouped by the manifest's ``config.search.algorithm``), left out with
      the reason when the runs of one algorithm differ in more than their seed;
    - ``summary.md``: per run, the objectives and directions, the best value of each (valid
      and test), the knee point with its config and values, the final hypervolume, counts of
      trials, failures and front members, and whether the run is complete.

    Every figure is written as PDF and PNG (300 dpi) by default. An interrupted run (no
    ``front.json``, or another run file missing) is drawn from what is there: the summary says
    so and a :class:`~moorec.plots.RunIncompleteWarning` is issued once for it. A figure that
    cannot be drawn from what a run holds (e.g. hypervolume before any generation finished, or
    the figures of one run of several whose trials all failed) is left out and the reason
    listed under ``skipped`` and in the summary. When no run has a finished trial there is
    nothing to report and nothing is written. Text files are written atomically.

    Args:
        runs: :class:`Run` objects or run folders.
        out_dir: the folder to write; created if missing. Files already there are replaced.
        x: objective on the x axis of the 2-D figures (default: the first run's first one).
        y: objective on the y axis (default: its second).
        usetex: render text with LaTeX (needs a LaTeX installation).
        formats: file formats of every figure (see :func:`moorec.plots.style.save`).
        dpi: resolution of raster formats.

    Returns:
        ``{"figures": {name: [path per format]}, "tables": {name: path}, "summary": path,
        "skipped": {name: reason}, "files": [every path written]}``; names are paths relative
        to ``out_dir`` without suffix, e.g. ``"front"`` or ``"nsga2-seed0/front"``.

    Raises:
        ConfigError: no run, a run with fewer than 2 objectives, ``x == y``, an unknown
            format, ``out_dir`` that is an existing file, or no run with a finished trial (the
            message names each run folder and why, e.g. every trial failed).
        UnknownNameError: ``x`` or ``y`` is not an objective of every run (the message lists
            the run's objectives).
        DataNotFoundError: a run folder does not exist or is not a run.
    """
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    from moorec.plots import RunIncompleteWarning
    from moorec.plots.style import save

    runs = load_runs(runs)
    names = run_names(runs)
    x, y = front_axes(runs, x, y)
    formats = [formats] if isinstance(formats, str) else list(formats)
    supported = FigureCanvasBase.get_supported_filetypes()
    if not formats or any(f not in supported for f in formats):
        raise ConfigError(
            f"formats must be one or more of {', '.join(sorted(supported))}; got {formats!r}"
        )
    check_positive_int("dpi", dpi)
    out = Path(out_dir)
    _check_out_dir(out)
    if all(not r.trials(include_failed=False) for r in runs):
        _refuse_unfinished(runs)
    out.mkdir(parents=True, exist_ok=True)
    several = len(runs) > 1
    written: dict[str, Any] = {
        "figures": {},
        "tables": {},
        "summary": None,
        "skipped": {},
        "files": [],
    }
    for run, name in zip(runs, names, strict=True):
        if not run.complete:
            warnings.warn(
                f"run {name} ({run.path}) is incomplete (missing {', '.join(run.missing)}): "
                "the report shows what is there",
                RunIncompleteWarning,
                stacklevel=2,
            )

    def figure(stem: str, make: Callable[[], Any]) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunIncompleteWarning)
            fig = make()
        try:
            paths = save(fig, out / stem, formats=formats, dpi=dpi)
        finally:
            plt.close(fig)
        written["figures"][stem] = paths
        written["files"].extend(paths)

    def text(name: str, body: str, group: str) -> None:
        path = atomic_write_text(out / name, body)
        written[group][name] = path
        written["files"].append(path)

    for run, name in zip(runs, names, strict=True):
        prefix = f"{name}/" if several else ""
        ok = run.trials(include_failed=False)
        if not ok:
            for stem in ("front", "front3d", "scatter_matrix", "parallel_coordinates"):
                written["skipped"][f"{prefix}{stem}"] = "no finished trial to draw"
        else:
            figure(f"{prefix}front", lambda r=run: draw("front", r, x=x, y=y, usetex=usetex))
            if len(run.objective_keys) >= 3:
                figure(f"{prefix}front3d", lambda r=run: draw("front3d", r, usetex=usetex))
            else:
                written["skipped"][f"{prefix}front3d"] = "the run has only 2 objectives"
            figure(f"{prefix}scatter_matrix", lambda r=run: draw("scatter", r, usetex=usetex))
            figure(f"{prefix}parallel_coordinates", lambda r=run: draw("pcp", r, usetex=usetex))
        caption = f"Pareto set of {latex_escape(name)}"
        text(f"{prefix}pareto.md", pareto_markdown(run), "tables")
        text(f"{prefix}pareto.tex", pareto_latex(run, caption=caption), "tables")

    drawable = [r for r in runs if r.trials(include_failed=False)]
    with_hv = [r for r in drawable if r.hypervolume_history()]
    if with_hv:
        for axis in _HV_AXES:
            figure(
                f"hypervolume_{axis}",
                lambda a=axis: draw("hv", with_hv, x=a, usetex=usetex),
            )
    else:
        for axis in _HV_AXES:
            written["skipped"][f"hypervolume_{axis}"] = "no run has a finished generation"
    if several:
        if len(drawable) >= 2:
            figure("fronts", lambda: draw("front", drawable, x=x, y=y, usetex=usetex))
        else:
            written["skipped"]["fronts"] = "fewer than 2 runs have finished trials"
    from moorec.plots.attainment import check_repeats

    groups = {k: len(g) for k, g in _groups(drawable).items()}
    mixed = None
    for name, group in _groups(drawable).items():
        try:
            if len(group) >= 2:
                check_repeats(name, group, warn=False)
        except ConfigError as err:
            mixed = str(err)
            break
    if mixed is not None:
        written["skipped"]["attainment"] = mixed
    elif any(n >= 2 for n in groups.values()):
        figure("attainment", lambda: draw("attainment", drawable, x=x, y=y, usetex=usetex))
    else:
        written["skipped"]["attainment"] = (
            f"needs 2 or more runs of the same search algorithm; runs per algorithm: {groups}"
        )
    summary = _summary(runs, names, x, y, written, out)
    text("summary.md", summary, "tables")
    written["summary"] = written["tables"].pop("summary.md")
    return written


# --------------------------------------------------------------------------------- summary
def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:.{digits}f}" if abs(value) < 10**5 else f"{value:.{digits}g}"
    return str(value)


def _setting(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _best(members: list[dict], split: str, key: str, direction: str) -> tuple[float, int] | None:
    scored = [
        (float(m[split][key]), m["trial"])
        for m in members
        if isinstance(m.get(split), dict) and m[split].get(key) is not None
    ]
    scored = [s for s in scored if math.isfinite(s[0])]
    if not scored:
        return None
    pick = max if direction == "max" else min
    return pick(scored, key=lambda s: s[0])


def _run_summary(run: Run, name: str, x: str, y: str) -> list[str]:
    lines = [f"## {name}", ""]
    config = run.config if isinstance(run.config, dict) else {}
    search = config.get("search") if isinstance(config.get("search"), dict) else {}
    facts = [f"Folder `{run.path}`"]
    if _algorithm(run):
        facts.append(f"algorithm {_algorithm(run)}")
    if config.get("model"):
        facts.append(f"model {config['model']}")
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    if data.get("dataset"):
        facts.append(f"data {data['dataset']}")
    if search.get("pop_size") and search.get("generations"):
        facts.append(f"population {search['pop_size']} × {search['generations']} generations")
    if search.get("seed") is not None:
        facts.append(f"seed {search['seed']}")
    lines += ["; ".join(facts) + ".", ""]

    gens = run.generations()
    planned = search.get("generations")
    if run.complete:
        lines += ["Status: complete.", ""]
    else:
        lines += [
            f"**Status: incomplete** (missing {', '.join(f'`{m}`' for m in run.missing)}); "
            f"{len(gens)}"
            + (f" of {planned}" if planned else "")
            + " generations finished. The figures and tables show what is there: "
            + (
                "the front is computed from the recorded trials, without test values or a "
                "knee point."
                if "front.json" in run.missing
                else "the recorded front."
            ),
            "",
        ]

    trials, failed = run.trials(), run.failed()
    members = run.pareto_front() if run.objectives else []
    history = run.hypervolume_history()
    hv = f"{_fmt(history[-1][1])} (generation {history[-1][0]})" if history else "n/a"
    lines += [
        f"- trials: {len(trials)} ({len(failed)} failed)",
        f"- Pareto set: {len(members)} trials",
        f"- generations finished: {len(gens)}" + (f" of {planned}" if planned else ""),
        f"- final hypervolume: {hv}",
        f"- figures drawn with {x} on the x axis and {y} on the y axis",
        "",
    ]
    if failed:
        reasons: dict[str, int] = {}
        for t in failed:
            reasons[str(t.get("reason"))] = reasons.get(str(t.get("reason")), 0) + 1
        lines += ["Failed trials by reason:", ""]
        lines += [f"- {n} × {reason}" for reason, n in reasons.items()]
        lines.append("")

    lines += [
        "| objective | direction | best valid | trial | best test | trial |",
        "| :--- | :---: | ---: | ---: | ---: | ---: |",
    ]
    for o in run.objectives:
        row = [o["key"], f"{o['direction']} {_ARROWS[o['direction']]}"]
        for split in ("valid", "test"):
            best = _best(members, split, o["key"], o["direction"])
            row += [_fmt(best[0]), str(best[1])] if best else ["n/a", ""]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Best values are taken over the Pareto set (valid values decided it).", ""]

    knee = run.knee()
    if knee is None:
        lines += ["Knee point: none recorded (it is chosen when the search ends).", ""]
    else:
        method = search.get("knee") or "recorded"
        values = "; ".join(
            f"{split} "
            + ", ".join(
                f"{o['key']} {_fmt((knee.get(split) or {}).get(o['key']))}" for o in run.objectives
            )
            for split in ("valid", "test")
        )
        settings = ", ".join(f"{k}={_setting(v)}" for k, v in (knee.get("config") or {}).items())
        lines += [
            f"Knee point ({method}): trial {knee['trial']}; {values}; config: {settings}.",
            "",
        ]
    return lines


def _summary(runs: list[Run], names: list[str], x: str, y: str, written: dict, out: Path) -> str:
    lines = ["# Report", ""]
    if len(runs) > 1:
        lines += [
            "| run | algorithm | trials | failed | Pareto set | final hypervolume | complete |",
            "| :--- | :--- | ---: | ---: | ---: | ---: | :---: |",
        ]
        for run, name in zip(runs, names, strict=True):
            history = run.hypervolume_history()
            lines.append(
                f"| {name} | {_algorithm(run) or 'n/a'} | {len(run.trials())} | "
                f"{len(run.failed())} | {len(run.pareto_front()) if run.objectives else 0} | "
                f"{_fmt(history[-1][1]) if history else 'n/a'} | "
                f"{'yes' if run.complete else 'no'} |"
            )
        lines.append("")
    for run, name in zip(runs, names, strict=True):
        lines += _run_summary(run, name, x, y)
    lines += ["## Files", ""]
    for stem, paths in written["figures"].items():
        lines.append(f"- {stem}: " + ", ".join(f"`{p.relative_to(out).as_posix()}`" for p in paths))
    for name in written["tables"]:
        lines.append(f"- `{name}`")
    if written["skipped"]:
        lines += ["", "Not drawn:", ""]
        lines += [f"- {stem}: {why}" for stem, why in written["skipped"].items()]
    return "\n".join(lines) + "\n"
