"""Warm starts: known configs placed in a search's first generation.

Three sources, checked before any work and resolved into one list of complete configs:

* ``initial``: configs a researcher knows (a published setting, last week's best); each gives
  some or all of the search variables, and the others take the family's default;
* ``initial_from``: the front members of another run folder (their values of this space's
  variables); when they do not all fit in the population beside the other configs, an even
  spread of them along the stored front is taken;
* ``include_defaults`` (on by default): the family's own default settings
  (:func:`moorec.models.defaults`, the constructor's and the loss's defaults), so that a front
  always holds the point a researcher would have trained without searching.

A default outside a variable's domain is moved to the nearest value inside it (the bound of a
range, the nearest numeric option, or the first option). The first generation is the one the
algorithm samples, with its first rows replaced by these configs: the random draws are the same
as without a warm start, so the rest of the generation does not move. Duplicates are dropped
(first kept), and configs beyond the population size are refused.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pymoo.core.population import Population
from pymoo.core.sampling import Sampling

from moorec.errors import ConfigError, UnknownNameError
from moorec.search.space import Choice, Integer, LogReal, Real, Space, Variable, config_key

__all__ = [
    "WarmStartSampling",
    "as_value",
    "default_config",
    "family_default",
    "front_configs",
    "inside",
    "resolve_initial",
]

# The defaults of the post-hoc settings in a defaults point: the model's own list, unchanged.
_POSTHOC_DEFAULTS = {"rerank": "none", "rerank_weight": 0.0}


def inside(var: Variable, value: Any) -> bool:
    """Whether ``value`` is one that ``var`` can take."""
    if isinstance(var, Choice):
        return any(value == o and type(value) is type(o) for o in var.options) or (
            _number(value) and any(_number(o) and value == o for o in var.options)
        )
    if not _number(value):
        return False
    if isinstance(var, Integer) and float(value) != int(value):
        return False
    return var.low <= value <= var.high


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _nearest(var: Variable, value: Any) -> Any:
    """The value of ``var`` nearest to ``value`` (a default that falls outside the domain)."""
    if isinstance(var, Choice):
        numeric = [o for o in var.options if _number(o)]
        if _number(value) and numeric:
            return min(numeric, key=lambda o: abs(o - value))
        return var.options[0]
    if not _number(value):
        return var.low if isinstance(var, Integer) else (var.low * var.high) ** 0.5
    clipped = min(max(value, var.low), var.high)
    return round(clipped) if isinstance(var, Integer) else float(clipped)


def family_default(model: str, name: str) -> tuple[bool, Any]:
    """``(found, value)``: the default of setting ``name`` for model family ``model``.

    Looked up in order: the family's table (:func:`moorec.models.defaults`), the post-hoc
    defaults (no re-ranking), :class:`~moorec.train.TrainConfig`'s fields, the model's
    constructor, and its loss hyperparameters (``hparam_defaults``).
    """
    from moorec.models.family import defaults
    from moorec.models.registry import _MODELS, settings
    from moorec.train.loop import TrainConfig

    family = defaults(model)
    for table in (family["train"], family["model"], _POSTHOC_DEFAULTS):
        if name in table:
            return True, table[name]
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    if name in fields and fields[name].default is not dataclasses.MISSING:
        return True, fields[name].default
    ctor = settings(model)
    if ctor.get(name) is not None:
        return True, ctor[name]
    hp = getattr(_MODELS[model], "hparam_defaults", {}) or {}
    if name in hp:
        return True, hp[name]
    return False, None


def default_config(
    model: str, space: Space, fixed: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The family's default point of ``space``, and the defaults that had to be moved.

    Args:
        model: registered model family.
        space: the search variables.
        fixed: the run's fixed settings (a fixed setting wins over the family's default, as
            it does in training).

    Returns:
        ``(config, moved)``: a value for every variable, and ``{name: [default, used]}`` for
        each default that lay outside its variable's domain.
    """
    fixed = dict(fixed or {})
    config, moved = {}, {}
    for name, var in space.variables.items():
        found, value = (True, fixed[name]) if name in fixed else family_default(model, name)
        if not found or not inside(var, value):
            used = _nearest(var, value)
            moved[name] = [value, used]
            value = used
        config[name] = as_value(var, value)
    return config, moved


def as_value(var: Variable, value: Any) -> Any:
    """``value`` as the type ``var`` decodes to (``int`` for Integer, ``float`` for reals)."""
    if isinstance(var, Integer):
        return int(value)
    if isinstance(var, Real | LogReal):
        return float(value)
    if isinstance(var, Choice):  # the option itself (a numeric default may be 64.0 for 64)
        return next(o for o in var.options if o == value)
    return value


def front_configs(run_dir: str | Path, space: Space) -> list[dict[str, Any]]:
    """The configs of another run's front members, restricted to ``space``'s variables.

    Raises:
        ConfigError: if the folder holds no finished run (no front) or none of its members
            sets a variable of ``space``.
    """
    from moorec.results.run import load

    path = Path(run_dir)
    if not (path / "front.json").exists():
        raise ConfigError(
            f"initial_from {str(path)!r} holds no finished run (no front.json): give the "
            "folder of a search that ran to its end"
        )
    run = load(path)
    configs = []
    for member in run.pareto_front():
        cfg = {k: v for k, v in member["config"].items() if k in space.variables}
        if cfg:
            configs.append(cfg)
    if not configs:
        raise ConfigError(
            f"the front of {str(path)!r} sets none of this space's variables {space.names}"
        )
    return configs


def resolve_initial(
    space: Space,
    *,
    model: str | None,
    pop_size: int,
    initial: Sequence[Mapping[str, Any]] | None = None,
    initial_from: str | Path | None = None,
    include_defaults: bool = True,
    fixed: Mapping[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Check and complete the warm-start configs of a search.

    Args:
        space: the search variables.
        model: the model family, or ``None`` for a custom trainer (which has no family
            defaults: its initial configs must give every variable, and no defaults point is
            added).
        pop_size: the population size (the most configs the first generation holds).
        initial: configs to enqueue, each a mapping of some or all variables.
        initial_from: a finished run folder whose front members are enqueued (as many as
            the population has room for, evenly spread along the front).
        include_defaults: add the family's defaults point first.
        fixed: the run's fixed settings.

    Returns:
        ``(configs, info)``: complete configs in order (defaults, then ``initial``, then the
        other run's front), duplicates dropped; ``info`` says what was moved or dropped.

    Raises:
        ConfigError: for a config that is not a mapping, a value outside its variable's domain,
            a missing variable without a family default, more configs than ``pop_size``, or a
            non-boolean ``include_defaults``.
        UnknownNameError: for a key that is not a search variable.
    """
    if not isinstance(include_defaults, bool):
        raise ConfigError(f"include_defaults must be true or false, got {include_defaults!r}")
    if initial is not None and (
        isinstance(initial, str | bytes | Mapping) or not isinstance(initial, Sequence)
    ):
        raise ConfigError(f"initial must be a list of configs (tables), got {initial!r}")
    base, moved = ({}, {})
    if model is not None:
        base, moved = default_config(model, space, fixed)
    given = [("initial", i, c) for i, c in enumerate(initial or ())]
    configs = [dict(base)] if include_defaults and model is not None else []
    front_info = {}
    if initial_from is not None:
        front = front_configs(initial_from, space)
        room = pop_size - len(configs) - len(given)
        if len(front) > room > 0:  # an even spread along the front (its stored order)
            keep = sorted({round(j) for j in np.linspace(0, len(front) - 1, room)})
            front_info = {"initial_from_kept": [len(keep), len(front)]}
            front = [front[j] for j in keep]
        given += [("initial_from", i, c) for i, c in enumerate(front)]
    for source, i, cfg in given:
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"{source}[{i}] must be a table of variable values, got {cfg!r}")
        for name in cfg:
            if name not in space.variables:
                raise UnknownNameError(f"variable of {source}[{i}]", name, space.names)
        missing = [n for n in space.names if n not in cfg and n not in base]
        if missing:
            raise ConfigError(
                f"{source}[{i}] lacks variables {missing}, which have no default here; give "
                "every variable"
            )
        full = {}
        for name, var in space.variables.items():
            value = cfg.get(name, base.get(name))
            if not inside(var, value):
                raise ConfigError(
                    f"{source}[{i}]: {name} = {value!r} is outside its variable {var.to_dict()}"
                )
            full[name] = as_value(var, value)
        configs.append(full)
    seen, unique, dropped = set(), [], 0
    for cfg in configs:
        key = config_key(cfg)
        if key in seen:
            dropped += 1
            continue
        seen.add(key)
        unique.append(cfg)
    if len(unique) > pop_size:
        raise ConfigError(
            f"{len(unique)} warm-start configs do not fit a first generation of pop_size="
            f"{pop_size}; enqueue at most {pop_size} or raise pop_size"
        )
    info = {"defaults": bool(include_defaults and model is not None), "moved": moved}
    info.update(front_info)
    if dropped:
        info["duplicates_dropped"] = dropped
    return unique, info


class WarmStartSampling(Sampling):
    """A sampling whose first rows are given configs and the rest the base sampling's draws.

    The base sampling draws the whole population as it would without a warm start (so the
    random state advances the same way), then its first ``len(initial)`` rows are replaced.

    Args:
        base: the algorithm's own sampling (e.g. pymoo's ``MixedVariableSampling``).
        initial: the configs in pymoo's encoding: dicts for a mixed-variable problem, float
            vectors for a vector one.
    """

    def __init__(self, base: Sampling, initial: Sequence[Any]):
        super().__init__()
        self.base = base
        self.initial = list(initial)

    def _do(self, problem, n_samples, random_state=None, **kwargs):
        drawn = self.base.do(problem, n_samples, random_state=random_state, **kwargs)
        X = list(drawn.get("X")) if isinstance(drawn, Population) else list(drawn)
        for i, x in enumerate(self.initial[:n_samples]):
            X[i] = x
        if X and not isinstance(X[0], dict):
            return np.asarray(X, dtype=float)
        return X
