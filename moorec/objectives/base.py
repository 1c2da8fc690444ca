"""Objective classes, the :class:`RankingContext` they read, and the name registry.

An :class:`Objective` knows its name, cutoff ``k``, direction and kind, and computes one float
from a :class:`RankingContext` (the top-K lists of the evaluated users plus what the evaluator
measured). Objectives are frozen dataclasses, so they compare and hash by value and can be
written in configs by key: ``parse("ndcg@10") == NDCG(10)``.

Kinds:

* ``"ranking"``: accuracy of the lists against held-out items (RecBole 1.2.1 definitions);
* ``"beyond"``: beyond-accuracy properties of the lists (diversity, coverage, novelty,
  popularity bias), which may need item categories or training popularity;
* ``"system"``: values measured by the evaluator (latency, parameter count), read from
  :attr:`RankingContext.system`.

Example:
    >>> import numpy as np
    >>> ctx = RankingContext(
    ...     topk=np.array([[3, 0, 2, 1]]),
    ...     hits=np.array([[False, True, False, True]]),
    ...     n_relevant=np.array([3]),
    ...     n_items=5,
    ... )
    >>> [round(o.compute(ctx), 4) for o in parse_all(["hit@4", "recall@4", "coverage@4"])]
    [1.0, 0.6667, 0.8]
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Literal

import jax
import numpy as np

from moorec.errors import ConfigError, DataError, MoorecError, UnknownNameError, check_positive_int
from moorec.objectives import metrics

__all__ = [
    "APLT",
    "ARP",
    "ILD",
    "MAP",
    "MRR",
    "NDCG",
    "Array",
    "BytesAccessed",
    "CategoryCoverage",
    "Coverage",
    "Flops",
    "Gini",
    "Hit",
    "Latency",
    "Novelty",
    "Objective",
    "Params",
    "Precision",
    "RankingContext",
    "Recall",
    "available",
    "max_cutoff",
    "parse",
    "parse_all",
]

Array = Any
"""A NumPy or JAX array."""

Direction = Literal["max", "min"]
Kind = Literal["ranking", "beyond", "system"]

# Gathered multi-hot rows per chunk of users for ILD / category coverage (float32 elements).
_CHUNK_ELEMENTS = 1 << 24


# ---------------------------------------------------------------------------------------------
# context
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True, eq=False)
class RankingContext:
    """Everything an objective may read: the evaluated users' top-K lists and measurements.

    Attributes:
        topk: ``[U, K] int`` item indices, best first, for the ``U`` evaluated users (each with
            at least one relevant item). ``K`` must be at least every objective's ``k``.
        hits: ``[U, K] bool``; ``hits[u, r]`` is true when ``topk[u, r]`` is a relevant
            (held-out) item of user ``u``.
        n_relevant: ``[U] int`` number of relevant items of each user (``>= 1``).
        n_items: catalogue size; item indices lie in ``[0, n_items)``.
        item_categories: ``[n_items, n_categories] bool`` multi-hot categories (genres, shop
            categories), or ``None`` when the data set has none.
        item_popularity: ``[n_items] int`` training interaction counts, or ``None``.
        system: values measured by the evaluator, keyed by objective key: ``"latency_ms"``,
            ``"latency_p95_ms"``, ``"params"``.

    Raises:
        DataError: if shapes disagree, ``hits`` is not boolean, an item index lies outside
            ``[0, n_items)``, there are no users, or a user has no relevant item.
    """

    topk: Array
    hits: Array
    n_relevant: Array
    n_items: int
    item_categories: np.ndarray | None = None
    item_popularity: np.ndarray | None = None
    system: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        n_items = check_positive_int("n_items", self.n_items)
        object.__setattr__(self, "n_items", n_items)
        shape = tuple(np.shape(self.topk))
        if len(shape) != 2:
            raise DataError(f"topk must be [U, K] item indices, got shape {shape}")
        u, k = shape
        if u == 0 or k == 0:
            raise DataError(f"topk is empty (shape {shape}): there are no lists to evaluate")
        if tuple(np.shape(self.hits)) != shape:
            raise DataError(f"hits has shape {np.shape(self.hits)}, expected topk's {shape}")
        hits_dtype = np.asarray(self.hits).dtype
        if hits_dtype != np.bool_:
            raise DataError(f"hits must be a bool array, got dtype {hits_dtype}")
        if tuple(np.shape(self.n_relevant)) != (u,):
            raise DataError(f"n_relevant has shape {np.shape(self.n_relevant)}, expected ({u},)")
        topk_np = np.asarray(self.topk)
        if not np.issubdtype(topk_np.dtype, np.integer):
            raise DataError(f"topk must hold integer item indices, got dtype {topk_np.dtype}")
        lo, hi = int(topk_np.min()), int(topk_np.max())
        if lo < 0 or hi >= n_items:
            raise DataError(f"topk item indices must lie in [0, {n_items}), got [{lo}, {hi}]")
        n_rel_min = int(np.min(np.asarray(self.n_relevant)))
        if n_rel_min < 1:
            raise DataError(
                f"every evaluated user needs >= 1 relevant item, got n_relevant min {n_rel_min}; "
                "leave users without held-out items out of the context"
            )
        if self.item_categories is not None:
            cats = np.asarray(self.item_categories, dtype=bool)
            if cats.ndim != 2 or cats.shape[0] != n_items:
                raise DataError(
                    f"item_categories must be [n_items={n_items}, n_categories] multi-hot, "
                    f"got shape {cats.shape}"
                )
            object.__setattr__(self, "item_categories", cats)
        if self.item_popularity is not None:
            pop = np.asarray(self.item_popularity)
            if pop.shape != (n_items,):
                raise DataError(
                    f"item_popularity has shape {pop.shape}, expected (n_items={n_items},)"
                )
            if pop.size and pop.min() < 0:
                raise DataError(f"item_popularity must be counts >= 0, got min {pop.min()}")
            object.__setattr__(self, "item_popularity", pop)
        object.__setattr__(self, "system", dict(self.system))

    @property
    def n_users(self) -> int:
        """Number ``U`` of evaluated users."""
        return int(np.shape(self.topk)[0])

    @property
    def k(self) -> int:
        """Length ``K`` of the lists held."""
        return int(np.shape(self.topk)[1])


# ---------------------------------------------------------------------------------------------
# jitted kernels, defined once
# ---------------------------------------------------------------------------------------------
_recall = jax.jit(metrics.recall)
_ndcg = jax.jit(metrics.ndcg)
_hit = jax.jit(metrics.hit)
_precision = jax.jit(metrics.precision)
_mrr = jax.jit(metrics.mrr)
_ap = jax.jit(metrics.average_precision)
_ild = jax.jit(metrics.ild, static_argnames="distance")
_category_coverage = jax.jit(metrics.category_coverage)
_catalogue_coverage = jax.jit(metrics.catalogue_coverage, static_argnames="n_items")
_gini = jax.jit(metrics.gini, static_argnames="n_items")
_novelty = jax.jit(metrics.novelty)
_arp = jax.jit(metrics.arp)
_aplt = jax.jit(metrics.aplt, static_argnames="head_share")


def _mean(values: Array) -> float:
    """Mean of a ``[U]`` array, accumulated in float64."""
    return float(np.mean(np.asarray(values, dtype=np.float64)))


# ---------------------------------------------------------------------------------------------
# objectives
# ---------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Objective(abc.ABC):
    """One quantity a search optimises.

    Attributes:
        name: lowercase metric name (``"ndcg"``, ``"ild_cosine"``, ``"latency_ms"``).
        k: cutoff of the list, or ``None`` for system objectives.
        direction: ``"max"`` when larger is better, ``"min"`` when smaller is better. Values
            keep this natural direction everywhere; only an optimiser adapter flips signs.
        kind: ``"ranking"``, ``"beyond"`` or ``"system"``.
        requires: :class:`RankingContext` fields that must not be ``None``.
    """

    name: ClassVar[str]
    direction: ClassVar[Direction]
    kind: ClassVar[Kind]
    requires: ClassVar[tuple[str, ...]] = ()

    @property
    def key(self) -> str:
        """The objective's key in results: ``"ndcg@10"``, or the name when there is no cutoff."""
        k = getattr(self, "k", None)
        return self.name if k is None else f"{self.name}@{k}"

    @abc.abstractmethod
    def compute(self, ctx: RankingContext) -> float:
        """Value of the objective on ``ctx``.

        Args:
            ctx: the lists and measurements to score.

        Returns:
            The aggregate value (mean over users for per-user metrics).
        """

    def __str__(self) -> str:
        return self.key


@dataclasses.dataclass(frozen=True)
class _CutoffObjective(Objective):
    """An objective over the first ``k`` items of each list."""

    k: int

    def __post_init__(self):
        k = self.k
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
            raise ConfigError(
                f"cutoff k of {type(self).__name__} must be a positive integer, got {k!r}"
            )
        object.__setattr__(self, "k", int(k))

    def _check(self, ctx: RankingContext) -> None:
        if ctx.k < self.k:
            raise ConfigError(
                f"{self.key} needs lists of at least {self.k} items, but the ranking context "
                f"holds top-{ctx.k} lists; evaluate with K >= the largest cutoff"
            )
        for field in self.requires:
            if getattr(ctx, field) is None:
                raise MoorecError(_MISSING[field].format(key=self.key))

    def _topk(self, ctx: RankingContext) -> Array:
        self._check(ctx)
        return ctx.topk[:, : self.k]


_MISSING = {
    "item_categories": (
        "{key} needs item categories, but the data set has no categories "
        "(RankingContext.item_categories is None); choose a data set with item categories "
        "or drop {key}"
    ),
    "item_popularity": (
        "{key} needs item popularity (training interaction counts per item), but "
        "RankingContext.item_popularity is None"
    ),
}


class _PerUser(_CutoffObjective):
    """A cutoff objective defined per user and averaged over users."""

    @abc.abstractmethod
    def per_user(self, ctx: RankingContext) -> Array:
        """Per-user values.

        Args:
            ctx: the lists to score.

        Returns:
            ``[U] float32`` value of each evaluated user.
        """

    def compute(self, ctx: RankingContext) -> float:
        """Mean of :meth:`per_user` over the evaluated users.

        Args:
            ctx: the lists to score.

        Returns:
            The mean over users.
        """
        return _mean(self.per_user(ctx))


class _Ranking(_PerUser):
    """An accuracy metric of the top-k lists against the held-out items."""

    direction: ClassVar[Direction] = "max"
    kind: ClassVar[Kind] = "ranking"
    _fn: ClassVar[Callable[..., Array]]

    def per_user(self, ctx: RankingContext) -> Array:
        """Per-user values from ``ctx.hits[:, :k]`` and ``ctx.n_relevant``.

        Args:
            ctx: the lists to score.

        Returns:
            ``[U] float32`` value of each evaluated user.
        """
        self._check(ctx)
        return type(self)._fn(ctx.hits[:, : self.k], ctx.n_relevant)


@dataclasses.dataclass(frozen=True)
class Recall(_Ranking):
    """Recall@k: share of the user's relevant items in the top k (RecBole 1.2.1)."""

    name: ClassVar[str] = "recall"
    _fn = staticmethod(_recall)


@dataclasses.dataclass(frozen=True)
class NDCG(_Ranking):
    """NDCG@k with binary gains, ideal DCG over ``min(|R|, k)`` hits (RecBole 1.2.1)."""

    name: ClassVar[str] = "ndcg"
    _fn = staticmethod(_ndcg)


@dataclasses.dataclass(frozen=True)
class Hit(_Ranking):
    """Hit@k: 1 if any relevant item is in the top k (RecBole 1.2.1)."""

    name: ClassVar[str] = "hit"
    _fn = staticmethod(_hit)


@dataclasses.dataclass(frozen=True)
class Precision(_Ranking):
    """Precision@k: hits in the top k divided by k (RecBole 1.2.1)."""

    name: ClassVar[str] = "precision"
    _fn = staticmethod(_precision)


@dataclasses.dataclass(frozen=True)
class MRR(_Ranking):
    """MRR@k: reciprocal rank of the first relevant item, 0 if none (RecBole 1.2.1)."""

    name: ClassVar[str] = "mrr"
    _fn = staticmethod(_mrr)


@dataclasses.dataclass(frozen=True)
class MAP(_Ranking):
    """MAP@k: average precision normalised by ``min(|R|, k)`` (RecBole 1.2.1)."""

    name: ClassVar[str] = "map"
    _fn = staticmethod(_ap)


def _chunked(fn: Callable[..., Array], topk: Array, width: int, *args: Any, **kw: Any) -> Array:
    """Apply a per-user ``fn(topk_chunk, *args)`` over user chunks of bounded memory."""
    u, k = np.shape(topk)
    chunk = max(1, _CHUNK_ELEMENTS // max(1, k * width))
    if u <= chunk:
        return fn(topk, *args, **kw)
    parts = [np.asarray(fn(topk[s : s + chunk], *args, **kw)) for s in range(0, u, chunk)]
    return np.concatenate(parts)


def _categories(obj: _CutoffObjective, ctx: RankingContext) -> np.ndarray:
    cats = ctx.item_categories
    assert cats is not None  # checked by _check via `requires`
    if cats.shape[1] == 0:
        raise MoorecError(
            f"{obj.key} needs item categories, but the data set has no categories "
            "(item_categories has 0 columns)"
        )
    return cats


@dataclasses.dataclass(frozen=True)
class ILD(_PerUser):
    """Intra-list diversity@k: mean pairwise category distance within each list.

    Attributes:
        k: cutoff.
        distance: ``"jaccard"`` (key ``ild@k``) or ``"cosine"`` (key ``ild_cosine@k``)
            between the items' multi-hot category vectors.
    """

    k: int
    distance: str = "jaccard"
    direction: ClassVar[Direction] = "max"
    kind: ClassVar[Kind] = "beyond"
    requires: ClassVar[tuple[str, ...]] = ("item_categories",)

    def __post_init__(self):
        super().__post_init__()
        if self.distance not in metrics.DISTANCES:
            raise ConfigError(
                f"ILD distance must be one of {', '.join(metrics.DISTANCES)}, got {self.distance!r}"
            )

    @property
    def name(self) -> str:  # type: ignore[override]
        """``"ild"`` for the Jaccard distance, ``"ild_cosine"`` for the cosine distance."""
        return "ild" if self.distance == "jaccard" else f"ild_{self.distance}"

    def per_user(self, ctx: RankingContext) -> Array:
        """``[U] float32`` intra-list diversity of each list (see :func:`metrics.ild`).

        Args:
            ctx: the lists to score; needs ``item_categories``.

        Returns:
            ``[U] float32`` ILD of each evaluated user.
        """
        topk = self._topk(ctx)
        cats = _categories(self, ctx)
        return _chunked(_ild, topk, cats.shape[1] + self.k, cats, distance=self.distance)


@dataclasses.dataclass(frozen=True)
class CategoryCoverage(_PerUser):
    """Category coverage@k: distinct categories in a list / number of categories."""

    name: ClassVar[str] = "category_coverage"
    direction: ClassVar[Direction] = "max"
    kind: ClassVar[Kind] = "beyond"
    requires: ClassVar[tuple[str, ...]] = ("item_categories",)

    def per_user(self, ctx: RankingContext) -> Array:
        """``[U] float32`` share of all categories present in each list.

        Args:
            ctx: the lists to score; needs ``item_categories``.

        Returns:
            ``[U] float32`` category coverage of each evaluated user.
        """
        topk = self._topk(ctx)
        cats = _categories(self, ctx)
        return _chunked(_category_coverage, topk, cats.shape[1], cats)


@dataclasses.dataclass(frozen=True)
class Novelty(_PerUser):
    """Novelty@k: mean self-information ``-log2 p(i)``, add-one smoothed ``p(i)``."""

    name: ClassVar[str] = "novelty"
    direction: ClassVar[Direction] = "max"
    kind: ClassVar[Kind] = "beyond"
    requires: ClassVar[tuple[str, ...]] = ("item_popularity",)

    def per_user(self, ctx: RankingContext) -> Array:
        """``[U] float32`` novelty (bits) of each list.

        Args:
            ctx: the lists to score; needs ``item_popularity``.

        Returns:
            ``[U] float32`` novelty of each evaluated user.
        """
        return _novelty(self._topk(ctx), ctx.item_popularity)


@dataclasses.dataclass(frozen=True)
class ARP(_PerUser):
    """ARP@k: average training popularity of the recommended items (Abdollahpouri et al. 2019)."""

    name: ClassVar[str] = "arp"
    direction: ClassVar[Direction] = "min"
    kind: ClassVar[Kind] = "beyond"
    requires: ClassVar[tuple[str, ...]] = ("item_popularity",)

    def per_user(self, ctx: RankingContext) -> Array:
        """``[U] float32`` mean popularity of each list.

        Args:
            ctx: the lists to score; needs ``item_popularity``.

        Returns:
            ``[U] float32`` ARP of each evaluated user.
        """
        return _arp(self._topk(ctx), ctx.item_popularity)


@dataclasses.dataclass(frozen=True)
class APLT(_PerUser):
    """APLT@k: share of long-tail items, the tail being all items outside the top 20% by popularity.

    See :func:`moorec.objectives.metrics.long_tail_mask` (Abdollahpouri et al., FLAIRS 2019).
    """

    name: ClassVar[str] = "aplt"
    direction: ClassVar[Direction] = "max"
    kind: ClassVar[Kind] = "beyond"
    requires: ClassVar[tuple[str, ...]] = ("item_popularity",)
    head_share: ClassVar[float] = 0.2

    def per_user(self, ctx: RankingContext) -> Array:
        """``[U] float32`` share of long-tail items in each list.

        Args:
            ctx: the lists to score; needs ``item_popularity``.

        Returns:
            ``[U] float32`` APLT of each evaluated user.
        """
        return _aplt(self._topk(ctx), ctx.item_popularity, head_share=self.head_share)


@dataclasses.dataclass(frozen=True)
class Coverage(_CutoffObjective):
    """Catalogue coverage@k: distinct items over all lists / ``n_items`` (a single value)."""

    name: ClassVar[str] = "coverage"
    direction: ClassVar[Direction] = "max"
    kind: ClassVar[Kind] = "beyond"

    def compute(self, ctx: RankingContext) -> float:
        """Share of the catalogue that appears in at least one list.

        Args:
            ctx: the lists to score.

        Returns:
            Coverage in ``[0, 1]``.
        """
        return float(_catalogue_coverage(self._topk(ctx), n_items=ctx.n_items))


@dataclasses.dataclass(frozen=True)
class Gini(_CutoffObjective):
    """Gini index@k of item exposure over all ``n_items`` items (RecBole 1.2.1 ``GiniIndex``)."""

    name: ClassVar[str] = "gini"
    direction: ClassVar[Direction] = "min"
    kind: ClassVar[Kind] = "beyond"

    def compute(self, ctx: RankingContext) -> float:
        """Gini index of how often each catalogue item is recommended.

        Args:
            ctx: the lists to score.

        Returns:
            Gini index in ``[0, 1)``; 0 when every item is recommended equally often.
        """
        return float(_gini(self._topk(ctx), n_items=ctx.n_items))


@dataclasses.dataclass(frozen=True)
class _System(Objective):
    """A value the evaluator measures and stores in ``RankingContext.system[key]``."""

    direction: ClassVar[Direction] = "min"
    kind: ClassVar[Kind] = "system"
    k: ClassVar[None] = None

    def compute(self, ctx: RankingContext) -> float:
        """The measured value ``ctx.system[key]``.

        Args:
            ctx: context whose ``system`` mapping holds the measurement.

        Returns:
            The measured value.

        Raises:
            MoorecError: if the evaluator did not measure this objective.
        """
        if self.key not in ctx.system:
            measured = ", ".join(sorted(ctx.system)) or "(none)"
            raise MoorecError(
                f"{self.key} was not measured: the evaluator must store it in "
                f"RankingContext.system[{self.key!r}] (measured: {measured})"
            )
        return float(ctx.system[self.key])


LATENCY_STATS = ("median", "p95")
"""Statistics of the latency samples :class:`Latency` accepts."""


@dataclasses.dataclass(frozen=True)
class Latency(_System):
    """Latency in milliseconds of one jitted ``recommend(user_ids, k)`` call on a user batch.

    Measured by the evaluator after warm-up; the median (key ``latency_ms``) or the 95th
    percentile (key ``latency_p95_ms``) of repeated calls.

    Attributes:
        batch: number of users per call.
        stat: ``"median"`` or ``"p95"``.
    """

    batch: int = 256
    stat: str = "median"

    def __post_init__(self):
        object.__setattr__(self, "batch", check_positive_int("Latency batch", self.batch))
        if self.stat not in LATENCY_STATS:
            raise ConfigError(
                f"Latency stat must be one of {', '.join(LATENCY_STATS)}, got {self.stat!r}"
            )

    @property
    def name(self) -> str:  # type: ignore[override]
        """``"latency_ms"`` (median) or ``"latency_p95_ms"``."""
        return "latency_ms" if self.stat == "median" else f"latency_{self.stat}_ms"


@dataclasses.dataclass(frozen=True)
class Params(_System):
    """Number of trainable parameters of the model, counted by the evaluator."""

    name: ClassVar[str] = "params"


@dataclasses.dataclass(frozen=True)
class Flops(_System):
    """Floating-point operations of serving one batch of users, by XLA's cost analysis.

    The compiled ``recommend`` of the evaluator's latency batch of users (re-ranking
    included), counted by the compiler (:func:`~moorec.objectives.latency.recommend_cost`):
    deterministic, unlike latency. A program with a while loop is counted with the loop's body
    once (a lower bound).
    """

    name: ClassVar[str] = "flops"


@dataclasses.dataclass(frozen=True)
class BytesAccessed(_System):
    """Bytes read and written by serving one batch of users, by XLA's cost analysis.

    As :class:`Flops`, for the memory traffic XLA counts.
    """

    name: ClassVar[str] = "bytes_accessed"


@dataclasses.dataclass(frozen=True)
class TrainableParams(_System):
    """Number of parameters that training updates (smaller with LoRA or adapters)."""

    name: ClassVar[str] = "trainable_params"


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
_WITH_CUTOFF: dict[str, Callable[[int], Objective]] = {
    "recall": Recall,
    "ndcg": NDCG,
    "hit": Hit,
    "precision": Precision,
    "mrr": MRR,
    "map": MAP,
    "ild": ILD,
    "ild_cosine": functools.partial(ILD, distance="cosine"),
    "category_coverage": CategoryCoverage,
    "coverage": Coverage,
    "novelty": Novelty,
    "gini": Gini,
    "arp": ARP,
    "aplt": APLT,
}
_WITHOUT_CUTOFF: dict[str, Callable[[], Objective]] = {
    "latency_ms": Latency,
    "latency_p95_ms": functools.partial(Latency, stat="p95"),
    "params": Params,
    "trainable_params": TrainableParams,
    "flops": Flops,
    "bytes_accessed": BytesAccessed,
}
_KIND_OF = {
    **{n: f(1).kind for n, f in _WITH_CUTOFF.items()},
    **{n: f().kind for n, f in _WITHOUT_CUTOFF.items()},
}


def available(kind: str | None = None) -> list[str]:
    """Names :func:`parse` accepts.

    Args:
        kind: only names of this kind (``"ranking"``, ``"beyond"``, ``"system"``), or all.

    Returns:
        Sorted names; those of ranking and beyond-accuracy objectives take ``@k``.

    Raises:
        UnknownNameError: for an unknown ``kind``.
    """
    if kind is not None and kind not in ("ranking", "beyond", "system"):
        raise UnknownNameError("objective kind", kind, ("ranking", "beyond", "system"))
    return sorted(n for n, kd in _KIND_OF.items() if kind is None or kd == kind)


_INT = re.compile(r"[+-]?\d+")


def parse(spec: str | Objective) -> Objective:
    """Turn a key such as ``"ndcg@10"`` or ``"latency_ms"`` into an :class:`Objective`.

    Names are case-insensitive and surrounding spaces are ignored. ``parse(o.key) == o`` for
    every objective with default settings (``Latency`` keys do not record ``batch``).

    Args:
        spec: ``"name@k"`` for ranking and beyond-accuracy objectives, ``"name"`` for system
            objectives, or an :class:`Objective`, returned unchanged.

    Returns:
        The objective.

    Raises:
        UnknownNameError: if the name is not one of :func:`available`.
        ConfigError: if a cutoff is missing, not a positive integer, or given to a system
            objective.

    Example:
        >>> parse("NDCG@10")
        NDCG(k=10)
        >>> parse("latency_p95_ms")
        Latency(batch=256, stat='p95')
    """
    if isinstance(spec, Objective):
        return spec
    if not isinstance(spec, str):
        raise ConfigError(
            f"an objective must be a key such as 'ndcg@10' or an Objective, got {spec!r}"
        )
    text = spec.strip().lower()
    name, at, cutoff = text.partition("@")
    name = name.strip()
    if name in _WITHOUT_CUTOFF:
        if at:
            raise ConfigError(f"objective {name!r} takes no cutoff '@k', got {spec!r}")
        return _WITHOUT_CUTOFF[name]()
    if name in _WITH_CUTOFF:
        if not at:
            raise ConfigError(
                f"objective {name!r} needs a cutoff: write '{name}@k', e.g. '{name}@10' "
                f"(got {spec!r})"
            )
        cutoff = cutoff.strip()
        if not _INT.fullmatch(cutoff) or int(cutoff) <= 0:
            raise ConfigError(f"cutoff k in {spec!r} must be a positive integer, got {cutoff!r}")
        return _WITH_CUTOFF[name](int(cutoff))
    raise UnknownNameError("objective", name, available())


def parse_all(specs: str | Iterable[str | Objective]) -> list[Objective]:
    """Parse several objectives, keeping their order.

    Args:
        specs: keys or :class:`Objective` instances, or one comma-separated string
            (``"ndcg@10, ild@10, latency_ms"``).

    Returns:
        The objectives.

    Raises:
        ConfigError: if there are none, or two share a key.
        UnknownNameError: for an unknown name (see :func:`parse`).
    """
    if isinstance(specs, str):
        specs = [s for s in specs.split(",") if s.strip()]
    objectives = [parse(s) for s in specs]
    if not objectives:
        raise ConfigError(f"at least one objective is needed; valid names: {available()}")
    seen: set[str] = set()
    for o in objectives:
        if o.key in seen:
            keys = [x.key for x in objectives]
            raise ConfigError(f"objective {o.key!r} is given twice in {keys}")
        seen.add(o.key)
    return objectives


def max_cutoff(objectives: Iterable[Objective]) -> int | None:
    """Largest cutoff ``k`` among ``objectives`` (the list length to rank), or ``None``.

    Args:
        objectives: objectives to scan.

    Returns:
        The largest ``k``, or ``None`` when no objective has a cutoff.
    """
    ks = [o.k for o in objectives if o.k is not None]
    return max(ks) if ks else None
