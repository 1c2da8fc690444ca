"""BPR matrix factorisation.

S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR: Bayesian Personalized
Ranking from Implicit Feedback", UAI 2009.

The score of user ``u`` for item ``i`` is the inner product ``<p_u, q_i>``; training maximises
``ln sigmoid(x_uij)`` with ``x_uij = <p_u, q_i> - <p_u, q_j>`` over triples of a user, an item
the user interacted with and an item drawn uniformly from those the user did not interact with.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
from flax import nnx

from moorec.models.base import Recommender

__all__ = ["BPRMF", "bpr_loss"]


def bpr_loss(pos: jax.Array, neg: jax.Array, weight: jax.Array) -> jax.Array:
    """Weighted mean of ``-ln sigmoid(pos - neg)``.

    Args:
        pos: ``[B]`` float32 scores of the positive items.
        neg: ``[B]`` float32 scores of the sampled negatives.
        weight: ``[B]`` float32 row weights (0 for padding rows).

    Returns:
        Scalar float32 loss.
    """
    per_row = jax.nn.softplus(neg - pos)  # = -log sigmoid(pos - neg), stable
    return jnp.sum(weight * per_row) / jnp.maximum(jnp.sum(weight), 1.0)


class BPRMF(Recommender):
    """Matrix factorisation trained with the BPR pairwise loss.

    Embeddings are initialised with Xavier-normal values, as RecBole does.

    Hyperparameters read from ``hparams``:
        ``l2``: weight of ``0.5 * (|p_u|^2 + |q_i|^2 + |q_j|^2)`` averaged over the batch
        (Rendle et al.'s ``lambda_Theta ||Theta||^2`` restricted to the rows a batch touches).

    Args:
        n_users: number of users.
        n_items: number of items.
        dim: embedding size.
        rngs: Flax random streams (``params`` is used).
    """

    sampler = "pairs"
    hparam_names = ("l2",)

    def __init__(self, n_users: int, n_items: int, dim: int = 64, *, rngs: nnx.Rngs):
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.dim = int(dim)
        init = jax.nn.initializers.xavier_normal()
        self.user_emb = nnx.Param(init(rngs.params(), (self.n_users, self.dim), jnp.float32))
        self.item_emb = nnx.Param(init(rngs.params(), (self.n_items, self.dim), jnp.float32))

    def score(self, users: jax.Array) -> jax.Array:
        """``[B]`` user indices -> ``[B, n_items]`` inner-product scores."""
        return self.user_emb[...][users] @ self.item_emb[...].T

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """BPR loss plus L2 on the rows of the batch (see class docstring)."""
        eu = self.user_emb[...][batch["user"]]
        ep = self.item_emb[...][batch["pos"]]
        en = self.item_emb[...][batch["neg"]]
        pos = jnp.sum(eu * ep, axis=-1)
        neg = jnp.sum(eu * en, axis=-1)
        w = batch["weight"]
        reg = 0.5 * jnp.sum(eu**2 + ep**2 + en**2, axis=-1)
        reg = jnp.sum(w * reg) / jnp.maximum(jnp.sum(w), 1.0)
        return bpr_loss(pos, neg, w) + hparams["l2"] * reg
