"""Host-side cost of a population: wall time per population where the device work is small.

On an accelerator, a population of small recommenders trains in a fraction of a second, so what
the host does around the device programs (building and splitting models, stacking parameters,
moving hyperparameters, reading losses) decides a good part of the speedup. This benchmark
makes that cost visible on any machine: BPR-MF on a tiny synthetic data set (100 users, 50
items, 1,000 interactions, embedding 4, batch 256, 10 epochs), where each program's device work
is a few milliseconds. It times the vectorized executor and, as the baseline in the same
process, the sequential one, for populations of 1, 16 and 64 candidates: medians of
``--repeats`` runs after one warm-up run (compilation reported apart).

    python benchmarks/population_overhead.py [--sizes 1 16 64] [--repeats 7] [--out FILE]
"""

from __future__ import annotations

import argparse

from _common import median, save
from population_speed import population, time_population

from moorec.data.synthetic import synthetic_shop
from moorec.executors import TrialSpec, make_executor
from moorec.split import random_ratio

FIXED = {"epochs": 10, "patience": 0, "batch_size": 256, "dim": 4}
KEYS = ("ndcg@10", "recall@10", "ild@10")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default="benchmarks/results/population_overhead.json")
    args = ap.parse_args()

    data = synthetic_shop(100, 50, 1_000, seed=0)
    split = random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    spec = TrialSpec(split, "bpr", KEYS, FIXED, 0)
    rows: dict[int, dict] = {n: {"population": n} for n in args.sizes}
    described = {}
    for name in ("sequential", "vectorized"):
        with make_executor(name) as ex:
            ex.start(spec)
            for n in args.sizes:
                warm, times, _ = time_population(ex, population(n), args.repeats)
                sec = median(times)
                rows[n].setdefault("seconds", {})[name] = sec
                rows[n].setdefault("ms_per_candidate", {})[name] = 1000 * sec / n
                rows[n].setdefault("warmup_seconds", {})[name] = warm
                print(
                    f"{name:>10} population {n:3d}: {1000 * sec:8.1f} ms per population, "
                    f"{1000 * sec / n:6.2f} ms per candidate (warm-up {warm:.2f} s)",
                    flush=True,
                )
            described[name] = ex.describe()
    print("\n| population | sequential ms | vectorized ms | vectorized ms / candidate |")
    print("|---|---|---|---|")
    for n, r in rows.items():
        s = r["seconds"]
        print(
            f"| {n} | {1000 * s['sequential']:.1f} | {1000 * s['vectorized']:.1f} | "
            f"{r['ms_per_candidate']['vectorized']:.2f} |"
        )
    path = save(
        args.out,
        "population_overhead",
        {
            "protocol": {
                "data": "synthetic_shop(100 users, 50 items, 1000 interactions, seed 0)",
                "split": "random 8:1:1 per user, seed 0",
                "model": "bpr",
                "fixed": FIXED,
                "objectives": list(KEYS),
                "repeats": args.repeats,
                "statistic": "median wall seconds of a population after one warm-up run",
            },
            "executors": described,
            "rows": list(rows.values()),
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
