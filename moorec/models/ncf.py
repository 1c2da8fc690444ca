"""Neural matrix factorisation (NeuMF).

X. He, L. Liao, H. Zhang, L. Nie, X. Hu and T.-S. Chua, "Neural Collaborative Filtering",
WWW 2017.

Two branches score a (user, item) pair: GMF, the element-wise product of a user and an item
embedding, and an MLP over the concatenation of a second, separate pair of embeddings. A final
linear layer fuses the GMF vector and the MLP's last hidden layer into one logit; training treats
each observed pair as label 1 and each sampled negative as label 0 under binary cross-entropy.
The layout (dropout before every dense layer, ReLU after every one, embeddings drawn from
``N(0, 0.01^2)``) follows RecBole's ``NeuMF``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from moorec.errors import ConfigError, check_positive_int
from moorec.models.base import Recommender
from moorec.models.sasrec import DropoutStream

__all__ = ["NeuMF", "dropout", "weighted_bce"]


def weighted_bce(pos: jax.Array, neg: jax.Array, weight: jax.Array) -> jax.Array:
    """Binary cross-entropy of positive logits against label 1 and negative logits against 0.

    Args:
        pos: ``[B]`` float32 logits of the observed (user, item) pairs.
        neg: ``[B]`` float32 logits of the sampled negatives.
        weight: ``[B]`` float32 row weights (0 for padding rows).

    Returns:
        Scalar float32: the weighted mean over all ``2B`` pairs of ``-ln sigmoid(pos)`` and
        ``-ln(1 - sigmoid(neg))``.
    """
    per_row = jax.nn.softplus(-pos) + jax.nn.softplus(neg)
    return jnp.sum(weight * per_row) / jnp.maximum(2.0 * jnp.sum(weight), 1.0)


def dropout(x: jax.Array, rate: jax.Array, key: jax.Array) -> jax.Array:
    """Inverted dropout with the rate as an array (a new rate does not recompile).

    The mask is that of :class:`~moorec.models.sasrec.DropoutStream` (a counter-based hash of
    each element's index with seeds drawn from ``key``): on a CPU, drawing one threefry number
    per element made the masks of NeuMF's two dense layers cost more than its matrix
    products.

    Args:
        x: activations of any shape.
        rate: scalar float32 probability of zeroing an entry, in ``[0, 1)``.
        key: PRNG key of the mask.

    Returns:
        ``x`` with entries zeroed with probability ``rate`` and the rest scaled by
        ``1 / (1 - rate)``, so the expectation is unchanged.
    """
    return DropoutStream(rate, key)(x)


def _torch_linear_init(fan_in: int):
    """PyTorch's default ``nn.Linear`` initialisation: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``."""
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class NeuMF(Recommender):
    """NeuMF: a GMF branch and an MLP branch fused by a linear layer into one logit.

    For user ``u`` and item ``i`` with GMF embeddings ``p_u, q_i`` and MLP embeddings
    ``p'_u, q'_i`` (all of size ``dim``)::

        h_0 = [p'_u, q'_i]                               ([2 dim])
        h_l = relu(W_l drop(h_{l-1}) + b_l)               (l = 1..L, sizes ``layers``)
        s(u, i) = w^T [p_u * q_i, h_L] + b                (the logit; sigmoid gives a probability)

    Training minimises binary cross-entropy: each row of a pairs batch contributes its positive
    with label 1 and its sampled negative with label 0 (one negative per positive, as in RecBole;
    the paper samples four).

    Hyperparameters read from ``hparams``:
        ``l2``: weight of ``0.5 * (|p_u|^2 + |p'_u|^2 + |q_i|^2 + |q'_i|^2 + |q_j|^2 +
        |q'_j|^2)`` averaged over the batch (the embedding rows the batch touches).
        ``dropout``: probability of zeroing each input of every dense layer of the MLP
        (default 0.1, RecBole's ``dropout_prob``); must lie in ``[0, 1)``, another value makes
        the loss NaN (``fit`` then raises ``TrainingError``). Scoring never drops.

    Full-catalogue scoring avoids the ``[B, n_items, 2 dim]`` input of the first layer: its
    weight splits into a user half and an item half, ``W_1 [p'_u, q'_i] = W_1u p'_u +
    W_1i q'_i``, so each side is projected once. The remaining layers run on
    ``[B, block, layers[0]]`` hidden tensors, items in blocks (``lax.map``) sized so that one
    block's hidden activations stay within ``score_memory_mb``: memory stays bounded whatever
    the number of users per call, and on a CPU small blocks that stay in cache are faster
    (ml-100k, 943 users, ``layers=(128, 64)``: about 0.3-0.4 s with 4 MB blocks, 0.9 s with
    256 MB, 1.7 s with one block of all items). On a GPU, larger blocks may pay.

    Args:
        n_users: number of users.
        n_items: number of items.
        dim: size of each of the four embedding tables (GMF and MLP, users and items).
        layers: sizes of the MLP's hidden layers, first to last (RecBole: ``(128, 64)``).
        score_memory_mb: bound on the MLP activations of one item block of :meth:`score`.
        rngs: Flax random streams (``params`` is used).

    Raises:
        ConfigError: for a non-positive size or an empty ``layers``.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> model = NeuMF(4, 6, dim=8, layers=(16, 8), rngs=nnx.Rngs(params=0))
        >>> model.score(jnp.array([0, 3])).shape
        (2, 6)
    """

    sampler = "pairs"
    hparam_names = ("l2", "dropout")
    hparam_defaults: ClassVar[dict[str, float]] = {"l2": 0.0, "dropout": 0.1}
    hparam_switches = ("l2",)

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        layers: Sequence[int] = (128, 64),
        *,
        score_memory_mb: float = 4.0,
        rngs: nnx.Rngs,
    ):
        self.n_users = check_positive_int("n_users", n_users)
        self.n_items = check_positive_int("n_items", n_items)
        self.dim = check_positive_int("dim", dim)
        if isinstance(layers, int) or not layers:
            raise ConfigError(
                f"layers must be a non-empty sequence of positive layer sizes, got {layers!r}"
            )
        self.layers = tuple(check_positive_int("layers", h) for h in layers)
        if not (isinstance(score_memory_mb, int | float) and score_memory_mb > 0):
            raise ConfigError(f"score_memory_mb must be a number > 0, got {score_memory_mb!r}")
        self.score_memory_mb = float(score_memory_mb)

        emb = jax.nn.initializers.normal(stddev=0.01)
        d = self.dim
        self.user_gmf = nnx.Param(emb(rngs.params(), (self.n_users, d), jnp.float32))
        self.item_gmf = nnx.Param(emb(rngs.params(), (self.n_items, d), jnp.float32))
        self.user_mlp = nnx.Param(emb(rngs.params(), (self.n_users, d), jnp.float32))
        self.item_mlp = nnx.Param(emb(rngs.params(), (self.n_items, d), jnp.float32))
        sizes = (2 * d, *self.layers)
        self.mlp = nnx.List(
            [
                nnx.Linear(
                    n_in,
                    n_out,
                    kernel_init=_torch_linear_init(n_in),
                    bias_init=_torch_linear_init(n_in),
                    rngs=rngs,
                )
                for n_in, n_out in itertools.pairwise(sizes)
            ]
        )
        n_in = d + self.layers[-1]
        self.predict = nnx.Linear(
            n_in,
            1,
            kernel_init=_torch_linear_init(n_in),
            bias_init=_torch_linear_init(n_in),
            rngs=rngs,
        )

    # ------------------------------------------------------------------ forward passes
    def logits(
        self,
        users: jax.Array,
        items: jax.Array,
        rate: jax.Array | None = None,
        key: jax.Array | None = None,
    ) -> jax.Array:
        """Logits of matching (user, item) pairs.

        Args:
            users: ``[N]`` int32 users.
            items: ``[N]`` int32 items, ``items[n]`` scored for ``users[n]``.
            rate: scalar float32 dropout rate of the MLP (training); ``None`` for none.
            key: PRNG key of the dropout masks (needed with ``rate``).

        Returns:
            ``[N]`` float32 logits.
        """
        gmf = self.user_gmf[...][users] * self.item_gmf[...][items]
        h = jnp.concatenate([self.user_mlp[...][users], self.item_mlp[...][items]], axis=-1)
        keys = None if rate is None else jax.random.split(key, len(self.mlp))
        for i, layer in enumerate(self.mlp):
            if keys is not None:
                h = dropout(h, rate, keys[i])
            h = jax.nn.relu(layer(h))
        return self.predict(jnp.concatenate([gmf, h], axis=-1))[..., 0]

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """Logits of every item for a batch of users (no dropout).

        Args:
            users: ``[B]`` int32 users.
            history: unused (sequential models read it).

        Returns:
            ``[B, n_items]`` float32 logits.
        """
        d, h1 = self.dim, self.layers[0]
        w_out = self.predict.kernel[...][:, 0]  # [d + layers[-1]]
        b_out = self.predict.bias[...][0]
        # GMF branch: sum_k w_k p_uk q_ik = (p_u * w_gmf) . q_i, one matrix product.
        gmf = (self.user_gmf[...][users] * w_out[:d]) @ self.item_gmf[...].T  # [B, n_items]
        # First MLP layer split into its user and item halves.
        first = self.mlp[0]
        w1 = first.kernel[...]  # [2d, h1]
        hu = self.user_mlp[...][users] @ w1[:d] + first.bias[...]  # [B, h1]
        hi = self.item_mlp[...] @ w1[d:]  # [n_items, h1]
        w_mlp = w_out[d:]

        def block_logits(hi_block):  # [blk, h1] -> [B, blk]
            h = jax.nn.relu(hu[:, None, :] + hi_block[None, :, :])
            for layer in self.mlp[1:]:
                h = jax.nn.relu(layer(h))
            return h @ w_mlp

        n_items = self.n_items
        per_item = 4 * users.shape[0] * sum(self.layers)  # bytes of one item's activations
        blk = max(1, min(n_items, int(self.score_memory_mb * 2**20 // max(per_item, 1))))
        n_blocks = -(-n_items // blk)
        if n_blocks == 1:
            mlp = block_logits(hi)
        else:
            hi = jnp.pad(hi, ((0, n_blocks * blk - n_items), (0, 0)))
            out = jax.lax.map(block_logits, hi.reshape(n_blocks, blk, h1))  # [nb, B, blk]
            mlp = jnp.moveaxis(out, 0, 1).reshape(users.shape[0], -1)[:, :n_items]
        return gmf + mlp + b_out

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Binary cross-entropy on positives and sampled negatives, plus L2 (class docstring)."""
        u, p, n = batch["user"], batch["pos"], batch["neg"]
        w = batch["weight"]
        b = u.shape[0]
        logit = self.logits(
            jnp.concatenate([u, u]), jnp.concatenate([p, n]), hparams["dropout"], batch["rng"]
        )
        loss = weighted_bce(logit[:b], logit[b:], w)
        l2 = hparams.get("l2")  # left out of the program when 0 (``hparam_switches``)
        if l2 is not None:
            rows = (
                self.user_gmf[...][u],
                self.user_mlp[...][u],
                self.item_gmf[...][p],
                self.item_mlp[...][p],
                self.item_gmf[...][n],
                self.item_mlp[...][n],
            )
            reg = 0.5 * sum(jnp.sum(r**2, axis=-1) for r in rows)
            loss = loss + l2 * jnp.sum(w * reg) / jnp.maximum(jnp.sum(w), 1.0)
        # A rate outside [0, 1) cannot be rejected inside jit; a NaN loss makes fit() raise a
        # TrainingError that names the loss weights instead of training with a wrong mask.
        rate = hparams["dropout"]
        return jnp.where((rate >= 0) & (rate < 1), loss, jnp.nan)
