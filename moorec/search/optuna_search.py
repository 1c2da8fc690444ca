"""Optuna's samplers driving a moorec search: the same trials, store and front, another search.

``algorithm = "optuna-tpe"`` (multi-objective TPE; Ozaki et al., GECCO 2020 / JAIR 2022),
``"optuna-nsga2"`` (Optuna's NSGA-II) or ``"optuna-gp"`` (Optuna's Gaussian-process sampler)
runs a moorec problem under an Optuna study through its ask-and-tell interface. Each candidate
is trained and scored by moorec's own trial runner (the executor, the run store, failures and
replay are the ones a pymoo search uses), so that a comparison of Optuna with moorec's own
algorithms differs in the search alone. Needs the optional extra ``moorec[optuna]``.

A generation is ``pop_size`` trials. NSGA-II asks a whole generation at once (it is a
generational algorithm, and the executor trains the generation together); TPE and GP ask one
trial after the other has been told, as Optuna users run them, so each of their generations
is ``pop_size`` sequential trainings. Failed trials are told as failed (``TrialState.FAIL``);
constraints (``latency_ms <= 2``) reach the samplers as each trial's constraint values
(``Trial.set_constraint`` in Optuna 5, a ``constraints_func`` in Optuna 4). ``optuna-gp`` also
needs PyTorch, in which Optuna's GP sampler is written. Warm-start configs
(:mod:`moorec.search.warm`) are enqueued first (``study.enqueue_trial``).

Resuming is replay, as for pymoo: the study is rebuilt with the run's seed and every config
already in the store is answered from it, so the samplers see the values they saw the first
time and ask the same configs again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from moorec.errors import ConfigError
from moorec.search.space import Choice, Integer, LogReal, Real, Space
from moorec.search.warm import as_value

__all__ = [
    "OPTUNA_ALGORITHMS",
    "distributions",
    "import_optuna",
    "natural",
    "run_optuna",
    "sampler",
]

#: Search algorithms served by Optuna's samplers.
OPTUNA_ALGORITHMS = ("optuna-tpe", "optuna-nsga2", "optuna-gp")


def import_optuna(algorithm: str | None = None):
    """The ``optuna`` module, or a ConfigError saying how to install it.

    Args:
        algorithm: also check what this algorithm needs beyond Optuna (``optuna-gp``:
            PyTorch, in which Optuna's GP sampler is written).
    """
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "the optuna-* algorithms need Optuna: pip install 'moorec[optuna]'"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if algorithm == "optuna-gp":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ConfigError(
                "optuna-gp needs PyTorch (Optuna's GP sampler is written in it): pip install "
                "torch, or use optuna-tpe or optuna-nsga2"
            ) from None
    return optuna


def distributions(space: Space) -> dict[str, Any]:
    """Optuna's distribution of each variable of ``space`` (log scale for ``LogReal``)."""
    optuna = import_optuna()
    d = optuna.distributions
    out = {}
    for name, var in space.variables.items():
        if isinstance(var, LogReal):
            out[name] = d.FloatDistribution(var.low, var.high, log=True)
        elif isinstance(var, Real):
            out[name] = d.FloatDistribution(var.low, var.high)
        elif isinstance(var, Integer):
            out[name] = d.IntDistribution(var.low, var.high)
        elif isinstance(var, Choice):
            out[name] = d.CategoricalDistribution(list(var.options))
        else:  # pragma: no cover - Space accepts these four only
            raise ConfigError(f"variable {name!r} has no Optuna distribution: {var!r}")
    return out


def sampler(algorithm: str, *, seed: int, pop_size: int, constrained: bool):
    """The Optuna sampler of ``algorithm``, seeded.

    Args:
        algorithm: one of :data:`OPTUNA_ALGORITHMS`.
        seed: the run's seed.
        pop_size: the generation size (NSGA-II's population; TPE's and GP's random start-up
            trials, so every sampler starts from one generation of random configs, as moorec's
            algorithms do).
        constrained: pass a ``constraints_func`` reading each trial's stored violations.
    """
    optuna = import_optuna()
    s = optuna.samplers
    # Optuna 5 reads each trial's constraints as it stores them (Trial.set_constraint, called
    # when a trial is told); Optuna 4 through a constraints_func
    cons = _constraints if constrained and not _sets_constraints(optuna) else None
    if algorithm == "optuna-nsga2":
        return s.NSGAIISampler(population_size=pop_size, seed=seed, constraints_func=cons)
    if algorithm == "optuna-tpe":
        return s.TPESampler(
            seed=seed, n_startup_trials=pop_size, multivariate=True, constraints_func=cons
        )
    if algorithm == "optuna-gp":
        try:
            return s.GPSampler(seed=seed, n_startup_trials=pop_size, constraints_func=cons)
        except TypeError:  # an Optuna whose GP sampler takes no constraints
            if constrained:
                raise ConfigError(
                    f"optuna-gp of Optuna {optuna.__version__} takes no constraints; use "
                    "optuna-tpe or optuna-nsga2"
                ) from None
            return s.GPSampler(seed=seed, n_startup_trials=pop_size)
    raise ConfigError(f"{algorithm!r} is not one of {', '.join(OPTUNA_ALGORITHMS)}")


def _constraints(trial) -> Sequence[float]:
    return trial.user_attrs["constraints"]


def _sets_constraints(optuna) -> bool:
    return hasattr(optuna.trial.Trial, "set_constraint")


def run_optuna(
    algorithm: str,
    *,
    space: Space,
    objectives: Sequence,
    constraints: Sequence,
    evaluate: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    on_generation: Callable[[int], None],
    set_generation: Callable[[int], None],
    pop_size: int,
    generations: int,
    seed: int,
    initial: Sequence[Mapping[str, Any]] = (),
):
    """Run ``generations`` generations of ``pop_size`` trials of an Optuna sampler.

    Args:
        algorithm: one of :data:`OPTUNA_ALGORITHMS`.
        space: the search variables.
        objectives: the objectives (their directions become the study's).
        constraints: :class:`~moorec.search.problem.Constraint` s (``g <= 0`` feasible).
        evaluate: the trial runner's: configs -> records (stored ones answered from the store).
        on_generation: called after each generation with its number (the generation log).
        set_generation: called before each generation with its number (trials record it).
        pop_size: trials per generation.
        generations: number of generations.
        seed: the sampler's seed.
        initial: warm-start configs, enqueued first.

    Returns:
        The Optuna study.
    """
    optuna = import_optuna()
    study = optuna.create_study(
        directions=["maximize" if o.direction == "max" else "minimize" for o in objectives],
        sampler=sampler(algorithm, seed=seed, pop_size=pop_size, constrained=bool(constraints)),
    )
    for cfg in initial:
        study.enqueue_trial(dict(cfg), skip_if_exists=False)
    dists = distributions(space)
    batch = pop_size if algorithm == "optuna-nsga2" else 1
    for gen in range(1, generations + 1):
        set_generation(gen)
        for _ in range(pop_size // batch):
            asked = [study.ask(dists) for _ in range(batch)]
            configs = [natural(space, t.params) for t in asked]
            for trial, rec in zip(asked, evaluate(configs), strict=True):
                _tell(study, trial, rec, objectives, constraints, optuna)
        on_generation(gen)
    return study


def natural(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's parameter values (natural values already) as the types a config holds."""
    return {name: as_value(var, params[name]) for name, var in space.variables.items()}


def _tell(study, trial, rec, objectives, constraints, optuna) -> None:
    if rec["status"] != "ok":
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    values = [float(rec["valid"][o.key]) for o in objectives]
    if not all(math.isfinite(v) for v in values):
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return
    if constraints:
        g = [float(c.g(rec["valid"][c.key])) for c in constraints]
        if _sets_constraints(optuna):
            for c, value in zip(constraints, g, strict=True):
                trial.set_constraint(str(c), value)
        else:
            trial.set_user_attr("constraints", g)
    study.tell(trial, values)
