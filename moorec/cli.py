"""The ``moorec`` command.

moorec train --dataset ml-100k --model bpr --out runs/bpr
moorec datasets
moorec demo
moorec search config.toml --out runs/nsga2
moorec recommend runs/nsga2 --trial 12 --users 196 186 --k 10
moorec plot runs/bpr --kind front --x ndcg@10 --y ild@10
moorec report runs/nsga2-seed0 runs/random-seed0 --out report
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence

from moorec import interrupt
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

    protocol, split_kw, config, model_kw = _train_settings(args)
    objectives = _objectives(args.objectives, data)
    split = msplit.split(data, protocol, **split_kw)
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
        "evaluation": {"valid": valid_eval.describe(), "test": test_eval.describe()},
        "data": {"summary": data.summary(), "log": list(data.log)},
        "split_report": split.report,
        "history": result.history,
        "environment": environment(),
    }
    if args.save:
        from moorec.models.persist import save

        info = {
            "made_by": f"moorec {args.command}",
            "dataset": data.name,
            "split": metrics["config"]["split"],
            "train": metrics["config"]["train"],
            "best_epoch": result.best_epoch,
        }
        folder = save(result.model, f"{args.out}/model", settings=model_kw, data=split.train,
                      family=args.model, info=_jsonable(info))  # fmt: skip
        metrics["saved_model"] = folder.name
        print(f"\nsaved the model in {folder}")
    if args.out:
        path = atomic_write_json(f"{args.out}/metrics.json", _jsonable(metrics))
        print(f"\nwrote {path}")
    return metrics


def split_options(protocol: str, seed: int) -> dict:
    """The options ``moorec train --split PROTOCOL`` passes to ``moorec.split.split``.

    ``random`` and ``cold_items``: ratios 8:1:1 (per user; of the items) and the seed;
    ``loo``: time order and the seed; ``temporal``: ratios 8:1:1 of all interactions by time
    (no seed: it is not random).
    """
    if protocol == "loo":
        return {"order": "time", "seed": seed}
    if protocol == "temporal":
        return {"ratios": (0.8, 0.1, 0.1)}
    return {"ratios": (0.8, 0.1, 0.1), "seed": seed}


def _train_settings(args: argparse.Namespace) -> tuple[str, dict, object, dict]:
    """``(protocol, split options, TrainConfig, model settings)`` of ``train`` / ``demo``.

    Everything here is checked before any data is read: a bad value raises a MoorecError.
    """
    from moorec.models.registry import check_settings, defaults
    from moorec.objectives.base import parse_all
    from moorec.train.loop import TrainConfig

    protocol = args.split or default_protocol(args.model)
    split_kw = split_options(protocol, args.seed)
    # A setting left unset (None) takes the model family's default (moorec.models.defaults).
    family = defaults(args.model)
    given = {
        "lr": args.lr,
        "l2": args.l2,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "patience": args.patience,
    }
    train_kw = {**family["train"], **{k: v for k, v in given.items() if v is not None}}
    dim = {} if args.dim is None else {"dim": args.dim}
    model_kw = {**family["model"], **dim, **_model_args(args.model_arg)}
    model_kw = check_settings(args.model, model_kw)
    config = TrainConfig(**train_kw, valid_metric=args.valid_metric, seed=args.seed)
    if args.objectives:
        parse_all(args.objectives)
    return protocol, split_kw, config, model_kw


def _objectives(given: list[str] | None, data) -> list[str]:
    """The objective keys to report on ``data``.

    Objectives that need item categories are refused when given explicitly and ``data`` has
    none; left out of the default list with one line saying so.
    """
    from moorec.objectives.base import parse_all

    keys = list(given or TRAIN_OBJECTIVES)
    feats = data.item_features
    if feats is not None and len(feats.category_names) > 0:
        return keys
    need = [
        k for k, o in zip(keys, parse_all(keys), strict=True) if "item_categories" in o.requires
    ]
    if need and given:
        raise ConfigError(
            f"objectives {', '.join(need)} need item categories, and data set {data.name!r} "
            "has none; leave them out of --objectives, or give item categories with "
            "--categories FILE (see docs/data.md)"
        )
    if need:
        print(f"left out {', '.join(need)}: data set {data.name!r} has no item categories")
    return [k for k in keys if k not in need]


def _check_out(path: str | None, flag: str = "--out") -> None:
    """Refuse an output folder that is an existing file or lies under one (before any work)."""
    from pathlib import Path

    if path is None:
        return
    target = Path(path).expanduser()
    for place in (target, *target.parents):
        if place.exists():
            if not place.is_dir():
                where = "is an existing file" if place == target else f"lies under file {place}"
                raise ConfigError(f"{flag} {str(path)!r} {where}; give a folder")
            return


def _before_work(args: argparse.Namespace) -> None:
    """Checks of the command line that need no data, run before any command starts work."""
    if args.command in ("train", "demo", "search", "report"):
        _check_out(args.out)
    if args.command == "bench" and getattr(args, "out", None):
        _check_out(args.out)
    if args.command == "search" and args.seeds is not None and args.baseline:
        raise ConfigError("--seeds runs a study of searches; a --baseline has no search seed")
    if args.command in ("train", "demo"):
        if args.save and not args.out:
            raise ConfigError("--save keeps the trained model in the --out folder: give --out DIR")
        _train_settings(args)


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
    from moorec.data.loaders import CATEGORY_ROLES, parse_columns, parse_sep
    from moorec.data.registry import load_source

    # A registered name, or your own file or folder; every malformed file fails here, before
    # any training or writing.
    data = load_source(
        args.dataset,
        path=args.data_path,
        columns=parse_columns(args.columns),
        sep=parse_sep(args.sep),
        header=not args.no_header,
        categories=args.categories,
        category_columns=parse_columns(
            args.category_columns, CATEGORY_ROLES, option="--category-columns"
        ),
        category_sep=parse_sep(args.category_sep),
        threshold=args.threshold,
    )
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
    if args.baseline:
        from moorec.search.config import run_baseline_config

        run = run_baseline_config(
            cfg, args.out, rerank=args.baseline_rerank, weights=args.baseline_weights,
            progress=not args.quiet,
        )  # fmt: skip
        print(f"\nbaseline stored in {run.path}")
        return 0
    if args.seeds is not None:
        from moorec.search.config import run_study_config

        study = run_study_config(cfg, args.out, args.seeds, progress=not args.quiet,
                                 executor=args.executor)  # fmt: skip
        print(f"\nstudy of {len(study.seeds)} runs stored in {study.path}")
        return 0
    run = run_config(cfg, args.out, progress=not args.quiet, executor=args.executor)
    print(f"\nrun stored in {run.path}")
    return 0


def _raw_ids(texts: Sequence[str], ids) -> list:
    """Raw ids typed on the command line, as values of the id map ``ids`` (ints, floats, str)."""
    import numpy as np

    kind = np.asarray(ids).dtype.kind
    out = []
    for text in texts:
        try:
            out.append(int(text) if kind in "iu" else float(text) if kind == "f" else text)
        except ValueError:
            some = ", ".join(str(v) for v in np.asarray(ids)[:3].tolist())
            raise ConfigError(
                f"user {text!r} is not a user of the data set: its user ids are numbers "
                f"(e.g. {some})"
            ) from None
    return out


def cmd_recommend(args: argparse.Namespace) -> int:
    import json

    from moorec.api import recommend
    from moorec.errors import ModelNotFoundError
    from moorec.executors.posthoc import posthoc_part, reranker_of
    from moorec.models.persist import load
    from moorec.results.run import load as load_run
    from moorec.search.config import run_split

    run = load_run(args.run_dir)
    trials = {t["trial"]: t for t in run.trials()}
    if args.trial not in trials:
        have = f"trials 0 to {max(trials)}" if trials else "no trials"
        raise ConfigError(f"run {args.run_dir!r} has no trial {args.trial} (it has {have})")
    saved = run.saved_models()
    if args.trial not in saved:
        kept = ", ".join(map(str, saved)) or "none"
        raise ModelNotFoundError(
            f"trial {args.trial} of run {args.run_dir!r} has no saved model (trials saved: "
            f"{kept}); a search with [search] save_front = true saves its front's models"
        )
    split = run_split(run.config, path=args.data_path)
    model = load(saved[args.trial], data=split.train)
    settings = {**dict(run.config.get("fixed") or {}), **trials[args.trial]["config"]}
    reranker = reranker_of(settings)
    users = _raw_ids(args.users, split.train.user_ids)
    items, scores = recommend(
        model, users, k=args.k, exclude=split.train, raw=True, rerank=reranker
    )
    if args.json:
        out = {
            "run": str(run.path),
            "trial": args.trial,
            "model": run.config.get("model"),
            "k": args.k,
            "rerank": posthoc_part(settings) if reranker is not None else None,
            "recommendations": [
                {"user": u, "items": row.tolist(), "scores": [float(x) for x in srow]}
                for u, row, srow in zip(users, items, scores, strict=True)
            ],
        }
        print(json.dumps(_jsonable(out)))
        return 0
    how = "" if reranker is None else f", re-ranked by {reranker.method}"
    print(f"top-{args.k} items of trial {args.trial} ({run.config.get('model')}{how})")
    width = max(len(str(u)) for u in users)
    for u, row in zip(users, items, strict=True):
        print(f"user {u!s:<{width}}  " + " ".join(str(i) for i in row.tolist()))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    import moorec.bench as bench

    if args.bench_command == "list":
        for name in bench.list_problems():
            d = bench.describe(name)
            print(f"{name} (version {d['version']}): {d['description']}")
        return 0
    if args.bench_command == "run":
        meta = bench.run(args.problem, algorithms=args.algorithms, seeds=args.seeds, out=args.out,
                         executor=args.executor, progress=not args.quiet)  # fmt: skip
        print(f"\nbench of {meta['problem']} ({', '.join(meta['algorithms'])}; seeds "
              f"{meta['seeds']}) stored in {args.out}")  # fmt: skip
        return 0
    result = bench.report(args.bench_dir, args.out)
    out = args.out or f"{args.bench_dir}/report"
    print(f"{out}/report.md")
    print("\n".join(line for line in (Path(out) / "report.md").read_text().splitlines()
                    if line.startswith("|")))  # fmt: skip
    for paths in result["figures"].values():
        print("\n".join(paths))
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from moorec.data.registry import available

    rows = available()
    width = max(len(r["name"]) for r in rows) + 2
    for r in rows:
        print(f"{r['name']:<{width}}{r['where']}")
    return 0


def _warn(caught) -> None:
    """Print each of moorec's warnings (incomplete runs, shared seeds) as one plain line.

    Warnings that are not ``UserWarning`` subclasses (deprecations from libraries) are shown as
    Python shows them.
    """
    import warnings

    for w in caught:
        if issubclass(w.category, UserWarning):
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


def _family_help(section: str, key: str) -> str:
    """``"default: the model family's setting ... (lightgcn 0.002; bpr, ... 0.001)"``."""
    from moorec.models.family import table

    by_value: dict[str, list[str]] = {}
    for name, d in table().items():
        value = d[section].get(key)
        if value is not None:
            by_value.setdefault(f"{value:g}", []).append(name)
    if len(by_value) == 1:
        values = f"every family: {next(iter(by_value))}"
    else:
        values = "; ".join(f"{', '.join(names)} {v}" for v, names in by_value.items())
    return f"default: the model family's setting, see docs/models/NAME.md ({values})"


def _add_train_args(p: argparse.ArgumentParser, *, epochs: int | None) -> None:
    """Training arguments; ``epochs=None``: the model family's maximum epochs by default."""
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
        help="model setting, repeatable (e.g. --model-arg n_layers=3 --model-arg layers=64,32); "
        "default: the model family's settings",
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=epochs,
        help="maximum epochs; "
        + (_family_help("train", "epochs") if epochs is None else f"default: {epochs}"),
    )
    p.add_argument("--seed", type=int, default=0, help="seed of split, init and sampling")
    p.add_argument(
        "--dim", type=int, default=None, help="embedding size; " + _family_help("model", "dim")
    )
    p.add_argument(
        "--lr", type=float, default=None, help="Adam learning rate; " + _family_help("train", "lr")
    )
    p.add_argument(
        "--l2", type=float, default=None, help="L2 weight; " + _family_help("train", "l2")
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="training rows per step; " + _family_help("train", "batch_size"),
    )
    p.add_argument(
        "--patience",
        type=int,
        default=None,
        help="epochs without validation improvement before stopping (0: never); "
        + _family_help("train", "patience"),
    )
    p.add_argument("--valid-metric", default="ndcg@10", help="early-stopping objective")
    p.add_argument(
        "--objectives",
        nargs="+",
        default=None,
        help="objective keys to report (default: accuracy, diversity, latency)",
    )
    p.add_argument(
        "--out", default=None, help="folder for metrics.json (default: none, nothing is written)"
    )
    p.add_argument(
        "--save",
        action="store_true",
        help="also keep the trained model in OUT/model/ (needs --out; read it back with "
        "moorec.models.load, see docs/saving.md)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: ...)`` to each help text that does not already say its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False  # no value, or a flag
        if "default" in text or unset or action.default == argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("moorec")
    except PackageNotFoundError:  # run from a source tree that is not installed
        from moorec import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``moorec`` command."""
    import functools

    parser = argparse.ArgumentParser(
        prog="moorec",
        description="Multi-objective optimisation of recommender systems.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(
        dest="command",
        required=True,
        parser_class=functools.partial(argparse.ArgumentParser, formatter_class=_HelpFormatter),
    )
    p = sub.add_parser("train", help="train one model and print valid/test objectives")
    p.add_argument(
        "--dataset",
        required=True,
        metavar="NAME_OR_PATH",
        help="a registered data set name (see `moorec datasets`), or your own file or folder: "
        "RecBole atomic (NAME.inter [+ NAME.item]), MovieLens raw (u.data [+ u.item]), or a "
        "CSV/TSV/Parquet table with --columns (see docs/data.md)",
    )
    p.add_argument(
        "--data-path",
        default=None,
        help="for a registered name: folder or file holding the data set (default: looked for "
        "in $MOOREC_DATA, then the user cache, then downloaded)",
    )
    p.add_argument(
        "--columns",
        default=None,
        metavar="ROLE=COL,...",
        help="columns of a table file: user=COL,item=COL[,time=COL][,rating=COL]"
        "[,category=COL]; COL is a header name or a 0-based position (default: usual header "
        "names such as user_id, item_id, rating, timestamp)",
    )
    p.add_argument(
        "--sep",
        default=None,
        help="field separator of a table file and of --categories, e.g. ',' ';' '\\t' or "
        "'space' for runs of whitespace (default: ',' for .csv, tab for .tsv, else guessed "
        "from the first line)",
    )
    p.add_argument("--no-header", action="store_true", help="the table file has no header line")
    p.add_argument(
        "--categories",
        default=None,
        metavar="PATH",
        help="table of item categories (one row per item, or per item and category), so that "
        "ild@k and category_coverage@k can be computed; replaces the data's own categories",
    )
    p.add_argument(
        "--category-columns",
        default=None,
        metavar="item=COL,category=COL",
        help="columns of --categories (default: usual names such as item_id, category, genres)",
    )
    p.add_argument(
        "--category-sep",
        default="|",
        metavar="SEP",
        help="separator of several categories in one field, in --categories or a category column",
    )
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="keep only interactions rated >= THRESHOLD (then implicit; default: keep all)",
    )
    _add_train_args(p, epochs=None)
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
        "--seeds",
        default=None,
        metavar="SEEDS",
        help="a study: one run per search seed (e.g. 0-4 or 0,2,7; replaces search.seed), "
        "each in --out/seed_<s>/; rerunning resumes run by run",
    )
    p.add_argument(
        "--executor",
        choices=EXECUTOR_NAMES,
        help="how each generation is trained (overrides search.executor; default sequential): "
        "vectorized on an accelerator, processes over CPU cores, dask on a cluster, auto picks",
    )
    p.add_argument(
        "--baseline",
        action="store_true",
        help="instead of searching, store the baseline front of the config's data, split, "
        "model and objectives in --out: one model with its family's default settings, "
        "re-ranked over a sweep of weights (overlay it with `moorec report`)",
    )
    p.add_argument(
        "--baseline-rerank",
        default="mmr",
        choices=("mmr", "dpp", "calibration", "xquad"),
        help="the re-ranker of --baseline",
    )
    p.add_argument(
        "--baseline-weights",
        type=int,
        default=21,
        metavar="N",
        help="evenly spaced weights from 0 to 1 of --baseline (N >= 2)",
    )
    p.set_defaults(func=cmd_search)
    p = sub.add_parser(
        "recommend",
        help="top-K items for users from a front member saved in a run folder (no training)",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="run folder of `moorec search`")
    p.add_argument(
        "--trial",
        type=int,
        required=True,
        metavar="N",
        help="the front member to serve; its model is in RUN_DIR/models/trial_N/ when the "
        "search ran with [search] save_front = true",
    )
    p.add_argument(
        "--users", nargs="+", required=True, metavar="USER", help="raw user ids, as in the data"
    )
    p.add_argument("--k", type=int, default=10, help="items per user")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object (items and scores per user)"
    )
    p.add_argument(
        "--data-path",
        default=None,
        help="folder or file holding the run's data set, when it is not found by name (default: "
        "looked for as `moorec search` looked for it)",
    )
    p.set_defaults(func=cmd_recommend)
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
    p = sub.add_parser(
        "bench", help="named benchmark problems: list them, run them as studies, report on them"
    )
    bench_sub = p.add_subparsers(dest="bench_command", required=True, metavar="COMMAND")
    b = bench_sub.add_parser("list", help="the shipped problems, with their versions")
    b = bench_sub.add_parser("run", help="run a problem for several algorithms and seeds")
    b.add_argument("problem", help="a problem name (see `moorec bench list`)")
    b.add_argument("--algorithms", nargs="+", default=["nsga2", "random"], metavar="ALG",
                   help="search algorithms (default: nsga2 random)")  # fmt: skip
    b.add_argument("--seeds", default="0-4", help="search seeds, e.g. 0-4 (default) or 0,2,7")
    b.add_argument("--out", required=True, metavar="DIR",
                   help="bench folder; rerunning resumes it")  # fmt: skip
    b.add_argument("--executor", choices=EXECUTOR_NAMES, help="overrides the problem's executor")
    b.add_argument("--quiet", action="store_true", help="no per-generation progress")
    b = bench_sub.add_parser("report", help="tables and figures of a bench folder")
    b.add_argument("bench_dir", metavar="DIR", help="a folder written by `moorec bench run`")
    b.add_argument("--out", default=None, metavar="DIR", help="where to write (default DIR/report)")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("datasets", help="list known data sets and where each was found")
    p.set_defaults(func=cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``moorec`` command; returns the exit status.

    0 on success; 2 for a bad command line or input (argparse's usage errors, and any
    :class:`~moorec.errors.MoorecError` as one line ``moorec: error: ...`` on stderr); 130 when
    interrupted (Ctrl-C), with one line on stderr.
    """
    args = build_parser().parse_args(argv)
    try:
        with interrupt.catch():
            _before_work(args)
            return args.func(args)
    except MoorecError as err:
        print(f"moorec: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "; rerun the same command to resume" if args.command == "search" else ""
        print(f"moorec: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
