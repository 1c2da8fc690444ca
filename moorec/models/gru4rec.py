"""GRU4Rec: a recurrent network over each user's time-ordered item sequence.

B. Hidasi, A. Karatzoglou, L. Baltrunas and D. Tikk, "Session-based Recommendations with
Recurrent Neural Networks", ICLR 2016; the losses of B. Hidasi and A. Karatzoglou, "Recurrent
Neural Networks with Top-k Gains for Session-based Recommendations", CIKM 2018.

The model embeds the user's last ``L`` items, runs one or more GRU layers over them in time order
(:class:`flax.nnx.GRUCell` under ``jax.lax.scan``) and reads the next item off each position's
hidden state: the state is projected to the embedding width and scored against the item
embeddings, which double as the output layer. Training predicts every position of the sequence
at once (as SASRec does here), with the CIKM 2018 paper's TOP1-max (the default) or BPR-max,
whose negatives here are every other item of the catalogue (the paper samples them: the other
targets of the mini-batch and extra items drawn by popularity), or with the softmax
cross-entropy over the whole catalogue (``ce``, RecBole's default). The score of a user is that
of the hidden state after their last item.

The GRU cell is Flax's (the cuDNN / PyTorch form that RecBole's GRU4Rec also runs):

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1})
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1})
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1}))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

The ICLR paper writes the candidate as ``tanh(W x_t + U (r_t * h_{t-1}))`` and lets ``z_t``
weigh the candidate rather than the old state: the same family of functions, up to where the
reset gate applies.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from moorec.errors import ConfigError, check_positive_int
from moorec.models.base import Recommender
from moorec.models.sasrec import DropoutStream, l2_penalty

__all__ = ["LOSSES", "GRU4Rec", "bpr_max_loss", "cross_entropy_loss", "top1_max_loss"]

#: Training losses of :class:`GRU4Rec`.
LOSSES = ("ce", "bpr_max", "top1_max")

_EMB_INIT = jax.nn.initializers.glorot_normal()  # RecBole's xavier_normal_ for embeddings


def cross_entropy_loss(logits: jax.Array, target: jax.Array) -> jax.Array:
    """Softmax cross-entropy of the target item over the catalogue, per position.

    Args:
        logits: ``[..., n_items]`` float32 scores.
        target: ``[...]`` int32 target items in ``[0, n_items)``.

    Returns:
        ``[...]`` float32, ``logsumexp_i r_i - r_target``.
    """
    pos = jnp.take_along_axis(logits, target[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(logits, axis=-1) - pos


def _negative_softmax(logits: jax.Array, target: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(r_target [...], s [..., n_items])``: the softmax over the other items' scores."""
    n_items = logits.shape[-1]
    is_target = jnp.arange(n_items) == target[..., None]
    pos = jnp.sum(jnp.where(is_target, logits, 0.0), axis=-1)
    weights = jax.nn.softmax(jnp.where(is_target, -jnp.inf, logits), axis=-1)
    return pos, weights


def bpr_max_loss(logits: jax.Array, target: jax.Array, bpreg: jax.Array | float) -> jax.Array:
    """BPR-max (Hidasi and Karatzoglou, CIKM 2018), every other item a negative.

    ``-log sum_j s_j sigmoid(r_target - r_j) + bpreg * sum_j s_j r_j^2`` with ``s`` the softmax
    of the negatives' scores ``r_j``.

    Args:
        logits: ``[..., n_items]`` float32 scores (at least two items).
        target: ``[...]`` int32 target items.
        bpreg: weight of the score regularisation (the paper's lambda).

    Returns:
        ``[...]`` float32.
    """
    pos, s = _negative_softmax(logits, target)
    hit = jnp.sum(s * jax.nn.sigmoid(pos[..., None] - logits), axis=-1)
    return -jnp.log(hit + 1e-24) + bpreg * jnp.sum(s * logits**2, axis=-1)


def top1_max_loss(logits: jax.Array, target: jax.Array) -> jax.Array:
    """TOP1-max (Hidasi and Karatzoglou, CIKM 2018), every other item a negative.

    ``sum_j s_j (sigmoid(r_j - r_target) + sigmoid(r_j^2))`` with ``s`` the softmax of the
    negatives' scores.

    Args:
        logits: ``[..., n_items]`` float32 scores (at least two items).
        target: ``[...]`` int32 target items.

    Returns:
        ``[...]`` float32.
    """
    pos, s = _negative_softmax(logits, target)
    terms = jax.nn.sigmoid(logits - pos[..., None]) + jax.nn.sigmoid(logits**2)
    return jnp.sum(s * terms, axis=-1)


def run_gru(cell: nnx.GRUCell, x: jax.Array, valid: jax.Array) -> jax.Array:
    """Run ``cell`` over the time axis, the state held (from zero) through padding.

    Args:
        cell: a GRU cell of input width ``D_in`` and hidden width ``H``.
        x: ``[B, L, D_in]`` float32 inputs, oldest first.
        valid: ``[B, L]`` bool, false on padding (left padding leaves the state at 0).

    Returns:
        ``[B, L, H]`` float32 hidden state after each position.
    """
    h0 = jnp.zeros((x.shape[0], cell.hidden_features), x.dtype)

    def step(h, inputs):
        x_t, v_t = inputs
        new, _ = cell(h, x_t)
        h = jnp.where(v_t[:, None], new, h)
        return h, h

    _, hs = jax.lax.scan(step, h0, (jnp.swapaxes(x, 0, 1), jnp.swapaxes(valid, 0, 1)))
    return jnp.swapaxes(hs, 0, 1)


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, int) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if isinstance(hidden, str) or not isinstance(hidden, Sequence) or not hidden:
        raise ConfigError(
            "hidden must be a non-empty sequence of positive integers, the width of each GRU "
            f"layer (e.g. (128,)), got {hidden!r}"
        )
    return tuple(check_positive_int("hidden", h) for h in hidden)


class GRU4Rec(Recommender):
    """Recurrent session-based recommendation (Hidasi et al., ICLR 2016; CIKM 2018 losses).

    Architecture: item embedding (``n_items + 1`` rows of width ``dim``; the last is the padding
    token that ``-1`` maps to), dropout, one GRU layer per entry of ``hidden`` (each followed by
    dropout), a linear map from the last layer's width to ``dim``, and scores
    ``<out_t, e_i>`` against the item embeddings (the layout of RecBole's GRU4Rec).

    Trains on all positions at once: the batch's ``items[:, :-1]`` are read and
    ``items[:, 1:]`` predicted, positions whose input or target is padding left out. Losses
    (setting ``loss``), each over the whole catalogue at every position:

    * ``"ce"``: softmax cross-entropy, ``logsumexp_i r_i - r_target``.
    * ``"bpr_max"``: :func:`bpr_max_loss` (weight ``bpreg`` on its score regulariser).
    * ``"top1_max"`` (default): :func:`top1_max_loss`. On ml-100k both ranking losses beat
      ``ce`` by about 0.013 validation NDCG@10 (three seeds each; ``docs/models/gru4rec.md``).

    Hyperparameters read from ``hparams`` (arrays: new values do not recompile):
        ``dropout``: drop rate of the input embeddings and of each GRU layer's outputs,
        ``[0, 1)`` (default 0.3, RecBole's ``dropout_prob``).
        ``bpreg``: the BPR-max score regulariser's weight (default 1.0, the paper's code;
        read by ``bpr_max`` only).
        ``l2``: weight of ``0.5 * ||theta||^2`` over all parameters (default 0).

    Args:
        n_users: number of users (unused by the network; kept for the interface).
        n_items: catalogue size (at least 2).
        dim: item embedding width (default 64).
        hidden: width of each GRU layer (default ``(128,)``: one layer).
        max_len: sequence length ``L`` read for training and scoring (default 50).
        loss: ``"top1_max"`` (default), ``"bpr_max"`` or ``"ce"``.
        rngs: Flax random streams (``params``).

    Raises:
        ConfigError: for a bad size or an unknown ``loss``.

    Example:
        >>> from flax import nnx
        >>> import jax.numpy as jnp
        >>> model = GRU4Rec(3, 10, dim=8, hidden=(16,), max_len=4, rngs=nnx.Rngs(0))
        >>> model.score(jnp.array([0, 1]), jnp.array([[-1, -1, 2, 5], [1, 2, 3, 4]])).shape
        (2, 10)
    """

    sampler = "sequences"
    uses_history = True
    hparam_names = ("l2", "dropout", "bpreg")
    hparam_defaults: ClassVar[dict[str, float]] = {"l2": 0.0, "dropout": 0.3, "bpreg": 1.0}
    hparam_switches = ("dropout", "bpreg")

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        hidden: Sequence[int] = (128,),
        max_len: int = 50,
        loss: str = "top1_max",
        *,
        rngs: nnx.Rngs,
    ):
        self.n_users = int(n_users)
        self.n_items = check_positive_int("n_items", n_items)
        self.dim = check_positive_int("dim", dim)
        self.hidden = _check_hidden(hidden)
        self.max_len = check_positive_int("max_len", max_len)
        if loss not in LOSSES:
            raise ConfigError(f"GRU4Rec loss must be one of {', '.join(LOSSES)}, got {loss!r}")
        if loss != "ce" and self.n_items < 2:
            raise ConfigError(f"GRU4Rec loss {loss!r} needs at least 2 items for negatives")
        self.loss_type = loss
        self.item_emb = nnx.Embed(self.n_items + 1, self.dim, embedding_init=_EMB_INIT, rngs=rngs)
        widths = (self.dim, *self.hidden)
        self.cells = nnx.List([nnx.GRUCell(a, b, rngs=rngs) for a, b in itertools.pairwise(widths)])
        self.out = nnx.Linear(self.hidden[-1], self.dim, rngs=rngs)

    def hidden_states(self, seq: jax.Array, drop: DropoutStream | None = None) -> jax.Array:
        """Output vectors after each position of item sequences.

        Args:
            seq: ``[B, L]`` int32 items oldest first, ``-1`` padding on the left.
            drop: dropout (``None``: deterministic).

        Returns:
            ``[B, L, dim]`` float32; row ``t`` depends on ``seq[:, :t + 1]`` only.
        """
        valid = seq >= 0
        drop = drop or DropoutStream(0.0, None)
        x = drop(self.item_emb(jnp.where(valid, seq, self.n_items)))
        for cell in self.cells:
            x = drop(run_gru(cell, x, valid))
        return self.out(x)

    def item_table(self) -> jax.Array:
        """``[n_items, dim]`` float32 output embeddings (the input item embeddings)."""
        return self.item_emb.embedding[...][: self.n_items]

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """Next-item scores after each user's history.

        Args:
            users: ``[B]`` int32 (unused: the history identifies the user's state).
            history: ``[B, L]`` int32 most recent known items, oldest first, ``-1`` padding on
                the left.

        Returns:
            ``[B, n_items]`` float32, ``<out_last, e_i>``.
        """
        if history is None:
            raise ConfigError("GRU4Rec scores from each user's history: pass history=[B, L]")
        return self.hidden_states(history)[:, -1] @ self.item_table().T

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Mean next-item loss over the real positions of the batch, plus L2.

        Args:
            batch: ``items`` ``[B, L + 1]`` int32, ``weight`` ``[B]`` float32, ``rng`` (see
                :class:`~moorec.train.sampling.SequenceSampler`).
            hparams: ``l2``, and ``dropout`` and ``bpreg`` where they are on.

        Returns:
            Scalar float32.
        """
        items = batch["items"]
        inp, tgt = items[:, :-1], items[:, 1:]
        drop = DropoutStream(hparams["dropout"], batch["rng"]) if "dropout" in hparams else None
        logits = self.hidden_states(inp, drop) @ self.item_table().T
        w = ((inp >= 0) & (tgt >= 0)).astype(jnp.float32) * batch["weight"][:, None]
        tgt = jnp.maximum(tgt, 0)
        if self.loss_type == "ce":
            per_pos = cross_entropy_loss(logits, tgt)
        elif self.loss_type == "bpr_max":
            per_pos = bpr_max_loss(logits, tgt, hparams.get("bpreg", 0.0))
        else:
            per_pos = top1_max_loss(logits, tgt)
        loss = jnp.sum(w * per_pos) / jnp.maximum(jnp.sum(w), 1.0)
        return loss + hparams["l2"] * l2_penalty(self)
