"""pymoo algorithms by name, set up for moorec's mixed-variable search spaces."""

from __future__ import annotations

import numpy as np
from pymoo.algorithms.moo.moead import MOEAD
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.algorithms.moo.nsga3 import NSGA3
from pymoo.algorithms.moo.sms import SMSEMOA
from pymoo.core.infill import InfillCriterion
from pymoo.core.mixed import (
    MixedVariableDuplicateElimination,
    MixedVariableMating,
    MixedVariableSampling,
)
from pymoo.operators.sampling.rnd import FloatRandomSampling
from pymoo.util.ref_dirs import get_reference_directions

from moorec.errors import ConfigError, UnknownNameError
from moorec.search.optuna_search import OPTUNA_ALGORITHMS, import_optuna
from moorec.search.space import LogReal, Real
from moorec.search.warm import WarmStartSampling

__all__ = ["ALGORITHMS", "RandomInfill", "check_algorithm", "make_algorithm", "needs_vector"]

#: pymoo's algorithms, then Optuna's samplers (:mod:`moorec.search.optuna_search`).
ALGORITHMS = ("nsga2", "nsga3", "moead", "smsemoa", "random", *OPTUNA_ALGORITHMS)


class RandomInfill(InfillCriterion):
    """Offspring drawn uniformly from the search space: random search inside pymoo's loop.

    Used with NSGA-II's survival, so random search keeps a population of the best found and
    spends exactly the same evaluations per generation as the evolutionary algorithms.
    """

    def __init__(self):
        super().__init__(eliminate_duplicates=MixedVariableDuplicateElimination())
        self.sampling = MixedVariableSampling()

    def _do(self, problem, pop, n_offsprings, random_state=None, **kwargs):
        return self.sampling.do(problem, n_offsprings, random_state=random_state)


def needs_vector(name: str) -> bool:
    """Whether the algorithm needs a float-vector problem (no mixed variables)."""
    return name == "moead"


def _ref_dirs(n_obj: int, pop_size: int) -> np.ndarray:
    # Energy-based directions give exactly pop_size directions for any number of objectives.
    if n_obj == 1:
        raise ConfigError("multi-objective algorithms need at least 2 objectives, got 1")
    return get_reference_directions("energy", n_obj, pop_size, seed=1)


def check_algorithm(name: str, pop_size: int, space=None, n_constraints: int = 0) -> None:
    """Raise unless algorithm ``name`` can search ``space`` with a population of ``pop_size``.

    Raises:
        UnknownNameError: for an unknown name.
        ConfigError: for ``pop_size < 2``, or constraints or non-real variables under MOEA/D.
    """
    if name not in ALGORITHMS:
        raise UnknownNameError("algorithm", name, ALGORITHMS)
    if isinstance(pop_size, bool) or not isinstance(pop_size, int) or pop_size < 2:
        raise ConfigError(f"pop_size must be an integer >= 2, got {pop_size!r}")
    if name in OPTUNA_ALGORITHMS:
        import_optuna(name)  # installed, or say how to install it
        return
    if name != "moead":
        return
    if space is not None:
        bad = [n for n, v in space.variables.items() if not isinstance(v, Real | LogReal)]
        if bad:
            raise ConfigError(
                f"moead searches real variables only; {bad} are not Real/LogReal "
                "(use nsga2, nsga3, smsemoa or random)"
            )
    if n_constraints:
        raise ConfigError("moead does not support constraints in pymoo; use nsga2")


def make_algorithm(name: str, pop_size: int, n_obj: int, space=None, initial=None):
    """Build pymoo algorithm ``name`` for a population of ``pop_size``.

    Args:
        name: one of ``nsga2`` (default; Deb et al. 2002), ``nsga3`` (Deb and Jain 2014),
            ``moead`` (Zhang and Li 2007; real variables only, no constraints), ``smsemoa``
            (Beume et al. 2007) or ``random`` (uniform sampling with NSGA-II survival).
        pop_size: population size (``>= 2``).
        n_obj: number of objectives.
        space: the search space (checked for MOEA/D).
        initial: complete configs (natural values) that open the first generation
            (:mod:`moorec.search.warm`); needs ``space``.

    Raises:
        UnknownNameError: for an unknown name.
        ConfigError: for ``pop_size < 2`` or a space MOEA/D cannot search.
    """
    check_algorithm(name, pop_size, space)
    if name in OPTUNA_ALGORITHMS:
        raise ConfigError(f"{name} is run by moorec.search.optuna_search.run_optuna, not pymoo")
    warm = list(initial or ())
    if warm and space is None:
        raise ConfigError("initial configs need the search space to be encoded")

    def sampling(base):
        if not warm:
            return base
        if needs_vector(name):
            enc = [space.encode(c) for c in warm]
            return WarmStartSampling(base, [[e[n] for n in space.names] for e in enc])
        return WarmStartSampling(base, [space.encode(c) for c in warm])

    mixed = {
        "sampling": sampling(MixedVariableSampling()),
        "mating": MixedVariableMating(eliminate_duplicates=MixedVariableDuplicateElimination()),
        "eliminate_duplicates": MixedVariableDuplicateElimination(),
    }
    if name == "nsga2":
        return NSGA2(pop_size=pop_size, **mixed)
    if name == "random":
        return NSGA2(
            pop_size=pop_size,
            sampling=sampling(MixedVariableSampling()),
            mating=RandomInfill(),
            eliminate_duplicates=MixedVariableDuplicateElimination(),
        )
    if name == "nsga3":
        return NSGA3(ref_dirs=_ref_dirs(n_obj, pop_size), pop_size=pop_size, **mixed)
    if name == "smsemoa":
        return SMSEMOA(pop_size=pop_size, n_offsprings=pop_size, **mixed)
    # MOEA/D: pymoo's implementation recombines float vectors and has no constraint handling.
    return MOEAD(
        ref_dirs=_ref_dirs(n_obj, pop_size),
        n_neighbors=min(15, pop_size),
        sampling=sampling(FloatRandomSampling()),
    )
