"""Multi-fidelity NSGA-II: successive halving over epochs against full-budget training.

Runs the same NSGA-II search over BPR-MF (learning rate, size and diversity weight; NDCG@10
against ILD@10) twice: every candidate trained to the full budget, and with a successive-halving
schedule (``fidelity = {"epochs": [E/9, E/3, E], "eta": 3}``) that trains every candidate a
ninth of the budget and only the best to the end, and that schedule again with the front formed
from every budget's trials (``"front": "all"``). Prints the epochs each spent, its wall time
and the validation hypervolume of its front under one reference point. Uses ml-100k when it can
be found (``$MOOREC_DATA`` or the cache), else the synthetic shop; ``--synthetic`` uses a small
shop.

    python examples/multi_fidelity.py [--out runs/multi_fidelity] [--pop-size 9]
        [--generations 3] [--epochs 27] [--synthetic]
"""

import argparse
import time
from pathlib import Path

import numpy as np

import moorec as mr
from moorec.objectives import parse_all
from moorec.search import Choice, LogReal, Real, Space
from moorec.search.indicators import bounds_from_values, front_hypervolume

OBJECTIVES = ["ndcg@10", "ild@10"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/multi_fidelity")
    p.add_argument("--pop-size", type=int, default=9)
    p.add_argument("--generations", type=int, default=3)
    p.add_argument("--epochs", type=int, default=27, help="the full budget (>= 3)")
    p.add_argument("--synthetic", action="store_true", help="use a small synthetic shop")
    args = p.parse_args()
    if args.epochs < 3:
        raise SystemExit(f"--epochs must be >= 3 (three rungs), got {args.epochs}")

    data = mr.datasets.load_or_synthetic("ml-100k", synthetic=args.synthetic)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    space = Space(lr=LogReal(1e-4, 3e-2), dim=Choice([16, 32, 64]), div_weight=Real(0.0, 1.0))
    full = args.epochs
    budgets = sorted({max(1, full // 9), max(2, full // 3), full})
    common = dict(model="bpr", pop_size=args.pop_size, generations=args.generations, seed=0,
                  progress=False)  # fmt: skip
    runs, seconds = {}, {}
    for name, kw in (
        ("full budget", {"fixed": {"epochs": full, "patience": 0}}),
        ("successive halving", {"fixed": {"patience": 0},
                                "fidelity": {"epochs": budgets, "eta": 3}}),
        ("every budget's front", {"fixed": {"patience": 0},
                                  "fidelity": {"epochs": budgets, "eta": 3, "front": "all"}}),
    ):  # fmt: skip
        t0 = time.perf_counter()
        runs[name] = mr.search.search(
            split, space, OBJECTIVES, out=Path(args.out) / name.split()[0], **common, **kw
        )
        seconds[name] = time.perf_counter() - t0
    objs = parse_all(OBJECTIVES)
    every = np.array(
        [[t["valid"][o.key] for o in objs] for r in runs.values() for t in r.trials(False)]
    )
    bounds = bounds_from_values(objs, every, None)
    print(f"schedule: epochs {budgets}, eta 3")
    for name, run in runs.items():
        epochs = sum(t["config"].get("epochs", full) for t in run.trials())
        pts = [[m["valid"][o.key] for o in objs] for m in run.pareto_front()]
        hv = front_hypervolume(pts, objs, bounds)
        print(
            f"{name:<21} {len(run.trials()):>3} trainings, {epochs:>4} epochs, "
            f"{seconds[name]:6.1f} s, validation HV {hv:.4f}"
        )


if __name__ == "__main__":
    main()
