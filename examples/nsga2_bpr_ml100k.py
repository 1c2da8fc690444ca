"""NSGA-II over BPR-MF on ml-100k: NDCG@10 against ILD@10 (genres) and latency.

Reads examples/configs/nsga2_bpr_ml100k.toml, runs (or resumes) the search into --out and prints
the Pareto set with validation and test values and how wide the accuracy/diversity trade-off is.

    python examples/nsga2_bpr_ml100k.py [--out runs/nsga2_bpr_ml100k] [--pop-size 16]
        [--generations 8] [--max-epochs N] [--synthetic]
"""

import argparse
import time
from pathlib import Path

import moorec as mr

CONFIG = Path(__file__).resolve().parent / "configs" / "nsga2_bpr_ml100k.toml"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/nsga2_bpr_ml100k")
    p.add_argument("--pop-size", type=int, default=None, help="override search.pop_size")
    p.add_argument("--generations", type=int, default=None, help="override search.generations")
    p.add_argument(
        "--max-epochs",
        type=int,
        default=None,
        help="search epochs in [1, MAX_EPOCHS] instead of the config's range",
    )
    p.add_argument(
        "--synthetic",
        action="store_true",
        help="use a small synthetic shop instead of ml-100k (quick check)",
    )
    args = p.parse_args()

    cfg = mr.search.load_config(CONFIG)
    if args.pop_size:
        cfg["search"]["pop_size"] = args.pop_size
    if args.generations:
        cfg["search"]["generations"] = args.generations
    if args.max_epochs:
        cfg["space"]["epochs"] = {"type": "integer", "low": 1, "high": args.max_epochs}
    if args.synthetic:
        cfg["data"] = {
            "dataset": "synthetic-shop",
            "options": {"n_users": 300, "n_items": 200, "n_interactions": 6000},
        }
    t0 = time.perf_counter()
    run = mr.search.run_config(cfg, args.out)
    minutes = (time.perf_counter() - t0) / 60
    front = run.pareto_front()
    accurate = max(front, key=lambda m: m["valid"]["ndcg@10"])
    diverse = max(front, key=lambda m: m["valid"]["ild@10"])
    gain = diverse["valid"]["ild@10"] / accurate["valid"]["ild@10"] - 1
    print(f"\n{len(front)} non-dominated points of {len(run.trials())} trials in {minutes:.1f} min")
    print(
        f"most accurate: trial {accurate['trial']} ndcg@10 {accurate['valid']['ndcg@10']:.4f}"
        f" ild@10 {accurate['valid']['ild@10']:.4f}"
    )
    print(
        f"most diverse:  trial {diverse['trial']} ndcg@10 {diverse['valid']['ndcg@10']:.4f}"
        f" ild@10 {diverse['valid']['ild@10']:.4f} ({gain:+.0%} ILD@10 over the most accurate)"
    )


if __name__ == "__main__":
    main()
