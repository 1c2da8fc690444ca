"""The short Python API: ``fit``, ``evaluate``, ``recommend``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from moorec.data.interactions import Interactions, csr_by_user
from moorec.errors import ConfigError, UnknownNameError
from moorec.models.base import Recommender
from moorec.models.registry import check_settings, create, defaults, settings
from moorec.objectives.base import Objective
from moorec.objectives.evaluate import DEFAULT_OBJECTIVES, Evaluator
from moorec.objectives.latency import recommend as _recommend
from moorec.train.loop import FitResult, TrainConfig
from moorec.train.loop import fit as _fit

__all__ = ["NoValidationWarning", "evaluate", "fit", "recommend"]


class NoValidationWarning(UserWarning):
    """:func:`fit` was given a split without validation interactions: no early stopping."""


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
            (``epochs``, ``lr``, ``l2``, ``seed``, ...) override its values. Without one, the
            model family's defaults (``moorec.models.defaults(name)["train"]``: ``lr``, ``l2``,
            ``batch_size``, ``epochs``, ``patience``; for a built model, those of its class)
            fill what the keyword arguments leave unset, and ``TrainConfig``'s defaults the rest.
        progress: show a progress bar over epochs.
        **kwargs: :class:`TrainConfig` fields, then model settings (e.g. ``dim=64``); for a
            model given by name, ``moorec.models.defaults(name)["model"]`` fills the model
            settings left unset. Explicit values always win over the family's defaults.

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

    fields = [f.name for f in dataclasses.fields(TrainConfig)]
    train_kw = {k: v for k, v in kwargs.items() if k in fields}
    model_kw = {k: v for k, v in kwargs.items() if k not in fields}
    if isinstance(model, str):
        _check_fit_settings(model, model_kw, fields)
    elif model_kw:
        raise ConfigError(
            f"model settings {sorted(model_kw)} given with an already built model; give "
            f"them to the model, or pass its name; TrainConfig fields: {', '.join(fields)}"
        )
    # The model family's defaults fill what the keyword arguments leave unset.
    family = defaults(model if isinstance(model, str) else type(model))
    if config is None:
        config = TrainConfig(**{**family["train"], **train_kw})
    else:
        config = dataclasses.replace(config, **train_kw)
    if isinstance(model, str):
        model_kw = {**family["model"], **model_kw}
        model = create(
            model, split.n_users, split.n_items, seed=config.seed, train=split.train, **model_kw
        )
    validate = None
    maximize = True
    if len(split.valid):
        evaluator = Evaluator(split, "valid", [config.valid_metric])
        validate = evaluator.metric(config.valid_metric)
        maximize = evaluator.objectives[0].direction == "max"
    elif config.patience > 0:
        warnings.warn(
            f"the validation part of this split is empty, so early stopping is off: all "
            f"{config.epochs} epochs run and the last state is kept (best_valid is nan); "
            "split with a validation share, e.g. ratios=(0.8, 0.1, 0.1), or pass patience=0 "
            "to train a fixed number of epochs without this warning",
            NoValidationWarning,
            stacklevel=2,
        )
    return _fit(model, split.train, config, validate=validate, maximize=maximize, progress=progress)


def _check_fit_settings(name: str, model_kw: dict, fields: Sequence[str]) -> None:
    """Refuse a keyword of :func:`fit` that is neither a TrainConfig field nor a model setting."""
    valid = settings(name)
    unknown = [k for k in model_kw if k not in valid]
    if unknown and not _takes_any_setting(name):
        raise UnknownNameError(
            f"keyword of fit() (TrainConfig field or setting of model {name!r})",
            unknown[0],
            [*fields, *valid],
        )
    check_settings(name, model_kw)


def _takes_any_setting(name: str) -> bool:
    from moorec.models.registry import _MODELS, _parameters

    return _parameters(_MODELS[name])[1]


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
    model: Recommender,
    users,
    k: int = 10,
    *,
    exclude: Interactions | None = None,
    raw: bool = False,
    ids: Interactions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` items for ``users``, never an item of ``exclude`` (e.g. ``split.train``).

    Args:
        model: a trained recommender.
        users: ``[B]`` user indices in ``[0, model.n_users)``, or with ``raw=True`` the data
            set's raw user ids (``Interactions.user_ids``).
        k: list length, ``1 <= k <= model.n_items``. A user with fewer than ``k`` items
            outside ``exclude`` gets excluded items at the end of the list, scored ``-inf``.
        exclude: interactions whose items are never recommended to their user (sequential
            models also read each user's recent items from them).
        raw: take raw user ids and return raw item ids, mapped through the ``user_ids`` /
            ``item_ids`` of ``ids`` (default: of ``exclude``; every part of a split shares
            the data set's maps).
        ids: the interactions whose id maps ``raw`` uses, when ``exclude`` is not given.

    Returns:
        ``(items, scores)``: ``[B, k]`` int32 item indices (with ``raw=True``: ``[B, k]`` raw
        item ids, of the dtype of ``item_ids``) and ``[B, k]`` float32 scores, best first.

    Raises:
        ConfigError: for a user index out of range or not an integer, an unknown raw id, a
            ``k`` outside ``[1, n_items]``, or ``raw=True`` without id maps.

    Example:
        >>> import moorec as mr
        >>> data = mr.datasets.synthetic_shop(n_users=50, n_items=40, n_interactions=600, seed=0)
        >>> split = mr.split.random_ratio(data, seed=0)
        >>> model = mr.fit(split, "bpr", dim=8, epochs=1).model
        >>> items, scores = mr.recommend(model, [0, 1], k=5, exclude=split.train)
        >>> items.shape
        (2, 5)
    """
    maps = ids if ids is not None else exclude
    if raw and maps is None:
        raise ConfigError(
            "raw=True maps raw ids through a data set's user_ids / item_ids: pass "
            "exclude=split.train or ids=data"
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= model.n_items:
        raise ConfigError(
            f"k must be a positive integer no larger than the number of items, in "
            f"[1, {model.n_items}], got {k!r}"
        )
    index = _raw_users(users, maps) if raw else _user_indices(users, model.n_users)
    known = None if exclude is None else csr_by_user(exclude)
    items, scores = _recommend(model, index, int(k), known_csr=known, known=exclude)
    if raw:
        items = np.asarray(maps.item_ids)[items]
    return items, scores


def _user_indices(users, n_users: int) -> np.ndarray:
    """``users`` as ``[B]`` int32 indices, refused unless every one lies in ``[0, n_users)``."""
    arr = np.asarray(users)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(f"users must be a non-empty 1-d list of user indices, got {users!r:.80}")
    if arr.dtype.kind not in "iu":
        raise ConfigError(
            f"users must be integer user indices in [0, {n_users}), got {arr[0].item()!r} "
            f"(dtype {arr.dtype}); pass raw=True to give the data set's raw user ids"
        )
    bad = arr[(arr < 0) | (arr >= n_users)]
    if bad.size:
        raise ConfigError(
            f"user index {bad[0].item()} is out of range: user indices lie in [0, {n_users}) "
            f"({bad.size} of {arr.size} out of range); pass raw=True to give raw user ids"
        )
    return arr.astype(np.int32)


def _raw_users(users, maps: Interactions) -> np.ndarray:
    """Raw user ids -> ``[B]`` int32 indices through ``maps.user_ids``."""
    arr = np.asarray(users)
    if arr.ndim != 1 or arr.size == 0:
        raise ConfigError(f"users must be a non-empty 1-d list of raw user ids, got {users!r:.80}")
    lookup = {v: u for u, v in enumerate(np.asarray(maps.user_ids).tolist())}
    out = np.empty(arr.size, dtype=np.int32)
    for j, value in enumerate(arr.tolist()):
        if value not in lookup:
            some = ", ".join(repr(v) for v in list(lookup)[:3])
            raise ConfigError(
                f"raw user id {value!r} is not in data set {maps.name!r} ({len(lookup):,} user "
                f"ids, e.g. {some})"
            )
        out[j] = lookup[value]
    return out
