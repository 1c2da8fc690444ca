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

In a two-level search (re-ranking settings, a sweep), a candidate whose model the trainer's
state cache holds is scored without training; the others are trained together as above, and
each trained model is kept in the cache and scored (re-ranked, swept) by the trainer, one
candidate at a time.

Closed-form models (``closed_form``: EASE, ItemKNN, RP3beta, popularity) have no epochs to
vectorise: their candidates are solved and scored one at a time in this process, exactly as the
sequential executor runs them (the same records, bit for bit).
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
from moorec.executors.posthoc import training_key
from moorec.executors.trial import (
    Trainer,
    TrialSpec,
    check_part,
    failed_record,
    ok_record,
    run_trial,
)
from moorec.models.base import count_params
from moorec.models.registry import _MODELS
from moorec.objectives.base import parse_all
from moorec.train.population import STATIC_FIELDS, fit_population

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
        self.limits: list[int] = []  # the batch limit of each bucket run (free memory may vary)
        self.timings = dict.fromkeys(("create", "train", "rank", "objectives"), 0.0)

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

    def _rank(self, ev, graphdef, params, rest, rest_axis, like):
        """``ev``'s full ranking of every candidate, ``rank_memory_mb`` of scores at a time."""
        per = 4 * ev.chunk_users * ev.n_items / 2**20
        group = max(1, int(self.rank_memory_mb // max(per, 1e-9)))
        return ev.rank_population(
            graphdef, params, rest, rest_axis=rest_axis, group=group, like=like
        )

    # -- running ----------------------------------------------------------------------------

    def run(self, configs, part="valid"):
        """Bucket the configs by program, train and score each bucket together on ``part``.

        Candidates of a closed-form model are solved and scored one at a time instead.
        """
        if self.spec is None:
            raise ConfigError("executor not started: call start(factory) first")
        ev = self.trainer.evaluator(check_part(part))
        if getattr(_MODELS.get(self.spec.model), "closed_form", False):
            # one pass each, nothing to vectorise: one candidate at a time, as sequential runs
            for i, config in enumerate(configs):
                yield i, run_trial(self.trainer, config, part)
            return
        buckets: dict[str, list[tuple[int, Any, dict]]] = defaultdict(list)
        cache = self.trainer.cache
        self._configs = configs
        for i, config in enumerate(configs):
            if cache is not None and training_key(config) in cache:
                yield i, self.trainer(config, part)  # trained before: scored, not trained
                continue
            try:
                cfg, model_kw = self.spec.settings(config)
            except Exception as err:
                yield i, failed_record(err, part=part)
                continue
            buckets[self.bucket_key(cfg, model_kw)].append((i, cfg, model_kw))
        for members in buckets.values():
            t0 = time.perf_counter()
            try:  # every candidate starts from the same initial state (same model, same seed)
                base = self.spec.create(members[0][2])
            except Exception as err:
                for i, *_ in members:
                    yield i, failed_record(err, part=part)
                continue
            self.timings["create"] += time.perf_counter() - t0
            limit = self.batch_limit(base, members[0][1])
            self.limits.append(limit)
            for start in range(0, len(members), limit):
                yield from self._run_batch(members[start : start + limit], base, ev, part)

    def _needs_models(self) -> bool:
        """Whether an objective is measured on each candidate's own model (latency, PEFT size)."""
        if self.trainer.cache is not None:  # two-level: each model is kept and re-ranked
            return True
        keys = {o.key for o in self.trainer.valid.objectives}
        return bool(
            keys & {"latency_ms", "latency_p95_ms", "trainable_params", "flops", "bytes_accessed"}
        )

    def _run_batch(self, members, base, ev, part):
        t0 = time.perf_counter()
        materialize = self._needs_models()
        if materialize:  # each candidate's own model, timed and counted alone
            models = [base] + [nnx.clone(base) for _ in members[1:]]  # own variables each
        else:  # all start from the base model's state; the stacked parameters are the result
            models = [base] * len(members)
        try:
            fitted = self._train([c for _, c, _ in members], models, materialize)
        except Exception as err:
            if _is_oom(err) and len(members) > 1:
                half = len(members) // 2
                yield from self._run_batch(members[:half], base, ev, part)
                yield from self._run_batch(members[half:], base, ev, part)
                return
            for i, *_ in members:
                yield i, failed_record(err, time.perf_counter() - t0, part)
            return
        t1 = time.perf_counter()
        self.timings["train"] += t1 - t0
        train_s = (t1 - t0) / len(members)
        results = fitted.members
        ok = [j for j, r in enumerate(results) if r.error is None]
        for (i, *_), r in zip(members, results, strict=True):
            if r.error is not None:
                yield i, failed_record(r.error, train_s, part)
        if not ok:
            return
        if self.trainer.cache is not None:
            yield from self._score_each(members, results, ok, train_s, part)
            return
        params = fitted.params
        rest = fitted.rest
        if len(ok) < len(results):
            take = np.asarray(ok)
            params = jax.tree.map(lambda x: x[take], params)
            if fitted.rest_axis is not None:
                rest = jax.tree.map(lambda x: x[take], rest)
        topk, hits = self._rank(ev, fitted.graphdef, params, rest, fitted.rest_axis, base)
        t2 = time.perf_counter()
        self.timings["rank"] += t2 - t1
        size = {"params": float(count_params(base))}
        try:
            values = ev.values_population(
                topk, hits, [results[j].model for j in ok] if materialize else None,
                system=[size] * len(ok),
            )  # fmt: skip
        except Exception as err:
            for j in ok:
                yield members[j][0], failed_record(err, train_s, part)
            return
        t3 = time.perf_counter()
        self.timings["objectives"] += t3 - t2
        eval_s = (t3 - t1) / len(ok)
        self.batches.append({"candidates": len(members), "seconds": t3 - t0})
        for j, v in zip(ok, values, strict=True):
            r = results[j]
            yield members[j][0], ok_record(v, train_s, eval_s, r.best_epoch, len(r.history), part)

    def _score_each(self, members, results, ok, train_s, part):
        """Two-level: keep each trained model in the cache and let the trainer score it."""
        for j in ok:
            i, r = members[j][0], results[j]
            config = self._configs[i]
            summary = {"train_seconds": train_s, "best_epoch": r.best_epoch,
                       "epochs_run": len(r.history)}  # fmt: skip
            self.trainer.cache.put(training_key(config), r.model, summary)
            try:
                yield i, self.trainer.score(r.model, config, part, summary)
            except Exception as err:
                yield i, failed_record(err, train_s, part)

    def _train(self, cfgs, models, materialize):
        metric = cfgs[0].valid_metric
        ev, _, maximize = self.trainer.stopping(metric)
        (obj,) = parse_all([metric])
        model0 = models[0]

        def validate(graphdef, params, rest, rest_axis):
            topk, hits = self._rank(ev, graphdef, params, rest, rest_axis, model0)
            return np.array([v[obj.key] for v in ev.values_population(topk, hits)])

        mesh = self.mesh if self.mesh is not None and len(models) > 1 else None
        return fit_population(
            models,
            self.spec.split.train,
            cfgs,
            validate=validate,
            maximize=maximize,
            mesh=mesh,
            materialize=materialize,
        )

    def describe(self) -> dict[str, Any]:
        """Devices, the batch limit, and the batches run so far.

        ``batch_limits`` are the limits the buckets ran with: ``max_batch``, or what the free
        memory allowed when the bucket started. Which candidates share a program decides how
        their float32 sums round, so a rerun reproduces the run's values bit for bit only with
        the same limits (pass ``max_batch`` to fix them).
        """
        return {
            "name": self.name,
            "devices": [str(d) for d in self.devices],
            "max_batch": self.max_batch,
            "memory_fraction": self.memory_fraction,
            "batch_limits": sorted(set(self.limits)),
            "batches": len(self.batches),
            "seconds": {k: round(v, 3) for k, v in self.timings.items()},
        }
