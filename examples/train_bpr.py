"""Train BPR-MF with early stopping and print valid/test objectives.

Uses ml-100k when it can be found (``$MOOREC_DATA`` or the cache), else the synthetic shop.

    python examples/train_bpr.py [--epochs 300] [--synthetic]
"""

import argparse

import moorec as mr


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--synthetic", action="store_true", help="use the synthetic shop")
    args = p.parse_args()

    data = mr.datasets.load_or_synthetic("ml-100k", synthetic=args.synthetic, shop={})
    print(data.summary())
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    result = mr.fit(split, "bpr", dim=64, epochs=args.epochs, seed=0)
    print(
        f"best epoch {result.best_epoch} of {len(result.history)} "
        f"({result.train_seconds:.1f} s), valid ndcg@10 {result.best_valid:.4f}"
    )
    keys = [
        "ndcg@10",
        "recall@10",
        "hit@10",
        "ild@10",
        "coverage@10",
        "novelty@10",
        "latency_ms",
        "params",
    ]
    for key, value in mr.evaluate(result.model, split, "test", keys).items():
        print(f"  test {key:<12} {value:.4f}")
    items, _ = mr.recommend(result.model, [0], k=5, exclude=split.train)
    titles = data.item_features.titles if data.item_features is not None else None
    top = [str(titles[i]) if titles is not None else str(data.item_ids[i]) for i in items[0]]
    print(f"top 5 for user {data.user_ids[0]}: {top}")


if __name__ == "__main__":
    main()
