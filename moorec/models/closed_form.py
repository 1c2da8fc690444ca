"""What the closed-form models share: one-pass solving, user rows under jit, memory limits.

A closed-form model (``closed_form = True``: :class:`~moorec.models.ease.EASE`,
:class:`~moorec.models.neighbourhood.ItemKNN`, :class:`~moorec.models.neighbourhood.RP3beta`,
:class:`~moorec.models.neighbourhood.Pop`) is computed from the training interactions in one
pass, by its ``solve(train)`` method, instead of trained by gradient steps.
:func:`moorec.train.fit` calls ``solve`` once, times it and validates the result once; there are
no epochs, no loss and no sampler.

The arrays the scores need are NNX variables, so that ``nnx.split`` / ``nnx.merge``, the
evaluator's jitted ranking, the search's state cache and saving see them like any other state:

* what ``solve`` computes from the data (EASE's ``B``, the neighbour weights, the item
  counts) is ``nnx.Param``, so that the ``params`` objective counts it as the model's size, as it
  counts the embedding tables of a factorisation model;
* what only indexes (the neighbour indices) or restates the training data (each user's training
  items, kept as CSR arrays and expanded to a dense ``[B, n_items]`` block inside ``score``) is
  plain ``nnx.Variable``, which ``params`` does not count (as LightGCN's graph).

Interactions are binary here: a (user, item) pair seen once or more counts once.

Memory: a model that holds or builds ``n_items x n_items`` values checks its estimate before
allocating anything (:func:`check_memory`) against :func:`memory_limit_bytes` (default
``8 GiB``; the environment variable ``MOOREC_MAX_DENSE_GB`` sets another) and raises
:class:`~moorec.errors.ResourceError` above it. The top-k neighbourhoods are built in blocks of
rows (:func:`row_blocks`), ``O(block x n_items)`` memory at a time, never the whole matrix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from flax import nnx

from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, ResourceError, TrainingError, check_positive_int
from moorec.models.base import Recommender
from moorec.models.rows import dense_rows, user_csr

__all__ = [
    "BLOCK_ENTRIES",
    "DEFAULT_MEMORY_LIMIT_GB",
    "MEMORY_LIMIT_ENV",
    "ClosedFormRecommender",
    "binary_matrix",
    "check_memory",
    "keep_top_k",
    "memory_limit_bytes",
    "row_blocks",
]

#: Environment variable holding the memory limit of closed-form models, in GiB.
MEMORY_LIMIT_ENV = "MOOREC_MAX_DENSE_GB"
#: The limit when the variable is not set.
DEFAULT_MEMORY_LIMIT_GB = 8.0
#: Most entries of one block of a blockwise item-item product (rows x n_items).
BLOCK_ENTRIES = 1 << 22


def memory_limit_bytes() -> int:
    """The most bytes a closed-form model may plan to hold while it is built.

    ``MOOREC_MAX_DENSE_GB`` (a positive number of GiB) if set, else
    :data:`DEFAULT_MEMORY_LIMIT_GB`.

    Raises:
        ConfigError: if the variable is set to something other than a positive number.
    """
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not text:
        return int(DEFAULT_MEMORY_LIMIT_GB * 2**30)
    try:
        gib = float(text)
    except ValueError:
        gib = math.nan
    if not (math.isfinite(gib) and gib > 0):
        raise ConfigError(f"{MEMORY_LIMIT_ENV} must be a positive number of GiB, got {text!r}")
    return int(gib * 2**30)


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB"


def check_memory(model: str, nbytes: int, what: str, n_items: int) -> None:
    """Refuse to build a model whose estimated memory lies above :func:`memory_limit_bytes`.

    Args:
        model: the model's name, for the message.
        nbytes: estimated bytes at the peak of building it.
        what: what those bytes hold, for the message (e.g. ``"the 1,682 x 1,682 Gram matrix
            ..."``).
        n_items: catalogue size, for the message.

    Raises:
        ResourceError: above the limit; the message names the estimate, the limit and what to
            do about it.
    """
    limit = memory_limit_bytes()
    if nbytes <= limit:
        return
    raise ResourceError(
        f"{model} over {n_items:,} items needs about {_gib(nbytes)} ({what}), above the limit "
        f"of {_gib(limit)}; use a smaller catalogue (e.g. keep the items with the most "
        "interactions), a sparse top-k model (itemknn or rp3beta with a moderate k), or raise "
        f"the limit with the environment variable {MEMORY_LIMIT_ENV} (GiB) on a machine with "
        "the memory"
    )


def check_real(name: str, value: object, *, low: float = 0.0, strict: bool = False) -> float:
    """``value`` as a float if it is a finite real number ``>= low`` (``> low`` if ``strict``).

    Raises:
        ConfigError: naming ``name`` and the value otherwise.
    """
    bound = f"> {low:g}" if strict else f">= {low:g}"
    number = isinstance(value, int | float | np.integer | np.floating)
    if isinstance(value, bool) or not number or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number {bound}, got {value!r}")
    if value < low or (strict and value == low):
        raise ConfigError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def binary_matrix(train: Interactions) -> sp.csr_matrix:
    """The training interactions as a 0/1 sparse matrix.

    Args:
        train: the training interactions.

    Returns:
        ``[n_users, n_items]`` float64 CSR matrix, 1 for every distinct (user, item) pair.
    """
    indptr, indices = user_csr(train)
    data = np.ones(len(indices), dtype=np.float64)
    return sp.csr_matrix((data, indices, indptr), shape=(train.n_users, train.n_items))


def row_blocks(n_rows: int, n_cols: int, entries: int | None = None) -> Iterator[tuple[int, int]]:
    """``(first, stop)`` ranges of rows such that ``rows x n_cols <= entries`` per block.

    Args:
        n_rows: rows to cover.
        n_cols: columns of each row.
        entries: most entries of one block (default :data:`BLOCK_ENTRIES`).

    Yields:
        ``(first, stop)`` with ``0 <= first < stop <= n_rows``, in order, covering every row.
    """
    entries = BLOCK_ENTRIES if entries is None else entries
    size = max(1, min(n_rows, entries // max(n_cols, 1)))
    for first in range(0, n_rows, size):
        yield first, min(first + size, n_rows)


def keep_top_k(
    block: sp.spmatrix, first: int, k: int, index: np.ndarray, weight: np.ndarray
) -> None:
    """Keep the ``k`` largest positive entries of each row of ``block``, in place.

    Row ``r`` of ``block`` is row ``first + r`` of the whole matrix; its diagonal entry (column
    ``first + r``) is dropped. Entries are ranked by value, largest first, ties by lower column
    index. A row with fewer than ``k`` positive entries keeps what it has; the rest of its slots
    stay as they were (the caller fills them with weight 0).

    Args:
        block: ``[b, n]`` sparse rows ``first .. first + b - 1`` (float64 values).
        first: index of the block's first row.
        k: entries kept per row (the width of ``index``).
        index: ``[n_rows, k]`` int32 columns of the kept entries, written rows
            ``first .. first + b - 1``.
        weight: ``[n_rows, k]`` float32 their values, written likewise.
    """
    coo = block.tocoo()
    rows = coo.row.astype(np.int64)
    cols = coo.col.astype(np.int64)
    vals = coo.data
    keep = (cols != rows + first) & (vals > 0)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    counts = np.bincount(rows, minlength=block.shape[0])
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    take = rank < k
    index[first + rows[take], rank[take]] = cols[take]
    weight[first + rows[take], rank[take]] = vals[take]


class ClosedFormRecommender(Recommender):
    """Base class of models computed in one pass by :meth:`solve`.

    Subclasses set ``n_users`` / ``n_items``, allocate their state in ``__init__`` (with the
    shapes :meth:`solve` gives it, so that a stored state can be read back into a freshly built
    model) and implement :meth:`solve` and :meth:`score`. Models that score from the user's
    training items keep them with :meth:`_keep_rows` and read them with :meth:`user_matrix` or
    :meth:`user_slots`.

    Attributes:
        closed_form: ``True``.
        sampler: ``"none"`` (no batches).
    """

    closed_form: ClassVar[bool] = True
    sampler: ClassVar[str] = "none"
    hparam_names: ClassVar[tuple[str, ...]] = ()
    hparam_defaults: ClassVar[dict[str, float]] = {}
    hparam_switches: ClassVar[tuple[str, ...]] = ()

    def solve(self, train: Interactions) -> None:
        """Compute the model from ``train`` (its state is replaced)."""
        raise NotImplementedError

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Closed-form models have no training loss.

        Raises:
            TrainingError: always; train with :func:`moorec.train.fit`, which calls
                :meth:`solve`.
        """
        raise TrainingError(
            f"{type(self).__name__} is computed in closed form and has no training loss: "
            "train it with moorec.train.fit (or moorec.fit), which calls its solve() once"
        )

    # -- the user's training items ----------------------------------------------------------

    def _keep_rows(self, train: Interactions) -> None:
        """Store each user's distinct training items as CSR arrays (``nnx.Variable``)."""
        indptr, indices = user_csr(train)
        degree = np.diff(indptr)
        self.max_degree = max(int(degree.max()) if len(degree) else 0, 1)
        if len(indices) == 0:
            indices = np.zeros(1, np.int32)  # one slot, never read (every degree is 0)
        self.train_indptr = nnx.Variable(jnp.asarray(indptr))
        self.train_items = nnx.Variable(jnp.asarray(indices))

    def user_matrix(self, users: jax.Array) -> jax.Array:
        """The users' training rows as a dense block (inside a jitted program).

        Args:
            users: ``[B]`` int32 users.

        Returns:
            ``[B, n_items]`` float32, 1 where the user has the item in training, else 0.
        """
        return dense_rows(
            self.train_indptr[...], self.train_items[...], users, self.n_items, self.max_degree
        )

    def user_slots(self, users: jax.Array) -> jax.Array:
        """The users' training items as padded rows (inside a jitted program).

        Args:
            users: ``[B]`` int32 users.

        Returns:
            ``[B, max_degree]`` int32 items, padded with ``n_items``.
        """
        indptr, items = self.train_indptr[...], self.train_items[...]
        start = indptr[users]
        degree = indptr[users + 1] - start
        slot = jnp.arange(self.max_degree, dtype=jnp.int32)
        at = items[jnp.minimum(start[:, None] + slot[None, :], items.shape[0] - 1)]
        return jnp.where(slot[None, :] < degree[:, None], at, self.n_items)


def check_sizes(n_users: object, n_items: object) -> tuple[int, int]:
    """``(n_users, n_items)`` as positive ints (:class:`ConfigError` otherwise)."""
    return check_positive_int("n_users", n_users), check_positive_int("n_items", n_items)
