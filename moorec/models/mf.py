"""BPR matrix factorisation.

S. Rendle, C. Freudenthaler, Z. Gantner and L. Schmidt-Thieme, "BPR: Bayesian Personalized
Ranking from Implicit Feedback", UAI 2009.

The score of user ``u`` for item ``i`` is the inner product ``<p_u, q_i>``; training maximises
``ln sigmoid(x_uij)`` with ``x_uij = <p_u, q_i> - <p_u, q_j>`` over triples of a user, an item
the user interacted with and an item drawn uniformly from those the user did not interact with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from moorec.models.base import Recommender
from moorec.models.ncf import dropout

__all__ = [
    "BPRMF",
    "bpr_loss",
    "expected_intra_list_similarity",
    "jaccard_similarity",
    "popularity_correlation",
]


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


def popularity_correlation(
    scores: jax.Array, popularity: jax.Array, weight: jax.Array
) -> jax.Array:
    """Weighted Pearson correlation between scores and item popularity over a batch.

    The regulariser of Zhu, Wang and Caverlee, "Popularity-Opportunity Bias in Collaborative
    Filtering" (WSDM 2021): driving the correlation between the predicted scores of positive
    pairs and the popularity of their items towards zero gives popular and unpopular items the
    same opportunity to be ranked high once a user likes them.

    Args:
        scores: ``[B]`` float32 predicted scores of (user, positive item) pairs.
        popularity: ``[B]`` float32 training popularity of those items.
        weight: ``[B]`` float32 row weights (0 for padding rows).

    Returns:
        Scalar float32 correlation in ``[-1, 1]`` (0 when either side is constant).
    """
    n = jnp.maximum(jnp.sum(weight), 1.0)
    ds = scores - jnp.sum(weight * scores) / n
    dp = popularity - jnp.sum(weight * popularity) / n
    cov = jnp.sum(weight * ds * dp) / n
    var_s = jnp.sum(weight * ds**2) / n
    var_p = jnp.sum(weight * dp**2) / n
    return cov / jnp.sqrt(var_s * var_p + 1e-12)


def expected_intra_list_similarity(
    scores: jax.Array, similarity: jax.Array, temperature: jax.Array | float = 1.0
) -> jax.Array:
    """Expected category similarity of two items drawn from each user's soft list.

    A differentiable stand-in for intra-list similarity (the complement of ILD; Ziegler et al.
    2005): a user's list is relaxed to ``pi_u = softmax(scores_u / temperature)`` over sampled
    items (a lower temperature puts the mass on the user's top items), and the
    expected similarity of two draws is ``pi_u^T S pi_u``. Penalising it in training follows the
    diversity-regularised learning to rank of Wasilewski and Hurley (FLAIRS 2016), who add an
    intra-list dissimilarity term built from an item-distance matrix to a ranking loss.

    Args:
        scores: ``[S, M]`` float32 scores of ``S`` users for ``M`` sampled items.
        similarity: ``[M, M]`` float32 category similarity of those items (the Jaccard index of
            their category sets, as ``ild@k`` uses).
        temperature: softmax temperature (``> 0``).

    Returns:
        ``[S]`` float32 expected similarities in ``[0, 1]``.
    """
    pi = jax.nn.softmax(scores / temperature, axis=-1)
    return jnp.sum((pi @ similarity) * pi, axis=-1)


def jaccard_similarity(categories: jax.Array) -> jax.Array:
    """``[M, C]`` 0/1 category rows -> ``[M, M]`` Jaccard index (0 where both rows are empty)."""
    inter = categories @ categories.T
    sizes = jnp.sum(categories, axis=-1)
    union = sizes[:, None] + sizes[None, :] - inter
    return jnp.where(union > 0, inter / jnp.maximum(union, 1.0), 0.0)


def embedding_dropout(
    rows: tuple[jax.Array, ...], hparams: Mapping[str, jax.Array], batch: Mapping[str, jax.Array]
) -> tuple[jax.Array, ...]:
    """Inverted dropout on a batch's embedding rows at rate ``hparams["dropout"]``.

    The rate is an array, so another value does not recompile; a rate of 0 returns the rows
    unchanged. Without a ``dropout`` hyperparameter (training leaves it out when it is 0, see
    ``Recommender.hparam_switches``) or a ``batch["rng"]`` key the rows are returned as they
    are, and the program holds no dropout at all.

    Args:
        rows: ``[B, d]`` arrays (e.g. user, positive and negative item embeddings).
        hparams: the loss hyperparameters.
        batch: the training batch (its ``rng`` key draws the masks).

    Returns:
        The rows, each entry zeroed with probability ``rate`` and the rest scaled by
        ``1 / (1 - rate)``.
    """
    rate = hparams.get("dropout")
    if rate is None or "rng" not in batch:
        return rows

    keys = jax.random.split(jax.random.fold_in(batch["rng"], 7), len(rows))
    return tuple(dropout(x, rate, keys[i]) for i, x in enumerate(rows))


class BPRMF(Recommender):
    """Matrix factorisation trained with the BPR pairwise loss.

    Embeddings are initialised with Xavier-normal values, as RecBole does.

    Hyperparameters read from ``hparams``:
        ``l2``: weight of ``0.5 * (|p_u|^2 + |q_i|^2 + |q_j|^2)`` averaged over the batch
        (Rendle et al.'s ``lambda_Theta ||Theta||^2`` restricted to the rows a batch touches).
        ``pop_weight``: weight of the squared popularity correlation of the positive scores
        (:func:`popularity_correlation`, Zhu et al. 2021); 0 gives plain BPR. Larger values
        trade accuracy for less popularity-driven lists.
        ``div_weight``: weight of the expected intra-list similarity of each user's soft list
        over ``DIV_ITEMS`` sampled items, for the batch's first ``DIV_USERS`` users
        (:func:`expected_intra_list_similarity`, after Wasilewski and Hurley 2016); larger
        values trade accuracy for lists whose items share fewer categories (higher ILD).
        ``div_temperature``: temperature of that soft list (default 1).
        ``dropout``: rate of inverted dropout on the batch's user and item embedding rows in
        the BPR term (:func:`embedding_dropout`; default 0, none); L2 and the diversity term
        read the embeddings without dropout.

    Args:
        n_users: number of users.
        n_items: number of items.
        dim: embedding size.
        rngs: Flax random streams (``params`` is used).
    """

    sampler = "pairs"
    hparam_names = ("l2", "pop_weight", "div_weight", "div_temperature", "dropout")
    hparam_defaults: ClassVar[dict[str, float]] = {
        "l2": 0.0,
        "pop_weight": 0.0,
        "div_weight": 0.0,
        "div_temperature": 1.0,
        "dropout": 0.0,
    }
    hparam_switches = ("l2", "pop_weight", "div_weight", "dropout")

    def __init__(self, n_users: int, n_items: int, dim: int = 64, *, rngs: nnx.Rngs):
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.dim = int(dim)
        init = jax.nn.initializers.xavier_normal()
        self.user_emb = nnx.Param(init(rngs.params(), (self.n_users, self.dim), jnp.float32))
        self.item_emb = nnx.Param(init(rngs.params(), (self.n_items, self.dim), jnp.float32))

    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """``[B]`` user indices -> ``[B, n_items]`` inner-product scores (history unused)."""
        return self.user_emb[...][users] @ self.item_emb[...].T

    def score_in_order(
        self, users: jax.Array, order: jax.Array, history: jax.Array | None = None
    ) -> jax.Array:
        """``score(users)[:, order]`` with the item table's rows permuted, not the scores."""
        return self.user_emb[...][users] @ self.item_emb[...][order].T

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """BPR loss plus L2 on the rows of the batch (see class docstring)."""
        u, p, n = batch["user"], batch["pos"], batch["neg"]
        b = u.shape[0]
        eu = self.user_emb[...][u]
        # One gather of the positive and negative rows (one scatter-add in the gradient).
        e_items = self.item_emb[...][jnp.concatenate([p, n])]
        ep, en = e_items[:b], e_items[b:]
        du, dp, dn = embedding_dropout((eu, ep, en), hparams, batch)
        w = batch["weight"]
        # x_uij = <p_u, q_i - q_j>: one reduction where the two scores are not needed apart.
        x = jnp.sum(du * (dp - dn), axis=-1)
        loss = bpr_loss(x, jnp.zeros_like(x), w)
        # A term is in the program only if its weight is given (training leaves out a weight
        # that is 0 for every candidate, see ``hparam_switches``); its value is an array, so
        # other values do not recompile.
        l2 = hparams.get("l2")
        if l2 is not None:
            reg = 0.5 * jnp.sum(eu**2 + ep**2 + en**2, axis=-1)
            loss = loss + l2 * jnp.sum(w * reg) / jnp.maximum(jnp.sum(w), 1.0)
        pw = hparams.get("pop_weight")
        if pw is not None and "pos_pop" in batch:
            pos = jnp.sum(du * dp, axis=-1)
            loss = loss + pw * popularity_correlation(pos, batch["pos_pop"], w) ** 2
        dw = hparams.get("div_weight")
        if dw is not None and "div_items" in batch:
            loss = loss + dw * self._intra_list_similarity(eu, batch, hparams)
        return loss

    def _intra_list_similarity(self, eu, batch, hparams) -> jax.Array:
        """Mean expected intra-list similarity of the batch's first ``div_users`` users."""
        n_div = batch["div_users"]
        s_div = eu[:n_div] @ self.item_emb[...][batch["div_items"]].T
        sim = jaccard_similarity(batch["div_cat"])
        ils = expected_intra_list_similarity(s_div, sim, hparams["div_temperature"])
        w = batch["weight"][:n_div]
        return jnp.sum(w * ils) / jnp.maximum(jnp.sum(w), 1.0)
