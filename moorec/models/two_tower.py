"""A content-aware two-tower retrieval model.

Two-tower (dual-encoder) models score a user-item pair by the inner product of two separately
computed vectors, a user tower ``f(u)`` and an item tower ``g(i)``, so that all item vectors are
computed once and retrieval is a matrix product (Covington et al., "Deep Neural Networks for
YouTube Recommendations", RecSys 2016; Yi et al., "Sampling-Bias-Corrected Neural Modeling for
Large Corpus Item Recommendations", RecSys 2019). Here the item tower reads item side
information, genre multi-hot rows, release-year bins and title features (TF-IDF reduced by SVD,
optionally pretrained sentence embeddings), so items never seen in training still get a
meaningful vector: the cold-start setting where ID-only models such as BPR-MF have nothing to go
on.

* user tower: ``f(u) = MLP(p_u)`` over a user ID embedding;
* item tower: ``g(i) = MLP(x_i) + gate_i * q_i``, with ``x_i`` the item's content features and
  ``q_i`` an optional item ID embedding; ``gate_i`` is 0 for items without training
  interactions (their ID rows are never trained), so cold items are scored from content only,
  and during training it is also 0 at random with probability ``id_dropout`` (DropoutNet;
  Volkovs, Yu and Poutanen, NeurIPS 2017), which teaches the content path to stand alone;
* score: ``s(u, i) = <f(u), g(i)>`` (cosine when ``normalize=True``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from moorec.data.interactions import Interactions
from moorec.data.text import title_embeddings, title_tfidf
from moorec.errors import ConfigError, DataError, check_choice, check_positive_int
from moorec.models.base import Recommender
from moorec.models.mf import bpr_loss

__all__ = [
    "ItemContent",
    "TwoTower",
    "item_content_features",
    "sampled_softmax_loss",
    "year_bins",
]

LOSSES = ("softmax", "bpr")
TITLE_SOURCES = ("tfidf", "sentence", "both", "none")


class ItemContent(nnx.Variable):
    """Fixed, non-trainable item side information held by a model (not an ``nnx.Param``)."""


def year_bins(year: np.ndarray, n_bins: int = 8, fit_on: np.ndarray | None = None) -> np.ndarray:
    """One-hot release-year bins: quantile edges of the years of ``fit_on`` items.

    Args:
        year: ``[n]`` float years (``nan`` when unknown).
        n_bins: number of bins (fewer when the years have fewer distinct quantiles).
        fit_on: ``[n]`` bool rows whose years set the edges (default: all).

    Returns:
        ``[n, b + 1]`` float32 one-hot rows; the last column marks an unknown year.
    """
    year = np.asarray(year, dtype=np.float64)
    known = np.isfinite(year)
    fit = known if fit_on is None else known & np.asarray(fit_on, dtype=bool)
    if fit.any():
        edges = np.unique(np.quantile(year[fit], np.linspace(0, 1, n_bins + 1)[1:-1]))
    else:
        edges = np.zeros(0)
    b = edges.size + 1
    out = np.zeros((year.size, b + 1), dtype=np.float32)
    idx = np.searchsorted(edges, np.where(known, year, 0.0), side="right")
    out[np.flatnonzero(known), idx[known]] = 1.0
    out[~known, b] = 1.0
    return out


def item_content_features(
    train: Interactions,
    *,
    genres: bool | None = None,
    year: bool | None = None,
    titles: str | None = None,
    title_dim: int = 16,
    title_min_df: int | float = 2,
    n_year_bins: int = 8,
    sentence_model: str = "all-MiniLM-L6-v2",
    cache_dir: str | os.PathLike | None = None,
    extra_features: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, int]]:
    """The content matrix an item tower reads: genres, year, title features, extra columns.

    Only item side information and which items occur in ``train`` are used: the TF-IDF
    vocabulary, IDF weights and SVD basis, and the year bin edges, are fitted on the items with
    training interactions (then applied to every item), so nothing about held-out items other
    than their own side information enters.

    Each source is ``None`` (use it when the data has it), ``True`` (use it; an error if the data
    lacks it) or ``False``.

    Args:
        train: training interactions whose ``item_features`` cover all ``n_items`` items.
        genres: include the ``[n_items, C]`` category multi-hot rows.
        year: include one-hot release-year bins (:func:`year_bins`).
        titles: ``"tfidf"`` (:func:`~moorec.data.text.title_tfidf`), ``"sentence"``
            (:func:`~moorec.data.text.title_embeddings`, needs ``moorec[text]``), ``"both"``,
            ``"none"``, or ``None`` (``"tfidf"`` when the data has titles, else ``"none"``).
        title_dim: columns of the TF-IDF-SVD title features.
        title_min_df: ``min_df`` of the TF-IDF vocabulary.
        n_year_bins: number of year bins.
        sentence_model: sentence-embedding model (see :func:`~moorec.data.text.title_embeddings`).
        cache_dir: cache folder of the sentence embeddings.
        extra_features: optional ``[n_items, E]`` float matrix appended as it is.
        seed: seed of the TF-IDF SVD.

    Returns:
        ``(features, widths)``: ``[n_items, F]`` float32 and the width of each block
        (``{"genres": C, "year": b, "tfidf": r, ...}``; ``F`` may be 0).

    Raises:
        DataError: if a source set to ``True`` (or a named title source) is not in the data.
        ConfigError: for an unknown ``titles`` value or a malformed ``extra_features``.
    """
    if titles is not None:
        check_choice("titles source", titles, TITLE_SOURCES)
    feats = train.item_features
    name = train.name
    has_genres = feats is not None and feats.categories.shape[1] > 0
    has_year = feats is not None and feats.year is not None and np.isfinite(feats.year).any()
    has_titles = feats is not None and feats.titles is not None
    genres = has_genres if genres is None else bool(genres)
    year = has_year if year is None else bool(year)
    titles = ("tfidf" if has_titles else "none") if titles is None else titles
    if genres and not has_genres:
        raise DataError(f"data set {name!r} has no item categories; set genres=False")
    if year and not has_year:
        raise DataError(f"data set {name!r} has no item release years; set year=False")
    if titles != "none" and not has_titles:
        raise DataError(f"data set {name!r} has no item titles; set titles='none'")

    seen = train.item_counts() > 0
    blocks: dict[str, np.ndarray] = {}
    if genres:
        blocks["genres"] = feats.categories.astype(np.float32)
    if year:
        n_year_bins = check_positive_int("n_year_bins", n_year_bins)
        blocks["year"] = year_bins(feats.year, n_year_bins, fit_on=seen)
    if titles in ("tfidf", "both"):
        blocks["tfidf"] = title_tfidf(
            feats.titles, dim=title_dim, min_df=title_min_df, fit_on=seen, seed=seed
        )
    if titles in ("sentence", "both"):
        blocks["sentence"] = title_embeddings(
            feats.titles, cache_dir=cache_dir, model=sentence_model
        )
    if extra_features is not None:
        extra = np.asarray(extra_features, dtype=np.float32)
        if extra.ndim != 2 or extra.shape[0] != train.n_items:
            raise ConfigError(
                f"extra_features must be [n_items={train.n_items}, E], got shape {extra.shape}"
            )
        if not np.isfinite(extra).all():
            raise ConfigError("extra_features holds NaN or infinite values")
        blocks["extra"] = extra
    widths = {k: int(v.shape[1]) for k, v in blocks.items()}
    if not blocks:
        return np.zeros((train.n_items, 0), np.float32), widths
    return np.concatenate(list(blocks.values()), axis=1).astype(np.float32), widths


def sampled_softmax_loss(
    user: jax.Array,
    item: jax.Array,
    item_ids: jax.Array,
    weight: jax.Array,
    log_q: jax.Array | None,
    temperature: jax.Array | float = 1.0,
    n_negatives: int | None = None,
) -> jax.Array:
    """In-batch sampled softmax with the sampling-bias (log Q) correction of Yi et al. 2019.

    Row ``b`` is a (user, positive item) pair; the positives of the other rows are its
    negatives (all of them, or the first ``n_negatives`` rows of the batch, which the loop
    shuffles, so they are a sample of the training interactions too). Logits are
    ``<user_b, item_c> / temperature - log q_c``, where ``q_c`` is the probability that item
    ``c`` is drawn as an in-batch negative (proportional to its training interactions), so that
    popular items are not over-penalised for being sampled often. A negative holding the row's
    own positive item, and padding rows, are left out.

    Args:
        user: ``[B, d]`` float32 user vectors.
        item: ``[B, d]`` float32 vectors of the positive items.
        item_ids: ``[B]`` int32 positive item indices (to find repeated items).
        weight: ``[B]`` float32 row weights (0 for padding rows).
        log_q: ``[B]`` float32 log sampling probability of each positive (up to a constant), or
            ``None`` for no correction.
        temperature: softmax temperature (``> 0``).
        n_negatives: number ``M`` of shared negatives (static); ``None``: the whole batch. The
            cost is ``O(B M d)``.

    Returns:
        Scalar float32: weighted mean over rows of ``-log softmax`` of the positive among
        ``1 + M`` logits.
    """
    m = item_ids.shape[0] if n_negatives is None else min(int(n_negatives), item_ids.shape[0])
    correction = jnp.zeros_like(weight) if log_q is None else log_q
    pos = jnp.sum(user * item, axis=-1) / temperature - correction
    neg = (user @ item[:m].T) / temperature - correction[None, :m]
    drop = (item_ids[:, None] == item_ids[None, :m]) | (weight[None, :m] <= 0)
    neg = jnp.where(drop, -jnp.inf, neg)  # the positive column keeps every row finite
    per_row = jax.nn.logsumexp(jnp.concatenate([pos[:, None], neg], axis=1), axis=-1) - pos
    return jnp.sum(weight * per_row) / jnp.maximum(jnp.sum(weight), 1.0)


def _dropout(x: jax.Array, rate: jax.Array, key: jax.Array | None) -> jax.Array:
    """Inverted dropout with an array ``rate`` (no recompile per value); identity without key."""
    if key is None:
        return x
    keep = 1.0 - rate
    mask = jax.random.bernoulli(key, keep, x.shape)
    return jnp.where(mask, x / jnp.maximum(keep, 1e-6), 0.0)


class _MLP(nnx.Module):
    """``Linear -> ReLU -> ... -> Linear``, dropout on the input of every layer."""

    def __init__(self, sizes: Sequence[int], *, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(sizes)])

    def __call__(self, x: jax.Array, rate: jax.Array, key: jax.Array | None) -> jax.Array:
        keys = [None] * len(self.layers) if key is None else jax.random.split(key, len(self.layers))
        for j, layer in enumerate(self.layers):
            x = layer(_dropout(x, rate, keys[j]))
            if j < len(self.layers) - 1:
                x = jax.nn.relu(x)
        return x


class TwoTower(Recommender):
    """Content-aware two-tower model (see the module docstring).

    Loss (``loss=``):
        ``"softmax"`` (default): in-batch sampled softmax with log Q correction
        (:func:`sampled_softmax_loss`; Yi et al. 2019). Negatives are the other positives of the
        batch, so they are always items seen in training; the batch's uniform ``neg`` items are
        not used. ``"bpr"``: BPR on the batch's ``(user, pos, neg)`` triples (Rendle et al.
        2009), as :class:`~moorec.models.BPRMF`.

    Hyperparameters read from ``hparams`` (arrays: new values do not recompile):
        ``l2`` (default 0): weight of ``0.5 * (|f(u)|^2 + |g(i)|^2 [+ |g(j)|^2])`` averaged
        over the batch, BPR-MF's penalty applied to the tower outputs. ``dropout`` (default
        0.3): drop rate in ``[0, 1)`` of the inputs of every tower layer during training (none
        at scoring). ``id_dropout`` (default 0.5): probability in ``[0, 1]`` that an item's ID
        embedding is dropped for a training row (DropoutNet), so that the content path alone
        ranks well. ``temperature`` (default 1): softmax (or BPR) temperature; with
        ``normalize=True`` scores are cosines in ``[-1, 1]`` and a value near 0.1 is needed.

    Args:
        n_users: number of users.
        n_items: number of items.
        train: training interactions; its ``item_features`` (over the whole item index space)
            give the content features, and its items tell which ID rows are ever trained.
        dim: size of the tower outputs.
        hidden: widths of the hidden layers of both towers (an int for one layer; ``()``:
            linear towers).
        item_id: add an item ID embedding to the item tower (used for items seen in training
            only).
        genres: feed the category multi-hot rows to the item tower (``None``: when the data
            has categories).
        year: feed one-hot release-year bins (``None``: when the data has years).
        titles: title features: ``"tfidf"``, ``"sentence"`` (needs ``moorec[text]``),
            ``"both"``, ``"none"`` or ``None`` (``"tfidf"`` when the data has titles).
        title_dim: columns of the TF-IDF-SVD title features.
        title_min_df: minimum number of titles a term must occur in.
        n_year_bins: number of release-year bins.
        sentence_model: sentence-embedding model of ``titles="sentence"``.
        cache_dir: cache folder of the sentence embeddings.
        extra_features: optional ``[n_items, E]`` extra item features.
        normalize: L2-normalise both tower outputs (cosine scores).
        loss: ``"softmax"`` or ``"bpr"``.
        logq: apply the log Q correction in the softmax loss.
        negatives: shared in-batch negatives per step of the softmax loss (the first rows of
            the shuffled batch); ``None``: the whole batch (cost ``O(B^2 d)`` per step).
        rngs: Flax random streams (``params`` is used).

    Raises:
        ConfigError: for a bad setting, or ``train`` missing or not matching the index spaces.
        DataError: if requested features are not in the data.

    Example:
        >>> import moorec as mr
        >>> data = mr.datasets.synthetic_shop(n_users=50, n_items=40, n_interactions=500, seed=0)
        >>> split = mr.split.random_ratio(data, seed=0)
        >>> m = TwoTower(
        ...     split.n_users, split.n_items, train=split.train, rngs=nnx.Rngs(params=0)
        ... )
        >>> m.score(jnp.arange(3)).shape[0]
        3
    """

    sampler = "pairs"
    hparam_names = ("l2", "dropout", "id_dropout", "temperature")
    hparam_defaults: ClassVar[dict[str, float]] = {
        "l2": 0.0,
        "dropout": 0.3,
        "id_dropout": 0.5,
        "temperature": 1.0,
    }

    def __init__(
        self,
        n_users: int,
        n_items: int,
        *,
        train: Interactions | None = None,
        dim: int = 64,
        hidden: Sequence[int] = (128,),
        item_id: bool = True,
        genres: bool | None = None,
        year: bool | None = None,
        titles: str | None = None,
        title_dim: int = 16,
        title_min_df: int | float = 2,
        n_year_bins: int = 8,
        sentence_model: str = "all-MiniLM-L6-v2",
        cache_dir: str | os.PathLike | None = None,
        extra_features: np.ndarray | None = None,
        normalize: bool = False,
        loss: str = "softmax",
        logq: bool = True,
        negatives: int | None = 256,
        rngs: nnx.Rngs,
    ):
        if not isinstance(train, Interactions):
            raise ConfigError(
                "TwoTower needs the training interactions for its item features: "
                f"TwoTower(n_users, n_items, train=split.train, ...), got train={train!r:.60}"
            )
        if (train.n_users, train.n_items) != (int(n_users), int(n_items)):
            raise ConfigError(
                f"train covers {train.n_users} users x {train.n_items} items, the model is built "
                f"for {n_users} x {n_items}"
            )
        check_choice("two-tower loss", loss, LOSSES)
        if isinstance(hidden, int | np.integer):
            hidden = (int(hidden),)
        hidden = tuple(check_positive_int("hidden layer width", h) for h in hidden)
        self.n_users = int(n_users)
        self.n_items = int(n_items)
        self.dim = check_positive_int("dim", dim)
        self.hidden = hidden
        self.item_id = bool(item_id)
        self.normalize = bool(normalize)
        self.loss_name = loss
        self.logq = bool(logq)
        self.negatives = None if negatives is None else check_positive_int("negatives", negatives)

        content, widths = item_content_features(
            train,
            genres=genres,
            year=year,
            titles=titles,
            title_dim=title_dim,
            title_min_df=title_min_df,
            n_year_bins=n_year_bins,
            sentence_model=sentence_model,
            cache_dir=cache_dir,
            extra_features=extra_features,
        )
        if content.shape[1] == 0 and not self.item_id:
            raise ConfigError(
                "the item tower has no input (no genres, year, titles or extra_features) and "
                "item_id=False; enable at least one"
            )
        self.feature_widths = tuple(widths.items())
        seen = train.item_counts() > 0
        self.content = ItemContent(jnp.asarray(content))
        self.id_gate = ItemContent(jnp.asarray(seen.astype(np.float32)))

        init = jax.nn.initializers.xavier_normal()
        self.user_emb = nnx.Param(init(rngs.params(), (self.n_users, self.dim), jnp.float32))
        self.user_tower = _MLP((self.dim, *hidden, self.dim), rngs=rngs) if hidden else None
        self.item_tower = (
            _MLP((content.shape[1], *hidden, self.dim), rngs=rngs) if content.shape[1] else None
        )
        self.item_emb = (
            nnx.Param(init(rngs.params(), (self.n_items, self.dim), jnp.float32))
            if self.item_id
            else None
        )

    # ------------------------------------------------------------------ towers
    def user_vectors(
        self, users: jax.Array, rate: jax.Array | float = 0.0, key: jax.Array | None = None
    ) -> jax.Array:
        """``[B]`` int32 users -> ``[B, dim]`` float32 user-tower outputs (dropout with ``key``)."""
        x = self.user_emb[...][users]
        if self.user_tower is not None:
            x = self.user_tower(x, jnp.asarray(rate, jnp.float32), key)
        return _unit(x) if self.normalize else x

    def item_vectors(
        self,
        items: jax.Array | None = None,
        rate: jax.Array | float = 0.0,
        id_rate: jax.Array | float = 0.0,
        key: jax.Array | None = None,
    ) -> jax.Array:
        """Item-tower outputs.

        Args:
            items: ``[M]`` int32 items, or ``None`` for the whole catalogue.
            rate: dropout rate of the tower's layers (training only: used with ``key``).
            id_rate: probability of dropping an item's ID embedding (training only).
            key: PRNG key of the dropout; ``None`` at scoring time (deterministic).

        Returns:
            ``[M, dim]`` float32 (``[n_items, dim]`` for ``items=None``).
        """
        k_mlp, k_id = (None, None) if key is None else tuple(jax.random.split(key))
        take = (lambda a: a) if items is None else (lambda a: a[items])
        out = 0.0
        if self.item_tower is not None:
            out = self.item_tower(take(self.content[...]), jnp.asarray(rate, jnp.float32), k_mlp)
        if self.item_emb is not None:
            gate = take(self.id_gate[...])
            if k_id is not None:
                gate = gate * jax.random.bernoulli(k_id, 1.0 - id_rate, gate.shape)
            out = out + gate[:, None] * take(self.item_emb[...])
        return _unit(out) if self.normalize else out

    # ------------------------------------------------------------------ Recommender
    def score(self, users: jax.Array, history: jax.Array | None = None) -> jax.Array:
        """``[B]`` user indices -> ``[B, n_items]`` scores ``<f(u), g(i)>``.

        Every item vector is computed once per call, then one ``[B, dim] x [dim, n_items]``
        product. ``history`` is not used.
        """
        return self.user_vectors(users) @ self.item_vectors().T

    def loss(self, batch: Mapping[str, jax.Array], hparams: Mapping[str, jax.Array]) -> jax.Array:
        """Sampled softmax or BPR loss plus L2 on the tower outputs (see class docstring)."""
        k_user, k_item = jax.random.split(batch["rng"])
        rate = hparams["dropout"]
        w = batch["weight"]
        u = self.user_vectors(batch["user"], rate, k_user)
        if self.loss_name == "softmax":
            pos = batch["pos"]
            v = self.item_vectors(pos, rate, hparams["id_dropout"], k_item)
            log_q = jnp.log(jnp.maximum(batch["pos_pop"], 1e-12)) if self.logq else None
            main = sampled_softmax_loss(u, v, pos, w, log_q, hparams["temperature"], self.negatives)
            reg = 0.5 * jnp.sum(u**2 + v**2, axis=-1)
        else:
            n = batch["pos"].shape[0]
            items = jnp.concatenate([batch["pos"], batch["neg"]])
            v = self.item_vectors(items, rate, hparams["id_dropout"], k_item)
            vp, vn = v[:n], v[n:]
            s_pos = jnp.sum(u * vp, axis=-1) / hparams["temperature"]
            s_neg = jnp.sum(u * vn, axis=-1) / hparams["temperature"]
            main = bpr_loss(s_pos, s_neg, w)
            reg = 0.5 * jnp.sum(u**2 + vp**2 + vn**2, axis=-1)
        reg = jnp.sum(w * reg) / jnp.maximum(jnp.sum(w), 1.0)
        return main + hparams["l2"] * reg


def _unit(x: jax.Array) -> jax.Array:
    return x / jnp.sqrt(jnp.sum(x**2, axis=-1, keepdims=True) + 1e-12)
