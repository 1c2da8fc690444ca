"""The ``moorec`` command.

moorec train --dataset ml-100k --model bpr --out runs/bpr
moorec datasets
moorec demo
moorec plot runs/bpr --kind front --x ndcg@10 --y ild@10
moorec report runs/nsga2-seed0 runs/random-seed0 --out report
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence

from moorec.errors import ConfigError, MoorecError

__all__ = ["main"]

TRAIN_OBJECTIVES = (
    "recall@10", "ndcg@10", "hit@10", "precision@10", "mrr@10", "map@10", "recall@20",
    "ndcg@20", "ild@10", "category_coverage@10", "coverage@10", "novelty@10", "gini@10",
    "latency_ms", "latency_p95_ms", "params",
)  # fmt: skip


def _table(valid: dict[str, float], test: dict[str, float]) -> str:
    width = max(len(k) for k in test) + 2
    lines = [f"{'objective':<{width}}{'valid':>12}{'test':>12}", "-" * (width + 24)]
    for key, value in test.items():
        v = valid.get(key, float("nan"))
        fmt = "{:>12.1f}" if key in ("params",) else "{:>12.4f}"
        lines.append(f"{key:<{width}}" + fmt.format(v) + fmt.format(value))
    return "\n".join(lines)


def _train(args: argparse.Namespace, data) -> dict:
    import moorec.split as msplit
    from moorec.api import fit
    from moorec.env import environment
    from moorec.io import atomic_write_json
    from moorec.objectives.evaluate import Evaluator
    from moorec.train.loop import TrainConfig

    protocol = args.split or default_protocol(args.model)
    split_kw = {"seed": args.seed}
    if protocol == "random":
        split_kw["ratios"] = (0.8, 0.1, 0.1)
    elif protocol == "loo":
        split_kw["order"] = "time"
    split = msplit.split(data, protocol, **split_kw)
    model_kw = {"dim": args.dim, **_model_args(args.model_arg)}
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        l2=args.l2,
        patience=args.patience,
        valid_metric=args.valid_metric,
        seed=args.seed,
    )
    objectives = args.objectives or list(TRAIN_OBJECTIVES)
    if data.item_features is None or not data.item_features.category_names:
        objectives = [o for o in objectives if not o.startswith(("ild", "category_coverage"))]
    # Build both evaluators before training, so that a bad objective name fails at once.
    valid_eval = Evaluator(split, "valid", objectives)
    test_eval = Evaluator(split, "test", objectives)
    print(data.summary())
    print(split.summary())
    t0 = time.perf_counter()
    result = fit(split, args.model, config=config, progress=not args.no_progress, **model_kw)
    train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    valid = valid_eval(result.model)
    test = test_eval(result.model)
    eval_seconds = time.perf_counter() - t0
    print(
        f"\n{args.model} on {data.name}: best epoch {result.best_epoch} of "
        f"{len(result.history)}, trained in {train_seconds:.1f} s\n"
    )
    print(_table(valid, test))
    metrics = {
        "valid": valid,
        "test": test,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "config": {
            "dataset": data.name,
            "model": args.model,
            "model_settings": model_kw,
            "split": {
                "protocol": split.protocol,
                "default_for_model": args.split is None,
                **split_kw,
            },
            "train": {k: v for k, v in dataclasses.asdict(config).items()},
            "objectives": objectives,
        },
        "data": {"summary": data.summary(), "log": list(data.log)},
        "split_report": split.report,
        "history": result.history,
        "environment": environment(),
    }
    if args.out:
        path = atomic_write_json(f"{args.out}/metrics.json", _jsonable(metrics))
        print(f"\nwrote {path}")
    return metrics


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def cmd_train(args: argparse.Namespace) -> int:
    from moorec.data.registry import load

    data = load(args.dataset, path=args.data_path)
    _train(args, data)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from moorec.data.synthetic import synthetic_shop

    print("moorec demo: BPR-MF on the embedded synthetic shop (moorec.datasets.synthetic_shop)")
    data = synthetic_shop(seed=args.seed)
    _train(args, data)
    return 0


EXECUTOR_NAMES = ("sequential", "vectorized", "processes", "dask", "auto")


def cmd_search(args: argparse.Namespace) -> int:
    from moorec.search.config import load_config, run_config

    cfg = load_config(args.config)
    run = run_config(cfg, args.out, progress=not args.quiet, executor=args.executor)
    print(f"\nrun stored in {run.path}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from moorec.data.registry import available

    rows = available()
    width = max(len(r["name"]) for r in rows) + 2
    for r in rows:
        print(f"{r['name']:<{width}}{r['where']}")
    return 0


def _warn(caught) -> None:
    """Print an incomplete-run warning as one plain line; show any other warning as usual."""
    import warnings

    from moorec.plots import RunIncompleteWarning

    for w in caught:
        if issubclass(w.category, RunIncompleteWarning):
            print(f"moorec: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def cmd_plot(args: argparse.Namespace) -> int:
    import warnings
    from pathlib import Path

    import matplotlib.pyplot as plt

    from moorec.plots.report import draw
    from moorec.plots.style import save

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        fig = draw(
            args.kind, args.run_dir, x=args.x, y=args.y, split=args.split, usetex=args.usetex
        )
    _warn(caught)
    out = args.out or Path(args.run_dir[0]) / "figures" / args.kind
    try:
        paths = save(fig, out)
    finally:
        plt.close(fig)
    for path in paths:
        print(f"wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import warnings

    from moorec.plots.report import report

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        written = report(args.run_dir, args.out, x=args.x, y=args.y, usetex=args.usetex)
    _warn(caught)
    for path in written["files"]:
        print(f"wrote {path}")
    for stem, why in written["skipped"].items():
        print(f"not drawn: {stem} ({why})")
    return 0


def default_protocol(model: str) -> str:
    """The standard split protocol of a model's family.

    Time-ordered leave-one-out for sequential models (RecBole's sequential protocol), random
    8:1:1 per user otherwise.
    """
    from moorec.models.registry import _MODELS

    return "loo" if getattr(_MODELS[model], "sampler", "pairs") == "sequences" else "random"


def _model_args(pairs: list[str] | None) -> dict:
    """``["n_layers=3", "layers=64,32"]`` -> ``{"n_layers": 3, "layers": (64, 32)}``."""
    out = {}
    for text in pairs or []:
        key, eq, value = text.partition("=")
        if not eq or not key:
            raise ConfigError(f"--model-arg takes KEY=VALUE, got {text!r}")
        parts = [_number(v) for v in value.split(",")]
        out[key.strip()] = tuple(parts) if "," in value else parts[0]
    return out


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _add_train_args(p: argparse.ArgumentParser, *, epochs: int) -> None:
    from moorec.models.registry import available as models

    p.add_argument("--model", default="bpr", choices=models(), help="model name")
    p.add_argument(
        "--split",
        default=None,
        choices=("random", "loo", "temporal", "cold_items"),
        help="split protocol; default: the model family's standard one (random 8:1:1 per "
        "user for general models, time-ordered leave-one-out for sequential models)",
    )
    p.add_argument(
        "--model-arg",
        action="append",
        metavar="KEY=VALUE",
        help="model setting, repeatable (e.g. --model-arg n_layers=3 --model-arg layers=64,32)",
    )
    p.add_argument("--epochs", type=int, default=epochs, help="maximum epochs")
    p.add_argument("--seed", type=int, default=0, help="seed of split, init and sampling")
    p.add_argument("--dim", type=int, default=64, help="embedding size")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--l2", type=float, default=0.0, help="L2 weight")
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument(
        "--patience",
        type=int,
        default=10,
        help="epochs without validation improvement before stopping (0: never)",
    )
    p.add_argument("--valid-metric", default="ndcg@10", help="early-stopping objective")
    p.add_argument(
        "--objectives",
        nargs="+",
        default=None,
        help="objective keys to report (default: accuracy, diversity, latency)",
    )
    p.add_argument("--out", default=None, help="folder for metrics.json")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``moorec`` command."""
    parser = argparse.ArgumentParser(
        prog="moorec", description="Multi-objective optimisation of recommender systems."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train one model and print valid/test objectives")
    p.add_argument("--dataset", required=True, help="data set name (see `moorec datasets`)")
    p.add_argument("--data-path", default=None, help="folder or file holding the data set")
    _add_train_args(p, epochs=300)
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("demo", help="train BPR-MF on the embedded synthetic shop")
    _add_train_args(p, epochs=100)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("search", help="multi-objective search described by a TOML config")
    p.add_argument("config", help="TOML search config (see docs/search.md)")
    p.add_argument(
        "--out", required=True, help="run folder; rerunning with the same folder resumes the search"
    )
    p.add_argument("--quiet", action="store_true", help="no per-generation progress")
    p.add_argument(
        "--executor",
        choices=EXECUTOR_NAMES,
        help="how each generation is trained (overrides search.executor; default sequential): "
        "vectorized on an accelerator, processes over CPU cores, dask on a cluster, auto picks",
    )
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("plot", help="draw one figure from one or more run folders")
    p.add_argument(
        "run_dir", nargs="+", metavar="RUN_DIR", help="run folder(s) written by `moorec search`"
    )
    p.add_argument(
        "--kind",
        default="front",
        choices=("front", "front3d", "scatter", "pcp", "hv", "attainment"),
        help="front: 2-D Pareto front (several runs: overlaid); front3d: 3-D front; scatter: "
        "scatter matrix; pcp: parallel coordinates; hv: hypervolume; attainment: attainment "
        "surfaces of runs repeated over seeds (default: front)",
    )
    p.add_argument(
        "--x",
        default=None,
        metavar="KEY",
        help="objective on the x axis (default: the first); for --kind hv: generation or time",
    )
    p.add_argument(
        "--y", default=None, metavar="KEY", help="objective on the y axis (default: the second)"
    )
    p.add_argument("--split", default="valid", choices=("valid", "test"), help="objective values")
    p.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="path without suffix; writes PATH.pdf and PATH.png (default: RUN_DIR/figures/KIND)",
    )
    p.add_argument("--usetex", action="store_true", help="render text with LaTeX")
    p.set_defaults(func=cmd_plot)
    p = sub.add_parser(
        "report", help="every figure, the Pareto tables and a summary of one or more runs"
    )
    p.add_argument(
        "run_dir", nargs="+", metavar="RUN_DIR", help="run folder(s) written by `moorec search`"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write the report into")
    p.add_argument(
        "--x", default=None, metavar="KEY", help="objective on the x axis (default: the first)"
    )
    p.add_argument(
        "--y", default=None, metavar="KEY", help="objective on the y axis (default: the second)"
    )
    p.add_argument("--usetex", action="store_true", help="render text with LaTeX")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("datasets", help="list known data sets and where each was found")
    p.set_defaults(func=cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``moorec`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MoorecError as err:
        print(f"moorec: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
