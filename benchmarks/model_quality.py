"""Every model on ml-100k under its family's standard protocol: a table of test objectives.

General models (BPR-MF, NeuMF, LightGCN, two-tower): random 8:1:1 split per user, full ranking.
Sequential models (SASRec, BERT4Rec): time-ordered leave-one-out, full ranking. Each model trains
with its family's default settings (``moorec.models.defaults(name)``: the table the CLI and
``moorec.fit`` use, so the figures are what ``moorec train --model NAME`` gives), with early
stopping on validation NDCG@10, and is scored on validation and test: Recall/NDCG/Hit/MRR@10,
ILD@10 over genres, latency (median ms of a jitted recommend for 256 users) and parameter count,
with seconds per epoch (median, validation included) and the whole fit time. The machine's load
average is recorded before and after each fit: seconds measured under load are not comparable
with a quiet machine's.

    python benchmarks/model_quality.py [--models bpr neumf ...] [--seed 0]
        [--epochs N] [--patience N]   (default: each family's setting)
        [--out benchmarks/results/model_quality.json]   (also writes the .md table beside it)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from _common import data_root, save

import moorec as mr
from moorec.io import atomic_write_text

OBJECTIVES = ["recall@10", "ndcg@10", "hit@10", "mrr@10", "ild@10", "latency_ms", "params"]

MODELS = ["bpr", "neumf", "lightgcn", "two_tower", "sasrec", "bert4rec"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="default: each family's setting")
    p.add_argument("--patience", type=int, default=None, help="default: each family's setting")
    p.add_argument("--out", default="benchmarks/results/model_quality.json")
    args = p.parse_args()

    root = data_root()
    if root is None:
        raise SystemExit("ml-100k not found: set MOOREC_DATA to the folder holding ml-100k/")
    data = mr.datasets.load("ml-100k", path=root / "ml-100k")
    splits = {
        "random": mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=args.seed),
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
        for key in ("epochs", "patience"):
            if getattr(args, key) is not None:
                train_kw[key] = getattr(args, key)
        split = splits[protocol]
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = mr.fit(split, name, seed=args.seed, **train_kw, **model_kw)
        fit_seconds = time.perf_counter() - t0
        load_after = os.getloadavg()[0]
        valid = mr.evaluate(result.model, split, "valid", OBJECTIVES)
        test = mr.evaluate(result.model, split, "test", OBJECTIVES)
        epoch_seconds = (
            statistics.median(h["seconds"] for h in result.history[1:])
            if len(result.history) > 1
            else result.history[0]["seconds"]
        )
        row = {
            "model": name,
            "protocol": protocol,
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
        rows.append(row)
        print(
            f"{name:>10} ({protocol}): valid ndcg@10 {valid['ndcg@10']:.4g}; test "
            + ", ".join(f"{k} {v:.4g}" for k, v in test.items())
            + f"; best epoch {result.best_epoch}, "
            f"{epoch_seconds:.3f} s/epoch, fit {fit_seconds:.1f} s",
            flush=True,
        )

    head = (
        "| model | protocol | valid ndcg@10 | valid hit@10 | "
        + " | ".join(f"test {k}" if "@" in k else k for k in OBJECTIVES)
        + " | s/epoch | best epoch | fit s | load |"
    )
    lines = [head, "|" + "---|" * (len(OBJECTIVES) + 8)]
    for r in rows:
        cells = [
            f"{r['test'][k]:.0f}" if k == "params" else f"{r['test'][k]:.4f}" for k in OBJECTIVES
        ]
        load = "-".join(f"{x:.1f}" for x in r["load_average_1min"])
        lines.append(
            f"| {r['model']} | {r['protocol']} | {r['valid']['ndcg@10']:.4f} | "
            f"{r['valid']['hit@10']:.4f} | "
            + " | ".join(cells)
            + f" | {r['epoch_seconds']:.3f} | {r['best_epoch']} | "
            f"{r['fit_seconds']:.1f} | {load} |"
        )
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    settings = "\n".join(
        f"- {r['model']} ({r['protocol']}): "
        + ", ".join(f"{k} {v}" for k, v in r["settings"].items())
        for r in rows
    )
    cpus = os.cpu_count()
    note = (
        "Each model with its family's default settings (`moorec.models.defaults(name)`, the "
        "values `moorec train --model NAME` uses), early stopping on validation NDCG@10. "
        f"Seconds are wall time on a {cpus}-core machine shared with other jobs: `load` is the "
        "1-minute load average before and after the fit, and seconds measured under load are "
        "larger than a quiet machine's.\n\nSettings:\n\n" + settings + "\n"
    )
    out = Path(args.out)
    atomic_write_text(
        out.with_suffix(".md"),
        f"# Model quality on ml-100k (seed {args.seed})\n\n{note}\n{table}",
    )
    path = save(
        out,
        "model_quality",
        {
            "dataset": data.summary(),
            "seed": args.seed,
            "rows": rows,
            "skipped": skipped,
            "table": table,
        },
    )
    print(f"wrote {path} and {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
