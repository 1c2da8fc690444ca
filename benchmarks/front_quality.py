"""Front quality on ml-100k: loss-weight search, the MMR baseline and two-level searches.

ml-100k, random 8:1:1 per user (seed 0), objectives NDCG@10 and ILD@10 (genres, Jaccard). Four
fronts, each run in this process one after another (one timing job at a time):

(a) the loss-weight search of ``examples/configs/nsga2_bpr_ml100k.toml`` (NSGA-II 16 x 8 over
    BPR-MF's lr, epochs, dim and diversity-loss weight and temperature), restricted to these
    two objectives (its latency objective and latency bound dropped);
(b) the baseline front: one BPR-MF with its family's default settings, its top-100 re-ranked
    by MMR for 21 weights (:func:`moorec.search.baseline_front`);
(c) the two-level search of ``examples/configs/two_level_bpr_ml100k.toml`` (the training lever
    and the re-ranking lever together, each trained candidate swept over 21 weights);
(d) the two-level search of ``examples/configs/two_level_ease_ml100k.toml``: the same re-ranking
    lever over EASE (Steck, WWW 2019), whose training lever is its L2 weight;
(e) the baseline front of the strongest simple model: one EASE with its family's default
    settings, its top-100 re-ranked by MMR for 21 weights (run with ``--only b d e``).

Hypervolume is the area dominated above the fixed reference point (ndcg@10 0, ild@10 0.7) on
raw values (pymoo's HV on the minimisation form), on validation (the non-dominated trials of
each run) and on test (the test values of those same front members). Wall-clock is each run's
whole time (data already loaded and split). Targets: (c) >= 1.05 x (b) and >= 1.2 x (a) on
validation and on test, in no more wall-clock than (a), with no more trainings than (a);
(d) >= 1.15 x (b) on validation and on test; (d) against (e) is reported beside them.

    python benchmarks/front_quality.py [--out benchmarks/results/front_quality.json]
        [--runs-dir DIR] [--figure docs/img/rerank_fronts.png] [--synthetic]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import REPO, data_root, save
from pymoo.indicators.hv import HV

import moorec as mr
from moorec.executors.posthoc import POSTHOC_NAMES, training_part
from moorec.search.config import _load_split, load_config
from moorec.search.runner import search

OBJECTIVES = ["ndcg@10", "ild@10"]
REFERENCE = (0.0, 0.7)  # (ndcg@10, ild@10): the area above both counts
CONFIG_A = REPO / "examples" / "configs" / "nsga2_bpr_ml100k.toml"
CONFIG_C = REPO / "examples" / "configs" / "two_level_bpr_ml100k.toml"
CONFIG_D = REPO / "examples" / "configs" / "two_level_ease_ml100k.toml"


def area(points: np.ndarray) -> float:
    """Area dominated by ``[n, 2]`` (ndcg, ild) points above :data:`REFERENCE` (both maximised)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(HV(ref_point=-np.asarray(REFERENCE))(-pts))


def front_figures(run) -> dict:
    """Validation and test hypervolume of a run's front, and the front's size."""
    members = run.pareto_front()
    valid = np.array([[m["valid"][k] for k in OBJECTIVES] for m in members])
    tested = [m for m in members if m.get("test")]
    test = np.array([[m["test"][k] for k in OBJECTIVES] for m in tested])
    return {
        "hv_valid": area(valid),
        "hv_test": area(test),
        "front_size": len(members),
        "trials": len(run.trials()),
        "trainings": sum(
            1
            for t in run.trials()
            if t.get("trained", t.get("parent") is None) and t["status"] == "ok"
        ),
    }


def lever(trial: dict) -> str:
    """Which lever gave a front point: training alone, a sweep point, or a searched re-ranker."""
    cfg = trial["config"]
    if cfg.get("rerank", "none") == "none" or cfg.get("rerank_weight") == 0.0:
        return "training alone (no re-ranking)"
    if trial.get("from_sweep"):
        return "sweep of a trained candidate"
    if trial.get("parent") is not None:
        return "re-ranking-only candidate proposed by NSGA-II (model reused)"
    return "trained candidate with the re-ranker NSGA-II proposed"


def describe_front(run) -> list[dict]:
    """Each front member: model config, re-ranker, weight, lever, valid and test values."""
    by_id = {t["trial"]: t for t in run.trials()}
    out = []
    for m in sorted(run.pareto_front(), key=lambda m: m["valid"][OBJECTIVES[0]]):
        t = by_id[m["trial"]]
        cfg = m["config"]
        fixed = run.manifest["config"].get("fixed", {})
        merged = {**fixed, **cfg}
        out.append({
            "trial": m["trial"],
            "parent": t.get("parent"),
            "model_config": training_part(cfg),
            "rerank": merged.get("rerank", "none"),
            "rerank_weight": merged.get("rerank_weight") if merged.get("rerank", "none") != "none"
            else None,
            "rerank_candidates": merged.get("rerank_candidates", 100),
            "lever": lever(t),
            "valid": {k: m["valid"][k] for k in OBJECTIVES},
            "test": {k: m["test"][k] for k in OBJECTIVES} if m.get("test") else None,
        })  # fmt: skip
    return out


def restricted(cfg: dict) -> dict:
    """Config (a): the loss-weight search with only NDCG@10 and ILD@10."""
    cfg = copy.deepcopy(cfg)
    cfg["search"]["objectives"] = list(OBJECTIVES)
    cfg["search"].pop("constraints", None)
    cfg.pop("reference", None)
    return cfg


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="benchmarks/results/front_quality.json")
    p.add_argument("--runs-dir", default=None, help="keep the run folders here")
    p.add_argument("--figure", default=None, help="also draw the fronts into this PNG")
    p.add_argument("--synthetic", action="store_true", help="a small synthetic shop, 4 x 2")
    p.add_argument("--only", nargs="+", choices=tuple("abcde"), default=list("abcd"))
    args = p.parse_args()

    cfg_a, cfg_c = restricted(load_config(CONFIG_A)), load_config(CONFIG_C)
    cfg_d = load_config(CONFIG_D)
    if args.synthetic:
        for cfg in (cfg_a, cfg_c, cfg_d):
            cfg["data"] = {
                "dataset": "synthetic-shop",
                "options": {"n_users": 300, "n_items": 200, "n_interactions": 6000},
            }
            cfg["search"].update(pop_size=4, generations=2)
            if "epochs" in cfg["space"]:
                cfg["space"]["epochs"] = {"type": "integer", "low": 2, "high": 4}  # fmt: skip
    else:
        root = data_root()
        if root is None:
            raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
        for cfg in (cfg_a, cfg_c, cfg_d):
            cfg["data"]["path"] = str(root / "ml-100k")
    split, info = _load_split(cfg_a)
    print(split.summary())
    runs_dir = Path(args.runs_dir or tempfile.mkdtemp(prefix="moorec-front-quality-"))
    results: dict[str, dict] = {}
    runs = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        run = fn()
        seconds = time.perf_counter() - t0
        runs[name] = run
        results[name] = {**front_figures(run), "seconds": seconds, "run": str(run.path)}
        r = results[name]
        print(
            f"({name}) hv valid {r['hv_valid']:.4f}  test {r['hv_test']:.4f}  "
            f"{r['trainings']} trainings, {r['trials']} trials, {seconds:.1f} s",
            flush=True,
        )

    def settings(cfg):
        from moorec.search.config import search_settings

        s = search_settings(cfg)
        return dict(s, progress=False, data_info=info)

    from moorec.search import Space, baseline_front

    if "a" in args.only:
        timed("a", lambda: search(split, Space.from_dict(cfg_a["space"]),
                                  out=runs_dir / "a-loss-weights", **settings(cfg_a)))  # fmt: skip
    if "b" in args.only:
        timed("b", lambda: baseline_front(
            split, out=runs_dir / "b-baseline", model="bpr", rerank="mmr", weights=21,
            objectives=OBJECTIVES, data_info=info, progress=False,
        ))  # fmt: skip
    if "c" in args.only:
        timed("c", lambda: search(split, Space.from_dict(cfg_c["space"]),
                                  out=runs_dir / "c-two-level", **settings(cfg_c)))  # fmt: skip
    if "e" in args.only:
        timed("e", lambda: baseline_front(
            split, out=runs_dir / "e-ease-baseline", model="ease", rerank="mmr", weights=21,
            objectives=OBJECTIVES, data_info=info, progress=False,
        ))  # fmt: skip
    if "d" in args.only:
        timed("d", lambda: search(split, Space.from_dict(cfg_d["space"]),
                                  out=runs_dir / "d-ease", **settings(cfg_d)))  # fmt: skip
    ratios = {}
    if "c" in results:
        for other in ("a", "b"):
            if other in results:
                for part in ("valid", "test"):
                    ratios[f"c_over_{other}_{part}"] = results["c"][f"hv_{part}"] / max(
                        results[other][f"hv_{part}"], 1e-12
                    )
        results["c"]["front"] = describe_front(runs["c"])
        levers: dict[str, int] = {}
        for point in results["c"]["front"]:
            levers[point["lever"]] = levers.get(point["lever"], 0) + 1
        results["c"]["front_levers"] = levers
    if "d" in results:
        if "b" in results:
            for part in ("valid", "test"):
                ratios[f"d_over_b_{part}"] = results["d"][f"hv_{part}"] / max(
                    results["b"][f"hv_{part}"], 1e-12
                )
        if "e" in results:
            for part in ("valid", "test"):
                ratios[f"d_over_e_{part}"] = results["d"][f"hv_{part}"] / max(
                    results["e"][f"hv_{part}"], 1e-12
                )
        results["d"]["front"] = describe_front(runs["d"])
        levers = {}
        for point in results["d"]["front"]:
            levers[point["lever"]] = levers.get(point["lever"], 0) + 1
        results["d"]["front_levers"] = levers
    for name in ("b", "e"):
        if name in results:
            results[name]["front"] = describe_front(runs[name])
    targets = {
        "c_over_b": 1.05,
        "c_over_a": 1.2,
        "c_seconds_at_most_a": results.get("a", {}).get("seconds"),
        "c_trainings_at_most_a": results.get("a", {}).get("trainings"),
        "d_over_b": 1.15,
    }
    met = {}
    if {"a", "b", "c"} <= set(results):
        met = {
            "c_over_b": all(ratios[f"c_over_b_{p}"] >= 1.05 for p in ("valid", "test")),
            "c_over_a": all(ratios[f"c_over_a_{p}"] >= 1.2 for p in ("valid", "test")),
            "c_seconds": results["c"]["seconds"] <= results["a"]["seconds"],
            "c_trainings": results["c"]["trainings"] <= results["a"]["trainings"],
        }
    if {"b", "d"} <= set(results):
        met["d_over_b"] = all(ratios[f"d_over_b_{p}"] >= 1.15 for p in ("valid", "test"))
    for key, value in ratios.items():
        print(f"{key}: {value:.3f}")
    print("targets met:", met)
    if args.figure and runs:
        from moorec.plots import style
        from moorec.plots.front import fronts

        names = {"a": "(a) loss-weight search", "b": "(b) BPR-MF + MMR (baseline)",
                 "c": "(c) two-level, BPR-MF", "d": "(d) two-level, EASE",
                 "e": "(e) EASE + MMR (baseline)"}  # fmt: skip
        order = [k for k in ("a", "b", "c", "e", "d") if k in runs]
        ax = fronts([runs[k] for k in order], *OBJECTIVES, labels=[names[k] for k in order])
        ax.set_title(f"{info['dataset']}: validation fronts", fontsize=8)
        style.save(ax.figure, Path(args.figure).with_suffix(""), formats=("png",))
        print(f"figure -> {args.figure}")
    save(
        args.out,
        "front_quality",
        {
            "protocol": "ml-100k random 8:1:1 per user (seed 0); objectives ndcg@10, ild@10 "
            "(genres, Jaccard); hypervolume = area dominated above (ndcg@10 0, ild@10 0.7) on "
            "raw values; validation: the run's non-dominated trials; test: the test values of "
            "those members",
            "synthetic": args.synthetic,
            "reference_point": {"ndcg@10": REFERENCE[0], "ild@10": REFERENCE[1]},
            "runs": results,
            "ratios": ratios,
            "targets": targets,
            "met": met,
            "posthoc_settings": sorted(POSTHOC_NAMES),
            "moorec": mr.__version__ if hasattr(mr, "__version__") else None,
        },
    )


if __name__ == "__main__":
    main()
