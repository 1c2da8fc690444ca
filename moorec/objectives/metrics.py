r"""Pure, vectorised metric functions in ``jax.numpy``.

Every function here is a pure function of arrays: no Python branching on array values, no
host transfers, so each runs under :func:`jax.jit` and :func:`jax.vmap` (arguments documented
as *static* must be Python values under ``jit``, e.g. via ``static_argnames``). Inputs may be
NumPy or JAX arrays. Validation of shapes and settings happens at the public boundary
(:mod:`moorec.objectives.base`), never here.

Two input layouts are used:

* per-user **ranking** metrics take ``hits: [U, K] bool`` (``hits[u, r]`` is true when the item
  at rank ``r + 1`` of user ``u``'s list is one of the user's relevant, held-out items) and
  ``n_relevant: [U] int`` (the number :math:`|R(u)|` of relevant items of each user) and return
  ``[U] float32``. The cutoff is the width ``K`` of ``hits``: slice ``hits[:, :k]`` for
  ``metric@k``. The definitions are exactly those of RecBole 1.2.1
  (``recbole/evaluator/metrics.py``); the aggregate value reported for a data split is the mean
  over the users that have at least one relevant item.
* **beyond-accuracy** metrics take ``topk: [U, K] int`` item indices (best first) and side
  information over the whole catalogue (``categories: [n_items, C] bool`` multi-hot,
  ``popularity: [n_items] int`` training interaction counts).

Example:
    >>> import numpy as np
    >>> hits = np.array([[False, True, False, True]])
    >>> round(float(ndcg(hits, np.array([3]))[0]), 4)
    0.4982
"""

from __future__ import annotations

import math

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

__all__ = [
    "aplt",
    "arp",
    "average_precision",
    "catalogue_coverage",
    "category_coverage",
    "exposure",
    "gini",
    "hit",
    "ild",
    "long_tail_mask",
    "map",
    "mrr",
    "ndcg",
    "novelty",
    "precision",
    "recall",
]

DISTANCES = ("jaccard", "cosine")
"""Distances between the category sets of two items accepted by :func:`ild`."""


# ---------------------------------------------------------------------------------------------
# per-user ranking metrics (RecBole 1.2.1)
# ---------------------------------------------------------------------------------------------
def _ranks(k: int) -> Array:
    """``[K] float32`` ranks ``1..K``."""
    return jnp.arange(1, k + 1, dtype=jnp.float32)


def _safe_div(num: Array, den: Array) -> Array:
    """``num / den`` where ``den > 0``, else 0 (no NaN from empty denominators)."""
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1), 0.0).astype(jnp.float32)


def recall(hits: ArrayLike, n_relevant: ArrayLike) -> Array:
    r"""Recall@K per user: the share of the user's relevant items found in the top K.

    .. math:: \mathrm{Recall@K}(u) = \frac{|L_K(u) \cap R(u)|}{|R(u)|}

    Source: RecBole 1.2.1 ``Recall`` (``recbole/evaluator/metrics.py``).

    Args:
        hits: ``[U, K] bool`` hit matrix of the top-K lists.
        n_relevant: ``[U] int`` number of relevant items :math:`|R(u)|` per user.

    Returns:
        ``[U] float32`` recall; 0 for a user with no relevant item (undefined in RecBole).
    """
    hits = jnp.asarray(hits)
    found = jnp.sum(hits, axis=1, dtype=jnp.float32)
    return _safe_div(found, jnp.asarray(n_relevant).astype(jnp.float32))


def ndcg(hits: ArrayLike, n_relevant: ArrayLike) -> Array:
    r"""NDCG@K per user with binary gains.

    .. math::
        \mathrm{NDCG@K}(u) = \frac{\sum_{r=1}^{K} \delta(L_r(u) \in R(u)) / \log_2(r + 1)}
                                  {\sum_{r=1}^{\min(|R(u)|, K)} 1 / \log_2(r + 1)}

    The ideal DCG places ``min(|R(u)|, K)`` hits at the top of the list, so a user with more
    relevant items than ``K`` can still reach 1. Source: RecBole 1.2.1 ``NDCG``
    (``recbole/evaluator/metrics.py``; Järvelin and Kekäläinen, TOIS 2002).

    Args:
        hits: ``[U, K] bool`` hit matrix of the top-K lists.
        n_relevant: ``[U] int`` number of relevant items per user.

    Returns:
        ``[U] float32`` NDCG in ``[0, 1]``; 0 for a user with no relevant item.
    """
    hits = jnp.asarray(hits)
    k = hits.shape[1]
    discount = 1.0 / jnp.log2(_ranks(k) + 1.0)
    dcg = jnp.sum(jnp.where(hits, discount, 0.0), axis=1)
    # ideal_dcg[j] = sum of the first j discounts, j = 0..K
    ideal_dcg = jnp.concatenate([jnp.zeros(1, jnp.float32), jnp.cumsum(discount)])
    n_ideal = jnp.clip(jnp.asarray(n_relevant), 0, k).astype(jnp.int32)
    return _safe_div(dcg, ideal_dcg[n_ideal])


def hit(hits: ArrayLike, n_relevant: ArrayLike | None = None) -> Array:
    r"""Hit@K (hit ratio) per user: 1 if any relevant item is in the top K, else 0.

    .. math:: \mathrm{Hit@K}(u) = \delta(L_K(u) \cap R(u) \neq \emptyset)

    Source: RecBole 1.2.1 ``Hit`` (``recbole/evaluator/metrics.py``).

    Args:
        hits: ``[U, K] bool`` hit matrix of the top-K lists.
        n_relevant: unused; accepted so that all ranking metrics share one signature.

    Returns:
        ``[U] float32`` values in ``{0, 1}``.
    """
    del n_relevant
    return jnp.any(jnp.asarray(hits), axis=1).astype(jnp.float32)


def precision(hits: ArrayLike, n_relevant: ArrayLike | None = None) -> Array:
    r"""Precision@K per user: the share of the K recommended items that are relevant.

    .. math:: \mathrm{Precision@K}(u) = \frac{|L_K(u) \cap R(u)|}{K}

    The denominator is always ``K``, also when the user has fewer than ``K`` relevant items.
    Source: RecBole 1.2.1 ``Precision`` (``recbole/evaluator/metrics.py``).

    Args:
        hits: ``[U, K] bool`` hit matrix of the top-K lists.
        n_relevant: unused; accepted so that all ranking metrics share one signature.

    Returns:
        ``[U] float32`` precision.
    """
    del n_relevant
    hits = jnp.asarray(hits)
    return (jnp.sum(hits, axis=1, dtype=jnp.float32) / hits.shape[1]).astype(jnp.float32)


def mrr(hits: ArrayLike, n_relevant: ArrayLike | None = None) -> Array:
    r"""Reciprocal rank per user (MRR@K once averaged over users).

    .. math:: \mathrm{MRR@K}(u) = \frac{1}{\mathrm{rank}^*_u}
        \quad (0 \text{ if no relevant item is in the top } K)

    where :math:`\mathrm{rank}^*_u` is the 1-based rank of the first relevant item.
    Source: RecBole 1.2.1 ``MRR`` (``recbole/evaluator/metrics.py``).

    Args:
        hits: ``[U, K] bool`` hit matrix of the top-K lists.
        n_relevant: unused; accepted so that all ranking metrics share one signature.

    Returns:
        ``[U] float32`` reciprocal ranks.
    """
    del n_relevant
    hits = jnp.asarray(hits)
    first = jnp.argmax(hits, axis=1).astype(jnp.float32)
    return jnp.where(jnp.any(hits, axis=1), 1.0 / (first + 1.0), 0.0).astype(jnp.float32)


def average_precision(hits: ArrayLike, n_relevant: ArrayLike) -> Array:
    r"""Average precision per user (MAP@K once averaged over users).

    .. math::
        \mathrm{AP@K}(u) = \frac{1}{\min(|R(u)|, K)}
            \sum_{r=1}^{K} \delta(L_r(u) \in R(u)) \, \mathrm{Precision@r}(u)

    The normaliser ``min(|R(u)|, K)`` (not ``|R(u)|``) follows RecBole 1.2.1 ``MAP``
    (``recbole/evaluator/metrics.py``, where ``actual_len = min(pos_len, K)``), so that a list
    that could not hold every relevant item is not penalised for it.

    Args:
        hits: ``[U, K] bool`` hit matrix of the top-K lists.
        n_relevant: ``[U] int`` number of relevant items per user.

    Returns:
        ``[U] float32`` average precision in ``[0, 1]``; 0 for a user with no relevant item.
    """
    h = jnp.asarray(hits).astype(jnp.float32)
    k = h.shape[1]
    prec_at_r = jnp.cumsum(h, axis=1) / _ranks(k)
    total = jnp.sum(prec_at_r * h, axis=1)
    denom = jnp.minimum(jnp.asarray(n_relevant), k).astype(jnp.float32)
    return _safe_div(total, denom)


map = average_precision
"""Alias of :func:`average_precision` under the metric's conventional name."""


# ---------------------------------------------------------------------------------------------
# beyond-accuracy metrics
# ---------------------------------------------------------------------------------------------
def exposure(topk: ArrayLike, n_items: int) -> Array:
    """Number of times each item appears in the lists.

    Args:
        topk: ``[U, K] int`` recommended item indices.
        n_items: catalogue size (static under ``jit``).

    Returns:
        ``[n_items] int32`` exposure counts (0 for items never recommended).
    """
    topk = jnp.asarray(topk).reshape(-1)
    return jnp.zeros(n_items, jnp.int32).at[topk].add(1)


def catalogue_coverage(topk: ArrayLike, n_items: int) -> Array:
    r"""Catalogue (item) coverage: the share of the catalogue recommended to anyone.

    .. math:: \mathrm{Coverage@K} = \frac{|\bigcup_{u} L_K(u)|}{|I|}

    Source: RecBole 1.2.1 ``ItemCoverage``; Ge, Delgado-Battenfeld and Jannach, RecSys 2010.

    Args:
        topk: ``[U, K] int`` recommended item indices.
        n_items: catalogue size :math:`|I|` (static under ``jit``).

    Returns:
        ``[] float32`` scalar in ``[0, 1]``.
    """
    seen = exposure(topk, n_items) > 0
    return (jnp.sum(seen, dtype=jnp.float32) / n_items).astype(jnp.float32)


def gini(topk: ArrayLike, n_items: int) -> Array:
    r"""Gini index of item exposure over the whole catalogue (0 = equal, towards 1 = concentrated).

    With :math:`P_{(1)} \le \dots \le P_{(n)}` the exposure counts of **all** ``n = n_items``
    items sorted in non-decreasing order (items never recommended count with 0),

    .. math:: \mathrm{Gini@K} = \frac{\sum_{i=1}^{n} (2i - n - 1) P_{(i)}}{n \sum_{i=1}^{n} P_{(i)}}

    Source: RecBole 1.2.1 ``GiniIndex`` (``recbole/evaluator/metrics.py``); Fleder and
    Hosanagar, Management Science 2009.

    Args:
        topk: ``[U, K] int`` recommended item indices.
        n_items: catalogue size (static under ``jit``).

    Returns:
        ``[] float32`` scalar in ``[0, 1 - 1/n]``; 0 for empty lists.
    """
    counts = jnp.sort(exposure(topk, n_items)).astype(jnp.float32)
    i = jnp.arange(1, n_items + 1, dtype=jnp.float32)
    num = jnp.sum((2.0 * i - n_items - 1.0) * counts)
    return _safe_div(num, n_items * jnp.sum(counts))


def _pairwise_distance(cats: Array, distance: str) -> Array:
    """``[U, K, K]`` distances between the category sets of the items of each list."""
    inter = jnp.einsum("ukc,ulc->ukl", cats, cats)
    size = jnp.sum(cats, axis=-1)  # [U, K]
    si, sj = size[:, :, None], size[:, None, :]
    if distance == "jaccard":
        den = si + sj - inter
    elif distance == "cosine":
        den = jnp.sqrt(si * sj)
    else:  # validated at the public boundary; this guards direct calls
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    both_empty = (si == 0) & (sj == 0)
    sim = jnp.where(den > 0, inter / jnp.where(den > 0, den, 1.0), jnp.where(both_empty, 1.0, 0.0))
    return jnp.clip(1.0 - sim, 0.0, 1.0)


def ild(topk: ArrayLike, categories: ArrayLike, distance: str = "jaccard") -> Array:
    r"""Intra-list diversity per user: mean pairwise category distance within the list.

    .. math:: \mathrm{ILD@K}(u) = \frac{2}{K(K-1)} \sum_{r < s} d(L_r(u), L_s(u))

    with :math:`d` computed on the items' category sets :math:`A, B`:
    ``"jaccard"``: :math:`1 - |A \cap B| / |A \cup B|`; ``"cosine"`` (of the multi-hot
    vectors): :math:`1 - |A \cap B| / \sqrt{|A| |B|}`. Two items that both have no category
    have distance 0; an item without category and one with categories have distance 1.
    Sources: Smyth and McClave, ICCBR 2001 (diversity as mean pairwise dissimilarity); Ziegler
    et al., WWW 2005 (intra-list similarity over a taxonomy).

    Memory grows as ``U * K * C`` (gathered multi-hot rows) plus ``U * K * K``; evaluate large
    user sets in chunks.

    Args:
        topk: ``[U, K] int`` recommended item indices.
        categories: ``[n_items, C] bool`` multi-hot item categories.
        distance: ``"jaccard"`` or ``"cosine"`` (static under ``jit``).

    Returns:
        ``[U] float32`` ILD in ``[0, 1]``; 0 when ``K < 2``.
    """
    topk = jnp.asarray(topk)
    k = topk.shape[1]
    cats = jnp.asarray(categories).astype(jnp.float32)[topk]  # [U, K, C]
    dist = _pairwise_distance(cats, distance)
    off_diagonal = 1.0 - jnp.eye(k, dtype=jnp.float32)
    pairs = max(k * (k - 1), 1)
    return (jnp.sum(dist * off_diagonal, axis=(1, 2)) / pairs).astype(jnp.float32)


def category_coverage(topk: ArrayLike, categories: ArrayLike) -> Array:
    r"""Category coverage per user: the share of all categories present in the list.

    .. math:: \mathrm{CatCov@K}(u) = \frac{|\bigcup_{i \in L_K(u)} \mathrm{cat}(i)|}{C}

    Args:
        topk: ``[U, K] int`` recommended item indices.
        categories: ``[n_items, C] bool`` multi-hot item categories.

    Returns:
        ``[U] float32`` values in ``[0, 1]`` (0 when ``C == 0``).
    """
    cats = jnp.asarray(categories)
    n_cat = cats.shape[1]
    present = jnp.any(cats.astype(bool)[jnp.asarray(topk)], axis=1)  # [U, C]
    return (jnp.sum(present, axis=1, dtype=jnp.float32) / max(n_cat, 1)).astype(jnp.float32)


def novelty(topk: ArrayLike, popularity: ArrayLike) -> Array:
    r"""Novelty per user: mean self-information of the recommended items.

    .. math::
        \mathrm{Novelty@K}(u) = \frac{1}{K} \sum_{i \in L_K(u)} -\log_2 p(i), \qquad
        p(i) = \frac{c_i + 1}{\sum_j c_j + |I|}

    where :math:`c_i` is item ``i``'s number of training interactions. The add-one (Laplace)
    smoothing gives items never seen in training a finite self-information. Sources: Zhou et
    al., PNAS 2010; Vargas and Castells, RecSys 2011.

    Args:
        topk: ``[U, K] int`` recommended item indices.
        popularity: ``[n_items] int`` training interaction counts.

    Returns:
        ``[U] float32`` novelty in bits.
    """
    pop = jnp.asarray(popularity).astype(jnp.float32)
    total = jnp.sum(pop) + pop.shape[0]
    info = jnp.log2(total) - jnp.log2(pop + 1.0)  # [n_items] self-information
    return jnp.mean(info[jnp.asarray(topk)], axis=1).astype(jnp.float32)


def arp(topk: ArrayLike, popularity: ArrayLike) -> Array:
    r"""Average recommendation popularity per user.

    .. math:: \mathrm{ARP@K}(u) = \frac{1}{K} \sum_{i \in L_K(u)} \phi(i)

    with :math:`\phi(i)` the number of training interactions of item ``i``. Sources:
    Abdollahpouri, Burke and Mobasher, FLAIRS 2019; RecBole 1.2.1 ``AveragePopularity``.

    Args:
        topk: ``[U, K] int`` recommended item indices.
        popularity: ``[n_items] int`` training interaction counts.

    Returns:
        ``[U] float32`` mean popularity (interactions per item).
    """
    pop = jnp.asarray(popularity).astype(jnp.float32)
    return jnp.mean(pop[jnp.asarray(topk)], axis=1).astype(jnp.float32)


def long_tail_mask(popularity: ArrayLike, head_share: float = 0.2) -> Array:
    """Long-tail items: all items outside the short head.

    The short head is the ``floor(head_share * n_items)`` most popular items by training
    interactions (the top 20% of items by default, as in Abdollahpouri, Burke and Mobasher,
    FLAIRS 2019); equal counts are ordered by item index, lower first, so the split is
    deterministic. Items never seen in training are always in the tail.

    Args:
        popularity: ``[n_items] int`` training interaction counts.
        head_share: share of the catalogue in the short head, in ``[0, 1]`` (static under
            ``jit``).

    Returns:
        ``[n_items] bool``, true for long-tail items.
    """
    pop = jnp.asarray(popularity)
    n = pop.shape[0]
    n_head = math.floor(head_share * n + 1e-9)
    order = jnp.argsort(-pop.astype(jnp.float32), stable=True)  # most popular first
    rank = jnp.zeros(n, jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))
    return (rank >= n_head) | (pop <= 0)


def aplt(topk: ArrayLike, popularity: ArrayLike, head_share: float = 0.2) -> Array:
    r"""Average percentage of long-tail items per user.

    .. math:: \mathrm{APLT@K}(u) = \frac{|L_K(u) \cap \Gamma|}{K}

    where :math:`\Gamma` is the long tail, see :func:`long_tail_mask`. Source: Abdollahpouri,
    Burke and Mobasher, "Managing popularity bias in recommender systems with personalized
    re-ranking", FLAIRS 2019.

    Args:
        topk: ``[U, K] int`` recommended item indices.
        popularity: ``[n_items] int`` training interaction counts.
        head_share: share of the catalogue in the short head (static under ``jit``).

    Returns:
        ``[U] float32`` share of long-tail items in ``[0, 1]``.
    """
    tail = long_tail_mask(popularity, head_share)
    return jnp.mean(tail[jnp.asarray(topk)].astype(jnp.float32), axis=1)
