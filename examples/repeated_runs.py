"""Repeated runs: two search algorithms, several seeds each, compared with intervals and tests.

Runs NSGA-II and random search over BPR-MF (NDCG@10 against ILD@10) as two studies of
``--seeds`` runs each, then prints each study's hypervolume (mean and BCa bootstrap interval,
validation and test), the difference between the two with a Mann-Whitney U and a permutation
test over runs, and a per-user paired comparison (Wilcoxon, t, effect sizes) of the two
studies' best-NDCG models on the test split, and writes the hypervolume-against-time figure
and the attainment difference into ``--out``. Uses ml-100k when it can be found
(``$MOOREC_DATA`` or the cache), else the synthetic shop; ``--synthetic`` uses a small shop.

    python examples/repeated_runs.py [--out runs/repeated] [--seeds 0-4] [--pop-size 8]
        [--generations 3] [--epochs 20] [--synthetic]
"""

import argparse
from pathlib import Path

import moorec as mr
from moorec import stats
from moorec.plots.study import eaf_difference_figure, hv_time_figure
from moorec.search import Choice, LogReal, Real, Space
from moorec.search import study as st

OBJECTIVES = ["ndcg@10", "ild@10"]


def best_model_per_user(split, study):
    """Per-user test values of the highest-NDCG front member of the study's first run.

    The runs keep their front's trained models (``save_front``), so nothing is retrained.
    """
    run = study.runs()[0]
    best = max(run.pareto_front(), key=lambda m: m["valid"]["ndcg@10"])
    model = mr.models.load(run.saved_models()[best["trial"]], data=split.train)
    ev = mr.objectives.Evaluator(split, "test", OBJECTIVES)
    return ev.per_user(model)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/repeated")
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--pop-size", type=int, default=8)
    p.add_argument("--generations", type=int, default=3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--synthetic", action="store_true", help="use a small synthetic shop")
    args = p.parse_args()

    data = mr.datasets.load_or_synthetic("ml-100k", synthetic=args.synthetic)
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    space = Space(lr=LogReal(1e-4, 3e-2), dim=Choice([16, 32, 64]), div_weight=Real(0.0, 1.0))
    fixed = {"epochs": args.epochs, "patience": 3}
    out = Path(args.out)
    studies = [
        st.run_study(split, space, OBJECTIVES, out=out / alg, seeds=args.seeds, algorithm=alg,
                     pop_size=args.pop_size, generations=args.generations, fixed=fixed,
                     save_front=True, progress=False)
        for alg in ("nsga2", "random")
    ]  # fmt: skip
    bounds = st.shared_bounds(studies)
    print(f"reference: {bounds}")
    for part in ("valid", "test"):
        for s in studies:
            summary = st.summarize(s, bounds, part=part)
            print(f"{s.label:>7} {part:>5} HV {summary['hypervolume']} over {summary['runs']} runs")
    c = st.compare(studies[0], studies[1], bounds)["comparison"]
    print(
        f"nsga2 - random, valid HV: {c.difference:+.4f} [{c.low:+.4f}, {c.high:+.4f}], "
        f"Mann-Whitney p {c.mann_whitney_p:.3f}, permutation p {c.permutation_p:.3f}"
    )
    a, b = (best_model_per_user(split, s) for s in studies)
    for key in OBJECTIVES:
        t = stats.paired(a[key], b[key])
        print(
            f"best-NDCG models, test {key}: mean difference {t.mean_difference:+.4f} over "
            f"{t.n} users, Wilcoxon p {t.wilcoxon_p:.3g} (r {t.rank_biserial:+.2f}), "
            f"t p {t.t_p:.3g} (d_z {t.cohens_dz:+.2f})"
        )
    print("wrote", *hv_time_figure(studies, bounds, out / "hv_time"))
    print("wrote", *eaf_difference_figure(studies[0], studies[1], out / "eaf_difference"))


if __name__ == "__main__":
    main()
