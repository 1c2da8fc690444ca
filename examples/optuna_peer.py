"""The same search under moorec's NSGA-II and under Optuna's samplers, side by side.

Each algorithm searches BPR-MF's learning rate, size and diversity weight for NDCG@10 against
ILD@10 with the same budget of trainings and the same trial function (moorec's), so only the
search differs; prints each one's validation and test hypervolume (one reference point for all,
from every trial's values) and its wall time. Needs ``pip install 'moorec[optuna]'``. Uses
ml-100k when it can be found (``$MOOREC_DATA`` or the cache), else the synthetic shop;
``--synthetic`` uses a small shop. The measured comparison is ``benchmarks/search_efficiency.py``.

    python examples/optuna_peer.py [--out runs/optuna_peer] [--pop-size 8] [--generations 4]
        [--epochs 20] [--algorithms nsga2 optuna-tpe optuna-nsga2] [--synthetic]
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


def front_hv(run, part, objs, bounds) -> float:
    """Hypervolume of a run's front members' ``part`` values."""
    pts = [[m[part][o.key] for o in objs] for m in run.pareto_front() if part in m]
    return front_hypervolume(pts, objs, bounds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/optuna_peer")
    p.add_argument("--pop-size", type=int, default=8)
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--algorithms", nargs="+", default=["nsga2", "optuna-tpe", "optuna-nsga2"])
    p.add_argument("--synthetic", action="store_true", help="use a small synthetic shop")
    args = p.parse_args()

    data = mr.datasets.load_or_synthetic("ml-100k", synthetic=args.synthetic)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    space = Space(lr=LogReal(1e-4, 3e-2), dim=Choice([16, 32, 64]), div_weight=Real(0.0, 1.0))
    runs, seconds = {}, {}
    for algorithm in args.algorithms:
        t0 = time.perf_counter()
        runs[algorithm] = mr.search.search(
            split, space, OBJECTIVES, out=Path(args.out) / algorithm, model="bpr",
            algorithm=algorithm, pop_size=args.pop_size, generations=args.generations,
            seed=0, fixed={"epochs": args.epochs, "patience": 3}, progress=False,
        )  # fmt: skip
        seconds[algorithm] = time.perf_counter() - t0
    objs = parse_all(OBJECTIVES)
    every = np.array(
        [[t["valid"][o.key] for o in objs] for r in runs.values() for t in r.trials(False)]
    )
    bounds = bounds_from_values(objs, every, None)
    print(f"{'algorithm':<14} {'trials':>6} {'valid HV':>9} {'test HV':>8} {'seconds':>8}")
    for algorithm, run in runs.items():
        print(
            f"{algorithm:<14} {len(run.trials()):>6} {front_hv(run, 'valid', objs, bounds):>9.4f} "
            f"{front_hv(run, 'test', objs, bounds):>8.4f} {seconds[algorithm]:>8.1f}"
        )


if __name__ == "__main__":
    main()
