"""SASRec: causal self-attention over each user's time-ordered item sequence.

W.-C. Kang and J. McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018.

The model embeds the last ``L`` items of a user (item embedding plus a learned positional
embedding), runs ``n_blocks`` transformer blocks whose attention is causal (position ``t`` sees
positions ``<= t`` only) and reads the next item off each position's output: the score of item
``i`` after position ``t`` is ``<h_t, e_i>`` with the input item embeddings ``e`` shared as the
output layer (as in the paper). Training predicts every position of the sequence at once.

The transformer pieces here (:class:`SelfAttention`, :class:`TransformerBlock`,
:class:`TransformerEncoder`, :class:`DropoutStream`) are shared with BERT4Rec
(:mod:`moorec.models.bert4rec`), which uses the same encoder without the causal mask, and with
the parameter-efficient fine-tuning of :mod:`moorec.models.peft`, which wraps the attention
projections (LoRA) or inserts adapters after each sub-layer.

Dropout takes its rate from an array hyperparameter and its randomness from ``batch["rng"]``
(:class:`DropoutStream`), so a new rate does not recompile; scoring is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from moorec.errors import ConfigError, check_positive_int
from moorec.models.base import Recommender

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "PAPER_SETTINGS",
    "DropoutStream",
    "SASRec",
    "SelfAttention",
    "TransformerBlock",
    "TransformerEncoder",
    "causal_mask",
    "check_activation",
    "l2_penalty",
    "padding_mask",
]

#: Training losses of :class:`SASRec`.
LOSSES = ("ce", "bce")
#: Activations of the feed-forward networks: GELU (BERT's, RecBole's) or ReLU (the SASRec
#: paper's, and Vaswani et al.'s).
ACTIVATIONS = {"gelu": jax.nn.gelu, "relu": jax.nn.relu}

_NEG = -1e9  # attention logit of masked keys (finite: a row with no visible key stays finite)
_INIT = jax.nn.initializers.normal(0.02)  # BERT / RecBole initialisation of weights


def _mix32(x: jax.Array) -> jax.Array:
    """The ``lowbias32`` integer hash (C. Wellons, "Prospecting for Hash Functions", 2018)."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


class DropoutStream:
    """Inverted dropout whose rate is an array, fed by one PRNG key.

    The key gives two 32-bit seeds (``jax.random.bits``); dropout site ``n`` (the ``n``-th call
    while tracing a forward pass) hashes its element index with a seed derived from them
    (counter-based, like Philox: a few integer operations per element). The masks are a
    deterministic function of the key, and much cheaper than one ``jax.random.bernoulli`` per
    site on the CPU: measured on a 2-core machine, threefry drew about 30 million numbers per
    second and took the compilation of a one-block SASRec step from about 2 s to 10 s, while
    the hash runs about nine times faster and adds no measurable compilation. ``key=None``
    turns dropout off (scoring).

    Args:
        rate: scalar float32 drop probability in ``[0, 1)`` (an array: new values do not
            recompile).
        key: PRNG key (e.g. ``batch["rng"]``), or ``None`` for no dropout.
    """

    def __init__(self, rate: jax.Array | float, key: jax.Array | None):
        self.rate = rate
        self.key = key
        self._seeds = None if key is None else jax.random.bits(key, (2,), jnp.uint32)
        self._calls = 0

    def keep_mask(self, shape: tuple[int, ...]) -> jax.Array:
        """``shape`` bool, true with probability ``1 - rate`` (requires a key)."""
        self._calls += 1
        site = _mix32(self._seeds[0] + jnp.uint32(self._calls) * jnp.uint32(0x9E3779B9))
        index = jax.lax.iota(jnp.uint32, math.prod(shape)).reshape(shape)
        bits = _mix32(_mix32(index ^ self._seeds[1]) ^ site)
        threshold = jnp.clip(self.rate * 4294967296.0, 0.0, 4294967295.0).astype(jnp.uint32)
        return bits >= threshold

    def __call__(self, x: jax.Array) -> jax.Array:
        """``x`` with entries zeroed with probability ``rate``, the rest scaled up to match."""
        if self.key is None:
            return x
        keep_prob = jnp.clip(1.0 - self.rate, 1e-6, 1.0)
        return jnp.where(self.keep_mask(x.shape), x / keep_prob, jnp.zeros_like(x))


def padding_mask(valid: jax.Array) -> jax.Array:
    """Bidirectional attention mask: every position sees every real position.

    Args:
        valid: ``[B, L]`` bool, true on real (non-padding) positions.

    Returns:
        ``[B, 1, L, L]`` bool, ``mask[b, 0, q, k]`` true where query ``q`` may attend key ``k``
        (a key is visible when it is real; each position also sees itself, so padding rows stay
        well defined).
    """
    length = valid.shape[1]
    eye = jnp.eye(length, dtype=bool)
    return (valid[:, None, None, :] | eye[None, None]).astype(bool)


def causal_mask(valid: jax.Array) -> jax.Array:
    """Causal attention mask: position ``q`` sees real positions ``k <= q``.

    Args:
        valid: ``[B, L]`` bool, true on real (non-padding) positions.

    Returns:
        ``[B, 1, L, L]`` bool (each position also sees itself).
    """
    length = valid.shape[1]
    lower = jnp.tril(jnp.ones((length, length), dtype=bool))
    eye = jnp.eye(length, dtype=bool)
    return (lower[None, None] & valid[:, None, None, :]) | eye[None, None]


class SelfAttention(nnx.Module):
    """Multi-head scaled dot-product self-attention (Vaswani et al., NeurIPS 2017).

    The four projections are separate :class:`flax.nnx.Linear` layers named ``query``, ``key``,
    ``value`` and ``out`` so that LoRA (:mod:`moorec.models.peft`) can wrap any of them.

    Args:
        dim: model width ``D`` (a multiple of ``n_heads``).
        n_heads: number of heads ``H``.
        rngs: Flax random streams (``params``).
    """

    def __init__(self, dim: int, n_heads: int, *, rngs: nnx.Rngs):
        if dim % n_heads:
            raise ConfigError(f"dim must be a multiple of n_heads, got {dim} and {n_heads}")
        self.n_heads = n_heads
        self.query = nnx.Linear(dim, dim, kernel_init=_INIT, rngs=rngs)
        self.key = nnx.Linear(dim, dim, kernel_init=_INIT, rngs=rngs)
        self.value = nnx.Linear(dim, dim, kernel_init=_INIT, rngs=rngs)
        self.out = nnx.Linear(dim, dim, kernel_init=_INIT, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array, drop: DropoutStream) -> jax.Array:
        """Attend.

        Args:
            x: ``[B, L, D]`` float32 inputs.
            mask: ``[B, 1, L, L]`` bool, true where a query may attend a key.
            drop: dropout applied to the attention weights.

        Returns:
            ``[B, L, D]`` float32.
        """
        b, length, dim = x.shape
        h = self.n_heads
        q = self.query(x).reshape(b, length, h, dim // h)
        k = self.key(x).reshape(b, length, h, dim // h)
        v = self.value(x).reshape(b, length, h, dim // h)
        logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(dim // h)
        weights = jax.nn.softmax(jnp.where(mask, logits, _NEG), axis=-1)
        out = jnp.einsum("bhqk,bkhd->bqhd", drop(weights), v).reshape(b, length, dim)
        return self.out(out)


def check_activation(activation: str) -> str:
    """``activation`` if it is a key of :data:`ACTIVATIONS`, else a ConfigError naming them."""
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    return activation


class FeedForward(nnx.Module):
    """Point-wise feed-forward network ``W2 act(W1 x)`` applied to each position.

    Args:
        dim: model width ``D``.
        ff_dim: inner width.
        activation: ``"gelu"`` (default) or ``"relu"`` (:data:`ACTIVATIONS`).
        rngs: Flax random streams (``params``).
    """

    def __init__(self, dim: int, ff_dim: int, activation: str = "gelu", *, rngs: nnx.Rngs):
        self.activation = check_activation(activation)
        self.inner = nnx.Linear(dim, ff_dim, kernel_init=_INIT, rngs=rngs)
        self.outer = nnx.Linear(ff_dim, dim, kernel_init=_INIT, rngs=rngs)

    def __call__(self, x: jax.Array, drop: DropoutStream) -> jax.Array:
        """``[B, L, D]`` -> ``[B, L, D]``."""
        return self.outer(drop(ACTIVATIONS[self.activation](self.inner(x))))


class TransformerBlock(nnx.Module):
    """Pre-norm transformer block: ``x + attn(LN(x))``, then ``x + ffn(LN(x))``.

    Each sub-layer's output passes through an optional adapter (``adapter_attn``,
    ``adapter_ff``; ``None`` unless :func:`moorec.models.peft.add_adapters` inserts them, as
    Houlsby et al. place them: after the sub-layer, before the residual sum), then dropout.

    Args:
        dim: model width ``D``.
        n_heads: attention heads.
        ff_dim: inner width of the feed-forward network.
        activation: the feed-forward network's (:data:`ACTIVATIONS`).
        rngs: Flax random streams (``params``).
    """

    def __init__(
        self, dim: int, n_heads: int, ff_dim: int, activation: str = "gelu", *, rngs: nnx.Rngs
    ):
        self.ln_attn = nnx.LayerNorm(dim, epsilon=1e-8, rngs=rngs)
        self.attn = SelfAttention(dim, n_heads, rngs=rngs)
        self.ln_ff = nnx.LayerNorm(dim, epsilon=1e-8, rngs=rngs)
        self.ff = FeedForward(dim, ff_dim, activation, rngs=rngs)
        self.adapter_attn = nnx.data(None)
        self.adapter_ff = nnx.data(None)

    def __call__(self, x: jax.Array, mask: jax.Array, drop: DropoutStream) -> jax.Array:
        """``[B, L, D]`` -> ``[B, L, D]`` (see :meth:`SelfAttention.__call__` for ``mask``)."""
        a = self.attn(self.ln_attn(x), mask, drop)
        if self.adapter_attn is not None:
            a = self.adapter_attn(a)
        x = x + drop(a)
        f = self.ff(self.ln_ff(x), drop)
        if self.adapter_ff is not None:
            f = self.adapter_ff(f)
        return x + drop(f)


class TransformerEncoder(nnx.Module):
    """Token and positional embeddings, transformer blocks, a final layer norm.

    Args:
        n_tokens: rows of the token embedding (items plus special tokens).
        dim: model width ``D``.
        n_blocks: number of :class:`TransformerBlock`.
        n_heads: attention heads.
        max_len: number of positions ``L`` (the positional embedding's rows).
        ff_dim: inner width of the feed-forward networks.
        activation: the feed-forward networks' (:data:`ACTIVATIONS`).
        scale_embeddings: multiply the token embeddings by ``sqrt(D)`` before the positional
            embeddings are added (Vaswani et al.; the SASRec paper's code does).
        rngs: Flax random streams (``params``).
    """

    def __init__(
        self,
        n_tokens: int,
        dim: int,
        n_blocks: int,
        n_heads: int,
        max_len: int,
        ff_dim: int,
        activation: str = "gelu",
        scale_embeddings: bool = False,
        *,
        rngs: nnx.Rngs,
    ):
        self.token_emb = nnx.Embed(n_tokens, dim, embedding_init=_INIT, rngs=rngs)
        self.pos_emb = nnx.Embed(max_len, dim, embedding_init=_INIT, rngs=rngs)
        self.blocks = nnx.List(
            [TransformerBlock(dim, n_heads, ff_dim, activation, rngs=rngs) for _ in range(n_blocks)]
        )
        self.scale = math.sqrt(dim) if scale_embeddings else 1.0
        self.ln_out = nnx.LayerNorm(dim, epsilon=1e-8, rngs=rngs)

    def __call__(
        self, tokens: jax.Array, valid: jax.Array, mask: jax.Array, drop: DropoutStream
    ) -> jax.Array:
        """Encode token sequences.

        Args:
            tokens: ``[B, L]`` int32 token ids in ``[0, n_tokens)``, ``L <= max_len``; the last
                column sits at the last position (sequences are right-aligned).
            valid: ``[B, L]`` bool, false on padding (whose outputs are zeroed).
            mask: ``[B, 1, L, L]`` bool attention mask (:func:`causal_mask`,
                :func:`padding_mask`).
            drop: dropout stream.

        Returns:
            ``[B, L, D]`` float32 hidden states.
        """
        length = tokens.shape[1]
        pos = self.pos_emb.embedding[...][-length:]
        keep = valid[..., None].astype(jnp.float32)
        tok = self.token_emb(tokens)
        if self.scale != 1.0:
            tok = tok * self.scale
        x = drop(tok + pos[None]) * keep
        for block in self.blocks:
            x = block(x, mask, drop) * keep
        return self.ln_out(x)


#: The SASRec paper's settings (Kang and McAuley 2018, section IV-C, and the code it cites):
#: ``model`` for :class:`SASRec`, ``train`` for :class:`~moorec.train.TrainConfig`, and
#: ``hparams`` for the loss (dropout 0.5 on the sparse Amazon data sets; 0.2 on MovieLens).
PAPER_SETTINGS = {
    "model": {
        "dim": 50,
        "n_blocks": 2,
        "n_heads": 1,
        "ff_dim": 50,
        "max_len": 50,
        "loss": "bce",
        "activation": "relu",
        "scale_embeddings": True,
    },
    "train": {"lr": 1e-3, "b2": 0.98, "batch_size": 128},
    "hparams": {"dropout": 0.5, "l2": 0.0},
}


def l2_penalty(module: nnx.Module) -> jax.Array:
    """``0.5 * sum of squares`` of every ``nnx.Param`` of ``module`` (scalar float32)."""
    leaves = jax.tree.leaves(nnx.state(module, nnx.Param))
    return 0.5 * sum(jnp.sum(jnp.square(x)) for x in leaves)


def _check_settings(
    dim, n_blocks, n_heads, max_len, ff_dim, ff_default: int, activation="gelu", scale=False
) -> tuple[int, int, int, int, int]:
    check_activation(activation)
    if not isinstance(scale, bool):
        raise ConfigError(f"scale_embeddings must be true or false, got {scale!r}")
    dim = check_positive_int("dim", dim)
    n_blocks = check_positive_int("n_blocks", n_blocks)
    n_heads = check_positive_int("n_heads", n_heads)
    max_len = check_positive_int("max_len", max_len)
    ff_dim = ff_default * dim if ff_dim is None else check_positive_int("ff_dim", ff_dim)
    if dim % n_heads:
        raise ConfigError(
            f"dim must be a multiple of n_heads, got dim={dim}, n_heads={n_heads}; "
            "e.g. n_heads=1 or 2 with dim=64"
        )
    return dim, n_blocks, n_heads, max_len, ff_dim


class SASRec(Recommender):
    """Self-attentive sequential recommendation (Kang and McAuley, ICDM 2018).

    Architecture: item embedding (``n_items + 1`` rows; the last is the padding token that
    ``-1`` maps to) plus a learned positional embedding, dropout, ``n_blocks`` pre-norm causal
    transformer blocks (multi-head self-attention, feed-forward of width ``ff_dim`` with GELU
    or ReLU, residuals, dropout), a final layer norm. The hidden state ``h_t`` after position ``t``
    scores the next item as ``<h_t, e_i>`` with the shared item embeddings.

    Trains on all positions at once: the batch's ``items[:, :-1]`` are read and
    ``items[:, 1:]`` predicted, positions whose input or target is padding left out. Losses
    (setting ``loss``):

    * ``"ce"`` (default; RecBole's default for SASRec): softmax cross-entropy over the whole
      catalogue at every position, ``logsumexp_i <h_t, e_i> - <h_t, e_{target}>``.
    * ``"bce"`` (the paper's): binary cross-entropy of the target against one uniform negative
      per position (``batch["neg"]``), ``softplus(-<h_t, e_pos>) + softplus(<h_t, e_neg>)``.
      The negatives avoid the user's training items as the pair sampler's do (redrawn
      ``TrainConfig.neg_rounds`` times), as the paper's code draws them.

    The paper's settings (Kang and McAuley 2018, section IV and their code) are
    ``dim=50, n_blocks=2, n_heads=1, ff_dim=50, activation="relu", scale_embeddings=True,
    loss="bce"`` with dropout 0.5 (sparse data) or 0.2, and Adam with ``lr=1e-3, b2=0.98``,
    batch 128; :data:`PAPER_SETTINGS` holds them.

    Hyperparameters read from ``hparams`` (arrays: new values do not recompile):
        ``dropout``: drop rate of embeddings, attention weights, feed-forward and residual
        branches, in ``[0, 1)`` (default 0.2).
        ``l2``: weight of ``0.5 * ||theta||^2`` over all parameters, added to the mean loss
        (default 0; AdamW's decoupled weight decay, ``optimizer="adamw"``, is the alternative).

    Args:
        n_users: number of users (unused by the network; kept for the interface).
        n_items: catalogue size.
        dim: model width ``D`` (default 64).
        n_blocks: transformer blocks (default 2).
        n_heads: attention heads (default 1; ``dim`` must be a multiple).
        max_len: sequence length ``L`` read for training and scoring (default 50).
        ff_dim: inner width of the feed-forward networks (default ``dim``, as in the paper).
        loss: ``"ce"`` or ``"bce"``.
        activation: of the feed-forward networks, ``"gelu"`` (default, RecBole's) or
            ``"relu"`` (the paper's).
        scale_embeddings: multiply the item embeddings by ``sqrt(dim)`` before the positional
            embeddings are added (the paper's code; default off).
        rngs: Flax random streams (``params``).

    Example:
        >>> from flax import nnx
        >>> import jax.numpy as jnp
        >>> model = SASRec(3, 10, dim=8, max_len=4, rngs=nnx.Rngs(0))
        >>> model.score(jnp.array([0, 1]), jnp.array([[-1, -1, 2, 5], [1, 2, 3, 4]])).shape
        (2, 10)
    """

    sampler = "sequences"
    uses_history = True
    hparam_names = ("l2", "dropout")
    hparam_defaults: ClassVar[dict[str, float]] = {"l2": 0.0, "dropout": 0.2}

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        n_blocks: int = 2,
        n_heads: int = 1,
        max_len: int = 50,
        ff_dim: int | None = None,
        loss: str = "ce",
        activation: str = "gelu",
        scale_embeddings: bool = False,
        *,
        rngs: nnx.Rngs,
    ):
        dim, n_blocks, n_heads, max_len, ff_dim = _check_settings(
            dim, n_blocks, n_heads, max_len, ff_dim, 1, activation, scale_embeddings
        )
        if loss not in LOSSES:
            raise ConfigError(f"SASRec loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        self.n_users = int(n_users)
        self.n_items = check_positive_int("n_items", n_items)
        self.dim, self.n_blocks, self.n_heads, self.ff_dim = dim, n_blocks, n_heads, ff_dim
        self.max_len = max_len
        self.loss_type = loss
        if loss == "bce":  # the batches carry a sampled negative per position
            self.sampler = "sequences_neg"
        self.encoder = TransformerEncoder(
            self.n_items + 1,
            dim,
            n_blocks,
            n_heads,
            max_len,
            ff_dim,
            activation,
            scale_embeddings,
            rngs=rngs,
        )

    def hidden(self, seq: jax.Array, drop: DropoutStream | None = None) -> jax.Array:
        """Causal hidden states of item sequences.

        Args:
            seq: ``[B, L]`` int32 items oldest first, ``-1`` padding on the left, ``L <= max_len``.
            drop: dropout (``None``: deterministic).

        Returns:
            ``[B, L, D]`` float32; row ``t`` depends on ``seq[:, :t + 1]`` only.
        """
        valid = seq >= 0
        tokens = jnp.where(valid, seq, self.n_items)
        drop = drop or DropoutStream(0.0, None)
        return self.encoder(tokens, valid, causal_mask(valid), drop)

    def item_table(self) -> jax.Array:
        """``[n_items, D]`` float32 output embeddings (the input item embeddings)."""
        return self.encoder.token_emb.embedding[...][: self.n_items]

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """Next-item scores after each user's history.

        Args:
            users: ``[B]`` int32 (unused: the history identifies the user's state).
            history: ``[B, L]`` int32 most recent known items, oldest first, ``-1`` padding on
                the left, ``L <= max_len``.

        Returns:
            ``[B, n_items]`` float32, ``<h_last, e_i>``.
        """
        if history is None:
            raise ConfigError("SASRec scores from each user's history: pass history=[B, L]")
        h = self.hidden(history)[:, -1]
        return h @ self.item_table().T

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Mean next-item loss over the real positions of the batch, plus L2.

        Args:
            batch: ``items`` ``[B, L + 1]`` int32, ``weight`` ``[B]`` float32, ``rng`` (see
                :class:`~moorec.train.sampling.SequenceSampler`), and with ``loss="bce"``
                ``neg`` ``[B, L + 1]`` int32
                (:class:`~moorec.train.sampling.SequenceNegativeSampler`).
            hparams: ``dropout`` and ``l2`` scalars.

        Returns:
            Scalar float32.
        """
        items = batch["items"]
        inp, tgt = items[:, :-1], items[:, 1:]
        h = self.hidden(inp, DropoutStream(hparams["dropout"], batch["rng"]))
        w = ((inp >= 0) & (tgt >= 0)).astype(jnp.float32) * batch["weight"][:, None]
        table = self.item_table()
        tgt_c = jnp.maximum(tgt, 0)
        pos = jnp.sum(h * table[tgt_c], axis=-1)
        if self.loss_type == "ce":
            per_pos = jax.nn.logsumexp(h @ table.T, axis=-1) - pos
        else:
            neg = jnp.sum(h * table[batch["neg"][:, 1:]], axis=-1)
            per_pos = jax.nn.softplus(-pos) + jax.nn.softplus(neg)
        loss = jnp.sum(w * per_pos) / jnp.maximum(jnp.sum(w), 1.0)
        return loss + hparams["l2"] * l2_penalty(self)
