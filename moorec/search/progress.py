"""What a search reports as it goes: the archive, one record and one line per generation.

The archive is every feasible ``ok`` trial in the run store; a generation's record holds the
hypervolume of the archive's non-dominated set and the best value of each objective as of that
generation. Records are computed once, when the generation first runs, and stored
(``generations.jsonl``); a replayed generation keeps its stored record.
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from moorec.objectives.base import Objective
from moorec.results.run import Run
from moorec.results.store import RunStore
from moorec.search.indicators import bounds_from_values, hypervolume, non_dominated
from moorec.search.problem import Constraint

__all__ = [
    "GenerationLog",
    "archive",
    "failure_summary",
    "generation_line",
    "pareto_table",
]


def archive(
    store: RunStore,
    objs: Sequence[Objective],
    cons: Sequence[Constraint],
    *,
    every_budget: bool = False,
):
    """Feasible ok trials, their natural objective values ``[n, m]``, failures, total.

    Trials of a multi-fidelity search's lower rungs (``"full_budget": false``) are not in the
    archive unless ``every_budget``; they count in the total.

    Returns:
        ``(ok, values, n_failed, n_total)``: the trials, ``[n, m]`` float64 values in the
        order of ``objs``, the number of failed trials and of all trials.
    """
    trials = store.trials()
    ok = [
        t
        for t in trials
        if t["status"] == "ok"
        and (every_budget or t.get("full_budget", True))
        and all(c.g(t["valid"][c.key]) <= 0 for c in cons)
    ]
    values = np.array([[t["valid"][o.key] for o in objs] for t in ok], dtype=np.float64)
    values = values.reshape(len(ok), len(objs))
    return ok, values, sum(t["status"] == "failed" for t in trials), len(trials)


class GenerationLog:
    """The per-generation records of one search, stored once and replayed as stored.

    Args:
        store: the run store.
        objs: the objectives (natural directions).
        cons: the constraints.
        reference: the ``{key: [ideal, reference]}`` bounds given; the others are derived from
            the first generation's values and kept in the manifest (``reference_point``).
    """

    def __init__(
        self,
        store: RunStore,
        objs: Sequence[Objective],
        cons: Sequence[Constraint],
        reference: Mapping[str, Sequence[float]] | None,
    ):
        self.store = store
        self.objs = list(objs)
        self.cons = list(cons)
        self.reference = reference
        self.records = {g["generation"]: g for g in store.generations()}
        self.bounds = store.manifest.get("reference_point")
        self.t_start = time.perf_counter()

    def record(self, gen: int) -> dict[str, Any]:
        """The record of generation ``gen``: computed and stored now unless stored already.

        A replayed generation keeps the figures stored when it first ran: the store already
        holds later generations' trials, so the archive would give final totals.
        """
        if gen in self.records:
            return self.records[gen]
        _, values, n_failed, n_total = archive(self.store, self.objs, self.cons)
        if self.bounds is None:
            self.bounds = bounds_from_values(self.objs, values, self.reference)
            self.store.update_manifest(reference_point=self.bounds)
        hv = (
            hypervolume(values[non_dominated(values, self.objs)], self.objs, self.bounds)
            if len(values)
            else 0.0
        )
        best = {
            o.key: (
                float(values[:, j].max() if o.direction == "max" else values[:, j].min())
                if len(values)
                else None
            )
            for j, o in enumerate(self.objs)
        }
        new = sum(1 for t in self.store.trials() if t["generation"] == gen)
        rec = {
            "generation": gen,
            "evaluations": n_total,
            "new_evaluations": new,
            "failures": n_failed,
            "hypervolume": hv,
            "best": best,
            "seconds": time.perf_counter() - self.t_start,
        }
        self.store.append_generation(rec)
        self.records[gen] = rec
        return rec

    def last_hypervolume(self) -> float:
        """The hypervolume of the last generation (0 when none ran)."""
        return self.records[max(self.records)]["hypervolume"] if self.records else 0.0


def failure_summary(trials: Sequence[Mapping[str, Any]]) -> str:
    """The most common reason among failed ``trials``, with its count.

    Reasons are grouped without a trailing parenthesis (the settings of one trial, as in
    ``"loss became nan at epoch 3 (lr=0.01, ...)"``).
    """
    reasons = collections.Counter(
        re.sub(r"\s*\([^()]*\)$", "", str(t.get("reason") or "unknown reason")) for t in trials
    )
    if not reasons:
        return "no failures"
    reason, count = reasons.most_common(1)[0]
    others = len(trials) - count
    return f"{reason} ({count}x" + (f"; {others} with other reasons)" if others else ")")


def generation_line(
    rec: Mapping[str, Any], generations: int, trials: Sequence[Mapping[str, Any]]
) -> str:
    """The progress line of one generation from its stored record.

    Args:
        rec: the generation's record (``generations.jsonl``): cumulative evaluations and
            failures, hypervolume and best value per objective as of that generation.
        generations: the run's number of generations.
        trials: the run's trials; those first trained in this generation name the most common
            failure reason when all of them failed.
    """
    gen = rec["generation"]
    own = [t for t in trials if t["generation"] == gen]
    failed = [t for t in own if t["status"] == "failed"]
    best = ", ".join(f"{k} {v:.4g}" for k, v in rec["best"].items() if v is not None)
    line = (
        f"gen {gen:3d}/{generations}: {rec['evaluations']:4d} evaluations, "
        f"{rec['failures']} failed, hypervolume {rec['hypervolume']:.4f}"
    )
    if own and len(failed) == len(own):
        line += f"; all {len(own)} trials failed: {failure_summary(failed)}"
        return line + (f"; best so far {best}" if best else "")
    return line + (f"; best {best}" if best else "; no feasible trial yet")


def pareto_table(run: Run) -> str:
    """The Pareto set as a text table: valid and test objectives and the decision variables."""
    members = run.pareto_front()
    if not members:
        return "no feasible trial: the Pareto set is empty"
    keys = [o["key"] for o in run.objectives]
    knee = run.knee()["trial"] if run.knee() else None
    names = list(dict.fromkeys(n for m in members for n in m["config"]))
    head = ["trial"] + [f"{k} (valid)" for k in keys] + [f"{k} (test)" for k in keys] + names
    rows = []
    for m in sorted(members, key=lambda m: m["valid"][keys[0]]):
        mark = "*" if m["trial"] == knee else ""
        cells = [f"{m['trial']}{mark}"]
        cells += [f"{m['valid'][k]:.4g}" for k in keys]
        cells += [f"{(m.get('test') or {}).get(k, float('nan')):.4g}" for k in keys]
        cells += [_cell(m["config"].get(n, "")) for n in names]
        rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return f"Pareto set: {len(members)} of {len(run.trials())} trials (* knee point)\n" + "\n".join(
        lines
    )


def _cell(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
