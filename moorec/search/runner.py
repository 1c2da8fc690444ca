"""The search loop: pymoo drives, moorec trains and scores, the run store remembers.

Resuming works by replay. The algorithm is rebuilt with the same seed and run from its first
generation; every candidate whose config was already trained is answered from ``trials.jsonl``
instead of being trained again. Because pymoo is deterministic for a seed and the stored values
are the values it saw the first time, the replay walks the same path, so a resumed run ends with
the same trials and front as one that was never interrupted. Every trial trains with the run's
seed, so a config's numbers do not depend on when it was drawn.
"""

from __future__ import annotations

import collections
import hashlib
import inspect
import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from moorec.env import environment
from moorec.errors import ConfigError, UnknownNameError
from moorec.executors.base import Executor, Given, make_executor
from moorec.executors.trial import TrialSpec, searchable_names
from moorec.models.registry import _MODELS
from moorec.objectives.base import Objective, parse_all
from moorec.objectives.evaluate import Evaluator
from moorec.results.run import Run, load
from moorec.results.store import RunStore
from moorec.results.tables import algorithm_name
from moorec.search.algorithms import check_algorithm, make_algorithm, needs_vector
from moorec.search.indicators import (
    bounds_from_values,
    check_knee,
    check_reference,
    hypervolume,
    knee_index,
    non_dominated,
)
from moorec.search.problem import Constraint, RecProblem, parse_constraints
from moorec.search.space import Space, check_space_settings, config_key

__all__ = ["CheckedSearch", "check_search", "search", "searchable_names"]


_DEFAULT_TIE_SEED = inspect.signature(Evaluator).parameters["tie_seed"].default


def _hash(config: Mapping[str, Any]) -> str:
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class CheckedSearch(NamedTuple):
    """What :func:`check_search` hands back: the settings of a search, parsed and checked."""

    space: Space
    objectives: list[Objective]
    constraints: list[Constraint]
    fixed: dict[str, Any]
    reference: dict[str, list[float]]
    knee_weights: list[float] | None


def check_search(
    space: Space | Mapping[str, Mapping[str, Any]],
    objectives: Sequence[str | Objective],
    *,
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
    executor: str | Executor = "sequential",
    executor_options: Mapping[str, Any] | None = None,
    custom_trainer: bool = False,
) -> CheckedSearch:
    """Check every setting of a search before any work; :func:`search` and TOML configs call it.

    Arguments are those of :func:`search` (``space`` may also be a ``[space]`` table);
    ``custom_trainer``: a custom trainer defines its own variables, so names and values of
    ``space`` and ``fixed`` are not checked against the model.

    Raises:
        ConfigError: for a value out of range or malformed (each message names it and the valid
            range): fewer than 2 objectives, ``pop_size < 2``, ``generations < 1``, a negative
            seed, a malformed constraint, a reversed or empty ``reference`` pair, a fixed value
            or a variable's range outside the setting's valid range, a setting both fixed and
            searched.
        UnknownNameError: for an unknown model, algorithm, executor, knee method, objective,
            ``reference`` key, or a fixed or searched name that is neither a training nor a
            model setting (the message lists the valid ones).
    """
    if isinstance(space, Mapping):
        space = Space.from_dict(space)
    if not isinstance(space, Space):
        raise ConfigError(f"space must be a Space or a [space] table, got {space!r}")
    objs = parse_all(objectives)
    if len(objs) < 2:
        raise ConfigError(
            f"a multi-objective search needs at least 2 objectives, got {[o.key for o in objs]}"
        )
    cons = parse_constraints(constraints)
    if isinstance(generations, bool) or not isinstance(generations, int) or generations < 1:
        raise ConfigError(f"generations must be an integer >= 1, got {generations!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    weights = check_knee(knee, knee_weights, objs)
    if model not in _MODELS:
        raise UnknownNameError("model", model, _MODELS)
    if fixed is not None and not isinstance(fixed, Mapping):
        raise ConfigError(f"fixed must map setting names to values, got {fixed!r}")
    fixed = dict(fixed or {})
    if not custom_trainer:
        valid_names = searchable_names(model)
        space.check_names(valid_names)
        for name in fixed:
            if name not in valid_names:
                raise UnknownNameError("fixed setting", name, valid_names)
    overlap = sorted(set(fixed) & set(space.names))
    if overlap:
        raise ConfigError(f"{overlap} are both fixed and searched; keep one")
    if not custom_trainer:
        check_space_settings(model, space, fixed)
    check_algorithm(algorithm, pop_size, space, len(cons))
    refs = check_reference(reference, objs)
    if executor_options is not None and not isinstance(executor_options, Mapping):
        raise ConfigError(f"executor_options must be a table of settings, got {executor_options!r}")
    try:  # building an executor starts nothing; it checks the name and the options
        make_executor(executor, **dict(executor_options or {}))
        if executor == "auto":  # and the settings of each executor auto may pick
            for name, options in dict(executor_options or {}).items():
                if not isinstance(options, Mapping):
                    raise ConfigError(
                        f"auto takes one table of settings per executor; {name} = {options!r}"
                    )
                make_executor(name, **options)
    except (TypeError, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"executor {executor!r}: {err}") from None
    return CheckedSearch(space, objs, cons, fixed, refs, weights)


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

    Every setting is checked first (:func:`check_search`), before anything is trained or
    written. Candidates are trained on ``split.train`` and scored on ``split.valid``; the
    Pareto set is formed on validation values, then each member is retrained and scored on
    ``split.test`` by the same executor (stored beside the validation values; a member whose
    re-scoring fails gets ``test_error`` in the front instead). Nothing from the test split
    reaches the search.

    Args:
        split: a :class:`~moorec.split.Split`.
        space: the search variables (a :class:`~moorec.search.Space`, or a ``[space]`` table
            ``{name: {"type": ..., ...}}``).
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
    space, objs, cons, fixed, reference, _ = check_search(
        space,
        objectives,
        model=model,
        algorithm=algorithm,
        pop_size=pop_size,
        generations=generations,
        seed=seed,
        constraints=constraints,
        fixed=fixed,
        reference=reference,
        knee=knee,
        knee_weights=knee_weights,
        executor=executor,
        executor_options=executor_options,
        custom_trainer=trainer is not None,  # a custom trainer defines its own variables
    )
    algo = make_algorithm(algorithm, pop_size, len(objs), space)
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
        # Every trial's Evaluator uses the default tie order (docs/objectives.md, "Ties").
        "evaluation": {"tie_seed": _DEFAULT_TIE_SEED, "full_ranking": True},
        "packages": env["packages"],
        "device": env["device"],
        "machine": env["machine"],
        "git_commit": env["git_commit"],
        "source_sha256": env["source_sha256"],
    }
    runner = make_executor(executor, **dict(executor_options or {}))
    store = RunStore.create_or_resume(out, manifest)
    done = store.trial_by_key()
    stored_keys, reused = set(done), set()  # trials of an earlier session, those answered
    resumed = bool(stored_keys)
    spec = TrialSpec(split, model, tuple(keys), fixed, seed)
    factory = spec if trainer is None else Given(trainer)
    state = {"generation": 0, "trained": 0, "started": False}

    def evaluate_population(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keys_ = [config_key(cfg) for cfg in configs]
        reused.update(k for k in keys_ if k in stored_keys)
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
    if algorithm == "moead":  # no constraints (refused by check_search)
        problem.n_ieq_constr = len(cons)
    algo.setup(problem, termination=("n_gen", generations), seed=seed, verbose=False)

    stored_gens = {g["generation"]: g for g in store.generations()}
    bounds = store.manifest.get("reference_point")
    t_start = time.perf_counter()
    if progress:
        print(
            f"search {algorithm_name(algorithm)} over {model}: {pop_size} x {generations}, "
            f"objectives {[o.key for o in objs]}, constraints {[str(c) for c in cons]} "
            f"-> {store.path}"
        )
    try:
        gen = 0
        while algo.has_next():
            gen += 1
            state["generation"] = gen
            algo.next()
            # A replayed generation keeps the figures stored when it first ran: the store
            # already holds later generations' trials, so the archive would give final totals.
            if gen not in stored_gens:
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
                print(generation_line(stored_gens[gen], generations, store.trials()), flush=True)
        if progress and resumed:
            print(f"resumed: {len(reused)} trials reused, {state['trained']} trained", flush=True)

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
