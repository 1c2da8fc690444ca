"""SASRec (the paper's settings) and BERT4Rec on amazon-video-games, next to the SASRec paper.

Protocol of Kang and McAuley, "Self-Attentive Sequential Recommendation" (ICDM 2018): each
user's items in time order (``Video.txt``, the data their code ships), leave-one-out (last item
test, second last validation; users with fewer than 3 items train only), sequences of the last
50 items, and the test item ranked among 100 items drawn uniformly from those the user never
interacted with (``moorec.objectives.sampled.sampled_evaluate``). Full ranking over the whole
catalogue (the user's known items excluded) is reported beside it: sampled metrics can order
models differently (Krichene and Rendle, KDD 2020). Early stopping reads full-ranking validation
NDCG@10 (every ``--eval-every`` epochs, patience ``--patience`` validations); the paper's code
trains 201 epochs with no early stopping.

Models (``--models``):
    sasrec_paper  SASRec with ``moorec.models.sasrec.PAPER_SETTINGS``: dim 50, 2 blocks, 1 head,
                  ReLU feed-forward of width 50, item embeddings scaled by sqrt(50), dropout
                  0.5, BCE with one negative per position that avoids the user's training
                  items, Adam lr 1e-3 with b2 0.98, batch 128.
    sasrec_ce     SASRec with moorec's defaults (softmax cross-entropy, GELU, dim 64), batch
                  128.
    bert4rec      BERT4Rec with moorec's defaults (dim 64, 2 blocks, 2 heads, mask 0.2,
                  dropout 0.2), batch 128, at most 10 masked positions per row
                  (``max_predictions=10``: the softmax over 23,715 items is formed at 10 of
                  the 50 positions; with 9.3 items per user on average and mask 0.2, only
                  the few long rows ever have more than 10 masked positions). A probe with
                  20 took 144 s per epoch on a 2-core CPU: the softmax dominates.

Seconds per epoch are the median over epochs that did not validate (training only); the
validation seconds are the median extra time of an epoch that did. The machine's load average
is recorded before and after each fit.

    MOOREC_DATA=../shared/datasets python benchmarks/sequential_quality.py
        [--models sasrec_paper bert4rec] [--epochs 200] [--epochs-of bert4rec=40]
        [--patience 4] [--eval-every 5]
        [--seed 0] [--out benchmarks/results/sequential_quality.json]   (.md beside it)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from pathlib import Path

from _common import data_root, save

import moorec as mr
from moorec.io import atomic_write_text
from moorec.models.sasrec import PAPER_SETTINGS
from moorec.objectives.sampled import SampledMetricsWarning, sampled_evaluate

METRICS = ("hit@10", "ndcg@10")

#: Kang and McAuley 2018, Table 3, "Games" column (Amazon Video Games), sampled-100 protocol.
PAPER_TABLE_3 = {"sasrec": {"hit@10": 0.7410, "ndcg@10": 0.5360}}


def settings(name: str) -> tuple[str, dict]:
    """``(registered family, keyword arguments of moorec.fit)`` of a row."""
    if name == "sasrec_paper":
        p = PAPER_SETTINGS
        return "sasrec", {**p["model"], **p["train"], "loss_weights": dict(p["hparams"])}
    if name == "sasrec_ce":
        return "sasrec", {"batch_size": 128}
    if name == "bert4rec":
        return "bert4rec", {"batch_size": 128, "max_predictions": 10}
    raise SystemExit(f"unknown model {name!r}; choose from sasrec_paper, sasrec_ce, bert4rec")


def epoch_seconds(history: list[dict]) -> tuple[float | None, float | None]:
    """``(training s/epoch, validation s)``: medians over epochs without / with validation."""
    plain = [h["seconds"] for h in history[1:] if "valid" not in h]
    checked = [h["seconds"] for h in history[1:] if "valid" in h]
    train = statistics.median(plain) if plain else None
    valid = statistics.median(checked) - train if checked and train is not None else None
    return train, valid


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["sasrec_paper", "bert4rec"])
    p.add_argument("--epochs", type=int, default=200, help="most epochs of every model")
    p.add_argument(
        "--epochs-of",
        nargs="*",
        default=[],
        metavar="MODEL=N",
        help="most epochs of one model (e.g. bert4rec=40), over --epochs",
    )
    p.add_argument("--patience", type=int, default=4, help="validations without improvement")
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/sequential_quality.json")
    args = p.parse_args()
    for name in args.models:
        settings(name)  # every name checked before any work
    epochs_of = {}
    for item in args.epochs_of:
        name, _, n = item.partition("=")
        if name not in args.models or not n.isdigit() or int(n) < 1:
            raise SystemExit(f"--epochs-of takes MODEL=N with MODEL in --models, got {item!r}")
        epochs_of[name] = int(n)

    root = data_root()
    if root is None or not (root / "amazon-video-games").exists():
        raise SystemExit("amazon-video-games not found: set MOOREC_DATA to the folder holding it")
    data = mr.datasets.load("amazon-video-games", path=root / "amazon-video-games")
    split = mr.split.leave_one_out(data, order="time")
    print(
        f"amazon-video-games: {data.n_users} users, {data.n_items} items, {len(data)} "
        f"interactions; test users {len(split.test)}",
        flush=True,
    )

    rows = []
    for name in args.models:
        family, kw = settings(name)
        kw = {**kw, "epochs": epochs_of.get(name, args.epochs), "patience": args.patience}
        kw["eval_every"] = args.eval_every
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        result = mr.fit(split, family, seed=args.seed, progress=False, **kw)
        fit_seconds = time.perf_counter() - t0
        load_after = os.getloadavg()[0]
        full = {part: mr.evaluate(result.model, split, part, list(METRICS)) for part in PARTS}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SampledMetricsWarning)
            sampled = {
                part: sampled_evaluate(
                    result.model, split, part, n_negatives=100, seed=0, objectives=METRICS
                )
                for part in PARTS
            }
        train_s, valid_s = epoch_seconds(result.history)
        row = {
            "model": name,
            "family": family,
            "settings": {k: v for k, v in kw.items()},
            "full": full,
            "sampled_100": sampled,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "train_seconds_per_epoch": train_s,
            "validation_seconds": valid_s,
            "first_epoch_seconds": result.first_epoch_seconds,
            "fit_seconds": fit_seconds,
            "load_average_1min": [load_before, load_after],
            "valid_curve": [(h["epoch"], h["valid"]) for h in result.history if "valid" in h],
        }
        rows.append(row)
        print(
            f"{name}: best epoch {result.best_epoch} of {len(result.history)}; test full "
            f"hit@10 {full['test']['hit@10']:.4f} ndcg@10 {full['test']['ndcg@10']:.4f}; "
            f"sampled-100 hit@10 {sampled['test']['hit@10']:.4f} "
            f"ndcg@10 {sampled['test']['ndcg@10']:.4f}; {train_s or float('nan'):.2f} s/epoch, "
            f"fit {fit_seconds:.0f} s",
            flush=True,
        )

    out = Path(args.out)
    save(
        out,
        "sequential_quality",
        {
            "data": {"name": "amazon-video-games", "users": data.n_users, "items": data.n_items},
            "protocol": "time-ordered leave-one-out; sampled: test item among 100 uniform "
            "negatives the user never interacted with (seed 0); full: whole catalogue, known "
            "items excluded",
            "paper_table_3": PAPER_TABLE_3,
            "args": vars(args),
            "rows": rows,
        },
    )
    head = (
        "| model | sampled-100 Hit@10 | sampled-100 NDCG@10 | full Hit@10 | full NDCG@10 | "
        "valid full NDCG@10 | best epoch / run | train s/epoch | validation s | fit s | load |"
    )
    lines = [head, "|" + "---|" * 11]
    paper = PAPER_TABLE_3["sasrec"]
    lines.append(
        f"| SASRec, paper's Table 3 (Games) | {paper['hit@10']:.4f} | {paper['ndcg@10']:.4f} "
        "| | | | | | | | |"
    )
    for r in rows:
        t, s = r["full"]["test"], r["sampled_100"]["test"]
        load = r["load_average_1min"]
        train_s, valid_s = r["train_seconds_per_epoch"], r["validation_seconds"]
        lines.append(
            f"| {r['model']} | {s['hit@10']:.4f} | {s['ndcg@10']:.4f} | {t['hit@10']:.4f} | "
            f"{t['ndcg@10']:.4f} | {r['full']['valid']['ndcg@10']:.4f} | "
            f"{r['best_epoch']} / {r['epochs_run']} | "
            f"{'' if train_s is None else f'{train_s:.2f}'} | "
            f"{'' if valid_s is None else f'{valid_s:.2f}'} | {r['fit_seconds']:.0f} | "
            f"{min(load):.1f}-{max(load):.1f} |"
        )
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    note = (
        "Test figures on amazon-video-games (31,013 users, 23,715 items), time-ordered "
        "leave-one-out, training seed "
        f"{args.seed}; early stopping on full-ranking validation NDCG@10 every "
        f"{args.eval_every} epochs (patience {args.patience} validations, at most "
        f"{args.epochs} epochs; lower caps: {epochs_of or 'none'}). Sampled-100: the test "
        "item among 100 uniform negatives the user never interacted with (the paper's "
        "protocol; every user, where the paper's code samples 10,000). Full: ranked over "
        "the whole catalogue. Written by `benchmarks/sequential_quality.py`.\n\n"
    )
    atomic_write_text(out.with_suffix(".md"), "# Sequential models\n\n" + note + table)
    print(f"wrote {out} and {out.with_suffix('.md')}")


PARTS = ("valid", "test")

if __name__ == "__main__":
    main()
