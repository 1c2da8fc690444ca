"""Empirical attainment surfaces over repeated runs, computed with moocore.

Attainment functions: Fonseca, Grunert da Fonseca and Hall (EMO 2001); López-Ibáñez, Paquete
and Stützle (2010). The ``p``-attainment surface of a group of ``n`` runs separates the
objective vectors that at least ``p * n`` of the runs reached (some trial is at least as good
in both objectives) from the others; the 50 % surface is the median, the 25 % and 75 % surfaces
the optimistic and the pessimistic quartile. ``moocore.eaf`` computes them on minimisation-form
data; maximised objectives are negated before and after.

The runs of a group must be repeats of one search that differ only in the seed
(``config.search.seed``): :func:`attainment` refuses a group whose configs differ in anything
else (a budget, a space, a data set) and warns when two of its runs share a seed.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from moorec.errors import ConfigError
from moorec.plots import style
from moorec.plots.common import (
    as_runs,
    better_note,
    check_split,
    drawing,
    label_axes,
    non_dominated_rows,
    objective_directions,
    require_finished,
    sort_along,
    step_vertices,
    trial_points,
    warn_incomplete,
)
from moorec.results.run import Run

__all__ = ["attainment", "attainment_surfaces", "check_repeats", "config_differences"]

#: The config key in which the runs of one attainment group may differ.
SEED_KEY = "search.seed"


def _flatten(value, prefix: str, out: dict) -> dict:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif prefix:
        out[prefix] = value
    return out


def _seed(run: Run):
    search = run.config.get("search") if isinstance(run.config, dict) else None
    if isinstance(search, dict) and search.get("seed") is not None:
        return search["seed"]
    return run.manifest.get("seed")


def config_differences(runs: Sequence[Run]) -> dict[str, list]:
    """The config keys, other than the search seed, in which the runs differ.

    Configs (the manifests' ``config``) are compared key by key, nested keys dotted
    (``"search.generations"``); a key some runs lack counts as ``None`` in those.

    Args:
        runs: loaded runs.

    Returns:
        ``{dotted key: [value per run]}`` for each key whose values differ, in key order.
    """
    flat = [_flatten(r.config if isinstance(r.config, dict) else {}, "", {}) for r in runs]
    keys = sorted({k for f in flat for k in f} - {SEED_KEY})
    out = {}
    for key in keys:
        values = [f.get(key) for f in flat]
        encoded = {json.dumps(v, sort_keys=True, default=str) for v in values}
        if len(encoded) > 1:
            out[key] = values
    return out


def check_repeats(name: str, runs: Sequence[Run], warn: bool = True) -> None:
    """Check that the runs of attainment group ``name`` are one search repeated over seeds.

    Args:
        name: the group's label (for messages).
        runs: its loaded runs.
        warn: warn when two runs share a seed.

    Raises:
        ConfigError: the runs' configs differ in anything but ``config.search.seed``; the
            message names each differing key and its value in each run.

    Warns:
        UserWarning: two or more runs share a seed, so they repeat one search rather than
            sample seeds.
    """
    diff = config_differences(runs)
    if diff:
        shown = list(diff.items())[:6]
        parts = []
        for key, vals in shown:
            pairs = zip(vals, runs, strict=True)
            each = [f"{json.dumps(v, default=str)} in {r.path}" for v, r in pairs]
            parts.append(f"{key} is {', '.join(each)}")
        more = f" (and {len(diff) - len(shown)} more keys)" if len(diff) > len(shown) else ""
        raise ConfigError(
            f"attainment group {name!r} pools runs whose configs differ in more than the search "
            f"seed: {'; '.join(parts)}{more}. An attainment surface is taken over seeds of one "
            "config: give runs that differ only in config.search.seed, or put them in separate "
            "groups"
        )
    if not warn:
        return
    by_seed: dict = {}
    for r in runs:
        seed = _seed(r)
        if seed is not None:
            by_seed.setdefault(json.dumps(seed, default=str), []).append(r)
    for seed, same in by_seed.items():
        if len(same) > 1:
            warnings.warn(
                f"attainment group {name!r}: runs {', '.join(str(r.path) for r in same)} share "
                f"the search seed {seed}, so they repeat one search instead of sampling seeds",
                UserWarning,
                stacklevel=3,
            )


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
    points are their finished, feasible trials on ``split`` (``test`` in the axis labels when
    it is the test split). The runs of a group must differ only in their seed
    (:func:`check_repeats`).

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
        ConfigError: no groups, a group with fewer than two runs, a group whose runs' configs
            differ in anything but ``config.search.seed`` (the message names the keys and
            values), a run without a finished feasible trial, a level outside ``(0, 1]``,
            ``x == y``, or runs that disagree on an objective's direction.

    Warns:
        RunIncompleteWarning: a run folder lacks files.
        UserWarning: two runs of a group share a seed.
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
            require_finished(r)
        check_repeats(str(name), runs, warn=False)
        resolved[str(name)] = runs
    for name, runs in resolved.items():
        check_repeats(name, runs)
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
        label_axes(ax, keys, directions, split)
        better_note(ax, directions, np.concatenate(everything) if everything else None)
    ax.moorec_attainment = surfaces
    return ax
