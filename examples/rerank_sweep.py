"""Re-rank BPR-MF's candidates with MMR over 11 weights in one program; print ndcg@10 / ild@10.

Trains BPR-MF briefly on a small synthetic shop, takes each validation user's top-50 candidates
(training items excluded), re-ranks them with MMR (Jaccard similarity of item categories) for
the weights 0, 0.1, ..., 1 in one jitted, vmapped program, and scores each weight's lists with
moorec's own metric functions.

    python examples/rerank_sweep.py [--epochs 20] [--candidates 50]
"""

import argparse
import time

import numpy as np

import moorec as mr
import moorec.rerank as rr
from moorec.objectives import metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--candidates", type=int, default=50, help="N, candidates per user")
    args = p.parse_args()

    data = mr.datasets.synthetic_shop(n_users=400, n_items=300, n_interactions=12_000, seed=0)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    result = mr.fit(split, "bpr", dim=32, epochs=args.epochs, seed=0, progress=False)
    print(f"BPR-MF trained for {len(result.history)} epochs ({result.train_seconds:.1f} s)")

    valid = split.valid
    users = np.unique(valid.users).astype(np.int32)
    items, scores = mr.recommend(result.model, users, k=args.candidates, exclude=split.train)
    held_out = [set() for _ in range(split.train.n_users)]
    for u, i in zip(valid.users, valid.items, strict=True):
        held_out[u].add(int(i))
    n_relevant = np.array([len(held_out[u]) for u in users])
    categories = data.item_features.categories

    weights = np.linspace(0.0, 1.0, 11)
    t0 = time.perf_counter()
    lists = rr.mmr(scores, items, weights, k=10, categories=categories).items  # [11, U, 10]
    seconds = time.perf_counter() - t0
    print(
        f"MMR for {len(weights)} weights x {len(users)} users: {seconds:.2f} s (compile included)"
    )
    print(f"{'weight':>6}  {'ndcg@10':>8}  {'ild@10':>7}")
    for w, topk in zip(weights, lists, strict=True):
        hits = np.array(
            [[int(i) in held_out[u] for i in row] for u, row in zip(users, topk, strict=True)]
        )
        ndcg = float(np.mean(metrics.ndcg(hits, n_relevant)))
        ild = float(np.mean(metrics.ild(topk, categories)))
        print(f"{w:6.1f}  {ndcg:8.4f}  {ild:7.4f}")
    own = mr.evaluate(result.model, split, "valid", ["ndcg@10", "ild@10"])
    print(f"the model's own lists (mr.evaluate): ndcg@10 {own['ndcg@10']:.4f}, "
          f"ild@10 {own['ild@10']:.4f} (weight 0)")  # fmt: skip


if __name__ == "__main__":
    main()
