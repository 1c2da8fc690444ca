"""EASE: an item-item linear model in closed form.

H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019.

EASE learns an item-item weight matrix ``B`` with a zero diagonal that reconstructs the binary
training matrix ``X`` (``[n_users, n_items]``):

    ``min_B ||X - X B||_F^2 + lambda ||B||_F^2``  subject to  ``diag(B) = 0``,

whose solution is, with ``P = (X^T X + lambda I)^-1``,

    ``B = I - P diag(1 / diag(P))``, i.e. ``B[i, j] = -P[i, j] / P[j, j]`` for ``i != j``,

and the score of user ``u`` is ``X_u B``. ``lambda`` is called ``reg_weight`` here (``lambda``
is a Python keyword; RecBole's name).

The ``n_items x n_items`` matrices are dense: the Gram matrix ``X^T X`` is accumulated in blocks
of rows into a float64 array, inverted in place, turned into ``B`` in place and stored as
float32. The memory this needs (about ``12 * n_items^2`` bytes, plus the stored ``B``) is
checked before anything is allocated (:func:`~moorec.models.closed_form.check_memory`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from flax import nnx

from moorec.data.interactions import Interactions
from moorec.models.closed_form import (
    ClosedFormRecommender,
    binary_matrix,
    check_memory,
    check_real,
    check_sizes,
    row_blocks,
)
from moorec.models.rows import check_train

__all__ = ["EASE", "ease_weights", "memory_bytes"]


def memory_bytes(n_items: int) -> int:
    """Bytes EASE holds at the peak of solving over ``n_items`` items.

    The float64 Gram matrix (inverted and turned into ``B`` in place, ``8 n^2``), its float32
    copy (``4 n^2``) and the model's stored float32 ``B`` (``4 n^2``).
    """
    return 16 * int(n_items) ** 2


def ease_weights(x, reg_weight: float) -> np.ndarray:
    """EASE's ``B`` for the sparse training matrix ``x`` (Steck 2019, closed form).

    Args:
        x: ``[n_users, n_items]`` 0/1 CSR matrix.
        reg_weight: the L2 weight ``lambda > 0``.

    Returns:
        ``[n_items, n_items]`` float32 ``B`` with a zero diagonal.
    """
    n = x.shape[1]
    gram = np.empty((n, n), np.float64)
    xt = x.T.tocsr()
    for first, stop in row_blocks(n, n):
        gram[first:stop] = (xt[first:stop] @ x).toarray()
    gram[np.diag_indices(n)] += reg_weight
    p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    del gram
    p /= -np.diag(p)[None, :]
    np.fill_diagonal(p, 0.0)
    return p.astype(np.float32)


class EASE(ClosedFormRecommender):
    """Embarrassingly shallow autoencoder (Steck, WWW 2019), solved in closed form.

    ``score(u) = X_u B`` with ``B = I - P diag(1 / diag(P))``, ``P = (X^T X + reg_weight I)^-1``
    and ``diag(B) = 0`` (module docstring). ``B`` is ``nnx.Param`` (``params`` counts its
    ``n_items^2`` entries); the users' training rows are CSR arrays (``nnx.Variable``).

    Args:
        n_users: number of users.
        n_items: number of items.
        reg_weight: the L2 weight ``lambda`` of the objective, a finite number ``> 0`` (``lambda``
            is a Python keyword, hence the name; RecBole's).
        train: the training :class:`~moorec.data.Interactions` (required: scoring reads the
            users' training items).
        rngs: ignored (the model is deterministic).

    Raises:
        ConfigError: for a bad ``reg_weight`` or without ``train``.
        ResourceError: if ``n_items`` is so large that solving would need more memory than
            the limit (:func:`~moorec.models.closed_form.memory_limit_bytes`; about
            ``16 * n_items^2`` bytes are needed).

    Example:
        >>> import jax.numpy as jnp
        >>> from moorec.data import Interactions
        >>> train = Interactions(users=[0, 0, 1, 2], items=[0, 1, 1, 2], n_users=3, n_items=3)
        >>> model = EASE(3, 3, reg_weight=1.0, train=train)
        >>> model.solve(train)
        >>> model.score(jnp.array([1])).shape
        (1, 3)
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        reg_weight: float = 350.0,
        *,
        train: Interactions | None = None,
        rngs: nnx.Rngs | None = None,
    ):
        self.n_users, self.n_items = check_sizes(n_users, n_items)
        self.reg_weight = check_real("reg_weight", reg_weight, strict=True)
        n = self.n_items
        check_memory(
            "ease",
            memory_bytes(n),
            f"16 x n_items^2 bytes: the {n:,} x {n:,} Gram matrix inverted in float64, and B "
            "in float32",
            n,
        )
        check_train("ease", train, self.n_users, self.n_items)
        self.weight = nnx.Param(jnp.zeros((n, n), jnp.float32))
        self._keep_rows(train)

    def solve(self, train: Interactions) -> None:
        """Compute ``B`` from ``train``."""
        check_train("ease", train, self.n_users, self.n_items)
        self._keep_rows(train)
        self.weight.set_value(jnp.asarray(ease_weights(binary_matrix(train), self.reg_weight)))

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """``[B]`` users -> ``[B, n_items]`` float32 ``X_u B`` (history unused)."""
        return self.user_matrix(users) @ self.weight[...]
