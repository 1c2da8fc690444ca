"""Full-ranking evaluation over the whole catalogue, under jit, in user chunks.

For each evaluated user (one with at least one held-out item in the part being scored) the model
scores every item; the user's known items (training items, plus validation items when scoring
test) are set to ``-inf``; ``lax.top_k`` keeps the best ``K`` and each is checked against the
user's held-out items. Tied scores are ranked in a seeded random order of the items (one
permutation per evaluator, ``tie_seed``), not by lowest item index. Users go through in
fixed-size chunks so that memory stays bounded (``chunk_users x n_items`` scores at a time) and
every chunk reuses one compiled program.

With a re-ranker (``Evaluator(..., rerank=...)``, :class:`~moorec.rerank.Reranker`), each user's
top-``N`` candidates are ranked the same way and re-ranked into the top-``K`` the objectives
score; latency then times the model and the re-ranker together.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from moorec.data.interactions import (
    Interactions,
    csr_by_user,
    csr_entries,
    history_matrix,
    pad_width,
    padded_rows,
)
from moorec.errors import (
    ConfigError,
    DataError,
    SplitError,
    UnknownNameError,
    check_positive_int,
)
from moorec.models.base import Recommender, count_params
from moorec.objectives.base import Latency, Objective, RankingContext, _PerUser, parse_all
from moorec.objectives.latency import measure_latency, recommend_cost, tie_order
from moorec.rerank.stage import Reranker, RerankInputs, as_reranker, check_weights

__all__ = [
    "Evaluator",
    "candidates_chunk",
    "candidates_chunk_population",
    "evaluate",
    "rank_chunk",
    "rank_chunk_population",
]

PARTS = ("valid", "test")
DEFAULT_OBJECTIVES = (
    "recall@10", "ndcg@10", "hit@10", "precision@10", "mrr@10", "map@10",
    "ild@10", "category_coverage@10", "coverage@10", "novelty@10", "gini@10",
    "latency_ms", "params",
)  # fmt: skip


def flat_exclusions(
    indptr: np.ndarray, indices: np.ndarray, users: np.ndarray, n_items: int, width: int
) -> np.ndarray:
    """The known items of a chunk of users as flat positions in its ``[C, n_items]`` scores.

    One 1-D scatter of the real entries masks them: a ``[C, W]`` table padded to the longest
    row would scatter ``C * W`` indices (on ml-100k, 965,632 for 80,808 known items).

    Args:
        indptr: ``[n_users + 1]`` CSR offsets of the known items (:func:`csr_by_user`).
        indices: ``[nnz]`` their item indices.
        users: ``[C]`` the chunk's users (row ``r`` of its scores is ``users[r]``).
        n_items: catalogue size.
        width: length of the result (at least the chunk's number of known items).

    Returns:
        ``[width]`` int32 ``r * n_items + item``, padded with ``C * n_items`` (out of range,
        so the scatter drops it).

    Raises:
        ConfigError: if ``C * n_items`` does not fit in int32 (a chunk of 8 GiB of scores).
    """
    c = len(users)
    if c * n_items >= 2**31:
        raise ConfigError(
            f"a chunk of {c} users x {n_items} items has 2**31 scores or more; give a smaller "
            "chunk_users or memory_mb"
        )
    rows, _, items = csr_entries(indptr, indices, users)
    out = np.full(width, c * n_items, dtype=np.int32)
    out[: len(rows)] = rows * n_items + items
    return out


def _masked_scores(model, users, exclude, history, allowed, order=None):
    """``[C, n_items]`` scores with known and disallowed items at ``-inf``.

    With a tie ``order`` the columns are in that order (``Recommender.score_in_order``: a model
    may permute an item table instead of the scores), and so are the masks.
    """
    if order is None:
        scores = model.score(users) if history is None else model.score(users, history)
    else:
        scores = model.score_in_order(users, order, history)
        n = scores.shape[1]
        column = jnp.zeros(n, jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))
        row, item = exclude // n, exclude % n  # padding (C * n) stays out of range
        exclude = row * n + column[item]
        allowed = None if allowed is None else allowed[order]
    shape = scores.shape
    scores = scores.reshape(-1).at[exclude].set(-jnp.inf, mode="drop").reshape(shape)
    if allowed is not None:
        scores = jnp.where(allowed[None, :], scores, -jnp.inf)
    return scores


def _ordered_top_k(scores, k, order):
    """``lax.top_k`` of scores whose columns are in ``order`` (or item order for ``None``)."""
    values, j = jax.lax.top_k(scores, k)
    items = j if order is None else order[j]
    return values, items.astype(jnp.int32)


def _rank(model, users, exclude, relevant, history, allowed, order, k):
    scores = _masked_scores(model, users, exclude, history, allowed, order)
    _, topk = _ordered_top_k(scores, k, order)
    hits = jnp.any(topk[:, :, None] == relevant[:, None, :], axis=-1)
    return topk, hits


@functools.partial(jax.jit, static_argnames=("graphdef", "k"))
def rank_chunk(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    users: jax.Array,
    exclude: jax.Array,
    relevant: jax.Array,
    history: jax.Array | None = None,
    allowed: jax.Array | None = None,
    order: jax.Array | None = None,
    *,
    k: int,
) -> tuple[jax.Array, jax.Array]:
    """Top-``k`` items and their hits for one chunk of users.

    Args:
        graphdef: the model's static structure.
        state: the model's state.
        users: ``[C]`` int32 users.
        exclude: ``[E]`` int32 known items to rank last, as flat positions
            ``row * n_items + item`` padded with ``C * n_items`` (:func:`flat_exclusions`).
        relevant: ``[C, R]`` int32 held-out items, padded with ``-1``.
        history: ``[C, L]`` int32 recent known items (sequential models), or ``None``.
        allowed: ``[n_items]`` bool candidate items (others are never ranked), or ``None``.
        order: ``[n_items]`` int32 order in which tied items rank
            (:func:`~moorec.objectives.latency.tie_order`), or ``None`` for index order.
        k: list length.

    Returns:
        ``(topk, hits)``: ``[C, k]`` int32 items best first, ``[C, k]`` bool.
    """
    model = nnx.merge(graphdef, state)
    return _rank(model, users, exclude, relevant, history, allowed, order, k)


@functools.partial(jax.jit, static_argnames=("graphdef", "k", "rest_axis"))
def rank_chunk_population(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    rest: nnx.State,
    users: jax.Array,
    exclude: jax.Array,
    relevant: jax.Array,
    history: jax.Array | None = None,
    allowed: jax.Array | None = None,
    order: jax.Array | None = None,
    *,
    k: int,
    rest_axis: int | None = 0,
) -> tuple[jax.Array, jax.Array]:
    """:func:`rank_chunk` for ``P`` models of one structure at once (``jax.vmap``).

    Args:
        graphdef: the models' shared structure (``nnx.split(model, nnx.Param, ...)``).
        params: every model's ``nnx.Param`` state stacked on a leading ``[P]`` axis.
        rest: the rest of the state, stacked (``rest_axis=0``) or shared (``None``).
        users: ``[C]`` int32 users.
        exclude: ``[E]`` flat known items (as in :func:`rank_chunk`).
        relevant: ``[C, R]`` held-out items.
        history: ``[C, L]`` recent items or ``None``.
        allowed: ``[n_items]`` bool or ``None``.
        order: ``[n_items]`` int32 order of tied items, or ``None`` (as in :func:`rank_chunk`).
        k: list length.
        rest_axis: ``0`` or ``None``.

    Returns:
        ``(topk, hits)``: ``[P, C, k]`` int32 and ``[P, C, k]`` bool.
    """

    def one(p, r):
        model = nnx.merge(graphdef, p, r)
        return _rank(model, users, exclude, relevant, history, allowed, order, k)

    return jax.vmap(one, in_axes=(0, rest_axis))(params, rest)


def _candidates(model, users, exclude, history, allowed, order, n):
    scores = _masked_scores(model, users, exclude, history, allowed, order)
    values, items = _ordered_top_k(scores, n, order)
    return items, values


@functools.partial(jax.jit, static_argnames=("graphdef", "n"))
def candidates_chunk(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    users: jax.Array,
    exclude: jax.Array,
    history: jax.Array | None = None,
    allowed: jax.Array | None = None,
    order: jax.Array | None = None,
    *,
    n: int,
) -> tuple[jax.Array, jax.Array]:
    """Top-``n`` candidate items and their scores for one chunk of users.

    The same scores, exclusion and tie order as :func:`rank_chunk`, so the first ``K``
    candidates are :func:`rank_chunk`'s top-``K``.

    Args:
        graphdef: the model's static structure.
        state: the model's state.
        users: ``[C]`` int32 users.
        exclude: ``[E]`` int32 flat known items (as in :func:`rank_chunk`).
        history: ``[C, L]`` int32 recent known items (sequential models), or ``None``.
        allowed: ``[n_items]`` bool candidate items, or ``None``.
        order: ``[n_items]`` int32 order of tied items, or ``None`` for index order.
        n: candidates per user.

    Returns:
        ``(items, scores)``: ``[C, n]`` int32 best first, ``[C, n]`` float32 (``-inf`` for
        excluded items, which come last).
    """
    model = nnx.merge(graphdef, state)
    return _candidates(model, users, exclude, history, allowed, order, n)


@functools.partial(jax.jit, static_argnames=("graphdef", "n", "rest_axis"))
def candidates_chunk_population(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    rest: nnx.State,
    users: jax.Array,
    exclude: jax.Array,
    history: jax.Array | None = None,
    allowed: jax.Array | None = None,
    order: jax.Array | None = None,
    *,
    n: int,
    rest_axis: int | None = 0,
) -> tuple[jax.Array, jax.Array]:
    """:func:`candidates_chunk` for ``P`` models of one structure at once (``jax.vmap``).

    Args:
        graphdef: the models' shared structure.
        params: every model's ``nnx.Param`` state stacked on a leading ``[P]`` axis.
        rest: the rest of the state, stacked (``rest_axis=0``) or shared (``None``).
        users: ``[C]`` int32 users.
        exclude: ``[E]`` flat known items (as in :func:`rank_chunk`).
        history: ``[C, L]`` recent items or ``None``.
        allowed: ``[n_items]`` bool or ``None``.
        order: ``[n_items]`` int32 order of tied items, or ``None``.
        n: candidates per user.
        rest_axis: ``0`` or ``None``.

    Returns:
        ``(items, scores)``: ``[P, C, n]`` int32 and ``[P, C, n]`` float32.
    """

    def one(p, r):
        model = nnx.merge(graphdef, p, r)
        return _candidates(model, users, exclude, history, allowed, order, n)

    return jax.vmap(one, in_axes=(0, rest_axis))(params, rest)


@dataclasses.dataclass(frozen=True, eq=False)
class _Chunk:
    users: jax.Array
    exclude: jax.Array
    relevant: jax.Array
    n_real: int


class Evaluator:
    """Scores models on one part of a split with a fixed list of objectives.

    The chunks (users, known items to exclude, held-out items) are prepared once on the device,
    so evaluating many models or many epochs costs only the ranking itself.

    Args:
        split: a :class:`~moorec.split.Split` (``train``, ``valid``, ``test`` and ``known``).
        part: ``"valid"`` or ``"test"``.
        objectives: objective keys (``"ndcg@10"``) or :class:`Objective` instances.
        chunk_users: users per chunk; by default as many as keep one chunk's scores within
            ``memory_mb``.
        memory_mb: budget for one chunk's ``[chunk_users, n_items]`` float32 scores.
        latency_batch: users per ``recommend`` call when timing latency, unless a
            :class:`~moorec.objectives.Latency` objective sets its own ``batch``.
        latency_repeats: timed calls (after warm-up) for the latency median and p95.
        candidates: ``[m]`` item indices that may be ranked (e.g. the cold items of a
            cold-start split); all items by default.
        tie_seed: seed of the order in which items with equal scores rank: one seeded
            permutation of the catalogue (``np.random.default_rng(tie_seed)``) for the whole
            evaluation, of every model and every user. ``None``: lowest item index first
            (``lax.top_k``'s rule, which favours low indices wherever scores tie). Scores
            without ties rank the same whatever the seed.
        rerank: the default re-ranker of this evaluator (a :class:`~moorec.rerank.Reranker`,
            a method name or a mapping of its settings; see
            :func:`~moorec.rerank.as_reranker`): calling the evaluator then scores each
            user's top-``N`` candidates re-ranked into the top-``K``, and latency times the
            model and the re-ranker together. ``None`` or method ``"none"``: no re-ranking
            (the evaluator behaves exactly as without one). :meth:`rank`, :meth:`context`,
            :meth:`rank_population` and :meth:`metric` never re-rank.

    Attributes:
        tie_seed: the seed given (recorded by :meth:`describe`).
        tie_order: ``[n_items]`` int32 permutation; of two tied items, the one earlier in it
            ranks first (``None`` for index order).
        rerank: the default :class:`~moorec.rerank.Reranker`, or ``None`` (also for method
            ``"none"``).

    Raises:
        UnknownNameError: for a part other than ``valid`` / ``test``, an unknown objective or
            an unknown re-ranker (method, similarity, variant or setting).
        ConfigError: for a cutoff longer than the catalogue, a non-positive ``chunk_users``,
            ``memory_mb``, ``latency_batch`` or ``latency_repeats``, a bad ``tie_seed``, or a
            re-ranker with a bad setting, fewer candidates than ``K``, or side information
            the data lacks (item categories).
        SplitError: if the part has no held-out interactions (no user to evaluate).
    """

    def __init__(
        self,
        split,
        part: str = "valid",
        objectives: Sequence[str | Objective] = DEFAULT_OBJECTIVES,
        *,
        chunk_users: int | None = None,
        memory_mb: float = 256.0,
        latency_batch: int = 256,
        latency_repeats: int = 30,
        candidates: np.ndarray | None = None,
        tie_seed: int | None = 0,
        rerank=None,
    ):
        reranker = as_reranker(rerank)
        if part not in PARTS:
            raise UnknownNameError("split part", part, PARTS)
        self.part = part
        self.objectives: list[Objective] = parse_all(objectives)
        ks = [o.k for o in self.objectives if o.k is not None]
        self.k = max(ks) if ks else 10
        if chunk_users is not None:
            chunk_users = check_positive_int("chunk_users", chunk_users)
        if (
            isinstance(memory_mb, bool)
            or not isinstance(memory_mb, int | float)
            or not (memory_mb > 0)
        ):
            raise ConfigError(f"memory_mb must be a number > 0, got {memory_mb!r}")
        latency_batch = check_positive_int("latency_batch", latency_batch)
        latency_repeats = check_positive_int("latency_repeats", latency_repeats)
        target: Interactions = getattr(split, part)
        known: Interactions = split.known(part)
        train: Interactions = split.train
        self.n_users, self.n_items = train.n_users, train.n_items
        if self.k > self.n_items:
            longest = max(self.objectives, key=lambda o: o.k or 0).key
            raise ConfigError(
                f"cutoff k={self.k} of {longest!r} is longer than the catalogue of "
                f"{self.n_items} items; use k <= {self.n_items}"
            )
        self.tie_seed = tie_seed
        self.tie_order = tie_order(self.n_items, tie_seed)
        self._order = None if self.tie_order is None else jnp.asarray(self.tie_order)
        n_per_user = np.bincount(target.users, minlength=self.n_users)
        self.users = np.flatnonzero(n_per_user > 0).astype(np.int32)
        if len(self.users) == 0:
            raise SplitError(
                f"split part {part!r} is empty: no user has a held-out interaction in it "
                f"({len(target.users)} interactions), so there is nothing to evaluate; give "
                "the split a share for this part (e.g. ratios=(0.8, 0.1, 0.1)) or evaluate "
                "another part"
            )
        self.n_relevant = n_per_user[self.users].astype(np.int32)
        if chunk_users is None:
            chunk_users = int(memory_mb * 2**20 // (4 * max(self.n_items, 1)))
        self.chunk_users = max(1, min(int(chunk_users), max(len(self.users), 1)))
        feats = train.item_features
        self.item_categories = None if feats is None else feats.categories
        self.item_popularity = train.item_counts()
        if self.item_categories is None or self.item_categories.shape[1] == 0:
            need = [o.key for o in self.objectives if "item_categories" in o.requires]
            if need:
                raise DataError(
                    f"objectives {need} need item categories, and data set {train.name!r} "
                    "has none; drop them or load a data set with categories/genres"
                )
        latency = [o for o in self.objectives if isinstance(o, Latency)]
        self.latency_batch = latency[0].batch if latency else latency_batch
        self.latency_repeats = latency_repeats
        self._known = known
        self._known_csr = csr_by_user(known)
        self._chunks = self._prepare(csr_by_user(target), self._known_csr)
        self._histories: dict[int, list[jax.Array]] = {}
        self.allowed = None
        if candidates is not None:
            cand = np.asarray(candidates, dtype=np.int64)
            if cand.size == 0 or cand.min() < 0 or cand.max() >= self.n_items:
                raise ConfigError(
                    f"candidates must be a non-empty list of item indices in [0, {self.n_items})"
                )
            allowed = np.zeros(self.n_items, dtype=bool)
            allowed[cand] = True
            self.allowed = jnp.asarray(allowed)
        self._target = target
        self._hit_keys: np.ndarray | None = None
        self._rerank_inputs: dict[tuple, RerankInputs] = {}
        self.rerank: Reranker | None = None
        self.rerank = self._reranker(reranker)
        if self.rerank is not None:
            self._inputs(self.rerank)  # built once, and refused now if the data lacks them

    def _prepare(self, target_csr, known_csr) -> list[_Chunk]:
        t_ptr, t_idx = target_csr
        k_ptr, k_idx = known_csr
        c = self.chunk_users
        n = len(self.users)
        n_pad = -(-n // c) * c
        users = np.concatenate(
            [self.users, np.full(n_pad - n, self.users[0] if n else 0, dtype=np.int32)]
        )
        # One width for all chunks: every chunk runs the same compiled program.
        known_counts = k_ptr[users + 1] - k_ptr[users]
        per_chunk = np.add.reduceat(known_counts, np.arange(0, n_pad, c)) if n_pad else [0]
        w_ex = pad_width(int(np.max(per_chunk)))
        w_rel = pad_width(int(np.max(t_ptr[users + 1] - t_ptr[users], initial=0)))
        chunks = []
        for start in range(0, n_pad, c):
            u = users[start : start + c]
            chunks.append(
                _Chunk(
                    users=jnp.asarray(u),
                    exclude=jnp.asarray(flat_exclusions(k_ptr, k_idx, u, self.n_items, w_ex)),
                    relevant=jnp.asarray(padded_rows(t_ptr, t_idx, u, -1, w_rel)),
                    n_real=min(c, n - start),
                )
            )
        return chunks

    def _history(self, length: int) -> list[jax.Array]:
        """Per chunk, ``[C, length]`` recent known items of its users (built once per length)."""
        if length not in self._histories:
            self._histories[length] = [
                jnp.asarray(history_matrix(self._known, np.asarray(ch.users), length))
                for ch in self._chunks
            ]
        return self._histories[length]

    def _histories_for(self, model: Recommender) -> list[jax.Array | None]:
        """Per chunk, the recent items ``model`` reads (``None`` for a non-sequential model)."""
        if model.uses_history:
            return self._history(int(model.max_len))
        return [None] * len(self._chunks)

    def rank(self, model: Recommender) -> tuple[np.ndarray, np.ndarray]:
        """Top-``K`` lists and hits of every evaluated user.

        Returns:
            ``(topk, hits)``: ``[U, K]`` int32 and ``[U, K]`` bool, rows in ``self.users`` order.
        """
        graphdef, state = nnx.split(model)
        histories = self._histories_for(model)
        tops, hits = [], []
        for ch, hist in zip(self._chunks, histories, strict=True):
            t, h = rank_chunk(
                graphdef, state, ch.users, ch.exclude, ch.relevant, hist, self.allowed,
                self._order, k=self.k,
            )  # fmt: skip
            tops.append(t[: ch.n_real])
            hits.append(h[: ch.n_real])
        if len(tops) == 1:
            return np.asarray(tops[0]), np.asarray(hits[0])
        return np.concatenate([np.asarray(t) for t in tops]), np.concatenate(
            [np.asarray(h) for h in hits]
        )

    def candidates(self, model: Recommender, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Each evaluated user's top-``n`` items and scores, known items excluded.

        Ranked as :meth:`rank` ranks (the same scores, exclusion, candidate items and tie
        order), so the first ``K`` columns are :meth:`rank`'s lists.

        Args:
            model: the model.
            n: candidates per user, ``1 <= n <= n_items``.

        Returns:
            ``(items, scores)``: ``[U, n]`` int32 best first and ``[U, n]`` float32 model
            scores (``-inf`` for items that cannot be ranked, last), rows in ``self.users``
            order.

        Raises:
            ConfigError: for ``n`` not in ``[1, n_items]``.
        """
        n = self._check_n(n)
        graphdef, state = nnx.split(model)
        histories = self._histories_for(model)
        items, scores = [], []
        for ch, hist in zip(self._chunks, histories, strict=True):
            it, sc = candidates_chunk(
                graphdef, state, ch.users, ch.exclude, hist, self.allowed, self._order, n=n
            )
            items.append(np.asarray(it[: ch.n_real]))
            scores.append(np.asarray(sc[: ch.n_real]))
        return np.concatenate(items), np.concatenate(scores)

    def candidates_population(
        self,
        graphdef: nnx.GraphDef,
        params: nnx.State,
        rest: nnx.State,
        n: int,
        *,
        rest_axis: int | None = 0,
        group: int | None = None,
        like: Recommender | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`candidates` of ``P`` models of one structure, ranked together.

        As :meth:`rank_population`: each chunk of users is ranked for ``group`` models at a
        time in one vmapped program (:func:`candidates_chunk_population`).

        Args:
            graphdef: the models' structure (``nnx.split(model, nnx.Param, ...)``).
            params: ``[P, ...]`` stacked parameters.
            rest: the rest of the state, stacked or shared (see ``rest_axis``).
            n: candidates per user, ``1 <= n <= n_items``.
            rest_axis: ``0`` if ``rest`` is stacked, ``None`` if shared.
            group: models per program (default: all ``P``).
            like: one model of this structure (sequential ones read each user's history);
                ``None``: no history.

        Returns:
            ``(items, scores)``: ``[P, U, n]`` int32 and ``[P, U, n]`` float32.
        """
        n = self._check_n(n)

        def program(p, r, ch, hist):
            return candidates_chunk_population(
                graphdef, p, r, ch.users, ch.exclude, hist, self.allowed, self._order,
                n=n, rest_axis=rest_axis,
            )  # fmt: skip

        return self._over_population(program, params, rest, rest_axis, group, like)

    def _check_n(self, n) -> int:
        n = check_positive_int("candidates n", n)
        if n > self.n_items:
            raise ConfigError(
                f"candidates n={n} is more than the catalogue of {self.n_items} items; use "
                f"n <= {self.n_items}"
            )
        return n

    def rank_population(
        self,
        graphdef: nnx.GraphDef,
        params: nnx.State,
        rest: nnx.State,
        *,
        rest_axis: int | None = 0,
        group: int | None = None,
        like: Recommender | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``K`` lists and hits of ``P`` models of one structure, ranked together.

        Each chunk of users is ranked for ``group`` models at a time in one vmapped program
        (:func:`rank_chunk_population`), so memory stays within ``group x chunk_users x
        n_items`` scores.

        Args:
            graphdef: the models' structure (``nnx.split(model, nnx.Param, ...)``).
            params: ``[P, ...]`` stacked parameters.
            rest: the rest of the state, stacked or shared (see ``rest_axis``).
            rest_axis: ``0`` if ``rest`` is stacked, ``None`` if shared.
            group: models per program (default: all ``P``).
            like: one model of this structure; a sequential one (``uses_history``) gets
                each user's last ``max_len`` known items. ``None``: no history.

        Returns:
            ``(topk, hits)``: ``[P, U, K]`` int32 and ``[P, U, K]`` bool.
        """

        def program(p, r, ch, hist):
            return rank_chunk_population(
                graphdef, p, r, ch.users, ch.exclude, ch.relevant, hist, self.allowed,
                self._order, k=self.k, rest_axis=rest_axis,
            )  # fmt: skip

        return self._over_population(program, params, rest, rest_axis, group, like)

    def _over_population(self, program, params, rest, rest_axis, group, like):
        """Run a vmapped chunk program over the population, ``group`` models at a time.

        ``program(params, rest, chunk, history) -> (a, b)`` gives ``[G, C, ...]`` arrays for
        one group of models and one chunk of users; the result is ``(a, b)`` as
        ``[P, U, ...]`` arrays, rows in ``self.users`` order.
        """
        n = jax.tree.leaves(params)[0].shape[0]
        group = n if group is None else max(1, min(int(group), n))
        histories = [None] * len(self._chunks) if like is None else self._histories_for(like)
        firsts, seconds = [], []
        for start in range(0, n, group):
            sl = slice(start, min(start + group, n))
            p = jax.tree.map(lambda x, sl=sl: x[sl], params)
            r = rest if rest_axis is None else jax.tree.map(lambda x, sl=sl: x[sl], rest)
            a_g, b_g = [], []
            for ch, hist in zip(self._chunks, histories, strict=True):
                a, b = program(p, r, ch, hist)
                a_g.append(np.asarray(a[:, : ch.n_real]))
                b_g.append(np.asarray(b[:, : ch.n_real]))
            firsts.append(np.concatenate(a_g, axis=1))
            seconds.append(np.concatenate(b_g, axis=1))
        return np.concatenate(firsts), np.concatenate(seconds)

    def describe(self) -> dict:
        """What this evaluation is: part, objectives, cutoff, users and the tie order's seed.

        Returns:
            ``{"part", "objectives", "k", "n_users", "n_items", "tie_seed"}`` (JSON-ready),
            and ``"rerank"`` (:meth:`Reranker.settings <moorec.rerank.Reranker.settings>`)
            when the evaluator has a default re-ranker.
        """
        out = {
            "part": self.part,
            "objectives": [o.key for o in self.objectives],
            "k": self.k,
            "n_users": len(self.users),
            "n_items": self.n_items,
            "tie_seed": self.tie_seed,
        }
        if self.rerank is not None:
            out["rerank"] = self.rerank.settings()
        return out

    def context(self, model: Recommender, *, system: bool = True) -> RankingContext:
        """Rank, and measure latency and size where an objective asks for them."""
        topk, hits = self.rank(model)
        return self.context_from(topk, hits, model if system else None)

    def context_from(
        self, topk: np.ndarray, hits: np.ndarray, model: Recommender | None = None
    ) -> RankingContext:
        """The context of given ``[U, K]`` lists and hits.

        ``model`` is timed and counted alone where an objective asks for latency or size
        (``None``: no system measures).
        """
        measured = {} if model is None else self._measure(model)
        return RankingContext(
            topk=topk,
            hits=hits,
            n_relevant=self.n_relevant,
            n_items=self.n_items,
            item_categories=self.item_categories,
            item_popularity=self.item_popularity,
            system=measured,
        )

    def _measure(self, model: Recommender, rerank: Reranker | None = None) -> dict[str, float]:
        """The system objectives of ``model`` (with ``rerank`` in the timed path)."""
        measured: dict[str, float] = {}
        keys = {o.key for o in self.objectives}
        # the same batch, exclusions and re-ranker for the timed and the counted programs
        serving = dict(
            known=self._known,
            batch=self.latency_batch,
            k=self.k,
            tie_seed=self.tie_seed,
            rerank=rerank,
            item_categories=self.item_categories,
            item_popularity=self.item_popularity,
        )
        if keys & {"latency_ms", "latency_p95_ms"}:
            lat = measure_latency(model, self._known_csr, repeats=self.latency_repeats, **serving)
            measured.update(latency_ms=lat["median_ms"], latency_p95_ms=lat["p95_ms"])
        if keys & {"flops", "bytes_accessed"}:
            cost = recommend_cost(model, self._known_csr, **serving)
            measured.update(flops=cost["flops"], bytes_accessed=cost["bytes_accessed"])
        if "params" in keys:
            measured["params"] = float(count_params(model))
        if "trainable_params" in keys:
            from moorec.models.peft import trainable_params

            measured["trainable_params"] = float(trainable_params(model))
        return measured

    def __call__(self, model: Recommender, rerank=None) -> dict[str, float]:
        """Every objective's value, keyed ``name@k`` (``latency_ms``, ``params``).

        Args:
            model: the model.
            rerank: a re-ranker for this call (a :class:`~moorec.rerank.Reranker`, a name or
                a mapping of settings); ``None`` uses the evaluator's default
                (:attr:`rerank`), ``"none"`` scores the model's own lists. With a re-ranker,
                each user's top-``N`` (:meth:`candidates`) is re-ranked into the top-``K``
                the objectives score (:meth:`values_reranked`).

        Returns:
            ``{key: value}`` in the order of the objectives.

        Raises:
            ConfigError: for a bad re-ranker (see the class), checked before any ranking.
        """
        reranker = self.rerank if rerank is None else self._reranker(as_reranker(rerank))
        if reranker is None:
            return self.values(self.context(model))
        inputs = self._inputs(reranker, model)
        items, scores = self.candidates(model, min(reranker.candidates, self.n_items))
        return self._values_reranked(items, scores, reranker, inputs, None, model, None)[0]

    def per_user(self, model: Recommender, rerank=None) -> dict[str, np.ndarray]:
        """Each evaluated user's value of every per-user objective, for paired tests.

        The lists are those :meth:`__call__` scores (the same re-ranking rule), and the mean
        of each array is the value :meth:`__call__` reports for that key. Objectives that are
        not a mean over users (coverage, Gini, latency, size) have no per-user values and are
        left out.

        Args:
            model: the model.
            rerank: as :meth:`__call__`.

        Returns:
            ``{key: [U] float64}``, row ``r`` the user ``self.users[r]``.
        """
        reranker = self.rerank if rerank is None else self._reranker(as_reranker(rerank))
        if reranker is None:
            topk, hits = self.rank(model)
        else:
            inputs = self._inputs(reranker, model)
            items, scores = self.candidates(model, min(reranker.candidates, self.n_items))
            topk = reranker.apply(np.asarray(scores, np.float32), items, inputs, None,
                                  k=self.k).items  # fmt: skip
            hits = self._hits(topk)
        ctx = self.context_from(topk, hits)
        return {
            o.key: np.asarray(o.per_user(ctx), dtype=np.float64)
            for o in self.objectives
            if isinstance(o, _PerUser)
        }

    def sweep(self, model: Recommender, rerank, weights) -> list[dict[str, float]]:
        """Every objective's value for each of ``W`` re-ranking weights.

        One candidate ranking (:meth:`candidates`), then all ``W`` weights in one re-ranking
        call (one compiled program per chunk of users) and the per-user objectives of the
        ``W`` lists in one program (:meth:`values_reranked`). System objectives are measured
        once, with the re-ranker at its own weight in the timed path, and shared by all
        weights. Each weight's lists are those of ``self(model, rerank=...)`` at that
        weight; the values agree with it to float32 rounding (see :meth:`values_reranked`).

        Args:
            model: the model.
            rerank: the re-ranker (a :class:`~moorec.rerank.Reranker`, a name or a mapping);
                ``None`` uses the evaluator's default.
            weights: ``[W]`` weights in ``[0, 1]``.

        Returns:
            One dict per weight, keyed like :meth:`__call__`.

        Raises:
            ConfigError: without a re-ranker, for ``weights`` that are not a non-empty 1-D
                sequence in ``[0, 1]``, or a bad re-ranker.
        """
        reranker = self.rerank if rerank is None else as_reranker(rerank)
        if reranker is None:
            raise ConfigError(
                "sweep needs a re-ranker: pass rerank= (e.g. 'mmr') or build the evaluator with one"
            )
        if check_weights(weights).ndim != 1:
            raise ConfigError(f"sweep weights must be a 1-D sequence, got {weights!r}")
        active = self._reranker(reranker)
        stage = reranker if active is None else active
        inputs = self._inputs(stage, model)
        n = self.k if active is None else min(stage.candidates, self.n_items)
        items, scores = self.candidates(model, n)
        return self._values_reranked(items, scores, stage, inputs, weights, model, None)

    def values_reranked(
        self,
        items: np.ndarray,
        scores: np.ndarray,
        rerank,
        weights=None,
        *,
        model: Recommender | None = None,
        system: dict[str, float] | None = None,
    ) -> list[dict[str, float]]:
        """Every objective's value for given candidates, re-ranked.

        The candidates (e.g. from :meth:`candidates` or one model's slice of
        :meth:`candidates_population`) are re-ranked into top-``K`` lists (``K`` =
        :attr:`k`) for each weight, in one re-ranking call; the lists' hits are checked
        against the held-out items and every objective is computed from the re-ranked lists.
        For a ``[W]`` sequence of weights the per-user objectives of all ``W`` lists run in
        one jitted, vmapped program (as :meth:`values_population` does for ``P`` models);
        for one weight (``weights=None``) the lists are scored exactly as :meth:`values`
        scores the model's own, so that weight 0, which keeps the model's order, gives the
        values of the evaluator without a re-ranker bit for bit. The two routes agree to
        float32 rounding (the jitted program fuses operations such as novelty's ``log2``
        differently). Latency and size are measured once on ``model``, with the re-ranker at
        its own weight in the timed path, and shared by all weights: the compiled programs'
        cost does not depend on the weights' values (they are traced arrays).

        Args:
            items: ``[U, N]`` int candidate items of the evaluated users, best first, rows
                in ``self.users`` order, known items excluded.
            scores: ``[U, N]`` float their model scores.
            rerank: the re-ranker (a :class:`~moorec.rerank.Reranker`, a name or a mapping);
                ``None`` or ``"none"``: the first ``K`` candidates.
            weights: ``None`` for the re-ranker's own weight (one dict), or a ``[W]``
                sequence (``W`` dicts).
            model: the model the candidates come from: its system objectives are measured
                (unless ``system`` gives them) and its item embeddings read for
                ``similarity="embedding"``.
            system: system objectives already measured (e.g. ``{"latency_ms": ...,
                "params": ...}``); used instead of measuring ``model``.

        Returns:
            One dict per weight, keyed like :meth:`__call__`.

        Raises:
            ConfigError: for candidates of the wrong shape or fewer than ``K`` per user, a
                bad weight or re-ranker, or ``similarity="embedding"`` without a model that
                has item embeddings.
        """
        reranker = self._reranker(as_reranker(rerank))
        stage = Reranker("none") if reranker is None else reranker
        if weights is not None:
            check_weights(weights)
        inputs = self._inputs(stage, model)
        return self._values_reranked(items, scores, stage, inputs, weights, model, system)

    def _values_reranked(self, items, scores, stage, inputs, weights, model, system):
        items, scores = np.asarray(items), np.asarray(scores, dtype=np.float32)
        u = len(self.users)
        if items.ndim != 2 or items.shape != scores.shape or items.shape[0] != u:
            raise ConfigError(
                f"candidates must be [U, N] items and scores for the U={u} evaluated users, "
                f"got shapes {items.shape} and {scores.shape}"
            )
        if items.shape[1] < self.k:
            raise ConfigError(
                f"{items.shape[1]} candidates per user are fewer than the evaluator's "
                f"k={self.k}; give at least {self.k}"
            )
        out = stage.apply(scores, items, inputs, weights, k=self.k)
        hits = self._hits(out.items)
        if system is not None:
            measured = dict(system)
        elif model is not None:
            measured = self._measure(model, stage if stage.active else None)
        else:
            measured = {}
        if out.items.ndim == 2:
            # One list per user: scored exactly as values() scores the model's own lists.
            ctx = self.context_from(out.items, hits)
            return [self.values(dataclasses.replace(ctx, system=measured))]
        return self.values_population(out.items, hits, system=[measured] * len(out.items))

    def _reranker(self, reranker: Reranker | None) -> Reranker | None:
        """``reranker`` if it re-ranks at all, checked against this evaluator."""
        if reranker is None or not reranker.active:
            return None
        if reranker.candidates < self.k:
            longest = max(self.objectives, key=lambda o: o.k or 0).key
            raise ConfigError(
                f"re-ranking candidates N={reranker.candidates} is fewer than the evaluator's "
                f"k={self.k} (cutoff of {longest!r}); use candidates >= {self.k}"
            )
        return reranker

    def _inputs(self, reranker: Reranker, model: Recommender | None = None) -> RerankInputs:
        """The side information of the evaluated users for ``reranker`` (built once)."""
        key = (reranker.method, reranker.similarity, reranker.head_share)
        if key not in self._rerank_inputs:
            self._rerank_inputs[key] = reranker.prepare(
                self._known,
                self.users,
                categories=self.item_categories,
                popularity=self.item_popularity,
            )
        inputs = self._rerank_inputs[key]
        if reranker.needs_embeddings:
            if model is None:
                raise ConfigError(
                    "similarity='embedding' reads the model's item embeddings: pass model="
                )
            inputs = reranker.with_model(inputs, model)
        return inputs

    def _hits(self, topk: np.ndarray) -> np.ndarray:
        """``[..., U, K]`` bool: whether each listed item is held out for its user."""
        if self._hit_keys is None:
            row = np.full(self.n_users, -1, dtype=np.int64)
            row[self.users] = np.arange(len(self.users))
            keys = row[self._target.users] * self.n_items + self._target.items
            self._hit_keys = np.unique(keys[row[self._target.users] >= 0])
        rows = np.arange(topk.shape[-2], dtype=np.int64)[:, None]
        keys = rows * self.n_items + np.asarray(topk, dtype=np.int64)
        return np.isin(keys, self._hit_keys)

    def values(self, ctx: RankingContext) -> dict[str, float]:
        """Every objective's value computed from ``ctx``."""
        return {o.key: float(o.compute(ctx)) for o in self.objectives}

    def _per_user_program(self):
        """One jitted program giving every per-user objective of ``P`` rankings at once."""
        if getattr(self, "_population_fn", None) is None:
            objs = [o for o in self.objectives if isinstance(o, _PerUser)]
            fields = {
                "n_relevant": self.n_relevant,
                "n_items": self.n_items,
                "item_categories": None
                if self.item_categories is None
                else np.asarray(self.item_categories, dtype=bool),
                "item_popularity": self.item_popularity,
                "system": {},
            }

            def one(topk, hits):
                # The checks of RankingContext ran on the host already (shapes are static);
                # the traced context carries the same fields.
                ctx = object.__new__(RankingContext)
                for name, value in {"topk": topk, "hits": hits, **fields}.items():
                    object.__setattr__(ctx, name, value)
                return tuple(o.per_user(ctx) for o in objs)

            self._population_fn = (objs, jax.jit(jax.vmap(one)))
        return self._population_fn

    def values_population(
        self,
        topk: np.ndarray,
        hits: np.ndarray,
        models: Sequence[Recommender | None] | None = None,
        *,
        system: Sequence[dict[str, float]] | None = None,
    ) -> list[dict[str, float]]:
        """Every objective's value for ``P`` rankings (e.g. from :meth:`rank_population`).

        Per-user objectives (accuracy, ILD, novelty, ...) are computed for all ``P`` lists in
        one jitted, vmapped program and averaged per candidate in float64, as
        :meth:`values` does; catalogue-level objectives are computed per candidate.
        Latency and size come from each candidate's own model, measured alone.

        Args:
            topk: ``[P, U, K]`` int32 lists.
            hits: ``[P, U, K]`` bool.
            models: each candidate's model, for system objectives (``None`` entries skip
                the measurement, e.g. when ``system`` gives the values).
            system: precomputed system measures per candidate (e.g. ``{"params": ...}``).

        Returns:
            One dict per candidate, keyed like :meth:`__call__`.
        """
        n = topk.shape[0]
        # One host-side check of the shapes and indices, as a context of candidate 0 does.
        self.context_from(topk[0], hits[0])
        objs, program = self._per_user_program()
        out: list[dict[str, float]] = [{} for _ in range(n)]
        if objs:
            arrays = program(jnp.asarray(topk), jnp.asarray(hits))
            for o, arr in zip(objs, arrays, strict=True):
                means = np.mean(np.asarray(arr, dtype=np.float64), axis=1)
                for i in range(n):
                    out[i][o.key] = float(means[i])
        rest = [o for o in self.objectives if o.key not in out[0]]
        given = system or [{}] * n
        for i in range(n if rest else 0):
            model = None if models is None else models[i]
            ctx = self.context_from(topk[i], hits[i], model)
            ctx = dataclasses.replace(ctx, system={**ctx.system, **given[i]})
            for o in rest:
                out[i][o.key] = float(o.compute(ctx))
        return [{o.key: d[o.key] for o in self.objectives} for d in out]

    def metric(self, key: str):
        """A function ``model -> float`` computing one objective (for early stopping)."""
        (obj,) = parse_all([key])
        if obj.kind == "system":
            raise ConfigError(f"{key!r} cannot drive early stopping; use a ranking objective")

        def value(model: Recommender) -> float:
            return float(obj.compute(self.context(model, system=False)))

        value.__name__ = obj.key
        return value


def evaluate(
    model: Recommender,
    split,
    part: str = "test",
    objectives: Sequence[str | Objective] = DEFAULT_OBJECTIVES,
    **kwargs,
) -> dict:
    """Evaluate ``model`` on ``split``'s ``part`` (see :class:`Evaluator`)."""
    return Evaluator(split, part, objectives, **kwargs)(model)
