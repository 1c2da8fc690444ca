"""The two levels of a candidate: what is trained, and what is applied after training.

A candidate's config splits into its *training* part (model, training and loss settings) and
its *post-hoc* part (the re-ranker: ``rerank``, ``rerank_weight``, ``rerank_candidates``,
``rerank_similarity``, ``rerank_variant``). Candidates with the same training part share one
trained model: :class:`StateCache` keeps trained states by :func:`training_key`, in memory and
in a folder (the run folder's ``states/``), so that a re-ranking-only candidate, a resumed
search or the front's test re-scoring finds the model again without training it.

A :class:`Sweep` evaluates every trained candidate over a grid of re-ranking weights as well,
in one re-ranking call; each grid point becomes a trial of its own, linked to the trial that
trained its model (its ``parent``).
"""

from __future__ import annotations

import collections
import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import numpy as np
from flax import nnx

from moorec.errors import ConfigError, UnknownNameError

__all__ = [
    "POSTHOC_NAMES",
    "StateCache",
    "Sweep",
    "effective_config",
    "posthoc_part",
    "reranker_of",
    "training_key",
    "training_part",
]

POSTHOC_NAMES = {
    "rerank": "method",
    "rerank_weight": "weight",
    "rerank_candidates": "candidates",
    "rerank_similarity": "similarity",
    "rerank_variant": "variant",
}
"""Search names of the post-hoc settings -> the :class:`~moorec.rerank.Reranker` fields."""

SWEEP_NAMES = ("rerank_weight",)
"""Settings a :class:`Sweep` can grid over."""


def posthoc_part(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The post-hoc settings of ``settings`` (the names of :data:`POSTHOC_NAMES`)."""
    return {k: v for k, v in settings.items() if k in POSTHOC_NAMES}


def training_part(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Everything of ``settings`` but the post-hoc settings."""
    return {k: v for k, v in settings.items() if k not in POSTHOC_NAMES}


def training_key(config: Mapping[str, Any]) -> str:
    """The key of ``config``'s training part: equal keys train the same model.

    The canonical text of the training part (sorted keys, exact floats), as
    ``moorec.search.config_key`` writes a whole config.
    """
    return json.dumps(training_part(config), sort_keys=True, separators=(",", ":"))


def effective_config(config: Mapping[str, Any], fixed: Mapping[str, Any] | None = None) -> dict:
    """``config`` without post-hoc settings that do nothing (no re-ranker: ``rerank = "none"``).

    Two candidates without a re-ranker that differ only in, say, ``rerank_weight`` give the
    same lists; their effective configs (and so their keys in the run store) are equal.
    """
    if {**dict(fixed or {}), **dict(config)}.get("rerank", "none") == "none":
        return training_part(config)
    return dict(config)


def reranker_of(settings: Mapping[str, Any]):
    """The :class:`~moorec.rerank.Reranker` of ``settings``, or ``None`` without re-ranking.

    ``settings`` are a candidate's merged settings; only the post-hoc names are read. No
    ``rerank`` (or ``rerank = "none"``) means no re-ranking.

    Raises:
        ConfigError: for a post-hoc value out of range (``rerank_weight`` outside ``[0, 1]``).
        UnknownNameError: for an unknown re-ranker, similarity or variant.
    """
    from moorec.rerank import Reranker

    part = posthoc_part(settings)
    if part.get("rerank", "none") == "none":
        return None
    return Reranker.from_settings({POSTHOC_NAMES[k]: v for k, v in part.items()})


class Sweep:
    """A grid of re-ranking weights every trained candidate is also evaluated over.

    ``Sweep({"rerank_weight": 21})`` evaluates ``21`` evenly spaced weights from 0 to 1
    (``numpy.linspace(0, 1, 21)``); ``{"rerank_weight": [0.0, 0.5, 0.9]}`` the given ones. A
    candidate without a re-ranker of its own is swept with ``method`` (``rerank``, default
    ``"mmr"``), its other post-hoc settings as they are.

    Args:
        settings: ``{"rerank_weight": count or [weights], "rerank": method}``.

    Raises:
        ConfigError: for a count below 2, a weight outside ``[0, 1]`` or a malformed table.
        UnknownNameError: for a name that cannot be swept or an unknown method.
    """

    def __init__(self, settings: Mapping[str, Any]):
        if not isinstance(settings, Mapping):
            raise ConfigError(
                f"sweep must be a table such as {{rerank_weight = 21}}, got {settings!r}"
            )
        settings = dict(settings)
        method = settings.pop("rerank", "mmr")
        for name in settings:
            if name not in SWEEP_NAMES:
                raise UnknownNameError("sweep setting", name, (*SWEEP_NAMES, "rerank"))
        if "rerank_weight" not in settings:
            raise ConfigError("sweep needs rerank_weight: a count (e.g. 21) or a list of weights")
        from moorec.rerank import Reranker

        if method == "none":
            raise ConfigError("sweep rerank must be a re-ranker, got 'none'")
        Reranker(method=method)  # checks the name
        grid = settings["rerank_weight"]
        if isinstance(grid, bool):
            raise ConfigError(f"sweep rerank_weight must be a count >= 2 or a list, got {grid!r}")
        if isinstance(grid, int):
            if grid < 2:
                raise ConfigError(f"sweep rerank_weight count must be >= 2, got {grid}")
            weights = np.linspace(0.0, 1.0, grid)
        elif isinstance(grid, list | tuple) and grid:
            weights = np.asarray(grid, dtype=np.float64)
            bad = [w for w in grid if not (_number(w) and 0.0 <= w <= 1.0)]
            if bad or weights.ndim != 1:
                raise ConfigError(
                    f"sweep weights must lie in [0, 1], got {bad[0] if bad else grid!r}"
                )
        else:
            raise ConfigError(f"sweep rerank_weight must be a count >= 2 or a list, got {grid!r}")
        self.method = method
        self.weights = [float(w) for w in weights]
        self.settings = {"rerank_weight": grid, "rerank": method}

    def configs(
        self, config: Mapping[str, Any], fixed: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The grid's configs for one candidate: its config with each weight (and a method).

        Args:
            config: the candidate's config.
            fixed: the run's fixed settings (a fixed ``rerank`` counts as the candidate's).
        """
        base = dict(config)
        if {**dict(fixed or {}), **base}.get("rerank", "none") == "none":
            base["rerank"] = self.method
        return [{**base, "rerank_weight": w} for w in self.weights]

    def to_dict(self) -> dict[str, Any]:
        """The settings as given (for the manifest)."""
        return dict(self.settings)


def _number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


class StateCache:
    """Trained models by :func:`training_key`: the latest few in memory, all in a folder.

    A state is written once, atomically (``<sha256 of the key>.npz``: every leaf of
    ``nnx.state(model)`` in order, and the fit's summary), and read back into a freshly created
    model of the same settings, so the model found again is the trained one bit for bit.

    Args:
        folder: where states are written (``None``: memory only).
        keep: models kept in memory (least recently used dropped first).
    """

    def __init__(self, folder: str | os.PathLike | None = None, keep: int = 8):
        self.folder = None if folder is None else Path(folder)
        self.keep = keep
        self._memory: collections.OrderedDict[str, tuple[Any, dict]] = collections.OrderedDict()

    def _path(self, key: str) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"

    def get(self, key: str, create) -> tuple[Any, dict] | None:
        """``(model, summary)`` for ``key``, or ``None``.

        Args:
            key: the training key.
            create: ``() -> model``, a freshly created model of the key's settings (used to
                rebuild a state read from the folder).
        """
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        model = create()
        with np.load(path, allow_pickle=False) as data:
            summary = json.loads(str(data["__summary__"]))
            state = nnx.state(model)
            leaves, treedef = jax.tree.flatten(state)
            loaded = []
            for i, like in enumerate(leaves):
                arr = data[f"leaf_{i}"]
                if jax.dtypes.issubdtype(like.dtype, jax.dtypes.prng_key):
                    loaded.append(jax.random.wrap_key_data(arr, impl=jax.random.key_impl(like)))
                else:
                    loaded.append(jax.numpy.asarray(arr, dtype=like.dtype))
        nnx.update(model, jax.tree.unflatten(treedef, loaded))
        self._remember(key, model, summary)
        return model, summary

    def put(self, key: str, model, summary: Mapping[str, Any]) -> None:
        """Keep ``model`` (and its fit ``summary``) under ``key``; written once to the folder."""
        summary = dict(summary)
        self._remember(key, model, summary)
        path = self._path(key)
        if path is None or path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"__summary__": np.asarray(json.dumps(summary, sort_keys=True))}
        for i, leaf in enumerate(jax.tree.leaves(nnx.state(model))):
            if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                leaf = jax.random.key_data(leaf)
            arrays[f"leaf_{i}"] = np.asarray(leaf)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".npz.tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _remember(self, key: str, model, summary: dict) -> None:
        self._memory[key] = (model, summary)
        self._memory.move_to_end(key)
        while len(self._memory) > self.keep:
            self._memory.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        path = self._path(key)
        return key in self._memory or (path is not None and path.is_file())
