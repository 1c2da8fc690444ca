"""Paper figures from stored runs: NSGA-II against random search on ml-100k, NDCG@10 vs ILD@10.

Draws, from one NSGA-II run and one random-search run (and three seeds of each for the
attainment surfaces), the 2-D Pareto front, the two fronts overlaid, the scatter matrix, the
hypervolume curves and the empirical attainment surfaces, as PDF and PNG, plus the Pareto table
of the NSGA-II run as Markdown and LaTeX. Figures are made from the run folders only.

Run folders ``RUNS_DIR/{nsga2,random}-seed{0,1,2}`` that are finished are reused as they are
(``benchmarks/search_quality.py --runs-dir RUNS_DIR`` writes exactly these); missing ones are
searched here with a small budget (8 x 4 candidates of BPR-MF, ``patience = 0``), and an
interrupted one is resumed.

    python examples/paper_figures.py [--out paper_figures] [--runs-dir runs/paper_figures]
        [--seeds 0 1 2] [--dpi 300] [--synthetic]
"""

import argparse
import time
from pathlib import Path

import matplotlib.pyplot as plt

import moorec as mr
from moorec import plots
from moorec.io import atomic_write_text
from moorec.plots import style
from moorec.search import Choice, Integer, LogReal, Space

OBJECTIVES = ["ndcg@10", "ild@10"]
BOUNDS = {"ndcg@10": [1.0, 0.0], "ild@10": [1.0, 0.0]}  # hypervolume on the natural [0, 1]
NAMES = {"nsga2": "NSGA-II", "random": "random search"}


def get_run(runs_dir: Path, algorithm: str, seed: int, budget: dict, data_fn) -> mr.results.Run:
    """The finished run folder if there is one, else the search (resumed where it stopped)."""
    folder = runs_dir / f"{algorithm}-seed{seed}"
    if (folder / "manifest.json").exists():
        run = mr.results.load(folder)
        if run.complete:
            print(f"reusing {folder} ({len(run.trials())} trials)")
            return run
    t0 = time.perf_counter()
    split, space, fixed, name = data_fn()
    try:
        run = mr.search.search(
            split,
            space,
            OBJECTIVES,
            out=folder,
            algorithm=algorithm,
            seed=seed,
            fixed=fixed,
            reference=BOUNDS,
            data_info={"dataset": name},
            progress=False,
            **budget,
        )
    except mr.errors.RunConfigMismatchError:
        run = mr.results.load(folder)
        print(f"{folder} holds an unfinished run of another config; drawing what is there")
        return run
    print(f"searched {folder}: {len(run.trials())} trials in {time.perf_counter() - t0:.0f} s")
    return run


def make_data(synthetic: bool):
    """A function that loads the data and split once, when a search first needs them."""
    cache = {}

    def data_fn():
        if not cache:
            if synthetic:
                data = mr.datasets.synthetic_shop(
                    n_users=200, n_items=150, n_interactions=3000, seed=0
                )
                space = Space(lr=LogReal(5e-3, 5e-2), div_weight=LogReal(1e-3, 3.0))
                fixed = {"patience": 0, "epochs": 2, "dim": 8, "batch_size": 1024}
            else:
                try:
                    data = mr.datasets.load("ml-100k", download=False)
                except mr.MoorecError as err:
                    raise SystemExit(f"{err}\n(or use --synthetic)") from err
                space = Space(  # as in benchmarks/search_quality.py
                    lr=LogReal(2e-3, 2e-2),
                    epochs=Integer(5, 30),
                    dim=Choice([16, 32, 64]),
                    div_weight=LogReal(1e-3, 3.0),
                    div_temperature=LogReal(0.2, 1.0),
                )
                fixed = {"patience": 0}
            split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
            cache["v"] = (split, space, fixed, data.name)
        return cache["v"]

    return data_fn


# One function per figure: the code shown in docs/plots.md.
def front_figure(nsga2, out: Path, dpi: int) -> list[Path]:
    """The 2-D front of the NSGA-II run: trials faded, front as a step line, knee marked."""
    fig, ax = style.figure("single")
    plots.front(nsga2, "ndcg@10", "ild@10", ax=ax)
    paths = style.save(fig, out / "front", dpi=dpi)
    plt.close(fig)
    return paths


def fronts_figure(nsga2, random, out: Path, dpi: int) -> list[Path]:
    """The fronts of the NSGA-II and random-search runs overlaid."""
    fig, ax = style.figure("single")
    plots.fronts([nsga2, random], "ndcg@10", "ild@10", labels=["NSGA-II", "random search"], ax=ax)
    paths = style.save(fig, out / "fronts", dpi=dpi)
    plt.close(fig)
    return paths


def scatter_figure(nsga2, out: Path, dpi: int) -> list[Path]:
    """The scatter matrix of the NSGA-II run (one panel per pair of objectives)."""
    fig = plots.scatter_matrix(nsga2)
    paths = style.save(fig, out / "scatter_matrix", dpi=dpi)
    plt.close(fig)
    return paths


def hypervolume_figure(nsga2, random, out: Path, dpi: int) -> list[Path]:
    """Hypervolume of both runs against generation and against wall-clock time."""
    fig, (by_gen, by_time) = style.figure("double", ncols=2)
    labels = ["NSGA-II", "random search"]
    plots.hypervolume([nsga2, random], x="generation", labels=labels, ax=by_gen)
    plots.hypervolume([nsga2, random], x="time", labels=labels, ax=by_time)
    paths = style.save(fig, out / "hypervolume", dpi=dpi)
    plt.close(fig)
    return paths


def attainment_figure(groups: dict, out: Path, dpi: int) -> list[Path]:
    """Median and 25/75 % attainment surfaces of each algorithm over its seeds."""
    fig, ax = style.figure("single")
    plots.attainment(groups, "ndcg@10", "ild@10", ax=ax)
    paths = style.save(fig, out / "attainment", dpi=dpi)
    plt.close(fig)
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="paper_figures", help="folder for the figures and tables")
    p.add_argument("--runs-dir", default="runs/paper_figures", help="run folders (reused)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--pop-size", type=int, default=8, help="for runs searched here")
    p.add_argument("--generations", type=int, default=4, help="for runs searched here")
    p.add_argument("--dpi", type=int, default=300, help="PNG resolution")
    p.add_argument("--synthetic", action="store_true", help="small synthetic shop, tiny budget")
    args = p.parse_args()

    budget = {"pop_size": args.pop_size, "generations": args.generations}
    if args.synthetic:
        budget = {"pop_size": 4, "generations": 2}
    runs_dir, out = Path(args.runs_dir), Path(args.out)
    data_fn = make_data(args.synthetic)
    groups = {
        NAMES[algo]: [get_run(runs_dir, algo, seed, budget, data_fn) for seed in args.seeds]
        for algo in ("nsga2", "random")
    }
    nsga2, random = groups[NAMES["nsga2"]][0], groups[NAMES["random"]][0]

    written = []
    written += front_figure(nsga2, out, args.dpi)
    written += fronts_figure(nsga2, random, out, args.dpi)
    written += scatter_figure(nsga2, out, args.dpi)
    written += hypervolume_figure(nsga2, random, out, args.dpi)
    if len(args.seeds) >= 2:
        written += attainment_figure(groups, out, args.dpi)
    else:
        print("one seed per algorithm: no attainment surfaces (give --seeds 0 1 2)")
    written.append(atomic_write_text(out / "pareto.md", mr.results.pareto_markdown(nsga2)))
    caption = r"Pareto set of NSGA-II over BPR-MF: NDCG@10 against ILD@10 (validation and test)."
    tex = mr.results.pareto_latex(nsga2, caption=caption, label="tab:pareto")
    written.append(atomic_write_text(out / "pareto.tex", tex))

    front = nsga2.pareto_front()
    knee = nsga2.knee()
    print(
        f"\nNSGA-II seed {args.seeds[0]}: {len(front)} of {len(nsga2.trials())} trials on the "
        f"front; knee trial {knee['trial'] if knee else None}; final hypervolume "
        f"{nsga2.hypervolume_history()[-1][1]:.4f} (random search "
        f"{random.hypervolume_history()[-1][1]:.4f})"
    )
    for path in written:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
