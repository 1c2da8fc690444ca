r"""Greedy re-ranking kernels: pure ``jax.numpy`` functions over a batch of users.

Every kernel takes the candidates' relevance ``rel: [U, N]`` (see :func:`relevance`), a
``valid: [U, N]`` mask, the candidates' side information and one scalar weight, and returns
the chosen candidate positions ``[U, K] int32`` in the order chosen. The greedy loop is one
:func:`jax.lax.fori_loop` over the whole batch (the last of the ``K`` steps, which only
chooses, after it); the weight is a traced array, so
changing it never recompiles, and every kernel can be ``jax.vmap``-ed over the weight
(``in_axes=(None, ..., 0)``) to sweep ``W`` weights in one program. ``K`` is static.

Inside, the arrays are candidate-major (``[N, U]``: the users along the vector lanes): each
greedy step is a few elementwise passes over ``[N, U]`` and two integer reductions over the
candidates (the best value, then the first position holding it). MMR and DPP compute, per
step, only the similarity of every candidate to the item just chosen
(:func:`~moorec.rerank.similarity.similarity_row`), never an ``N x N`` matrix.

Conventions shared by all kernels:

* **Weight.** ``w = 0`` is the model's own top-``K`` (relevance alone); ``w = 1`` the other
  end (diversity, calibration or tail exposure alone).
* **Ties.** The greedy argmax breaks ties by candidate position, lowest first, so candidates
  given in the model's order (best first) fall back to the model's order.
* **Invalid candidates** (``valid`` false, e.g. a ``-inf`` score for a user with fewer than
  ``N`` unknown items) are chosen only when no valid candidate is left, by the same greedy
  value.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from moorec.errors import UnknownNameError
from moorec.rerank.similarity import (
    CandidateFeatures,
    candidate_features,
    similarity_row,
    slots_from_words,
    words_from_slots,
)

__all__ = [
    "CALIBRATION_SMOOTHING",
    "DPP_EPS",
    "XQUAD_VARIANTS",
    "Ranked",
    "calibration_select",
    "calibration_steps",
    "dpp_select",
    "dpp_steps",
    "item_category_distribution",
    "mmr_select",
    "mmr_steps",
    "ranked_scores",
    "relevance",
    "xquad_select",
    "xquad_steps",
]

DPP_EPS = 1e-4
"""Smallest conditional variance ``d_i^2`` for which DPP still adds item ``i`` (float32)."""

CALIBRATION_SMOOTHING = 0.01
"""Steck's (RecSys 2018) smoothing ``a`` of the list's category distribution."""

XQUAD_VARIANTS = ("binary", "smooth")
"""xQuAD's coverage terms (Abdollahpouri, Burke and Mobasher, FLAIRS 2019)."""

_INT32_MIN = -(2**31)


def relevance(scores: ArrayLike) -> tuple[Array, Array]:
    r"""Scores min-max normalised per user over the finite candidates.

    .. math:: \mathrm{rel}(i) = \frac{s_i - \min_j s_j}{\max_j s_j - \min_j s_j}

    over the user's candidates with a finite score. A user whose finite scores are all equal
    gets relevance 1 for each; candidates with a non-finite score get 0 and are invalid.

    Args:
        scores: ``[U, N]`` model scores of each user's candidates.

    Returns:
        ``(rel, valid)``: ``[U, N] float32`` in ``[0, 1]`` and ``[U, N] bool``.
    """
    s = jnp.asarray(scores).astype(jnp.float32)
    valid = jnp.isfinite(s)
    lo = jnp.min(jnp.where(valid, s, jnp.inf), axis=1, keepdims=True)
    hi = jnp.max(jnp.where(valid, s, -jnp.inf), axis=1, keepdims=True)
    span = hi - lo
    ok = span > 0
    rel = jnp.where(ok, (s - lo) / jnp.where(ok, span, 1.0), 1.0)
    return jnp.where(valid, rel, 0.0).astype(jnp.float32), valid


class Ranked(NamedTuple):
    """Each user's candidates, candidate-major, as the greedy steps read them.

    Attributes:
        rel: ``[N, U] float32`` relevance (see :func:`relevance`).
        valid: ``[N, U] bool`` valid candidates.
        n_valid: ``[U] int32`` each user's number of valid candidates.
    """

    rel: Array
    valid: Array
    n_valid: Array


def _candidate_major(rel: ArrayLike, valid: ArrayLike | None) -> Ranked:
    rel = jnp.asarray(rel, jnp.float32)
    valid = jnp.ones(rel.shape, bool) if valid is None else jnp.asarray(valid, bool)
    return Ranked(rel.T, valid.T, jnp.sum(valid, axis=1, dtype=jnp.int32))


def _order_key(values: Array) -> Array:
    """int32 keys ordered as the float32 ``values`` (``-0.0`` and ``0.0`` equal)."""
    v = jnp.where(values == 0, 0.0, values).astype(jnp.float32)
    b = jax.lax.bitcast_convert_type(v, jnp.int32)
    return jnp.where(b < 0, b ^ jnp.int32(0x7FFFFFFF), b)


def _from_order_key(key: Array) -> Array:
    bits = jnp.where(key < 0, key ^ jnp.int32(0x7FFFFFFF), key)
    return jax.lax.bitcast_convert_type(bits, jnp.float32)


def ranked_scores(scores: ArrayLike) -> Ranked:
    """:func:`relevance` of ``[U, N]`` scores, candidate-major.

    The same values as :func:`relevance`; the minimum and maximum are taken on integer keys
    ordered as the floats (exact, and a fast reduction over the candidate axis).

    Args:
        scores: ``[U, N]`` model scores of each user's candidates.

    Returns:
        :class:`Ranked`.
    """
    s = jnp.asarray(scores).astype(jnp.float32).T  # [N, U]
    valid = jnp.isfinite(s)
    key = _order_key(s)
    lo = _from_order_key(jnp.min(jnp.where(valid, key, 2**31 - 1), axis=0))
    hi = _from_order_key(jnp.max(jnp.where(valid, key, _INT32_MIN), axis=0))
    span = hi - lo
    ok = span > 0
    rel = jnp.where(ok, (s - lo) / jnp.where(ok, span, 1.0), 1.0)
    rel = jnp.where(valid, rel, 0.0).astype(jnp.float32)
    return Ranked(rel, valid, jnp.sum(valid, axis=0, dtype=jnp.int32))


def _first_argmax(values: Array, avail: Array) -> Array:
    """Per user, the lowest position holding the largest of ``values`` over ``avail``.

    Args:
        values: ``[N, U] float32``.
        avail: ``[N, U] bool``, at least one true per user.

    Returns:
        ``[U] int32``.
    """
    key = jnp.where(avail, _order_key(values), _INT32_MIN)
    best = jnp.max(key, axis=0)
    pos = jnp.arange(values.shape[0], dtype=jnp.int32)[:, None]
    return jnp.min(jnp.where(key == best, pos, values.shape[0]), axis=0)


def _available(chosen: Array, valid: Array, n_valid: Array, t) -> Array:
    """Unchosen candidates that may be chosen at step ``t``: the valid ones while any is left.

    Every greedy step chooses a valid candidate while one is left, so after ``t`` steps a user
    has one left exactly when it has more than ``t`` valid candidates.
    """
    return ~chosen & (valid | (n_valid <= t))


def _weight(weight: ArrayLike) -> Array:
    return jnp.asarray(weight, dtype=jnp.float32)


def _positions(out: Array) -> Array:
    return out.T.astype(jnp.int32)


def _greedy(k: int, u: int, choose, update, state):
    """``K`` greedy steps: ``choose(t, state) -> (i, ready)``, ``update(t, ready, i) -> state``.

    Steps ``0 .. K - 2`` are one :func:`jax.lax.fori_loop`; the last step only chooses (the
    state after it is never read, so it is not formed).

    Returns:
        ``[K, U] int32`` chosen candidate positions, step by step.
    """

    def body(t, carry):
        state, out = carry
        i, ready = choose(t, state)
        out = jax.lax.dynamic_update_slice(out, i[None], (t, 0))
        return update(t, ready, i), out

    out = jnp.zeros((k, u), jnp.int32)
    state, out = jax.lax.fori_loop(0, k - 1, body, (state, out))
    i, _ = choose(k - 1, state)
    return jax.lax.dynamic_update_slice(out, i[None], (k - 1, 0))


def mmr_select(
    rel: ArrayLike,
    features: ArrayLike,
    weight: ArrayLike,
    *,
    k: int,
    similarity: str = "jaccard",
    valid: ArrayLike | None = None,
) -> Array:
    r"""Maximal marginal relevance (Carbonell and Goldstein, SIGIR 1998), greedy.

    At each step, of the candidates :math:`i \notin S` not chosen yet,

    .. math:: i^* = \arg\max_i\ (1 - w)\,\mathrm{rel}(i) - w \max_{j \in S} \mathrm{sim}(i, j)

    with :math:`\max_{j \in \emptyset} = 0`, so the first item is the most relevant one
    (position 0 at ``w = 1``). ``w = 0`` gives the top-``K`` by relevance.

    Each step computes the similarity of every candidate to the item just chosen and keeps
    the running value :math:`\min_{j \in S} ((1 - w)\,\mathrm{rel}(i) - w\,\mathrm{sim}(i, j))`,
    which in float32 equals :math:`(1 - w)\,\mathrm{rel}(i) - w \max_j \mathrm{sim}(i, j)`
    exactly (rounding is monotone).

    Cost per user: time ``O(K N F)``, memory ``O(N F)`` (``F``: category words or embedding
    width).

    Args:
        rel: ``[U, N] float`` relevance (see :func:`relevance`).
        features: the candidates' side information, ``[U, N, W] uint32`` packed category sets
            (``pack_categories(categories)[items]``) or ``[U, N, d] float`` embeddings (see
            :func:`~moorec.rerank.similarity.candidate_features`).
        weight: ``[] float`` diversity weight ``w`` in ``[0, 1]``.
        k: list length (static).
        similarity: ``"jaccard"``, ``"cosine"`` or ``"embedding"`` (static).
        valid: ``[U, N] bool`` valid candidates; all by default.

    Returns:
        ``[U, K] int32`` chosen candidate positions, in the order chosen.
    """
    ranked = _candidate_major(rel, valid)
    cand = candidate_features(features, similarity)
    return _positions(mmr_steps(ranked, cand, weight, k=k, similarity=similarity))


def mmr_steps(
    ranked: Ranked, cand: CandidateFeatures, weight: ArrayLike, *, k: int, similarity: str
) -> Array:
    """:func:`mmr_select` on candidate-major inputs.

    Returns:
        ``[K, U] int32`` chosen candidate positions, step by step.
    """
    rel, valid, n_valid = ranked
    w = _weight(weight)
    n, u = rel.shape
    pos = jnp.arange(n, dtype=jnp.int32)[:, None]
    base = (1.0 - w) * rel

    def choose(t, state):
        chosen, value = state
        return _first_argmax(value, _available(chosen, valid, n_valid, t)), state

    def update(t, state, i):
        chosen, value = state
        penalised = base - w * similarity_row(cand, i, similarity)
        value = jnp.where(t == 0, penalised, jnp.minimum(value, penalised))
        return chosen | (pos == i), value

    return _greedy(k, u, choose, update, (jnp.zeros((n, u), bool), base))


def dpp_select(
    rel: ArrayLike,
    features: ArrayLike,
    weight: ArrayLike,
    *,
    k: int,
    similarity: str = "jaccard",
    valid: ArrayLike | None = None,
    eps: float = DPP_EPS,
) -> Array:
    r"""DPP greedy MAP inference with incremental Cholesky updates.

    Source: Chen, Zhang and Zhou, "Fast Greedy MAP Inference for Determinantal Point
    Process", NeurIPS 2018, Algorithm 1.

    The kernel is :math:`L = \mathrm{diag}(r)\, S\, \mathrm{diag}(r)` with
    :math:`r_i = \exp(\alpha\,\mathrm{rel}(i))` and the paper's trade-off
    :math:`\alpha = \theta / (2 (1 - \theta))`, here with :math:`\theta = 1 - w`. Since
    :math:`\log\det L_Y = 2\alpha \sum_{i \in Y} \mathrm{rel}(i) + \log\det S_Y`, the greedy
    step :math:`\arg\max_i \log d_i^2(L)` equals

    .. math:: i^* = \arg\max_i\ \theta\,\mathrm{rel}(i) + (1 - \theta) \log d_i^2

    with :math:`d_i^2` the conditional variance of item ``i`` given the chosen items under
    :math:`S`, kept by the paper's updates
    :math:`e_i = (S_{ji} - \langle c_j, c_i \rangle) / d_j`, :math:`c_i \leftarrow [c_i, e_i]`,
    :math:`d_i^2 \leftarrow d_i^2 - e_i^2` after choosing ``j``; :math:`S_{j\cdot}` is computed
    at that step (:func:`~moorec.rerank.similarity.similarity_row`). This form is exact at
    both ends: ``w = 0`` (:math:`\theta = 1`, :math:`\alpha = \infty`) is the top-``K`` by
    relevance, ``w = 1`` (:math:`\theta = 0`) maximises :math:`\det S_Y` alone.

    **Stopping.** The list has ``K`` items (the paper's cardinality-constrained variant). For
    ``w > 0`` only candidates with :math:`d_i^2 > \varepsilon` are eligible (adding one with
    :math:`d_i^2 \le \varepsilon` would make :math:`L_Y` singular: a log-determinant gain of
    :math:`-\infty`); once no valid candidate is eligible, the greedy stops and the remaining
    places are filled by relevance (ties by position).

    Cost per user: time ``O(K^2 N + K N F)``, memory ``O(K N + N F)``.

    Args:
        rel: ``[U, N] float`` relevance (see :func:`relevance`).
        features: the candidates' side information, as for :func:`mmr_select`; the similarity
            is positive semi-definite with unit diagonal.
        weight: ``[] float`` diversity weight ``w = 1 - theta`` in ``[0, 1]``.
        k: list length (static).
        similarity: ``"jaccard"``, ``"cosine"`` or ``"embedding"`` (static).
        valid: ``[U, N] bool`` valid candidates; all by default.
        eps: smallest :math:`d_i^2` of an eligible candidate (static).

    Returns:
        ``[U, K] int32`` chosen candidate positions, in the order chosen.
    """
    ranked = _candidate_major(rel, valid)
    cand = candidate_features(features, similarity)
    return _positions(dpp_steps(ranked, cand, weight, k=k, similarity=similarity, eps=eps))


def dpp_steps(
    ranked: Ranked,
    cand: CandidateFeatures,
    weight: ArrayLike,
    *,
    k: int,
    similarity: str,
    eps: float = DPP_EPS,
) -> Array:
    """:func:`dpp_select` on candidate-major inputs.

    Returns:
        ``[K, U] int32`` chosen candidate positions, step by step.
    """
    rel, valid, n_valid = ranked
    w = _weight(weight)
    theta = 1.0 - w
    n, u = rel.shape
    pos = jnp.arange(n, dtype=jnp.int32)[:, None]
    rows = max(k - 1, 1)  # the row made at the last step is never read

    def dot_of(made):
        # <c_j, c_i> over the rows made so far, in a fixed order; one branch per count, so
        # that step t reads only the t rows made before it
        def dot(c, ci):
            acc = jnp.zeros((n, u), jnp.float32) if made == 0 else c[0] * ci[0]
            for r in range(1, made):
                acc = acc + c[r] * ci[r]
            return acc

        return dot

    dots = [dot_of(made) for made in range(rows + 1)]

    def choose(t, state):
        # c: [K - 1, N, U] Cholesky rows; e: the row computed at step t - 1, stored at step t
        # (so that the row is not formed from c while c is written, which would copy c)
        chosen, c, e, d2, stopped = state
        c = jax.lax.dynamic_update_slice(c, e[None], (jnp.clip(t - 1, 0, rows - 1), 0, 0))
        d2 = d2 - e * e
        eligible = ~chosen & valid & ((d2 > eps) | (w == 0))
        stop = stopped | ~jnp.any(eligible, axis=0)
        gain = theta * rel + w * jnp.log(jnp.maximum(d2, eps))
        avail = jnp.where(stop, _available(chosen, valid, n_valid, t), eligible)
        i = _first_argmax(jnp.where(stop, rel, gain), avail)
        return i, (chosen, c, d2, stop)

    def update(t, ready, i):
        chosen, c, d2, stop = ready
        ci = jnp.take_along_axis(c, i[None, None, :], axis=1)[:, 0]  # [K - 1, U]
        d2i = jnp.take_along_axis(d2, i[None], axis=0)  # [1, U]
        dot = jax.lax.switch(jnp.minimum(t, rows), dots, c, ci)
        e = (similarity_row(cand, i, similarity) - dot) / jnp.sqrt(jnp.maximum(d2i, eps))
        e = jnp.where(~stop & (d2i[0] > eps), e, 0.0)  # no update: the row stays zero
        return chosen | (pos == i), c, e, d2, stop

    state = (
        jnp.zeros((n, u), bool),
        jnp.zeros((rows, n, u), jnp.float32),
        jnp.zeros((n, u), jnp.float32),
        jnp.ones((n, u), jnp.float32),  # d_i^2 = S_ii = 1
        jnp.zeros(u, bool),
    )
    return _greedy(k, u, choose, update, state)


def item_category_distribution(categories: ArrayLike) -> Array:
    r"""Each item's category distribution :math:`p(c|i)`: uniform over its categories.

    Args:
        categories: ``[..., C]`` bool/float multi-hot rows.

    Returns:
        ``[..., C] float32`` rows summing to 1 (all zero for an item without category).
    """
    x = jnp.asarray(categories).astype(jnp.float32)
    n = jnp.sum(x, axis=-1, keepdims=True)
    return jnp.where(n > 0, x / jnp.where(n > 0, n, 1.0), 0.0)


def calibration_select(
    rel: ArrayLike,
    slots: ArrayLike,
    user_dist: ArrayLike,
    weight: ArrayLike,
    *,
    k: int,
    valid: ArrayLike | None = None,
    smoothing: float = CALIBRATION_SMOOTHING,
) -> Array:
    r"""Calibrated recommendations (Steck, "Calibrated Recommendations", RecSys 2018), greedy.

    Greedily maximises, with :math:`\lambda` the weight,

    .. math::
        (1 - \lambda) \sum_{i \in I} \mathrm{rel}(i) - \lambda\, \mathrm{KL}(p \,\|\, \tilde q),
        \qquad \mathrm{KL}(p \,\|\, \tilde q) = \sum_c p(c|u) \log \frac{p(c|u)}{\tilde q(c|u)}

    adding at each step the candidate that maximises the objective of the list so far plus
    it. :math:`p(c|u)` is the category distribution of the user's history,
    :math:`q(c|u) = \frac{1}{|I|}\sum_{i \in I} p(c|i)` that of the list (uniform rank
    weights) and :math:`\tilde q = (1 - a)\, q + a\, p` with the paper's :math:`a = 0.01`.
    Categories with :math:`p(c|u) = 0` add 0 to the divergence.

    Adding candidate ``i`` (categories :math:`A_i`, :math:`p(c|i) = 1/|A_i|` on them) to a
    list of ``t`` items changes :math:`\tilde q` only on :math:`A_i`, so the divergence is

    .. math::
        \sum_c p_c \log \frac{p_c}{b_c}
        - \sum_{c \in A_i} p_c \log\Big(1 + \frac{(1 - a) / |A_i|}{b_c}\Big),
        \qquad b_c = (1 - a) \sum_{j \in I} p(c|j) + a\, (t + 1)\, p_c

    (:math:`b_c / (t + 1)` is :math:`\tilde q_c` without the candidate). The first sum is
    the same for every candidate, so the step takes the argmax of
    :math:`(1 - \lambda)\,\mathrm{rel}(i) + \lambda \sum_{c \in A_i} \ldots`: the same
    choice, up to float32 rounding. The terms are one table per step, for
    :math:`|A_i| = 1..M` (``M`` the most categories of an item) and every category, read at
    each candidate's ``M`` category places.

    Cost per user: time ``O(K M (N + C))``, memory ``O(M (N + C))``.

    Args:
        rel: ``[U, N] float`` relevance (see :func:`relevance`).
        slots: ``[U, N, M] int`` each candidate's category indices, places beyond its
            categories holding any value outside ``[0, C)``
            (``category_slots(categories)[items]``, see
            :func:`~moorec.rerank.similarity.category_slots`); no index twice for a candidate.
        user_dist: ``[U, C] float`` each user's :math:`p(c|u)` (rows sum to 1, or 0 for a user
            without categorised history: relevance alone).
        weight: ``[] float`` :math:`\lambda` in ``[0, 1]``.
        k: list length (static).
        valid: ``[U, N] bool`` valid candidates; all by default.
        smoothing: :math:`a` (static).

    Returns:
        ``[U, K] int32`` chosen candidate positions, in the order chosen.
    """
    ranked = _candidate_major(rel, valid)
    n_cat = jnp.shape(user_dist)[1]
    idx = jnp.transpose(jnp.asarray(slots, jnp.int32), (2, 1, 0))  # [M, N, U]
    words = words_from_slots(idx, n_cat)  # [W, N, U]
    steps = calibration_steps(
        ranked, words, user_dist, weight, k=k, n_slots=idx.shape[0], smoothing=smoothing
    )
    return _positions(steps)


def calibration_steps(
    ranked: Ranked,
    words: ArrayLike,
    user_dist: ArrayLike,
    weight: ArrayLike,
    *,
    k: int,
    n_slots: int,
    smoothing: float = CALIBRATION_SMOOTHING,
) -> Array:
    r""":func:`calibration_select` on candidate-major inputs.

    Args:
        ranked: the candidates (:class:`Ranked`).
        words: ``[W, N, U] uint32`` the candidates' bit-packed category sets
            (:func:`~moorec.rerank.similarity.pack_categories`), ``W = ceil(C / 32)``.
        user_dist: ``[U, C]``, as for :func:`calibration_select`.
        weight: ``[] float`` :math:`\lambda`.
        k: list length (static).
        n_slots: ``M``, the most categories of a candidate (static).
        smoothing: :math:`a` (static).

    Returns:
        ``[K, U] int32`` chosen candidate positions, step by step.
    """
    rel, valid, n_valid = ranked
    lam = _weight(weight)
    a = smoothing
    p = jnp.asarray(user_dist, jnp.float32).T  # [C, U]
    n_cat, u = p.shape
    words = jnp.asarray(words, jnp.uint32)
    idx = slots_from_words(words, n_slots)  # [M, N, U]
    n = idx.shape[1]
    in_set = idx < n_cat
    idx = jnp.where(in_set, idx, n_cat)  # unused places: category C, with p = 0
    size = jnp.sum(jax.lax.population_count(words), axis=0)  # [N, U] |A_i|
    pci = jnp.where(size > 0, 1.0 / jnp.maximum(size, 1).astype(jnp.float32), 0.0)
    # flat index of (|A_i|, category, user) into the per-step table of terms [M, C + 1, U]
    by_size = jnp.maximum(size, 1) - 1
    lane = jnp.arange(u, dtype=jnp.int32)[None, None, :]
    flat = (by_size[None] * (n_cat + 1) + idx) * u + lane
    p = jnp.concatenate([p, jnp.zeros((1, u), jnp.float32)], axis=0)  # [C + 1, U]
    has = p > 0
    add = ((1.0 - a) / jnp.arange(1, n_slots + 1, dtype=jnp.float32))[:, None, None]  # [M,1,1]
    cat_bit = (jnp.arange(n_cat) % 32).astype(jnp.uint32)[:, None]
    pos = jnp.arange(n, dtype=jnp.int32)[:, None]

    def terms(qsum, t):
        # [M, C + 1, U]: p_c log(q~_c / b_c) for a candidate with s = 1..M categories, c
        # among them, as the list's item t + 1: with b_c the list's q~_c without it, times
        # t + 1, it adds (1 - a) / s to that. 0 where p_c = 0 (b_c is then replaced by 1, so
        # the log is finite). Kept three-dimensional: written flat, the table costs twice as
        # much to form
        qsum = jnp.concatenate([qsum, jnp.zeros((1, u), jnp.float32)], axis=0)
        b = (1.0 - a) * qsum + a * (t + 1.0) * p  # > 0 where p > 0
        inv = 1.0 / jnp.where(has, b, 1.0)  # [C + 1, U]
        return p * jnp.log(1.0 + add * inv)

    def choose(t, state):
        # qsum: [C, U] sum of p(c|j) over the chosen j; table: terms(qsum, t), formed at the
        # end of the step before (so that it is one array the gathers read, not inlined into
        # each of them)
        chosen, qsum, table = state
        table = table.reshape(-1)
        gain = table[flat[0]]
        for m in range(1, n_slots):
            gain = gain + table[flat[m]]
        i = _first_argmax((1.0 - lam) * rel + lam * gain, _available(chosen, valid, n_valid, t))
        return i, (chosen, qsum)

    def update(t, ready, i):
        chosen, qsum = ready
        words_i = jnp.take_along_axis(words, i[None, None, :], axis=1)[:, 0]  # [W, U]
        pci_i = jnp.take_along_axis(pci, i[None], axis=0)  # [1, U]
        in_i = (jnp.repeat(words_i, 32, axis=0)[:n_cat] >> cat_bit) & 1  # [C, U]
        qsum = qsum + jnp.where(in_i == 1, pci_i, 0.0)
        return chosen | (pos == i), qsum, terms(qsum, t + 1)

    qsum = jnp.zeros((n_cat, u), jnp.float32)
    return _greedy(k, u, choose, update, (jnp.zeros((n, u), bool), qsum, terms(qsum, 0)))


def xquad_select(
    rel: ArrayLike,
    cand_tail: ArrayLike,
    user_groups: ArrayLike,
    weight: ArrayLike,
    *,
    k: int,
    valid: ArrayLike | None = None,
    variant: str = "binary",
) -> Array:
    r"""Long-tail exposure: xQuAD over the head and tail of the catalogue, greedy.

    Source: Abdollahpouri, Burke and Mobasher, "Managing Popularity Bias in Recommender
    Systems with Personalized Re-ranking", FLAIRS 2019.

    At each step, with :math:`\lambda` the weight,

    .. math::
        i^* = \arg\max_i\ (1 - \lambda)\,\mathrm{rel}(i)
            + \lambda \sum_{c \in \{\mathrm{head}, \mathrm{tail}\}} P(c|u)\, P(i|c)\,
              \mathrm{cov}_S(c)

    with :math:`P(i|c) = 1` if item ``i`` is in group ``c`` else 0 and :math:`P(c|u)` the
    share of group ``c`` in the user's history. ``variant="binary"`` (Binary xQuAD):
    :math:`\mathrm{cov}_S(c) = \prod_{j \in S} (1 - P(j|c))`, 1 while no chosen item is in
    ``c``, else 0; ``variant="smooth"`` (Smooth xQuAD): :math:`1 - |S \cap c| / |S|`
    (1 for the empty list).

    Cost per user: time ``O(K N)``, memory ``O(N)``.

    Args:
        rel: ``[U, N] float`` relevance (see :func:`relevance`).
        cand_tail: ``[U, N] bool`` whether each candidate is a long-tail item.
        user_groups: ``[U, 2] float`` :math:`(P(\mathrm{head}|u), P(\mathrm{tail}|u))`.
        weight: ``[] float`` :math:`\lambda` in ``[0, 1]``.
        k: list length (static).
        valid: ``[U, N] bool`` valid candidates; all by default.
        variant: ``"binary"`` or ``"smooth"`` (static).

    Returns:
        ``[U, K] int32`` chosen candidate positions, in the order chosen.
    """
    ranked = _candidate_major(rel, valid)
    tail = jnp.asarray(cand_tail, bool).T
    return _positions(xquad_steps(ranked, tail, user_groups, weight, k=k, variant=variant))


def xquad_steps(
    ranked: Ranked,
    cand_tail: ArrayLike,
    user_groups: ArrayLike,
    weight: ArrayLike,
    *,
    k: int,
    variant: str = "binary",
) -> Array:
    """:func:`xquad_select` on candidate-major inputs (``cand_tail``: ``[N, U] bool``).

    Returns:
        ``[K, U] int32`` chosen candidate positions, step by step.
    """
    if variant not in XQUAD_VARIANTS:  # validated at the public boundary too
        raise UnknownNameError("xQuAD variant", variant, XQUAD_VARIANTS)
    rel, valid, n_valid = ranked
    tail = jnp.asarray(cand_tail, bool)  # [N, U]
    share = jnp.asarray(user_groups, jnp.float32).T  # [2, U]
    lam = _weight(weight)
    n, u = rel.shape
    pos = jnp.arange(n, dtype=jnp.int32)[:, None]

    def body(t, carry):
        chosen, count, out = carry  # count: [2, U] chosen head and tail items
        if variant == "binary":
            cover = (count == 0).astype(jnp.float32)
        else:
            cover = jnp.where(t == 0, 1.0, 1.0 - count / jnp.maximum(t, 1))
        g = share * cover  # [2, U]
        div = jnp.where(tail, g[1][None, :], g[0][None, :])
        i = _first_argmax((1.0 - lam) * rel + lam * div, _available(chosen, valid, n_valid, t))
        in_tail = jnp.take_along_axis(tail, i[None], axis=0)[0]
        count = count + jnp.stack([~in_tail, in_tail]).astype(jnp.float32)
        out = jax.lax.dynamic_update_slice(out, i[None], (t, 0))
        return chosen | (pos == i), count, out

    init = (jnp.zeros((n, u), bool), jnp.zeros((2, u), jnp.float32), jnp.zeros((k, u), jnp.int32))
    return jax.lax.fori_loop(0, k, body, init)[2]
