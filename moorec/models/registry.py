"""Models by name, so that configs and the command line can refer to them."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from flax import nnx

from moorec.errors import ConfigError, UnknownNameError
from moorec.models.base import Recommender
from moorec.models.bert4rec import BERT4Rec
from moorec.models.lightgcn import LightGCN
from moorec.models.mf import BPRMF
from moorec.models.ncf import NeuMF
from moorec.models.sasrec import SASRec
from moorec.models.two_tower import TwoTower

__all__ = ["available", "create", "register"]

_MODELS: dict[str, Callable[..., Recommender]] = {
    "bpr": BPRMF,
    "neumf": NeuMF,
    "lightgcn": LightGCN,
    "two_tower": TwoTower,
    "sasrec": SASRec,
    "bert4rec": BERT4Rec,
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
        **kwargs: model settings (e.g. ``dim``).

    Raises:
        UnknownNameError: for an unregistered name.
        ConfigError: when the model needs ``train`` and none is given.
    """
    if name not in _MODELS:
        raise UnknownNameError("model", name, _MODELS)
    factory = _MODELS[name]
    if needs_train(factory):
        if train is None:
            raise ConfigError(f"model {name!r} is built from the training data: pass train=")
        kwargs["train"] = train
    return factory(n_users, n_items, **kwargs, rngs=nnx.Rngs(params=seed, dropout=seed))
