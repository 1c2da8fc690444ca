"""Every model on ml-100k under its family's standard protocol: a table of test objectives.

General models (BPR-MF, NeuMF, LightGCN, two-tower): random 8:1:1 split per user, full ranking.
Sequential models (SASRec, BERT4Rec): time-ordered leave-one-out, full ranking. Each model trains
with early stopping on validation NDCG@10 and is scored on test: Recall/NDCG/Hit/MRR@10, ILD@10
over genres, latency (median ms of a jitted recommend for 256 users) and parameter count, with
seconds per epoch (median, validation included) and the whole fit time.

    python benchmarks/model_quality.py [--models bpr neumf ...] [--seed 0]
        [--out benchmarks/results/model_quality.json]   (also writes the .md table beside it)
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import data_root, save

import moorec as mr
from moorec.io import atomic_write_text

OBJECTIVES = ["recall@10", "ndcg@10", "hit@10", "mrr@10", "ild@10", "latency_ms", "params"]

# Per model: split protocol, training settings, model settings. Defaults follow RecBole's.
SETTINGS = {
    "bpr": ("random", {"lr": 1e-3, "batch_size": 2048}, {"dim": 64}),
    "neumf": ("random", {"lr": 1e-3, "batch_size": 2048}, {"dim": 64}),
    "lightgcn": ("random", {"lr": 2e-3, "l2": 1e-4, "batch_size": 2048}, {"dim": 64}),
    "two_tower": ("random", {"lr": 1e-3, "batch_size": 2048}, {}),
    "sasrec": ("loo", {"lr": 1e-3, "batch_size": 64}, {}),
    "bert4rec": ("loo", {"lr": 1e-3, "batch_size": 32}, {}),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(SETTINGS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--patience", type=int, default=10)
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
        protocol, train_kw, model_kw = SETTINGS.get(name, ("random", {}, {}))
        split = splits[protocol]
        t0 = time.perf_counter()
        result = mr.fit(
            split,
            name,
            seed=args.seed,
            epochs=args.epochs,
            patience=args.patience,
            **train_kw,
            **model_kw,
        )
        fit_seconds = time.perf_counter() - t0
        test = mr.evaluate(result.model, split, "test", OBJECTIVES)
        epoch_seconds = (
            statistics.median(h["seconds"] for h in result.history[1:])
            if len(result.history) > 1
            else result.history[0]["seconds"]
        )
        row = {
            "model": name,
            "protocol": protocol,
            "test": test,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "epoch_seconds": epoch_seconds,
            "fit_seconds": fit_seconds,
            "first_epoch_seconds": result.first_epoch_seconds,
            "settings": {**train_kw, **model_kw},
        }
        rows.append(row)
        print(
            f"{name:>10} ({protocol}): "
            + ", ".join(f"{k} {v:.4g}" for k, v in test.items())
            + f"; best epoch {result.best_epoch}, "
            f"{epoch_seconds:.3f} s/epoch, fit {fit_seconds:.1f} s",
            flush=True,
        )

    head = "| model | protocol | " + " | ".join(OBJECTIVES) + " | s/epoch | best epoch | fit s |"
    lines = [head, "|" + "---|" * (len(OBJECTIVES) + 5)]
    for r in rows:
        cells = [
            f"{r['test'][k]:.0f}" if k == "params" else f"{r['test'][k]:.4f}" for k in OBJECTIVES
        ]
        lines.append(
            f"| {r['model']} | {r['protocol']} | "
            + " | ".join(cells)
            + f" | {r['epoch_seconds']:.3f} | {r['best_epoch']} | "
            f"{r['fit_seconds']:.1f} |"
        )
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    out = Path(args.out)
    atomic_write_text(
        out.with_suffix(".md"), f"# Model quality on ml-100k (seed {args.seed})\n\n" + table
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
