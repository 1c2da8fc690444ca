"""Models by name, so that configs and the command line can refer to them."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping

from flax import nnx

from moorec.errors import ConfigError, UnknownNameError
from moorec.models.base import Recommender
from moorec.models.bert4rec import BERT4Rec
from moorec.models.ease import EASE
from moorec.models.family import defaults
from moorec.models.gru4rec import GRU4Rec
from moorec.models.lightgcn import LightGCN
from moorec.models.mf import BPRMF
from moorec.models.multvae import MultVAE
from moorec.models.ncf import NeuMF
from moorec.models.neighbourhood import ItemKNN, Pop, RP3beta
from moorec.models.sasrec import SASRec
from moorec.models.two_tower import TwoTower

__all__ = ["available", "check_settings", "create", "defaults", "register", "settings"]

_MODELS: dict[str, Callable[..., Recommender]] = {
    "bpr": BPRMF,
    "neumf": NeuMF,
    "lightgcn": LightGCN,
    "two_tower": TwoTower,
    "sasrec": SASRec,
    "bert4rec": BERT4Rec,
    "pop": Pop,
    "itemknn": ItemKNN,
    "ease": EASE,
    "rp3beta": RP3beta,
    "multvae": MultVAE,
    "gru4rec": GRU4Rec,
}


def register(name: str, factory: Callable[..., Recommender]) -> None:
    """Make ``factory(n_users, n_items, **kwargs, rngs=...)`` available as ``name``."""
    _MODELS[name] = factory


def available() -> list[str]:
    """Names of the registered models."""
    return sorted(_MODELS)


def needs_train(factory: Callable[..., Recommender]) -> bool:
    """Whether ``factory`` takes the training interactions (keyword ``train``)."""
    init = factory.__init__ if inspect.isclass(factory) else factory
    return "train" in inspect.signature(init).parameters


#: Settings that must be positive integers wherever a model takes them (``None`` is accepted
#: where it is the default, e.g. ``ff_dim``, ``negatives``).
POSITIVE_INT_SETTINGS = frozenset(
    {"dim", "n_blocks", "n_heads", "heads", "max_len", "ff_dim", "title_dim", "n_year_bins",
     "negatives", "rank", "k", "max_predictions"}
)  # fmt: skip
#: Settings that must be integers >= 0 (``n_layers`` 0: LightGCN without propagation).
NON_NEGATIVE_INT_SETTINGS = frozenset({"n_layers"})
#: Settings that must be finite real numbers >= 0 (ItemKNN's shrinkage, RP3beta's exponents).
NON_NEGATIVE_REAL_SETTINGS = frozenset({"shrink", "alpha", "beta"})
#: Settings that must be finite real numbers > 0 (EASE's L2 weight).
POSITIVE_REAL_SETTINGS = frozenset({"reg_weight"})
#: Settings that are sequences of positive integers (layer widths); one integer is a
#: one-element sequence.
POSITIVE_INT_SEQUENCE_SETTINGS = frozenset({"layers", "hidden"})

# Parameters of a factory that are not model settings (given by create() itself).
_NOT_SETTINGS = ("self", "n_users", "n_items", "train", "rngs")


def _factory(name: str) -> Callable[..., Recommender]:
    if name not in _MODELS:
        raise UnknownNameError("model", name, _MODELS)
    return _MODELS[name]


def _parameters(factory: Callable[..., Recommender]) -> tuple[dict[str, object], bool]:
    init = factory.__init__ if inspect.isclass(factory) else factory
    params = inspect.signature(init).parameters
    out, open_ended = {}, False
    for p in params.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            open_ended = True
        elif p.kind is not inspect.Parameter.VAR_POSITIONAL and p.name not in _NOT_SETTINGS:
            out[p.name] = None if p.default is inspect.Parameter.empty else p.default
    return out, open_ended


def settings(name: str) -> dict[str, object]:
    """The settings model ``name`` takes, with their defaults (``None`` where there is none).

    Raises:
        UnknownNameError: for an unregistered name.
    """
    return _parameters(_factory(name))[0]


def check_settings(
    name: str, kwargs: Mapping[str, object], *, values: bool = True
) -> dict[str, object]:
    """Check model settings before anything is built; return them, normalised.

    Every key must be a parameter of the model's factory (unless the factory takes
    ``**kwargs``). With ``values``, settings of :data:`POSITIVE_INT_SETTINGS` must be positive
    integers, those of :data:`NON_NEGATIVE_INT_SETTINGS` integers >= 0, those of
    :data:`NON_NEGATIVE_REAL_SETTINGS` finite numbers >= 0, those of
    :data:`POSITIVE_REAL_SETTINGS` finite numbers > 0, those of
    :data:`POSITIVE_INT_SEQUENCE_SETTINGS` sequences of positive integers (one integer becomes
    a one-element tuple), and a setting whose default is a bool must be a bool. Other
    values are checked by the model itself when it is built.

    Args:
        name: registered model name.
        kwargs: ``{setting: value}``, e.g. ``{"dim": 64}``.
        values: check the values too; ``False`` checks only the names (for a search space,
            whose values are ranges).

    Returns:
        The settings, with integral floats of integer settings made ``int`` and one integer
        of a sequence setting made a tuple.

    Raises:
        UnknownNameError: for an unregistered model, or a setting the model does not take
            (the message lists the valid settings).
        ConfigError: for a value out of range or of the wrong type (the message names it).

    Example:
        >>> check_settings("bpr", {"dim": 32})
        {'dim': 32}
        >>> check_settings("bpr", {"n_layer": 3})
        Traceback (most recent call last):
        ...
        moorec.errors.UnknownNameError: unknown setting of model 'bpr' 'n_layer'; valid choices: dim
    """
    known, open_ended = _parameters(_factory(name))
    out = dict(kwargs)
    for key, value in kwargs.items():
        if key not in known:
            if open_ended:
                continue
            raise UnknownNameError(f"setting of model {name!r}", key, known)
        if not values:
            continue
        default = known[key]
        what = f"setting {key!r} of model {name!r}"
        if key in POSITIVE_INT_SETTINGS:
            if value is None and default is None:
                continue
            out[key] = _positive_int(what, value)
        elif key in NON_NEGATIVE_INT_SETTINGS:
            out[key] = _positive_int(what, value, low=0)
        elif key in NON_NEGATIVE_REAL_SETTINGS or key in POSITIVE_REAL_SETTINGS:
            _real(what, value, strict=key in POSITIVE_REAL_SETTINGS)
        elif key in POSITIVE_INT_SEQUENCE_SETTINGS:
            one = isinstance(value, numbers.Real) and not isinstance(value, bool)
            seq = (value,) if one else value
            if isinstance(seq, str) or not isinstance(seq, Iterable):
                raise ConfigError(
                    f"{what} must be a sequence of positive integers (e.g. 64,32), got {value!r}"
                )
            out[key] = tuple(_positive_int(what, v) for v in seq)
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{what} must be true or false, got {value!r}")
    return out


def _real(what: str, value: object, strict: bool) -> None:
    """Refuse ``value`` unless it is a finite real number ``>= 0`` (``> 0`` if ``strict``)."""
    kind = "a finite number > 0" if strict else "a finite number >= 0"
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
        or (strict and value == 0)
    ):
        raise ConfigError(f"{what} must be {kind}, got {value!r}")


def _positive_int(what: str, value: object, low: int = 1) -> int:
    """``value`` as an int if it is an integer >= ``low`` (an integral float is accepted)."""
    kind = "a positive integer" if low == 1 else f"an integer >= {low}"
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or int(value) != value
    ):
        raise ConfigError(f"{what} must be {kind}, got {value!r}")
    if value < low:
        raise ConfigError(f"{what} must be {kind} (>= {low}), got {value!r}")
    return int(value)


def create(
    name: str, n_users: int, n_items: int, *, seed: int = 0, train=None, **kwargs
) -> Recommender:
    """Build model ``name`` for the given index spaces.

    Args:
        name: registered model name (see :func:`available`).
        n_users: number of users.
        n_items: number of items.
        seed: seed of the parameter initialisation (and of dropout streams).
        train: the training :class:`~moorec.data.Interactions`, passed to models that need it
            (graph models, content models); ignored by the others.
        **kwargs: model settings (e.g. ``dim``), checked by :func:`check_settings`.

    Raises:
        UnknownNameError: for an unregistered name or a setting the model does not take.
        ConfigError: for a bad setting value, or when the model needs ``train`` and none is
            given.
    """
    factory = _factory(name)
    kwargs = check_settings(name, kwargs)
    if needs_train(factory):
        if train is None:
            raise ConfigError(f"model {name!r} is built from the training data: pass train=")
        kwargs["train"] = train
    return factory(n_users, n_items, **kwargs, rngs=nnx.Rngs(params=seed, dropout=seed))
