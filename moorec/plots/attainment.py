"""Empirical attainment surfaces over repeated runs, computed with moocore.

Attainment functions: Fonseca, Grunert da Fonseca and Hall (EMO 2001); López-Ibáñez, Paquete
and Stützle (2010). The ``p``-attainment surface of a group of ``n`` runs separates the
objective vectors that at least ``p * n`` of the runs reached (some trial is at least as good
in both objectives) from the others; the 50 % surface is the median, the 25 % and 75 % surfaces
the optimistic and the pessimistic quartile. ``moocore.eaf`` computes them on minimisation-form
data; maximised objectives are negated before and after.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from moorec.errors import ConfigError
from moorec.plots import style
from moorec.plots.common import (
    as_runs,
    better_note,
    check_split,
    drawing,
    non_dominated_rows,
    objective_directions,
    sort_along,
    step_vertices,
    trial_points,
    warn_incomplete,
)
from moorec.results.run import Run

__all__ = ["attainment", "attainment_surfaces"]


def _check_levels(levels: Sequence[float]) -> list[float]:
    if isinstance(levels, int | float):
        levels = [levels]
    out = []
    for lev in levels:
        if isinstance(lev, bool) or not isinstance(lev, int | float) or not 0 < lev <= 1:
            raise ConfigError(f"attainment levels must be numbers in (0, 1], got {list(levels)!r}")
        out.append(float(lev))
    if not out:
        raise ConfigError("attainment needs at least one level, got none")
    return out


def attainment_surfaces(
    point_sets: Sequence[np.ndarray], directions: Sequence[str], levels: Sequence[float]
) -> dict[float, np.ndarray]:
    """Empirical attainment surfaces of several 2-D point sets (one per run), with moocore.

    Args:
        point_sets: one ``[n_i, 2]`` array of natural values per run, each with ``n_i >= 1``.
        directions: ``"max"`` or ``"min"`` for the two objectives.
        levels: fractions of the runs, each in ``(0, 1]``.

    Returns:
        ``{level: [n_points, 2] float64}``: the points of each surface in natural directions,
        sorted along the first objective.
    """
    levels = _check_levels(levels)
    sign = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    points = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in point_sets])
    sets = np.concatenate([np.full(len(p), i + 1) for i, p in enumerate(point_sets)])
    import moocore

    percentiles = [100.0 * lev for lev in levels]
    eaf = moocore.eaf(points * sign, sets, percentiles=percentiles)
    out = {}
    for lev, pct in zip(levels, percentiles, strict=True):
        surface = eaf[np.isclose(eaf[:, 2], pct), :2] * sign
        out[lev] = surface[sort_along(surface)]
    return out


def attainment(
    groups: Mapping[str, Sequence[Run | str | os.PathLike]],
    x: str,
    y: str,
    *,
    levels: Sequence[float] = (0.25, 0.5, 0.75),
    split: str = "valid",
    ax=None,
):
    """Empirical attainment surfaces of groups of repeated runs, e.g. seeds of two algorithms.

    For each group (one colour), the surfaces at ``levels`` are drawn as step lines bounding
    the region attained by that fraction of the group's runs: the median (0.5) solid, the
    others dashed, with the band between the outermost and innermost of them shaded. The runs'
    points are their finished, feasible trials on ``split``.

    After the call ``ax.moorec_attainment`` holds ``{group: {level: [n, 2] array}}``, the
    surfaces' points in natural directions.

    Args:
        groups: ``{label: runs}``, at least two runs (runs or run folders) per group, e.g.
            ``{"NSGA-II": [r0, r1, r2], "random search": [q0, q1, q2]}``.
        x: objective key on the x axis.
        y: objective key on the y axis.
        levels: fractions of the runs in ``(0, 1]`` that attain each drawn surface.
        split: ``"valid"`` or ``"test"``.
        ax: axes to draw into; a new single-column figure by default.

    Returns:
        The ``Axes``.

    Raises:
        UnknownNameError: ``x`` or ``y`` is not an objective of a run, or ``split`` is unknown.
        ConfigError: no groups, a group with fewer than two runs, a run without a finished
            feasible trial, a level outside ``(0, 1]``, ``x == y``, or runs that disagree on
            an objective's direction.

    Warns:
        RunIncompleteWarning: a run folder lacks files.
    """
    check_split(split)
    levels = _check_levels(levels)
    if not isinstance(groups, Mapping) or not groups:
        raise ConfigError(
            f"attainment needs a mapping {{label: [runs]}} with at least one group, got {groups!r}"
        )
    keys = [x, y]
    resolved: dict[str, list[Run]] = {}
    directions = None
    for name, runs in groups.items():
        runs = as_runs(runs, f"attainment group {name!r}")
        if len(runs) < 2:
            raise ConfigError(
                f"attainment surfaces need at least 2 runs per group (repeated seeds); "
                f"group {name!r} has {len(runs)}"
            )
        for r in runs:
            d = objective_directions(r, keys)
            if directions is None:
                directions = d
            elif d != directions:
                raise ConfigError(
                    f"runs disagree on the directions of {keys}: {directions} and {d} ({r.path})"
                )
        resolved[str(name)] = runs
    point_sets: dict[str, list[np.ndarray]] = {}
    for name, runs in resolved.items():
        sets = []
        for r in runs:
            warn_incomplete(r)
            values, _ = trial_points(r, keys, split)
            if len(values) == 0:
                raise ConfigError(
                    f"run {r.path} (group {name!r}) has no finished feasible trial with "
                    f"{split} values of {keys}; it cannot enter an attainment surface"
                )
            sets.append(values[non_dominated_rows(values, directions)])
        point_sets[name] = sets
    from matplotlib.lines import Line2D

    surfaces = {}
    everything = []
    handles, texts = [], []
    median = min(levels, key=lambda lev: abs(lev - 0.5))
    with drawing(ax) as ax:
        for i, (name, sets) in enumerate(point_sets.items()):
            color = style.PALETTE[i % len(style.PALETTE)]
            surfaces[name] = attainment_surfaces(sets, directions, levels)
            others = sorted(lev for lev in surfaces[name] if lev != median)
            if len(others) >= 2:
                # Shade between the outermost and innermost non-median surfaces, so that
                # several groups stay readable where their lines cross.
                outer = step_vertices(surfaces[name][others[0]], directions)
                inner = step_vertices(surfaces[name][others[-1]], directions)
                band = np.concatenate([outer, inner[::-1]])
                ax.fill(
                    band[:, 0],
                    band[:, 1],
                    color=color,
                    alpha=0.15,
                    linewidth=0,
                    zorder=1,
                    gid="moorec-attainment-band",
                )
            for lev, pts in surfaces[name].items():
                verts = step_vertices(pts, directions)
                solid = lev == median
                ax.plot(
                    verts[:, 0],
                    verts[:, 1],
                    color=color,
                    linewidth=1.2 if solid else 0.6,
                    linestyle="-" if solid else (0, (3.5, 2)),
                    alpha=1.0 if solid else 0.7,
                    zorder=3 if solid else 2,
                    gid=f"moorec-attainment-{lev:g}",
                )
                everything.append(pts)
            handles.append(Line2D([], [], color=color, linewidth=1.2))
            texts.append(f"{name} ({len(sets)} runs)")
        handles.append(Line2D([], [], color="0.3", linewidth=1.2))
        texts.append("median" if median == 0.5 else f"{100 * median:g}% attained")
        others = [lev for lev in levels if lev != median]
        if others:
            handles.append(Line2D([], [], color="0.3", linewidth=0.8, linestyle=(0, (3.5, 2))))
            texts.append(", ".join(f"{100 * lev:g}%" for lev in others) + " attained")
        ax.legend(handles, [style.text(t) for t in texts], loc="best")
        ax.set_xlabel(style.label(x, directions[0]))
        ax.set_ylabel(style.label(y, directions[1]))
        better_note(ax, directions, np.concatenate(everything) if everything else None)
    ax.moorec_attainment = surfaces
    return ax
