"""What happens at the end of a search: the front on validation, re-scored on test.

The front is the non-dominated set of the archive (every feasible ``ok`` trial) on validation
values. Each member is then re-scored on the test split; the knee is chosen on validation
values. Nothing from the test split reaches the search: test values are computed only here,
after the last generation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from moorec.objectives.base import Objective
from moorec.search.indicators import knee_index, non_dominated
from moorec.search.problem import Constraint
from moorec.search.progress import GenerationLog, archive
from moorec.search.trials import TrialRunner

__all__ = ["final_front"]


def final_front(
    trials: TrialRunner,
    log: GenerationLog,
    objs: Sequence[Objective],
    cons: Sequence[Constraint],
    *,
    manifest: Mapping[str, Any],
    knee: str,
    knee_weights: Sequence[float] | None,
    report: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The front record (``front.json``): members with valid and test values, knee, totals.

    Args:
        trials: the search's trial runner (its executor re-scores the members on test).
        log: the generation log (reference point, last hypervolume).
        objs: the objectives.
        cons: the constraints.
        manifest: the run's manifest (objective and constraint descriptions).
        knee: the knee method.
        knee_weights: the knee's weights, or ``None``.
        report: where to say that a member's test re-scoring failed (``None``: silent).
    """
    store = trials.store
    ok, values, _, _ = archive(store, objs, cons)
    front_idx = non_dominated(values, objs)
    members = [ok[i] for i in front_idx]
    trials.test(members, report)
    knee_pos = knee_index(values[front_idx], objs, knee, knee_weights) if len(members) else None
    all_trials = store.trials()
    return {
        "objectives": manifest["objectives"],
        "constraints": manifest["constraints"],
        "reference_point": log.bounds,
        "members": [
            {
                "trial": m["trial"],
                "config": m["config"],
                "valid": m["valid"],
                "test": m["test"],
                **({"test_error": m["test_error"]} if "test_error" in m else {}),
            }
            for m in members
        ],
        "knee": None if knee_pos is None else members[knee_pos]["trial"],
        "knee_method": knee,
        "hypervolume": log.last_hypervolume(),
        "evaluations": len(all_trials),
        "failures": sum(1 for t in all_trials if t["status"] == "failed"),
        "trained_this_session": trials.trained,
    }
