"""Candidates submitted to a Dask cluster (``pip install 'moorec[dask]'``).

Without an address a :class:`distributed.LocalCluster` is started on this machine (one
single-threaded worker process per core by default) and closed with the executor. With
``address="tcp://scheduler:8786"`` moorec connects to a running scheduler, which may front any
deployment, e.g. SLURM through ``dask_jobqueue.SLURMCluster`` (see ``docs/executors.md``).

The trial factory (split included) is installed on every worker by a worker plugin, which the
scheduler also runs on workers that join later or restart after a crash; each worker builds its
trainer on first use and keeps it, so compiled programs stay warm across generations. When a
worker dies mid-trial, the scheduler runs the trial again on another (or the restarted) worker
(Dask's ``distributed.scheduler.allowed-failures``, 3 by default); a trial that still cannot
finish is a failed record, and the search goes on.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from moorec.errors import ConfigError
from moorec.executors.base import (
    Executor,
    available_cores,
    core_share,
    environ,
    worker_environment,
)
from moorec.executors.trial import check_part, failed_record, run_trial

__all__ = ["DaskExecutor"]

try:
    from distributed import WorkerPlugin
except ImportError:  # the extra is not installed; DaskExecutor.start says so
    WorkerPlugin = object

_FACTORIES: dict[str, Any] = {}
_TRAINERS: dict[str, Any] = {}


class _TrialPlugin(WorkerPlugin):
    """Hands a search's trial factory to each worker (present and future)."""

    def __init__(self, token: str, factory, pin: int = 0):
        self.token, self.factory, self.pin = token, factory, pin
        self.name = f"moorec-{token}"

    def setup(self, worker):
        """Keep the factory and pin a local worker to its cores.

        The trainer is built at the worker's first trial.
        """
        _FACTORIES[self.token] = self.factory
        if self.pin and isinstance(worker.name, int) and hasattr(os, "sched_setaffinity"):
            if available_cores() >= self.pin:  # a local cluster of <= one worker per core
                os.sched_setaffinity(0, core_share(worker.name, self.pin))

    def teardown(self, worker):
        """Forget the search."""
        _FACTORIES.pop(self.token, None)
        _TRAINERS.pop(self.token, None)


def _run_trial(token: str, config, part: str = "valid") -> dict[str, Any]:
    """Runs on a worker: build (once per worker and search) the trainer, train one config."""
    import os

    if token not in _TRAINERS:
        _TRAINERS.clear()  # one search at a time per worker
        _TRAINERS[token] = _FACTORIES[token].build()
    rec = run_trial(_TRAINERS[token], config, part)
    rec["worker"] = os.getpid()
    return rec


def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "the dask executor needs dask.distributed: pip install 'moorec[dask]'"
        ) from None
    return distributed


class DaskExecutor(Executor):
    """Submits each candidate as a task to a ``dask.distributed`` cluster.

    Args:
        address: scheduler address of a running cluster (``tcp://host:8786``); ``None``
            starts a local cluster.
        client: an existing ``distributed.Client`` to use instead (not closed by moorec).
        n_workers: workers of the local cluster (default: one per available core).
        threads_per_worker: threads per local worker (default 1: JAX parallelises inside).
        retries: extra attempts Dask makes for a trial that raised (a worker's death is
            handled by the scheduler itself).
        cluster_kwargs: further arguments of ``distributed.LocalCluster``.
        pin: pin each worker of a local cluster to its own cores (as the processes executor
            does); workers of a cluster given by ``address`` or ``client`` are left as they are.
    """

    name = "dask"

    def __init__(self, address: str | None = None, *, client=None, n_workers: int | None = None,
                 threads_per_worker: int = 1, retries: int = 0,
                 cluster_kwargs: dict[str, Any] | None = None, pin: bool = True):  # fmt: skip
        self.address = address
        if n_workers is not None and (isinstance(n_workers, bool) or int(n_workers) < 1):
            raise ConfigError(f"n_workers must be >= 1, got {n_workers!r}")
        self.n_workers = int(n_workers) if n_workers is not None else available_cores()
        self.threads_per_worker = threads_per_worker
        self.retries = retries
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.pin = bool(pin)
        self.client = client
        self._own_client = client is None
        self._cluster = None
        self._factory = None
        self._token = uuid.uuid4().hex

    def start(self, factory) -> None:
        """Connect to (or start) the cluster and send ``factory`` to every worker once."""
        distributed = _require_distributed()
        if self.client is None:
            if self.address is None:
                import dask

                # As for worker processes: XLA limited to the worker's share of the cores.
                threads = max(1, available_cores() // self.n_workers)
                kwargs = {"env": worker_environment(threads), **self.cluster_kwargs}
                # Dask sets MALLOC_TRIM_THRESHOLD_=65536 in its workers (and, through the
                # nanny, in this process's environment, which later spawned processes
                # inherit). Measured here, it made XLA's CPU training 2.3x slower in every
                # process that inherited it; moorec's local workers go without it, and this
                # process's environment is put back as it was.
                spawn_env = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
                spawn_env["MALLOC_TRIM_THRESHOLD_"] = None
                with (
                    environ(),
                    dask.config.set({"distributed.nanny.pre-spawn-environ": spawn_env}),
                ):
                    self._cluster = distributed.LocalCluster(
                        n_workers=self.n_workers,
                        threads_per_worker=self.threads_per_worker,
                        processes=True,
                        dashboard_address=None,
                        **kwargs,
                    )
                self.client = distributed.Client(self._cluster)
            else:
                self.client = distributed.Client(self.address)
        pin = self.n_workers if self._cluster is not None and self.pin else 0
        self._factory = _TrialPlugin(self._token, factory, pin)
        self.client.register_plugin(self._factory, name=self._factory.name)

    def run(self, configs, part="valid"):
        """Submit every config; yield records as the cluster finishes them."""
        if self._factory is None:
            raise ConfigError("executor not started: call start(factory) first")
        check_part(part)
        distributed = _require_distributed()
        futures = {
            self.client.submit(
                _run_trial, self._token, cfg, part, pure=False, retries=self.retries
            ): i
            for i, cfg in enumerate(configs)
        }
        for fut in distributed.as_completed(list(futures)):
            i = futures[fut]
            try:
                rec = fut.result()
            except Exception as err:  # KilledWorker after repeated deaths, or a raise
                rec = failed_record(err, part=part)
            yield i, rec

    def describe(self) -> dict[str, Any]:
        """Scheduler address and worker count."""
        info = self.client.scheduler_info() if self.client is not None else {}
        return {
            "name": self.name,
            "scheduler": getattr(self.client, "scheduler", None) and self.client.scheduler.address,
            "workers": len(info.get("workers", {})),
            "local_cluster": self._cluster is not None,
        }

    def close(self) -> None:
        """Close the client and the local cluster this executor started."""
        if self.client is not None and self._factory is not None and not self._own_client:
            try:  # a shared cluster forgets this search
                self.client.unregister_worker_plugin(self._factory.name)
            except Exception:
                pass
        if self.client is not None and self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client, self._cluster, self._factory = None, None, None
