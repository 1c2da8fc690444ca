"""Pareto fronts: one run in 2-D, several runs overlaid, 3-D, and a scatter matrix.

The front drawn is the non-dominated set of the plotted trials on the plotted objectives
(:func:`~moorec.plots.common.front_points`), each objective in its own direction, drawn as
markers joined by a staircase that bounds the region the front dominates.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from moorec.errors import ConfigError
from moorec.plots import style
from moorec.plots.common import (
    as_run,
    as_runs,
    better_note,
    check_split,
    drawing,
    knee_row,
    label_axes,
    non_dominated_rows,
    objective_directions,
    place_label,
    projection_note,
    require_finished,
    run_labels,
    sort_along,
    step_vertices,
    trial_points,
    warn_incomplete,
)
from moorec.results.run import Run

__all__ = ["front", "front3d", "fronts", "scatter_matrix"]

_TRIAL_ALPHA = 0.25
_TRIAL_SIZE = 5.0  # points^2
_FRONT_SIZE = 14.0
_KNEE_SIZE = 70.0


def _front_handle(color, marker="o", linestyle="-"):
    from matplotlib.lines import Line2D

    return Line2D(
        [], [], color=color, marker=marker, markersize=3.5, linestyle=linestyle, linewidth=1.0
    )


def _legend(ax, handle, text: str, title: str | None = None) -> None:
    """Add one entry to the axes' moorec legend and redraw the legend.

    ``title`` (e.g. a projection note) becomes the legend's title and stays for later entries.
    """
    entries = getattr(ax, "_moorec_legend", [])
    entries.append((handle, style.text(text)))
    ax._moorec_legend = entries
    if title is not None:
        ax._moorec_legend_title = style.text(title)
    ax.legend(
        [h for h, _ in entries],
        [t for _, t in entries],
        loc="best",
        title=getattr(ax, "_moorec_legend_title", None),
    )


def _annotate_knee(ax, point):
    return place_label(
        ax,
        point,
        style.text("knee"),
        arrowprops={"arrowstyle": "-", "color": "0.25", "linewidth": 0.6, "shrinkB": 4},
        color="0.15",
        zorder=6,
        gid="moorec-knee-label",
    )


def front(
    run: Run | str | os.PathLike,
    x: str,
    y: str,
    *,
    split: str = "valid",
    ax=None,
    show_trials: bool = True,
    label: str | None = None,
    color: str | None = None,
    annotate_knee: bool = True,
):
    """The 2-D Pareto front of a run: faded trials, the front as a staircase, the knee.

    Every finished, feasible trial is drawn faded; failed trials are left out and counted. The
    non-dominated set on ``(x, y)`` (pymoo's sorting, each objective in its own direction) is
    drawn as markers joined by a step line that bounds the region it dominates. The run's knee
    (:func:`~moorec.plots.common.run_knee`: the one recorded in ``front.json``, which the
    tables and the summary show) is starred wherever it lies. A note in an empty corner points
    toward the better values.

    A run with more than two objectives is shown as a 2-D projection, and the legend's title
    says so (``"2-D projection of a 3-objective front"``): the members of the run's Pareto set
    that the two plotted objectives alone do not keep (they are better in another objective)
    are drawn as open markers of the front's colour, so every member of the tables is there,
    and the recorded knee may be one of them.

    With ``split="test"`` the axis labels say ``test`` and a title says the values are the
    test values of the validation Pareto set.

    After the call ``ax.moorec_front`` holds caption data: ``{"n_front", "n_trials",
    "n_failed", "n_infeasible", "x", "y", "split", "complete", "missing" (absent run files),
    "trials" (the 2-D front's trial ids along x), "pareto_set" (the plotted members of the
    run's Pareto set, by trial id), "n_objectives", "projection" (the legend's projection note
    or None), "knee" (trial id or None), "knee_method" ("recorded", the knee rule of a run
    without front.json such as "asf", or "")}``.

    Args:
        run: a :class:`~moorec.results.Run` or run folder.
        x: objective key on the x axis.
        y: objective key on the y axis.
        split: ``"valid"`` (every trial) or ``"test"`` (only the trials with test scores,
            i.e. the validation Pareto set, with the front recomputed on test values).
        ax: axes to draw into; a new single-column figure by default. An axis already
            log-scaled gets ``log scale`` in its label.
        show_trials: draw the dominated trials faded.
        label: legend label of the front (default ``"Pareto front (n)"``).
        color: colour of the front and its trials (default the first of the palette).
        annotate_knee: mark and label the knee.

    Returns:
        The ``Axes``.

    Raises:
        UnknownNameError: ``x`` or ``y`` is not an objective of the run (the message lists the
            run's objectives), or ``split`` is unknown.
        ConfigError: ``x == y`` (a front needs two objectives), or the run has no finished
            trial (all failed, or none recorded yet).

    Warns:
        RunIncompleteWarning: the run folder lacks files; the figure shows what is there.
    """
    run = as_run(run)
    check_split(split)
    keys = [x, y]
    directions = objective_directions(run, keys)
    require_finished(run)
    warn_incomplete(run)
    values, ids = trial_points(run, keys, split)
    rows = non_dominated_rows(values, directions)
    rows = rows[sort_along(values[rows])]
    pts, front_ids = values[rows], [ids[i] for i in rows]
    note = projection_note(run, 2)
    members = {m["trial"] for m in run.pareto_front()}
    pareto_ids = [i for i in ids if i in members]
    on_front = set(front_ids)
    rest = [j for j, i in enumerate(ids) if i in members and i not in on_front]
    if note is None:
        rest = []
    rest = np.asarray(rest, dtype=int)
    n_failed = len(run.failed())
    n_infeasible = sum(1 for t in run.trials(False) if t.get("feasible", True) is False)
    color = color or style.PALETTE[0]
    with drawing(ax) as ax:
        if show_trials and len(values):
            ax.scatter(
                values[:, 0],
                values[:, 1],
                s=_TRIAL_SIZE,
                color=color,
                alpha=_TRIAL_ALPHA,
                linewidths=0,
                zorder=1,
                gid="moorec-trials",
            )
        verts = step_vertices(pts, directions)
        ax.plot(verts[:, 0], verts[:, 1], color=color, linewidth=1.0, zorder=2, gid="moorec-step")
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            s=_FRONT_SIZE,
            color=color,
            edgecolors="white",
            linewidths=0.4,
            zorder=3,
            gid="moorec-front",
        )
        if len(rest):
            ax.scatter(
                values[rest, 0],
                values[rest, 1],
                s=_FRONT_SIZE,
                facecolors="white",
                edgecolors=color,
                linewidths=0.8,
                zorder=3,
                gid="moorec-pareto-rest",
            )
        knee, knee_method = (None, "")
        if annotate_knee:
            knee, knee_method = knee_row(run, ids)
        if knee is not None:
            ax.scatter(
                [values[knee, 0]],
                [values[knee, 1]],
                s=_KNEE_SIZE,
                marker="*",
                color=color,
                edgecolors="black",
                linewidths=0.6,
                zorder=4,
                gid="moorec-knee",
            )
        label_axes(ax, keys, directions, split)
        if show_trials and len(values):
            faded = _front_handle(color, linestyle="none")
            faded.set_alpha(_TRIAL_ALPHA + 0.15)
            trials = f"trials ({len(values)})"
            _legend(ax, faded, trials if label is None else f"{label}: {trials}", note)
        what = "Pareto front" + (" in 2-D" if note is not None else "")
        what += ", test" if split == "test" else ""
        _legend(ax, _front_handle(color), label or f"{what} ({len(pts)})", note)
        if len(rest):
            ring = _front_handle(color, linestyle="none")
            ring.set_markerfacecolor("white")
            text = f"rest of the Pareto set ({len(rest)})"
            _legend(ax, ring, text if label is None else f"{label}: {text}")
        if split == "test":
            ax.set_title("test values of the validation Pareto set", fontsize="medium")
        better_note(ax, directions, values)
        if knee is not None:
            _annotate_knee(ax, values[knee])
    ax.moorec_front = {
        "n_front": len(pts),
        "n_trials": len(values),
        "n_failed": n_failed,
        "n_infeasible": n_infeasible,
        "x": x,
        "y": y,
        "split": split,
        "complete": run.complete,
        "missing": list(run.missing),
        "trials": front_ids,
        "pareto_set": pareto_ids,
        "n_objectives": len(run.objectives),
        "projection": note,
        "knee": None if knee is None else ids[knee],
        "knee_method": knee_method,
    }
    return ax


def fronts(
    runs: Sequence[Run | str | os.PathLike],
    x: str,
    y: str,
    *,
    labels: Sequence[str] | None = None,
    split: str = "valid",
    ax=None,
):
    """Several runs' 2-D fronts on one axes, e.g. NSGA-II against random search.

    Each run's non-dominated set on ``(x, y)`` is drawn as markers and a staircase (see
    :func:`front`) in its own colour and marker; runs given the same label share both and one
    legend entry (e.g. several seeds of one algorithm). When a run has more than two
    objectives the legend's title says the figure is a 2-D projection; with ``split="test"``
    the axis labels say ``test``.

    After the call ``ax.moorec_fronts`` is a list with one dict per run: ``{"label",
    "n_front", "n_trials", "n_failed", "trials"}``.

    Args:
        runs: runs or run folders with ``x`` and ``y`` among their objectives.
        x: objective key on the x axis.
        y: objective key on the y axis.
        labels: one legend label per run (default: the algorithm and seed from each manifest).
        split: ``"valid"`` or ``"test"``.
        ax: axes to draw into; a new single-column figure by default.

    Returns:
        The ``Axes``.

    Raises:
        UnknownNameError: ``x`` or ``y`` is not an objective of some run.
        ConfigError: no runs, a label count that does not match, ``x == y``, runs that
            disagree on an objective's direction, or a run without a finished trial.

    Warns:
        RunIncompleteWarning: a run folder lacks files.
    """
    runs = as_runs(runs, "fronts")
    check_split(split)
    keys = [x, y]
    directions = objective_directions(runs[0], keys)
    for r in runs[1:]:
        if objective_directions(r, keys) != directions:
            raise ConfigError(
                f"runs disagree on the directions of {keys}: {runs[0].path} has {directions}, "
                f"{r.path} has {objective_directions(r, keys)}"
            )
    labels = run_labels(runs, labels)
    for r in runs:
        require_finished(r)
    for r in runs:
        warn_incomplete(r)
    counts = sorted({len(r.objectives) for r in runs})
    note = None
    if counts[-1] > 2:
        note = f"2-D projection of {'/'.join(map(str, counts))}-objective fronts"
    order = list(dict.fromkeys(labels))
    info, everything = [], []
    with drawing(ax) as ax:
        for r, lab in zip(runs, labels, strict=True):
            i = order.index(lab)
            color = style.PALETTE[i % len(style.PALETTE)]
            marker = style.MARKERS[i % len(style.MARKERS)]
            values, ids = trial_points(r, keys, split)
            rows = non_dominated_rows(values, directions)
            rows = rows[sort_along(values[rows])]
            pts = values[rows]
            everything.append(pts)
            verts = step_vertices(pts, directions)
            ax.plot(verts[:, 0], verts[:, 1], color=color, linewidth=1.0, gid="moorec-step")
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                s=_FRONT_SIZE,
                marker=marker,
                color=color,
                edgecolors="white",
                linewidths=0.4,
                zorder=3,
                gid="moorec-front",
            )
            info.append(
                {
                    "label": lab,
                    "n_front": len(pts),
                    "n_trials": len(values),
                    "n_failed": len(r.failed()),
                    "trials": [ids[j] for j in rows],
                }
            )
        for i, lab in enumerate(order):
            color = style.PALETTE[i % len(style.PALETTE)]
            _legend(ax, _front_handle(color, style.MARKERS[i % len(style.MARKERS)]), lab, note)
        label_axes(ax, keys, directions, split)
        better_note(ax, directions, np.concatenate(everything) if everything else None)
    ax.moorec_fronts = info
    return ax


def front3d(
    run: Run | str | os.PathLike,
    objectives: Sequence[str] | None = None,
    *,
    split: str = "valid",
    ax=None,
):
    """A 3-D scatter of the trials with the Pareto front (non-dominated in the three) highlighted.

    The run's knee (:func:`~moorec.plots.common.run_knee`, the recorded one) is starred; a run
    with more than three objectives is a 3-D projection and the legend's title says so. With
    ``split="test"`` the axis labels say ``test``.

    After the call ``ax.moorec_front`` holds ``{"n_front", "n_trials", "n_failed",
    "objectives", "split", "complete", "missing", "trials", "knee"}``.

    Args:
        run: a :class:`~moorec.results.Run` or run folder.
        objectives: three objective keys (default: the run's first three).
        split: ``"valid"`` or ``"test"``.
        ax: 3-D axes (``projection="3d"``); a new single-column figure by default.

    Returns:
        The 3-D ``Axes``.

    Raises:
        UnknownNameError: a key is not an objective of the run.
        ConfigError: not exactly three objectives (or the run has fewer than three), ``ax``
            is not a 3-D axes, or the run has no finished trial.

    Warns:
        RunIncompleteWarning: the run folder lacks files.
    """
    run = as_run(run)
    check_split(split)
    keys = list(run.objective_keys[:3] if objectives is None else objectives)
    if len(keys) != 3:
        raise ConfigError(
            f"a 3-D front needs exactly 3 objectives, got {len(keys)} ({keys}); "
            f"the run's objectives are {run.objective_keys}"
        )
    directions = objective_directions(run, keys, minimum=3)
    if ax is not None and getattr(ax, "name", "") != "3d":
        raise ConfigError("front3d needs 3-D axes: make them with projection='3d'")
    require_finished(run)
    warn_incomplete(run)
    values, ids = trial_points(run, keys, split)
    rows = non_dominated_rows(values, directions)
    rows = rows[sort_along(values[rows])]
    pts, front_ids = values[rows], [ids[i] for i in rows]
    others = np.setdiff1d(np.arange(len(values)), rows)
    with drawing(ax, width="single", height=3.0, projection="3d") as ax:
        ax.computed_zorder = False  # draw in call order: front over trials, knee on top
        ax.scatter(
            values[others, 0],
            values[others, 1],
            values[others, 2],
            s=_TRIAL_SIZE,
            color="0.55",
            alpha=0.35,
            linewidths=0,
            depthshade=False,
            gid="moorec-trials",
        )
        ax.scatter(
            pts[:, 0],
            pts[:, 1],
            pts[:, 2],
            s=_FRONT_SIZE,
            color=style.PALETTE[0],
            edgecolors="white",
            linewidths=0.3,
            depthshade=False,
            gid="moorec-front",
        )
        knee, _ = knee_row(run, ids)
        if knee is not None:
            ax.scatter(
                [values[knee, 0]],
                [values[knee, 1]],
                [values[knee, 2]],
                s=_KNEE_SIZE,
                marker="*",
                color=style.PALETTE[1],
                edgecolors="black",
                linewidths=0.5,
                depthshade=False,
                gid="moorec-knee",
            )
        from matplotlib.ticker import MaxNLocator

        for axis, key, d in zip((ax.xaxis, ax.yaxis, ax.zaxis), keys, directions, strict=True):
            axis.set_label_text(style.short_label(key, d, split=split))
            axis.labelpad = 1.0
            axis.set_major_locator(MaxNLocator(4))
            axis.set_pane_color((1.0, 1.0, 1.0, 0.0))
            axis._axinfo["grid"].update(linewidth=0.4, color=(0.6, 0.6, 0.6, 0.5))
        ax.tick_params(pad=0.5)
        n_trials = len(values)
        handles = [
            _front_handle("0.55", linestyle="none"),
            _front_handle(style.PALETTE[0], linestyle="none"),
        ]
        texts = [f"trials ({n_trials})", f"Pareto front ({len(pts)})"]
        if knee is not None:
            handles.append(_front_handle(style.PALETTE[1], marker="*", linestyle="none"))
            handles[-1].set_markersize(7)
            handles[-1].set_markeredgecolor("black")
            handles[-1].set_markeredgewidth(0.5)
            texts.append("knee")
        note = projection_note(run, 3)
        ax.legend(
            handles,
            [style.text(t) for t in texts],
            loc="upper left",
            bbox_to_anchor=(0.0, 1.02),
            ncols=3,
            title=None if note is None else style.text(note),
        )
    ax.moorec_front = {
        "n_front": len(pts),
        "n_trials": len(values),
        "n_failed": len(run.failed()),
        "objectives": keys,
        "split": split,
        "complete": run.complete,
        "missing": list(run.missing),
        "trials": front_ids,
        "projection": note,
        "knee": None if knee is None else ids[knee],
    }
    return ax


def scatter_matrix(
    run: Run | str | os.PathLike,
    objectives: Sequence[str] | None = None,
    *,
    split: str = "valid",
    fig=None,
):
    """Pairwise 2-D views of the trials with the Pareto set highlighted (a corner plot).

    For ``k`` objectives, a ``k x k`` grid: below the diagonal, one scatter per pair of
    objectives (all trials faded, the Pareto set, non-dominated in all ``k`` objectives, in
    colour, the run's knee starred, as in :func:`front`); on the diagonal, histograms of each
    objective (all trials and the Pareto set); above it, the legend. With ``split="test"`` the
    axis labels and the legend's title say ``test``.

    After the call ``fig.moorec_front`` holds ``{"n_front", "n_trials", "n_failed",
    "objectives", "split", "complete", "missing", "trials", "knee"}``.

    Args:
        run: a :class:`~moorec.results.Run` or run folder.
        objectives: at least two objective keys (default: all of the run's).
        split: ``"valid"`` or ``"test"``.
        fig: an empty figure (or subfigure) to draw into; by default a new one, two columns
            wide for three objectives or more.

    Returns:
        The ``Figure``.

    Raises:
        UnknownNameError: a key is not an objective of the run.
        ConfigError: fewer than two objectives, ``fig`` already holds axes, or the run has no
            finished trial.

    Warns:
        RunIncompleteWarning: the run folder lacks files.
    """
    run = as_run(run)
    check_split(split)
    keys = list(run.objective_keys if objectives is None else objectives)
    directions = objective_directions(run, keys)
    require_finished(run)
    warn_incomplete(run)
    values, ids = trial_points(run, keys, split)
    rows = non_dominated_rows(values, directions)
    rows = rows[sort_along(values[rows])]
    pts, front_ids = values[rows], [ids[i] for i in rows]
    knee, _ = knee_row(run, ids)
    k = len(keys)
    if fig is not None and fig.axes:
        raise ConfigError("scatter_matrix draws into an empty figure; this one holds axes")
    lims = []
    for j in range(k):
        col = values[:, j] if len(values) else np.array([0.0, 1.0])
        lo, hi = float(col.min()), float(col.max())
        pad = 0.06 * (hi - lo) if hi > lo else max(abs(lo) * 0.05, 0.5)
        lims.append((lo - pad, hi + pad))
    from matplotlib.ticker import MaxNLocator

    n_bins = int(np.clip(round(2 * np.sqrt(max(len(values), 1))), 6, 20))
    if fig is None:
        width = "single" if k == 2 else "double"
        size = style.WIDTHS[width] * (0.9 if k == 2 else min(0.95, 0.25 * k))
        fig, axes = style.figure(width, size, nrows=k, ncols=k)
    else:
        with style.style_of(fig):
            axes = fig.subplots(k, k, squeeze=False)
    with style.style_of(fig):
        for i in range(k):
            for j in range(k):
                ax = axes[i, j]
                if j > i:
                    ax.set_axis_off()
                    continue
                ax.set_xlim(lims[j])
                ax.xaxis.set_major_locator(MaxNLocator(4))
                if i == j:
                    bins = np.linspace(*lims[j], n_bins + 1)
                    counts, _, _ = ax.hist(
                        values[:, j], bins=bins, color="0.82", gid="moorec-hist-trials"
                    )
                    ax.hist(
                        pts[:, j],
                        bins=bins,
                        color=style.PALETTE[0],
                        alpha=0.75,
                        gid="moorec-hist-front",
                    )
                    ax.set_ylim(0, 1.12 * max(float(np.max(counts, initial=0.0)), 1.0))
                    ax.set_yticks([])
                    ax.spines["left"].set_visible(False)
                    ax.grid(False)
                else:
                    ax.set_ylim(lims[i])
                    ax.yaxis.set_major_locator(MaxNLocator(4))
                    ax.scatter(
                        values[:, j],
                        values[:, i],
                        s=_TRIAL_SIZE,
                        color="0.55",
                        alpha=0.4,
                        linewidths=0,
                        gid="moorec-trials",
                    )
                    ax.scatter(
                        pts[:, j],
                        pts[:, i],
                        s=_FRONT_SIZE * 0.8,
                        color=style.PALETTE[0],
                        edgecolors="white",
                        linewidths=0.3,
                        zorder=3,
                        gid="moorec-front",
                    )
                    if knee is not None:
                        ax.scatter(
                            [values[knee, j]],
                            [values[knee, i]],
                            s=_KNEE_SIZE * 0.8,
                            marker="*",
                            color=style.PALETTE[1],
                            edgecolors="black",
                            linewidths=0.5,
                            zorder=4,
                            gid="moorec-knee",
                        )
                if i == k - 1:
                    ax.set_xlabel(style.label(keys[j], directions[j], split=split))
                else:
                    ax.tick_params(labelbottom=False)
                if j == 0 and i > 0:
                    ax.set_ylabel(style.label(keys[i], directions[i], split=split))
                elif i != j:
                    ax.tick_params(labelleft=False)
        handles = [
            _front_handle("0.55", linestyle="none"),
            _front_handle(style.PALETTE[0], linestyle="none"),
        ]
        texts = [f"trials ({len(values)})", f"Pareto set ({len(pts)})"]
        if knee is not None:
            star = _front_handle(style.PALETTE[1], marker="*", linestyle="none")
            star.set_markersize(7)
            star.set_markeredgecolor("black")
            star.set_markeredgewidth(0.5)
            handles.append(star)
            texts.append("knee")
        n_failed = len(run.failed())
        title = f"{split} split" + (f"; {n_failed} failed trials not shown" if n_failed else "")
        axes[0, k - 1].legend(
            handles, [style.text(t) for t in texts], loc="upper right", title=title, frameon=False
        )
    fig.moorec_front = {
        "n_front": len(pts),
        "n_trials": len(values),
        "n_failed": n_failed,
        "objectives": keys,
        "split": split,
        "complete": run.complete,
        "missing": list(run.missing),
        "trials": front_ids,
        "knee": None if knee is None else ids[knee],
    }
    return fig
