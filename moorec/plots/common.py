"""What every figure needs: checked inputs, the plotted points, fronts, step lines, notes.

All values stay in each objective's natural direction (``"max"`` or ``"min"``, from the run's
manifest); only the non-dominated sorting (``moorec.search.non_dominated``, pymoo) and the
attainment computation (moocore) see minimisation form, internally.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np

from moorec.errors import ConfigError, UnknownNameError, check_choice
from moorec.plots import style
from moorec.results.run import SPLITS, Run, load
from moorec.results.tables import algorithm_name, run_algorithm
from moorec.search.indicators import knee_index, non_dominated

__all__ = [
    "RunIncompleteWarning",
    "as_run",
    "as_runs",
    "better_note",
    "check_split",
    "densify",
    "drawing",
    "front_points",
    "knee_row",
    "label_axes",
    "no_finished_trial",
    "non_dominated_rows",
    "objective_directions",
    "place_label",
    "projection_note",
    "require_finished",
    "run_knee",
    "run_label",
    "run_labels",
    "step_vertices",
    "trial_points",
    "warn_incomplete",
]


class RunIncompleteWarning(UserWarning):
    """A run folder lacks files (the search is still going or was interrupted).

    The figure is drawn from what is there; the message names the missing files.
    """


@dataclasses.dataclass(frozen=True)
class _Objective:
    """The two facts of an objective that sorting and normalising read."""

    key: str
    direction: str


# ------------------------------------------------------------------------------------ inputs
def as_run(run: Run | str | os.PathLike) -> Run:
    """A :class:`~moorec.results.Run`, loading it first when given a run folder."""
    if isinstance(run, Run):
        return run
    if isinstance(run, str | os.PathLike):
        return load(run)
    raise ConfigError(
        f"expected a moorec.results.Run or a run folder, got {type(run).__name__}: {run!r}"
    )


def as_runs(runs, what: str = "runs", minimum: int = 1) -> list[Run]:
    """A non-empty list of runs from one run, one folder or a sequence of them."""
    if isinstance(runs, Run | str | os.PathLike):
        runs = [runs]
    runs = [as_run(r) for r in runs]
    if len(runs) < minimum:
        raise ConfigError(f"{what} needs at least {minimum} run(s), got {len(runs)}")
    return runs


def check_split(split: str) -> str:
    """``split`` if it is ``"valid"`` or ``"test"``, else :class:`UnknownNameError`."""
    return check_choice("split", split, SPLITS)


def objective_directions(run: Run, keys: Sequence[str], minimum: int = 2) -> list[str]:
    """The direction of each key, checking that the keys are distinct objectives of the run.

    Args:
        run: the run.
        keys: objective keys.
        minimum: fewest keys accepted.

    Returns:
        ``"max"`` or ``"min"`` per key.

    Raises:
        UnknownNameError: a key is not one of the run's objectives (the message lists them).
        ConfigError: fewer than ``minimum`` keys, or a key given twice.
    """
    if isinstance(keys, str):
        keys = [keys]
    keys = list(keys)
    directions = {o["key"]: o["direction"] for o in run.objectives}
    for key in keys:
        if key not in directions:
            err = UnknownNameError("objective", key, directions)
            err.args = (f"{err.args[0]} (the objectives of run {run.path})",)
            raise err
    if len(set(keys)) != len(keys):
        raise ConfigError(f"objectives must be distinct, got {keys}")
    if len(keys) < minimum:
        raise ConfigError(
            f"this figure needs at least {minimum} objectives, got {len(keys)} ({keys}); "
            f"the run's objectives are {list(directions)}"
        )
    return [directions[k] for k in keys]


def no_finished_trial(run: Run) -> str | None:
    """Why nothing of ``run`` can be drawn (it has no finished trial), or ``None`` if it can.

    Returns:
        A message naming the run folder and the reason (no trial recorded yet, or every trial
        failed, with the most common failure reason), or ``None``.
    """
    if run.trials(include_failed=False):
        return None
    trials, failed = run.trials(), run.failed()
    if not trials:
        why = "no trial is recorded yet (the search may still be starting)"
    elif failed:
        reason, n = Counter(str(t.get("reason")) for t in failed).most_common(1)[0]
        why = (
            f"all {len(trials)} trials failed (most common reason, {n} of {len(failed)}: {reason})"
            if len(failed) == len(trials)
            else f"{len(failed)} of its {len(trials)} trials failed and none finished"
        )
    else:
        why = f"none of its {len(trials)} trials finished"
    return f"run {run.path} has no finished trial: {why}; there is nothing to plot"


def require_finished(run: Run) -> None:
    """Refuse a run without a finished trial (see :func:`no_finished_trial`).

    Raises:
        ConfigError: the run has no finished trial; the message names the run folder and why.
    """
    message = no_finished_trial(run)
    if message is not None:
        raise ConfigError(message)


def warn_incomplete(run: Run, stacklevel: int = 3) -> None:
    """Warn with :class:`RunIncompleteWarning` when files of the run are missing."""
    if run.complete:
        return
    n_trials = len(run.trials())
    n_gens = len(run.generations())
    warnings.warn(
        f"run {run.path} is incomplete (missing {', '.join(run.missing)}; the search is still "
        f"going or was interrupted): plotting the {n_trials} trials and {n_gens} generations "
        "recorded so far",
        RunIncompleteWarning,
        stacklevel=stacklevel,
    )


def run_label(run: Run) -> str:
    """A legend label from the manifest: the algorithm and the seed, e.g. ``"NSGA-II (seed 0)"``."""
    algorithm = run_algorithm(run)
    if algorithm is None:
        return run.path.name
    search = run.config["search"]
    seed = search.get("seed", run.manifest.get("seed"))
    name = algorithm_name(algorithm)
    return name if seed is None else f"{name} (seed {seed})"


def run_labels(runs: Sequence[Run], labels: Sequence[str] | None) -> list[str]:
    """The given labels (one per run), or labels from the manifests, unique when possible."""
    if labels is not None:
        if isinstance(labels, str):
            labels = [labels]
        labels = [str(lab) for lab in labels]
        if len(labels) != len(runs):
            raise ConfigError(f"got {len(labels)} labels for {len(runs)} runs; give one per run")
        return labels
    out = [run_label(r) for r in runs]
    if len(set(out)) < len(out):
        out = [f"{lab}: {r.path.name}" for lab, r in zip(out, runs, strict=True)]
    return out


# ------------------------------------------------------------------------------------ points
def trial_points(run: Run, keys: Sequence[str], split: str = "valid") -> tuple[np.ndarray, list]:
    """The values of the trials a figure plots, in natural directions.

    Trials that failed, that broke a constraint (``"feasible": false``), or that lack a finite
    value of one of ``keys`` on ``split`` are left out; with ``split="test"`` only the trials
    with test scores (normally the Pareto set) are there.

    Args:
        run: the run.
        keys: objective keys (checked by the caller).
        split: ``"valid"`` or ``"test"``.

    Returns:
        ``(values, trial_ids)``: ``values`` is ``[n, len(keys)] float64``.
    """
    rows, ids = [], []
    for t in run.trials(include_failed=False):
        if t.get("feasible", True) is False:
            continue
        scores = t.get(split)
        if not isinstance(scores, dict):
            continue
        row = [scores.get(k) for k in keys]
        if any(v is None for v in row):
            continue
        row = [float(v) for v in row]
        if not np.isfinite(row).all():
            continue
        rows.append(row)
        ids.append(t["trial"])
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keys)), ids


def non_dominated_rows(values: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Indices of the non-dominated rows of natural values ``[n, m]`` (pymoo's sorting).

    Equal rows are all kept.
    """
    objectives = [_Objective(str(j), d) for j, d in enumerate(directions)]
    return np.asarray(non_dominated(np.asarray(values, dtype=np.float64), objectives), dtype=int)


def sort_along(values: np.ndarray) -> np.ndarray:
    """Row order of ``[n, m]`` values by the first column, then the next ones."""
    values = np.asarray(values)
    if len(values) == 0:
        return np.zeros(0, dtype=int)
    return np.lexsort(values.T[::-1])


def front_points(
    run: Run | str | os.PathLike, keys: Sequence[str], split: str = "valid"
) -> tuple[np.ndarray, list[int]]:
    """The non-dominated trials of a run on some of its objectives.

    The front is taken over the feasible, finished trials (as :func:`trial_points` selects
    them) in the given objectives only, each in its own direction: a trial on the front of
    ``("ndcg@10", "ild@10")`` of a three-objective run need not be on its full front.

    Args:
        run: a :class:`~moorec.results.Run` or run folder.
        keys: at least two distinct objective keys of the run.
        split: ``"valid"`` (every trial) or ``"test"`` (the trials with test scores).

    Returns:
        ``(values, trial_ids)``: ``values`` is ``[n_front, len(keys)] float64`` in natural
        directions, rows sorted along the first key (ascending, ties by the next keys);
        ``trial_ids`` the trial of each row.

    Raises:
        UnknownNameError: a key is not an objective of the run, or ``split`` is unknown.
        ConfigError: fewer than two keys, or a key given twice.

    Example:
        >>> values, ids = front_points(run, ["ndcg@10", "ild@10"])  # doctest: +SKIP
    """
    run = as_run(run)
    check_split(split)
    directions = objective_directions(run, keys)
    values, ids = trial_points(run, keys, split)
    rows = non_dominated_rows(values, directions)
    rows = rows[sort_along(values[rows])]
    return values[rows], [ids[i] for i in rows]


def step_vertices(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """The staircase through a 2-D non-dominated set: the edge of the region it dominates.

    Points are taken in ascending order of the first objective; between two neighbours the
    line turns at the corner made of their worse values, so the staircase bounds the dominated
    region, so it never cuts toward the ideal corner. Read left to right: with
    ``("max", "max")`` each step goes down, then right; ``("min", "max")`` right, then up;
    ``("max", "min")`` up, then right; ``("min", "min")`` right, then down.

    Args:
        points: ``[n, 2]`` non-dominated values, natural directions.
        directions: the two directions.

    Returns:
        ``[2n - 1, 2]`` vertices (``[0, 2]`` for no points).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0:
        return np.zeros((0, 2))
    pts = pts[sort_along(pts)]
    worse = [np.minimum if d == "max" else np.maximum for d in directions]
    out = [pts[0]]
    for a, b in itertools.pairwise(pts):
        out.append(np.array([worse[0](a[0], b[0]), worse[1](a[1], b[1])]))
        out.append(b)
    return np.asarray(out)


def run_knee(run: Run) -> tuple[int | None, str]:
    """The run's knee trial, the one every figure marks, and how it was found.

    The knee recorded in ``front.json`` (``"recorded"``), which the tables and the summary
    show too. A run without one (interrupted before the end) gets the member of its Pareto set
    (non-dominated in all of the run's objectives, on validation values) that the search's knee
    rule would record: ``config.search.knee`` (default ``"asf"``) with ``knee_weights``, through
    :func:`moorec.search.knee_index`. A 2-D or 3-D figure of a run with more objectives marks
    this same trial, never a knee of its projection.

    Returns:
        ``(trial id, method)``: method ``"recorded"`` or the knee rule used; ``(None, "")``
        when the run has no feasible finished trial.
    """
    knee = run.knee()
    if knee is not None:
        return knee["trial"], "recorded"
    if not run.objectives:
        return None, ""
    keys = run.objective_keys
    members = [
        m
        for m in run.pareto_front()
        if isinstance(m.get("valid"), dict)
        and all(isinstance(m["valid"].get(k), int | float) for k in keys)
        and np.isfinite([float(m["valid"][k]) for k in keys]).all()
    ]
    if not members:
        return None, ""
    search = run.config.get("search") if isinstance(run.config, dict) else None
    search = search if isinstance(search, dict) else {}
    method = search.get("knee") or "asf"
    weights = search.get("knee_weights")
    values = np.array([[float(m["valid"][k]) for k in keys] for m in members])
    objectives = [_Objective(o["key"], o["direction"]) for o in run.objectives]
    return members[knee_index(values, objectives, method, weights)]["trial"], method


def knee_row(run: Run, ids: Sequence) -> tuple[int | None, str]:
    """The row of the plotted trials ``ids`` that is the run's knee (:func:`run_knee`).

    Returns:
        ``(row, method)``; ``(None, "")`` when the knee is not among ``ids`` (e.g. it has no
        test values on a test-split figure) or the run has none.
    """
    trial, method = run_knee(run)
    ids = list(ids)
    if trial is None or trial not in ids:
        return None, ""
    return ids.index(trial), method


def projection_note(run: Run, n_plotted: int) -> str | None:
    """A legend note for a figure of ``n_plotted`` objectives of a run that has more.

    Returns:
        E.g. ``"2-D projection of a 3-objective front"``; ``None`` when the figure shows all
        of the run's objectives.
    """
    n = len(run.objectives)
    return f"{n_plotted}-D projection of a {n}-objective front" if n > n_plotted else None


# ------------------------------------------------------------------------------------ drawing
def root_figure(ax):
    """The top-level figure of an axes (also for axes in a subfigure)."""
    try:
        return ax.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10
        fig = ax.figure
        while getattr(fig, "figure", fig) is not fig:
            fig = fig.figure
        return fig


@contextlib.contextmanager
def drawing(ax=None, **figure_kw) -> Iterator:
    """Yield ``ax`` (or new axes from :func:`style.figure`), drawing in its figure's style."""
    if ax is None:
        _, ax = style.figure(**figure_kw)
    with style.style_of(root_figure(ax)):
        yield ax


def label_axes(ax, keys: Sequence[str], directions: Sequence[str], split: str = "valid") -> None:
    """Label the x and y axes of ``ax`` with two objectives (:func:`style.label`).

    A label says ``test`` when the values are test values, and ``log scale`` when its axis is
    already log-scaled (``ax.set_xscale("log")`` before drawing).
    """
    scales = (ax.get_xscale(), ax.get_yscale())
    setters = (ax.set_xlabel, ax.set_ylabel)
    for setter, key, d, scale in zip(setters, keys, directions, scales, strict=True):
        setter(style.label(key, d, split=split, log=scale in ("log", "symlog")))


_BETTER_ARROWS = {(1, 1): "↗", (-1, 1): "↖", (1, -1): "↘", (-1, -1): "↙"}


def better_note(ax, directions: Sequence[str], points: np.ndarray | None = None):
    """Write "better" with an arrow toward the ideal corner, in the emptiest corner of ``ax``.

    A corner the legend covers is passed over.

    Args:
        ax: 2-D axes whose x and y objectives have ``directions``.
        directions: ``"max"`` or ``"min"`` for x and y.
        points: ``[n, 2]`` data points to keep clear of (all plotted points).

    Returns:
        The ``Text``; it replaces one written before on the same axes.
    """
    import matplotlib as mpl

    old = getattr(ax, "_moorec_better", None)
    if old is not None:
        old.remove()
    sx = 1 if directions[0] == "max" else -1
    sy = 1 if directions[1] == "max" else -1
    ax.autoscale_view()
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=float).reshape(-1, 2)
    frac = ax.transAxes.inverted().transform(ax.transData.transform(pts)) if len(pts) else pts
    counts = {}
    for cx in (0, 1):
        for cy in (0, 1):
            near_x = frac[:, 0] > 0.7 if cx else frac[:, 0] < 0.3
            near_y = frac[:, 1] > 0.82 if cy else frac[:, 1] < 0.18
            counts[(cx, cy)] = int(np.sum(near_x & near_y))
    blocked = set()
    legend = ax.get_legend()
    if legend is not None:  # a corner under the legend cannot hold the note
        fig = root_figure(ax)
        fig.draw_without_rendering()
        box = legend.get_window_extent(fig.canvas.get_renderer())
        box = box.transformed(ax.transAxes.inverted())
        for cx, cy in counts:
            x0, x1 = (0.7, 1.0) if cx else (0.0, 0.3)
            y0, y1 = (0.82, 1.0) if cy else (0.0, 0.18)
            if box.x0 < x1 and box.x1 > x0 and box.y0 < y1 and box.y1 > y0:
                blocked.add((cx, cy))
    ideal = (int(sx > 0), int(sy > 0))
    corner = min(counts, key=lambda c: (c in blocked, counts[c], c != ideal))
    arrow = _BETTER_ARROWS[(sx, sy)]
    note = ax.text(
        0.98 if corner[0] else 0.02,
        0.97 if corner[1] else 0.03,
        style.text(f"better {arrow}" if sx > 0 else f"{arrow} better"),
        transform=ax.transAxes,
        ha="right" if corner[0] else "left",
        va="top" if corner[1] else "bottom",
        color="0.3",
        fontsize=mpl.rcParams["legend.fontsize"],
        zorder=5,
        gid="moorec-better",
    )
    ax._moorec_better = note
    return note


def densify(vertices: np.ndarray, per_segment: int = 12) -> np.ndarray:
    """Points along a polyline ``[n, 2]``, ``per_segment`` per segment (for overlap checks)."""
    v = np.asarray(vertices, dtype=float).reshape(-1, 2)
    if len(v) < 2:
        return v
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    pieces = [a + t * (b - a) for a, b in itertools.pairwise(v)]
    return np.concatenate([*pieces, v[-1:]])


def _marks(ax, renderer) -> np.ndarray:
    """Display coordinates of the marks on ``ax``.

    Markers, points along lines, and a grid of points over each text, the legend included.
    """
    out = [np.zeros((0, 2))]
    for c in ax.collections:
        offsets = np.asarray(c.get_offsets(), dtype=float).reshape(-1, 2)
        if len(offsets):
            out.append(c.get_offset_transform().transform(offsets))
    for line in ax.lines:
        xy = np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2)
        if len(xy):
            out.append(line.get_transform().transform(densify(xy)))
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    legend = ax.get_legend()
    if legend is not None:
        boxes.append(legend.get_window_extent(renderer))
    for b in boxes:
        gx, gy = np.meshgrid(np.linspace(b.x0, b.x1, 5), np.linspace(b.y0, b.y1, 3))
        out.append(np.column_stack([gx.ravel(), gy.ravel()]))
    pts = np.concatenate(out)
    return pts[np.isfinite(pts).all(axis=1)]


def place_label(ax, xy: Sequence[float], label: str, **kwargs):
    """Annotate a data point with a short line to a label placed clear of other marks.

    Candidate places around the point (eight directions, two distances) are scored by the
    marks already on the axes (markers, lines, texts, the legend) that the label's box would
    cover and by whether it stays inside the axes; the best one is used. The figure's layout
    is settled first so the measure is in final units.

    Args:
        ax: 2-D axes.
        xy: the point, data coordinates.
        label: the text.
        **kwargs: passed to ``ax.annotate``.

    Returns:
        The ``Annotation``.
    """
    fig = root_figure(ax)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    probe = ax.text(0, 0, label, transform=None)
    extent = probe.get_window_extent(renderer)
    probe.remove()
    w, h = extent.width, extent.height
    px = fig.dpi / 72.0
    anchor = ax.transData.transform(np.asarray(xy, dtype=float))
    obs = _marks(ax, renderer)
    box = ax.get_window_extent(renderer)
    best = None
    directions = [(1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    for rank, dist in enumerate((12.0, 22.0)):
        for pref, (dx, dy) in enumerate(directions):
            ox, oy = dx * dist * px, dy * dist * px
            x0 = anchor[0] + ox - (0 if dx > 0 else w if dx < 0 else w / 2)
            y0 = anchor[1] + oy - (0 if dy > 0 else h if dy < 0 else h / 2)
            pad = 2.0 * px
            inside = (
                (obs[:, 0] > x0 - pad)
                & (obs[:, 0] < x0 + w + pad)
                & (obs[:, 1] > y0 - pad)
                & (obs[:, 1] < y0 + h + pad)
            )
            out = (
                x0 < box.x0 + pad
                or x0 + w > box.x1 - pad
                or y0 < box.y0 + pad
                or y0 + h > box.y1 - pad
            )
            score = (int(out), int(inside.sum()), rank, pref)
            if best is None or score < best[0]:
                best = (score, dx, dy, dist)
    _, dx, dy, dist = best
    return ax.annotate(
        label,
        xy=tuple(xy),
        xytext=(dx * dist, dy * dist),
        textcoords="offset points",
        ha="left" if dx > 0 else "right" if dx < 0 else "center",
        va="bottom" if dy > 0 else "top" if dy < 0 else "center",
        **kwargs,
    )
