"""Search configs in TOML (read with the standard library's ``tomllib``).

.. code-block:: toml

    [data]
    dataset = "ml-100k"          # a registry name; "synthetic-shop" takes [data.options]

    [split]
    protocol = "random"          # random | loo | temporal | cold_items
    ratios = [0.8, 0.1, 0.1]
    seed = 0

    [model]
    name = "bpr"

    [fixed]                      # settings every candidate shares
    epochs = 60
    patience = 5

    [search]
    algorithm = "nsga2"
    pop_size = 16
    generations = 8
    seed = 0
    executor = "auto"            # sequential | vectorized | processes | dask | auto
    sweep = { rerank_weight = 21 }   # optional: each trained candidate re-ranked at 21 weights
    save_front = true            # optional: keep the front's trained models in models/
    initial = [{ lr = 3e-3, dim = 64 }]   # optional warm start (other variables: defaults)
    initial_from = "runs/last"   # optional: another run's front joins the first generation
    include_defaults = true      # the family's defaults open the first generation (default)
    fidelity = { epochs = [3, 9, 27], eta = 3 }   # optional successive halving (front = "all")
    objectives = ["ndcg@10", "ild@10", "latency_ms"]
    constraints = ["latency_ms <= 5"]

    [reference]                  # optional hypervolume bounds [ideal, reference]
    latency_ms = [0.0, 10.0]

    [space]
    lr = { type = "logreal", low = 1e-4, high = 3e-2 }
    dim = { type = "choice", options = [16, 32, 64, 128] }
    pop_weight = { type = "real", low = 0.0, high = 2.0 }
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moorec.errors import ConfigError, DataNotFoundError, UnknownNameError

__all__ = [
    "SECTIONS",
    "check_config",
    "load_config",
    "run_baseline_config",
    "run_config",
    "run_split",
    "run_study_config",
    "search_settings",
]

SECTIONS = {
    "data": ("dataset", "path", "options"),
    "split": ("protocol", "ratios", "seed", "min_interactions", "small_users", "order", "cuts"),
    "model": ("name",),
    "fixed": None,
    "search": (
        "algorithm",
        "pop_size",
        "generations",
        "seed",
        "objectives",
        "constraints",
        "knee",
        "knee_weights",
        "executor",
        "executor_options",
        "sweep",
        "save_front",
        "initial",
        "initial_from",
        "include_defaults",
        "fidelity",
    ),
    "reference": None,
    "space": None,
}

# TOML types of the keys (what tomllib gives): a value of another type is refused.
_TYPES: dict[tuple[str, str], tuple[type, ...]] = {
    ("data", "dataset"): (str,),
    ("data", "path"): (str,),
    ("data", "options"): (dict,),
    ("split", "protocol"): (str,),
    ("split", "ratios"): (list,),
    ("split", "seed"): (int,),
    ("split", "min_interactions"): (int,),
    ("split", "small_users"): (str,),
    ("split", "order"): (str,),
    ("split", "cuts"): (list,),
    ("model", "name"): (str,),
    ("search", "algorithm"): (str,),
    ("search", "pop_size"): (int,),
    ("search", "generations"): (int,),
    ("search", "seed"): (int,),
    ("search", "objectives"): (list,),
    ("search", "constraints"): (list,),
    ("search", "knee"): (str,),
    ("search", "knee_weights"): (list,),
    ("search", "executor"): (str,),
    ("search", "executor_options"): (dict,),
    ("search", "sweep"): (dict,),
    ("search", "save_front"): (bool,),
    ("search", "initial"): (list,),
    ("search", "initial_from"): (str,),
    ("search", "include_defaults"): (bool,),
    ("search", "fidelity"): (dict,),
}
_TYPE_NAMES = {
    str: "a string", int: "an integer", list: "a list", dict: "a table", bool: "true or false",
}  # fmt: skip


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a search config.

    Raises:
        DataNotFoundError: if the file does not exist.
        ConfigError: if it is not valid TOML, lacks ``[space]`` / ``search.objectives`` or has
            a value of the wrong type.
        UnknownNameError: for an unknown section or key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"search config {str(path)!r} does not exist")
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not a UTF-8 text file: {err}") from None
    check_config(cfg)
    return cfg


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise for unknown sections or keys, values of the wrong type and missing required ones."""
    for section, body in cfg.items():
        if section not in SECTIONS:
            raise UnknownNameError("config section", section, SECTIONS)
        if not isinstance(body, Mapping):
            raise ConfigError(f"[{section}] must be a table, got {section} = {body!r}")
        keys = SECTIONS[section]
        if keys is not None:
            for key in body:
                if key not in keys:
                    raise UnknownNameError(f"key of [{section}]", key, keys)
        for key, value in body.items():
            types = _TYPES.get((section, key))
            # a TOML boolean is an int to Python: only a bool key takes one
            bad = types is not None and (
                not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
            )
            if bad:
                raise ConfigError(f"{section}.{key} must be {_TYPE_NAMES[types[0]]}, got {value!r}")
    if not cfg.get("space"):
        raise ConfigError("the config needs a [space] table with at least one variable")
    if not cfg.get("search", {}).get("objectives"):
        raise ConfigError("the config needs search.objectives, e.g. ['ndcg@10', 'ild@10']")


def search_settings(cfg: Mapping[str, Any], executor: str | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`~moorec.search.search` a checked config gives.

    Args:
        cfg: a config that passed :func:`check_config`.
        executor: overrides ``search.executor`` (default ``sequential``).
    """
    s = dict(cfg.get("search", {}))
    return {
        "objectives": s["objectives"],
        "model": cfg.get("model", {}).get("name", "bpr"),
        "algorithm": s.get("algorithm", "nsga2"),
        "pop_size": s.get("pop_size", 16),
        "generations": s.get("generations", 8),
        "seed": s.get("seed", 0),
        "constraints": s.get("constraints", ()),
        "knee": s.get("knee", "asf"),
        "knee_weights": s.get("knee_weights"),
        "executor": executor or s.get("executor", "sequential"),
        "executor_options": s.get("executor_options"),
        **({"sweep": s["sweep"]} if "sweep" in s else {}),
        **({"save_front": s["save_front"]} if "save_front" in s else {}),
        **{k: s[k] for k in ("initial", "initial_from", "include_defaults", "fidelity") if k in s},
        "fixed": cfg.get("fixed", {}),
        "reference": cfg.get("reference"),
    }


def _check_data(data_cfg: Mapping[str, Any], split_cfg: Mapping[str, Any]) -> None:
    """Refuse an unknown data set, split protocol or protocol option before loading anything."""
    import inspect

    from moorec.data.registry import dataset_info
    from moorec.errors import check_choice
    from moorec.split import PROTOCOLS

    dataset_info(data_cfg.get("dataset", "synthetic-shop"))
    protocol = check_choice("split protocol", split_cfg.get("protocol", "random"), PROTOCOLS)
    options = [p for p in inspect.signature(PROTOCOLS[protocol]).parameters if p != "data"]
    for key in split_cfg:
        if key != "protocol" and key not in options:
            raise UnknownNameError(f"option of split protocol {protocol!r}", key, options)


def run_config(
    cfg: Mapping[str, Any],
    out: str | Path,
    *,
    progress: bool = True,
    executor: str | None = None,
):
    """Load the data, split it and run the search a config describes.

    Every setting is checked (:func:`~moorec.search.runner.check_search`, the checks
    :func:`~moorec.search.search` makes) before the data are loaded.

    Args:
        cfg: a checked config (:func:`load_config`).
        out: run folder.
        progress: print a line per generation.
        executor: overrides ``search.executor`` (default ``sequential``).

    Returns:
        The stored :class:`~moorec.results.Run`.
    """
    from moorec.search.runner import check_search, search

    check_config(cfg)
    settings = search_settings(cfg, executor)
    space = check_search(cfg["space"], **settings).space  # bad values fail before any data
    split, data_info = _load_split(cfg)
    return search(
        split,
        space,
        out=out,
        **settings,
        data_info=data_info,
        progress=progress,
    )


def run_study_config(
    cfg: Mapping[str, Any],
    out: str | Path,
    seeds,
    *,
    progress: bool = True,
    executor: str | None = None,
):
    """The search a config describes, once per search seed: a study folder.

    The data are loaded and split once; ``search.seed`` of the config is replaced by each seed
    (:func:`moorec.search.study.run_study`).

    Args:
        cfg: a checked config (:func:`load_config`).
        out: the study folder.
        seeds: ``"0-4"``, ``[0, 1, 2]``, ... (:func:`moorec.search.study.parse_seeds`).
        progress: print a line per run and per generation.
        executor: overrides ``search.executor``.

    Returns:
        The :class:`~moorec.search.study.Study`.
    """
    from moorec.search.runner import check_search
    from moorec.search.study import parse_seeds, run_study

    check_config(cfg)
    seeds = parse_seeds(seeds)
    settings = search_settings(cfg, executor)
    settings.pop("seed")
    space = check_search(cfg["space"], **settings).space
    split, data_info = _load_split(cfg)
    objectives = settings.pop("objectives")
    return run_study(split, space, objectives, out=out, seeds=seeds, data_info=data_info,
                     progress=progress, **settings)  # fmt: skip


def _load_split(cfg: Mapping[str, Any]):
    """``(split, data_info)`` of a checked config: its data loaded and split."""
    import moorec.split as msplit
    from moorec.data.registry import load

    data_cfg = dict(cfg.get("data", {"dataset": "synthetic-shop"}))
    split_cfg = dict(cfg.get("split", {}))
    _check_data(data_cfg, split_cfg)
    name = data_cfg.get("dataset", "synthetic-shop")
    data = load(name, path=data_cfg.get("path"), **dict(data_cfg.get("options", {})))
    protocol = split_cfg.pop("protocol", "random")
    if "ratios" in split_cfg:
        split_cfg["ratios"] = tuple(split_cfg["ratios"])
    if "cuts" in split_cfg:
        split_cfg["cuts"] = tuple(split_cfg["cuts"])
    split = msplit.split(data, protocol, **split_cfg)
    info = {
        "dataset": name,
        "summary": data.summary(),
        "options": data_cfg.get("options", {}),
        "split": {
            "protocol": protocol,
            **{k: list(v) if isinstance(v, tuple) else v for k, v in split_cfg.items()},
        },
        "split_counts": {p: len(getattr(split, p)) for p in ("train", "valid", "test")},
    }
    return split, info


def run_split(config: Mapping[str, Any], *, path: str | Path | None = None):
    """The split a run was made on, loaded again from its manifest's ``config``.

    A run made from a TOML config (``moorec search``) records its data set, the data set's
    options and the split's protocol and options (``config["data"]``); loading and splitting
    them again gives the same split. A saved model checks that it is the same by the training
    interactions' fingerprint when it is loaded.

    Args:
        config: a run's ``manifest["config"]`` (``Run.config``).
        path: where the data set lies, when it is not found by name (``[data] path`` of the
            config the run was made with; not recorded in the run).

    Returns:
        The :class:`~moorec.split.Split`.

    Raises:
        ConfigError: the run does not record its data set (a search started from Python
            without ``data_info``).
        DataNotFoundError: the data set cannot be found.
    """
    info = dict(config.get("data") or {})
    if "dataset" not in info or "split" not in info:
        raise ConfigError(
            "the run does not record which data set and split it was made on (a search started "
            "from Python without data_info); load its models in Python with "
            "moorec.models.load(folder, data=split.train)"
        )
    split_cfg = dict(info["split"])
    data_cfg = {"dataset": info["dataset"], "options": dict(info.get("options") or {})}
    if path is not None:
        data_cfg["path"] = str(path)
    split, _ = _load_split({"data": data_cfg, "split": split_cfg})
    return split


def run_baseline_config(
    cfg: Mapping[str, Any],
    out: str | Path,
    *,
    rerank: str = "mmr",
    weights: int = 21,
    progress: bool = True,
    model: str | None = None,
    settings: Mapping[str, Any] | None = None,
):
    """The baseline front of a search config: its data, split, model and objectives.

    One model of the config's ``[model]`` with its family's default settings, re-ranked by
    ``rerank`` for ``weights`` evenly spaced weights (see
    :func:`~moorec.search.baseline_front`); ``[fixed]`` re-ranking settings
    (``rerank_candidates``, ``rerank_similarity``) apply, the other fixed settings do not (the
    baseline is the default model). ``[reference]`` bounds are kept, so hypervolumes of the
    baseline and the search are measured against one reference point.

    ``model`` replaces the config's model (e.g. EASE beside a BPR-MF search) and ``settings``
    replace some of the family defaults (e.g. ``{"epochs": 20}``).

    Returns:
        The stored :class:`~moorec.results.Run`.
    """
    from moorec.search.baseline import baseline_front

    override = dict(settings or {})
    check_config(cfg)
    settings = search_settings(cfg)
    fixed = dict(cfg.get("fixed", {}))
    kw = {}
    if "rerank_candidates" in fixed:
        kw["candidates"] = fixed["rerank_candidates"]
    if "rerank_similarity" in fixed:
        kw["similarity"] = fixed["rerank_similarity"]
    if override:
        kw["settings"] = override
    args = dict(
        model=model or settings["model"], rerank=rerank, weights=weights,
        objectives=settings["objectives"], reference=settings["reference"],
        seed=settings["seed"], knee=settings["knee"], **kw,
    )  # fmt: skip
    # the settings are checked on a stand-in before any data is read
    from moorec.search.baseline import check_baseline

    check_baseline(**args)
    split, data_info = _load_split(cfg)
    return baseline_front(split, out=out, data_info=data_info, progress=progress, **args)
