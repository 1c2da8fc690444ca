"""What happens at the end of a search: the front on validation, re-scored on test.

The front is the non-dominated set of the archive (every feasible ``ok`` trial) on validation
values. Each member is then re-scored on the test split; the knee is chosen on validation
values. Nothing from the test split reaches the search: test values are computed only here,
after the last generation.

With ``save_front``, each member's trained model is then kept in the run folder
(``models/trial_<N>/``, see :func:`save_members`), so that it can be served without training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from moorec.objectives.base import Objective
from moorec.results.run import MODELS
from moorec.search.indicators import knee_index, non_dominated
from moorec.search.problem import Constraint
from moorec.search.progress import GenerationLog, archive
from moorec.search.trials import TrialRunner

__all__ = ["final_front", "save_members"]


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
    save_front: bool = False,
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
        save_front: keep each member's trained model in the run folder's ``models/``
            (:func:`save_members`); a member then records ``"model"``, the folder relative to
            the run folder (or ``"model_error"`` when its model could not be saved).
    """
    store = trials.store
    fidelity = manifest.get("config", {}).get("fidelity") or {}
    every_budget = fidelity.get("front", "full") == "all"  # else full-budget trials only
    ok, values, _, _ = archive(store, objs, cons, every_budget=every_budget)
    front_idx = non_dominated(values, objs)
    members = [ok[i] for i in front_idx]
    trials.test(members, report)
    knee_pos = knee_index(values[front_idx], objs, knee, knee_weights) if len(members) else None
    saved = save_members(trials, members, report) if save_front else {}
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
                **saved.get(m["trial"], {}),
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


def save_members(
    trials: TrialRunner,
    members: Sequence[Mapping[str, Any]],
    report: Callable[[str], None] | None = None,
) -> dict[int, dict[str, str]]:
    """Save each front member's trained model in ``<run>/models/trial_<N>/``.

    A member whose model is in the run's state cache (``states/``, a two-level search) is
    read from there; any other is trained again in this process with its config and the run's
    seed, which gives the model that was scored (training is deterministic for a seed; under
    the ``vectorized`` executor the retrained model may differ from the scored one in the last
    float bits, see ``docs/executors.md``). Members sharing a training part are trained once.
    A folder already holding a saved model of the same training data (a resumed search) is
    kept as it is.

    Args:
        trials: the search's trial runner (its factory, a
            :class:`~moorec.executors.TrialSpec`, says how members are trained).
        members: the front's members (trial records).
        report: where to say what was saved, or that a member could not be (``None``: silent).

    Returns:
        ``{trial: {"model": "models/trial_<N>"}}``, or ``{trial: {"model_error": reason}}``
        for a member whose model could not be trained or saved.
    """
    from moorec.executors.trial import TrialSpec
    from moorec.models.persist import save

    spec = trials.factory
    if not isinstance(spec, TrialSpec):  # check_search refuses save_front with a custom trainer
        raise TypeError("save_front needs moorec's own trainer (a TrialSpec)")
    folder = Path(trials.store.path) / MODELS
    fingerprint = spec.split.train.fingerprint()
    trainer = None
    out: dict[int, dict[str, str]] = {}
    for m in sorted(members, key=lambda m: m["trial"]):
        name = f"trial_{m['trial']}"
        target = folder / name
        try:
            if _saved_for(target, fingerprint):
                out[m["trial"]] = {"model": f"{MODELS}/{name}"}
                continue
            if trainer is None:
                trainer = spec.build()
            _, model_kw = spec.settings(m["config"])
            model, summary, _ = trainer.trained(m["config"])
            info = {
                "trial": m["trial"],
                "config": m["config"],
                "fixed": dict(spec.fixed),
                "seed": spec.seed,
                "fit": {k: summary[k] for k in ("best_epoch", "epochs_run")},
            }
            save(model, target, settings=model_kw, data=spec.split.train, family=spec.model,
                 info=info)  # fmt: skip
        except Exception as err:  # a member that cannot be saved does not lose the front
            out[m["trial"]] = {"model_error": f"{type(err).__name__}: {err}"}
            if report is not None:
                report(f"trial {m['trial']}: model not saved: {err}")
            continue
        out[m["trial"]] = {"model": f"{MODELS}/{name}"}
    if report is not None and out:
        kept = sum("model" in v for v in out.values())
        report(f"saved {kept} front models in {folder}")
    return out


def _saved_for(folder: Path, fingerprint: str) -> bool:
    """Whether ``folder`` holds a readable saved model of the data ``fingerprint`` names."""
    from moorec.errors import SavedModelError
    from moorec.models.persist import describe

    if not (folder / "model.json").is_file():
        return False
    try:
        desc = describe(folder)
    except SavedModelError:  # damaged: saved again
        return False
    return (desc.get("data") or {}).get("fingerprint") == fingerprint
