"""Quality indicators and the choice of one point, all from pymoo.

Objectives are normalised before the hypervolume so that metrics on different scales count
alike: in minimisation form, ``f' = (f - ideal) / (reference - ideal)``, where the ideal and the
reference (the worst value still counted) are fixed per objective and recorded in the run's
manifest. Bounded metrics (NDCG, recall, ILD, coverage, Gini, ...) use their natural range
``[0, 1]``; unbounded ones (latency, parameter count, novelty, ARP) take theirs from the first
generation unless the user sets them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pymoo.decomposition.asf import ASF
from pymoo.indicators.hv import HV
from pymoo.indicators.igd_plus import IGDPlus
from pymoo.mcdm.pseudo_weights import PseudoWeights
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

from moorec.errors import ConfigError, MoorecError, UnknownNameError
from moorec.objectives.base import Objective
from moorec.search.problem import to_minimization

__all__ = [
    "BOUNDED",
    "KNEE_METHODS",
    "bounds_from_values",
    "check_knee",
    "check_reference",
    "front_hypervolume",
    "hypervolume",
    "igd_plus",
    "knee_index",
    "non_dominated",
    "normalize",
]

#: Objectives whose values lie in [0, 1].
BOUNDED = (
    "recall",
    "ndcg",
    "hit",
    "precision",
    "mrr",
    "map",
    "ild",
    "ild_cosine",
    "category_coverage",
    "coverage",
    "gini",
    "aplt",
)
KNEE_METHODS = ("asf", "pseudo-weights")


def _is_bounded(o: Objective) -> bool:
    return o.name in BOUNDED or o.key.split("@")[0] in BOUNDED


def bounds_from_values(
    objectives: Sequence[Objective],
    values: np.ndarray,
    given: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, list[float]]:
    """Ideal and reference value (natural direction) per objective.

    Args:
        objectives: the objectives.
        values: ``[n, m]`` natural values observed so far (e.g. the first generation's ok
            trials), used for unbounded objectives not in ``given``.
        given: ``{key: [ideal, reference]}`` set by the user.

    Returns:
        ``{key: [ideal, reference]}``.
    """
    given = dict(given or {})
    out = {}
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(objectives))
    for j, o in enumerate(objectives):
        if o.key in given:
            ideal, ref = (float(v) for v in given[o.key])
        elif _is_bounded(o):
            ideal, ref = (1.0, 0.0) if o.direction == "max" else (0.0, 1.0)
        else:
            col = values[:, j][np.isfinite(values[:, j])]
            if col.size == 0:
                raise ConfigError(
                    f"no finite value of {o.key} to set its hypervolume bounds; "
                    "give them in the config's reference table"
                )
            if o.direction == "min":
                ideal, ref = 0.0, 1.1 * float(col.max())
            else:
                ideal, ref = 1.1 * float(col.max()), 0.9 * float(col.min())
        if ideal == ref:
            raise ConfigError(f"hypervolume bounds of {o.key} are empty: ideal == reference")
        out[o.key] = [ideal, ref]
    return out


def check_reference(
    reference: Mapping[str, Sequence[float]] | None, objectives: Sequence[Objective]
) -> dict[str, list[float]]:
    """Check user-given hypervolume bounds ``{key: [ideal, reference]}``; return them by key.

    Each key must be one of ``objectives`` (written as its key or any spelling
    :func:`~moorec.objectives.parse` reads as it), each value two finite numbers, and the ideal
    better than the reference in the objective's direction (larger for a maximised one).

    Raises:
        UnknownNameError: for a key that is not an objective of the search.
        ConfigError: for a value that is not ``[ideal, reference]`` or is reversed or empty.
    """
    from moorec.objectives.base import parse

    if reference is None:
        return {}
    if not isinstance(reference, Mapping):
        raise ConfigError(
            f"reference must map objective keys to [ideal, reference], got {reference!r}"
        )
    by_key = {o.key: o for o in objectives}
    out: dict[str, list[float]] = {}
    for name, pair in reference.items():
        try:
            key = parse(name).key
        except MoorecError:  # not an objective name at all
            key = name
        if key not in by_key:
            raise UnknownNameError("reference key (an objective of the search)", name, by_key)
        if (
            isinstance(pair, str | bytes | Mapping)
            or not hasattr(pair, "__len__")
            or len(pair) != 2
            or not all(
                not isinstance(v, bool) and isinstance(v, int | float) and np.isfinite(v)
                for v in pair
            )
        ):
            raise ConfigError(
                f"reference {name} must be [ideal, reference], two finite numbers, got {pair!r}"
            )
        ideal, ref = float(pair[0]), float(pair[1])
        o = by_key[key]
        if ideal == ref:
            raise ConfigError(f"reference {name} = {list(pair)} is empty: ideal == reference")
        if (ideal < ref) if o.direction == "max" else (ideal > ref):
            better = "above" if o.direction == "max" else "below"
            way = "maximised" if o.direction == "max" else "minimised"
            raise ConfigError(
                f"reference {name} = {list(pair)} is reversed: {key} is {way}, so its ideal "
                f"(first) must lie {better} its reference (second); did you mean {[ref, ideal]}?"
            )
        out[key] = list(pair)  # as given: the run's config records them
    return out


def check_knee(
    method: str, weights: Sequence[float] | None, objectives: Sequence[Objective]
) -> list[float] | None:
    """Check the knee method and its weights (one finite weight >= 0 per objective, not all 0).

    Raises:
        UnknownNameError: for an unknown method.
        ConfigError: for malformed weights.
    """
    if method not in KNEE_METHODS:
        raise UnknownNameError("knee method", method, KNEE_METHODS)
    if weights is None:
        return None
    m = len(objectives)
    if (
        isinstance(weights, str | bytes | Mapping)
        or not hasattr(weights, "__len__")
        or len(weights) != m
        or not all(
            not isinstance(w, bool) and isinstance(w, int | float) and np.isfinite(w) and w >= 0
            for w in weights
        )
        or not any(w > 0 for w in weights)
    ):
        raise ConfigError(
            f"knee_weights must be {m} finite numbers >= 0 (one per objective "
            f"{[o.key for o in objectives]}), not all 0, got {weights!r}"
        )
    return [float(w) for w in weights]


def normalize(
    values: np.ndarray, objectives: Sequence[Objective], bounds: Mapping[str, Sequence[float]]
) -> np.ndarray:
    """Natural values ``[n, m]`` -> normalised minimisation form (0 = ideal, 1 = reference)."""
    f = to_minimization(values, objectives)
    ideal = to_minimization(np.array([[bounds[o.key][0] for o in objectives]]), objectives)[0]
    ref = to_minimization(np.array([[bounds[o.key][1] for o in objectives]]), objectives)[0]
    return (f - ideal) / (ref - ideal)


def non_dominated(values: np.ndarray, objectives: Sequence[Objective]) -> np.ndarray:
    """Indices of the non-dominated rows of natural values ``[n, m]`` (pymoo's sorting)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.zeros(0, dtype=int)
    f = to_minimization(values, objectives)
    return np.sort(NonDominatedSorting().do(f, only_non_dominated_front=True))


def hypervolume(
    values: np.ndarray, objectives: Sequence[Objective], bounds: Mapping[str, Sequence[float]]
) -> float:
    """Hypervolume of natural values ``[n, m]`` after :func:`normalize`, reference point 1.

    Points worse than the reference in any objective add nothing.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return 0.0
    f = normalize(values, objectives, bounds)
    return float(HV(ref_point=np.ones(len(objectives)))(f))


def front_hypervolume(
    values, objectives: Sequence[Objective], bounds: Mapping[str, Sequence[float]]
) -> float:
    """:func:`hypervolume` of the non-dominated rows among the finite rows of ``values``.

    Args:
        values: ``[n, m]`` natural values (or a sequence of ``m``-rows; ``n`` may be 0).
        objectives: the ``m`` objectives.
        bounds: ``{key: [ideal, reference]}``.

    Returns:
        The hypervolume; 0 when no row is finite.
    """
    pts = np.asarray(values, dtype=np.float64).reshape(-1, len(objectives))
    pts = pts[np.isfinite(pts).all(axis=1)]
    return hypervolume(pts[non_dominated(pts, objectives)], objectives, bounds) if len(pts) else 0.0


def igd_plus(
    values: np.ndarray,
    reference_front: np.ndarray,
    objectives: Sequence[Objective],
    bounds: Mapping[str, Sequence[float]],
) -> float:
    """IGD+ (Ishibuchi et al. 2015) of ``values`` against a reference front, both natural."""
    ref = normalize(np.asarray(reference_front, dtype=np.float64), objectives, bounds)
    return float(IGDPlus(ref)(normalize(values, objectives, bounds)))


def knee_index(
    values: np.ndarray,
    objectives: Sequence[Objective],
    method: str = "asf",
    weights: Sequence[float] | None = None,
) -> int:
    """Row of ``values`` (a front, natural) chosen as the preferred / knee point.

    The front is normalised to its own range (0 = best member, 1 = worst member per objective).
    ``asf``: the smallest achievement scalarising function (pymoo's ``ASF``) of the normalised
    objectives, each scaled by its importance weight. ``pseudo-weights``: pymoo's
    ``PseudoWeights`` (Deb 2001), the point whose pseudo-weight vector is closest to ``weights``.

    Args:
        values: ``[n, m]`` natural objective values of the front.
        objectives: the ``m`` objectives.
        method: ``"asf"`` or ``"pseudo-weights"``.
        weights: ``[m]`` importance of each objective, larger = more important (equal by
            default).

    Returns:
        The chosen row.
    """
    if method not in KNEE_METHODS:
        raise UnknownNameError("knee method", method, KNEE_METHODS)
    # Normalise by the front's own ideal and nadir (as pymoo's decision making does), not by
    # the hypervolume bounds: an objective far from its theoretical ideal must not dominate.
    f = to_minimization(np.asarray(values, dtype=np.float64), objectives)
    lo, hi = f.min(axis=0), f.max(axis=0)
    f = (f - lo) / np.where(hi > lo, hi - lo, 1.0)
    m = len(objectives)
    w = np.full(m, 1.0 / m) if weights is None else np.asarray(weights, dtype=float)
    if method == "asf":
        # pymoo's ASF divides by its weights; importance weights enter as their inverse.
        return int(np.argmin(ASF().do(f, 1.0 / np.maximum(w, 1e-12))))
    if len(f) == 1:
        return 0
    return int(PseudoWeights(w).do(f))
