"""Is ``auto`` ever slower than sequential? A small and a larger search under each executor.

Each search (NSGA-II over BPR-MF on ml-100k, random 8:1:1 seed 0, NDCG@10 against ILD@10,
learning rate and size searched, ``--epochs`` epochs with patience 3) runs in a fresh Python
process per executor, as a researcher runs one search per process; the wall time of the search
call is measured there (the interpreter's own start-up and imports are reported apart), and the
executors alternate over ``--repeats`` rounds so that a slow spell of the machine hits each of
them. ``auto``'s decision (stay here or start workers, and the numbers behind it) is read from
the run's manifest.

    MOOREC_DATA=../shared/datasets python benchmarks/auto_choice.py
        [--sizes 8x3 16x6] [--executors sequential auto processes] [--repeats 2]
        [--epochs 20] [--out benchmarks/results/auto_choice.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import data_root, save

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import moorec as mr
from moorec.search import Choice, LogReal, Space
imported = time.perf_counter() - t0
root, pop, gens, epochs, executor, out = sys.argv[1:7]
data = mr.datasets.load("ml-100k", path=root + "/ml-100k")
split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
space = Space(lr=LogReal(1e-4, 3e-2), dim=Choice([16, 32, 64]))
t1 = time.perf_counter()
run = mr.search.search(split, space, ["ndcg@10", "ild@10"], out=out, model="bpr",
                       pop_size=int(pop), generations=int(gens), seed=0, executor=executor,
                       fixed={"epochs": int(epochs), "patience": 3}, progress=False)
seconds = time.perf_counter() - t1
ex = run.manifest["executor"]
print(json.dumps({"seconds": seconds, "import_seconds": imported, "executor": ex,
                  "trials": len(run.trials())}))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["8x3", "16x6"], help="POPxGENERATIONS")
    p.add_argument("--executors", nargs="+", default=["sequential", "auto", "processes"])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", default="benchmarks/results/auto_choice.json")
    args = p.parse_args()
    sizes = []
    for s in args.sizes:
        pop, _, gens = s.partition("x")
        if not (pop.isdigit() and gens.isdigit()):
            raise SystemExit(f"--sizes takes POPxGENERATIONS, e.g. 8x3; got {s!r}")
        sizes.append((int(pop), int(gens)))
    root = data_root()
    if root is None:
        raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")

    rows = []
    for pop, gens in sizes:
        for r in range(args.repeats):
            for executor in args.executors:
                with tempfile.TemporaryDirectory() as tmp:
                    load = os.getloadavg()[0]
                    t0 = time.perf_counter()
                    out = subprocess.run(
                        [sys.executable, "-c", CHILD, str(root), str(pop), str(gens),
                         str(args.epochs), executor, str(Path(tmp) / "run")],
                        capture_output=True, text=True, check=False,
                    )  # fmt: skip
                    wall = time.perf_counter() - t0
                if out.returncode != 0:
                    raise SystemExit(f"{executor} {pop}x{gens} failed:\n{out.stderr[-3000:]}")
                res = json.loads(out.stdout.strip().splitlines()[-1])
                ex = res["executor"]
                row = {
                    "pop_size": pop,
                    "generations": gens,
                    "repeat": r,
                    "executor": executor,
                    "ran": ex.get("name"),
                    "search_seconds": res["seconds"],
                    "import_seconds": res["import_seconds"],
                    "process_seconds": wall,
                    "trials": res["trials"],
                    "decision": ex.get("decision"),
                    "load_average_1min": load,
                }
                rows.append(row)
                print(
                    f"{pop}x{gens} round {r} {executor:>10} (ran {row['ran']}): search "
                    f"{res['seconds']:.1f} s, process {wall:.1f} s",
                    flush=True,
                )
    summary = {}
    for pop, gens in sizes:
        mine = [r for r in rows if (r["pop_size"], r["generations"]) == (pop, gens)]
        med = {
            e: statistics.median(r["search_seconds"] for r in mine if r["executor"] == e)
            for e in args.executors
        }
        summary[f"{pop}x{gens}"] = {
            "median_search_seconds": med,
            "auto_over_sequential": (
                med["auto"] / med["sequential"] if {"auto", "sequential"} <= set(med) else None
            ),
        }
    print(json.dumps(summary, indent=1))
    save(args.out, "auto_choice", {"args": vars(args), "rows": rows, "summary": summary})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
