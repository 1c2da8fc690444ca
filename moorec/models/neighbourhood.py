"""Non-neural baselines: popularity, item-based k-nearest neighbours and RP3beta.

All three are closed-form (:mod:`moorec.models.closed_form`): ``solve(train)`` computes them in
one pass from the binary user-item matrix ``X`` (``[n_users, n_items]``, 1 for every distinct
training pair) and ``score(users)`` reads the users' training rows ``X_u`` inside the jitted
program.

* :class:`Pop`: every user gets the items' training counts.
* :class:`ItemKNN`: Sarwar et al., "Item-based collaborative filtering recommendation
  algorithms", WWW 2001, with the shrunk cosine of Ferrari Dacrema, Cremonesi and Jannach, "Are
  we really making much progress?", RecSys 2019.
* :class:`RP3beta`: Paudel, Christoffel, Newell and Bernstein, "Updatable, accurate, diverse, and
  scalable recommendations for interactive applications", ACM TiiS 2017 (after Christoffel et
  al., "Blockbusters and wallflowers", RecSys 2015), as Ferrari Dacrema et al. implement it.

The two neighbourhood models keep ``k`` weighted neighbours per item (``[n_items, k]`` indices
and weights), built in blocks of rows with ``scipy.sparse`` (:func:`cosine_neighbours`,
:func:`rp3beta_neighbours`): memory ``O(n_items * k)`` plus one block, never the whole
``n_items x n_items`` matrix. Scoring a catalogue of at most :data:`DENSE_SCORING_ITEMS` items
expands the lists to the dense item-item matrix inside the program and multiplies (fastest on
small catalogues); larger ones are scored from the lists directly, ``O(B * n_items * k)``
(ItemKNN) or ``O(B * max_degree * k)`` (RP3beta) per block of ``B`` users.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from flax import nnx

from moorec.data.interactions import Interactions
from moorec.errors import check_positive_int
from moorec.models.closed_form import (
    BLOCK_ENTRIES,
    ClosedFormRecommender,
    binary_matrix,
    check_memory,
    check_real,
    check_sizes,
    keep_top_k,
    row_blocks,
)
from moorec.models.rows import check_train

__all__ = [
    "DENSE_SCORING_ITEMS",
    "ItemKNN",
    "Pop",
    "RP3beta",
    "cosine_neighbours",
    "rp3beta_neighbours",
]

#: Catalogues up to this size are scored through the dense ``n_items x n_items`` matrix
#: expanded from the neighbour lists inside the program (64 MiB of float32 at 4,096 items).
DENSE_SCORING_ITEMS = 4096


class Pop(ClosedFormRecommender):
    """Most popular items: the same scores, the items' training counts, for every user.

    ``score(u, j) = |{training interactions of item j}|`` (repeated interactions count each
    time). Items with equal counts tie; the evaluator ranks ties in its seeded random order of
    the items (``Evaluator(tie_seed=...)``), as for every model.

    The counts are ``nnx.Param`` (``n_items`` entries: what the ``params`` objective counts).

    Args:
        n_users: number of users.
        n_items: number of items.
        rngs: ignored (the model is deterministic); accepted like every model's.

    Example:
        >>> import jax.numpy as jnp
        >>> from moorec.data import Interactions
        >>> train = Interactions(users=[0, 1, 1], items=[2, 2, 0], n_users=2, n_items=3)
        >>> model = Pop(2, 3)
        >>> model.solve(train)
        >>> model.score(jnp.array([0])).tolist()
        [[1.0, 0.0, 2.0]]
    """

    def __init__(self, n_users: int, n_items: int, *, rngs: nnx.Rngs | None = None):
        self.n_users, self.n_items = check_sizes(n_users, n_items)
        self.popularity = nnx.Param(jnp.zeros(self.n_items, jnp.float32))

    def solve(self, train: Interactions) -> None:
        """Count each item's training interactions."""
        check_train("pop", train, self.n_users, self.n_items)
        self.popularity.set_value(jnp.asarray(train.item_counts(), jnp.float32))

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """``[B]`` users -> ``[B, n_items]`` float32 training counts (history unused)."""
        return jnp.broadcast_to(self.popularity[...][None, :], (users.shape[0], self.n_items))


def _row_of_entries(m: sp.csr_matrix) -> np.ndarray:
    """``[nnz]`` row index of each stored entry of a CSR matrix."""
    return np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))


def cosine_neighbours(
    x: sp.csr_matrix, k: int, shrink: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar items of every item by shrunk cosine, built in blocks.

    ``sim(i, j) = <x_i, x_j> / (||x_i|| ||x_j|| + shrink)`` over the item columns ``x_i`` of
    ``x`` (Ferrari Dacrema et al. 2019; for a 0/1 matrix ``<x_i, x_j>`` is the number of users
    of both items and ``||x_i||`` the square root of item ``i``'s user count). For each item
    ``j`` the ``k`` items ``i != j`` of largest positive similarity are kept (ties: lower ``i``
    first). Rows ``J`` of the similarity are computed together as ``x[:, J]^T x``, a sparse
    ``[|J|, n_items]`` block of at most :data:`~moorec.models.closed_form.BLOCK_ENTRIES`
    entries.

    Args:
        x: ``[n_users, n_items]`` CSR matrix (0/1 for implicit data).
        k: neighbours kept per item (at most ``n_items - 1`` are stored).
        shrink: the shrinkage term ``>= 0`` (0: plain cosine).

    Returns:
        ``(index, weight)``: ``[n_items, width]`` int32 neighbours ``i`` of each item ``j``
        (row ``j``) and ``[n_items, width]`` float32 ``sim(i, j)``, ``width = min(k,
        max(n_items - 1, 1))``; unused slots hold ``j`` itself with weight 0.
    """
    n = x.shape[1]
    width = min(k, max(n - 1, 1))
    index = np.repeat(np.arange(n, dtype=np.int32)[:, None], width, axis=1)
    weight = np.zeros((n, width), np.float32)
    xt = x.T.tocsr()
    norm = np.sqrt(np.asarray(xt.multiply(xt).sum(axis=1), dtype=np.float64).ravel())
    for first, stop in row_blocks(n, n):
        block = (xt[first:stop] @ x).tocsr()
        rows = _row_of_entries(block) + first
        block.data = block.data / (norm[rows] * norm[block.indices] + shrink)
        keep_top_k(block, first, width, index, weight)
    return index, weight


def rp3beta_neighbours(
    x: sp.csr_matrix, k: int, alpha: float = 1.0, beta: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` strongest three-step transitions out of every item, built in blocks.

    With ``P_ui = x_ui / deg(u)`` (user -> item) and ``P_iu = x_ui / deg(i)`` (item -> user),
    each entry raised to the power ``alpha``, the item-to-item weight is

        ``W[i, j] = (sum_u P_iu^alpha P_uj^alpha) / pop(j)^beta``,

    ``pop(j) = deg(j)`` the item's number of training users (Paudel et al. 2017; the form and
    the per-row top-``k`` of Ferrari Dacrema et al.'s ``RP3betaRecommender``, without its
    optional row normalisation). For each item ``i`` the ``k`` items ``j != i`` of largest
    positive weight are kept (ties: lower ``j`` first). Rows ``I`` are computed together as
    ``P_iu^alpha[I] P_ui^alpha``, a sparse block of at most
    :data:`~moorec.models.closed_form.BLOCK_ENTRIES` entries.

    Args:
        x: ``[n_users, n_items]`` 0/1 CSR matrix.
        k: targets kept per item (at most ``n_items - 1`` are stored).
        alpha: the exponent of the transition probabilities, ``>= 0``.
        beta: the popularity penalty exponent, ``>= 0`` (0: RP3 without penalty).

    Returns:
        ``(index, weight)``: ``[n_items, width]`` int32 targets ``j`` of each item ``i`` (row
        ``i``) and ``[n_items, width]`` float32 ``W[i, j]``, ``width = min(k, max(n_items - 1,
        1))``; unused slots hold ``i`` itself with weight 0.
    """
    n = x.shape[1]
    width = min(k, max(n - 1, 1))
    index = np.repeat(np.arange(n, dtype=np.int32)[:, None], width, axis=1)
    weight = np.zeros((n, width), np.float32)
    x = x.tocsr().copy()
    x.data[:] = 1.0
    xt = x.T.tocsr()
    user_deg = np.diff(x.indptr).astype(np.float64)
    item_deg = np.diff(xt.indptr).astype(np.float64)
    p_ui = x.copy()
    p_ui.data = (1.0 / user_deg[_row_of_entries(x)]) ** alpha
    p_iu = xt.copy()
    p_iu.data = (1.0 / item_deg[_row_of_entries(xt)]) ** alpha
    penalty = np.zeros(n, np.float64)
    seen = item_deg > 0
    penalty[seen] = item_deg[seen] ** -beta
    for first, stop in row_blocks(n, n):
        block = (p_iu[first:stop] @ p_ui).tocsr()
        block.data = block.data * penalty[block.indices]
        keep_top_k(block, first, width, index, weight)
    return index, weight


def _check_neighbourhood(model: str, n_items: int, k: object) -> int:
    """``k`` as an int, after checking that the lists fit the memory limit."""
    k = check_positive_int("k", k)
    width = min(k, max(n_items - 1, 1))
    nbytes = 2 * 8 * n_items * width  # index + weight, and their NumPy copies while solving
    # one block of rows: sparse product, COO copy and sort keys, ~40 bytes an entry at most
    nbytes += 40 * min(n_items, max(1, BLOCK_ENTRIES // n_items)) * n_items
    check_memory(
        model, nbytes, f"{n_items:,} x {width:,} neighbour lists and one block of rows", n_items
    )
    return k


class _Neighbourhood(ClosedFormRecommender):
    """Scores ``X_u W`` from ``[n_items, width]`` neighbour lists of a sparse item-item ``W``.

    ``self.neighbours`` (``nnx.Variable`` int32) and ``self.weights`` (``nnx.Param`` float32)
    hold row ``a`` of the lists; :attr:`by_target` says whether row ``a`` lists the sources
    ``i`` of target ``a`` (``W[neighbours[a, t], a] = weights[a, t]``) or the targets ``j`` of
    source ``a`` (``W[a, neighbours[a, t]] = weights[a, t]``).
    """

    by_target: bool = True

    def _allocate(self, train: Interactions | None, k: int) -> None:
        check_train(type(self).__name__, train, self.n_users, self.n_items)
        width = min(k, max(self.n_items - 1, 1))
        own = np.repeat(np.arange(self.n_items, dtype=np.int32)[:, None], width, axis=1)
        self.neighbours = nnx.Variable(jnp.asarray(own))
        self.weights = nnx.Param(jnp.zeros((self.n_items, width), jnp.float32))
        self.dense_scoring = self.n_items <= DENSE_SCORING_ITEMS
        self._keep_rows(train)

    def _store(self, index: np.ndarray, weight: np.ndarray) -> None:
        self.neighbours.set_value(jnp.asarray(index))
        self.weights.set_value(jnp.asarray(weight))

    def item_item(self) -> jax.Array:
        """The item-item matrix ``W`` the lists hold, dense (what small catalogues score with).

        Returns:
            ``[n_items, n_items]`` float32 ``W[i, j]`` (0 off the lists).

        Raises:
            ResourceError: if ``4 * n_items^2`` bytes exceed the memory limit (scoring never
                builds ``W`` above :data:`DENSE_SCORING_ITEMS` items).
        """
        n = self.n_items
        check_memory(type(self).__name__, 4 * n * n, f"the dense {n:,} x {n:,} float32 W", n)
        own = jnp.arange(n, dtype=jnp.int32)[:, None]
        nbr, w = self.neighbours[...], self.weights[...]
        rows, cols = (nbr, own) if self.by_target else (own, nbr)
        return jnp.zeros((n, n), jnp.float32).at[rows, cols].add(w)

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """``score(u, j) = sum_i X[u, i] W[i, j]`` over the user's training items ``i``.

        Args:
            users: ``[B]`` int32 users.
            history: unused.

        Returns:
            ``[B, n_items]`` float32 scores.
        """
        if self.dense_scoring:
            return self.user_matrix(users) @ self.item_item()
        if self.by_target:
            return _gather_scores(self.user_matrix(users), self.neighbours[...], self.weights[...])
        return _scatter_scores(
            self.user_slots(users), self.neighbours[...], self.weights[...], self.n_items
        )


def _gather_scores(x: jax.Array, source: jax.Array, weight: jax.Array) -> jax.Array:
    """``out[b, j] = sum_t x[b, source[j, t]] * weight[j, t]``, one slot ``t`` at a time.

    Args:
        x: ``[B, n_items]`` float32 user rows.
        source: ``[n_items, width]`` int32 sources of each target.
        weight: ``[n_items, width]`` float32.

    Returns:
        ``[B, n_items]`` float32.
    """

    def step(acc, slot):
        src, w = slot
        return acc + x[:, src] * w[None, :], None

    out, _ = jax.lax.scan(step, jnp.zeros_like(x), (source.T, weight.T))
    return out


def _scatter_scores(
    slots: jax.Array, target: jax.Array, weight: jax.Array, n_items: int
) -> jax.Array:
    """``out[b, target[i, t]] += weight[i, t]`` for every training item ``i`` of user ``b``.

    Args:
        slots: ``[B, D]`` int32 users' training items, padded with ``n_items``.
        target: ``[n_items, width]`` int32 targets of each source.
        weight: ``[n_items, width]`` float32.
        n_items: catalogue size (static).

    Returns:
        ``[B, n_items]`` float32.
    """
    pad_t = jnp.concatenate([target, jnp.zeros((1, target.shape[1]), target.dtype)])
    pad_w = jnp.concatenate([weight, jnp.zeros((1, weight.shape[1]), weight.dtype)])
    rows = jnp.arange(slots.shape[0], dtype=jnp.int32)[:, None]

    def step(acc, slot):
        t, w = slot
        return acc.at[rows, t[slots]].add(w[slots]), None

    out, _ = jax.lax.scan(
        step, jnp.zeros((slots.shape[0], n_items), jnp.float32), (pad_t.T, pad_w.T)
    )
    return out


class ItemKNN(_Neighbourhood):
    """Item-based k-nearest neighbours with the shrunk cosine.

    Sarwar, Karypis, Konstan and Riedl, "Item-based collaborative filtering recommendation
    algorithms", WWW 2001; the shrunk cosine and the neighbourhood convention are Ferrari
    Dacrema, Cremonesi and Jannach's (RecSys 2019), which RecBole's ``ItemKNN`` shares:

        ``sim(i, j) = <x_i, x_j> / (||x_i|| ||x_j|| + shrink)``

    over the binary item columns of the training matrix ``X`` (RecBole and Ferrari Dacrema et
    al. add ``1e-6`` to the denominator; here an item pair without common users has similarity
    0 and nothing is divided by 0). For each *target* item ``j`` only its ``k`` most similar
    items ``N_k(j)`` are kept (the top-``k`` of column ``j`` of the similarity matrix), and

        ``score(u, j) = sum over i in I_u and N_k(j) of sim(i, j)``,

    ``I_u`` the user's training items: ``X_u W`` with ``W[i, j] = sim(i, j)`` for ``i`` in
    ``N_k(j)``. ``k >= n_items - 1`` keeps every item (the full similarity matrix).

    State: ``neighbours`` ``[n_items, width]`` int32 (``nnx.Variable``; row ``j`` is ``N_k(j)``)
    and ``weights`` ``[n_items, width]`` float32 (``nnx.Param``: ``params`` counts
    ``n_items * width``), ``width = min(k, n_items - 1)``; the users' training rows as CSR
    arrays (``nnx.Variable``).

    Args:
        n_users: number of users.
        n_items: number of items.
        k: neighbours per item, a positive integer.
        shrink: the shrinkage term, a finite number ``>= 0``.
        train: the training :class:`~moorec.data.Interactions` (required: scoring reads the
            users' training items).
        rngs: ignored (the model is deterministic).

    Raises:
        ConfigError: for a bad ``k`` or ``shrink``, or without ``train``.
        ResourceError: if the lists and one block of rows would exceed the memory limit
            (:func:`~moorec.models.closed_form.memory_limit_bytes`).
    """

    by_target = True

    def __init__(
        self,
        n_users: int,
        n_items: int,
        k: int = 150,
        shrink: float = 5.0,
        *,
        train: Interactions | None = None,
        rngs: nnx.Rngs | None = None,
    ):
        self.n_users, self.n_items = check_sizes(n_users, n_items)
        self.k = _check_neighbourhood("itemknn", self.n_items, k)
        self.shrink = check_real("shrink", shrink)
        self._allocate(train, self.k)

    def solve(self, train: Interactions) -> None:
        """Build the top-``k`` neighbourhoods from ``train`` (blockwise)."""
        check_train("itemknn", train, self.n_users, self.n_items)
        self._keep_rows(train)
        self._store(*cosine_neighbours(binary_matrix(train), self.k, self.shrink))


class RP3beta(_Neighbourhood):
    """RP3beta: three-step random walks with a popularity penalty.

    Paudel, Christoffel, Newell and Bernstein, "Updatable, accurate, diverse, and scalable
    recommendations for interactive applications", ACM TiiS 2017 (the P^3 walk of Christoffel,
    Vanchinathan, Jannach and Krause, RecSys 2015, divided by popularity to the power beta);
    the form of Ferrari Dacrema et al.'s ``RP3betaRecommender`` (RecSys 2019): with ``X`` the
    binary training matrix,

        ``W[i, j] = (sum_u (x_ui / deg(i))^alpha (x_uj / deg(u))^alpha) / deg(j)^beta``,

    the probability of walking item ``i`` -> user -> item ``j`` with each step's probability
    raised to ``alpha``, divided by ``j``'s popularity to the power ``beta``. For each *source*
    item ``i`` only its ``k`` largest weights are kept (the top-``k`` of row ``i``), and

        ``score(u, j) = sum over i in I_u of W[i, j]``.

    The walk's first step ``u -> i`` has probability ``deg(u)^-alpha``, the same for all of the
    user's items: it does not change the user's ranking and is left out (as Ferrari Dacrema et
    al. score with the binary row). ``alpha = 1, beta = 0`` is plain P^3.

    State: ``neighbours`` ``[n_items, width]`` int32 (``nnx.Variable``; row ``i`` lists ``i``'s
    targets) and ``weights`` float32 (``nnx.Param``), ``width = min(k, n_items - 1)``; the
    users' training rows as CSR arrays (``nnx.Variable``).

    Args:
        n_users: number of users.
        n_items: number of items.
        k: targets kept per item, a positive integer.
        alpha: exponent of the transition probabilities, a finite number ``>= 0``.
        beta: popularity penalty exponent, a finite number ``>= 0``.
        train: the training :class:`~moorec.data.Interactions` (required).
        rngs: ignored (the model is deterministic).

    Raises:
        ConfigError: for a bad ``k``, ``alpha`` or ``beta``, or without ``train``.
        ResourceError: if the lists and one block of rows would exceed the memory limit.
    """

    by_target = False

    def __init__(
        self,
        n_users: int,
        n_items: int,
        k: int = 200,
        alpha: float = 0.9,
        beta: float = 0.65,
        *,
        train: Interactions | None = None,
        rngs: nnx.Rngs | None = None,
    ):
        self.n_users, self.n_items = check_sizes(n_users, n_items)
        self.k = _check_neighbourhood("rp3beta", self.n_items, k)
        self.alpha = check_real("alpha", alpha)
        self.beta = check_real("beta", beta)
        self._allocate(train, self.k)

    def solve(self, train: Interactions) -> None:
        """Build the top-``k`` transition lists from ``train`` (blockwise)."""
        check_train("rp3beta", train, self.n_users, self.n_items)
        self._keep_rows(train)
        self._store(*rp3beta_neighbours(binary_matrix(train), self.k, self.alpha, self.beta))
