"""Warm starts: a search opened by the family's defaults, a known config and another run's front.

Runs a short NSGA-II search over BPR-MF (NDCG@10 against ILD@10), then a second one whose first
generation holds the family's defaults, a config given by hand and the first run's front
(``include_defaults``, ``initial``, ``initial_from``), and prints what opened each search and
the validation hypervolume after each generation. Uses ml-100k when it can be found
(``$MOOREC_DATA`` or the cache), else the synthetic shop; ``--synthetic`` uses a small shop.

    python examples/warm_start.py [--out runs/warm_start] [--pop-size 8] [--generations 3]
        [--epochs 20] [--synthetic]
"""

import argparse
from pathlib import Path

import moorec as mr
from moorec.search import Choice, LogReal, Real, Space

OBJECTIVES = ["ndcg@10", "ild@10"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/warm_start")
    p.add_argument("--pop-size", type=int, default=8)
    p.add_argument("--generations", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--synthetic", action="store_true", help="use a small synthetic shop")
    args = p.parse_args()

    data = mr.datasets.load_or_synthetic("ml-100k", synthetic=args.synthetic)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    space = Space(lr=LogReal(1e-4, 3e-2), dim=Choice([16, 32, 64]), div_weight=Real(0.0, 1.0))
    common = dict(
        model="bpr", pop_size=args.pop_size, generations=args.generations, seed=0,
        fixed={"epochs": args.epochs, "patience": 3}, progress=False,
    )  # fmt: skip
    out = Path(args.out)
    first = mr.search.search(split, space, OBJECTIVES, out=out / "first", **common)
    second = mr.search.search(
        split, space, OBJECTIVES, out=out / "second",
        initial=[{"lr": 3e-3, "dim": 32}], initial_from=str(out / "first"), **common,
    )  # fmt: skip
    for name, run in (("first", first), ("second", second)):
        opened = run.manifest["config"].get("initial", [])
        print(f"{name}: {len(opened)} warm-start configs opened generation 1")
        for cfg in opened:
            print("   ", cfg)
        hv = [round(g["hypervolume"], 4) for g in run.generations()]
        print(f"  validation hypervolume per generation: {hv}")


if __name__ == "__main__":
    main()
