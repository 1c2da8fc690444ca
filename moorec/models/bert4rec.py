"""BERT4Rec: bidirectional self-attention trained by masked item prediction.

F. Sun, J. Liu, J. Wu, C. Pei, X. Lin, W. Ou and P. Jiang, "BERT4Rec: Sequential Recommendation
with Bidirectional Encoder Representations from Transformer", CIKM 2019.

The encoder is SASRec's (:class:`~moorec.models.sasrec.TransformerEncoder`) without the causal
mask: every position attends to every real position of the sequence. Training replaces a random
share ``mask_prob`` of the items of each sequence by a ``[MASK]`` token and predicts the hidden
items with a softmax over the catalogue (the Cloze task). To recommend, a ``[MASK]`` is appended
after the user's history (the history shifted left by one) and its prediction read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from moorec.errors import ConfigError, check_positive_int
from moorec.models.base import Recommender
from moorec.models.sasrec import (
    _INIT,
    DropoutStream,
    TransformerEncoder,
    _check_settings,
    l2_penalty,
    padding_mask,
)

__all__ = ["BERT4Rec", "cap_predictions", "mask_positions"]


def mask_positions(valid: jax.Array, mask_prob: jax.Array | float, key: jax.Array) -> jax.Array:
    """Positions to mask for the Cloze task.

    Each real position is masked independently with probability ``mask_prob``; padding never is.

    Args:
        valid: ``[B, L]`` bool, true on real items.
        mask_prob: scalar float32 in ``[0, 1]`` (an array: new values do not recompile).
        key: PRNG key.

    Returns:
        ``[B, L]`` bool.
    """
    return jax.random.bernoulli(key, mask_prob, valid.shape) & valid


def cap_predictions(
    masked: jax.Array, cap: int, key: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """At most ``cap`` of each row's masked positions, chosen uniformly among them.

    BERT's ``max_predictions_per_seq`` (Devlin et al. 2019; BERT4Rec's code has the same
    setting): the rest of a row's masked positions stay unmasked.

    Args:
        masked: ``[B, L]`` bool positions drawn by :func:`mask_positions`.
        cap: the most positions kept per row (static), ``<= L``.
        key: PRNG key of the choice.

    Returns:
        ``(kept, index, real)``: ``[B, L]`` bool kept positions, ``[B, cap]`` int32 their
        columns (padded with other columns) and ``[B, cap]`` bool, true where ``index`` is a
        kept position.
    """
    priority = jnp.where(masked, 1.0 + jax.random.uniform(key, masked.shape), 0.0)
    top, index = jax.lax.top_k(priority, cap)
    real = top > 0.0
    rows = jnp.arange(masked.shape[0])[:, None]
    kept = jnp.zeros_like(masked).at[rows, index].set(real)
    return kept, index.astype(jnp.int32), real


class BERT4Rec(Recommender):
    """Bidirectional transformer for sequential recommendation (Sun et al., CIKM 2019).

    Tokens are the ``n_items`` items, a padding token (``n_items``, what ``-1`` maps to) and
    ``[MASK]`` (``n_items + 1``). The encoder (token plus learned positional embedding, dropout,
    ``n_blocks`` pre-norm transformer blocks with bidirectional attention over the real
    positions, a final layer norm) is followed by the paper's output layer: ``P(i | h) =
    softmax_i(<gelu(W h + b), e_i> + b_i)`` with the item embeddings ``e`` shared with the input.

    Training reads the last ``L`` items of each batch row (``items[:, 1:]``), masks a random
    share ``mask_prob`` of the real positions (:func:`mask_positions`, keyed by
    ``batch["rng"]``) and minimises the mean softmax cross-entropy of the hidden items over the
    catalogue. Scoring appends ``[MASK]`` after the last ``L - 1`` history items and reads it.

    Hyperparameters read from ``hparams`` (arrays: new values do not recompile):
        ``mask_prob``: share of positions masked in training (default 0.2).
        ``dropout``: drop rate of embeddings, attention weights, feed-forward and residual
        branches, in ``[0, 1)`` (default 0.2).
        ``l2``: weight of ``0.5 * ||theta||^2`` over all parameters (default 0).

    Args:
        n_users: number of users (unused by the network; kept for the interface).
        n_items: catalogue size.
        dim: model width ``D`` (default 64).
        n_blocks: transformer blocks (default 2).
        n_heads: attention heads (default 2; ``dim`` must be a multiple).
        max_len: sequence length ``L`` (default 50).
        ff_dim: inner width of the feed-forward networks (default ``4 * dim``, as in BERT).
        max_predictions: the most masked positions of a training row (:func:`cap_predictions`);
            the loss scores the catalogue at those ``max_predictions`` positions only, where
            ``None`` (default) scores every position and keeps every masked one. With short
            sequences (9 items per user on amazon-video-games, ``L = 50``) this cuts the
            softmax work by ``L / max_predictions``.
        activation: of the feed-forward networks, ``"gelu"`` (default, BERT's) or ``"relu"``.
        scale_embeddings: multiply the token embeddings by ``sqrt(dim)`` (default off).
        rngs: Flax random streams (``params``).

    Example:
        >>> from flax import nnx
        >>> import jax.numpy as jnp
        >>> model = BERT4Rec(3, 10, dim=8, max_len=4, rngs=nnx.Rngs(0))
        >>> model.score(jnp.array([0]), jnp.array([[-1, 2, 5, 7]])).shape
        (1, 10)
    """

    sampler = "sequences"
    uses_history = True
    hparam_names = ("l2", "dropout", "mask_prob")
    hparam_defaults: ClassVar[dict[str, float]] = {"l2": 0.0, "dropout": 0.2, "mask_prob": 0.2}

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        n_blocks: int = 2,
        n_heads: int = 2,
        max_len: int = 50,
        ff_dim: int | None = None,
        max_predictions: int | None = None,
        activation: str = "gelu",
        scale_embeddings: bool = False,
        *,
        rngs: nnx.Rngs,
    ):
        dim, n_blocks, n_heads, max_len, ff_dim = _check_settings(
            dim, n_blocks, n_heads, max_len, ff_dim, 4, activation, scale_embeddings
        )
        self.n_users = int(n_users)
        self.n_items = check_positive_int("n_items", n_items)
        self.dim, self.n_blocks, self.n_heads, self.ff_dim = dim, n_blocks, n_heads, ff_dim
        self.max_len = max_len
        if max_predictions is not None:
            max_predictions = check_positive_int("max_predictions", max_predictions)
            if max_predictions > max_len:
                raise ConfigError(
                    f"max_predictions must be <= max_len ({max_len}), got {max_predictions}"
                )
        self.max_predictions = max_predictions
        self.pad_token = self.n_items
        self.mask_token = self.n_items + 1
        self.encoder = TransformerEncoder(
            self.n_items + 2,
            dim,
            n_blocks,
            n_heads,
            max_len,
            ff_dim,
            activation,
            scale_embeddings,
            rngs=rngs,
        )
        self.head = nnx.Linear(dim, dim, kernel_init=_INIT, rngs=rngs)
        self.out_bias = nnx.Param(jnp.zeros((self.n_items,), jnp.float32))

    def hidden(
        self, tokens: jax.Array, valid: jax.Array, drop: DropoutStream | None = None
    ) -> jax.Array:
        """Output-layer features of token sequences.

        Args:
            tokens: ``[B, L]`` int32 token ids (items, ``pad_token``, ``mask_token``).
            valid: ``[B, L]`` bool, false on padding.
            drop: dropout (``None``: deterministic).

        Returns:
            ``[B, L, D]`` float32 ``gelu(W h + b)`` of each position.
        """
        drop = drop or DropoutStream(0.0, None)
        h = self.encoder(tokens, valid, padding_mask(valid), drop)
        return jax.nn.gelu(self.head(h))

    def item_table(self) -> jax.Array:
        """``[n_items, D]`` float32 output embeddings (the input item embeddings)."""
        return self.encoder.token_emb.embedding[...][: self.n_items]

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """Scores of the item after each user's history.

        Args:
            users: ``[B]`` int32 (unused: the history identifies the user's state).
            history: ``[B, L]`` int32 most recent known items, oldest first, ``-1`` padding on
                the left, ``L <= max_len``.

        Returns:
            ``[B, n_items]`` float32 logits of ``[MASK]`` appended after ``history[:, 1:]``.
        """
        if history is None:
            raise ConfigError("BERT4Rec scores from each user's history: pass history=[B, L]")
        seq = history[:, 1:]
        seq_valid = seq >= 0
        tokens = jnp.concatenate(
            [
                jnp.where(seq_valid, seq, self.pad_token),
                jnp.full((seq.shape[0], 1), self.mask_token, seq.dtype),
            ],
            axis=1,
        )
        valid = jnp.concatenate([seq_valid, jnp.ones((seq.shape[0], 1), bool)], axis=1)
        h = self.hidden(tokens, valid)[:, -1]
        return h @ self.item_table().T + self.out_bias[...]

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Mean cross-entropy of the masked items, plus L2.

        Args:
            batch: ``items`` ``[B, L + 1]`` int32 (the last ``L`` are read), ``weight`` ``[B]``
                float32, ``rng`` (see :class:`~moorec.train.sampling.SequenceSampler`).
            hparams: ``mask_prob``, ``dropout`` and ``l2`` scalars.

        Returns:
            Scalar float32.
        """
        seq = batch["items"][:, 1:]
        valid = seq >= 0
        k_mask, k_drop = jax.random.split(batch["rng"])
        masked = mask_positions(valid, hparams["mask_prob"], k_mask)
        if self.max_predictions is not None:
            k_cap = jax.random.fold_in(k_mask, 1)
            masked, index, real = cap_predictions(masked, self.max_predictions, k_cap)
        tokens = jnp.where(masked, self.mask_token, jnp.where(valid, seq, self.pad_token))
        h = self.hidden(tokens, valid, DropoutStream(hparams["dropout"], k_drop))
        table = self.item_table()
        if self.max_predictions is not None:  # score only the kept positions
            h = jnp.take_along_axis(h, index[..., None], axis=1)
            seq = jnp.take_along_axis(seq, index, axis=1)
            masked = real
        logits = h @ table.T + self.out_bias[...]
        target = (
            jnp.sum(h * table[jnp.maximum(seq, 0)], axis=-1)
            + self.out_bias[...][jnp.maximum(seq, 0)]
        )
        per_pos = jax.nn.logsumexp(logits, axis=-1) - target
        w = masked.astype(jnp.float32) * batch["weight"][:, None]
        loss = jnp.sum(w * per_pos) / jnp.maximum(jnp.sum(w), 1.0)
        return loss + hparams["l2"] * l2_penalty(self)
