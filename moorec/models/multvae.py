"""MultVAE: a variational autoencoder of each user's row with a multinomial likelihood.

D. Liang, R. G. Krishnan, M. D. Hoffman and T. Jebara, "Variational Autoencoders for
Collaborative Filtering", WWW 2018.

A user is their training row ``x_u`` (1 on the items they interacted with). The encoder reads the
L2-normalised row, with dropout on its entries, through ``tanh`` layers to the mean ``mu`` and
log-variance ``log sigma^2`` of a Gaussian ``q(z | x_u)``; a sample ``z = mu + sigma * eps``
(the reparameterisation trick, ``eps ~ N(0, I)``) goes through the decoder's ``tanh`` layers to
logits ``f(z)`` over the whole catalogue. Training minimises, per user,

    -sum_i x_ui log softmax(f(z))_i  +  beta * KL(q(z | x_u) || N(0, I))

(the multinomial log-likelihood and the KL term of the ELBO), with ``beta`` annealed linearly
from 0 up to ``anneal_cap`` over ``total_anneal_steps`` optimiser updates,
``beta_t = min(anneal_cap, t / total_anneal_steps)``. A user is scored by decoding the mean of
the encoder on their training row, ``f(mu(x_u))``.

The model holds the training rows as CSR arrays (non-trainable ``nnx.Variable``: ``O(nnz)``
memory); :meth:`MultVAE.score` expands its users' rows to a dense ``[B, n_items]`` block inside
the jitted program (:func:`~moorec.models.rows.dense_rows`), never the whole
``n_users x n_items`` matrix.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, check_positive_int
from moorec.models.base import Recommender
from moorec.models.rows import check_train, dense_rows, user_csr
from moorec.models.sasrec import DropoutStream, l2_penalty

__all__ = ["MultVAE", "kl_divergence", "kl_weight", "multinomial_nll"]

_INIT = jax.nn.initializers.xavier_uniform()  # Glorot, as in the paper's code


def kl_weight(
    step: jax.Array, anneal_cap: jax.Array | float, total_anneal_steps: jax.Array | float
) -> jax.Array:
    """The annealed KL weight ``beta_t = min(anneal_cap, t / total_anneal_steps)``.

    Args:
        step: int or float scalar ``t``, the optimiser updates made so far (0 at the first batch).
        anneal_cap: the largest weight (the paper: 0.2).
        total_anneal_steps: updates over which ``t / total`` would reach 1; 0 means no
            annealing (``beta = anneal_cap`` from the start).

    Returns:
        Scalar float32.
    """
    t = jnp.asarray(step, jnp.float32)
    cap = jnp.asarray(anneal_cap, jnp.float32)
    total = jnp.asarray(total_anneal_steps, jnp.float32)
    ramp = t / jnp.where(total > 0, total, 1.0)
    return jnp.where(total > 0, jnp.minimum(cap, ramp), cap)


def multinomial_nll(logits: jax.Array, rows: jax.Array) -> jax.Array:
    """Negative multinomial log-likelihood of each row, ``-sum_i x_i log softmax(logits)_i``.

    Args:
        logits: ``[B, n_items]`` float32 decoder outputs.
        rows: ``[B, n_items]`` float32 counts (0/1 training rows).

    Returns:
        ``[B]`` float32.
    """
    return -jnp.sum(jax.nn.log_softmax(logits, axis=-1) * rows, axis=-1)


def kl_divergence(mu: jax.Array, logvar: jax.Array) -> jax.Array:
    """``KL(N(mu, diag(exp(logvar))) || N(0, I))`` of each row.

    Args:
        mu: ``[B, d]`` float32 means.
        logvar: ``[B, d]`` float32 log-variances.

    Returns:
        ``[B]`` float32, ``0.5 * sum_k (exp(logvar_k) + mu_k^2 - 1 - logvar_k)``.
    """
    return 0.5 * jnp.sum(jnp.exp(logvar) + mu**2 - 1.0 - logvar, axis=-1)


def _check_hidden(hidden) -> tuple[int, ...]:
    if isinstance(hidden, int) and not isinstance(hidden, bool):
        hidden = (hidden,)
    if isinstance(hidden, str) or not isinstance(hidden, Sequence):
        raise ConfigError(
            f"hidden must be a sequence of positive integers (e.g. (600,)), got {hidden!r}"
        )
    return tuple(check_positive_int("hidden", h) for h in hidden)


class MultVAE(Recommender):
    """Variational autoencoder for collaborative filtering (Liang et al., WWW 2018).

    Architecture (the paper's ``[I -> 600 -> 200 -> 600 -> I]`` with the defaults): encoder
    ``n_items -> hidden... -> 2 * dim`` (``tanh`` between layers; the last layer's output is
    split into ``mu`` and ``logvar``, ``[B, dim]`` each), decoder ``dim -> reversed(hidden)
    -> n_items`` (``tanh`` between layers, logits out). Weights start Glorot-uniform, biases 0.

    Trains on the ``users`` sampler (a batch is users with their dense training rows,
    ``batch["rows"]``); the loss is the batch mean of the multinomial negative log-likelihood
    plus ``beta_t`` times the mean KL term (module docstring), ``t = batch["step"]``, the
    optimiser updates made so far.

    Hyperparameters read from ``hparams`` (arrays: new values do not recompile):
        ``dropout``: drop rate of the normalised input row's entries, ``[0, 1)`` (the paper:
        0.5).
        ``anneal_cap``: the largest KL weight (the paper: 0.2); 0 leaves the KL term out
        (training still samples ``z``).
        ``total_anneal_steps``: updates over which ``t / total`` reaches 1, so the weight
        reaches ``anneal_cap`` after ``anneal_cap * total_anneal_steps`` updates (0:
        ``anneal_cap`` at once). Default 1000, chosen on ml-100k; the paper's code uses
        200,000 on ML-20M, under which the weight stays near 0 on ml-100k (8 updates an
        epoch at batch 128). It counts updates, so it depends on the data's size and the
        batch size.
        ``l2``: weight of ``0.5 * ||theta||^2`` over all parameters (default 0).

    Args:
        n_users: number of users.
        n_items: catalogue size.
        dim: latent size ``d`` (the paper: 200).
        hidden: widths of the encoder's hidden layers, mirrored in the decoder (the paper:
            ``(600,)``); ``()`` gives linear maps.
        train: the training :class:`~moorec.data.Interactions` whose rows the model reads
            when scoring (required; e.g. ``split.train``).
        rngs: Flax random streams (``params``).

    Raises:
        ConfigError: without ``train``, for ``train`` over other index spaces, or for bad
            sizes.

    Example:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> from moorec.data import Interactions
        >>> train = Interactions(users=[0, 0, 1], items=[0, 1, 2], n_users=2, n_items=3)
        >>> model = MultVAE(2, 3, dim=4, hidden=(8,), train=train, rngs=nnx.Rngs(0))
        >>> model.score(jnp.array([0, 1])).shape
        (2, 3)
    """

    sampler = "users"
    hparam_names = ("l2", "dropout", "anneal_cap", "total_anneal_steps")
    hparam_defaults: ClassVar[dict[str, float]] = {
        "l2": 0.0,
        "dropout": 0.5,
        "anneal_cap": 0.2,
        "total_anneal_steps": 1000.0,
    }
    hparam_switches = ("dropout", "anneal_cap")

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 200,
        hidden: Sequence[int] = (600,),
        *,
        train: Interactions | None = None,
        rngs: nnx.Rngs,
    ):
        self.n_users = check_positive_int("n_users", n_users)
        self.n_items = check_positive_int("n_items", n_items)
        self.dim = check_positive_int("dim", dim)
        self.hidden = _check_hidden(hidden)
        check_train(
            "MultVAE", train, self.n_users, self.n_items, reads="encodes each user's training row"
        )
        indptr, indices = user_csr(train)
        self.max_degree = int((indptr[1:] - indptr[:-1]).max(initial=0))
        self.row_indptr = nnx.Variable(jnp.asarray(indptr))
        self.row_items = nnx.Variable(jnp.asarray(indices))
        enc = (self.n_items, *self.hidden, 2 * self.dim)
        dec = (self.dim, *reversed(self.hidden), self.n_items)
        self.encoder = nnx.List(
            [nnx.Linear(a, b, kernel_init=_INIT, rngs=rngs) for a, b in itertools.pairwise(enc)]
        )
        self.decoder = nnx.List(
            [nnx.Linear(a, b, kernel_init=_INIT, rngs=rngs) for a, b in itertools.pairwise(dec)]
        )

    def rows(self, users: jax.Array) -> jax.Array:
        """``[B, n_items]`` float32 training rows of ``users`` (``[B]`` int32), 0/1."""
        return dense_rows(
            self.row_indptr[...], self.row_items[...], users, self.n_items, self.max_degree
        )

    def encode(
        self, rows: jax.Array, drop: DropoutStream | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """Mean and log-variance of ``q(z | x)``.

        Args:
            rows: ``[B, n_items]`` float32 rows (an all-zero row is allowed).
            drop: dropout on the normalised row (``None``: none).

        Returns:
            ``(mu, logvar)``, ``[B, dim]`` float32 each.
        """
        norm = jnp.sqrt(jnp.sum(rows * rows, axis=-1, keepdims=True))
        h = rows / jnp.maximum(norm, 1e-12)
        if drop is not None:
            h = drop(h)
        for layer in self.encoder[:-1]:
            h = jnp.tanh(layer(h))
        out = self.encoder[-1](h)
        return out[:, : self.dim], out[:, self.dim :]

    def decode(self, z: jax.Array) -> jax.Array:
        """``[B, dim]`` latent codes -> ``[B, n_items]`` float32 logits."""
        h = z
        for layer in self.decoder[:-1]:
            h = jnp.tanh(layer(h))
        return self.decoder[-1](h)

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """Decoded encoder means of the users' training rows.

        Builds one ``[B, n_items]`` dense block of rows (plus ``[B, max_degree]`` indices),
        then runs the two networks: about one multiply-add per parameter per user, most of
        them in the encoder's first and the decoder's last layer (``n_items x hidden[0]``
        each).

        Args:
            users: ``[B]`` int32 users.
            history: unused (sequential models read it).

        Returns:
            ``[B, n_items]`` float32 logits ``f(mu(x_u))``.
        """
        mu, _ = self.encode(self.rows(users))
        return self.decode(mu)

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Negative ELBO with the annealed KL weight, averaged over the batch's users.

        Args:
            batch: ``rows`` ``[B, n_items]`` float32, ``weight`` ``[B]`` float32, ``rng``
                (see :class:`~moorec.train.sampling.UserSampler`) and ``step`` (int32 scalar,
                optimiser updates so far; added by the training loop).
            hparams: ``dropout``, ``anneal_cap``, ``total_anneal_steps``, ``l2`` scalars
                (``dropout`` and ``anneal_cap`` may be missing: their terms are left out).

        Returns:
            Scalar float32.
        """
        rows, w = batch["rows"], batch["weight"]
        k_drop, k_eps = jax.random.split(batch["rng"])
        drop = DropoutStream(hparams["dropout"], k_drop) if "dropout" in hparams else None
        mu, logvar = self.encode(rows, drop)
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(k_eps, mu.shape, mu.dtype)
        n = jnp.maximum(jnp.sum(w), 1.0)
        loss = jnp.sum(w * multinomial_nll(self.decode(z), rows)) / n
        if "anneal_cap" in hparams:
            if "step" not in batch:
                raise ConfigError(
                    "MultVAE anneals its KL weight by the optimiser's update count: the batch "
                    "needs 'step' (moorec.train.epoch_body adds it)"
                )
            beta = kl_weight(batch["step"], hparams["anneal_cap"], hparams["total_anneal_steps"])
            loss = loss + beta * jnp.sum(w * kl_divergence(mu, logvar)) / n
        return loss + hparams["l2"] * l2_penalty(self)
