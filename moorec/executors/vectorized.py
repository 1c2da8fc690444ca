"""Candidates of one shape trained and ranked together on an accelerator.

The population is split into *buckets* of candidates that compile to the same program: same
model structure (e.g. embedding size, layers) and same static training settings (optimiser,
batch size, negative redraws, validation schedule). Each bucket is trained by
:func:`~moorec.train.population.fit_population` (one ``jax.jit``-compiled, ``jax.vmap``-ed
program per epoch) and ranked by :meth:`~moorec.objectives.Evaluator.rank_population` (the full
ranking of every candidate, chunked over users). A bucket larger than ``max_batch`` (by default,
what the device memory can hold) runs in several batches; a batch that still runs out of memory
is halved and run again. With several devices the candidate axis is sharded over them.

System objectives are never measured on the population program: each candidate's latency is
its own ``recommend`` call timed alone, and its size is its own parameter count.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
from flax import nnx

from moorec.errors import ConfigError
from moorec.executors.base import Executor
from moorec.executors.trial import Trainer, TrialSpec, failed_record, ok_record
from moorec.models.base import count_params
from moorec.objectives.base import parse_all
from moorec.train.population import STATIC_FIELDS, fit_population, stack

__all__ = ["VectorizedExecutor", "device_memory_bytes"]


def device_memory_bytes(device: jax.Device | None = None) -> int:
    """Free memory of ``device`` in bytes (the host's available memory for a CPU device)."""
    device = device or jax.devices()[0]
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:
        stats = None
    if stats and "bytes_limit" in stats:
        return int(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    try:
        import os

        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 4 * 2**30


def _is_oom(err: BaseException) -> bool:
    text = f"{type(err).__name__} {err}"
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


class VectorizedExecutor(Executor):
    """Trains each shape bucket of the population as one vmapped, jitted program.

    Args:
        max_batch: most candidates per program; default from the device memory
            (``memory_fraction`` of what is free, over an estimate per candidate).
        memory_fraction: share of the free device memory a batch may plan to use.
        rank_memory_mb: budget for the score matrices of one ranking program
            (``candidates x chunk_users x n_items`` float32).
        devices: devices to shard the candidate axis over (default: every device of the
            default backend; one device means no sharding).
    """

    name = "vectorized"

    def __init__(self, max_batch: int | None = None, memory_fraction: float = 0.5,
                 rank_memory_mb: float = 2048.0, devices: list | None = None):  # fmt: skip
        if max_batch is not None and (isinstance(max_batch, bool) or int(max_batch) < 1):
            raise ConfigError(f"max_batch must be an integer >= 1, got {max_batch!r}")
        if not 0 < memory_fraction <= 1:
            raise ConfigError(f"memory_fraction must lie in (0, 1], got {memory_fraction!r}")
        self.max_batch = None if max_batch is None else int(max_batch)
        self.memory_fraction = float(memory_fraction)
        self.rank_memory_mb = float(rank_memory_mb)
        self.devices = list(devices) if devices is not None else jax.devices()
        self.mesh = None
        if len(self.devices) > 1:
            self.mesh = jax.sharding.Mesh(np.array(self.devices), ("pop",))
        self.spec: TrialSpec | None = None
        self.trainer: Trainer | None = None
        self.batches: list[dict[str, Any]] = []

    def start(self, factory) -> None:
        """Prepare evaluators for ``factory`` (a :class:`~moorec.executors.TrialSpec`)."""
        if not isinstance(factory, TrialSpec):
            raise ConfigError(
                "the vectorized executor trains moorec's own models; a custom trainer needs "
                "the sequential, processes or dask executor"
            )
        self.spec = factory
        self.trainer = factory.build()

    # -- planning ---------------------------------------------------------------------------

    def bucket_key(self, cfg, model_kw: Mapping[str, Any]) -> str:
        """The key of the program a candidate compiles to (shape and static settings)."""
        static = {f: getattr(cfg, f) for f in STATIC_FIELDS}
        return json.dumps({"model": dict(model_kw), **static}, sort_keys=True, default=str)

    def batch_limit(self, model, cfg) -> int:
        """Most candidates of ``model``'s shape one program may hold."""
        if self.max_batch is not None:
            return self.max_batch
        n_param = count_params(model)
        other = sum(
            int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model)) if hasattr(x, "shape")
        )
        # parameters, gradients, two Adam moments, kept best copy: ~5 copies of the parameters,
        # plus the non-trainable state and one score chunk of the ranking.
        per = 4 * (5 * n_param + max(other - n_param, 0))
        per += 4 * self.trainer.valid.chunk_users * self.trainer.valid.n_items
        free = sum(device_memory_bytes(d) for d in self.devices)
        return max(1, int(free * self.memory_fraction // max(per, 1)))

    def _group(self, n_items: int, chunk_users: int) -> int:
        per = 4 * chunk_users * n_items / 2**20
        return max(1, int(self.rank_memory_mb // max(per, 1e-9)))

    # -- running ----------------------------------------------------------------------------

    def run(self, configs):
        """Bucket the configs by program, train and score each bucket together."""
        if self.spec is None:
            raise ConfigError("executor not started: call start(factory) first")
        buckets: dict[str, list[tuple[int, Any, dict, Any]]] = defaultdict(list)
        for i, config in enumerate(configs):
            try:
                cfg, model_kw = self.spec.settings(config)
                model = self.spec.create(model_kw)
            except Exception as err:
                yield i, failed_record(err)
                continue
            buckets[self.bucket_key(cfg, model_kw)].append((i, cfg, model_kw, model))
        for members in buckets.values():
            limit = self.batch_limit(members[0][3], members[0][1])
            for start in range(0, len(members), limit):
                yield from self._run_batch(members[start : start + limit])

    def _run_batch(self, members):
        t0 = time.perf_counter()
        try:
            results = self._train(members)
        except Exception as err:
            if _is_oom(err) and len(members) > 1:
                half = len(members) // 2
                fresh = [(i, c, kw, self.spec.create(kw)) for i, c, kw, _ in members]
                yield from self._run_batch(fresh[:half])
                yield from self._run_batch(fresh[half:])
                return
            for i, *_ in members:
                yield i, failed_record(err, time.perf_counter() - t0)
            return
        train_s = (time.perf_counter() - t0) / len(members)
        ok = [(m, r) for m, r in zip(members, results, strict=True) if r.error is None]
        for (i, *_), r in zip(members, results, strict=True):
            if r.error is not None:
                yield i, failed_record(r.error, train_s)
        if not ok:
            return
        t1 = time.perf_counter()
        valid = self.trainer.valid
        models = [r.model for _, r in ok]
        graphdef, _, _ = nnx.split(models[0], nnx.Param, ...)
        params = stack([nnx.split(m, nnx.Param, ...)[1] for m in models])
        rest = stack([nnx.split(m, nnx.Param, ...)[2] for m in models])
        topk, hits = valid.rank_population(
            graphdef, params, rest, rest_axis=0,
            group=self._group(valid.n_items, valid.chunk_users),
            max_len=int(getattr(models[0], "max_len", 50)), uses_history=models[0].uses_history,
        )  # fmt: skip
        rank_s = (time.perf_counter() - t1) / len(ok)
        self.batches.append({"candidates": len(members), "seconds": time.perf_counter() - t0})
        for j, ((i, *_), r) in enumerate(ok):
            t2 = time.perf_counter()
            try:  # latency and size: this candidate's own model, alone
                values = valid.values(valid.context_from(topk[j], hits[j], r.model))
            except Exception as err:
                yield i, failed_record(err, train_s)
                continue
            yield i, ok_record(values, train_s, rank_s + time.perf_counter() - t2,
                               r.best_epoch, len(r.history))  # fmt: skip

    def _train(self, members):
        cfgs = [c for _, c, _, _ in members]
        metric = cfgs[0].valid_metric
        ev, _, maximize = self.trainer.stopping(metric)
        (obj,) = parse_all([metric])
        model0 = members[0][3]

        def validate(graphdef, params, rest, rest_axis):
            topk, hits = ev.rank_population(
                graphdef, params, rest, rest_axis=rest_axis,
                group=self._group(ev.n_items, ev.chunk_users),
                max_len=int(getattr(model0, "max_len", 50)), uses_history=model0.uses_history,
            )  # fmt: skip
            return np.array(
                [float(obj.compute(ev.context_from(t, h))) for t, h in zip(topk, hits, strict=True)]
            )

        mesh = self.mesh if self.mesh is not None and len(members) > 1 else None
        return fit_population(
            [m for *_, m in members],
            self.spec.split.train,
            cfgs,
            validate=validate,
            maximize=maximize,
            mesh=mesh,
        )

    def describe(self) -> dict[str, Any]:
        """Devices, the batch limit, and the batches run so far."""
        return {
            "name": self.name,
            "devices": [str(d) for d in self.devices],
            "max_batch": self.max_batch,
            "memory_fraction": self.memory_fraction,
        }
