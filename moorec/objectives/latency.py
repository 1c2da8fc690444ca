"""Serving cost: a jitted ``recommend(user_ids, k)`` and its measured latency.

With a re-ranker (:class:`~moorec.rerank.Reranker`), serving is the model's jitted top-``N``
followed by the jitted re-ranking of those candidates into the top-``k``; both
:func:`recommend` and :func:`measure_latency` then run (and time) the two together.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from moorec.data.interactions import Interactions, history_matrix, padded_rows
from moorec.errors import ConfigError, check_positive_int
from moorec.models.base import Recommender
from moorec.rerank.stage import Reranker, as_reranker

__all__ = ["measure_latency", "recommend", "recommend_cost", "recommend_jit", "tie_order", "top_k"]


def tie_order(n_items: int, tie_seed: int | None = 0) -> np.ndarray | None:
    """The seeded order in which tied items are ranked: a permutation of the catalogue.

    ``jax.lax.top_k`` returns tied scores lowest index first, which favours low item indices
    whenever scores tie (popularity models, integer scores). Ranking breaks ties by this
    permutation instead: of two items with equal scores, the one earlier in it ranks first.

    Args:
        n_items: catalogue size.
        tie_seed: seed of the permutation (``np.random.default_rng(tie_seed)``), or ``None``
            for index order (``lax.top_k``'s own rule).

    Returns:
        ``[n_items]`` int32 permutation, or ``None`` for index order.

    Raises:
        ConfigError: if ``tie_seed`` is not ``None`` or an integer ``>= 0``.
    """
    if tie_seed is None:
        return None
    if isinstance(tie_seed, bool) or not isinstance(tie_seed, int | np.integer) or tie_seed < 0:
        raise ConfigError(f"tie_seed must be an integer >= 0 or None, got {tie_seed!r}")
    return np.random.default_rng(int(tie_seed)).permutation(n_items).astype(np.int32)


def top_k(scores: jax.Array, k: int, order: jax.Array | None = None):
    """``jax.lax.top_k`` over the last axis, ties broken by ``order`` (see :func:`tie_order`).

    The columns are permuted by ``order`` before ``lax.top_k`` and its indices mapped back, so
    tied scores come out in ``order``'s order; scores without ties give exactly the lists of
    ``lax.top_k`` itself.

    Args:
        scores: ``[B, n_items]`` float32.
        k: list length.
        order: ``[n_items]`` int32 permutation, or ``None`` for index order.

    Returns:
        ``(values, items)``: ``[B, k]`` float32 and ``[B, k]`` int32, best first.
    """
    if order is None:
        values, items = jax.lax.top_k(scores, k)
        return values, items.astype(jnp.int32)
    values, j = jax.lax.top_k(jnp.take(scores, order, axis=1), k)
    return values, order[j].astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("graphdef", "k"))
def recommend_jit(
    graphdef: nnx.GraphDef,
    state: nnx.State,
    users: jax.Array,
    exclude: jax.Array,
    history: jax.Array | None = None,
    order: jax.Array | None = None,
    *,
    k: int,
) -> tuple[jax.Array, jax.Array]:
    """Top-``k`` items for a batch of users, known items excluded.

    Args:
        graphdef: the model's static structure.
        state: the model's state.
        users: ``[B]`` int32 users.
        exclude: ``[B, W]`` int32 items not to recommend, padded with ``n_items``.
        history: ``[B, L]`` int32 recent items of each user (sequential models), or ``None``.
        order: ``[n_items]`` int32 order of tied items (:func:`tie_order`), or ``None`` for
            index order.
        k: list length.

    Returns:
        ``(items, scores)``: ``[B, k]`` int32 and ``[B, k]`` float32, best first.
    """
    model = nnx.merge(graphdef, state)
    scores = model.score(users) if history is None else model.score(users, history)
    scores = scores.at[jnp.arange(users.shape[0])[:, None], exclude].set(-jnp.inf, mode="drop")
    top_scores, top_items = top_k(scores, k, order)
    return top_items, top_scores


def recommend(
    model: Recommender,
    users,
    k: int = 10,
    *,
    known_csr: tuple[np.ndarray, np.ndarray] | None = None,
    known: Interactions | None = None,
    tie_seed: int | None = 0,
    rerank=None,
    item_categories=None,
    item_popularity=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Recommend ``k`` items to each user, optionally re-ranked.

    Args:
        model: a trained recommender.
        users: ``[B]`` user indices.
        k: list length (``> 0``).
        known_csr: ``(indptr, indices)`` of items each user already has (e.g.
            ``moorec.data.csr_by_user(split.train)``); those are never recommended.
        known: the known interactions themselves; sequential models read each user's recent
            items from them (required for those models), and so do the calibration and xQuAD
            re-rankers.
        tie_seed: seed of the order of tied items (:func:`tie_order`; the evaluator's
            default, so that both rank ties alike), or ``None`` for index order.
        rerank: ``None`` (the model's own top-``k``), or a re-ranker (a
            :class:`~moorec.rerank.Reranker`, a method name or a mapping of its settings):
            the model's top-``N`` (``N`` = its ``candidates``, at most the catalogue) is
            re-ranked into the top-``k``.
        item_categories: ``[n_items, C]`` bool categories for a re-ranker that reads them;
            by default ``known.item_features.categories``.
        item_popularity: ``[n_items]`` training counts forming xQuAD's head and tail; by
            default ``known.item_counts()``.

    Returns:
        ``(items, scores)``: ``[B, k]`` int32 item indices and their float32 model scores,
        best first (with a re-ranker: in the re-ranked order, so the scores need not
        decrease).

    Raises:
        ConfigError: for a bad ``k``, or a re-ranker whose ``candidates`` is smaller than
            ``k`` or whose side information is missing.
    """
    k = check_positive_int("k", k)
    reranker = _active(rerank, k, model.n_items)
    order = tie_order(model.n_items, tie_seed)
    users = np.asarray(users, dtype=np.int32)
    inputs = None
    if reranker is not None:
        inputs = reranker.prepare(
            known, users, categories=item_categories, popularity=item_popularity, model=model
        )
    if known_csr is None:
        exclude = np.full((len(users), 8), model.n_items, dtype=np.int32)
    else:
        exclude = padded_rows(*known_csr, users, model.n_items)
    history = _history(model, known, users)
    graphdef, state = nnx.split(model)
    n = k if reranker is None else min(reranker.candidates, model.n_items)
    items, scores = recommend_jit(
        graphdef, state, jnp.asarray(users), jnp.asarray(exclude), history,
        None if order is None else jnp.asarray(order), k=n,
    )  # fmt: skip
    items, scores = np.asarray(items), np.asarray(scores)
    if reranker is None:
        return items, scores
    out = reranker.apply(scores, items, inputs, k=k)
    return out.items, np.take_along_axis(scores, out.positions, axis=1)


def _active(rerank, k: int, n_items: int) -> Reranker | None:
    """The re-ranker of ``rerank`` if it re-ranks at all, checked against the list length."""
    reranker = as_reranker(rerank)
    if reranker is None or not reranker.active:
        return None
    if reranker.candidates < k:
        raise ConfigError(
            f"re-ranking candidates N={reranker.candidates} is fewer than the list length "
            f"k={k}; use candidates >= {k}"
        )
    if k > n_items:
        raise ConfigError(f"k={k} is longer than the catalogue of {n_items} items")
    return reranker


def _history(model: Recommender, known: Interactions | None, users: np.ndarray):
    if not model.uses_history:
        return None
    if known is None:
        raise ConfigError(
            f"{type(model).__name__} ranks from each user's recent items: pass the known "
            "interactions (e.g. exclude=split.train)"
        )
    return jnp.asarray(history_matrix(known, users, int(model.max_len)))


@dataclasses.dataclass(frozen=True)
class _ServingBatch:
    """One seeded batch of users and everything its ``recommend`` call reads.

    :func:`measure_latency` times it and :func:`recommend_cost` counts it, so both see the
    same users, exclusions and programs.

    Attributes:
        batch: users in the batch.
        k: list length.
        reranker: the active re-ranker, or ``None``.
        inputs: the re-ranker's side information of the batch's users (``None`` without one).
        n: candidates ``recommend_jit`` returns (``k``, or the re-ranker's ``N``).
        args: the positional arguments of :func:`recommend_jit` (graph definition, state,
            users, exclusions, history, tie order).
    """

    batch: int
    k: int
    reranker: Reranker | None
    inputs: Any
    n: int
    args: tuple

    @classmethod
    def build(cls, model, known_csr, known, batch, k, seed, tie_seed, rerank, item_categories,
              item_popularity) -> _ServingBatch:  # fmt: skip
        """Check the settings and prepare the batch (users drawn with ``seed``)."""
        batch = check_positive_int("batch", batch)
        k = check_positive_int("k", k)
        reranker = _active(rerank, k, model.n_items)
        rng = np.random.default_rng(seed)
        users = rng.choice(model.n_users, size=batch, replace=model.n_users < batch)
        users = users.astype(np.int32)
        inputs = None
        if reranker is not None:
            inputs = reranker.prepare(
                known, users, categories=item_categories, popularity=item_popularity, model=model
            )
        exclude = (
            np.full((batch, 8), model.n_items, dtype=np.int32)
            if known_csr is None
            else padded_rows(*known_csr, users, model.n_items)
        )
        history = _history(model, known, users)
        order = tie_order(model.n_items, tie_seed)
        order = None if order is None else jnp.asarray(order)
        graphdef, state = nnx.split(model)
        n = k if reranker is None else min(reranker.candidates, model.n_items)
        args = (graphdef, state, jnp.asarray(users), jnp.asarray(exclude), history, order)
        return cls(batch, k, reranker, inputs, n, args)

    def candidates(self):
        """``recommend_jit`` of the batch: ``([B, n] items, [B, n] scores)``."""
        return recommend_jit(*self.args, k=self.n)


def measure_latency(
    model: Recommender,
    known_csr: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    known: Interactions | None = None,
    batch: int = 256,
    k: int = 10,
    repeats: int = 30,
    warmup: int = 3,
    seed: int = 0,
    tie_seed: int | None = 0,
    rerank=None,
    item_categories=None,
    item_popularity=None,
) -> dict:
    """Time ``recommend`` on a batch of users after warm-up.

    The batch is ``batch`` users drawn with a seeded generator (with replacement when the data
    has fewer users). Compilation happens in the warm-up calls and is reported apart. The
    timed program is the model's own ``recommend`` (scores, exclusion, top-k with ties
    broken by ``tie_seed``'s order, as :func:`recommend` serves it).

    With a re-ranker, each timed call is what :func:`recommend` serves with it: the jitted
    top-``N`` call, then the jitted re-ranking of that batch's candidates into the top-``k``
    (:meth:`~moorec.rerank.Reranker.apply`), waiting for the re-ranked lists on the host. The
    users' side information (history distributions, head/tail shares, item embeddings) is
    prepared once before timing, as a server would cache it. The cost of the compiled
    programs does not depend on the weight's value.

    Args:
        model: the model to time.
        known_csr: ``(indptr, indices)`` of the items to exclude per user, or ``None``.
        known: the known interactions (sequential models, calibration and xQuAD read them).
        batch: users per call.
        k: list length.
        repeats: timed calls.
        warmup: untimed calls first (the first one compiles).
        seed: seed of the batch's users.
        tie_seed: seed of the order of tied items (:func:`tie_order`).
        rerank: ``None`` or a re-ranker, as in :func:`recommend`.
        item_categories: ``[n_items, C]`` categories for the re-ranker, as in
            :func:`recommend`.
        item_popularity: ``[n_items]`` training counts for xQuAD, as in :func:`recommend`.

    Returns:
        ``{"median_ms", "p95_ms", "median_interval_ms", "load_1min", "compile_ms", "batch",
        "k"}``: ``median_interval_ms`` is a 95% percentile-bootstrap interval ``[low, high]``
        of the median over the timed calls, ``load_1min`` the machine's 1-minute load average
        when timing started (a busy machine's medians move: compare latencies measured under
        similar load, and call two medians different only where their intervals are apart);
        with a re-ranker also
        ``"candidates"`` (``N``) and ``"rerank"`` (its settings), the timed path being model
        and re-ranker together.
    """
    repeats = check_positive_int("repeats", repeats)
    b = _ServingBatch.build(model, known_csr, known, batch, k, seed, tie_seed, rerank,
                            item_categories, item_popularity)  # fmt: skip
    batch, k, reranker, n = b.batch, b.k, b.reranker, b.n
    if reranker is None:

        def serve():
            return jax.block_until_ready(b.candidates())

    else:

        def serve():
            items, scores = b.candidates()
            # apply() reads the candidates on the host and returns host arrays: the re-ranked
            # lists are complete when it returns.
            return reranker.apply(scores, items, b.inputs, k=k)

    load = _load_average()
    t0 = time.perf_counter()
    serve()
    compile_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(max(0, warmup - 1)):
        serve()
    times = np.empty(repeats)
    for r in range(repeats):
        t0 = time.perf_counter()
        serve()
        times[r] = (time.perf_counter() - t0) * 1e3
    out = {
        "median_ms": float(np.median(times)),
        "p95_ms": float(np.percentile(times, 95)),
        "median_interval_ms": _median_interval(times),
        "load_1min": load,
        "compile_ms": compile_ms,
        "batch": batch,
        "k": k,
    }
    if reranker is not None:
        out.update(candidates=n, rerank=reranker.settings())
    return out


def _load_average() -> float | None:
    """The machine's 1-minute load average (``None`` where the OS does not report one)."""
    import os

    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _median_interval(times: np.ndarray, level: float = 0.95) -> list[float]:
    """Percentile-bootstrap interval of the median of the timed calls (seeded, 2,000 resamples).

    One value (``repeats=1``) gives the degenerate interval ``[t, t]``.
    """
    if len(times) < 2 or np.all(times == times[0]):
        return [float(np.median(times))] * 2
    from scipy import stats

    ci = stats.bootstrap(
        (np.asarray(times, np.float64),), np.median, confidence_level=level,
        method="percentile", n_resamples=2000, rng=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    return [float(ci.low), float(ci.high)]


def recommend_cost(
    model: Recommender,
    known_csr: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    known: Interactions | None = None,
    batch: int = 256,
    k: int = 10,
    seed: int = 0,
    tie_seed: int | None = 0,
    rerank=None,
    item_categories=None,
    item_popularity=None,
) -> dict:
    """XLA's own count of what serving one batch costs: floating-point operations and bytes.

    The programs are those :func:`measure_latency` times, for the same batch of users: the
    compiled ``recommend`` (scores, exclusion, top-``k``) and, with a re-ranker, the compiled
    re-ranking of its candidates. Their cost analyses (``jax.stages.Compiled.cost_analysis``)
    are added up. Unlike latency, the counts do not depend on the machine's load: two runs
    give the same numbers.

    XLA counts the body of a while loop once, not once per iteration. Where a program holds
    one (the greedy steps of MMR, DPP, calibration and xQuAD; NeuMF's blocks of items;
    recurrent and chunked models), the counts are a lower bound, and ``"loops"`` says so.

    Args:
        model: the model.
        known_csr: ``(indptr, indices)`` of the items to exclude per user, or ``None``.
        known: the known interactions (sequential models, calibration and xQuAD read them).
        batch: users per call.
        k: list length.
        seed: seed of the batch's users (as :func:`measure_latency`).
        tie_seed: seed of the order of tied items.
        rerank: ``None`` or a re-ranker, as in :func:`recommend`.
        item_categories: categories for the re-ranker, as in :func:`recommend`.
        item_popularity: training counts for xQuAD, as in :func:`recommend`.

    Returns:
        ``{"flops", "bytes_accessed", "loops", "batch", "k"}``; ``loops`` is ``True`` where
        a counted program holds a while loop.
    """
    from moorec.rerank.api import record_costs, xla_cost

    b = _ServingBatch.build(model, known_csr, known, batch, k, seed, tie_seed, rerank,
                            item_categories, item_popularity)  # fmt: skip
    parts = [xla_cost(recommend_jit, *b.args, k=b.n)]
    if b.reranker is not None:
        items, scores = b.candidates()
        with record_costs() as costs:
            b.reranker.apply(scores, items, b.inputs, k=b.k)
        parts += costs
    return {
        "flops": float(sum(p["flops"] for p in parts)),
        "bytes_accessed": float(sum(p["bytes_accessed"] for p in parts)),
        "loops": any(p["loops"] for p in parts),
        "batch": b.batch,
        "k": b.k,
    }
