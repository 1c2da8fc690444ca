"""Two-level search on ml-100k beside its baseline: one default BPR-MF re-ranked by MMR.

Reads examples/configs/two_level_bpr_ml100k.toml, stores the baseline front (one BPR-MF with its
family's default settings, its top-100 re-ranked by MMR at 21 weights) and then runs (or
resumes) the two-level search, which searches the training settings and the re-ranker together
and sweeps every trained candidate over 21 weights. Prints both fronts' hypervolumes (the area
above NDCG@10 0 and ILD@10 0.7) on validation and on test, side by side, and how many points of
the searched front came from each lever.

    python examples/two_level_search.py [--out runs/two_level] [--pop-size 16]
        [--generations 8] [--max-epochs N] [--synthetic]
"""

import argparse
import collections
from pathlib import Path

import numpy as np
from pymoo.indicators.hv import HV

import moorec as mr
from moorec.search.config import _load_split, search_settings

CONFIG = Path(__file__).resolve().parent / "configs" / "two_level_bpr_ml100k.toml"
REFERENCE = np.array([0.0, 0.7])  # NDCG@10, ILD@10


def areas(run) -> tuple[float, float]:
    """Hypervolume above REFERENCE of the run's front on validation and on test."""
    keys = ["ndcg@10", "ild@10"]
    members = run.pareto_front()
    out = []
    for part in ("valid", "test"):
        pts = np.array([[m[part][k] for k in keys] for m in members if m.get(part)])
        out.append(float(HV(ref_point=-REFERENCE)(-pts)) if len(pts) else 0.0)
    return out[0], out[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/two_level")
    p.add_argument("--pop-size", type=int, default=None, help="override search.pop_size")
    p.add_argument("--generations", type=int, default=None, help="override search.generations")
    p.add_argument("--max-epochs", type=int, default=None, help="search epochs in [1, N]")
    p.add_argument("--synthetic", action="store_true", help="a small synthetic shop (quick)")
    args = p.parse_args()

    cfg = mr.search.load_config(CONFIG)
    if args.pop_size:
        cfg["search"]["pop_size"] = args.pop_size
    if args.generations:
        cfg["search"]["generations"] = args.generations
    if args.max_epochs:
        cfg["space"]["epochs"] = {"type": "integer", "low": 1, "high": args.max_epochs}
    if args.synthetic:  # a quick check: small data, 5 sweep weights, one candidate count
        cfg["data"] = {
            "dataset": "synthetic-shop",
            "options": {"n_users": 300, "n_items": 200, "n_interactions": 6000},
        }
        cfg["search"]["sweep"] = {"rerank_weight": 5}
        cfg["space"]["rerank_candidates"] = {"type": "choice", "options": [50]}
    split, info = _load_split(cfg)
    out = Path(args.out)
    settings = search_settings(cfg)
    baseline = mr.search.baseline_front(
        split, out=out / "baseline", model=settings["model"], rerank="mmr",
        weights=5 if args.synthetic else 21,
        objectives=settings["objectives"], settings={"epochs": 20} if args.synthetic else None,
        data_info=info, progress=False,
    )  # fmt: skip
    run = mr.search.search(
        split, mr.search.Space.from_dict(cfg["space"]), out=out / "search", data_info=info,
        progress=False, **settings,
    )  # fmt: skip
    print(f"{'front':<28}{'HV valid':>10}{'HV test':>10}{'trainings':>11}")
    for name, r in (("baseline: BPR-MF + MMR", baseline), ("two-level search", run)):
        hv_valid, hv_test = areas(r)
        trained = sum(1 for t in r.trials() if t.get("trained"))
        print(f"{name:<28}{hv_valid:>10.4f}{hv_test:>10.4f}{trained:>11}")
    by_id = {t["trial"]: t for t in run.trials()}
    levers = collections.Counter(
        "training alone" if m["config"].get("rerank_weight") in (None, 0.0)
        else "sweep" if by_id[m["trial"]].get("from_sweep")
        else "searched re-ranker"
        for m in run.pareto_front()
    )  # fmt: skip
    print("front points by lever:", dict(levers))
    print(mr.search.pareto_table(run))


if __name__ == "__main__":
    main()
