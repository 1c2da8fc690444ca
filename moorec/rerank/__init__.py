"""Post-hoc re-rankers: MMR, DPP greedy MAP, calibration and xQuAD over head/tail.

Pure functions under ``jax.jit``, batched over users in chunks and ``jax.vmap``-ed over their
weight, so a sweep of ``W`` weights is one program. See ``docs/rerank.md``.
"""

from moorec.rerank.api import (
    METHODS,
    Reranked,
    calibration,
    dpp,
    history_category_distribution,
    history_group_share,
    mmr,
    rerank,
    rerank_chunk,
    xquad,
)
from moorec.rerank.kernels import (
    calibration_select,
    dpp_select,
    item_category_distribution,
    mmr_select,
    relevance,
    xquad_select,
)
from moorec.rerank.similarity import SIMILARITIES, candidate_similarity

__all__ = [
    "METHODS",
    "SIMILARITIES",
    "Reranked",
    "calibration",
    "calibration_select",
    "candidate_similarity",
    "dpp",
    "dpp_select",
    "history_category_distribution",
    "history_group_share",
    "item_category_distribution",
    "mmr",
    "mmr_select",
    "relevance",
    "rerank",
    "rerank_chunk",
    "xquad",
    "xquad_select",
]
