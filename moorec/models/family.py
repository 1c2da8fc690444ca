"""Each model family's default settings: one table for the CLI, ``moorec.fit`` and benchmarks.

A family's defaults are its split protocol, its training settings (``TrainConfig`` fields) and
its model settings. ``moorec train --model NAME`` with no settings, ``moorec.fit(split, NAME)``
and ``benchmarks/model_quality.py`` all train with these values, and ``docs/models/NAME.md``
reports what they reach on ml-100k. Explicit settings always win over the table.

The training settings were chosen on ml-100k *validation* NDCG@10 (seed 0, early stopping on it);
the grids and figures are in ``docs/training.md`` ("Per-family defaults"). Closed-form families
(``pop``, ``itemknn``, ``ease``, ``rp3beta``) are computed in one pass and have no training
settings; their model settings were chosen the same way (grids in ``docs/models/NAME.md``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from moorec.models.bert4rec import BERT4Rec
from moorec.models.ease import EASE
from moorec.models.gru4rec import GRU4Rec
from moorec.models.lightgcn import LightGCN
from moorec.models.mf import BPRMF
from moorec.models.multvae import MultVAE
from moorec.models.ncf import NeuMF
from moorec.models.neighbourhood import ItemKNN, Pop, RP3beta
from moorec.models.sasrec import SASRec
from moorec.models.two_tower import TwoTower

__all__ = ["TRAIN_KEYS", "defaults", "table"]

#: The ``TrainConfig`` fields every family's table entry sets (closed-form families, which
#: have no epochs, set none: their training part is empty).
TRAIN_KEYS = ("lr", "l2", "batch_size", "epochs", "patience")

# name: (class, split protocol, training settings, model settings). The model settings are the
# classes' own constructor defaults (tests/models/test_defaults.py checks that they agree).
_TABLE: dict[str, tuple[type, str, dict[str, Any], dict[str, Any]]] = {
    "bpr": (
        BPRMF,
        "random",
        {"lr": 1e-3, "l2": 0.0, "batch_size": 2048, "epochs": 300, "patience": 10},
        {"dim": 64},
    ),
    "neumf": (
        NeuMF,
        "random",
        {"lr": 1e-3, "l2": 0.0, "batch_size": 2048, "epochs": 300, "patience": 10},
        {"dim": 64, "layers": (128, 64)},
    ),
    "lightgcn": (
        LightGCN,
        "random",
        {"lr": 5e-3, "l2": 1e-4, "batch_size": 2048, "epochs": 300, "patience": 10},
        {"dim": 64, "n_layers": 3},
    ),
    "two_tower": (
        TwoTower,
        "random",
        {"lr": 1e-3, "l2": 0.0, "batch_size": 2048, "epochs": 300, "patience": 10},
        {"dim": 64, "hidden": (128,), "loss": "softmax"},
    ),
    "sasrec": (
        SASRec,
        "loo",
        {"lr": 1e-3, "l2": 0.0, "batch_size": 64, "epochs": 300, "patience": 10},
        {"dim": 64, "n_blocks": 2, "n_heads": 1, "max_len": 50, "loss": "ce"},
    ),
    "bert4rec": (
        BERT4Rec,
        "loo",
        {"lr": 1e-3, "l2": 0.0, "batch_size": 32, "epochs": 300, "patience": 10},
        {"dim": 64, "n_blocks": 2, "n_heads": 2, "max_len": 50},
    ),
    # Closed-form families (``closed_form``): computed in one pass, no training settings; their
    # model settings were chosen on ml-100k validation NDCG@10 (docs/models/NAME.md).
    "pop": (Pop, "random", {}, {}),
    "itemknn": (ItemKNN, "random", {}, {"k": 150, "shrink": 5.0}),
    "ease": (EASE, "random", {}, {"reg_weight": 350.0}),
    "rp3beta": (RP3beta, "random", {}, {"k": 200, "alpha": 0.9, "beta": 0.65}),
    "multvae": (
        MultVAE,
        "random",
        {"lr": 1e-3, "l2": 0.0, "batch_size": 128, "epochs": 300, "patience": 10},
        {"dim": 200, "hidden": (600,)},
    ),
    "gru4rec": (
        GRU4Rec,
        "loo",
        {"lr": 3e-3, "l2": 0.0, "batch_size": 64, "epochs": 300, "patience": 10},
        {"dim": 64, "hidden": (128,), "max_len": 50, "loss": "top1_max"},
    ),
}


def _generic(factory: Callable[..., Any] | None) -> dict[str, Any]:
    """Defaults of a family outside the table: ``TrainConfig``'s, the sampler's protocol."""
    from moorec.train.loop import TrainConfig

    base = TrainConfig()
    sequential = getattr(factory, "sampler", "pairs") == "sequences"
    closed = getattr(factory, "closed_form", False)
    return {
        "split": "loo" if sequential else "random",
        "train": {} if closed else {k: getattr(base, k) for k in TRAIN_KEYS},
        "model": {},
    }


def defaults(model: str | type) -> dict[str, Any]:
    """The default settings of a model family.

    Args:
        model: a registered model name (``moorec.models.available()``) or a model class.

    Returns:
        A fresh dict ``{"split": protocol, "train": {lr, l2, batch_size, epochs, patience},
        "model": {setting: value}}``; ``train`` is empty for a closed-form family (one pass,
        no epochs: ``pop``, ``itemknn``, ``ease``, ``rp3beta``). ``split`` is ``"loo"``
        (time-ordered leave-one-out) for sequential models and ``"random"`` (8:1:1 per user)
        otherwise. A name registered with another factory than the built-in one, or a class
        outside the table, gets ``TrainConfig``'s defaults (none for a closed-form class), its
        sampler's protocol and no model settings.

    Raises:
        UnknownNameError: for a name that is not registered.

    Example:
        >>> from moorec.models.family import defaults
        >>> defaults("lightgcn")["train"]["lr"]
        0.005
    """
    from moorec.errors import UnknownNameError
    from moorec.models.registry import _MODELS

    if isinstance(model, str):
        if model not in _MODELS:
            raise UnknownNameError("model", model, _MODELS)
        factory = _MODELS[model]
        entry = _TABLE.get(model)
        if entry is None or entry[0] is not factory:
            return _generic(factory)
    else:
        factory = model
        entry = next((e for e in _TABLE.values() if e[0] is model), None)
        if entry is None:
            return _generic(factory)
    _, split, train, settings = entry
    return {"split": split, "train": dict(train), "model": copy.deepcopy(settings)}


def table() -> Mapping[str, dict[str, Any]]:
    """Every built-in family's defaults, by name (``{name: defaults(name)}``)."""
    return {name: defaults(name) for name in _TABLE}
