"""Figures of studies: hypervolume against time with bands, attainment differences.

Both read stored runs only (:mod:`moorec.search.study`). The attainment difference is
moocore's (López-Ibáñez, Paquete and Stützle 2010): the fraction of study A's runs whose front
attains a point minus the fraction of study B's, drawn as rectangles coloured from B's colour
(B better) through white to A's (A better).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from moorec.plots import style
from moorec.plots.common import drawing, root_figure

__all__ = ["eaf_difference_figure", "hv_time_figure"]


def hv_time_figure(
    studies: Sequence,
    bounds: Mapping[str, Sequence[float]],
    path: str | os.PathLike | None = None,
    *,
    lines: Mapping[str, float] | None = None,
    ax=None,
):
    """Validation hypervolume against wall-clock: median over each study's runs, min-max band.

    Args:
        studies: :class:`~moorec.search.study.Study` objects (one curve each, its label).
        bounds: the shared normalisation (:func:`~moorec.search.study.shared_bounds`).
        lines: ``{label: hypervolume}`` drawn as horizontal lines (baseline fronts, under the
            same ``bounds``).
        path: write ``path.pdf`` and ``path.png`` (and close the figure); ``None`` returns the
            axes instead.
        ax: axes to draw into.

    Returns:
        The written paths, or the ``Axes`` when ``path`` is ``None``.
    """
    from moorec.search.study import hypervolume_curves

    with drawing(ax, width="single") as ax:
        for i, s in enumerate(studies):
            hv, secs = hypervolume_curves(s, bounds)
            if hv.size == 0:
                continue
            end = float(np.nanmax(secs))
            grid = np.linspace(0.0, end, 200)
            # each run's best-so-far hypervolume at each time of the grid (0 before its first)
            ys = np.array(
                [
                    [
                        max([h for h, t in zip(row_h, row_t, strict=True) if t <= x], default=0.0)
                        for x in grid
                    ]
                    for row_h, row_t in zip(hv, secs, strict=True)
                ]
            )
            colour = style.PALETTE[i % len(style.PALETTE)]
            ax.plot(
                grid,
                np.median(ys, axis=0),
                color=colour,
                linewidth=1.0,
                label=style.text(f"{s.label} ({len(hv)} runs)"),
            )
            ax.fill_between(
                grid, ys.min(axis=0), ys.max(axis=0), color=colour, alpha=0.18, linewidth=0
            )
        for j, (label, value) in enumerate(dict(lines or {}).items()):
            ax.axhline(
                value,
                color="0.3",
                linewidth=0.9,
                linestyle=("--", ":", "-.")[j % 3],
                label=style.text(label),
            )
        ax.set_xlabel("wall-clock time (s)")
        ax.set_ylabel(style.label("validation hypervolume", "max"))
        ax.set_xlim(left=0.0)
        ax.legend(loc="lower right", fontsize="small")
    return _finish(ax, path)


def eaf_difference_figure(
    a, b, path: str | os.PathLike | None = None, *, part: str = "valid", ax=None
):
    """Where in objective space study ``a``'s fronts attain more often than ``b``'s.

    Args:
        a: a :class:`~moorec.search.study.Study` with two objectives.
        b: another, with as many finished runs.
        path: write ``path.pdf`` and ``path.png`` (and close the figure); ``None`` returns the
            axes.
        part: ``"valid"`` or ``"test"`` fronts.
        ax: axes to draw into.

    Returns:
        The written paths, or the ``Axes``.

    Raises:
        ConfigError: the studies do not have two objectives.
        DataError: their run counts differ.
    """
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.patches import Rectangle

    from moorec.errors import ConfigError
    from moorec.search.study import front_values, study_objectives
    from moorec.stats import eaf_difference

    objs = study_objectives(a)
    if len(objs) != 2:
        raise ConfigError(
            f"an attainment difference needs 2 objectives, got {[o.key for o in objs]}"
        )
    fa = [front_values(r, part) for r in a.runs()]
    fb = [front_values(r, part) for r in b.runs()]
    rect = eaf_difference(fa, fb, [o.direction == "max" for o in objs])
    pts = np.vstack(fa + fb)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - pad, hi + pad
    cmap = LinearSegmentedColormap.from_list(
        "moorec-eafdiff", [style.PALETTE[1], "#ffffff", style.PALETTE[0]]
    )
    norm = Normalize(-1.0, 1.0)
    with drawing(ax, width="single") as ax:
        for x0, y0, x1, y1, d in rect:
            if d == 0:
                continue
            xs = np.clip([x0, x1], lo[0], hi[0])
            ys = np.clip([y0, y1], lo[1], hi[1])
            ax.add_patch(
                Rectangle(
                    (xs.min(), ys.min()),
                    abs(xs[1] - xs[0]),
                    abs(ys[1] - ys[0]),
                    facecolor=cmap(norm(d)),
                    edgecolor="none",
                )
            )
        for f, colour, marker in ((fa, style.PALETTE[0], "o"), (fb, style.PALETTE[1], "s")):
            p = np.vstack(f)
            ax.scatter(p[:, 0], p[:, 1], s=4, color=colour, marker=marker, linewidths=0)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel(style.label(objs[0].key, objs[0].direction))
        ax.set_ylabel(style.label(objs[1].key, objs[1].direction))
        from matplotlib.cm import ScalarMappable

        bar = root_figure(ax).colorbar(ScalarMappable(norm, cmap), ax=ax, fraction=0.05)
        bar.set_label(
            style.text(f"attained by {a.label} - by {b.label} (fraction of runs)"), fontsize="small"
        )
    return _finish(ax, path)


def _finish(ax, path):
    if path is None:
        return ax
    import matplotlib.pyplot as plt

    fig = root_figure(ax)
    written = style.save(fig, Path(path))
    plt.close(fig)
    return written
