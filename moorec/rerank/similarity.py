"""Item similarity between each user's candidates, computed on the fly.

Only the ``[U, N, N]`` similarities between the ``N`` candidates of each user in a chunk are
ever formed, never a catalogue x catalogue matrix: the candidates' side-information rows are
gathered (``[U, N, C]`` or ``[U, N, d]``) and multiplied.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

__all__ = ["CATEGORY_SIMILARITIES", "SIMILARITIES", "candidate_similarity"]

SIMILARITIES = ("jaccard", "cosine", "embedding")
"""Similarities accepted by :func:`candidate_similarity`: the first two on item categories,
``"embedding"`` the cosine of item embeddings."""

CATEGORY_SIMILARITIES = ("jaccard", "cosine")
"""The similarities computed from category multi-hot rows."""


def candidate_similarity(items: ArrayLike, features: ArrayLike, similarity: str) -> Array:
    r"""Pairwise similarity of each user's candidate items.

    With :math:`A, B` the category sets of two items (multi-hot rows of ``features``):

    * ``"jaccard"``: :math:`|A \cap B| / |A \cup B|`;
    * ``"cosine"``: :math:`|A \cap B| / \sqrt{|A|\,|B|}` (cosine of the multi-hot vectors);
    * ``"embedding"``: :math:`\langle e_a, e_b \rangle / (\lVert e_a \rVert \lVert e_b \rVert)`
      with ``features`` the item embeddings.

    These are one minus the distances of ``ild@k`` / ``ild_cosine@k`` (see
    ``docs/objectives.md``), with the same conventions: two items without category (or with
    zero embeddings) have similarity 1, such an item and one with categories similarity 0.
    Every item has similarity 1 with itself. All three matrices are positive semi-definite
    (Gram matrices; the Jaccard one is the Tanimoto kernel), as the DPP re-ranker needs.

    Memory: ``U * N * F`` for the gathered rows (``F`` categories or embedding width) plus
    ``U * N * N`` for the result; time ``U * N^2 * F``.

    Args:
        items: ``[U, N] int`` candidate item indices.
        features: ``[n_items, C]`` bool/float category multi-hot rows (``"jaccard"``,
            ``"cosine"``) or ``[n_items, d]`` float item embeddings (``"embedding"``).
        similarity: one of :data:`SIMILARITIES` (static under ``jit``).

    Returns:
        ``[U, N, N] float32`` similarities, symmetric, in ``[0, 1]`` (``[-1, 1]`` for
        embeddings).
    """
    x = jnp.asarray(features).astype(jnp.float32)[jnp.asarray(items)]  # [U, N, F]
    n = x.shape[1]
    if similarity in CATEGORY_SIMILARITIES:
        inter = jnp.einsum("unc,umc->unm", x, x)
        size = jnp.sum(x, axis=-1)
        si, sj = size[:, :, None], size[:, None, :]
        den = si + sj - inter if similarity == "jaccard" else jnp.sqrt(si * sj)
        empty_i, empty_j = si == 0, sj == 0
    elif similarity == "embedding":
        inter = jnp.einsum("und,umd->unm", x, x)
        norm = jnp.sqrt(jnp.sum(x * x, axis=-1))
        ni, nj = norm[:, :, None], norm[:, None, :]
        den = ni * nj
        empty_i, empty_j = ni == 0, nj == 0
    else:  # validated at the public boundary; this guards direct calls
        raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
    ok = den > 0
    sim = jnp.where(ok, inter / jnp.where(ok, den, 1.0), jnp.where(empty_i & empty_j, 1.0, 0.0))
    lo = -1.0 if similarity == "embedding" else 0.0
    sim = jnp.clip(sim, lo, 1.0)
    eye = jnp.eye(n, dtype=bool)[None]
    return jnp.where(eye, 1.0, sim).astype(jnp.float32)
