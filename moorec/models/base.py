"""The interface every moorec recommender implements.

A model is a Flax NNX module that

* scores users against the whole catalogue: ``score(users) -> [B, n_items]``;
* computes its training loss on one batch: ``loss(batch, hparams) -> scalar``.

Training (``moorec.train``) and evaluation (``moorec.objectives``) split the module once with
``nnx.split`` and jit plain functions over its state, so a model never needs its own loop.
Values that differ between candidates of a search (regularisation, loss weights) arrive in
``hparams`` as arrays, never as Python constants, so a new value does not recompile.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = ["Recommender", "count_params"]


class Recommender(nnx.Module):
    """Base class of moorec models.

    Subclasses set ``n_users`` and ``n_items`` and implement :meth:`score` and :meth:`loss`.

    Attributes:
        sampler: name of the batch sampler the model trains on. ``"pairs"``: each batch holds
            ``user``, ``pos``, ``neg`` ``[B]`` int32, ``weight`` ``[B]`` float32 (0 on padding),
            ``rng`` (a PRNG key), ``pos_pop`` ``[B]`` float32 training popularity of ``pos``,
            and for list-level regularisers ``div_items`` ``[M]`` int32 items sampled
            uniformly, ``div_cat`` ``[M, C]`` their 0/1 categories and ``div_users`` (static
            int: how many of the batch's first users to apply them to). ``"sequences"``: each
            user's recent items in time order (:class:`~moorec.train.sampling.SequenceSampler`);
            ``"sequences_neg"``: the same with a sampled negative per position
            (:class:`~moorec.train.sampling.SequenceNegativeSampler`).
            ``"users"``: each user's dense training row
            (:class:`~moorec.train.sampling.UserSampler`). Every batch also holds ``step``
            (int32 scalar: the optimiser updates made before it).
        uses_history: whether :meth:`score` reads ``history`` (sequential models; such a model
            also has an int attribute ``max_len``, the history length it reads).
        closed_form: whether the model is computed in one pass from the training data instead
            of trained by gradient steps (``moorec.models.closed_form``: EASE, ItemKNN,
            RP3beta, popularity). Such a model has ``solve(train)``, which
            :func:`moorec.train.fit` calls once; it has no :meth:`loss`, no epochs and sampler
            ``"none"``.
        hparam_names: names of the per-candidate array hyperparameters :meth:`loss` reads.
        hparam_defaults: their values when a training config does not set them.
        hparam_switches: those of :attr:`hparam_names` whose value 0 turns a loss term off
            (a regulariser's weight, a dropout rate). :meth:`loss` leaves a term out when its
            name is missing from ``hparams``, and training leaves the name out when it is 0
            for every candidate: the compiled program then neither computes nor
            differentiates a term that adds nothing. A term that is on computes the same
            loss at 0 as the term left out.
    """

    sampler: ClassVar[str] = "pairs"
    uses_history: ClassVar[bool] = False
    closed_form: ClassVar[bool] = False
    hparam_names: ClassVar[tuple[str, ...]] = ()
    hparam_defaults: ClassVar[dict[str, float]] = {}
    hparam_switches: ClassVar[tuple[str, ...]] = ()
    n_users: int
    n_items: int

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """Score users against every item.

        Args:
            users: ``[B]`` int32 user indices.
            history: ``[B, L]`` int32 each user's most recent known items, oldest first, ``-1``
                padding on the left; given only to models with ``uses_history``.

        Returns:
            ``[B, n_items]`` float32 scores, higher is better.
        """
        raise NotImplementedError

    def score_in_order(
        self, users: jax.Array, order: jax.Array, history: jax.Array | None = None
    ) -> jax.Array:
        """:meth:`score` with the item columns in ``order``: ``score(users, history)[:, order]``.

        Ranking under a seeded tie order (``moorec.objectives.latency.tie_order``) reads the
        scores in that order. A model whose items enter the score through one table overrides
        this to permute the table's rows (``[n_items, d]``) rather than the ``[B, n_items]``
        scores.

        Args:
            users: ``[B]`` int32 user indices.
            order: ``[n_items]`` int32 permutation of the items.
            history: as in :meth:`score`.

        Returns:
            ``[B, n_items]`` float32, column ``j`` the score of item ``order[j]``.
        """
        scores = self.score(users) if history is None else self.score(users, history)
        return jnp.take(scores, order, axis=1)

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Training loss on one batch.

        Args:
            batch: arrays produced by the model's sampler (see :attr:`sampler`).
            hparams: scalar float32 arrays named in :attr:`hparam_names` (those of
                :attr:`hparam_switches` may be missing: their terms are then left out).

        Returns:
            Scalar float32 loss.
        """
        raise NotImplementedError


def count_params(model: nnx.Module) -> int:
    """Number of trainable parameters (entries of ``nnx.Param`` variables) of ``model``."""
    state = nnx.state(model, nnx.Param)
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(state)))
