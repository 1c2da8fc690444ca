"""Candidates trained and scored per minute, per executor, against the sequential executor.

BPR-MF on ml-100k (random 8:1:1 per user, embedding 64, batch 2048, the same number of epochs
for every candidate, no early stopping), scored on validation with full ranking. A population
of ``N`` candidates draws its learning rates and L2 weights from a fixed seed; every executor
trains the same population. The executors run one after another, each alone on the machine (started
once, closed before the next starts); for each size an executor is warmed up on the population
once (compilation, worker start-up; reported apart as ``warmup_seconds``), then the population
is run ``--repeats`` times (at least ``8 // N``) and the median wall time is quoted. Executors
stay warm across sizes, as they do across the generations of a search.

``speedup`` is the best executor's candidates per minute over the sequential executor's, in the
same process. ``max_abs_diff`` is the largest difference of a ranking objective from the
sequential executor's value for the same candidate (equivalence check).

    python benchmarks/population_speed.py [--sizes 1 4 16 64] [--epochs 10]
        [--executors sequential vectorized processes auto] [--out FILE]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
from _common import data_root, median, save

import moorec as mr
from moorec.executors import TrialSpec, make_executor
from moorec.split import random_ratio


def population(n: int, seed: int = 0) -> list[dict]:
    """``n`` BPR candidates: log-uniform learning rate, uniform L2 (fixed seed)."""
    rng = np.random.default_rng(seed)
    lr = np.exp(rng.uniform(np.log(3e-4), np.log(1e-2), n))
    l2 = rng.uniform(0.0, 1e-4, n)
    return [{"lr": float(a), "l2": float(b)} for a, b in zip(lr, l2, strict=True)]


def time_population(ex, configs: list[dict], repeats: int) -> tuple[float, list[float], list]:
    """``(warm-up seconds, seconds of each of repeats runs, last records)`` of one population.

    Raises:
        SystemExit: if a candidate failed (a benchmark of failures measures nothing).
    """
    t0 = time.perf_counter()
    ex.map(configs)  # warm-up: compilation, worker start-up
    warm = time.perf_counter() - t0
    times, recs = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        recs = ex.map(configs)
        times.append(time.perf_counter() - t0)
    bad = [r["reason"] for r in recs if r["status"] != "ok"]
    if bad:
        raise SystemExit(f"{ex.name}: failed trials {bad[:3]}")
    return warm, times, recs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--executors", nargs="+", default=["sequential", "vectorized", "processes", "auto"]
    )
    ap.add_argument("--objectives", default="ndcg@10,recall@10,ild@10")
    ap.add_argument("--out", default="benchmarks/results/population_speed.json")
    args = ap.parse_args()

    root = data_root()
    if root is None:
        raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
    data = mr.datasets.load("ml-100k", path=root / "ml-100k")
    split = random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    keys = tuple(args.objectives.split(","))
    fixed = {"epochs": args.epochs, "patience": 0, "batch_size": 2048, "dim": 64}
    spec = TrialSpec(split, "bpr", keys, fixed, 0)
    print(
        f"devices {jax.devices()}; BPR-MF on ml-100k, {args.epochs} epochs per candidate, "
        f"objectives {list(keys)}"
    )

    names = list(dict.fromkeys(["sequential", *args.executors]))
    configs_by_size = {n: population(n) for n in args.sizes}
    seconds: dict[str, dict[int, float]] = {}
    warmup: dict[str, dict[int, float]] = {}
    values: dict[str, dict[int, np.ndarray]] = {}
    start_seconds, described = {}, {}
    # One executor alive at a time, as in a search: idle workers of another executor (a Dask
    # cluster's heartbeats and profilers, say) would otherwise share the cores.
    for name in names:
        t0 = time.perf_counter()
        ex = make_executor(name)
        try:
            ex.start(spec)
            start_seconds[name] = time.perf_counter() - t0
            seconds[name], warmup[name], values[name] = {}, {}, {}
            for n, configs in configs_by_size.items():
                repeats = max(args.repeats, 8 // n)  # small populations: more runs
                warmup[name][n], times, recs = time_population(ex, configs, repeats)
                seconds[name][n] = median(times)
                values[name][n] = np.array([[r["valid"][k] for k in keys] for r in recs])
                print(
                    f"{name:>10} population {n:3d}: {60 * n / seconds[name][n]:8.1f} "
                    f"candidates/min (warm-up {warmup[name][n]:.1f} s)",
                    flush=True,
                )
            described[name] = ex.describe()
            print(f"{name}: {described[name]}")
        finally:
            ex.close()

    rows = []
    for n in args.sizes:
        cpm = {name: 60.0 * n / seconds[name][n] for name in names}
        best = max((k for k in cpm if k != "sequential"), key=cpm.get, default="sequential")
        row = {
            "population": n,
            "candidates_per_minute": cpm,
            "seconds": {name: seconds[name][n] for name in names},
            "warmup_seconds": {name: warmup[name][n] for name in names},
            "max_abs_diff": {
                name: float(np.max(np.abs(values[name][n] - values["sequential"][n])))
                for name in names
            },
            "best": best,
            "speedup": cpm[best] / cpm["sequential"],
        }
        if "auto" in cpm:
            row["auto_over_sequential"] = cpm["auto"] / cpm["sequential"]
        rows.append(row)

    print()
    head = ["population", *names, "best", "speedup"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cpm = r["candidates_per_minute"]
        cells = [str(r["population"])] + [f"{cpm[k]:.1f}" for k in names]
        print("| " + " | ".join([*cells, r["best"], f"{r['speedup']:.2f}x"]) + " |")
    path = save(
        args.out,
        "population_speed",
        {
            "protocol": {
                "data": "ml-100k",
                "split": "random 8:1:1 per user, seed 0",
                "model": "bpr",
                "fixed": fixed,
                "objectives": list(keys),
                "repeats": args.repeats,
                "statistic": "median wall seconds of a population after one warm-up run",
            },
            "executors": described,
            "start_seconds": start_seconds,
            "rows": rows,
        },
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
