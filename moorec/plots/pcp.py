"""Parallel coordinates over objectives and decision variables (Inselberg 1985).

Each trial is a polyline across one vertical axis per column. Every axis is scaled to
``[0, 1]``: an objective over the range of the plotted trials, oriented so that up is better
(a minimised objective runs from its largest value at the bottom to its smallest at the top);
a numeric decision variable over its search range when the run's space records one (on a log
scale for ``LogReal`` variables), else over the plotted values; a ``Choice`` variable places its
options evenly. The ends of every axis are labelled with their values; a log-scaled axis says
so in its label (``"lr (log scale)"``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from moorec.errors import UnknownNameError
from moorec.plots import style
from moorec.plots.common import (
    as_run,
    check_split,
    drawing,
    front_points,
    knee_row,
    require_finished,
    root_figure,
    trial_points,
    warn_incomplete,
)
from moorec.results.run import Run

__all__ = ["parallel_coordinates"]


def _fmt(value) -> str:
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4):
            return f"{value:.2g}"
        return f"{value:.3g}"
    return str(value)


def _columns(run: Run, columns: Sequence[str] | None) -> list[str]:
    """Resolve column names to ``objective keys`` and ``config.*`` names."""
    table_columns, _ = run.table_rows()
    config_cols = [c for c in table_columns if c.startswith("config.")]
    if columns is None:
        return run.objective_keys + config_cols
    if isinstance(columns, str):
        columns = [columns]
    valid = run.objective_keys + config_cols
    out = []
    for c in columns:
        if c in valid:
            out.append(c)
        elif f"config.{c}" in config_cols and c not in run.objective_keys:
            out.append(f"config.{c}")
        else:
            raise UnknownNameError("column", c, valid)
    return out


class _Axis:
    """How one column maps onto ``[0, 1]``, and its end labels."""

    def __init__(self, name: str, raw: list, spec: dict | None, direction: str | None):
        self.name, self.direction = name, direction
        self.kind = (spec or {}).get("type")
        numeric = [v for v in raw if _is_number(v)]
        self.categories: list | None = None
        if self.kind == "choice" or len(numeric) < sum(v is not None for v in raw):
            options = list((spec or {}).get("options", []))
            seen = [v for v in raw if v is not None]
            options += [v for v in dict.fromkeys(map(_hashable, seen)) if v not in options]
            if self.kind != "choice":
                options = sorted(options, key=lambda v: (not _is_number(v), str(v)))
            self.categories = options
            return
        self.log = self.kind == "logreal"
        lo = (spec or {}).get("low")
        hi = (spec or {}).get("high")
        if lo is None or hi is None or direction is not None:
            lo = min(numeric) if numeric else 0.0
            hi = max(numeric) if numeric else 1.0
        self.lo, self.hi = float(lo), float(hi)
        if self.log and (self.lo <= 0 or self.hi <= 0):
            self.log = False

    def scale(self, raw: list) -> np.ndarray:
        """Values of the column mapped to ``[0, 1]`` (NaN where missing)."""
        out = np.full(len(raw), np.nan)
        if self.categories is not None:
            n = len(self.categories)
            for i, v in enumerate(raw):
                if v is not None:
                    pos = self.categories.index(_hashable(v))
                    out[i] = 0.5 if n == 1 else pos / (n - 1)
            return out
        f = math.log10 if self.log else float
        lo, hi = f(self.lo), f(self.hi)
        for i, v in enumerate(raw):
            if _is_number(v) and (not self.log or v > 0):
                out[i] = 0.5 if hi == lo else (f(v) - lo) / (hi - lo)
        if self.direction == "min":
            out = 1.0 - out
        return out

    def ends(self) -> tuple[str, str]:
        """Labels of the bottom and top of the axis."""
        if self.categories is not None:
            return "", ""
        bottom, top = _fmt(self.lo), _fmt(self.hi)
        return (top, bottom) if self.direction == "min" else (bottom, top)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _hashable(v):
    return v if isinstance(v, int | float | str | bool | type(None)) else str(v)


def parallel_coordinates(
    run: Run | str | os.PathLike,
    columns: Sequence[str] | None = None,
    *,
    split: str = "valid",
    ax=None,
):
    """Parallel coordinates of a run's trials, the Pareto set in colour and the knee emphasised.

    All plotted trials (finished and feasible, as in :func:`~moorec.plots.front`) are faint
    grey lines; the Pareto set (non-dominated in all of the run's objectives) is drawn in
    colour and the run's knee (:func:`~moorec.plots.common.run_knee`: the one recorded in
    ``front.json``, as in the tables) in a second, thicker colour. With ``split="test"`` the
    objective labels say ``test``.

    After the call ``ax.moorec_pcp`` holds ``{"columns", "n_trials", "n_front", "n_failed",
    "split", "complete", "missing", "trials" (the Pareto set's trial ids), "knee"}``.

    Args:
        run: a :class:`~moorec.results.Run` or run folder.
        columns: objective keys and decision variables (``"config.lr"`` or ``"lr"``), in
            order; default: every objective, then every decision variable.
        split: ``"valid"`` or ``"test"`` for the objective values.
        ax: axes to draw into; a new two-column-wide figure by default.

    Returns:
        The ``Axes``.

    Raises:
        UnknownNameError: a column is neither an objective nor a decision variable of the run
            (the message lists those that are), or ``split`` is unknown.
        ConfigError: the run has no finished trial.

    Warns:
        RunIncompleteWarning: the run folder lacks files.
    """
    run = as_run(run)
    check_split(split)
    cols = _columns(run, columns)
    require_finished(run)
    warn_incomplete(run)
    keys = run.objective_keys
    directions = {o["key"]: o["direction"] for o in run.objectives}
    values, ids = trial_points(run, keys, split)
    by_id = {t["trial"]: t for t in run.trials(include_failed=False)}
    front_ids: list[int] = []
    knee_id = None
    if len(keys) >= 2:
        _, front_ids = front_points(run, keys, split)
        row, _ = knee_row(run, ids)
        knee_id = None if row is None else ids[row]
    space = run.config.get("space", {}) if isinstance(run.config, dict) else {}
    raw_columns, axes_info = [], []
    for c in cols:
        if c in directions:
            raw = [float(v) for v in values[:, keys.index(c)]]
            axes_info.append(_Axis(c, raw, None, directions[c]))
        else:
            name = c[len("config.") :]
            raw = [_lookup(by_id[i].get("config") or {}, name) for i in ids]
            spec = space.get(name) if isinstance(space, dict) else None
            axes_info.append(_Axis(c, raw, spec if isinstance(spec, dict) else None, None))
        raw_columns.append(raw)
    scaled = np.column_stack([a.scale(r) for a, r in zip(axes_info, raw_columns, strict=True)])
    scaled = scaled.reshape(len(ids), len(cols))
    xs = np.arange(len(cols), dtype=float)
    front_set = set(front_ids)
    is_front = np.array([i in front_set for i in ids], dtype=bool)
    is_knee = np.array([i == knee_id for i in ids], dtype=bool)

    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.transforms import offset_copy

    def lines(mask):
        return [np.column_stack([xs, row]) for row in scaled[mask]]

    with drawing(ax, width="double", height=2.3) as ax:
        ax.add_collection(
            LineCollection(
                lines(~is_front), colors="0.6", linewidths=0.5, alpha=0.35, gid="moorec-trials"
            )
        )
        ax.add_collection(
            LineCollection(
                lines(is_front & ~is_knee),
                colors=style.PALETTE[0],
                linewidths=0.8,
                alpha=0.8,
                gid="moorec-front",
            )
        )
        ax.add_collection(
            LineCollection(
                lines(is_knee), colors=style.PALETTE[1], linewidths=2.0, gid="moorec-knee"
            )
        )
        small = max(6.0, float(style.paper_style()["font.size"]) - 1)
        left_of_axis = offset_copy(ax.transData, fig=root_figure(ax), x=-3.0, units="points")
        for x, a in zip(xs, axes_info, strict=True):
            ax.axvline(x, color="0.2", linewidth=0.6, zorder=0.5)
            bottom, top = a.ends()
            ax.text(x, 1.02, top, ha="center", va="bottom", fontsize=small, clip_on=False)
            ax.text(x, -0.02, bottom, ha="center", va="top", fontsize=small, clip_on=False)
            if a.categories is not None:
                n = len(a.categories)
                for pos, option in enumerate(a.categories):
                    y = 0.5 if n == 1 else pos / (n - 1)
                    ax.text(
                        x,
                        y,
                        style.text(_fmt(option)),
                        ha="right",
                        va="center",
                        fontsize=small,
                        color="0.2",
                        bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3, "alpha": 0.8},
                        zorder=5,
                        transform=left_of_axis,
                    )
        ax.set_xlim(-0.25, len(cols) - 0.75)
        ax.set_ylim(0.0, 1.0)
        ax.set_xticks(xs)
        ax.set_xticklabels(
            [
                style.short_label(c, directions[c], split=split)
                if c in directions
                else style.short_label(c[len("config.") :], log=a.categories is None and a.log)
                for c, a in zip(cols, axes_info, strict=True)
            ],
            rotation=0 if len(cols) <= 8 else 30,
            ha="center" if len(cols) <= 8 else "right",
        )
        ax.tick_params(axis="x", length=0, pad=11)
        ax.set_yticks([])
        ax.grid(False)
        for side in ("left", "right", "top", "bottom"):
            ax.spines[side].set_visible(False)
        handles = [
            Line2D([], [], color="0.6", linewidth=0.8),
            Line2D([], [], color=style.PALETTE[0], linewidth=1.0),
        ]
        texts = [f"trials ({len(ids)})", f"Pareto set ({len(front_ids)})"]
        if knee_id is not None:
            handles.append(Line2D([], [], color=style.PALETTE[1], linewidth=2.0))
            texts.append(f"knee (trial {knee_id})")
        ax.legend(
            handles,
            texts,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.07),
            ncols=len(handles),
            frameon=False,
        )
    ax.moorec_pcp = {
        "columns": cols,
        "n_trials": len(ids),
        "n_front": len(front_ids),
        "n_failed": len(run.failed()),
        "split": split,
        "complete": run.complete,
        "missing": list(run.missing),
        "trials": list(front_ids),
        "knee": knee_id,
    }
    return ax


def _lookup(config: dict, dotted: str):
    value = config
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
