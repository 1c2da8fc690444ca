"""A re-ranking stage after the model: its settings, the side information it needs, its call.

:class:`Reranker` names one post-hoc re-ranker of :func:`moorec.rerank.rerank` with its
settings (method, weight, number of candidates, similarity, xQuAD variant and head share).
:meth:`Reranker.prepare` builds what the method reads about a set of users once (their history
category distributions for calibration, their head/tail shares and the long-tail mask for
xQuAD, the item categories or the model's item embeddings for MMR and DPP) as
:class:`RerankInputs`; :meth:`Reranker.apply` then re-ranks those users' candidates, for its own
weight or a sweep of weights. The evaluator (``Evaluator(..., rerank=...)``) and serving
(``moorec.recommend(..., rerank=...)``) run the model's top-``N`` and then this stage.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, UnknownNameError
from moorec.models import BPRMF, BERT4Rec, LightGCN, NeuMF, SASRec, TwoTower
from moorec.rerank import api as _api
from moorec.rerank.kernels import XQUAD_VARIANTS
from moorec.rerank.similarity import CATEGORY_SIMILARITIES, SIMILARITIES

__all__ = [
    "RERANK_METHODS",
    "RerankInputs",
    "Reranker",
    "as_reranker",
    "check_weights",
    "item_embeddings",
]

RERANK_METHODS = ("none", *_api.METHODS)
"""Methods of :class:`Reranker`: ``"none"`` (the model's own lists) and those of
:func:`moorec.rerank.rerank`."""

DEFAULT_HEAD_SHARE = 0.2
"""Share of the catalogue in the short head, as :func:`~moorec.objectives.metrics.long_tail_mask`
and ``aplt@k`` use by default."""

_FIELDS = ("method", "weight", "candidates", "similarity", "variant", "head_share")


def _number_in_unit(name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not math.isfinite(float(value))
        or not 0.0 <= float(value) <= 1.0
    ):
        raise ConfigError(f"re-ranking {name} must be a number in [0, 1], got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class Reranker:
    """One re-ranker of each user's top-``N`` candidates, with its settings.

    Attributes:
        method: ``"none"`` (no re-ranking: the model's own top-``K``), ``"mmr"``, ``"dpp"``,
            ``"calibration"`` or ``"xquad"`` (see ``docs/rerank.md``).
        weight: trade-off in ``[0, 1]``; 0 is relevance alone (the model's own top-``K``).
        candidates: ``N``, the model's best items each user's list is re-ranked from (at most
            the catalogue is used; it must be at least the list length ``K``).
        similarity: ``"jaccard"``, ``"cosine"`` (item categories) or ``"embedding"`` (the
            model's item embeddings, :func:`item_embeddings`); read by MMR and DPP.
        variant: xQuAD's ``"binary"`` or ``"smooth"`` coverage.
        head_share: share of the catalogue, the most popular items in training, forming the
            short head for xQuAD (the rest is the long tail), in ``[0, 1]``.

    Raises:
        UnknownNameError: for an unknown method, similarity or variant (listing the choices).
        ConfigError: for a weight or head share outside ``[0, 1]``, or candidates that are
            not a positive integer (naming the value).

    Example:
        >>> r = Reranker("mmr", weight=0.3, candidates=50)
        >>> r.settings()["weight"]
        0.3
    """

    method: str
    weight: float = 0.5
    candidates: int = 100
    similarity: str = "jaccard"
    variant: str = "binary"
    head_share: float = DEFAULT_HEAD_SHARE

    def __post_init__(self):
        if not isinstance(self.method, str) or self.method not in RERANK_METHODS:
            raise UnknownNameError("re-ranker", self.method, RERANK_METHODS)
        if not isinstance(self.similarity, str) or self.similarity not in SIMILARITIES:
            raise UnknownNameError("re-ranking similarity", self.similarity, SIMILARITIES)
        if not isinstance(self.variant, str) or self.variant not in XQUAD_VARIANTS:
            raise UnknownNameError("xQuAD variant", self.variant, XQUAD_VARIANTS)
        object.__setattr__(self, "weight", _number_in_unit("weight", self.weight))
        object.__setattr__(self, "head_share", _number_in_unit("head_share", self.head_share))
        n = self.candidates
        if (
            isinstance(n, bool)
            or not isinstance(n, int | float | np.integer | np.floating)
            or not math.isfinite(float(n))
            or int(n) != n
            or n < 1
        ):
            raise ConfigError(
                f"re-ranking candidates must be a positive integer (N >= 1), got {n!r}"
            )
        object.__setattr__(self, "candidates", int(n))

    @property
    def active(self) -> bool:
        """Whether this re-ranks at all (``method != "none"``)."""
        return self.method != "none"

    @property
    def needs_categories(self) -> bool:
        """Whether the method reads item categories (MMR/DPP on categories, calibration)."""
        if self.method in ("mmr", "dpp"):
            return self.similarity in CATEGORY_SIMILARITIES
        return self.method == "calibration"

    @property
    def needs_embeddings(self) -> bool:
        """Whether the method reads the model's item embeddings (MMR/DPP, ``"embedding"``)."""
        return self.method in ("mmr", "dpp") and self.similarity == "embedding"

    @property
    def needs_history(self) -> bool:
        """Whether the method reads each user's known items (calibration, xQuAD)."""
        return self.method in ("calibration", "xquad")

    def settings(self) -> dict:
        """The settings, JSON-ready.

        Returns:
            ``{"method", "weight", "candidates", "similarity", "variant", "head_share"}``.
        """
        return {name: getattr(self, name) for name in _FIELDS}

    @classmethod
    def from_settings(cls, mapping: Mapping[str, object]) -> Reranker:
        """A re-ranker from a mapping of settings (as :meth:`settings` writes them).

        Args:
            mapping: ``method`` (required) and any of ``weight``, ``candidates``,
                ``similarity``, ``variant``, ``head_share``.

        Returns:
            The :class:`Reranker`.

        Raises:
            UnknownNameError: for a key that is not a setting (listing the valid keys), or a
                bad name (as the constructor).
            ConfigError: if ``mapping`` is not a mapping or has no ``method``, or for a bad
                value (as the constructor).
        """
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"re-ranker settings must be a mapping, got {type(mapping).__name__}")
        for key in mapping:
            if key not in _FIELDS:
                raise UnknownNameError("re-ranker setting", key, _FIELDS)
        if "method" not in mapping:
            raise ConfigError(
                f"re-ranker settings need a method (one of {', '.join(RERANK_METHODS)}), got "
                f"keys {sorted(mapping)}"
            )
        return cls(**dict(mapping))

    def prepare(
        self,
        known: Interactions | None,
        users,
        *,
        categories=None,
        popularity=None,
        model=None,
    ) -> RerankInputs:
        """The side information this method reads about ``users``, built once.

        Args:
            known: each user's known interactions (the items excluded from the ranking, e.g.
                ``split.train``); calibration and xQuAD read the users' histories from them.
                Only needed by those two methods.
            users: ``[U]`` user indices, in the order of the candidate rows to re-rank.
            categories: ``[n_items, C]`` bool item categories; by default
                ``known.item_features.categories``.
            popularity: ``[n_items]`` training interaction counts forming xQuAD's head and
                tail (:func:`~moorec.objectives.metrics.long_tail_mask` with
                :attr:`head_share`); by default ``known.item_counts()``.
            model: the model whose item embeddings ``similarity="embedding"`` reads (or add
                them later with :meth:`with_model`).

        Returns:
            :class:`RerankInputs` for ``users``.

        Raises:
            ConfigError: if the method needs item categories and none are given or known,
                embeddings of a model that has none, or known interactions that are not
                given.
        """
        users = np.asarray(users, dtype=np.int32).reshape(-1)
        if self.needs_history and known is None:
            raise ConfigError(
                f"re-ranker {self.method!r} reads each user's known items: pass the known "
                "interactions (e.g. split.train)"
            )
        cats = None
        if self.needs_categories:
            cats = _categories(categories, known)
            if cats is None:
                name = "the data" if known is None else f"data set {known.name!r}"
                fix = (
                    "load a data set with categories or use another re-ranker"
                    if self.method == "calibration"
                    else "use similarity='embedding' (the model's item embeddings) or load a "
                    "data set with categories"
                )
                raise ConfigError(
                    f"re-ranker {self.method!r} (similarity {self.similarity!r}) reads item "
                    f"categories, and {name} has none; {fix}"
                )
        embeddings = None
        if self.needs_embeddings and model is not None:
            embeddings = _embeddings_of(model)
        user_categories = tail = user_groups = None
        if self.method == "calibration":
            user_categories = _api.history_category_distribution(known, users, cats)
        elif self.method == "xquad":
            from moorec.objectives.metrics import long_tail_mask

            pop = known.item_counts() if popularity is None else np.asarray(popularity)
            tail = np.asarray(long_tail_mask(pop, self.head_share), dtype=bool)
            user_groups = _api.history_group_share(known, users, tail)
        return RerankInputs(
            users=users,
            categories=cats,
            embeddings=embeddings,
            user_categories=user_categories,
            tail=tail,
            user_groups=user_groups,
        )

    def with_model(self, inputs: RerankInputs, model) -> RerankInputs:
        """``inputs`` with the item embeddings of ``model`` where this method reads them.

        Args:
            inputs: side information from :meth:`prepare` (built without a model).
            model: the model whose candidates are re-ranked.

        Returns:
            ``inputs`` itself when the method reads no embeddings, else a copy holding
            ``[n_items, d]`` embeddings of ``model``.

        Raises:
            ConfigError: if the method reads embeddings and ``model`` has none.
        """
        if not self.needs_embeddings:
            return inputs
        return dataclasses.replace(inputs, embeddings=_embeddings_of(model))

    def apply(
        self, scores, items, inputs: RerankInputs, weights=None, *, k: int = 10
    ) -> _api.Reranked:
        """Re-rank the users' candidates into top-``k`` lists.

        Args:
            scores: ``[U, N]`` float candidate scores, best first (``-inf``: invalid).
            items: ``[U, N]`` int candidate item ids, known items excluded.
            inputs: side information of the same ``U`` users, in the same order
                (:meth:`prepare`, with the model's embeddings for ``"embedding"``).
            weights: ``None`` for :attr:`weight`, or a ``[W]`` sequence of weights in
                ``[0, 1]`` (a sweep in one program).
            k: list length, ``1 <= k <= N``.

        Returns:
            :class:`~moorec.rerank.Reranked`: ``[U, k]`` arrays for ``weights=None`` or a
            number, ``[W, U, k]`` for a sequence. Method ``"none"`` returns the first ``k``
            candidates (the model's own lists) for every weight.

        Raises:
            ConfigError: for rows that do not match ``inputs``, ``k > N``, a bad weight, or
                missing side information (as :func:`moorec.rerank.rerank`).
        """
        w = self.weight if weights is None else weights
        if self.needs_embeddings and inputs.embeddings is None:
            raise ConfigError(
                "similarity='embedding' reads the model's item embeddings, and the inputs hold "
                "none: prepare them with model= (or Reranker.with_model)"
            )
        scores = np.asarray(scores, dtype=np.float32)
        items = np.asarray(items)
        if scores.ndim != 2 or scores.shape[0] != len(inputs.users):
            raise ConfigError(
                f"candidate scores must be [U, N] for the U={len(inputs.users)} users of the "
                f"prepared inputs, got shape {scores.shape}"
            )
        w_arr = check_weights(w)
        if not self.active:
            if not 1 <= k <= scores.shape[1]:
                raise ConfigError(
                    f"k={k} must lie in [1, N={scores.shape[1]}] (the candidates per user)"
                )
            top = np.asarray(items[:, :k], dtype=np.int32)
            pos = np.broadcast_to(np.arange(k, dtype=np.int32), top.shape).copy()
            if w_arr.ndim == 0:
                return _api.Reranked(top, pos)
            n = w_arr.size
            return _api.Reranked(np.repeat(top[None], n, axis=0), np.repeat(pos[None], n, axis=0))
        return _api.rerank(
            scores,
            items,
            w,
            method=self.method,
            k=k,
            categories=inputs.categories,
            embeddings=inputs.embeddings,
            similarity=self.similarity,
            user_categories=inputs.user_categories,
            tail=inputs.tail,
            user_groups=inputs.user_groups,
            variant=self.variant,
        )


@dataclasses.dataclass(frozen=True, eq=False)
class RerankInputs:
    """The side information one :class:`Reranker` reads about a set of users.

    Attributes:
        users: ``[U]`` int32 user indices, the order of the candidate rows.
        categories: ``[n_items, C]`` bool item categories (MMR/DPP on categories,
            calibration), else ``None``.
        embeddings: ``[n_items, d]`` float32 item embeddings of the model
            (``similarity="embedding"``), else ``None``.
        user_categories: ``[U, C]`` float32 history category distributions (calibration).
        tail: ``[n_items]`` bool long-tail mask (xQuAD).
        user_groups: ``[U, 2]`` float32 ``(P(head|u), P(tail|u))`` (xQuAD).
    """

    users: np.ndarray
    categories: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    user_categories: np.ndarray | None = None
    tail: np.ndarray | None = None
    user_groups: np.ndarray | None = None


def check_weights(weights) -> np.ndarray:
    """``weights`` as a float64 array, refused unless a number or a 1-D sequence in ``[0, 1]``.

    Args:
        weights: one weight or a ``[W]`` sequence of them.

    Returns:
        ``[]`` (0-d) or ``[W]`` float64.

    Raises:
        ConfigError: for another shape, an empty sequence or a value outside ``[0, 1]``.
    """
    try:
        arr = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"re-ranking weights must be a number or a 1-D sequence of numbers, got {weights!r}"
        ) from None
    if arr.ndim > 1 or arr.size == 0:
        raise ConfigError(
            f"re-ranking weights must be a number or a non-empty 1-D sequence, got shape "
            f"{arr.shape}"
        )
    if isinstance(weights, bool | str):
        _number_in_unit("weight", weights)
    for value in arr.reshape(-1).tolist():
        _number_in_unit("weight", value)
    return arr


def _categories(categories, known: Interactions | None) -> np.ndarray | None:
    if categories is None and known is not None and known.item_features is not None:
        categories = known.item_features.categories
    if categories is None:
        return None
    cats = np.asarray(categories, dtype=bool)
    if cats.ndim != 2 or cats.shape[1] == 0:
        return None
    return cats


def item_embeddings(model) -> np.ndarray | None:
    """The item embeddings a model scores with, for ``similarity="embedding"``.

    * BPR-MF: the item embedding table ``item_emb``;
    * LightGCN: the final (layer-mean) item embeddings (``model.embeddings()[1]``);
    * two-tower: the item tower's outputs for the whole catalogue (``item_vectors()``);
    * SASRec, BERT4Rec: the output item embeddings (``item_table()``);
    * NeuMF: none (it scores through an MLP over two embedding tables, not by an inner
      product of one item embedding);
    * any other model: the result of its ``item_embeddings()`` method if it has one, else none.

    Args:
        model: a :class:`~moorec.models.Recommender`.

    Returns:
        ``[n_items, d]`` float32, or ``None`` when the model has no item embeddings.
    """
    if isinstance(model, BPRMF):
        emb = model.item_emb[...]
    elif isinstance(model, LightGCN):
        emb = model.embeddings()[1]
    elif isinstance(model, TwoTower):
        emb = model.item_vectors()
    elif isinstance(model, SASRec | BERT4Rec):
        emb = model.item_table()
    elif isinstance(model, NeuMF):
        return None
    elif callable(getattr(model, "item_embeddings", None)):
        emb = model.item_embeddings()
    else:
        return None
    return np.asarray(emb, dtype=np.float32)


def _embeddings_of(model) -> np.ndarray:
    emb = item_embeddings(model)
    if emb is None:
        raise ConfigError(
            f"similarity='embedding' re-ranks by the model's item embeddings, and model "
            f"{type(model).__name__} has none; use similarity='jaccard' or 'cosine' (item "
            "categories)"
        )
    n_items = getattr(model, "n_items", emb.shape[0])
    if emb.ndim != 2 or emb.shape[0] != n_items:
        raise ConfigError(
            f"item embeddings of {type(model).__name__} must be [n_items={n_items}, d], got "
            f"shape {emb.shape}"
        )
    return emb


def as_reranker(value, **overrides) -> Reranker | None:
    """A :class:`Reranker` from a name, a mapping, a :class:`Reranker` or ``None``.

    Args:
        value: ``None`` (no re-ranker), a method name (``"mmr"``), a mapping of settings
            (:meth:`Reranker.from_settings`) or a :class:`Reranker`.
        **overrides: settings replacing those of ``value`` (e.g. ``weight=0.3``); overrides
            whose value is ``None`` are ignored.

    Returns:
        The :class:`Reranker`, or ``None`` for ``value=None`` without overrides.

    Raises:
        ConfigError: for settings given without a re-ranker, or a value of another type.
        UnknownNameError: for an unknown method or setting name.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    for key in overrides:
        if key not in _FIELDS:
            raise UnknownNameError("re-ranker setting", key, _FIELDS)
    if value is None:
        if overrides:
            raise ConfigError(
                f"re-ranking settings {sorted(overrides)} given without a re-ranker; name one "
                f"(rerank=, one of {', '.join(RERANK_METHODS)})"
            )
        return None
    if isinstance(value, Reranker):
        return dataclasses.replace(value, **overrides) if overrides else value
    if isinstance(value, str):
        return Reranker(value, **overrides)
    if isinstance(value, Mapping):
        return Reranker.from_settings({**value, **overrides})
    raise ConfigError(
        "a re-ranker must be None, a method name, a mapping of settings or a Reranker, got "
        f"{type(value).__name__}"
    )
