"""Search spaces: typed variables mapped by name onto model, training and loss settings.

Variables become pymoo's mixed variables (``pymoo.core.variable``), so NSGA-II and friends
recombine each with a suitable operator (SBX/PM for reals, SBX/PM with rounding repair for
integers, uniform crossover and random mutation for choices) through
``pymoo.core.mixed.MixedVariableMating``. A :class:`LogReal` is searched as a pymoo ``Real`` on
the ``log10`` scale and decoded with ``10 ** x``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pymoo.core import variable as pv

from moorec.errors import ConfigError, UnknownNameError

__all__ = [
    "Choice",
    "Integer",
    "LogReal",
    "Real",
    "Space",
    "Variable",
    "config_key",
    "variable_from_dict",
]


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Variable:
    """Base class of search variables."""

    def to_pymoo(self) -> pv.Variable:
        """The pymoo variable searched in place of this one."""
        raise NotImplementedError

    def decode(self, x: Any) -> Any:
        """Pymoo's value -> the natural value."""
        return x

    def encode(self, value: Any) -> Any:
        """The natural value -> pymoo's value."""
        return value

    def to_dict(self) -> dict:
        """JSON-able description (``{"type": ..., ...}``), inverse of :func:`variable_from_dict`."""
        return {"type": type(self).__name__.lower(), **dataclasses.asdict(self)}


def _check_bounds(kind: str, low: float, high: float) -> None:
    if low > high:
        raise ConfigError(
            f"{kind} bounds are inverted: low={low!r} > high={high!r}; did you swap them?"
        )
    if low == high:
        raise ConfigError(f"{kind} bounds are empty: low == high == {low!r}")


@dataclasses.dataclass(frozen=True)
class Real(Variable):
    """A real number in ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self):
        _check_bounds("Real", _finite("Real low", self.low), _finite("Real high", self.high))

    def to_pymoo(self) -> pv.Variable:  # noqa: D102
        return pv.Real(bounds=(float(self.low), float(self.high)))

    def decode(self, x):  # noqa: D102
        return float(x)


@dataclasses.dataclass(frozen=True)
class LogReal(Variable):
    """A positive real in ``[low, high]`` searched on a log scale (learning rates, weights)."""

    low: float
    high: float

    def __post_init__(self):
        low, high = _finite("LogReal low", self.low), _finite("LogReal high", self.high)
        if low <= 0:
            raise ConfigError(f"LogReal bounds must be > 0, got low={low!r}")
        _check_bounds("LogReal", low, high)

    def to_pymoo(self) -> pv.Variable:  # noqa: D102
        return pv.Real(bounds=(math.log10(self.low), math.log10(self.high)))

    def decode(self, x):  # noqa: D102
        return float(10.0 ** float(x))

    def encode(self, value):  # noqa: D102
        return math.log10(value)


@dataclasses.dataclass(frozen=True)
class Integer(Variable):
    """An integer in ``[low, high]`` (both included)."""

    low: int
    high: int

    def __post_init__(self):
        for label, v in (("low", self.low), ("high", self.high)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ConfigError(f"Integer {label} must be an int, got {v!r}")
        _check_bounds("Integer", self.low, self.high)

    def to_pymoo(self) -> pv.Variable:  # noqa: D102
        return pv.Integer(bounds=(self.low, self.high))

    def decode(self, x):  # noqa: D102
        return int(x)


@dataclasses.dataclass(frozen=True)
class Choice(Variable):
    """One of a list of options (numbers, strings or booleans)."""

    options: tuple

    def __post_init__(self):
        opts = tuple(self.options)
        if len(opts) < 1:
            raise ConfigError("Choice needs at least one option, got none")
        if len(set(map(repr, opts))) != len(opts):
            raise ConfigError(f"Choice options repeat: {list(opts)}")
        object.__setattr__(self, "options", opts)

    def to_pymoo(self) -> pv.Variable:  # noqa: D102
        return pv.Choice(options=list(self.options))

    def decode(self, x):  # noqa: D102
        value = x.item() if hasattr(x, "item") else x
        if value not in self.options:
            raise ConfigError(f"{value!r} is not one of the options {list(self.options)}")
        return value

    def to_dict(self) -> dict:  # noqa: D102
        return {"type": "choice", "options": list(self.options)}


_TYPES = {"real": Real, "logreal": LogReal, "integer": Integer, "int": Integer, "choice": Choice}


def variable_from_dict(name: str, spec: Mapping[str, Any]) -> Variable:
    """Build a variable from ``{"type": "logreal", "low": 1e-4, "high": 1e-1}`` (TOML tables).

    Raises:
        UnknownNameError: for an unknown type.
        ConfigError: for missing or extra fields.
    """
    spec = dict(spec)
    kind = str(spec.pop("type", "")).lower()
    if kind not in _TYPES:
        raise UnknownNameError(f"variable type of {name!r}", kind, sorted(set(_TYPES) - {"int"}))
    cls = _TYPES[kind]
    fields = [f.name for f in dataclasses.fields(cls)]
    if set(spec) != set(fields):
        raise ConfigError(
            f"variable {name!r} of type {kind!r} takes fields {fields}, got {sorted(spec)}"
        )
    if cls is Choice:
        return Choice(tuple(spec["options"]))
    return cls(**spec)


def config_key(config: Mapping[str, Any]) -> str:
    """Canonical text of a decoded config (sorted keys, exact floats): equal configs, equal keys."""
    return json.dumps(dict(config), sort_keys=True, separators=(",", ":"))


class Space:
    """Named search variables.

    Example:
        >>> space = Space(lr=LogReal(1e-4, 1e-1), dim=Choice([16, 32, 64]))
        >>> sorted(space.names)
        ['dim', 'lr']

    Args:
        **variables: ``name=Variable``; each name must be a training setting, a loss weight or a
            model setting (checked by :meth:`check_names`).

    Raises:
        ConfigError: if there are no variables or one is not a :class:`Variable`.
    """

    def __init__(self, **variables: Variable):
        if not variables:
            raise ConfigError("a search space needs at least one variable")
        for name, var in variables.items():
            if not isinstance(var, Variable):
                raise ConfigError(
                    f"variable {name!r} must be Real, LogReal, Integer or Choice, got {var!r}"
                )
        self.variables: dict[str, Variable] = dict(variables)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Mapping[str, Any]]) -> Space:
        """Build from ``{name: {"type": ..., ...}}`` (the ``[space]`` table of a TOML config)."""
        return cls(**{name: variable_from_dict(name, s) for name, s in spec.items()})

    def to_dict(self) -> dict:
        """JSON-able description, inverse of :meth:`from_dict`."""
        return {name: var.to_dict() for name, var in self.variables.items()}

    @property
    def names(self) -> list[str]:
        """Variable names in order."""
        return list(self.variables)

    def check_names(self, valid: Sequence[str]) -> None:
        """Raise :class:`UnknownNameError` for a variable whose name is not in ``valid``."""
        for name in self.variables:
            if name not in valid:
                raise UnknownNameError("search variable", name, valid)

    def pymoo_vars(self) -> dict[str, pv.Variable]:
        """Pymoo's mixed variables, by name."""
        return {name: var.to_pymoo() for name, var in self.variables.items()}

    def decode(self, x: Mapping[str, Any]) -> dict[str, Any]:
        """Pymoo's dict of values -> natural values (plain Python types)."""
        return {name: var.decode(x[name]) for name, var in self.variables.items()}

    def encode(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Natural values -> pymoo's dict of values."""
        missing = [n for n in self.variables if n not in config]
        if missing:
            raise ConfigError(f"config lacks variables {missing}")
        return {name: var.encode(config[name]) for name, var in self.variables.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self.variables.items())
        return f"Space({inner})"
