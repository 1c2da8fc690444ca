"""The search loop: pymoo drives, moorec trains and scores, the run store remembers.

Resuming works by replay. The algorithm is rebuilt with the same seed and run from its first
generation; every candidate whose config was already trained is answered from ``trials.jsonl``
instead of being trained again. Because pymoo is deterministic for a seed and the stored values
are the values it saw the first time, the replay walks the same path, so a resumed run ends with
the same trials and front as one that was never interrupted. Every trial trains with the run's
seed, so a config's numbers do not depend on when it was drawn.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moorec.env import environment
from moorec.errors import ConfigError, UnknownNameError
from moorec.models.registry import _MODELS, create
from moorec.objectives.base import Objective, parse_all
from moorec.objectives.evaluate import Evaluator
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
from moorec.train.loop import TrainConfig, fit

__all__ = ["search", "searchable_names"]

# Every candidate trains with the run's seed; the loss weights are searched by their own names.
_TRAIN_FIELDS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("loss_weights", "seed")
)


def searchable_names(model: str) -> list[str]:
    """Names a search variable (or a fixed setting) may take for ``model``."""
    factory = _MODELS[model]
    init = factory.__init__ if inspect.isclass(factory) else factory
    params = [
        name
        for name, p in inspect.signature(init).parameters.items()
        if name not in ("n_users", "n_items", "rngs", "self", "train")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return sorted(set(_TRAIN_FIELDS) | set(getattr(factory, "hparam_names", ())) | set(params))


def _split_settings(model: str, settings: Mapping[str, Any]):
    hp = set(getattr(_MODELS[model], "hparam_names", ())) - {"l2"}
    train = {k: v for k, v in settings.items() if k in _TRAIN_FIELDS}
    weights = {k: float(v) for k, v in settings.items() if k in hp}
    model_kw = {k: v for k, v in settings.items() if k not in train and k not in weights}
    return train, weights, model_kw


class _Trainer:
    """Trains and scores one candidate; evaluators are built once per search."""

    def __init__(self, split, model: str, keys: list[str], fixed: Mapping[str, Any], seed: int):
        self.split, self.model, self.fixed, self.seed = split, model, dict(fixed), seed
        self.keys = keys
        self.valid = Evaluator(split, "valid", keys)
        self._test: Evaluator | None = None
        self._stop: dict[str, Any] = {}

    def _fit(self, config: Mapping[str, Any]):
        train_kw, weights, model_kw = _split_settings(self.model, {**self.fixed, **config})
        cfg = TrainConfig(**{**train_kw, "seed": self.seed}, loss_weights=weights)
        if cfg.valid_metric not in self._stop:
            ev = Evaluator(self.split, "valid", [cfg.valid_metric])
            self._stop[cfg.valid_metric] = (
                ev.metric(cfg.valid_metric),
                ev.objectives[0].direction == "max",
            )
        validate, maximize = self._stop[cfg.valid_metric]
        m = create(
            self.model,
            self.split.n_users,
            self.split.n_items,
            seed=self.seed,
            train=self.split.train,
            **model_kw,
        )
        return fit(m, self.split.train, cfg, validate=validate, maximize=maximize)

    def __call__(self, config: Mapping[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        try:
            result = self._fit(config)
            t1 = time.perf_counter()
            valid = self.valid(result.model)
            bad = [k for k, v in valid.items() if not math.isfinite(v)]
            if bad:
                raise FloatingPointError(f"non-finite objectives {bad}")
            return {
                "status": "ok",
                "reason": None,
                "valid": valid,
                "train_seconds": t1 - t0,
                "eval_seconds": time.perf_counter() - t1,
                "best_epoch": result.best_epoch,
                "epochs_run": len(result.history),
            }
        except Exception as err:
            return {
                "status": "failed",
                "reason": f"{type(err).__name__}: {err}",
                "valid": None,
                "train_seconds": time.perf_counter() - t0,
                "eval_seconds": 0.0,
                "traceback": traceback.format_exc(limit=3),
            }

    def test(self, config: Mapping[str, Any]) -> dict[str, float]:
        """Retrain (same config and seed: the same model) and score on the test split."""
        if self._test is None:
            self._test = Evaluator(self.split, "test", self.keys)
        return self._test(self._fit(config).model)


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
) -> Run:
    """Search ``space`` for the best trade-offs between ``objectives`` and store the run.

    Candidates are trained on ``split.train`` and scored on ``split.valid``; the Pareto set is
    formed on validation values, then each member is re-scored on ``split.test`` (stored beside
    the validation values). Nothing from the test split reaches the search.

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
    }
    store = RunStore.create_or_resume(out, manifest)
    done = store.trial_by_key()
    run_trial = trainer or _Trainer(split, model, keys, fixed, seed)
    state = {"generation": 0, "trained": 0}

    def evaluate_population(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records = []
        for index, cfg in enumerate(configs):
            key = config_key(cfg)
            if key in done:
                records.append(done[key])
                continue
            rec = run_trial(cfg)
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
                **rec,
            }
            store.append_trial(rec)
            done[key] = rec
            state["trained"] += 1
            records.append(rec)
        return records

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
    gen = 0
    while algo.has_next():
        gen += 1
        state["generation"] = gen
        algo.next()
        ok, values, n_failed, n_total = _archive(store, objs, cons)
        if bounds is None:
            bounds = bounds_from_values(objs, values, reference)
            store.update_manifest(reference_point=bounds)
        hv = hypervolume(values[non_dominated(values, objs)], objs, bounds) if len(values) else 0.0
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
    for m in members:
        if m.get("test") is None:
            m["test"] = run_trial.test(m["config"])
            store.append_test(m["trial"], m["test"])
    knee_pos = knee_index(values[front_idx], objs, knee, knee_weights) if len(members) else None
    front = {
        "objectives": manifest["objectives"],
        "constraints": manifest["constraints"],
        "reference_point": bounds,
        "members": [
            {"trial": m["trial"], "config": m["config"], "valid": m["valid"], "test": m["test"]}
            for m in members
        ],
        "knee": None if knee_pos is None else members[knee_pos]["trial"],
        "knee_method": knee,
        "hypervolume": stored_gens[max(stored_gens)]["hypervolume"] if stored_gens else 0.0,
        "evaluations": len(store.trials()),
        "failures": sum(1 for t in store.trials() if t["status"] == "failed"),
        "trained_this_session": state["trained"],
    }
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
