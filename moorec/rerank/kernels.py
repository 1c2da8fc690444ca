r"""Greedy re-ranking kernels: pure ``jax.numpy`` functions over a batch of users.

Every kernel takes the candidates' relevance ``rel: [U, N]`` (see :func:`relevance`), a
``valid: [U, N]`` mask and one scalar weight, and returns the chosen candidate positions
``[U, K] int32`` in the order chosen. The greedy loop is one :func:`jax.lax.fori_loop` of ``K``
steps; the weight is a traced array, so changing it never recompiles, and every kernel can be
``jax.vmap``-ed over the weight (``in_axes=(None, ..., 0)``) to sweep ``W`` weights in one
program. ``K`` is static.

Conventions shared by all kernels:

* **Weight.** ``w = 0`` is the model's own top-``K`` (relevance alone); ``w = 1`` the other
  end (diversity, calibration or tail exposure alone).
* **Ties.** The greedy argmax breaks ties by candidate position, lowest first, so candidates
  given in the model's order (best first) fall back to the model's order.
* **Invalid candidates** (``valid`` false, e.g. a ``-inf`` score for a user with fewer than
  ``N`` unknown items) are chosen only when no valid candidate is left, in position order.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

__all__ = [
    "CALIBRATION_SMOOTHING",
    "DPP_EPS",
    "XQUAD_VARIANTS",
    "calibration_select",
    "dpp_select",
    "item_category_distribution",
    "mmr_select",
    "relevance",
    "xquad_select",
]

DPP_EPS = 1e-4
"""Smallest conditional variance ``d_i^2`` for which DPP still adds item ``i`` (float32)."""

CALIBRATION_SMOOTHING = 0.01
"""Steck's (RecSys 2018) smoothing ``a`` of the list's category distribution."""

XQUAD_VARIANTS = ("binary", "smooth")
"""xQuAD's coverage terms (Abdollahpouri, Burke and Mobasher, FLAIRS 2019)."""


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


def _pick(values: Array, eligible: Array, unchosen: Array) -> Array:
    """Argmax of ``values`` over ``eligible`` (lowest position on ties).

    When no position is eligible, the first unchosen position; when the best eligible value
    is ``-inf``, the first eligible position.
    """
    avail = eligible | (~jnp.any(eligible) & unchosen)
    v = jnp.where(avail, values, -jnp.inf)
    i = jnp.argmax(v)
    return jnp.where(avail[i], i, jnp.argmax(avail)).astype(jnp.int32)


def _weight(weight: ArrayLike) -> Array:
    return jnp.asarray(weight, dtype=jnp.float32)


def mmr_select(
    rel: ArrayLike, sim: ArrayLike, weight: ArrayLike, *, k: int, valid: ArrayLike | None = None
) -> Array:
    r"""Maximal marginal relevance (Carbonell and Goldstein, SIGIR 1998), greedy.

    At each step, of the candidates :math:`i \notin S` not chosen yet,

    .. math:: i^* = \arg\max_i\ (1 - w)\,\mathrm{rel}(i) - w \max_{j \in S} \mathrm{sim}(i, j)

    with :math:`\max_{j \in \emptyset} = 0`, so the first item is the most relevant one
    (position 0 at ``w = 1``). ``w = 0`` gives the top-``K`` by relevance.

    Cost per user: time ``O(K N)``, memory ``O(N)`` besides ``sim``.

    Args:
        rel: ``[U, N] float`` relevance (see :func:`relevance`).
        sim: ``[U, N, N] float`` candidate similarities.
        weight: ``[] float`` diversity weight ``w`` in ``[0, 1]``.
        k: list length (static).
        valid: ``[U, N] bool`` valid candidates; all by default.

    Returns:
        ``[U, K] int32`` chosen candidate positions, in the order chosen.
    """
    rel = jnp.asarray(rel, jnp.float32)
    valid = jnp.ones(rel.shape, bool) if valid is None else jnp.asarray(valid)
    w = _weight(weight)

    def one(r, s, ok):
        n = r.shape[0]

        def body(t, carry):
            chosen, maxsim, out = carry
            penalty = jnp.where(t == 0, 0.0, maxsim)
            i = _pick((1.0 - w) * r - w * penalty, ~chosen & ok, ~chosen)
            return chosen.at[i].set(True), jnp.maximum(maxsim, s[i]), out.at[t].set(i)

        init = (jnp.zeros(n, bool), jnp.full(n, -jnp.inf, jnp.float32), jnp.zeros(k, jnp.int32))
        return jax.lax.fori_loop(0, k, body, init)[2]

    return jax.vmap(one)(rel, jnp.asarray(sim, jnp.float32), valid)


def dpp_select(
    rel: ArrayLike,
    sim: ArrayLike,
    weight: ArrayLike,
    *,
    k: int,
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
    :math:`d_i^2 \leftarrow d_i^2 - e_i^2` after choosing ``j``. This form is exact at both
    ends: ``w = 0`` (:math:`\theta = 1`, :math:`\alpha = \infty`) is the top-``K`` by
    relevance, ``w = 1`` (:math:`\theta = 0`) maximises :math:`\det S_Y` alone.

    **Stopping.** The list has ``K`` items (the paper's cardinality-constrained variant). For
    ``w > 0`` only candidates with :math:`d_i^2 > \varepsilon` are eligible (adding one with
    :math:`d_i^2 \le \varepsilon` would make :math:`L_Y` singular: a log-determinant gain of
    :math:`-\infty`); once no valid candidate is eligible, the greedy stops and the remaining
    places are filled by relevance (ties by position).

    Cost per user: time ``O(K^2 N)``, memory ``O(K N)`` besides ``sim``.

    Args:
        rel: ``[U, N] float`` relevance (see :func:`relevance`).
        sim: ``[U, N, N] float`` positive semi-definite candidate similarities, unit diagonal.
        weight: ``[] float`` diversity weight ``w = 1 - theta`` in ``[0, 1]``.
        k: list length (static).
        valid: ``[U, N] bool`` valid candidates; all by default.
        eps: smallest :math:`d_i^2` of an eligible candidate (static).

    Returns:
        ``[U, K] int32`` chosen candidate positions, in the order chosen.
    """
    rel = jnp.asarray(rel, jnp.float32)
    valid = jnp.ones(rel.shape, bool) if valid is None else jnp.asarray(valid)
    w = _weight(weight)
    theta = 1.0 - w

    def one(r, s, ok):
        n = r.shape[0]

        def body(t, carry):
            chosen, c, d2, out, stopped = carry
            unchosen = ~chosen
            eligible = unchosen & ok & ((d2 > eps) | (w == 0))
            stop = stopped | ~jnp.any(eligible)
            gain = theta * r + w * jnp.log(jnp.maximum(d2, eps))
            i = jnp.where(stop, _pick(r, unchosen & ok, unchosen), _pick(gain, eligible, unchosen))
            e = (s[i] - c.T @ c[:, i]) / jnp.sqrt(jnp.maximum(d2[i], eps))
            update = ~stop & (d2[i] > eps)
            c = jnp.where(update, c.at[t].set(e), c)
            d2 = jnp.where(update, d2 - e * e, d2)
            return chosen.at[i].set(True), c, d2, out.at[t].set(i), stop

        init = (
            jnp.zeros(n, bool),
            jnp.zeros((k, n), jnp.float32),
            jnp.diagonal(s).astype(jnp.float32),
            jnp.zeros(k, jnp.int32),
            jnp.asarray(False),
        )
        return jax.lax.fori_loop(0, k, body, init)[3]

    return jax.vmap(one)(rel, jnp.asarray(sim, jnp.float32), valid)


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
    cand_dist: ArrayLike,
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

    Cost per user: time ``O(K N C)``, memory ``O(N C)``.

    Args:
        rel: ``[U, N] float`` relevance (see :func:`relevance`).
        cand_dist: ``[U, N, C] float`` the candidates' :math:`p(c|i)`
            (:func:`item_category_distribution`).
        user_dist: ``[U, C] float`` each user's :math:`p(c|u)` (rows sum to 1, or 0 for a user
            without categorised history: relevance alone).
        weight: ``[] float`` :math:`\lambda` in ``[0, 1]``.
        k: list length (static).
        valid: ``[U, N] bool`` valid candidates; all by default.
        smoothing: :math:`a` (static).

    Returns:
        ``[U, K] int32`` chosen candidate positions, in the order chosen.
    """
    rel = jnp.asarray(rel, jnp.float32)
    valid = jnp.ones(rel.shape, bool) if valid is None else jnp.asarray(valid)
    lam = _weight(weight)
    a = smoothing

    def one(r, pci, p, ok):
        n, n_cat = pci.shape
        has = p > 0
        logp = jnp.log(jnp.where(has, p, 1.0))

        def body(t, carry):
            chosen, qsum, out = carry
            q = (qsum[None, :] + pci) / (t + 1.0)
            qt = (1.0 - a) * q + a * p[None, :]
            kl = jnp.sum(jnp.where(has, p * (logp - jnp.log(jnp.where(has, qt, 1.0))), 0.0), 1)
            i = _pick((1.0 - lam) * r - lam * kl, ~chosen & ok, ~chosen)
            return chosen.at[i].set(True), qsum + pci[i], out.at[t].set(i)

        init = (jnp.zeros(n, bool), jnp.zeros(n_cat, jnp.float32), jnp.zeros(k, jnp.int32))
        return jax.lax.fori_loop(0, k, body, init)[2]

    return jax.vmap(one)(
        rel, jnp.asarray(cand_dist, jnp.float32), jnp.asarray(user_dist, jnp.float32), valid
    )


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
    if variant not in XQUAD_VARIANTS:  # validated at the public boundary too
        raise ValueError(f"variant must be one of {XQUAD_VARIANTS}, got {variant!r}")
    rel = jnp.asarray(rel, jnp.float32)
    valid = jnp.ones(rel.shape, bool) if valid is None else jnp.asarray(valid)
    lam = _weight(weight)

    def one(r, tail, pcu, ok):
        n = r.shape[0]
        member = jnp.stack([~tail, tail], axis=-1).astype(jnp.float32)  # [N, 2] P(i|c)

        def body(t, carry):
            chosen, count, out = carry
            if variant == "binary":
                cover = (count == 0).astype(jnp.float32)
            else:
                cover = jnp.where(t == 0, 1.0, 1.0 - count / jnp.maximum(t, 1))
            div = member @ (pcu * cover)
            i = _pick((1.0 - lam) * r + lam * div, ~chosen & ok, ~chosen)
            return chosen.at[i].set(True), count + member[i], out.at[t].set(i)

        init = (jnp.zeros(n, bool), jnp.zeros(2, jnp.float32), jnp.zeros(k, jnp.int32))
        return jax.lax.fori_loop(0, k, body, init)[2]

    return jax.vmap(one)(
        rel, jnp.asarray(cand_tail, bool), jnp.asarray(user_groups, jnp.float32), valid
    )
