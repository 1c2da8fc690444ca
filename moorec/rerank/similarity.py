"""Item similarity between each user's candidates, computed on the fly.

Never a catalogue x catalogue matrix, and inside the re-rankers not even the ``[U, N, N]``
candidate x candidate one: MMR and DPP only need, at each greedy step, the similarity of every
candidate to the item just chosen, so the candidates' side information is gathered once per
chunk (:func:`candidate_features`: ``[F, N, U]``) and :func:`similarity_row` computes that
``[N, U]`` row per step, in ``O(N F)`` time and memory per user.

Category similarities work on bit-packed category sets (:func:`pack_categories`: 32
categories to a ``uint32`` word), intersections counted with ``population_count(a & b)``, so
they are exact integer counts. :func:`candidate_similarity` forms the full ``[U, N, N]``
matrices, as a reference and utility.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from moorec.errors import UnknownNameError

__all__ = [
    "CATEGORY_SIMILARITIES",
    "SIMILARITIES",
    "CandidateFeatures",
    "candidate_features",
    "candidate_similarity",
    "category_slots",
    "gather_features",
    "pack_categories",
    "similarity_row",
    "slots_from_words",
    "tree_sum",
    "words_from_slots",
]

SIMILARITIES = ("jaccard", "cosine", "embedding")
"""Similarities accepted by :func:`candidate_similarity`: the first two on item categories,
``"embedding"`` the cosine of item embeddings."""

CATEGORY_SIMILARITIES = ("jaccard", "cosine")
"""The similarities computed from category multi-hot rows."""


def _check(similarity: str) -> None:
    if similarity not in SIMILARITIES:  # validated at the public boundary; guards direct calls
        raise UnknownNameError("re-ranking similarity", similarity, SIMILARITIES)


def pack_categories(categories: ArrayLike) -> np.ndarray:
    """Bit-pack each item's category set: category ``c`` is bit ``c % 32`` of word ``c // 32``.

    Args:
        categories: ``[n_items, C]`` bool/float multi-hot rows (non-zero: in the set).

    Returns:
        ``[n_items, ceil(C / 32)] uint32`` (at least one word; all zero for an item without
        category).
    """
    x = np.asarray(categories) != 0
    n, c = x.shape
    words = max(1, -(-c // 32))
    if c != 32 * words:
        x = np.concatenate([x, np.zeros((n, 32 * words - c), bool)], axis=1)
    return np.packbits(x, axis=1, bitorder="little").view("<u4").astype(np.uint32)


def category_slots(categories: ArrayLike) -> np.ndarray:
    """Each item's categories as a padded list of category indices, in increasing order.

    Args:
        categories: ``[n_items, C]`` bool/float multi-hot rows (non-zero: in the set).

    Returns:
        ``[n_items, M] int32`` with ``M`` the most categories any item has (at least 1); an
        item's unused places hold ``C``.
    """
    x = np.asarray(categories) != 0
    n, c = x.shape
    count = x.sum(axis=1)
    m = max(1, int(count.max()) if n else 1)
    rows, cols = np.nonzero(x)  # row-major: each row's categories in increasing order
    start = np.concatenate([[0], np.cumsum(count)[:-1]]) if n else np.zeros(0, np.int64)
    out = np.full((n, m), c, np.int32)
    out[rows, np.arange(len(rows)) - start[rows]] = cols
    return out


def tree_sum(x: Array) -> Array:
    """Sum over axis 0 as a fixed tree of elementwise adds.

    The same additions in the same order however the result is batched (``jax.vmap``), and no
    reduction over a major axis (which XLA's CPU backend runs slowly).

    Args:
        x: ``[R, ...]``.

    Returns:
        ``[...]``.
    """
    while x.shape[0] > 1:
        half = x.shape[0] // 2
        x = jnp.concatenate([x[:half] + x[half : 2 * half], x[2 * half :]], axis=0)
    return x[0]


def slots_from_words(words: ArrayLike, n_slots: int) -> Array:
    """The category indices of bit-packed category sets, in increasing order.

    The array form of :func:`category_slots`, for sets already packed and gathered: each
    place takes the lowest category left (``31 - clz(x & -x)``) and clears it.

    Args:
        words: ``[W, ...] uint32`` packed category sets (see :func:`pack_categories`).
        n_slots: ``M``, the most categories of a set (static).

    Returns:
        ``[M, ...] int32``; places beyond a set's categories hold ``32 * W``.
    """
    rest = [jnp.asarray(w, jnp.uint32) for w in jnp.asarray(words, jnp.uint32)]
    out = []
    for _ in range(n_slots):
        idx = jnp.full(rest[0].shape, 32 * len(rest), jnp.int32)
        for w in reversed(range(len(rest))):  # the lowest non-empty word wins
            low = rest[w] & (~rest[w] + jnp.uint32(1))  # its lowest set bit
            bit = 31 - jax.lax.clz(low).astype(jnp.int32)
            idx = jnp.where(rest[w] != 0, 32 * w + bit, idx)
        for w in range(len(rest)):
            mine = (idx >> 5) == w
            rest[w] = jnp.where(mine, rest[w] & (rest[w] - jnp.uint32(1)), rest[w])
        out.append(idx)
    return jnp.stack(out)


def words_from_slots(slots: ArrayLike, n_categories: int) -> Array:
    """Bit-pack category index lists: the inverse of :func:`slots_from_words`.

    Args:
        slots: ``[M, ...] int`` category indices, each at most once per set; values outside
            ``[0, n_categories)`` are unused places.
        n_categories: ``C`` (static).

    Returns:
        ``[ceil(C / 32), ...] uint32`` (see :func:`pack_categories`).
    """
    idx = jnp.asarray(slots, jnp.int32)
    ok = (idx >= 0) & (idx < n_categories)
    one_bit = jnp.where(ok, jnp.uint32(1) << (idx & 31).astype(jnp.uint32), jnp.uint32(0))
    word_of = jnp.where(ok, idx >> 5, -1)
    zero = jnp.uint32(0)
    # distinct places, so the sum over them is the bitwise or
    per_word = [
        jnp.where(word_of == w, one_bit, zero) for w in range(max(1, -(-n_categories // 32)))
    ]
    return jnp.stack([jnp.sum(x, axis=0, dtype=jnp.uint32) for x in per_word])


class CandidateFeatures(NamedTuple):
    """The candidates' side information, laid out for :func:`similarity_row`.

    Attributes:
        values: ``[W, N, U] uint32`` bit-packed category sets (``"jaccard"``, ``"cosine"``) or
            ``[d, N, U] float32`` unit-length embeddings, zero for a zero embedding
            (``"embedding"``).
        size: ``[N, U] float32`` category set sizes, or 1 for a non-zero embedding and 0 for a
            zero one.
    """

    values: Array
    size: Array


def candidate_features(features: ArrayLike, similarity: str) -> CandidateFeatures:
    """Prepare the gathered side information of each user's candidates for the greedy steps.

    Cost per user: time and memory ``O(N F)``.

    Args:
        features: ``[U, N, W] uint32`` the candidates' packed category sets
            (``pack_categories(categories)[items]``) for ``"jaccard"`` and ``"cosine"``, or
            ``[U, N, d] float`` their embeddings for ``"embedding"``.
        similarity: one of :data:`SIMILARITIES` (static under ``jit``).

    Returns:
        :class:`CandidateFeatures`, feature- and candidate-major (``[F, N, U]``).
    """
    _check(similarity)
    dtype = jnp.uint32 if similarity in CATEGORY_SIMILARITIES else jnp.float32
    return _prepare(jnp.transpose(jnp.asarray(features, dtype), (2, 1, 0)), similarity)


def _prepare(x: Array, similarity: str) -> CandidateFeatures:
    """:class:`CandidateFeatures` from the ``[F, N, U]`` gathered words or embeddings."""
    if similarity in CATEGORY_SIMILARITIES:
        size = jnp.sum(jax.lax.population_count(x), axis=0).astype(jnp.float32)
        return CandidateFeatures(x, size)
    norm = jnp.sqrt(tree_sum(x * x))
    ok = norm > 0
    unit = jnp.where(ok, x / jnp.where(ok, norm, 1.0), 0.0)
    return CandidateFeatures(unit, ok.astype(jnp.float32))


def gather_features(features: ArrayLike, items: ArrayLike, similarity: str) -> CandidateFeatures:
    """:func:`candidate_features` gathered straight from the catalogue, candidate-major.

    Args:
        features: ``[n_items, W] uint32`` packed category sets (:func:`pack_categories`) or
            ``[n_items, d] float`` embeddings.
        items: ``[N, U] int`` candidate item ids, candidate-major.
        similarity: one of :data:`SIMILARITIES` (static).

    Returns:
        :class:`CandidateFeatures`.
    """
    _check(similarity)
    dtype = jnp.uint32 if similarity in CATEGORY_SIMILARITIES else jnp.float32
    return _prepare(jnp.asarray(features, dtype).T[:, jnp.asarray(items)], similarity)


def similarity_row(cand: CandidateFeatures, j: Array, similarity: str) -> Array:
    r"""Similarity of every candidate to one candidate ``j`` of each user.

    The similarities of :func:`candidate_similarity`, one row of each user's matrix: for
    categories the same integer counts and float32 operations, so equal to that row exactly.

    Cost per user: time ``O(N F)``, memory ``O(N)``.

    Args:
        cand: the candidates' features (:func:`candidate_features`).
        j: ``[U] int`` a candidate position of each user.
        similarity: one of :data:`SIMILARITIES` (static), the one ``cand`` was prepared for.

    Returns:
        ``[N, U] float32``: ``sim(i, j_u)`` for every candidate ``i`` of user ``u``.
    """
    _check(similarity)
    j = jnp.asarray(j, jnp.int32)
    xj = jnp.take_along_axis(cand.values, j[None, None, :], axis=1)  # [F, 1, U]
    sj = jnp.take_along_axis(cand.size, j[None, :], axis=0)  # [1, U]
    size = cand.size
    both_empty = (size == 0) & (sj == 0)
    if similarity in CATEGORY_SIMILARITIES:
        inter = jnp.sum(jax.lax.population_count(cand.values & xj), axis=0)
        inter = inter.astype(jnp.float32)
        den = size + sj - inter if similarity == "jaccard" else jnp.sqrt(size * sj)
        ok = den > 0
        return jnp.where(ok, inter / jnp.where(ok, den, 1.0), jnp.where(both_empty, 1.0, 0.0))
    dot = jnp.clip(tree_sum(cand.values * xj), -1.0, 1.0)
    sim = jnp.where((size > 0) & (sj > 0), dot, jnp.where(both_empty, 1.0, 0.0))
    self_ = jnp.arange(size.shape[0], dtype=jnp.int32)[:, None] == j[None, :]
    return jnp.where(self_, 1.0, sim)


def candidate_similarity(items: ArrayLike, features: ArrayLike, similarity: str) -> Array:
    r"""Pairwise similarity of each user's candidate items, as full matrices.

    With :math:`A, B` the category sets of two items (multi-hot rows of ``features``):

    * ``"jaccard"``: :math:`|A \cap B| / |A \cup B|`;
    * ``"cosine"``: :math:`|A \cap B| / \sqrt{|A|\,|B|}` (cosine of the multi-hot vectors);
    * ``"embedding"``: :math:`\langle e_a, e_b \rangle / (\lVert e_a \rVert \lVert e_b \rVert)`
      with ``features`` the item embeddings.

    These are one minus the distances of ``ild@k`` / ``ild_cosine@k`` (see
    ``docs/objectives.md``), with the same conventions: two items without category (or with
    zero embeddings) have similarity 1, such an item and one with categories similarity 0.
    Every item has similarity 1 with itself. All three matrices are positive semi-definite
    (Gram matrices; the Jaccard one is the Tanimoto kernel), as the DPP re-ranker needs.

    The re-rankers do not form these matrices (see :func:`similarity_row`); this is the
    reference they are tested against, and a utility.

    Memory: ``U * N * F`` for the gathered rows (``F`` categories or embedding width) plus
    ``U * N * N`` for the result; time ``U * N^2 * F``.

    Args:
        items: ``[U, N] int`` candidate item indices.
        features: ``[n_items, C]`` bool/float category multi-hot rows (``"jaccard"``,
            ``"cosine"``) or ``[n_items, d]`` float item embeddings (``"embedding"``).
        similarity: one of :data:`SIMILARITIES` (static under ``jit``).

    Returns:
        ``[U, N, N] float32`` similarities, symmetric, in ``[0, 1]`` (``[-1, 1]`` for
        embeddings).
    """
    _check(similarity)
    x = jnp.asarray(features).astype(jnp.float32)[jnp.asarray(items)]  # [U, N, F]
    n = x.shape[1]
    if similarity in CATEGORY_SIMILARITIES:
        inter = jnp.einsum("unc,umc->unm", x, x)
        size = jnp.sum(x, axis=-1)
        si, sj = size[:, :, None], size[:, None, :]
        den = si + sj - inter if similarity == "jaccard" else jnp.sqrt(si * sj)
        empty_i, empty_j = si == 0, sj == 0
    else:
        inter = jnp.einsum("und,umd->unm", x, x)
        norm = jnp.sqrt(jnp.sum(x * x, axis=-1))
        ni, nj = norm[:, :, None], norm[:, None, :]
        den = ni * nj
        empty_i, empty_j = ni == 0, nj == 0
    ok = den > 0
    sim = jnp.where(ok, inter / jnp.where(ok, den, 1.0), jnp.where(empty_i & empty_j, 1.0, 0.0))
    lo = -1.0 if similarity == "embedding" else 0.0
    sim = jnp.clip(sim, lo, 1.0)
    eye = jnp.eye(n, dtype=bool)[None]
    return jnp.where(eye, 1.0, sim).astype(jnp.float32)
