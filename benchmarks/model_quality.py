"""Every model on ml-100k under its family's standard protocol: a table of test objectives.

General models (Pop, ItemKNN, EASE, RP3beta, BPR-MF, NeuMF, LightGCN, two-tower, MultVAE): random
8:1:1 split per user (seed 0), full ranking. Sequential models (SASRec, BERT4Rec, GRU4Rec):
time-ordered leave-one-out, full ranking. Each model is trained with ``--seeds`` training seeds
(initialisation, shuffling, negatives; the split stays the same) and the table gives the mean and
the standard deviation over them (``n - 1`` denominator). Each model trains
with its family's default settings (``moorec.models.defaults(name)``: the table the CLI and
``moorec.fit`` use, so the figures are what ``moorec train --model NAME`` gives), with early
stopping on validation NDCG@10, and is scored on validation and test: Recall/NDCG/Hit/MRR@10,
ILD@10 over genres, latency (median ms of a jitted recommend for 256 users) and parameter count,
with seconds per epoch (median, validation included) and the whole fit time. The machine's load
average is recorded before and after each fit: seconds measured under load are not comparable
with a quiet machine's.

    python benchmarks/model_quality.py [--models bpr neumf ...] [--seeds 0 1 2]
        [--epochs N] [--patience N]   (default: each family's setting)
        [--out benchmarks/results/model_quality.json]   (also writes the .md table beside it)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from _common import data_root, save

import moorec as mr
from moorec.io import atomic_write_text

OBJECTIVES = ["recall@10", "ndcg@10", "hit@10", "mrr@10", "ild@10", "latency_ms", "params"]

MODELS = [
    "pop", "itemknn", "ease", "rp3beta", "bpr", "neumf", "lightgcn", "two_tower", "multvae",
    "sasrec", "bert4rec", "gru4rec",
]  # fmt: skip
QUALITY = ["recall@10", "ndcg@10", "hit@10", "mrr@10", "ild@10"]


def spread(values) -> tuple[float, float]:
    """``(mean, sample standard deviation)``; the deviation is 0 for one value."""
    values = list(values)
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


def cell(values, digits: int = 4) -> str:
    """``mean ± sd`` of several values, the value alone for one."""
    values = list(values)
    mean, sd = spread(values)
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    p.add_argument("--epochs", type=int, default=None, help="default: each family's setting")
    p.add_argument("--patience", type=int, default=None, help="default: each family's setting")
    p.add_argument("--out", default="benchmarks/results/model_quality.json")
    p.add_argument(
        "--keep-others",
        action="store_true",
        help="keep the rows of --out's models not run now (each kept row names its commit)",
    )
    args = p.parse_args()

    root = data_root()
    if root is None:
        raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
    data = mr.datasets.load("ml-100k", path=root / "ml-100k")
    splits = {
        "random": mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0),
        "loo": mr.split.leave_one_out(data, order="time"),
    }
    rows, skipped = [], {}
    for name in args.models:
        if name not in mr.models.available():
            skipped[name] = "not registered"
            print(f"{name}: not registered, skipped")
            continue
        family = mr.models.defaults(name)
        protocol, model_kw = family["split"], family["model"]
        train_kw = family["train"]
        closed = getattr(mr.models.registry._MODELS[name], "closed_form", False)
        for key in ("epochs", "patience"):
            if getattr(args, key) is not None and not (closed and key == "epochs"):
                train_kw[key] = getattr(args, key)  # a closed-form model has no epochs
        split = splits[protocol]
        for seed in args.seeds:
            load_before = os.getloadavg()[0]
            t0 = time.perf_counter()
            result = mr.fit(split, name, seed=seed, **train_kw, **model_kw)
            fit_seconds = time.perf_counter() - t0
            load_after = os.getloadavg()[0]
            valid = mr.evaluate(result.model, split, "valid", OBJECTIVES)
            test = mr.evaluate(result.model, split, "test", OBJECTIVES)
            epoch_seconds = (
                statistics.median(h["seconds"] for h in result.history[1:])
                if len(result.history) > 1
                else result.history[0]["seconds"]
            )
            rows.append(
                {
                    "model": name,
                    "protocol": protocol,
                    "seed": seed,
                    "valid": valid,
                    "test": test,
                    "best_epoch": result.best_epoch,
                    "epochs_run": len(result.history),
                    "epoch_seconds": epoch_seconds,
                    "fit_seconds": fit_seconds,
                    "first_epoch_seconds": result.first_epoch_seconds,
                    "settings": {**train_kw, **model_kw},
                    "load_average_1min": [load_before, load_after],
                }
            )
            print(
                f"{name:>10} ({protocol}, seed {seed}): valid ndcg@10 {valid['ndcg@10']:.4g}; "
                "test "
                + ", ".join(f"{k} {v:.4g}" for k, v in test.items())
                + f"; best epoch {result.best_epoch}, "
                f"{epoch_seconds:.3f} s/epoch, fit {fit_seconds:.1f} s",
                flush=True,
            )

    out = Path(args.out)
    if args.keep_others and out.exists():
        old = json.loads(out.read_text())
        env = old.get("environment", {})
        made = {k: env.get(k) for k in ("git_commit", "source_sha256")}
        run_now = {r["model"] for r in rows}
        kept = [
            {**r, "kept_from": r.get("kept_from", made)}
            for r in old.get("rows", [])
            if r["model"] not in run_now and r.get("seed") in args.seeds
        ]
        rows = sorted(
            kept + rows, key=lambda r: MODELS.index(r["model"]) if r["model"] in MODELS else 99
        )
    names = list(dict.fromkeys(r["model"] for r in rows))
    summary = {}
    for name in names:
        mine = [r for r in rows if r["model"] == name]
        summary[name] = {
            "protocol": mine[0]["protocol"],
            "seeds": [r["seed"] for r in mine],
            "valid_ndcg@10": spread(r["valid"]["ndcg@10"] for r in mine),
            "test": {k: spread(r["test"][k] for r in mine) for k in OBJECTIVES},
            "epoch_seconds_median": statistics.median(r["epoch_seconds"] for r in mine),
            "best_epochs": [r["best_epoch"] for r in mine],
            "fit_seconds": [r["fit_seconds"] for r in mine],
            "load_average_1min": [x for r in mine for x in r["load_average_1min"]],
        }
    head = (
        "| model | protocol | valid ndcg@10 | "
        + " | ".join(f"test {k}" for k in QUALITY)
        + " | latency_ms | params | s/epoch | best epochs | fit s | load |"
    )
    lines = [head, "|" + "---|" * (len(QUALITY) + 9)]
    for name in names:
        mine = [r for r in rows if r["model"] == name]
        sm = summary[name]
        load = sm["load_average_1min"]
        lines.append(
            f"| {name} | {sm['protocol']} | {cell(r['valid']['ndcg@10'] for r in mine)} | "
            + " | ".join(cell([r["test"][k] for r in mine]) for k in QUALITY)
            + f" | {statistics.median(r['test']['latency_ms'] for r in mine):.2f}"
            f" | {mine[0]['test']['params']:.0f} | {sm['epoch_seconds_median']:.3f}"
            f" | {', '.join(str(e) for e in sm['best_epochs'])}"
            f" | {statistics.fmean(sm['fit_seconds']):.1f} | {min(load):.1f}-{max(load):.1f} |"
        )
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    settings = "\n".join(
        f"- {name} ({summary[name]['protocol']}): "
        + ", ".join(
            f"{k} {v}" for k, v in next(r for r in rows if r["model"] == name)["settings"].items()
        )
        for name in names
    )
    cpus = os.cpu_count()
    seeds = ", ".join(str(s) for s in args.seeds)
    note = (
        "Each model with its family's default settings (`moorec.models.defaults(name)`, the "
        "values `moorec train --model NAME` uses), early stopping on validation NDCG@10, "
        f"training seeds {seeds} (the split is the same for all: random 8:1:1 seed 0, or the "
        "time-ordered leave-one-out). Quality cells are mean ± standard deviation over the "
        "seeds; latency is the median over the seeds (median ms of a jitted recommend for 256 "
        "users), s/epoch the median over the seeds, fit s the mean. Seconds are wall time on a "
        f"{cpus}-core machine: `load` is the range of the 1-minute load average before and "
        "after the fits, and seconds measured under load are larger than a quiet machine's."
        "\n\nSettings:\n\n" + settings + "\n"
    )
    earlier = {r["model"]: r["kept_from"].get("git_commit") for r in rows if "kept_from" in r}
    if earlier:
        note += (
            "\nRows from an earlier invocation (commit): "
            + ", ".join(f"{m} ({(c or '?')[:7]})" for m, c in earlier.items())
            + ".\n"
        )
    atomic_write_text(
        out.with_suffix(".md"),
        f"# Model quality on ml-100k (training seeds {seeds})\n\n{note}\n{table}",
    )
    path = save(
        out,
        "model_quality",
        {
            "dataset": data.summary(),
            "seeds": args.seeds,
            "rows": rows,
            "summary": summary,
            "skipped": skipped,
            "table": table,
        },
    )
    print(f"wrote {path} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
