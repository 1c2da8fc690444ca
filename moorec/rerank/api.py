"""Re-rank each user's candidates: validation, user chunks and one jitted program per chunk.

:func:`rerank` takes each user's top-``N`` candidates (``[U, N]`` scores and item ids, known
items already excluded, best first) and returns the re-ranked top-``K``. Users go through in
equal chunks of at most ``chunk_users`` (the last one padded), each chunk one call of the
jitted :func:`rerank_chunk`, which gathers the candidates' side information and runs the
greedy selection for every weight at once (``jax.vmap`` over the weights).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import re
from collections.abc import Iterator
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from moorec.data.interactions import Interactions, csr_by_user
from moorec.errors import ConfigError, UnknownNameError, check_positive_int
from moorec.rerank.kernels import (
    XQUAD_VARIANTS,
    calibration_steps,
    dpp_steps,
    mmr_steps,
    ranked_scores,
    xquad_steps,
)
from moorec.rerank.similarity import (
    CATEGORY_SIMILARITIES,
    SIMILARITIES,
    gather_features,
    pack_categories,
)

__all__ = [
    "METHODS",
    "Reranked",
    "calibration",
    "dpp",
    "history_category_distribution",
    "history_group_share",
    "mmr",
    "record_costs",
    "rerank",
    "rerank_chunk",
    "xla_cost",
    "xquad",
]

_COSTS: contextvars.ContextVar[list | None] = contextvars.ContextVar("moorec_costs", default=None)


def xla_cost(fn, *args, **kwargs) -> dict[str, float]:
    """XLA's cost analysis of the program ``jax.jit``-ed ``fn`` compiles for these arguments.

    Args:
        fn: a ``jax.jit``-ed function.
        *args: its arguments (arrays or their shapes' stand-ins; only shapes and dtypes count).
        **kwargs: its keyword (static) arguments.

    Returns:
        ``{"flops", "bytes_accessed", "loops"}``: XLA's counts of floating-point operations and
        bytes read and written, and ``1.0`` where the program holds a while loop (XLA counts
        a loop's body once, not once per iteration, so the counts are then a lower bound),
        else ``0.0``.
    """
    compiled = fn.lower(*args, **kwargs).compile()
    cost = compiled.cost_analysis()
    if isinstance(cost, list | tuple):  # older jax: one dict per device program
        cost = cost[0] if cost else {}
    text = compiled.as_text() or ""
    return {
        "flops": float(cost.get("flops", 0.0)),
        "bytes_accessed": float(cost.get("bytes accessed", 0.0)),
        "loops": 1.0 if re.search(r"\bwhile\(", text) else 0.0,
    }


@contextlib.contextmanager
def record_costs() -> Iterator[list[dict[str, float]]]:
    """Collect :func:`xla_cost` of every :func:`rerank_chunk` call :func:`rerank` makes inside.

    Yields:
        The list the block's calls append to, one dict per chunk call.
    """
    token = _COSTS.set([])
    try:
        yield _COSTS.get()
    finally:
        _COSTS.reset(token)


METHODS = ("mmr", "dpp", "calibration", "xquad")
"""Re-rankers known to :func:`rerank`."""

MEMORY_MB = 256.0
"""Default budget of one chunk's working arrays (see :func:`default_chunk_users`)."""


class Reranked(NamedTuple):
    """Re-ranked lists.

    Attributes:
        items: ``[U, K]`` int32 item ids in the order chosen (``[W, U, K]`` for ``W`` weights).
        positions: the same shape, positions of those items in the candidate lists.
    """

    items: np.ndarray
    positions: np.ndarray


@functools.partial(
    jax.jit, static_argnames=("method", "k", "similarity", "variant", "max_categories")
)
def rerank_chunk(
    scores: jax.Array,
    items: jax.Array,
    weights: jax.Array,
    features: jax.Array,
    user_side: jax.Array | None = None,
    *,
    method: str,
    k: int,
    similarity: str = "jaccard",
    variant: str = "binary",
    max_categories: int = 1,
) -> tuple[jax.Array, jax.Array]:
    """Re-rank one chunk of users for ``W`` weights in one program.

    Gathers the candidates' side information once, then runs the greedy selection for every
    weight (``jax.vmap`` over the weights).

    Args:
        scores: ``[C, N]`` float32 candidate scores (non-finite: invalid candidate).
        items: ``[C, N]`` int32 candidate item ids.
        weights: ``[W]`` float32 weights in ``[0, 1]`` (traced: new values do not recompile).
        features: item side information over the catalogue: ``[n_items, ceil(C / 32)]``
            uint32 packed categories (:func:`~moorec.rerank.similarity.pack_categories`;
            ``mmr`` and ``dpp`` with a category similarity, ``calibration``), ``[n_items, d]``
            float32 embeddings (``mmr``, ``dpp``), ``[n_items]`` bool long-tail mask
            (``xquad``).
        user_side: ``[C, n_cat]`` history category distributions (``calibration``),
            ``[C, 2]`` head/tail shares (``xquad``), else ``None``.
        method: one of :data:`METHODS` (static).
        k: list length (static).
        similarity: one of :data:`~moorec.rerank.similarity.SIMILARITIES` (static).
        variant: xQuAD variant (static).
        max_categories: the most categories of an item, for ``calibration`` (static).

    Returns:
        ``(items, positions)``: ``[W, C, K]`` int32 each.
    """
    ranked = ranked_scores(scores)
    items_t = jnp.asarray(items).T  # [N, C]: the kernels are candidate-major
    if method in ("mmr", "dpp"):
        cand = gather_features(features, items_t, similarity)
        steps = mmr_steps if method == "mmr" else dpp_steps

        def one(w):
            return steps(ranked, cand, w, k=k, similarity=similarity)

    elif method == "calibration":
        words = jnp.asarray(features, jnp.uint32).T[:, items_t]  # [W, N, C]

        def one(w):
            return calibration_steps(ranked, words, user_side, w, k=k, n_slots=max_categories)

    else:
        tail = jnp.asarray(features)[items_t]

        def one(w):
            return xquad_steps(ranked, tail, user_side, w, k=k, variant=variant)

    positions = jnp.swapaxes(jax.vmap(one)(jnp.asarray(weights, jnp.float32)), 1, 2)
    chosen = jnp.take_along_axis(jnp.asarray(items)[None], positions, axis=2)
    return chosen.astype(jnp.int32), positions


def default_chunk_users(
    method: str,
    n: int,
    k: int,
    n_weights: int,
    width: int,
    memory_mb: float,
    *,
    n_categories: int = 0,
) -> int:
    """Users per chunk that keep one chunk's working arrays within ``memory_mb``.

    Per user, in 32-bit words: the ``N x width`` gathered side information (category words,
    embedding width, calibration's ``M`` category places) and what is derived from it, and,
    per weight, the greedy state: a few ``N`` arrays, DPP's ``K x N`` Cholesky rows,
    calibration's ``M x N`` per-step values and ``M x (C + 1)`` table of terms. There is no
    ``N x N`` term.
    """
    calibration = (width + 8) * n + (width + 1) * (n_categories + 1)
    state = {"dpp": (k + 8) * n, "calibration": calibration}
    per_user = 4 * (3 * n * width + n_weights * state.get(method, 6 * n))
    return max(1, int(memory_mb * 2**20 // max(per_user, 1)))


def _weights(weights) -> tuple[np.ndarray, bool]:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim > 1 or w.size == 0:
        raise ConfigError(f"weights must be a number or a 1-D sequence, got shape {w.shape}")
    bad = w[~(np.isfinite(w) & (w >= 0) & (w <= 1))]
    if bad.size:
        raise ConfigError(f"re-ranking weight must be in [0, 1], got {float(bad[0])!r}")
    return np.atleast_1d(w).astype(np.float32), w.ndim == 0


def _features(name: str, value, n_items_min: int, *, ndim: int = 2) -> np.ndarray:
    if value is None:
        raise ConfigError(f"{name} is required for this re-ranker, got None")
    arr = np.asarray(value)
    if arr.ndim != ndim:
        raise ConfigError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.shape[0] < n_items_min:
        raise ConfigError(
            f"{name} has {arr.shape[0]} rows, but candidate item ids go up to {n_items_min - 1}"
        )
    return arr


def _user_side(name: str, value, n_users: int, width: int) -> np.ndarray:
    if value is None:
        raise ConfigError(f"{name} is required for this re-ranker, got None")
    arr = np.asarray(value, dtype=np.float32)
    if arr.shape != (n_users, width):
        raise ConfigError(f"{name} must have shape ({n_users}, {width}), got {arr.shape}")
    bad = arr[~(np.isfinite(arr) & (arr >= 0))]
    if bad.size:
        raise ConfigError(f"{name} must hold shares >= 0, got {float(bad[0])!r}")
    return arr


def rerank(
    scores,
    items,
    weights,
    *,
    method: str = "mmr",
    k: int = 10,
    categories=None,
    embeddings=None,
    similarity: str = "jaccard",
    user_categories=None,
    tail=None,
    user_groups=None,
    variant: str = "binary",
    chunk_users: int | None = None,
    memory_mb: float = MEMORY_MB,
) -> Reranked:
    """Re-rank each user's top-``N`` candidates into a top-``K`` list.

    The candidates are the model's own list (known items excluded), best first, as
    :func:`moorec.recommend` returns them with ``k=N``; ties of the greedy choice are broken
    by candidate position, so ``weight = 0`` returns the model's own top-``K``. A sweep over
    ``W`` weights is one compiled program per chunk (the selection ``jax.vmap``-ed over the
    weights); new weight values of the same count do not recompile.

    Args:
        scores: ``[U, N]`` float candidate scores (``-inf``: invalid candidate, placed last).
        items: ``[U, N]`` int candidate item ids.
        weights: a weight in ``[0, 1]`` or a ``[W]`` sequence of them; 0 is relevance alone.
        method: ``"mmr"``, ``"dpp"``, ``"calibration"`` or ``"xquad"``.
        k: list length, ``1 <= k <= N``.
        categories: ``[n_items, C]`` bool multi-hot (``ItemFeatures.categories``): for
            ``mmr``/``dpp`` with a category similarity, and for ``calibration``.
        embeddings: ``[n_items, d]`` float item embeddings, for ``similarity="embedding"``.
        similarity: ``"jaccard"``, ``"cosine"`` (categories) or ``"embedding"``.
        user_categories: ``[U, C]`` category distribution of each user's history
            (:func:`history_category_distribution`), for ``calibration``.
        tail: ``[n_items]`` bool long-tail mask, for ``xquad`` (e.g.
            ``moorec.objectives.metrics.long_tail_mask(popularity)``: the 20% most
            interacted-with items form the head).
        user_groups: ``[U, 2]`` ``(P(head|u), P(tail|u))`` (:func:`history_group_share`),
            for ``xquad``.
        variant: ``"binary"`` or ``"smooth"`` xQuAD.
        chunk_users: most users per jitted call; by default as many as fit ``memory_mb``.
        memory_mb: budget of one chunk's working arrays when ``chunk_users`` is not given.

    Returns:
        :class:`Reranked` with ``[U, K]`` arrays for one weight, ``[W, U, K]`` for a sequence.

    Raises:
        UnknownNameError: for an unknown method, similarity or variant (listing the choices).
        ConfigError: naming the value, for a weight outside ``[0, 1]``, ``k > N`` or not
            positive, shapes that do not match, item ids outside the side information, a
            missing input, or a bad ``chunk_users``.
    """
    if method not in METHODS:
        raise UnknownNameError("re-ranker", method, METHODS)
    scores = np.asarray(scores, dtype=np.float32)
    items = np.asarray(items)
    if scores.ndim != 2 or items.shape != scores.shape:
        raise ConfigError(
            f"scores and items must both be [U, N] of one shape, got {scores.shape} and "
            f"{items.shape}"
        )
    if not np.issubdtype(items.dtype, np.integer):
        raise ConfigError(f"items must be integer item ids, got dtype {items.dtype}")
    n_users, n = scores.shape
    k = check_positive_int("k", k)
    if k > n:
        raise ConfigError(f"k={k} is larger than the N={n} candidates per user; use k <= {n}")
    if n_users and items.min() < 0:
        raise ConfigError(f"items must be >= 0, got {int(items.min())}")
    w, scalar = _weights(weights)
    n_min = int(items.max()) + 1 if n_users else 0
    user_side, n_categories, max_categories = None, 0, 1
    if method in ("mmr", "dpp"):
        if similarity not in SIMILARITIES:
            raise UnknownNameError("re-ranking similarity", similarity, SIMILARITIES)
        if similarity in CATEGORY_SIMILARITIES:
            features = pack_categories(_features("categories", categories, n_min))
        else:
            features = _features("embeddings", embeddings, n_min).astype(np.float32)
    elif method == "calibration":
        cats = _features("categories", categories, n_min)
        user_side = _user_side("user_categories", user_categories, n_users, cats.shape[1])
        features, n_categories = pack_categories(cats), cats.shape[1]
        max_categories = max(1, int((cats != 0).sum(axis=1).max(initial=0)))
    else:
        if variant not in XQUAD_VARIANTS:
            raise UnknownNameError("xQuAD variant", variant, XQUAD_VARIANTS)
        features = _features("tail", tail, n_min, ndim=1).astype(bool)
        user_side = _user_side("user_groups", user_groups, n_users, 2)
    if chunk_users is None:
        width = features.shape[1] if features.ndim == 2 else 1
        width = max_categories if method == "calibration" else width
        chunk_users = default_chunk_users(
            method, n, k, len(w), width, memory_mb, n_categories=n_categories
        )
    else:
        chunk_users = check_positive_int("chunk_users", chunk_users)
    if method == "calibration":  # the table of terms is indexed with int32
        cap = (2**31 - 1) // (max_categories * (n_categories + 1))
        chunk_users = max(1, min(chunk_users, cap))
    # as few chunks as the budget allows, of equal size: the last one is padded the least
    n_chunks = max(1, -(-n_users // chunk_users))
    chunk = max(1, -(-n_users // n_chunks))
    # NumPy arrays go to the jitted call as they are (one transfer each, no eager JAX ops)
    items = items.astype(np.int32, copy=False)
    feats = jnp.asarray(features) if n_users > chunk else features  # reused by every chunk
    static = dict(method=method, k=k, similarity=similarity, variant=variant)
    if method == "calibration":
        static["max_categories"] = max_categories
    got_items, got_pos = [], []
    for start in range(0, n_users, chunk):
        stop = min(start + chunk, n_users)
        pad = chunk - (stop - start)
        s, it = _pad(scores[start:stop], pad), _pad(items[start:stop], pad)
        side = None if user_side is None else _pad(user_side[start:stop], pad)
        got, pos = rerank_chunk(s, it, w, feats, side, **static)
        if (costs := _COSTS.get()) is not None:
            costs.append(xla_cost(rerank_chunk, s, it, w, feats, side, **static))
        got_items.append(np.asarray(got)[:, : stop - start])
        got_pos.append(np.asarray(pos)[:, : stop - start])
    if n_users == 0:
        out_items = out_pos = np.zeros((len(w), 0, k), np.int32)
    elif len(got_items) == 1:
        out_items, out_pos = np.array(got_items[0]), np.array(got_pos[0])
    else:
        out_items, out_pos = np.concatenate(got_items, 1), np.concatenate(got_pos, 1)
    if scalar:
        return Reranked(out_items[0], out_pos[0])
    return Reranked(out_items, out_pos)


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    if pad == 0:
        return x
    return np.concatenate([x, np.repeat(x[-1:], pad, axis=0)], axis=0)


def mmr(scores, items, weights, *, k: int = 10, **kwargs) -> Reranked:
    """MMR re-ranking (Carbonell and Goldstein, SIGIR 1998).

    :func:`rerank` with ``method="mmr"``; see :func:`~moorec.rerank.kernels.mmr_select`.
    """
    return rerank(scores, items, weights, method="mmr", k=k, **kwargs)


def dpp(scores, items, weights, *, k: int = 10, **kwargs) -> Reranked:
    """DPP greedy MAP re-ranking (Chen, Zhang and Zhou, NeurIPS 2018).

    :func:`rerank` with ``method="dpp"``; see :func:`~moorec.rerank.kernels.dpp_select`.
    """
    return rerank(scores, items, weights, method="dpp", k=k, **kwargs)


def calibration(scores, items, weights, *, k: int = 10, **kwargs) -> Reranked:
    """Calibrated re-ranking (Steck, RecSys 2018).

    :func:`rerank` with ``method="calibration"``; see
    :func:`~moorec.rerank.kernels.calibration_select`.
    """
    return rerank(scores, items, weights, method="calibration", k=k, **kwargs)


def xquad(scores, items, weights, *, k: int = 10, **kwargs) -> Reranked:
    """Long-tail re-ranking, xQuAD over head and tail (Abdollahpouri et al., FLAIRS 2019).

    :func:`rerank` with ``method="xquad"``; see :func:`~moorec.rerank.kernels.xquad_select`.
    """
    return rerank(scores, items, weights, method="xquad", k=k, **kwargs)


def history_category_distribution(known: Interactions, users, categories=None) -> np.ndarray:
    r"""Each user's history category distribution :math:`p(c|u)` (Steck, RecSys 2018).

    .. math:: p(c|u) = \frac{1}{|H_u|} \sum_{i \in H_u} p(c|i)

    with :math:`H_u` the user's known items that have a category and :math:`p(c|i)` uniform
    over item ``i``'s categories; a row of zeros for a user with no such item.

    Args:
        known: the interactions the user's history is read from (e.g. ``split.train``).
        users: ``[U]`` user indices.
        categories: ``[n_items, C]`` multi-hot; by default ``known.item_features.categories``.

    Returns:
        ``[U, C]`` float32.
    """
    if categories is None:
        if known.item_features is None:
            raise ConfigError(f"data set {known.name!r} has no item categories; pass categories")
        categories = known.item_features.categories
    pci = np.asarray(categories, dtype=np.float64)
    size = pci.sum(axis=1, keepdims=True)
    pci = np.divide(pci, size, out=np.zeros_like(pci), where=size > 0)
    has = size[:, 0] > 0
    indptr, idx = csr_by_user(known)
    users = np.asarray(users, dtype=np.int64)
    out = np.zeros((len(users), pci.shape[1]), np.float64)
    for r, u in enumerate(users):
        hist = idx[indptr[u] : indptr[u + 1]]
        hist = hist[has[hist]]
        if len(hist):
            out[r] = pci[hist].mean(axis=0)
    return out.astype(np.float32)


def history_group_share(known: Interactions, users, tail) -> np.ndarray:
    """Each user's ``(P(head|u), P(tail|u))``, for xQuAD over head and tail.

    The share of head and long-tail items in the user's known items (Abdollahpouri, Burke and
    Mobasher, FLAIRS 2019); ``(0, 0)`` for a user without known items.

    Args:
        known: interactions (e.g. ``split.train``).
        users: ``[U]`` user indices.
        tail: ``[n_items]`` bool long-tail mask.

    Returns:
        ``[U, 2]`` float32.
    """
    tail = np.asarray(tail, dtype=bool)
    indptr, idx = csr_by_user(known)
    users = np.asarray(users, dtype=np.int64)
    out = np.zeros((len(users), 2), np.float64)
    for r, u in enumerate(users):
        hist = idx[indptr[u] : indptr[u + 1]]
        if len(hist):
            share = tail[hist].mean()
            out[r] = (1.0 - share, share)
    return out.astype(np.float32)
