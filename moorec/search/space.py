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
    "check_settings",
    "check_space_settings",
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

    def extremes(self) -> tuple:
        """The values that bound what this variable can decode to (both bounds, or every option).

        A setting's valid range is an interval, so a variable lies inside it when these do.
        """
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self))

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
        if isinstance(self.options, str | bytes | Mapping) or not hasattr(self.options, "__iter__"):
            raise ConfigError(f"Choice options must be a list, got {self.options!r}")
        opts = tuple(self.options)
        if len(opts) < 1:
            raise ConfigError("Choice needs at least one option, got none")
        if len(set(map(repr, opts))) != len(opts):
            raise ConfigError(f"Choice options repeat: {list(opts)}")
        object.__setattr__(self, "options", opts)

    def to_pymoo(self) -> pv.Variable:  # noqa: D102
        return pv.Choice(options=list(self.options))

    def extremes(self) -> tuple:  # noqa: D102
        return self.options

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
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"variable {name!r} must be a table such as "
            f'{{ type = "real", low = 0.0, high = 1.0 }}, got {spec!r}'
        )
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


# ------------------------------------------------------------------------- setting values
def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


def _check_weight(name: str, value: object) -> None:
    """Raise unless ``value`` is a valid value of loss weight ``name``.

    Rates (``*dropout``) lie in ``[0, 1)``, shares (``*_prob``) in ``[0, 1]``, temperatures
    are ``> 0`` and every other weight is ``>= 0``.
    """
    if not (_is_number(value) and math.isfinite(value)):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if name.endswith("dropout"):
        ok, bound = 0.0 <= value < 1.0, "in [0, 1)"
    elif name.endswith("_prob"):
        ok, bound = 0.0 <= value <= 1.0, "in [0, 1]"
    elif "temperature" in name:
        ok, bound = value > 0.0, "> 0"
    else:
        ok, bound = value >= 0.0, ">= 0"
    if not ok:
        raise ConfigError(f"{name} must be {bound}, got {value!r}")


def _model_parameters(model: str) -> dict[str, Any]:
    import inspect

    from moorec.models.registry import _MODELS

    factory = _MODELS[model]
    init = factory.__init__ if inspect.isclass(factory) else factory
    return dict(inspect.signature(init).parameters)


def _annotation(param) -> str:
    ann = param.annotation
    return ann if isinstance(ann, str) else getattr(ann, "__name__", str(ann))


def _check_model_settings(model: str, settings: Mapping[str, Any]) -> None:
    """Raise for a model constructor setting the model would refuse.

    ``moorec.models.registry.check_settings`` decides where the registry has it; otherwise
    the constructor's annotations do: an ``int`` setting must be an integer ``>= 0`` (``dim``
    ``>= 1``), a ``float`` one a finite number, a ``bool`` one a boolean, a ``str`` one a
    string (``None`` where the annotation allows it).
    """
    from moorec.models import registry

    theirs = getattr(registry, "check_settings", None)
    if theirs is not None:
        theirs(model, dict(settings))
        return
    params = _model_parameters(model)
    for name, value in settings.items():
        parts = {p.strip() for p in _annotation(params[name]).split("|")}
        if value is None and "None" in parts:
            continue
        if "int" in parts and "float" not in parts:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
            low = 1 if name == "dim" else 0
            if value < low:
                raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
        elif parts & {"int", "float"}:
            if not (_is_number(value) and math.isfinite(value)):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        elif parts == {"bool"} and not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}")
        elif parts == {"str"} and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}")


def integer_settings(model: str) -> set[str]:
    """Settings of ``model``'s training and constructor that take integers (not reals)."""
    from moorec.executors.trial import TRAIN_FIELDS
    from moorec.train.loop import TrainConfig

    types = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    names = {n for n in TRAIN_FIELDS if types[n] == "int"} | {"rerank_candidates"}
    for name, param in _model_parameters(model).items():
        parts = {p.strip() for p in _annotation(param).split("|")}
        if "int" in parts and "float" not in parts:
            names.add(name)
    return names


def check_settings(model: str, settings: Mapping[str, Any]) -> None:
    """Raise if a value of ``settings`` lies outside what training or ``model`` accepts.

    The training settings go through :class:`~moorec.train.TrainConfig` (the checks training
    itself makes), the loss weights through the model's ``hparam_names`` (see
    :func:`_check_weight`), the constructor settings through :func:`_check_model_settings`,
    the post-hoc settings (``rerank``, ``rerank_weight``, ...) through
    :class:`~moorec.rerank.Reranker`.
    Names must already be valid (:func:`~moorec.executors.trial.searchable_names`).

    Args:
        model: registered model name.
        settings: ``{name: value}``; what is not given takes its default.

    Raises:
        ConfigError: for a value out of range or of the wrong type.
        UnknownNameError: for a name from a fixed set that is not in it (``optimizer``,
            ``valid_metric``).
    """
    from moorec.executors.posthoc import POSTHOC_NAMES, reranker_of
    from moorec.executors.trial import TRAIN_FIELDS
    from moorec.models.registry import _MODELS
    from moorec.objectives.base import parse
    from moorec.train.loop import TrainConfig

    posthoc = {k: v for k, v in settings.items() if k in POSTHOC_NAMES}
    if posthoc:
        # the method's own checks; rerank = "none" checks the other settings with MMR's
        reranker_of({**posthoc, "rerank": posthoc.get("rerank", "mmr")} if
                    posthoc.get("rerank", "none") == "none" else posthoc)  # fmt: skip
    settings = {k: v for k, v in settings.items() if k not in POSTHOC_NAMES}
    factory = _MODELS[model]
    names = tuple(getattr(factory, "hparam_names", ()))
    train = {k: v for k, v in settings.items() if k in TRAIN_FIELDS}
    weights = {k: v for k, v in settings.items() if k in names and k not in train}
    model_kw = {k: v for k, v in settings.items() if k not in train and k not in weights}
    for name, value in weights.items():
        _check_weight(name, value)
    rounds = train.get("neg_rounds", 0)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ConfigError(f"neg_rounds must be an integer >= 0, got {rounds!r}")
    if "valid_metric" in train:
        parse(train["valid_metric"])
    cfg = TrainConfig(**train, loss_weights={k: float(v) for k, v in weights.items()})
    cfg.hparam_values(
        names,
        getattr(factory, "hparam_defaults", {}),
        tuple(getattr(factory, "hparam_switches", ())),
    )
    _check_model_settings(model, model_kw)


def check_space_settings(model: str, space: Space, fixed: Mapping[str, Any]) -> None:
    """Raise unless every fixed value and every variable's range is valid for ``model``.

    Each fixed value is checked alone and then all together; each variable must take only
    valid values: an integer setting (``epochs``, ``dim``, ...) is searched by an
    :class:`Integer` or a :class:`Choice`, and its bounds (or every option), with the fixed
    settings, pass :func:`check_settings`.

    Raises:
        ConfigError: naming the setting, its value or range and the valid range.
        UnknownNameError: for an option outside a fixed set (``optimizer = "adamm"``).
    """
    for name, value in fixed.items():
        try:
            check_settings(model, {name: value})
        except UnknownNameError:
            raise
        except ConfigError as err:
            raise ConfigError(f"fixed setting {name} = {value!r}: {err}") from None
    try:
        check_settings(model, fixed)
    except UnknownNameError:
        raise
    except ConfigError as err:
        raise ConfigError(f"fixed settings {dict(fixed)}: {err}") from None
    integers = integer_settings(model)
    for name, var in space.variables.items():
        if name in integers and isinstance(var, Real | LogReal):
            raise ConfigError(
                f"search variable {name!r} takes integers; search it with an Integer or a "
                f"Choice, got {var!r}"
            )
        for value in var.extremes():
            try:
                check_settings(model, {**fixed, name: value})
            except UnknownNameError:
                raise
            except ConfigError as err:
                raise ConfigError(
                    f"search variable {name!r} = {var!r} reaches {value!r}, outside the valid "
                    f"range of {name}: {err}"
                ) from None
