"""Users' training rows as CSR arrays, and their expansion to dense blocks inside a jitted program.

Autoencoders over user rows (:class:`~moorec.models.multvae.MultVAE`) read a user's whole
training row. Storing the ``n_users x n_items`` matrix dense does not scale to millions of users;
the rows are kept as CSR arrays (``O(nnz)`` memory) and a batch's rows are expanded to a dense
``[B, n_items]`` block when they are needed (:func:`dense_rows`), by the model when it scores and
by the ``users`` sampler (:class:`~moorec.train.sampling.UserSampler`) when it trains.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from moorec.data.interactions import Interactions
from moorec.errors import ConfigError

__all__ = ["check_train", "dense_rows", "user_csr"]


def check_train(
    model: str,
    train: object,
    n_users: int,
    n_items: int,
    *,
    reads: str = "is computed from the training interactions",
) -> Interactions:
    """``train`` if it is an :class:`~moorec.data.Interactions` over these index spaces.

    For models built from the training data (``create(..., train=split.train)``).

    Args:
        model: the model's name, first word of the message without ``train``.
        train: what the model was given.
        n_users: the model's number of users.
        n_items: the model's number of items.
        reads: what the model does with ``train``, for that message.

    Raises:
        ConfigError: without ``train``, for another type or for other index spaces.
    """
    if train is None:
        raise ConfigError(f"{model} {reads}: pass train=split.train (the training Interactions)")
    if not isinstance(train, Interactions):
        raise ConfigError(f"train must be an Interactions, got {type(train).__name__}")
    if (train.n_users, train.n_items) != (n_users, n_items):
        raise ConfigError(
            f"train has {train.n_users} users x {train.n_items} items, the model is built "
            f"for {n_users} x {n_items}"
        )
    return train


def dense_rows(
    indptr: jax.Array, indices: jax.Array, users: jax.Array, n_items: int, max_degree: int
) -> jax.Array:
    """Rows of a 0/1 CSR matrix expanded to a dense block, inside a jitted program.

    Each user's ``max_degree`` slots are gathered (those past the user's degree masked) and
    scattered into a zero block: ``O(B * (max_degree + n_items))`` work and memory, never the
    whole ``n_users x n_items`` matrix.

    Args:
        indptr: ``[n_users + 1]`` int32 offsets into ``indices``.
        indices: ``[nnz]`` int32 item of each entry (distinct within a row).
        users: ``[B]`` int32 rows to expand.
        n_items: number of columns (static).
        max_degree: longest row (static; at least the degree of every user in ``users``).

    Returns:
        ``[B, n_items]`` float32, 1 where the user has the item, else 0.
    """
    block = jnp.zeros((users.shape[0], n_items), jnp.float32)
    if indices.shape[0] == 0:
        return block
    start = indptr[users]
    degree = indptr[users + 1] - start
    slot = jnp.arange(max(max_degree, 1), dtype=jnp.int32)
    real = slot[None, :] < degree[:, None]
    items = indices[jnp.minimum(start[:, None] + slot[None, :], indices.shape[0] - 1)]
    rows = jnp.arange(users.shape[0], dtype=jnp.int32)[:, None]
    return block.at[rows, jnp.where(real, items, 0)].max(real.astype(jnp.float32))


def user_csr(train: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """The distinct items of each user as CSR arrays (repeated interactions count once).

    Args:
        train: the training interactions.

    Returns:
        ``(indptr, indices)``: ``[n_users + 1]`` and ``[nnz]`` int32, items ascending within a
        user, ``nnz`` the number of distinct (user, item) pairs.

    Raises:
        ValueError: for ``2**31`` or more distinct pairs (int32 offsets).
    """
    pairs = np.unique(train.users.astype(np.int64) * train.n_items + train.items)
    if len(pairs) >= np.iinfo(np.int32).max:
        raise ValueError("more than 2**31 distinct training pairs are not supported")
    users = pairs // train.n_items
    indptr = np.zeros(train.n_users + 1, dtype=np.int64)
    np.cumsum(np.bincount(users, minlength=train.n_users), out=indptr[1:])
    return indptr.astype(np.int32), (pairs % train.n_items).astype(np.int32)
