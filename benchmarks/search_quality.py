"""NSGA-II against random search at an equal evaluation budget, over several seeds.

Both search BPR-MF on ml-100k (random 8:1:1 split) for NDCG@10 against ILD@10 over genres, with
the same space, the same fixed settings and the same number of trained candidates
(pop_size x generations). Prints and saves, per algorithm, the final hypervolume (normalised on
the natural [0, 1] range of both metrics) and IGD+ against the union front of all runs, with mean
and standard deviation over seeds.

    python benchmarks/search_quality.py [--seeds 0 1 2] [--pop-size 12] [--generations 6]
        [--out benchmarks/results/search_quality.json] [--synthetic]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import data_root, save

import moorec as mr
from moorec.objectives import parse_all
from moorec.search import Choice, Integer, LogReal, Space

OBJECTIVES = ["ndcg@10", "ild@10"]
BOUNDS = {"ndcg@10": [1.0, 0.0], "ild@10": [1.0, 0.0]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pop-size", type=int, default=10)
    p.add_argument("--generations", type=int, default=6)
    p.add_argument("--algorithms", nargs="+", default=["nsga2", "random"])
    p.add_argument("--runs-dir", default=None, help="keep the run folders here")
    p.add_argument("--out", default="benchmarks/results/search_quality.json")
    p.add_argument("--synthetic", action="store_true", help="small synthetic shop (quick check)")
    args = p.parse_args()

    if args.synthetic:
        data = mr.datasets.synthetic_shop(n_users=400, n_items=300, n_interactions=8000, seed=0)
    else:
        root = data_root()
        if root is None:
            raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
        data = mr.datasets.load("ml-100k", path=root / "ml-100k")
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    space = Space(
        lr=LogReal(2e-3, 2e-2),
        epochs=Integer(5, 30),
        dim=Choice([16, 32, 64]),
        div_weight=LogReal(1e-3, 3.0),
        div_temperature=LogReal(0.2, 1.0),
    )
    fixed = {"patience": 0}
    runs_dir = Path(args.runs_dir or tempfile.mkdtemp(prefix="moorec-search-quality-"))
    objs = parse_all(OBJECTIVES)

    results = []
    for seed in args.seeds:
        for algo in args.algorithms:
            t0 = time.perf_counter()
            run = mr.search.search(
                split,
                space,
                OBJECTIVES,
                out=runs_dir / f"{algo}-seed{seed}",
                algorithm=algo,
                pop_size=args.pop_size,
                generations=args.generations,
                seed=seed,
                fixed=fixed,
                reference=BOUNDS,
                data_info={"dataset": data.name},
                progress=False,
            )
            values, _ = run.objective_matrix("valid")
            hv = run.hypervolume_history()[-1][1]
            results.append(
                {
                    "algorithm": algo,
                    "seed": seed,
                    "hypervolume": hv,
                    "evaluations": len(run.trials()),
                    "failures": len(run.failed()),
                    "front_size": len(run.pareto_front()),
                    "values": values.tolist(),
                    "hypervolume_history": run.hypervolume_history(),
                    "seconds": time.perf_counter() - t0,
                }
            )
            print(
                f"{algo:>7} seed {seed}: hypervolume {hv:.4f}, front {len(run.pareto_front())}"
                f", {len(run.trials())} trials, {time.perf_counter() - t0:.0f} s",
                flush=True,
            )

    union = np.concatenate([np.array(r["values"]) for r in results])
    reference_front = union[mr.search.non_dominated(union, objs)]
    for r in results:
        r["igd_plus"] = mr.search.igd_plus(np.array(r.pop("values")), reference_front, objs, BOUNDS)
    summary = {}
    for algo in args.algorithms:
        hv = np.array([r["hypervolume"] for r in results if r["algorithm"] == algo])
        igd = np.array([r["igd_plus"] for r in results if r["algorithm"] == algo])
        summary[algo] = {
            "hypervolume_mean": float(hv.mean()),
            "hypervolume_std": float(hv.std()),
            "igd_plus_mean": float(igd.mean()),
            "igd_plus_std": float(igd.std()),
            "seeds": len(hv),
        }
    print(
        f"\n{'algorithm':>10} {'hypervolume':>20} {'IGD+':>20}   ({len(args.seeds)} seeds, "
        f"{args.pop_size} x {args.generations} evaluations each)"
    )
    for algo, s in summary.items():
        print(
            f"{algo:>10} {s['hypervolume_mean']:>12.4f} ± {s['hypervolume_std']:.4f}"
            f" {s['igd_plus_mean']:>12.4f} ± {s['igd_plus_std']:.4f}"
        )
    figures = {
        "dataset": data.summary(),
        "objectives": OBJECTIVES,
        "space": space.to_dict(),
        "fixed": fixed,
        "pop_size": args.pop_size,
        "generations": args.generations,
        "summary": summary,
        "runs": results,
        "runs_dir": str(runs_dir),
    }
    path = save(args.out, "search_quality", figures)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
