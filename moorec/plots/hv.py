"""Hypervolume against generation or wall-clock time, from ``generations.jsonl``.

The hypervolume is the one the search recorded after each generation: pymoo's ``HV`` of the
non-dominated feasible trials so far, on objectives normalised by the run's reference point
(``docs/search.md``). Runs are comparable only when their reference points are equal.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np

from moorec.errors import check_choice
from moorec.plots import style
from moorec.plots.common import as_runs, drawing, run_labels, warn_incomplete
from moorec.results.run import Run, wall_seconds

__all__ = ["hypervolume", "wall_seconds"]

X_AXES = ("generation", "time")


def hypervolume(
    runs: Run | str | os.PathLike | Sequence[Run | str | os.PathLike],
    *,
    x: str = "generation",
    labels: Sequence[str] | None = None,
    ax=None,
):
    """Hypervolume of the front found so far, per generation or against wall-clock seconds.

    Runs given the same label share a colour and one legend entry (e.g. the seeds of one
    algorithm); by default each run is labelled with its algorithm and seed.

    After the call ``ax.moorec_hypervolume`` is a list with one dict per run: ``{"label",
    "n_generations", "final", "seconds"}``.

    Args:
        runs: one run or several (runs or run folders).
        x: ``"generation"`` or ``"time"`` (seconds since the search started, from the
            ``"seconds"`` of ``generations.jsonl``; see :func:`wall_seconds`).
        labels: one legend label per run.
        ax: axes to draw into; a new single-column figure by default.

    Returns:
        The ``Axes``.

    Raises:
        UnknownNameError: ``x`` is not ``"generation"`` or ``"time"``.
        ConfigError: no runs, or a label count that does not match.

    Warns:
        RunIncompleteWarning: a run folder lacks files.
        UserWarning: the runs' hypervolume reference points differ, so their values are not
            comparable.
    """
    check_choice("x", x, X_AXES)
    runs = as_runs(runs, "hypervolume")
    labels = run_labels(runs, labels)
    for r in runs:
        warn_incomplete(r)
    refs = {repr(r.reference_point) for r in runs}
    if len(refs) > 1:
        warnings.warn(
            "the runs' hypervolume reference points differ, so their hypervolumes are not "
            f"comparable: {sorted(refs)}",
            UserWarning,
            stacklevel=2,
        )
    order = list(dict.fromkeys(labels))
    from matplotlib.ticker import MaxNLocator

    info = []
    with drawing(ax) as ax:
        shown: set[str] = set()
        for r, lab in zip(runs, labels, strict=True):
            i = order.index(lab)
            history = r.hypervolume_history()
            gens = r.generations()
            hv = np.array([h for _, h in history], dtype=float)
            if x == "generation":
                xs = np.array([g for g, _ in history], dtype=float)
            else:
                xs = wall_seconds(gens)
            ax.plot(
                xs,
                hv,
                color=style.PALETTE[i % len(style.PALETTE)],
                marker=style.MARKERS[i % len(style.MARKERS)],
                markersize=2.5,
                linewidth=1.0,
                alpha=0.9,
                label=style.text(lab) if lab not in shown else "_nolegend_",
                gid="moorec-hypervolume",
            )
            shown.add(lab)
            seconds = wall_seconds(gens)
            seconds = seconds[np.isfinite(seconds)]
            info.append(
                {
                    "label": lab,
                    "n_generations": len(history),
                    "final": float(hv[-1]) if len(hv) else None,
                    "seconds": float(seconds.max()) if len(seconds) else None,
                }
            )
        ax.set_xlabel("generation" if x == "generation" else "wall-clock time (s)")
        ax.set_ylabel(style.label("hypervolume", "max"))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        if x == "generation":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        else:
            ax.set_xlim(left=0.0)
        if len(order) <= 3:
            ax.legend(loc="best")
        else:  # above the axes, where it hides no curve
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    ax.moorec_hypervolume = info
    return ax
