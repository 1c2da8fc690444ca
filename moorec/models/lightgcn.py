"""LightGCN: embeddings smoothed over the user-item graph.

X. He, K. Deng, X. Wang, Y. Li, Y. Zhang and M. Wang, "LightGCN: Simplifying and Powering Graph
Convolution Network for Recommendation", SIGIR 2020.

Users and items are the nodes of the bipartite graph of the training interactions. Starting from
free embeddings ``E^0``, each layer multiplies by the symmetric-normalised adjacency matrix,
``E^{k+1} = D^{-1/2} A D^{-1/2} E^k``, with no weights and no non-linearity; the final
embeddings are the mean of the layers, ``E = (E^0 + ... + E^K) / (K + 1)``, and the score of a
(user, item) pair is the inner product of their final embeddings. Training minimises BPR on the
final embeddings plus L2 on the layer-0 embeddings of the batch's rows.

The propagation is a sparse product written as segment sums over the edge list. The edges, sorted
by destination node, go through a ``lax.scan`` in fixed-size blocks: each block gathers its
source rows and scatter-adds them into the destination rows. On a 2-core CPU this avoids
materialising one ``[n_edges, dim]`` message array per layer, whose allocation costs more than
the arithmetic (see ``docs/models/lightgcn.md`` for the measurements).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, check_positive_int
from moorec.models.base import Recommender
from moorec.models.mf import bpr_loss, embedding_dropout
from moorec.models.rows import check_train

__all__ = ["EDGE_BLOCK", "LightGCN", "normalized_adjacency", "propagate"]

#: Edges per block of the propagation scan.
EDGE_BLOCK = 32768


def normalized_adjacency(train: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge list of ``D^{-1/2} A D^{-1/2}`` for the user-item graph of ``train``.

    Nodes are users ``0..n_users-1`` followed by items ``n_users..n_users+n_items-1``; ``A`` has
    a 1 in both directions for every distinct (user, item) pair (repeated interactions count
    once) and ``D`` holds the node degrees. Nodes without interactions have no edges.

    Args:
        train: the training interactions.

    Returns:
        ``(src, dst, value)``: ``[E]`` int32, ``[E]`` int32 and ``[E]`` float32 with
        ``value = 1 / sqrt(deg(src) deg(dst))``, sorted by ``dst`` then ``src``;
        ``E`` is twice the number of distinct pairs.
    """
    n_users, n_items = train.n_users, train.n_items
    pairs = np.unique(train.users.astype(np.int64) * n_items + train.items)
    u = (pairs // n_items).astype(np.int32)
    i = (pairs % n_items).astype(np.int32) + n_users
    src = np.concatenate([u, i])
    dst = np.concatenate([i, u])
    deg = np.bincount(dst, minlength=n_users + n_items).astype(np.float64)
    inv_sqrt = 1.0 / np.sqrt(np.maximum(deg, 1.0))
    value = (inv_sqrt[src] * inv_sqrt[dst]).astype(np.float32)
    order = np.lexsort((src, dst))
    return src[order], dst[order], value[order]


def _blocks(src: np.ndarray, dst: np.ndarray, value: np.ndarray, n_nodes: int, block: int):
    """Pad the edge list to whole blocks of ``block`` edges and reshape to ``[n_blocks, block]``.

    Padding edges carry weight 0 and point at the last node, so ``dst`` stays sorted.
    """
    n = len(src)
    block = max(1, min(block, n))
    n_blocks = max(1, -(-n // block))
    pad = n_blocks * block - n
    src = np.concatenate([src, np.zeros(pad, np.int32)])
    dst = np.concatenate([dst, np.full(pad, n_nodes - 1, np.int32)])
    value = np.concatenate([value, np.zeros(pad, np.float32)])
    shape = (n_blocks, block)
    return src.reshape(shape), dst.reshape(shape), value.reshape(shape)


def propagate(
    emb: jax.Array, src: jax.Array, dst: jax.Array, value: jax.Array, n_layers: int
) -> jax.Array:
    """Mean of ``emb, M emb, ..., M^K emb`` for the sparse matrix ``M`` given by its edges.

    Args:
        emb: ``[n_nodes, d]`` float32 layer-0 embeddings.
        src: ``[n_blocks, block]`` int32 source node of each edge.
        dst: ``[n_blocks, block]`` int32 destination node of each edge (sorted within a block).
        value: ``[n_blocks, block]`` float32 entry ``M[dst, src]`` (0 on padding).
        n_layers: ``K``, the number of propagation layers.

    Returns:
        ``[n_nodes, d]`` float32 ``(1 / (K + 1)) * sum_k M^k emb``.
    """

    def layer(x):
        def body(acc, edges):
            s, t, v = edges
            return acc.at[t].add(v[:, None] * x[s], indices_are_sorted=True), None

        out, _ = jax.lax.scan(body, jnp.zeros_like(x), (src, dst, value))
        return out

    total, x = emb, emb
    for _ in range(n_layers):
        x = layer(x)
        total = total + x
    return total / (n_layers + 1)


class LightGCN(Recommender):
    """LightGCN with layer combination by the mean and the BPR loss.

    Hyperparameters read from ``hparams``:
        ``l2``: weight of ``0.5 * (|e_u|^2 + |e_i|^2 + |e_j|^2)`` averaged over the batch,
        on the layer-0 embeddings of the batch's user, positive and negative (the form and the
        ``1e-4`` of the paper's code; RecBole's ``reg_weight`` 1e-5 multiplies unsquared norms).
        ``dropout``: rate of inverted dropout on the batch's final user and item embeddings in
        the BPR term (default 0: none, as in the paper, which drops dropout from NGCF).

    The graph comes from the training interactions alone and is fixed at construction; it is
    kept as non-trainable ``nnx.Variable`` arrays (``count_params`` counts only the embeddings).

    Args:
        n_users: number of users.
        n_items: number of items.
        dim: embedding size.
        n_layers: propagation layers ``K`` (paper: 3; RecBole's default: 2); 0 gives BPR-MF.
        train: the training :class:`~moorec.data.Interactions` whose graph is propagated over
            (required; e.g. ``split.train``).
        rngs: Flax random streams (``params`` is used).

    Raises:
        ConfigError: without ``train``, for ``train`` over other index spaces, or for bad
            sizes.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from moorec.data import Interactions
        >>> train = Interactions(users=[0, 0, 1], items=[0, 1, 2], n_users=2, n_items=3)
        >>> model = LightGCN(2, 3, dim=8, n_layers=2, train=train, rngs=nnx.Rngs(params=0))
        >>> model.score(jnp.array([0, 1])).shape
        (2, 3)
    """

    sampler = "pairs"
    hparam_names = ("l2", "dropout")
    hparam_defaults: ClassVar[dict[str, float]] = {"l2": 0.0, "dropout": 0.0}
    hparam_switches = ("dropout",)

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        n_layers: int = 3,
        *,
        train: Interactions | None = None,
        rngs: nnx.Rngs,
    ):
        self.n_users = check_positive_int("n_users", n_users)
        self.n_items = check_positive_int("n_items", n_items)
        self.dim = check_positive_int("dim", dim)
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
            raise ConfigError(f"n_layers must be an integer >= 0, got {n_layers!r}")
        self.n_layers = n_layers
        graph = "propagates over the training graph"
        check_train("LightGCN", train, self.n_users, self.n_items, reads=graph)
        n_nodes = self.n_users + self.n_items
        src, dst, value = _blocks(*normalized_adjacency(train), n_nodes, EDGE_BLOCK)
        self.edge_src = nnx.Variable(jnp.asarray(src))
        self.edge_dst = nnx.Variable(jnp.asarray(dst))
        self.edge_value = nnx.Variable(jnp.asarray(value))
        init = jax.nn.initializers.xavier_uniform()
        self.user_emb = nnx.Param(init(rngs.params(), (self.n_users, self.dim), jnp.float32))
        self.item_emb = nnx.Param(init(rngs.params(), (self.n_items, self.dim), jnp.float32))

    def embeddings(self) -> tuple[jax.Array, jax.Array]:
        """Final (layer-mean) embeddings of all users and all items.

        Returns:
            ``([n_users, dim], [n_items, dim])`` float32.
        """
        ego = jnp.concatenate([self.user_emb[...], self.item_emb[...]], axis=0)
        out = propagate(
            ego, self.edge_src[...], self.edge_dst[...], self.edge_value[...], self.n_layers
        )
        return out[: self.n_users], out[self.n_users :]

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """Inner products of final embeddings; propagates the whole graph on every call.

        Args:
            users: ``[B]`` int32 users.
            history: unused (sequential models read it).

        Returns:
            ``[B, n_items]`` float32 scores.
        """
        eu, ei = self.embeddings()
        return eu[users] @ ei.T

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """BPR on the final embeddings plus L2 on the batch's layer-0 rows (class docstring)."""
        u, p, n, w = batch["user"], batch["pos"], batch["neg"], batch["weight"]
        eu, ei = self.embeddings()
        fu, fp, fn = embedding_dropout((eu[u], ei[p], ei[n]), hparams, batch)
        pos = jnp.sum(fu * fp, axis=-1)
        neg = jnp.sum(fu * fn, axis=-1)
        ego_u, ego_p, ego_n = self.user_emb[...][u], self.item_emb[...][p], self.item_emb[...][n]
        reg = 0.5 * jnp.sum(ego_u**2 + ego_p**2 + ego_n**2, axis=-1)
        reg = jnp.sum(w * reg) / jnp.maximum(jnp.sum(w), 1.0)
        return bpr_loss(pos, neg, w) + hparams["l2"] * reg
