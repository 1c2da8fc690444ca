"""The pymoo problem adapter: a whole population per call, signs flipped only here.

moorec keeps every objective in its natural direction (NDCG up, latency down). pymoo minimises,
so this adapter alone multiplies maximised objectives by -1 on the way in; stored results and
plots never see the flipped values. Constraints such as ``latency_ms <= 2`` become pymoo
inequality constraints ``g(x) <= 0``; a failed trial is infeasible (one extra constraint that
is +1 for a failure and -1 otherwise) and gets the worst finite objective values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pymoo.core.problem import Problem

from moorec.errors import ConfigError
from moorec.objectives.base import Objective, parse

__all__ = [
    "FAILED_F",
    "Constraint",
    "RecProblem",
    "parse_constraint",
    "parse_constraints",
    "to_minimization",
]

#: Objective value (minimisation form) given to failed trials.
FAILED_F = 1e30

_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w@]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*$")


@dataclasses.dataclass(frozen=True)
class Constraint:
    """``key <= bound`` or ``key >= bound`` on a measured objective.

    Attributes:
        key: objective key (``"latency_ms"``, ``"recall@20"``).
        op: ``"<="`` or ``">="``.
        bound: the bound.
    """

    key: str
    op: str
    bound: float

    def g(self, value: float) -> float:
        """Pymoo's inequality ``g <= 0`` for a measured ``value``."""
        return value - self.bound if self.op == "<=" else self.bound - value

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.bound:g}"


def parse_constraint(text: str | Constraint) -> Constraint:
    """Parse ``"latency_ms <= 2.0"`` into a :class:`Constraint` (the key must be an objective).

    Raises:
        ConfigError: if the text is not ``KEY <= NUMBER`` or ``KEY >= NUMBER``.
        UnknownNameError: if the key is not an objective.
    """
    if isinstance(text, Constraint):
        return text
    m = _CONSTRAINT.match(str(text))
    if not m:
        raise ConfigError(
            f"constraint {text!r} must look like 'latency_ms <= 2.0' or 'recall@20 >= 0.2'"
        )
    key = parse(m.group(1)).key
    try:
        bound = float(m.group(3))
    except ValueError:
        raise ConfigError(f"constraint {text!r}: bound {m.group(3)!r} is not a number") from None
    return Constraint(key, m.group(2), bound)


def parse_constraints(texts: Sequence[str | Constraint]) -> list[Constraint]:
    """Parse a list of constraints (see :func:`parse_constraint`).

    Raises:
        ConfigError: if ``texts`` is not a list (a lone string included) or one is malformed.
        UnknownNameError: if a key is not an objective.
    """
    if isinstance(texts, str | bytes | Constraint) or not hasattr(texts, "__iter__"):
        raise ConfigError(
            f"constraints must be a list such as ['latency_ms <= 2.0'], got {texts!r}"
        )
    return [parse_constraint(t) for t in texts]


def to_minimization(values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """Natural-direction values ``[n, m]`` -> pymoo's minimisation form (max objectives negated)."""
    sign = np.array([-1.0 if o.direction == "max" else 1.0 for o in objectives])
    return np.asarray(values, dtype=np.float64) * sign


class RecProblem(Problem):
    """A pymoo problem whose evaluation trains and scores a whole population.

    Args:
        space: the :class:`~moorec.search.Space`.
        objectives: objectives to optimise (natural directions).
        constraints: constraints on measured objectives.
        evaluate_population: ``[configs] -> [records]``; each record has ``"status"`` (``"ok"``
            or ``"failed"``) and ``"valid"`` (a dict holding every objective and constraint key
            when ok).
        mixed: search pymoo's mixed variables (dict per candidate); else a float vector (for
            algorithms such as MOEA/D that need one; every variable must then be real).
        failure_constraint: add the failure constraint (algorithms without constraint support,
            such as MOEA/D, get failures as worst objective values only).
    """

    def __init__(
        self,
        space,
        objectives: Sequence[Objective],
        constraints: Sequence[Constraint],
        evaluate_population: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
        *,
        mixed: bool = True,
        failure_constraint: bool = True,
    ):
        self.space = space
        self.objectives = list(objectives)
        self.constraints = list(constraints)
        self.evaluate_population = evaluate_population
        self.mixed = mixed
        self.failure_constraint = failure_constraint
        n_ieq = len(self.constraints) + int(failure_constraint)
        if mixed:
            super().__init__(
                vars=space.pymoo_vars(), n_obj=len(self.objectives), n_ieq_constr=n_ieq
            )
        else:
            pvars = list(space.pymoo_vars().values())
            xl = np.array([v.bounds[0] for v in pvars], dtype=float)
            xu = np.array([v.bounds[1] for v in pvars], dtype=float)
            super().__init__(
                n_var=len(pvars), n_obj=len(self.objectives), n_ieq_constr=n_ieq, xl=xl, xu=xu
            )

    def decode(self, x) -> dict[str, Any]:
        """One candidate of pymoo's population -> natural config."""
        if self.mixed:
            return self.space.decode(x)
        return self.space.decode(dict(zip(self.space.names, np.asarray(x).tolist(), strict=True)))

    def _evaluate(self, X, out, *args, **kwargs):
        configs = [self.decode(x) for x in X]
        records = self.evaluate_population(configs)
        F = np.full((len(configs), self.n_obj), FAILED_F)
        G = np.zeros((len(configs), self.n_ieq_constr))
        for r, rec in enumerate(records):
            ok = rec["status"] == "ok"
            if ok:
                values = [[rec["valid"][o.key] for o in self.objectives]]
                F[r] = to_minimization(np.array(values), self.objectives)[0]
                G[r, : len(self.constraints)] = [c.g(rec["valid"][c.key]) for c in self.constraints]
            else:
                G[r, : len(self.constraints)] = 1.0
            if self.failure_constraint:
                G[r, -1] = -1.0 if ok else 1.0
        out["F"] = F
        if self.n_ieq_constr:
            out["G"] = G
