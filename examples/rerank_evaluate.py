"""Evaluate BPR-MF with each re-ranker in the loop, sweep one, and serve re-ranked lists.

Trains BPR-MF briefly on a small synthetic shop, then scores its validation lists with the
evaluator's re-ranking stage: the model's own top-10, and its top-50 candidates re-ranked by
MMR and DPP at weight 0.5 (calibration and xQuAD work alike, e.g. ``Reranker("xquad")``).
Latency is the model's top-50 call plus the re-ranking of the latency batch, timed together.
A sweep re-ranks one candidate ranking for six weights in one call, and
``mr.recommend(..., rerank=...)`` serves re-ranked lists.

    python examples/rerank_evaluate.py [--epochs 3] [--candidates 50]
"""

import argparse
import time

import numpy as np

import moorec as mr
from moorec.objectives import Evaluator
from moorec.rerank import Reranker

KEYS = ["ndcg@10", "ild@10", "category_coverage@10", "latency_ms"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--candidates", type=int, default=50, help="N, candidates per user")
    args = p.parse_args()

    data = mr.datasets.synthetic_shop(n_users=150, n_items=120, n_interactions=3_000, seed=0)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    result = mr.fit(split, "bpr", dim=32, epochs=args.epochs, seed=0, progress=False)
    model = result.model
    print(f"BPR-MF trained for {len(result.history)} epochs ({result.train_seconds:.1f} s)")

    ev = Evaluator(split, "valid", KEYS, latency_repeats=5)
    widths = [max(12, len(k) + 2) for k in KEYS]
    print(f"\n{'re-ranker':<12}" + "".join(f"{k:>{w}}" for k, w in zip(KEYS, widths, strict=True)))
    for method in ("none", "mmr", "dpp"):
        reranker = Reranker(method, weight=0.5, candidates=args.candidates)
        values = ev(model, rerank=reranker)
        cells = "".join(f"{values[k]:>{w}.4f}" for k, w in zip(KEYS, widths, strict=True))
        print(f"{method:<12}{cells}")

    weights = np.linspace(0.0, 1.0, 6)
    t0 = time.perf_counter()
    swept = ev.sweep(model, Reranker("mmr", candidates=args.candidates), weights)
    seconds = time.perf_counter() - t0
    print(f"\nMMR sweep, {len(weights)} weights in one re-ranking call ({seconds:.2f} s):")
    print(f"{'weight':>6}  {'ndcg@10':>8}  {'ild@10':>7}")
    for w, values in zip(weights, swept, strict=True):
        print(f"{w:6.1f}  {values['ndcg@10']:8.4f}  {values['ild@10']:7.4f}")

    users = np.arange(3)
    own, _ = mr.recommend(model, users, k=5, exclude=split.train)
    items, scores = mr.recommend(
        model, users, k=5, exclude=split.train, rerank="mmr", rerank_weight=0.7
    )
    print("\nserved top-5 of users 0-2, the model's own and MMR-re-ranked (weight 0.7):")
    for u in users:
        shown = " ".join(f"{s:.3f}" for s in scores[u])
        print(f"user {u}: {own[u].tolist()} -> {items[u].tolist()} (scores {shown})")


if __name__ == "__main__":
    main()
