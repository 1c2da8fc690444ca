"""Candidates spread over worker processes on this machine, one per core by default.

Each worker is a fresh Python process (``spawn``: JAX cannot be forked safely). It receives the
trial factory once, builds its trainer once (data on its device, evaluators prepared) and keeps
it for the life of the executor, so the jitted programs compiled for the first candidate serve
every later one of the same shapes: no recompilation per trial, no reloading of data. XLA in a
worker is limited to its share of the cores, so workers do not oversubscribe the machine.

A worker that dies (killed, out of memory) breaks the pool; the pool is restarted and the
candidates that had not finished are run again. A candidate whose worker died twice is recorded
as failed; the search goes on.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from moorec.errors import ConfigError, ExecutorError
from moorec.executors.base import (
    Executor,
    available_cores,
    core_share,
    environ,
    worker_environment,
)
from moorec.executors.trial import check_part, failed_record, run_trial

__all__ = ["ProcessExecutor"]

_TRAINER: Any = None


def _init_worker(factory, slots=None) -> None:
    global _TRAINER
    if slots is not None:  # pin this worker to its own cores
        os.sched_setaffinity(0, slots.get(timeout=60))
    _TRAINER = factory.build()


def _ping() -> int:
    return os.getpid()


def _run_trial(config, part="valid") -> dict[str, Any]:
    rec = run_trial(_TRAINER, config, part)
    rec["worker"] = os.getpid()
    return rec


class ProcessExecutor(Executor):
    """Trains candidates in worker processes that stay warm across generations.

    Args:
        workers: number of worker processes (default: one per available core).
        threads_per_worker: CPU threads XLA may use in each worker (default: the cores divided
            among the workers, at least 1).
        retries: times a candidate is run again after its worker died.
        start_timeout: seconds the workers may take to start (import, data, evaluators).
        pin: pin each worker to its own share of the cores (``os.sched_setaffinity``) when
            there are no more workers than cores. Unpinned workers migrate between cores and,
            measured on a 2-core machine, two of them ran 1.4x slower each than two pinned ones.
    """

    name = "processes"

    def __init__(self, workers: int | None = None, threads_per_worker: int | None = None,
                 retries: int = 1, pin: bool = True,
                 start_timeout: float = 300.0):  # fmt: skip
        cores = available_cores()
        self.workers = int(workers) if workers is not None else cores
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers!r}")
        self.threads = threads_per_worker or max(1, cores // self.workers)
        self.retries = int(retries)
        self.start_timeout = float(start_timeout)
        self.pin = bool(pin) and hasattr(os, "sched_setaffinity") and self.workers <= cores
        self._pool: ProcessPoolExecutor | None = None
        self._factory = None
        self.pids: list[int] = []
        self.restarts = 0

    def start(self, factory) -> None:
        """Start the workers; each builds its trainer from ``factory`` once."""
        self._factory = factory
        self._start_pool()

    def _start_pool(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        slots = None
        if self.pin:
            slots = ctx.Queue()
            for w in range(self.workers):
                slots.put(core_share(w, self.workers))
        with environ(**worker_environment(self.threads)):
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self._factory, slots),
            )
            # Start every worker now, while the environment holds the thread limits.
            futures = [self._pool.submit(_ping) for _ in range(self.workers)]
            done, _ = wait(futures, timeout=self.start_timeout)
            if len(done) < len(futures) or any(f.exception() for f in done):
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                raise ExecutorError(
                    f"{self.workers} worker processes did not start within "
                    f"{self.start_timeout:g} s. Workers are spawned, so they import the main "
                    "script again: a script using the processes executor must start its work "
                    "under `if __name__ == '__main__':`"
                )
            self.pids = sorted({f.result() for f in futures} | set(self._pool._processes))

    def run(self, configs, part="valid"):
        """Submit every config; yield records as workers finish them.

        After a worker died, the unfinished configs run one at a time, so a candidate that
        kills its worker (each time) is the only one recorded as failed.
        """
        if self._pool is None:
            raise ConfigError("executor not started: call start(factory) first")
        check_part(part)
        pending = dict(enumerate(configs))
        deaths = dict.fromkeys(pending, 0)
        isolate = False
        while pending:
            batch = [next(iter(pending))] if isolate else list(pending)
            futures = {self._pool.submit(_run_trial, pending[i], part): i for i in batch}
            broken = False
            not_done = set(futures)
            while not_done:
                done, not_done = wait(not_done, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = futures[fut]
                    try:
                        rec = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        continue
                    except Exception as err:  # the trainer raised past its own handling
                        rec = failed_record(err, part=part)
                    del pending[i]
                    yield i, rec
            if broken:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self.restarts += 1
                if isolate:  # one trial was in flight: its worker died
                    i = batch[0]
                    deaths[i] += 1
                    if deaths[i] > self.retries:
                        del pending[i]
                        yield (
                            i,
                            failed_record(
                                RuntimeError(
                                    f"worker process died {deaths[i]} times on this trial"
                                ),
                                part=part,
                            ),
                        )
                isolate = True
                self._start_pool()

    def describe(self) -> dict[str, Any]:
        """Workers, threads per worker, restarts after a worker died."""
        return {
            "name": self.name,
            "workers": self.workers,
            "threads_per_worker": self.threads,
            "pinned": self.pin,
            "restarts": self.restarts,
        }

    def close(self) -> None:
        """Stop the workers."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
