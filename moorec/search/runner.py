"""The search loop: pymoo drives, moorec trains and scores, the run store remembers.

Resuming works by replay. The algorithm is rebuilt with the same seed and run from its first
generation; every candidate whose config was already trained is answered from ``trials.jsonl``
instead of being trained again. Because pymoo is deterministic for a seed and the stored values
are the values it saw the first time, the replay walks the same path, so a resumed run ends with
the same trials and front as one that was never interrupted. Every trial trains with the run's
seed, so a config's numbers do not depend on when it was drawn.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moorec.env import environment
from moorec.errors import ConfigError, UnknownNameError
from moorec.executors.base import Executor, Given, make_executor
from moorec.executors.trial import TrialSpec, searchable_names
from moorec.models.registry import _MODELS
from moorec.objectives.base import Objective, parse_all
from moorec.results.run import Run, load
from moorec.results.store import RunStore
from moorec.search.algorithms import make_algorithm, needs_vector
from moorec.search.indicators import (
    KNEE_METHODS,
    bounds_from_values,
    hypervolume,
    knee_index,
    non_dominated,
)
from moorec.search.problem import Constraint, RecProblem, parse_constraint
from moorec.search.space import Space, config_key

__all__ = ["search", "searchable_names"]


def _hash(config: Mapping[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def search(
    split,
    space: Space,
    objectives: Sequence[str | Objective],
    *,
    out: str | Path,
    model: str = "bpr",
    algorithm: str = "nsga2",
    pop_size: int = 16,
    generations: int = 8,
    seed: int = 0,
    constraints: Sequence[str | Constraint] = (),
    fixed: Mapping[str, Any] | None = None,
    reference: Mapping[str, Sequence[float]] | None = None,
    knee: str = "asf",
    knee_weights: Sequence[float] | None = None,
    data_info: Mapping[str, Any] | None = None,
    progress: bool = True,
    trainer=None,
    executor: str | Executor = "sequential",
    executor_options: Mapping[str, Any] | None = None,
) -> Run:
    """Search ``space`` for the best trade-offs between ``objectives`` and store the run.

    Candidates are trained on ``split.train`` and scored on ``split.valid``; the Pareto set is
    formed on validation values, then each member is retrained and scored on ``split.test``
    by the same executor (stored beside the validation values; a member whose re-scoring fails
    gets ``test_error`` in the front instead). Nothing from the test split reaches the search.

    Args:
        split: a :class:`~moorec.split.Split`.
        space: the search variables.
        objectives: at least two objective keys or instances (natural directions).
        out: run folder; an existing folder of the same config is resumed, one of another
            config is refused.
        model: registered model name.
        algorithm: ``nsga2``, ``nsga3``, ``moead``, ``smsemoa`` or ``random``.
        pop_size: candidates per generation (``>= 2``).
        generations: number of generations (``>= 1``).
        seed: seeds the algorithm and every trial's training.
        constraints: e.g. ``["latency_ms <= 2.0", "recall@20 >= 0.2"]``.
        fixed: settings every candidate shares (``epochs``, ``patience``, ``dim``, ...).
        reference: ``{key: [ideal, reference]}`` hypervolume bounds; others are derived.
        knee: ``asf`` or ``pseudo-weights``.
        knee_weights: weights of the knee choice (equal by default).
        data_info: description of the data and split recorded in the manifest.
        progress: print one line per generation and the final Pareto table.
        trainer: replaces the training of one candidate: a callable ``config -> record``
            with a ``test(config) -> {key: value}`` method (used by tests).
        executor: how each generation's candidates are trained: ``sequential`` (here, one
            after another), ``vectorized`` (one jitted, vmapped program per shape bucket; for
            accelerators), ``processes`` (warm worker processes, one per core), ``dask`` (a
            Dask cluster) or ``auto`` (picks for the machine); or an
            :class:`~moorec.executors.Executor`. Every executor gives the same records; the
            one that ran is recorded in the manifest (``executor``) and in each trial.
        executor_options: settings of the executor (see :func:`moorec.executors.make_executor`).

    Returns:
        The stored :class:`~moorec.results.Run`.
    """
    objs = parse_all(objectives)
    if len(objs) < 2:
        raise ConfigError(
            f"a multi-objective search needs at least 2 objectives, got {[o.key for o in objs]}"
        )
    cons = [parse_constraint(c) for c in constraints]
    if isinstance(generations, bool) or not isinstance(generations, int) or generations < 1:
        raise ConfigError(f"generations must be an integer >= 1, got {generations!r}")
    if knee not in KNEE_METHODS:
        raise UnknownNameError("knee method", knee, KNEE_METHODS)
    if model not in _MODELS:
        raise UnknownNameError("model", model, _MODELS)
    fixed = dict(fixed or {})
    if trainer is None:  # a custom trainer defines its own variables
        valid_names = searchable_names(model)
        space.check_names(valid_names)
        for name in fixed:
            if name not in valid_names:
                raise UnknownNameError("fixed setting", name, valid_names)
    overlap = sorted(set(fixed) & set(space.names))
    if overlap:
        raise ConfigError(f"{overlap} are both fixed and searched; keep one")
    algo = make_algorithm(algorithm, pop_size, len(objs), space)  # validates pop_size too
    keys = list(dict.fromkeys([o.key for o in objs] + [c.key for c in cons]))

    config = {
        "data": dict(data_info or {}),
        "model": model,
        "space": space.to_dict(),
        "fixed": fixed,
        "objectives": [o.key for o in objs],
        "constraints": [str(c) for c in cons],
        "search": {
            "algorithm": algorithm,
            "pop_size": pop_size,
            "generations": generations,
            "seed": seed,
            "knee": knee,
            "knee_weights": knee_weights,
        },
        "reference": {k: list(v) for k, v in (reference or {}).items()},
    }
    env = environment()
    manifest = {
        "config": config,
        "config_hash": _hash(config),
        "objectives": [{"key": o.key, "direction": o.direction} for o in objs],
        "constraints": [str(c) for c in cons],
        "seed": seed,
        "packages": env["packages"],
        "device": env["device"],
        "machine": env["machine"],
        "git_commit": env["git_commit"],
        "source_sha256": env["source_sha256"],
    }
    runner = make_executor(executor, **dict(executor_options or {}))
    store = RunStore.create_or_resume(out, manifest)
    done = store.trial_by_key()
    spec = TrialSpec(split, model, tuple(keys), fixed, seed)
    factory = spec if trainer is None else Given(trainer)
    state = {"generation": 0, "trained": 0, "started": False}

    def evaluate_population(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keys_ = [config_key(cfg) for cfg in configs]
        todo: dict[str, int] = {}  # key -> index of its first occurrence
        for index, key in enumerate(keys_):
            if key not in done and key not in todo:
                todo[key] = index
        if todo:
            start_runner()
            order = list(todo.values())
            finished: dict[int, dict[str, Any]] = {}
            cursor = 0
            # Records are stored in population order as soon as every earlier one is in.
            for j, rec in runner.run([configs[i] for i in order]):
                finished[j] = rec
                while cursor < len(order) and cursor in finished:
                    index = order[cursor]
                    _store(finished.pop(cursor), index, keys_[index], configs[index])
                    cursor += 1
        return [done[key] for key in keys_]

    def start_runner():
        if not state["started"]:
            runner.start(factory)
            store.update_manifest(executor=runner.describe())
            state["started"] = True

    def _store(rec, index, key, cfg):
        if rec["status"] == "ok":
            rec["feasible"] = all(c.g(rec["valid"][c.key]) <= 0 for c in cons)
        rec = {
            "type": "trial",
            "trial": store.next_trial_id(),
            "generation": state["generation"],
            "index": index,
            "key": key,
            "config": cfg,
            "seed": seed,
            "executor": getattr(runner, "choice", runner.name),
            **rec,
        }
        store.append_trial(rec)
        done[key] = rec
        state["trained"] += 1

    problem = RecProblem(
        space,
        objs,
        cons,
        evaluate_population,
        mixed=not needs_vector(algorithm),
        failure_constraint=algorithm != "moead",
    )
    if algorithm == "moead":
        problem.n_ieq_constr = len(cons)
        if cons:
            raise ConfigError("moead does not support constraints in pymoo; use nsga2")
    algo.setup(problem, termination=("n_gen", generations), seed=seed, verbose=False)

    stored_gens = {g["generation"]: g for g in store.generations()}
    bounds = store.manifest.get("reference_point")
    t_start = time.perf_counter()
    if progress:
        print(
            f"search {algorithm} over {model}: {pop_size} x {generations}, objectives "
            f"{[o.key for o in objs]}, constraints {[str(c) for c in cons]} -> {store.path}"
        )
    try:
        gen = 0
        while algo.has_next():
            gen += 1
            state["generation"] = gen
            algo.next()
            ok, values, n_failed, n_total = _archive(store, objs, cons)
            if bounds is None:
                bounds = bounds_from_values(objs, values, reference)
                store.update_manifest(reference_point=bounds)
            hv = (
                hypervolume(values[non_dominated(values, objs)], objs, bounds)
                if len(values)
                else 0.0
            )
            best = {
                o.key: (
                    float(values[:, j].max() if o.direction == "max" else values[:, j].min())
                    if len(values)
                    else None
                )
                for j, o in enumerate(objs)
            }
            if gen not in stored_gens:
                new = sum(1 for t in store.trials() if t["generation"] == gen)
                rec = {
                    "generation": gen,
                    "evaluations": n_total,
                    "new_evaluations": new,
                    "failures": n_failed,
                    "hypervolume": hv,
                    "best": best,
                    "seconds": time.perf_counter() - t_start,
                }
                store.append_generation(rec)
                stored_gens[gen] = rec
            if progress:
                best_txt = ", ".join(f"{k} {v:.4g}" for k, v in best.items() if v is not None)
                print(
                    f"gen {gen:3d}/{generations}: {n_total:4d} evaluations, {n_failed} failed, "
                    f"hypervolume {hv:.4f}; best {best_txt}",
                    flush=True,
                )

        # The front: non-dominated feasible trials on validation, each re-scored on test.
        ok, values, _, _ = _archive(store, objs, cons)
        front_idx = non_dominated(values, objs)
        members = [ok[i] for i in front_idx]
        # Re-scored on test by the same executor (retrained with the same config and seed);
        # a member whose re-scoring fails keeps no test values and the reason, and a resumed
        # run tries it again.
        untested = [m for m in members if m.get("test") is None]
        if untested:
            start_runner()
            for j, rec in runner.run([m["config"] for m in untested], part="test"):
                m = untested[j]
                if rec["status"] == "ok":
                    m["test"] = rec["test"]
                    store.append_test(m["trial"], m["test"])
                else:
                    m["test_error"] = rec["reason"]
                    if progress:
                        print(f"trial {m['trial']}: test re-scoring failed: {rec['reason']}")
        knee_pos = knee_index(values[front_idx], objs, knee, knee_weights) if len(members) else None
        front = {
            "objectives": manifest["objectives"],
            "constraints": manifest["constraints"],
            "reference_point": bounds,
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
            "hypervolume": stored_gens[max(stored_gens)]["hypervolume"] if stored_gens else 0.0,
            "evaluations": len(store.trials()),
            "failures": sum(1 for t in store.trials() if t["status"] == "failed"),
            "trained_this_session": state["trained"],
        }
        if state["started"]:  # what ran, with its final counts (restarts, candidates per path)
            store.update_manifest(executor=runner.describe())
    finally:
        runner.close()
    store.write_front(front)
    run = load(store.path)
    if progress:
        print(pareto_table(run))
    return run


def _archive(store: RunStore, objs: list[Objective], cons: list[Constraint]):
    """Feasible ok trials, their natural objective values ``[n, m]``, failures, total."""
    trials = store.trials()
    ok = [
        t for t in trials if t["status"] == "ok" and all(c.g(t["valid"][c.key]) <= 0 for c in cons)
    ]
    values = np.array([[t["valid"][o.key] for o in objs] for t in ok], dtype=np.float64)
    values = values.reshape(len(ok), len(objs))
    return ok, values, sum(t["status"] == "failed" for t in trials), len(trials)


def pareto_table(run: Run) -> str:
    """The Pareto set as a text table: valid and test objectives and the decision variables."""
    members = run.pareto_front()
    if not members:
        return "no feasible trial: the Pareto set is empty"
    keys = [o["key"] for o in run.objectives]
    knee = run.knee()["trial"] if run.knee() else None
    names = list(members[0]["config"])
    head = ["trial"] + [f"{k} (valid)" for k in keys] + [f"{k} (test)" for k in keys] + names
    rows = []
    for m in sorted(members, key=lambda m: m["valid"][keys[0]]):
        mark = "*" if m["trial"] == knee else ""
        cells = [f"{m['trial']}{mark}"]
        cells += [f"{m['valid'][k]:.4g}" for k in keys]
        cells += [f"{(m.get('test') or {}).get(k, float('nan')):.4g}" for k in keys]
        cells += [
            f"{m['config'][n]:.3g}" if isinstance(m["config"][n], float) else str(m["config"][n])
            for n in names
        ]
        rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return f"Pareto set: {len(members)} of {len(run.trials())} trials (* knee point)\n" + "\n".join(
        lines
    )
