"""Post-hoc re-rankers: MMR, DPP greedy MAP, calibration and xQuAD over head/tail.

Pure functions under ``jax.jit``, batched over users in chunks and ``jax.vmap``-ed over their
weight, so a sweep of ``W`` weights is one program. :class:`Reranker` is one re-ranker with
its settings, the stage the evaluator and ``moorec.recommend`` run after the model. See
``docs/rerank.md`` and ``docs/objectives.md``.
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
from moorec.rerank.stage import (
    RERANK_METHODS,
    Reranker,
    RerankInputs,
    as_reranker,
    item_embeddings,
)

__all__ = [
    "METHODS",
    "RERANK_METHODS",
    "SIMILARITIES",
    "RerankInputs",
    "Reranked",
    "Reranker",
    "as_reranker",
    "calibration",
    "calibration_select",
    "candidate_similarity",
    "dpp",
    "dpp_select",
    "history_category_distribution",
    "history_group_share",
    "item_category_distribution",
    "item_embeddings",
    "mmr",
    "mmr_select",
    "relevance",
    "rerank",
    "rerank_chunk",
    "xquad",
    "xquad_select",
]
