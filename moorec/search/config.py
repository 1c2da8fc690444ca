"""Search configs in TOML (read with the standard library's ``tomllib``).

.. code-block:: toml

    [data]
    dataset = "ml-100k"          # a registry name; "synthetic-shop" takes [data.options]

    [split]
    protocol = "random"          # random | loo | temporal
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

__all__ = ["SECTIONS", "load_config", "run_config"]

SECTIONS = {
    "data": ("dataset", "path", "options"),
    "split": ("protocol", "ratios", "seed", "min_interactions", "order", "cuts"),
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
    ),
    "reference": None,
    "space": None,
}


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and check a search config.

    Raises:
        DataNotFoundError: if the file does not exist.
        ConfigError: if it is not valid TOML or lacks ``[space]`` / ``search.objectives``.
        UnknownNameError: for an unknown section or key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"search config {str(path)!r} does not exist")
    try:
        cfg = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    check_config(cfg)
    return cfg


def check_config(cfg: Mapping[str, Any]) -> None:
    """Raise for unknown sections or keys and for missing required ones."""
    for section, body in cfg.items():
        if section not in SECTIONS:
            raise UnknownNameError("config section", section, SECTIONS)
        keys = SECTIONS[section]
        if keys is not None:
            for key in body:
                if key not in keys:
                    raise UnknownNameError(f"key of [{section}]", key, keys)
    if not cfg.get("space"):
        raise ConfigError("the config needs a [space] table with at least one variable")
    if not cfg.get("search", {}).get("objectives"):
        raise ConfigError("the config needs search.objectives, e.g. ['ndcg@10', 'ild@10']")


def run_config(
    cfg: Mapping[str, Any],
    out: str | Path,
    *,
    progress: bool = True,
    executor: str | None = None,
):
    """Load the data, split it and run the search a config describes.

    Args:
        cfg: a checked config (:func:`load_config`).
        out: run folder.
        progress: print a line per generation.
        executor: overrides ``search.executor`` (default ``sequential``).

    Returns:
        The stored :class:`~moorec.results.Run`.
    """
    import moorec.split as msplit
    from moorec.data.registry import load
    from moorec.search.runner import search
    from moorec.search.space import Space

    check_config(cfg)
    space = Space.from_dict(cfg["space"])  # bad bounds fail before any data is loaded
    data_cfg = dict(cfg.get("data", {"dataset": "synthetic-shop"}))
    name = data_cfg.get("dataset", "synthetic-shop")
    data = load(name, path=data_cfg.get("path"), **dict(data_cfg.get("options", {})))
    split_cfg = dict(cfg.get("split", {}))
    protocol = split_cfg.pop("protocol", "random")
    if "ratios" in split_cfg:
        split_cfg["ratios"] = tuple(split_cfg["ratios"])
    if "cuts" in split_cfg:
        split_cfg["cuts"] = tuple(split_cfg["cuts"])
    split = msplit.split(data, protocol, **split_cfg)
    s = dict(cfg.get("search", {}))
    return search(
        split,
        space,
        s.pop("objectives"),
        out=out,
        model=cfg.get("model", {}).get("name", "bpr"),
        algorithm=s.pop("algorithm", "nsga2"),
        pop_size=s.pop("pop_size", 16),
        generations=s.pop("generations", 8),
        seed=s.pop("seed", 0),
        constraints=s.pop("constraints", ()),
        knee=s.pop("knee", "asf"),
        knee_weights=s.pop("knee_weights", None),
        executor=executor or s.pop("executor", "sequential"),
        executor_options=s.pop("executor_options", None),
        fixed=cfg.get("fixed", {}),
        reference=cfg.get("reference"),
        data_info={
            "dataset": name,
            "summary": data.summary(),
            "options": data_cfg.get("options", {}),
            "split": {
                "protocol": protocol,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in split_cfg.items()},
            },
            "split_counts": {p: len(getattr(split, p)) for p in ("train", "valid", "test")},
        },
        progress=progress,
    )
