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
import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from moorec.env import environment
from moorec.errors import ConfigError, UnknownNameError
from moorec.executors.base import Executor, Given, make_executor
from moorec.executors.posthoc import POSTHOC_NAMES, Sweep
from moorec.executors.trial import TrialSpec, searchable_names
from moorec.models.registry import _MODELS
from moorec.objectives.base import Objective, parse_all
from moorec.objectives.evaluate import Evaluator
from moorec.results.run import Run, load
from moorec.results.store import RunStore
from moorec.results.tables import algorithm_name
from moorec.search.algorithms import check_algorithm, make_algorithm, needs_vector
from moorec.search.fidelity import Fidelity, MultiFidelity, rung_sizes
from moorec.search.front import final_front
from moorec.search.indicators import check_knee, check_reference
from moorec.search.optuna_search import OPTUNA_ALGORITHMS, run_optuna
from moorec.search.problem import Constraint, RecProblem, parse_constraints
from moorec.search.progress import GenerationLog, failure_summary, generation_line, pareto_table
from moorec.search.space import Space, check_space_settings
from moorec.search.trials import TrialRunner
from moorec.search.warm import resolve_initial

__all__ = [
    "CheckedSearch",
    "check_search",
    "failure_summary",
    "generation_line",
    "pareto_table",
    "run_manifest",
    "search",
    "searchable_names",
]


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
    sweep: Sweep | None = None
    fidelity: Fidelity | None = None
    initial: tuple[dict[str, Any], ...] = ()
    initial_info: Mapping[str, Any] | None = None


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
    sweep: Mapping[str, Any] | Sweep | None = None,
    save_front: bool = False,
    initial: Sequence[Mapping[str, Any]] | None = None,
    initial_from: str | Path | None = None,
    include_defaults: bool = True,
    fidelity: Mapping[str, Any] | Fidelity | None = None,
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
            searched, a warm-start config outside the space or more of them than ``pop_size``.
        UnknownNameError: for an unknown model, algorithm, executor, knee method, objective,
            ``reference`` key, or a fixed or searched name that is neither a training nor a
            model setting (the message lists the valid ones).
    """
    sweep = _check_sweep(sweep, custom_trainer)
    if not isinstance(save_front, bool):
        raise ConfigError(f"save_front must be true or false, got {save_front!r}")
    if save_front and custom_trainer:
        raise ConfigError("save_front keeps moorec's own trained models; a custom trainer has none")
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
    if not custom_trainer:
        _check_candidates(space, fixed, objs, sweep)
    warm, warm_info = resolve_initial(
        space,
        model=None if custom_trainer else model,
        pop_size=pop_size,
        initial=initial,
        initial_from=initial_from,
        include_defaults=include_defaults,
        fixed=fixed,
    )
    fid = _check_fidelity(fidelity, space, fixed, algorithm)
    return CheckedSearch(
        space, objs, cons, fixed, refs, weights, sweep, fid, tuple(warm), warm_info
    )


def _check_fidelity(fidelity, space: Space, fixed: Mapping[str, Any], algorithm: str):
    if fidelity is None:
        return None
    fid = fidelity if isinstance(fidelity, Fidelity) else Fidelity.from_dict(fidelity)
    if fid.setting in space.names or fid.setting in fixed:
        raise ConfigError(
            f"{fid.setting} is set by the fidelity schedule {fid.to_dict()}; do not also search "
            "or fix it"
        )
    if algorithm in OPTUNA_ALGORITHMS:
        raise ConfigError(
            f"fidelity is not available with {algorithm}: its samplers ask one trial at a time "
            "(or a generation Optuna cannot prune); use nsga2, nsga3, smsemoa or random"
        )
    return fid


def _check_sweep(sweep, custom_trainer: bool) -> Sweep | None:
    if sweep is None or isinstance(sweep, Sweep):
        return sweep
    if custom_trainer:
        raise ConfigError("a sweep re-ranks moorec's own models; a custom trainer cannot take one")
    return Sweep(sweep)


def _check_candidates(space: Space, fixed: Mapping[str, Any], objs, sweep: Sweep | None):
    """Refuse a re-ranking candidate list shorter than the longest cutoff of the objectives."""
    if not (sweep is not None or is_two_level(space, fixed)):
        return
    var = space.variables.get("rerank_candidates")
    values = list(var.extremes()) if var is not None else [fixed.get("rerank_candidates", 100)]
    for n in values:
        if isinstance(n, int) and not isinstance(n, bool):
            check_candidates_cover("rerank_candidates", n, objs)


def check_candidates_cover(name: str, n: int, objs) -> None:
    """Refuse ``n`` re-ranking candidates when an objective's cutoff ``k`` is longer.

    Raises:
        ConfigError: naming ``name``, ``n`` and the longest cutoff.
    """
    ks = [o.k for o in objs if o.k is not None]
    if ks and n < max(ks):
        raise ConfigError(
            f"{name} = {n} is shorter than the cutoff k={max(ks)} of the objectives; use "
            f"{name} >= {max(ks)}"
        )


def is_two_level(space: Space, fixed: Mapping[str, Any]) -> bool:
    """Whether candidates have post-hoc settings (re-ranking) searched or fixed."""
    return bool(set(POSTHOC_NAMES) & (set(space.names) | set(fixed)))


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
    sweep: Mapping[str, Any] | Sweep | None = None,
    save_front: bool = False,
    initial: Sequence[Mapping[str, Any]] | None = None,
    initial_from: str | Path | None = None,
    include_defaults: bool = True,
    fidelity: Mapping[str, Any] | Fidelity | None = None,
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
        algorithm: ``nsga2``, ``nsga3``, ``moead``, ``smsemoa`` or ``random`` (pymoo), or
            ``optuna-tpe``, ``optuna-nsga2``, ``optuna-gp`` (Optuna's samplers, with the
            optional extra ``moorec[optuna]``; :mod:`moorec.search.optuna_search`).
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
        sweep: evaluate every trained candidate also over a grid of re-ranking weights, e.g.
            ``{"rerank_weight": 21}`` (21 weights from 0 to 1) or ``{"rerank_weight": [...],
            "rerank": "dpp"}`` (see :class:`~moorec.executors.posthoc.Sweep`); each grid point
            is a trial with ``"parent"`` (the trial that trained its model).
        save_front: at the end, keep each front member's trained model in the run folder's
            ``models/trial_<N>/`` (:func:`moorec.models.save`; read back with
            :func:`moorec.models.load` or served by ``moorec recommend``). Models in
            ``states/`` are reused; other members are trained again with their config and the
            run's seed. Not part of the run's config: a finished run can be resumed with it to
            save its front afterwards.
        initial: warm start: configs placed in the first generation, each a mapping of some
            or all search variables (the others take the family's default), e.g.
            ``[{"lr": 3e-3, "dim": 64}]``.
        initial_from: warm start from another finished run folder: its front members' values
            of this space's variables join the first generation.
        include_defaults: put the family's default settings (``moorec.models.defaults``, a
            default outside a variable's range moved to its nearest value) first in the first
            generation (default on; off for a custom trainer, which has no family). The
            warm-start configs are part of the run's config (and hash); the rest of the
            first generation is what the algorithm samples without them
            (:mod:`moorec.search.warm`).
        fidelity: multi-fidelity search: a successive-halving schedule over epochs, e.g.
            ``{"epochs": [3, 9, 27], "eta": 3}`` (:class:`~moorec.search.fidelity.Fidelity`):
            every candidate of a generation trains 3 epochs, the best third of them 9, the best
            third of those 27; the algorithm, the archive and the front see full-budget trials
            only, and every rung is stored as a trial with its ``budget``
            (:mod:`moorec.search.fidelity`).

    A search whose space or fixed settings hold re-ranking settings (``rerank``,
    ``rerank_weight``, ``rerank_candidates``, ...) or that has a sweep is *two-level*:
    candidates that differ only in those settings share one trained model, kept in the run
    folder's ``states/`` so that a resumed search and the front's test re-scoring find it
    again without training.

    Returns:
        The stored :class:`~moorec.results.Run`.
    """
    space, objs, cons, fixed, reference, _, sweep, fid, warm, warm_info = check_search(
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
        sweep=sweep,
        save_front=save_front,
        initial=initial,
        initial_from=initial_from,
        include_defaults=include_defaults,
        fidelity=fidelity,
    )
    optuna = algorithm in OPTUNA_ALGORITHMS
    algo = None if optuna else make_algorithm(algorithm, pop_size, len(objs), space, initial=warm)
    keys = list(dict.fromkeys([o.key for o in objs] + [c.key for c in cons]))
    manifest = run_manifest(
        data_info=data_info, model=model, space=space, fixed=fixed, objs=objs, cons=cons,
        algorithm=algorithm, pop_size=pop_size, generations=generations, seed=seed,
        knee=knee, knee_weights=knee_weights, reference=reference, sweep=sweep,
        initial=warm, fidelity=fid,
    )  # fmt: skip
    if warm:
        manifest["warm_start"] = warm_info
    executor_ = make_executor(executor, **dict(executor_options or {}))
    executor_.plan(
        pop_size * generations if fid is None else sum(rung_sizes(pop_size, fid)) * generations
    )
    store = RunStore.create_or_resume(out, manifest)
    two_level = trainer is None and (sweep is not None or is_two_level(space, fixed))
    spec = TrialSpec(
        split, model, tuple(keys), fixed, seed, sweep=sweep, reuse=two_level,
        state_dir=str(store.path / "states") if two_level else None,
        continue_budgets=fid is not None,
    )  # fmt: skip
    trials = TrialRunner(
        store,
        executor_,
        spec if trainer is None else Given(trainer),
        seed=seed,
        constraints=cons,
        on_start=lambda: store.update_manifest(executor=executor_.describe()),
        two_level=two_level,
        fixed=fixed,
    )
    evaluate = trials.evaluate
    if fid is not None:

        def tag(budget: int, rung: int, full: bool) -> None:
            trials.tags = {"budget": budget, "rung": rung, "full_budget": full}

        evaluate = MultiFidelity(fid, trials.evaluate, objs, cons, tag).evaluate
    if not optuna:
        problem = RecProblem(
            space,
            objs,
            cons,
            evaluate,
            mixed=not needs_vector(algorithm),
            failure_constraint=algorithm != "moead",
        )
        if algorithm == "moead":  # no constraints (refused by check_search)
            problem.n_ieq_constr = len(cons)
        algo.setup(problem, termination=("n_gen", generations), seed=seed, verbose=False)
    log = GenerationLog(store, objs, cons, reference)
    report = print if progress else None
    if progress:
        print(
            f"search {algorithm_name(algorithm)} over {model}: {pop_size} x {generations}, "
            f"objectives {[o.key for o in objs]}, constraints {[str(c) for c in cons]} "
            f"-> {store.path}"
        )

    def logged(gen: int) -> None:
        rec = log.record(gen)
        if progress:
            print(generation_line(rec, generations, store.trials()), flush=True)

    def set_generation(gen: int) -> None:
        trials.generation = gen

    try:
        if optuna:
            run_optuna(
                algorithm, space=space, objectives=objs, constraints=cons,
                evaluate=trials.evaluate, on_generation=logged, set_generation=set_generation,
                pop_size=pop_size, generations=generations, seed=seed, initial=warm,
            )  # fmt: skip
        gen = 0
        while algo is not None and algo.has_next():
            gen += 1
            set_generation(gen)
            algo.next()
            logged(gen)
        if progress and trials.resumed:
            print(
                f"resumed: {len(trials.reused)} trials reused, {trials.trained} trained",
                flush=True,
            )
        front = final_front(
            trials, log, objs, cons, manifest=manifest, knee=knee, knee_weights=knee_weights,
            report=report, save_front=save_front,
        )  # fmt: skip
        if trials.started:  # what ran, with its final counts (restarts, candidates per path)
            store.update_manifest(executor=executor_.describe())
    finally:
        trials.close()
    store.write_front(front)
    run = load(store.path)
    if progress:
        print(pareto_table(run))
    return run


def run_manifest(
    *,
    data_info: Mapping[str, Any] | None,
    model: str,
    space: Space | None,
    fixed: Mapping[str, Any],
    objs: Sequence[Objective],
    cons: Sequence[Constraint],
    algorithm: str,
    pop_size: int,
    generations: int,
    seed: int,
    knee: str,
    knee_weights: Sequence[float] | None,
    reference: Mapping[str, Sequence[float]] | None,
    sweep: Sweep | None = None,
    extra: Mapping[str, Any] | None = None,
    initial: Sequence[Mapping[str, Any]] = (),
    fidelity: Fidelity | None = None,
) -> dict[str, Any]:
    """The manifest of a search: its config (and hash), objectives, evaluation and machine.

    The config part decides whether a folder is resumed (same hash) or refused. ``space``
    ``None`` is a run without search variables (a baseline); ``extra`` entries are added to
    the config (e.g. ``{"baseline": {...}}``).
    """
    config = {
        "data": dict(data_info or {}),
        "model": model,
        "space": {} if space is None else space.to_dict(),
        "fixed": dict(fixed),
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
        # only when given, so that the hash of a one-level search stays what it was
        **({"sweep": sweep.to_dict()} if sweep is not None else {}),
        # the warm-start configs that open the first generation, when there are any
        **({"initial": [dict(c) for c in initial]} if initial else {}),
        **({"fidelity": fidelity.to_dict()} if fidelity is not None else {}),
        **dict(extra or {}),
    }
    env = environment()
    return {
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
