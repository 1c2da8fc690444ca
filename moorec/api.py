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
from moorec.rerank.stage import as_reranker
from moorec.train.loop import CLOSED_FORM_FIELDS, FitResult, TrainConfig
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
            A closed-form model (``pop``, ``itemknn``, ``ease``, ``rp3beta``) is computed in
            one pass and validated once; of the fields it reads only ``patience`` (0: no
            validation), ``valid_metric`` and ``seed``, and refuses the others as keywords.
        progress: show a progress bar over epochs.
        **kwargs: :class:`TrainConfig` fields, then model settings (e.g. ``dim=64``); for a
            model given by name, ``moorec.models.defaults(name)["model"]`` fills the model
            settings left unset. Explicit values always win over the family's defaults.

    Returns:
        A :class:`~moorec.train.FitResult`; ``result.model`` holds the best validated state.

    Raises:
        UnknownNameError: for an unknown model or keyword.
        ConfigError: for a bad setting, model settings given with a built model, or a
            ``TrainConfig`` field a closed-form model does not read (e.g. ``epochs``).

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
    closed = getattr(_factory_of(model), "closed_form", False)
    idle = sorted(k for k in train_kw if k not in CLOSED_FORM_FIELDS)
    if closed and idle:
        raise ConfigError(
            f"model {_name_of(model)!r} is computed in closed form (one pass, no epochs): "
            f"{idle} would do nothing; of the TrainConfig fields it reads only "
            f"{', '.join(CLOSED_FORM_FIELDS)}"
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
    elif config.patience > 0 and not closed:  # a closed-form model loses nothing
        warnings.warn(
            f"the validation part of this split is empty, so early stopping is off: all "
            f"{config.epochs} epochs run and the last state is kept (best_valid is nan); "
            "split with a validation share, e.g. ratios=(0.8, 0.1, 0.1), or pass patience=0 "
            "to train a fixed number of epochs without this warning",
            NoValidationWarning,
            stacklevel=2,
        )
    return _fit(model, split.train, config, validate=validate, maximize=maximize, progress=progress)


def _factory_of(model: str | Recommender):
    from moorec.models.registry import _MODELS

    return _MODELS.get(model) if isinstance(model, str) else type(model)


def _name_of(model: str | Recommender) -> str:
    return model if isinstance(model, str) else type(model).__name__


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
    *,
    rerank=None,
    rerank_weight: float | None = None,
    **kwargs,
) -> dict[str, float]:
    """Full-ranking objectives of ``model`` on ``split``'s ``part`` (see ``Evaluator``).

    Args:
        model: a trained recommender.
        split: a :class:`~moorec.split.Split`.
        part: ``"valid"`` or ``"test"``.
        objectives: objective keys or :class:`~moorec.objectives.Objective` instances.
        rerank: ``None`` (the model's own lists), or a re-ranker scoring each user's
            top-``N`` re-ranked into the top-``K``: a :class:`~moorec.rerank.Reranker`, a
            method name (``"mmr"``, ``"dpp"``, ``"calibration"``, ``"xquad"``, ``"none"``) or
            a mapping of its settings. Latency then times the model and the re-ranker.
        rerank_weight: the re-ranker's weight in ``[0, 1]``, replacing that of ``rerank``.
        **kwargs: further :class:`~moorec.objectives.Evaluator` arguments.

    Returns:
        ``{"ndcg@10": ..., "latency_ms": ..., ...}`` in the order of ``objectives``.

    Raises:
        ConfigError: for ``rerank_weight`` without ``rerank``, or a bad re-ranker setting.
        UnknownNameError: for an unknown re-ranker or setting.

    Example:
        >>> import moorec as mr
        >>> data = mr.datasets.synthetic_shop(n_users=60, n_items=50, n_interactions=900, seed=0)
        >>> split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
        >>> model = mr.fit(split, "bpr", dim=8, epochs=1).model
        >>> values = mr.evaluate(model, split, "valid", ["ndcg@10", "ild@10"], rerank="mmr",
        ...                      rerank_weight=0.5)
        >>> sorted(values)
        ['ild@10', 'ndcg@10']
    """
    reranker = as_reranker(rerank, weight=rerank_weight)
    return Evaluator(split, part, objectives, rerank=reranker, **kwargs)(model)


def recommend(
    model: Recommender,
    users,
    k: int = 10,
    *,
    exclude: Interactions | None = None,
    raw: bool = False,
    ids: Interactions | None = None,
    rerank=None,
    rerank_weight: float | None = None,
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
        rerank: ``None`` (the model's own top-``k``), or a re-ranker (a
            :class:`~moorec.rerank.Reranker`, a method name or a mapping of its settings):
            each user's top-``N`` (``N`` = its ``candidates``, at most the catalogue) is
            re-ranked into the top-``k``. Calibration and xQuAD read each user's history from
            ``exclude``; item categories come from ``exclude`` (else ``ids``), xQuAD's head
            and tail from ``exclude``'s item counts.
        rerank_weight: the re-ranker's weight in ``[0, 1]``, replacing that of ``rerank``.

    Returns:
        ``(items, scores)``: ``[B, k]`` int32 item indices (with ``raw=True``: ``[B, k]`` raw
        item ids, of the dtype of ``item_ids``) and ``[B, k]`` float32 model scores, best
        first (with a re-ranker: in the re-ranked order, the model's score of each item).

    Raises:
        ConfigError: for a user index out of range or not an integer, an unknown raw id, a
            ``k`` outside ``[1, n_items]``, ``raw=True`` without id maps, ``rerank_weight``
            without ``rerank``, a bad re-ranker setting, fewer re-ranking candidates than
            ``k``, or side information the re-ranker reads and the data lacks.
        UnknownNameError: for an unknown re-ranker or setting.

    Example:
        >>> import moorec as mr
        >>> data = mr.datasets.synthetic_shop(n_users=50, n_items=40, n_interactions=600, seed=0)
        >>> split = mr.split.random_ratio(data, seed=0)
        >>> model = mr.fit(split, "bpr", dim=8, epochs=1).model
        >>> items, scores = mr.recommend(model, [0, 1], k=5, exclude=split.train)
        >>> items.shape
        (2, 5)
        >>> items, scores = mr.recommend(model, [0, 1], k=5, exclude=split.train, rerank="mmr")
        >>> items.shape
        (2, 5)
    """
    reranker = as_reranker(rerank, weight=rerank_weight)
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
    if reranker is not None and reranker.needs_history and exclude is None:
        raise ConfigError(
            f"re-ranker {reranker.method!r} reads each user's known items: pass exclude=split.train"
        )
    features = next(
        (d.item_features for d in (exclude, ids) if d is not None and d.item_features is not None),
        None,
    )
    items, scores = _recommend(
        model,
        index,
        int(k),
        known_csr=known,
        known=exclude,
        rerank=reranker,
        item_categories=None if features is None else features.categories,
    )
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
