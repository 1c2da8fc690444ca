"""Sampled-negatives evaluation: each held-out item ranked among N uniform negatives.

The protocol of SASRec (Kang and McAuley, ICDM 2018) and many papers after it: for every
evaluated user, the held-out item is ranked among ``N`` (100) items drawn uniformly from those
the user never interacted with, and Hit@K / NDCG@K are computed on that short list.

Sampled metrics are **not** consistent with full ranking: W. Krichene and S. Rendle, "On Sampled
Metrics for Item Recommendation", KDD 2020, show that they can order models differently from the
exact metrics, and that their values are much higher. :func:`sampled_evaluate` therefore warns
(:class:`SampledMetricsWarning`) on every call; use it only to compare with papers that report
it, and :class:`~moorec.objectives.Evaluator` (full ranking) for every decision.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from moorec.data.interactions import Interactions, csr_by_user, history_matrix, padded_rows
from moorec.errors import ConfigError, UnknownNameError, check_positive_int
from moorec.models.base import Recommender
from moorec.objectives.base import Objective, RankingContext, parse_all
from moorec.objectives.latency import tie_order

__all__ = ["SampledMetricsWarning", "rank_candidates", "sample_negatives", "sampled_evaluate"]

PARTS = ("valid", "test")


class SampledMetricsWarning(UserWarning):
    """Metrics computed against sampled negatives, which full ranking may not agree with."""


_MESSAGE = (
    "sampled metrics (each held-out item ranked among {n} uniform negatives) are not "
    "consistent with full-ranking metrics: they can order models differently and are much "
    "higher (Krichene and Rendle, 'On Sampled Metrics for Item Recommendation', KDD 2020). "
    "Report them only to compare with papers that use them; use moorec.objectives.Evaluator "
    "(full ranking) for model selection."
)


def sample_negatives(
    interacted: tuple[np.ndarray, np.ndarray],
    users: np.ndarray,
    n_items: int,
    n_negatives: int,
    rng: np.random.Generator,
    *,
    memory_mb: float = 64.0,
) -> np.ndarray:
    """For each user, ``n_negatives`` distinct items drawn uniformly from those not interacted.

    Draws a uniform random key per (user, item), puts the user's items last and keeps the
    ``n_negatives`` smallest keys: a uniform sample without replacement. Users go through in
    chunks of about ``memory_mb`` of keys.

    Args:
        interacted: ``(indptr, indices)`` CSR of every item each user interacted with.
        users: ``[U]`` user indices.
        n_items: catalogue size.
        n_negatives: negatives per user.
        rng: NumPy generator.
        memory_mb: budget of one chunk's ``[chunk, n_items]`` float64 keys.

    Returns:
        ``[U, n_negatives]`` int32 items, in random order.

    Raises:
        ConfigError: if a user has interacted with more than ``n_items - n_negatives`` items.
    """
    indptr, indices = interacted
    users = np.asarray(users, dtype=np.int64)
    free = n_items - (indptr[users + 1] - indptr[users])
    if users.size and int(free.min()) < n_negatives:
        short = int(np.sum(free < n_negatives))
        raise ConfigError(
            f"n_negatives={n_negatives} is more than the {int(free.min())} items some users "
            f"have not interacted with ({short} users); lower n_negatives"
        )
    chunk = max(1, int(memory_mb * 2**20 // (8 * n_items)))
    out = np.empty((len(users), n_negatives), dtype=np.int32)
    for start in range(0, len(users), chunk):
        u = users[start : start + chunk]
        keys = rng.random((len(u), n_items))
        counts = indptr[u + 1] - indptr[u]
        rows = np.repeat(np.arange(len(u)), counts)
        cols = np.concatenate([indices[indptr[x] : indptr[x + 1]] for x in u]) if len(u) else []
        keys[rows, cols] = np.inf
        pick = np.argpartition(keys, n_negatives - 1, axis=1)[:, :n_negatives]
        out[start : start + len(u)] = pick
    return out


def _interacted(split) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` CSR of the distinct items of each user over all parts."""
    parts = [split.train, split.valid, split.test]
    n_users, n_items = split.train.n_users, split.train.n_items
    pairs = np.unique(np.concatenate([p.users.astype(np.int64) * n_items + p.items for p in parts]))
    users, items = np.divmod(pairs, n_items)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=n_users), out=indptr[1:])
    return indptr, items.astype(np.int32)


@functools.partial(jax.jit, static_argnames=("graphdef", "k", "n_negatives"))
def rank_candidates(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    users: jax.Array,
    candidates: jax.Array,
    history: jax.Array | None = None,
    tie_rank: jax.Array | None = None,
    *,
    k: int,
    n_negatives: int,
) -> tuple[jax.Array, jax.Array]:
    """Top-``k`` of each user's candidate list.

    Args:
        graphdef: the model's static structure.
        state: the model's state.
        users: ``[C]`` int32 users.
        candidates: ``[C, N + R]`` int32, the ``N`` negatives then the user's held-out items
            (padded with ``-1``, never ranked).
        history: ``[C, L]`` int32 recent known items (sequential models), or ``None``.
        tie_rank: ``[n_items]`` int32 place of each item in the order of tied items (the
            inverse of :func:`~moorec.objectives.latency.tie_order`): of two candidates with
            equal scores, the one placed earlier ranks first. ``None``: ties go to the earlier
            column, so a held-out item tied with a negative ranks below it.
        k: list length (``<= N + 1``).
        n_negatives: ``N``.

    Returns:
        ``(topk, hits)``: ``[C, k]`` int32 items (padding shown as item 0) and ``[C, k]`` bool,
        true where the item is held out.
    """
    model = nnx.merge(graphdef, state)
    scores = model.score(users) if history is None else model.score(users, history)
    real = candidates >= 0
    held = jnp.broadcast_to(jnp.arange(candidates.shape[1]) >= n_negatives, candidates.shape)
    if tie_rank is not None:  # columns in tie order: lax.top_k keeps ties in column order
        place = jnp.where(real, tie_rank[jnp.maximum(candidates, 0)], tie_rank.shape[0])
        cols = jnp.argsort(place, axis=1, stable=True)
        candidates, real, held = (
            jnp.take_along_axis(x, cols, axis=1) for x in (candidates, real, held)
        )
    cand = jnp.take_along_axis(scores, jnp.maximum(candidates, 0), axis=1)
    cand = jnp.where(real, cand, -jnp.inf)
    _, idx = jax.lax.top_k(cand, k)
    items = jnp.take_along_axis(candidates, idx, axis=1)
    hits = jnp.take_along_axis(held & real, idx, axis=1)
    return jnp.maximum(items, 0).astype(jnp.int32), hits


def sampled_evaluate(
    model: Recommender,
    split,
    part: str = "test",
    *,
    n_negatives: int = 100,
    seed: int = 0,
    objectives: Sequence[str | Objective] = ("hit@10", "ndcg@10"),
    chunk_users: int = 1024,
    tie_seed: int | None = 0,
) -> dict[str, float]:
    """Ranking metrics of each held-out item among ``n_negatives`` sampled negatives.

    Every user with held-out items in ``part`` gets ``n_negatives`` distinct items drawn
    uniformly (``np.random.default_rng(seed)``) from those they never interacted with in any
    part of the split; the model scores the negatives and the held-out items (sequential
    models from their history, built as the full-ranking evaluator builds it), and the
    objectives (RecBole definitions) are computed on the ranked candidate list. With
    leave-one-out splits this is the SASRec paper's protocol (one held-out item, 100 negatives).

    Emits a :class:`SampledMetricsWarning` on every call: sampled metrics are not consistent
    with full ranking (Krichene and Rendle, KDD 2020).

    Args:
        model: a trained recommender.
        split: a :class:`~moorec.split.Split`.
        part: ``"valid"`` or ``"test"``.
        n_negatives: negatives per user ``N``.
        seed: seed of the negative sampling.
        objectives: ranking objectives (``hit``, ``ndcg``, ``mrr``, ``recall``, ``precision``,
            ``map`` at a cutoff ``<= N + 1``).
        chunk_users: users scored per jitted call.
        tie_seed: seed of the order of tied items, the full-ranking evaluator's
            (:class:`~moorec.objectives.Evaluator`'s ``tie_seed``): a candidate tied with
            another ranks first if it comes earlier in that seeded permutation of the
            catalogue. ``None``: a held-out item tied with a negative ranks below it (the
            pessimistic rule).

    Returns:
        ``{"hit@10": ..., "ndcg@10": ...}`` in the order of ``objectives``.

    Raises:
        UnknownNameError: for a part other than ``valid`` / ``test``.
        ConfigError: for non-ranking objectives, a cutoff above ``N + 1``, or ``N`` larger than
            some user's uninteracted items.

    Example:
        >>> import warnings
        >>> import moorec as mr
        >>> data = mr.datasets.synthetic_shop(n_users=60, n_items=150, n_interactions=900)
        >>> split = mr.split.leave_one_out(data, order="time")
        >>> model = mr.models.create("bpr", split.n_users, split.n_items, dim=8)
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", SampledMetricsWarning)
        ...     out = sampled_evaluate(model, split, "test", n_negatives=50)
        >>> sorted(out)
        ['hit@10', 'ndcg@10']
    """
    if part not in PARTS:
        raise UnknownNameError("split part", part, PARTS)
    order = tie_order(split.train.n_items, tie_seed)
    n_negatives = check_positive_int("n_negatives", n_negatives)
    chunk_users = check_positive_int("chunk_users", chunk_users)
    objs = parse_all(objectives)
    other = [o.key for o in objs if o.kind != "ranking"]
    if other or not objs:
        raise ConfigError(
            f"sampled evaluation computes ranking objectives only (hit, ndcg, mrr, recall, "
            f"precision, map); got {other or 'none'}"
        )
    k = max(o.k for o in objs)
    if k > n_negatives + 1:
        raise ConfigError(
            f"cutoff {k} is longer than the candidate list ({n_negatives} negatives + 1); "
            f"lower the cutoff or raise n_negatives"
        )
    warnings.warn(SampledMetricsWarning(_MESSAGE.format(n=n_negatives)), stacklevel=2)

    target: Interactions = getattr(split, part)
    n_items = split.train.n_items
    t_ptr, t_idx = csr_by_user(target)
    users = np.flatnonzero(np.diff(t_ptr) > 0).astype(np.int32)
    if users.size == 0:
        raise ConfigError(f"split part {part!r} has no held-out interactions to evaluate")
    negatives = sample_negatives(
        _interacted(split), users, n_items, n_negatives, np.random.default_rng(seed)
    )
    width = int(np.max(np.diff(t_ptr)[users]))
    relevant = padded_rows(t_ptr, t_idx, users, -1, width)
    candidates = np.concatenate([negatives, relevant], axis=1).astype(np.int32)
    history = None
    if model.uses_history:
        history = history_matrix(split.known(part), users, int(model.max_len))

    tie_rank = None
    if order is not None:
        rank = np.empty(n_items, dtype=np.int32)
        rank[order] = np.arange(n_items, dtype=np.int32)
        tie_rank = jnp.asarray(rank)
    graphdef, state = nnx.split(model)
    c = min(chunk_users, len(users))
    n_pad = -(-len(users) // c) * c
    pad = n_pad - len(users)

    def padded(x):
        return np.concatenate([x, np.repeat(x[:1], pad, axis=0)]) if pad else x

    users_p, cand_p = padded(users), padded(candidates)
    hist_p = None if history is None else padded(history)
    tops, hits = [], []
    for s in range(0, n_pad, c):
        t, h = rank_candidates(
            graphdef,
            state,
            jnp.asarray(users_p[s : s + c]),
            jnp.asarray(cand_p[s : s + c]),
            None if hist_p is None else jnp.asarray(hist_p[s : s + c]),
            tie_rank,
            k=k,
            n_negatives=n_negatives,
        )
        tops.append(np.asarray(t))
        hits.append(np.asarray(h))
    ctx = RankingContext(
        topk=np.concatenate(tops)[: len(users)],
        hits=np.concatenate(hits)[: len(users)],
        n_relevant=np.diff(t_ptr)[users].astype(np.int32),
        n_items=n_items,
    )
    return {o.key: float(o.compute(ctx)) for o in objs}
