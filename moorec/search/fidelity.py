"""Multi-fidelity search: successive halving over epochs inside every generation.

The search algorithm proposes a generation; successive halving (Jamieson and Talwalkar,
AISTATS 2016; the rung schedule of Hyperband, Li et al., JMLR 2018) decides how far each
proposal trains. Every candidate trains to the smallest budget (``epochs = budgets[0]``); at each
rung the best ``floor(n / eta)`` (at least one) of the ``n`` that trained move on to the next
budget, until the last, the full budget. "Best" is multi-objective, as in NSGA-II's survival
(Deb et al. 2002) and MO-ASHA's non-dominated ranking (Schmucker et al., 2021): feasible before
infeasible, then by non-dominated rank (pymoo's non-dominated sorting), then by crowding
distance within a rank (pymoo's), ties broken by the order of the generation.

What is stored and what the algorithm sees:

* every rung's training is a trial of its own whose config holds its budget (``epochs``), with
  ``budget`` and ``rung`` in its record and ``full_budget`` true on the last rung: the store
  keys trials by config, so a resumed run answers every rung from the store and, the
  promotions being a function of the stored values, replays exactly;
* the executor gets one rung of a generation at a time: the vectorized one trains a rung's
  candidates together (one program per bucket);
* the algorithm is told the full-budget values of the candidates that reached the last rung;
  one stopped earlier is reported as not evaluated to the full budget (a failed candidate to
  pymoo: infeasible, so every full-budget candidate survives before it);
* the archive, the hypervolume per generation and the front hold full-budget trials only
  (:func:`moorec.search.progress.archive`).

A promoted candidate continues its fit where the trainer holds its state
(``TrialSpec.continue_budgets``; :class:`~moorec.train.FitState`), else it trains again from
its initialisation with the same seed: the values are the same either way. With
``budgets = [b_0, ..., b_K]`` and ``n`` candidates per generation, a generation costs
``sum_k n_k b_k`` epochs with ``n_0 = n`` and ``n_{k+1} = max(1, floor(n_k / eta))`` (fewer
where promoted fits continue), against ``n b_K`` without it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from moorec.errors import ConfigError
from moorec.objectives.base import Objective
from moorec.search.problem import Constraint, to_minimization

__all__ = ["FRONTS", "Fidelity", "MultiFidelity", "promote", "rung_sizes"]

#: The budget settings a schedule can run over.
SETTINGS = ("epochs",)
#: Which trials the final front of a multi-fidelity search is formed from.
FRONTS = ("full", "all")


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """A successive-halving schedule.

    Attributes:
        budgets: the budgets of the rungs, strictly increasing positive integers; the last is
            the full budget.
        eta: the reduction factor (> 1): ``floor(n / eta)`` of a rung's ``n`` move on.
        setting: the training setting the budgets are values of (``epochs``).
        front: the trials the final front is formed from: ``"full"`` (the default: full-budget
            trials only) or ``"all"`` (every rung's trials, each at its own budget; the
            hypervolume per generation still counts full-budget trials only).

    Raises:
        ConfigError: for fewer than two budgets, budgets that are not strictly increasing
            positive integers, ``eta <= 1``, an unknown setting or front.
    """

    budgets: tuple[int, ...]
    eta: float = 3.0
    setting: str = "epochs"
    front: str = "full"

    def __post_init__(self):
        if self.setting not in SETTINGS:
            raise ConfigError(
                f"fidelity runs over {', '.join(SETTINGS)}, got setting {self.setting!r}"
            )
        b = self.budgets
        if isinstance(b, str | bytes) or not isinstance(b, Sequence) or len(b) < 2:
            raise ConfigError(
                f"fidelity budgets must be a list of at least 2 {self.setting}, got {b!r}"
            )
        if any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in b):
            raise ConfigError(f"fidelity budgets must be positive integers, got {list(b)}")
        if any(x >= y for x, y in itertools.pairwise(b)):
            raise ConfigError(f"fidelity budgets must increase strictly, got {list(b)}")
        e = self.eta
        if (
            isinstance(e, bool)
            or not isinstance(e, int | float)
            or not (math.isfinite(e) and e > 1)
        ):
            raise ConfigError(f"fidelity eta must be a number > 1, got {e!r}")
        if self.front not in FRONTS:
            raise ConfigError(
                f"fidelity front must be one of {', '.join(FRONTS)}, got {self.front!r}"
            )
        object.__setattr__(self, "budgets", tuple(int(x) for x in b))
        object.__setattr__(self, "eta", float(e))

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Fidelity:
        """From ``{"epochs": [3, 9, 27], "eta": 3}`` (the ``fidelity`` table of a config)."""
        if not isinstance(spec, Mapping):
            raise ConfigError(
                f"fidelity must be a table like {{epochs = [3, 9, 27]}}, got {spec!r}"
            )
        unknown = sorted(set(spec) - {*SETTINGS, "eta", "front"})
        if unknown:
            raise ConfigError(
                f"fidelity takes {', '.join(SETTINGS)}, eta and front; got unknown keys {unknown}"
            )
        settings = [s for s in SETTINGS if s in spec]
        if len(settings) != 1:
            raise ConfigError(
                f"fidelity needs its budgets, e.g. {{epochs = [3, 9, 27]}}; got {dict(spec)}"
            )
        return cls(
            tuple(spec[settings[0]]), spec.get("eta", 3.0), settings[0], spec.get("front", "full")
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, inverse of :meth:`from_dict` (``front`` only when not the default)."""
        out: dict[str, Any] = {self.setting: list(self.budgets), "eta": self.eta}
        if self.front != "full":
            out["front"] = self.front
        return out

    @property
    def full(self) -> int:
        """The full budget (the last rung's)."""
        return self.budgets[-1]


def rung_sizes(n: int, fidelity: Fidelity) -> list[int]:
    """Candidates trained at each rung of a generation of ``n``: ``[n, n // eta, ...]``."""
    sizes = [n]
    for _ in fidelity.budgets[1:]:
        sizes.append(max(1, math.floor(sizes[-1] / fidelity.eta)))
    return sizes


def promote(values: np.ndarray, feasible: np.ndarray, n_keep: int) -> list[int]:
    """The ``n_keep`` best rows: feasible first, then non-dominated rank, then crowding.

    Args:
        values: ``[n, m]`` objective values to minimise (``to_minimization`` of natural ones).
        feasible: ``[n]`` bool, whether each row meets the constraints.
        n_keep: how many to keep (``<= n``).

    Returns:
        The kept row indices, best first; ties (equal rank and crowding) in row order.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    order: list[int] = []
    for group in (np.flatnonzero(feasible), np.flatnonzero(~np.asarray(feasible, bool))):
        if len(group) == 0:
            continue
        fronts = NonDominatedSorting().do(values[group]) if len(group) > 1 else [np.array([0])]
        for front in fronts:
            rows = group[np.sort(front)]
            crowd = (
                calc_crowding_distance(values[rows])
                if len(rows) > 2
                else np.full(len(rows), np.inf)
            )
            # larger crowding first; a stable sort keeps row order among ties
            order.extend(rows[np.argsort(-crowd, kind="stable")].tolist())
    return order[: min(n_keep, n)]


class MultiFidelity:
    """Evaluates a generation by successive halving over a trial runner.

    Args:
        fidelity: the schedule.
        evaluate: the trial runner's ``evaluate`` (configs -> records, stored ones answered
            from the store).
        objectives: the objectives (for the ranking).
        constraints: the constraints (feasible candidates rank first).
        tag: called with ``(budget, rung, full)`` before each rung is evaluated, so that the
            stored records say which rung they are.
    """

    def __init__(
        self,
        fidelity: Fidelity,
        evaluate: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint],
        tag: Callable[[int, int, bool], None],
    ):
        self.fidelity = fidelity
        self.evaluate_rung = evaluate
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.tag = tag

    def evaluate(self, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records of ``configs``: full-budget ones, or a stand-in for those stopped earlier."""
        fid = self.fidelity
        alive = list(range(len(configs)))
        out: list[dict[str, Any] | None] = [None] * len(configs)
        sizes = rung_sizes(len(configs), fid)
        for rung, budget in enumerate(fid.budgets):
            full = rung == len(fid.budgets) - 1
            self.tag(budget, rung, full)
            batch = [{**configs[i], fid.setting: budget} for i in alive]
            records = self.evaluate_rung(batch)
            for i, rec in zip(alive, records, strict=True):
                out[i] = rec if full else _stopped(rec, budget, fid.full)
            if full:
                break
            ok = [j for j, rec in enumerate(records) if _finite(rec, self.objectives)]
            if not ok:
                break
            natural = np.array(
                [[records[j]["valid"][o.key] for o in self.objectives] for j in ok], float
            )
            feasible = np.array(
                [all(c.g(records[j]["valid"][c.key]) <= 0 for c in self.constraints) for j in ok]
            )
            keep = promote(to_minimization(natural, self.objectives), feasible, sizes[rung + 1])
            alive = [alive[ok[k]] for k in sorted(keep)]  # generation order within a rung
        return [rec for rec in out if rec is not None]


def _finite(rec: Mapping[str, Any], objectives: Sequence[Objective]) -> bool:
    if rec["status"] != "ok":
        return False
    return all(math.isfinite(float(rec["valid"][o.key])) for o in objectives)


def _stopped(rec: Mapping[str, Any], budget: int, full: int) -> dict[str, Any]:
    """What the algorithm is told of a candidate stopped at ``budget``: not fully evaluated."""
    if rec["status"] != "ok":
        return dict(rec)
    return {
        "status": "stopped",
        "reason": f"stopped at {budget} of {full} epochs by successive halving",
        "valid": None,
    }
