"""Train one search population with several executors, compare speed and check they agree.

Every executor trains the same candidates (BPR-MF, learning rate and L2 drawn from a fixed seed)
and must report the same objectives; the wall time of each (after one warm-up run that compiles
and starts workers) gives candidates per minute. Then a short NSGA-II search runs with
``executor="auto"``, which picks for this machine and records its choice in the run folder; its
front is re-scored on test by the same executor.

Uses ml-100k when it can be found (``$MOOREC_DATA`` or the cache), else the synthetic shop.

    python examples/population_executors.py [--executors sequential vectorized processes]
        [--pop-size 8] [--epochs 5] [--synthetic] [--out runs/executors]
"""

import argparse
import time

import numpy as np

import moorec as mr
from moorec.executors import TrialSpec, make_executor
from moorec.search import LogReal, Space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--executors", nargs="+", default=["sequential", "vectorized", "processes"])
    p.add_argument("--pop-size", type=int, default=8)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--synthetic", action="store_true", help="use the synthetic shop")
    p.add_argument("--out", default="runs/executors")
    args = p.parse_args()

    if args.synthetic:
        data = mr.datasets.synthetic_shop(n_users=2000, n_items=500, n_interactions=40000, seed=0)
    else:
        try:
            data = mr.datasets.load("ml-100k", download=False)
        except mr.MoorecError as err:
            print(f"ml-100k not available ({err}); using the synthetic shop")
            data = mr.datasets.synthetic_shop(
                n_users=2000, n_items=500, n_interactions=40000, seed=0
            )
    print(data.summary())
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    keys = ("ndcg@10", "recall@10", "ild@10")
    fixed = {"epochs": args.epochs, "patience": 0, "batch_size": 2048, "dim": 32}
    spec = TrialSpec(split, "bpr", keys, fixed, seed=0)
    rng = np.random.default_rng(0)
    configs = [
        {"lr": float(lr), "l2": float(l2)}
        for lr, l2 in zip(
            np.exp(rng.uniform(np.log(1e-3), np.log(3e-2), args.pop_size)),
            rng.uniform(0.0, 1e-4, args.pop_size),
            strict=True,
        )
    ]

    reference = None
    for name in args.executors:
        with make_executor(name) as ex:
            ex.start(spec)
            ex.map(configs)  # warm-up: compile, start workers
            t0 = time.perf_counter()
            records = ex.map(configs)
            seconds = time.perf_counter() - t0
        values = np.array([[r["valid"][k] for k in keys] for r in records])
        reference = values if reference is None else reference
        print(
            f"{name:>10}: {60 * len(configs) / seconds:7.1f} candidates/min, "
            f"max |difference| from {args.executors[0]} {np.max(np.abs(values - reference)):.2e}"
        )

    run = mr.search.search(
        split,
        Space(lr=LogReal(1e-3, 3e-2)),
        ["ndcg@10", "ild@10"],
        out=args.out,
        pop_size=args.pop_size,
        generations=2,
        fixed=fixed,
        executor="auto",
        progress=False,
    )
    print(f"auto chose {run.manifest['executor']['name']}: {run.manifest['executor']['reason']}")
    print(f"{len(run.trials())} trials, {len(run.pareto_front())} on the front; run in {run.path}")
    # The front was re-scored on test by the same executor; validation beside test:
    for m in run.pareto_front():
        v, t = m["valid"], m["test"]
        print(
            f"  trial {m['trial']}: lr {m['config']['lr']:.4f}  ndcg@10 {v['ndcg@10']:.4f} "
            f"(test {t['ndcg@10']:.4f})  ild@10 {v['ild@10']:.4f} (test {t['ild@10']:.4f})"
        )


if __name__ == "__main__":
    main()
