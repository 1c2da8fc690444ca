"""Models by name, so that configs and the command line can refer to them."""

from __future__ import annotations

from collections.abc import Callable

from flax import nnx

from moorec.errors import UnknownNameError
from moorec.models.base import Recommender
from moorec.models.mf import BPRMF

__all__ = ["available", "create", "register"]

_MODELS: dict[str, Callable[..., Recommender]] = {"bpr": BPRMF}


def register(name: str, factory: Callable[..., Recommender]) -> None:
    """Make ``factory(n_users, n_items, **kwargs, rngs=...)`` available as ``name``."""
    _MODELS[name] = factory


def available() -> list[str]:
    """Names of the registered models."""
    return sorted(_MODELS)


def create(name: str, n_users: int, n_items: int, *, seed: int = 0, **kwargs) -> Recommender:
    """Build model ``name`` for the given index spaces.

    Args:
        name: registered model name (see :func:`available`).
        n_users: number of users.
        n_items: number of items.
        seed: seed of the parameter initialisation.
        **kwargs: model settings (e.g. ``dim``).

    Raises:
        UnknownNameError: for an unregistered name.
    """
    if name not in _MODELS:
        raise UnknownNameError("model", name, _MODELS)
    return _MODELS[name](n_users, n_items, **kwargs, rngs=nnx.Rngs(params=seed))
