"""How closely two compiled programs must agree: tolerances derived from float32 rounding.

A vmapped population program and the one-candidate program are different XLA programs: their
float32 sums may round differently (a last-bit difference per operation), and how they round
depends on the CPU's vector width. Parameters are continuous in those differences, so they are
compared within a rounding bound. Top-k objectives are not: a last-bit difference between two
nearly tied scores swaps two items of a list. So objectives are compared exactly, *except* for
the users whose reference ranking has a near tie that the two programs' scores may resolve
differently; each such user may move a mean over users by at most its own share. The slack is
computed from the reference model's scores and the *measured* parameter difference, so it is
zero (exact agreement required) wherever no list can change, and no CPU can make a test pass or
fail by luck.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from flax import nnx

EPS32 = float(np.finfo(np.float32).eps)  # 2**-23, the spacing of float32 numbers at 1.0

# Per-user objectives whose values lie in [0, 1]: one user's list moves their mean by <= 1/U.
PER_USER_01 = ("ndcg", "recall", "hit", "precision", "mrr", "map", "ild", "category_coverage")

# Per-user float32 values of the same lists computed by two programs, averaged in float64:
# a few float32 ulps at 1.0.
VALUE_ROUNDING = 8 * EPS32


def train_tolerance(steps: int, scale: float) -> float:
    """Largest parameter difference two programs may reach after ``steps`` optimiser steps.

    Each step rounds every parameter update (the gradient's sums, Adam's moments and square
    root, the addition to a parameter of size <= ``scale``) to float32 in both programs;
    8 ulps of ``max(scale, 1)`` per step, added up over the steps. On an AMD EPYC (AVX-512) the
    vmapped and sequential BPR programs differ by about 1/100 of this (2.4e-7 after 36 steps).
    """
    return 8 * steps * EPS32 * max(1.0, scale)


def bpr_embeddings(state) -> tuple[np.ndarray, np.ndarray]:
    """``(user_emb, item_emb)`` float64 arrays of a BPR model's ``nnx.Param`` state."""
    flat = dict(nnx.to_flat_state(state))
    user = flat[("user_emb",)]
    item = flat[("item_emb",)]
    user = user.get_value() if hasattr(user, "get_value") else user
    item = item.get_value() if hasattr(item, "get_value") else item
    return np.asarray(user, dtype=np.float64), np.asarray(item, dtype=np.float64)


def param_difference(ref_state, got_state) -> tuple[float, float]:
    """``(largest |difference|, largest |value|)`` over the leaves of two parameter states."""
    diff, scale = 0.0, 0.0
    for a, b in zip(jax.tree.leaves(ref_state), jax.tree.leaves(got_state), strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        assert a.shape == b.shape
        diff = max(diff, float(np.max(np.abs(a - b))))
        scale = max(scale, float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return diff, scale


def score_bound(user: np.ndarray, item: np.ndarray, dp: float) -> float:
    """Largest difference of a program's float32 BPR score ``u . v`` from the exact one.

    ``dp`` bounds each parameter's difference from the reference's. For a ``d``-term dot product,
    ``|u' . v' - u . v| <= ||du|| ||v|| + ||u|| ||dv|| + ||du|| ||dv||`` with
    ``||du|| <= sqrt(d) dp``; float32 rounding of the sum adds at most
    ``d * EPS32 / 2 * ||u|| ||v||`` (Higham, *Accuracy and Stability of Numerical Algorithms*,
    eq. 3.5, to first order).
    """
    d = user.shape[1]
    nu = float(np.max(np.linalg.norm(user, axis=1))) + math.sqrt(d) * dp
    nv = float(np.max(np.linalg.norm(item, axis=1))) + math.sqrt(d) * dp
    moved = math.sqrt(d) * dp * (nu + nv) + d * dp * dp
    return moved + d * EPS32 / 2 * nu * nv


def model_scores(ev, model) -> np.ndarray:
    """``[U, n_items]`` float64 scores of ``model`` for ``ev``'s users (as ``ev`` ranks them)."""
    rows = []
    for ch, hist in zip(ev._chunks, ev._histories_for(model), strict=True):
        s = model.score(ch.users) if hist is None else model.score(ch.users, hist)
        rows.append(np.asarray(s, dtype=np.float64)[: ch.n_real])
    return np.concatenate(rows)


def measured_score_bound(ev, ref_model, got_model) -> float:
    """Score difference of two models with the same structure, for models without
    :func:`score_bound`: the largest measured difference of their scores (one program), plus
    64 float32 ulps of the largest score for the rounding of the ranking programs themselves."""
    a, b = model_scores(ev, ref_model), model_scores(ev, got_model)
    return float(np.max(np.abs(a - b))) + 64 * EPS32 * max(1.0, float(np.max(np.abs(a))))


def near_ties(ev, scores: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``ev``'s users two programs may rank differently, and how many items may move.

    ``scores`` are the reference scores of ``ev``'s users; known items are excluded as ``ev``
    excludes them. Two programs whose scores are each within ``delta`` of these rank two items
    alike whenever their gap here exceeds ``2 delta``; a list can change only if one of the
    gaps between its first ``k + 1`` scores does not.

    Returns:
        ``(near, swaps)``: ``[U]`` bool, the users whose list may change, and ``[U]`` int, the
        items of each list that may leave it (each changes coverage and Gini by a bounded
        amount).
    """
    scores = np.array(scores, dtype=np.float64)
    indptr, indices = ev._known_csr
    for row, u in enumerate(ev.users):
        scores[row, indices[indptr[u] : indptr[u + 1]]] = -np.inf
    if ev.allowed is not None:
        scores[:, ~np.asarray(ev.allowed)] = -np.inf
    top = -np.sort(-scores, axis=1)[:, : ev.k + 1]
    with np.errstate(invalid="ignore"):  # -inf - -inf: excluded items, tied alike everywhere
        gaps = top[:, :-1] - top[:, 1:]
        near = np.any(gaps <= 2 * delta, axis=1)
        # items of the top k within 2 delta of the (k+1)-th score: those may leave the list
        swaps = np.sum(top[:, : ev.k] - top[:, ev.k : ev.k + 1] <= 2 * delta, axis=1)
    return near, swaps


def unstable_users(ev, scores: np.ndarray, delta: float) -> tuple[int, int]:
    """``(users whose list may change, items that may leave a list)`` (see :func:`near_ties`)."""
    near, swaps = near_ties(ev, scores, delta)
    return int(np.sum(near)), int(np.sum(swaps))


def objective_slack(ev, key: str, users: int, swaps: int) -> float:
    """How far ``key``'s value may move when ``users`` lists change by ``swaps`` items."""
    name = key.split("@")[0]
    n_users, k = len(ev.users), ev.k
    if name in PER_USER_01:
        return users / n_users
    if name == "coverage":  # one item in, one out: the count of distinct items moves by <= 1
        return swaps / ev.n_items
    if name == "gini":  # one unit of exposure moved: |d num| <= 2 (n - 1), total n * U * k
        return 2 * swaps / (n_users * k)
    if name == "params":
        return 0.0
    raise KeyError(f"no slack defined for {key!r}")


def assert_values_agree(ev, ref: dict, got: dict, scores, delta: float, what: str = "") -> int:
    """``got`` equals ``ref`` up to float32 rounding and what lists near a tie may change.

    Args:
        ev: the evaluator both were scored with.
        ref, got: objective values.
        scores: ``[U, n_items]`` reference scores of ``ev``'s users.
        delta: bound on either program's score difference from ``scores``.
        what: label for the failure message.

    Returns:
        The number of users near a tie (0: every objective had to agree exactly).
    """
    n_unstable, swaps = unstable_users(ev, scores, delta)
    assert set(got) == set(ref), what
    for key, value in ref.items():
        tol = objective_slack(ev, key, n_unstable, swaps) + VALUE_ROUNDING * max(1.0, abs(value))
        assert abs(got[key] - value) <= tol, (
            f"{what} {key}: {got[key]!r} vs {value!r}, allowed {tol:.3g} "
            f"({n_unstable} of {len(ev.users)} users near a tie at score bound {delta:.2g})"
        )
    return n_unstable
