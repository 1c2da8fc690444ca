"""Fronts per second: moorec's searches against Optuna's samplers on one problem.

Problem (``--problem``): BPR-MF on ml-100k (random 8:1:1, seed 0), NDCG@10 against ILD@10 on
validation; learning rate, embedding size and the diversity weight searched; ``--epochs``
epochs with early stopping (patience 3). Every method trains and scores its candidates with
moorec's own trial runner (sequential executor), so the methods differ in the search alone:

    nsga2, random          moorec (pymoo) NSGA-II and random search
    nsga2-sh               NSGA-II with successive halving over epochs (E/9, E/3, E; eta 3)
    two-level              NSGA-II over the same space plus an MMR re-ranking weight, candidates
                           sharing a trained model
    two-level-sweep        NSGA-II over the same space; every trained model is also re-ranked by
                           MMR at ``--sweep`` evenly spaced weights from 0 to 1 (each a trial,
                           no training: the same budget of trainings)
    optuna-tpe, optuna-nsga2, optuna-gp
                           Optuna's samplers (ask and tell; TPE and GP one trial at a time, as
                           Optuna users run them); optuna-gp needs PyTorch and is left out
                           without it, said so in the output

Each method runs ``--seeds`` search seeds with the same budget of generations of
``--pop-size`` candidates, each in a fresh Python process (compilation included, as a
researcher's run pays it). One reference point for every run (from every trial's values, as in
benchmarks/front_quality.py) gives hypervolumes that compare: after each generation (against
the wall-clock seconds since the search started, and against trainings), and of each final
front on validation and on test. The headline: for Optuna's best sampler (by median final
validation hypervolume), the wall-clock each moorec method needs to reach that sampler's final
validation hypervolume, as a fraction of the sampler's own wall-clock (median over seeds;
``inf`` where a method never reaches it).

    MOOREC_DATA=../shared/datasets python benchmarks/search_efficiency.py
        [--methods nsga2 random nsga2-sh two-level two-level-sweep optuna-tpe optuna-nsga2]
        [--seeds 0 1 2] [--pop-size 8] [--generations 5] [--epochs 27] [--sweep 6]
        [--out benchmarks/results/search_efficiency.json] [--figure docs/img/search_efficiency.png]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import data_root, save

METHODS = [
    "nsga2",
    "random",
    "nsga2-sh",
    "two-level",
    "two-level-sweep",
    "optuna-tpe",
    "optuna-nsga2",
    "optuna-gp",
]
OBJECTIVES = ["ndcg@10", "ild@10"]

CHILD = r"""
import json, sys, time
import moorec as mr
from moorec.search import Choice, LogReal, Real, Space
root, method, seed, pop, gens, epochs, out, objectives, SWEEP = sys.argv[1:10]
seed, pop, gens, epochs, SWEEP = int(seed), int(pop), int(gens), int(epochs), int(SWEEP)
objectives = objectives.split(",")
data = mr.datasets.load("ml-100k", path=root + "/ml-100k")
split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
variables = dict(lr=LogReal(1e-4, 3e-2), dim=Choice([16, 32, 64, 128]), div_weight=Real(0.0, 1.0))
kw = dict(model="bpr", pop_size=pop, generations=gens, seed=seed, progress=False,
          fixed={"epochs": epochs, "patience": 3})
algorithm = {"random": "random"}.get(method, method if method.startswith("optuna") else "nsga2")
if method == "nsga2-sh":
    kw["fixed"] = {"patience": 3}
    kw["fidelity"] = {"epochs": sorted({max(1, epochs // 9), max(2, epochs // 3), epochs}),
                      "eta": 3}
if method == "two-level":
    variables["rerank_weight"] = Real(0.0, 1.0)
    kw["fixed"] = {**kw["fixed"], "rerank": "mmr"}
if method == "two-level-sweep":
    kw["fixed"] = {**kw["fixed"], "rerank": "mmr"}
    kw["sweep"] = {"rerank_weight": SWEEP}
t0 = time.perf_counter()
run = mr.search.search(split, Space(**variables), objectives, out=out,
                       algorithm=algorithm, **kw)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds}))
"""


BASELINE_CHILD = r"""
import json, sys, time
import moorec as mr
root, model, out, objectives = sys.argv[1:5]
data = mr.datasets.load("ml-100k", path=root + "/ml-100k")
split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
t0 = time.perf_counter()
mr.search.baseline_front(split, out=out, model=model, rerank="mmr", weights=21,
                         objectives=objectives.split(","), progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""
BASELINES = {"baseline-ease-mmr": "ease", "baseline-bpr-mmr": "bpr"}


def _baseline(root, name, args) -> dict:
    """A default model (EASE or BPR-MF) re-ranked by MMR over 21 weights, as a run folder."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        res = subprocess.run(
            [sys.executable, "-c", BASELINE_CHILD, str(root), BASELINES[name], str(out),
             ",".join(args.objectives)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if res.returncode != 0:
            return {"method": name, "error": res.stderr[-2000:]}
        import moorec as mr

        run = mr.results.load(out)
        return {
            "method": name,
            "seconds": json.loads(res.stdout.strip().splitlines()[-1])["seconds"],
            "points": [t["valid"] for t in run.trials() if t["status"] == "ok"],
            "front": [{"valid": m["valid"], "test": m.get("test")} for m in run.pareto_front()],
        }


def _run(root, method, seed, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        load = os.getloadavg()[0]
        res = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), method, str(seed), str(args.pop_size),
             str(args.generations), str(args.epochs), str(out), ",".join(args.objectives),
             str(args.sweep)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if res.returncode != 0:
            return {"method": method, "seed": seed, "error": res.stderr[-2000:]}
        import moorec as mr

        run = mr.results.load(out)
        trials = run.trials()
        return {
            "method": method,
            "seed": seed,
            "seconds": json.loads(res.stdout.strip().splitlines()[-1])["seconds"],
            "load_average_1min": load,
            "generations": [
                {"generation": g["generation"], "seconds": g["seconds"]} for g in run.generations()
            ],
            "trials": [
                {
                    "generation": t["generation"],
                    "status": t["status"],
                    "valid": t["valid"],
                    "full_budget": t.get("full_budget", True),
                    "epochs": t["config"].get("epochs", args.epochs),
                    "trained": t.get("trained", True),
                }
                for t in trials
            ],
            "front": [{"valid": m["valid"], "test": m.get("test")} for m in run.pareto_front()],
        }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", nargs="+", default=METHODS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pop-size", type=int, default=8)
    p.add_argument("--generations", type=int, default=5)
    p.add_argument("--epochs", type=int, default=27)
    p.add_argument(
        "--sweep", type=int, default=6, help="re-ranking weights per model of two-level-sweep"
    )
    p.add_argument("--out", default="benchmarks/results/search_efficiency.json")
    p.add_argument("--figure", default="docs/img/search_efficiency.png")
    p.add_argument(
        "--objectives", nargs="+", default=OBJECTIVES, help="e.g. ndcg@10 ild@10 latency_ms"
    )
    p.add_argument(
        "--no-baselines", action="store_true", help="leave out the EASE / BPR-MF + MMR fronts"
    )
    args = p.parse_args()
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; choose from {METHODS}")
    root = data_root()
    if root is None:
        raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
    methods = list(args.methods)
    if "optuna-gp" in methods:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("optuna-gp left out: Optuna's GP sampler needs PyTorch, not installed here")
            methods.remove("optuna-gp")

    runs = []
    for seed in args.seeds:
        for method in methods:  # methods alternate within a seed: a slow spell hits them all
            r = _run(root, method, seed, args)
            runs.append(r)
            if "error" in r:
                print(f"{method} seed {seed}: failed\n{r['error']}", flush=True)
            else:
                print(f"{method} seed {seed}: {r['seconds']:.1f} s", flush=True)
    ok = [r for r in runs if "error" not in r]
    baselines = []
    for name in [] if args.no_baselines else BASELINES:
        b = _baseline(root, name, args)
        if "error" in b:
            print(f"{name}: failed\n{b['error']}", flush=True)
        else:
            baselines.append(b)
            print(f"{name}: {b['seconds']:.1f} s", flush=True)

    from moorec.objectives import parse_all
    from moorec.search.indicators import bounds_from_values, front_hypervolume

    objs = parse_all(args.objectives)
    every = [
        [t["valid"][o.key] for o in objs]
        for r in ok
        for t in r["trials"]
        if t["status"] == "ok" and t["full_budget"]
    ] + [[v[o.key] for o in objs] for b in baselines for v in b["points"]]
    bounds = bounds_from_values(objs, np.array(every, dtype=float), None)

    def front_hvs(front) -> tuple[float, float]:
        """Validation and test hypervolume of a stored front's members."""
        valid = [[m["valid"][o.key] for o in objs] for m in front]
        test = [[m["test"][o.key] for o in objs] for m in front if m.get("test")]
        return front_hypervolume(valid, objs, bounds), front_hypervolume(test, objs, bounds)

    for b in baselines:
        b["hv_valid"], b["hv_test"] = front_hvs(b["front"])
    for r in ok:
        curve = []
        for g in r["generations"]:
            pts = [
                [t["valid"][o.key] for o in objs]
                for t in r["trials"]
                if t["status"] == "ok" and t["full_budget"] and t["generation"] <= g["generation"]
            ]
            done = [t for t in r["trials"] if t["generation"] <= g["generation"]]
            curve.append(
                {
                    "generation": g["generation"],
                    "seconds": g["seconds"],
                    "trainings": sum(1 for t in done if t["trained"] is not False),
                    "epochs": sum(t["epochs"] for t in done if t["trained"] is not False),
                    "hv_valid": front_hypervolume(pts, objs, bounds),
                }
            )
        r["curve"] = curve
        r["hv_valid"], r["hv_test"] = front_hvs(r["front"])

    table = {}
    for method in methods:
        mine = [r for r in ok if r["method"] == method]
        if not mine:
            continue
        table[method] = {
            "hv_valid": [r["hv_valid"] for r in mine],
            "hv_test": [r["hv_test"] for r in mine],
            "seconds": [r["seconds"] for r in mine],
            "trainings": [r["curve"][-1]["trainings"] for r in mine],
            "epochs": [r["curve"][-1]["epochs"] for r in mine],
        }
    peers = [m for m in table if m.startswith("optuna")]
    headline = {}
    if peers:
        best = max(peers, key=lambda m: statistics.median(table[m]["hv_valid"]))
        headline["optuna_best"] = best
        for method in [m for m in table if not m.startswith("optuna")]:
            ratios = []
            for seed in args.seeds:
                peer = next((r for r in ok if r["method"] == best and r["seed"] == seed), None)
                mine = next((r for r in ok if r["method"] == method and r["seed"] == seed), None)
                if peer is None or mine is None:
                    continue
                target, t_peer = peer["hv_valid"], peer["seconds"]
                reach = next(
                    (c["seconds"] for c in mine["curve"] if c["hv_valid"] >= target - 1e-12),
                    math.inf,
                )
                ratios.append(reach / t_peer)
            headline[method] = {
                "time_to_reach_over_peer_time": ratios,
                "median": statistics.median(ratios) if ratios else None,
            }

    print(f"\n{'method':<14} {'valid HV':>16} {'test HV':>16} {'seconds':>12} {'trainings':>9}")
    for method, row in table.items():
        print(
            f"{method:<14} {statistics.median(row['hv_valid']):>9.4f} "
            f"[{min(row['hv_valid']):.3f}-{max(row['hv_valid']):.3f}] "
            f"{statistics.median(row['hv_test']):>8.4f} "
            f"[{min(row['hv_test']):.3f}-{max(row['hv_test']):.3f}] "
            f"{statistics.median(row['seconds']):>8.1f} {statistics.median(row['trainings']):>9}"
        )
    for b in baselines:
        print(
            f"{b['method']:<18} {b['hv_valid']:>9.4f} {'':>9} {b['hv_test']:>8.4f} "
            f"{'':>9} {b['seconds']:>8.1f} {1:>5}"
        )
    if headline:
        print(f"\ntime to reach {headline['optuna_best']}'s final validation HV, over its time:")
        for method, h in headline.items():
            if method != "optuna_best":
                per_seed = h["time_to_reach_over_peer_time"]
                print(f"  {method:<12} median {h['median']}  per seed {per_seed}")
    save(
        args.out,
        "search_efficiency",
        {
            "args": vars(args),
            "bounds": bounds,
            "table": table,
            "headline": headline,
            "baselines": baselines,
            "runs": runs,
        },
    )
    _figure(ok, methods, args.figure, baselines)
    print(f"wrote {args.out} and {args.figure}")


def _figure(runs, methods, path, baselines=()) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from moorec.plots import style

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, method in enumerate(methods):
        mine = [r for r in runs if r["method"] == method]
        if not mine:
            continue
        grid = np.linspace(0, max(c["seconds"] for r in mine for c in r["curve"]), 200)
        ys = np.array(
            [
                [max([c["hv_valid"] for c in r["curve"] if c["seconds"] <= t], default=0.0)
                 for t in grid]
                for r in mine
            ]
        )  # fmt: skip
        colour = style.PALETTE[i % len(style.PALETTE)]
        ax.plot(grid, np.median(ys, axis=0), label=method, color=colour)
        ax.fill_between(grid, ys.min(axis=0), ys.max(axis=0), alpha=0.15, color=colour)
    for j, b in enumerate(baselines):
        ax.axhline(
            b["hv_valid"], color="0.3", lw=0.9, ls=("--", ":")[j % 2],
            label=f"{b['method']} ({b['seconds']:.0f} s)",
        )  # fmt: skip
    ax.set_xlabel("wall-clock seconds of the search")
    ax.set_ylabel("validation hypervolume")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("median over seeds; band: min-max", fontsize=8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


if __name__ == "__main__":
    main()
