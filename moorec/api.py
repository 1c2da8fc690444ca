"""The short Python API: ``fit``, ``evaluate``, ``recommend``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from moorec.data.interactions import Interactions, csr_by_user
from moorec.models.base import Recommender
from moorec.models.registry import create
from moorec.objectives.base import Objective
from moorec.objectives.evaluate import DEFAULT_OBJECTIVES, Evaluator
from moorec.objectives.latency import recommend as _recommend
from moorec.train.loop import FitResult, TrainConfig
from moorec.train.loop import fit as _fit

__all__ = ["evaluate", "fit", "recommend"]


def fit(
    split,
    model: str | Recommender = "bpr",
    *,
    config: TrainConfig | None = None,
    progress: bool = False,
    **kwargs,
) -> FitResult:
    """Train a model on ``split.train`` with early stopping on ``split.valid``.

    Args:
        split: a :class:`~moorec.split.Split`.
        model: a registered model name (``moorec.models.available()``) or a built model.
        config: training settings; keyword arguments that are :class:`TrainConfig` fields
            (``epochs``, ``lr``, ``l2``, ``seed``, ...) override its values.
        progress: show a progress bar over epochs.
        **kwargs: :class:`TrainConfig` fields, then model settings (e.g. ``dim=64``).

    Returns:
        A :class:`~moorec.train.FitResult`; ``result.model`` holds the best validated state.

    Example:
        >>> import moorec as mr
        >>> data = mr.datasets.synthetic_shop(n_users=200, n_items=100, n_interactions=3000, seed=0)
        >>> split = mr.split.random_ratio(data, seed=0)
        >>> result = mr.fit(split, "bpr", dim=16, epochs=3)
        >>> result.best_epoch >= 1
        True
    """
    import dataclasses

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    train_kw = {k: v for k, v in kwargs.items() if k in fields}
    model_kw = {k: v for k, v in kwargs.items() if k not in fields}
    config = dataclasses.replace(config or TrainConfig(), **train_kw)
    if isinstance(model, str):
        model = create(
            model, split.n_users, split.n_items, seed=config.seed, train=split.train, **model_kw
        )
    elif model_kw:
        raise TypeError(f"model settings {sorted(model_kw)} given with an already built model")
    validate = None
    maximize = True
    if len(split.valid):
        evaluator = Evaluator(split, "valid", [config.valid_metric])
        validate = evaluator.metric(config.valid_metric)
        maximize = evaluator.objectives[0].direction == "max"
    return _fit(model, split.train, config, validate=validate, maximize=maximize, progress=progress)


def evaluate(
    model: Recommender,
    split,
    part: str = "test",
    objectives: Sequence[str | Objective] = DEFAULT_OBJECTIVES,
    **kwargs,
) -> dict[str, float]:
    """Full-ranking objectives of ``model`` on ``split``'s ``part`` (see ``Evaluator``).

    Returns:
        ``{"ndcg@10": ..., "latency_ms": ..., ...}`` in the order of ``objectives``.
    """
    return Evaluator(split, part, objectives, **kwargs)(model)


def recommend(
    model: Recommender, users, k: int = 10, *, exclude: Interactions | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items for ``users``, never an item of ``exclude`` (e.g. ``split.train``).

    Returns:
        ``(items, scores)``: ``[B, k]`` int32 item indices and float32 scores, best first.
    """
    known = None if exclude is None else csr_by_user(exclude)
    return _recommend(model, users, k, known_csr=known, known=exclude)
