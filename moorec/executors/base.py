"""The executor interface: how a search's population is trained and scored.

An executor is started once per search with a *factory*: a picklable zero-argument callable that
returns a trainer (``config -> trial record``). The built-in factory is a
:class:`~moorec.executors.TrialSpec`; a search given a custom ``trainer`` wraps it in
:class:`Given`. :meth:`Executor.run` takes the configs of a population and yields
``(index, record)`` pairs as candidates finish, in any order; the search stores them in
population order. Every executor returns records of the same form, and a failing candidate is a
``"failed"`` record, never an exception out of :meth:`Executor.run`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from moorec.errors import ConfigError, UnknownNameError

__all__ = [
    "EXECUTORS",
    "AutoExecutor",
    "Executor",
    "Given",
    "SequentialExecutor",
    "available_cores",
    "choose",
    "core_share",
    "environ",
    "make_executor",
    "worker_environment",
    "xla_cpu_flags",
]

EXECUTORS = ("sequential", "vectorized", "processes", "dask", "auto")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def core_share(index: int, n: int) -> set[int]:
    """The cores worker ``index`` of ``n`` is pinned to: every ``n``-th available core."""
    cores = sorted(os.sched_getaffinity(0))
    return set(cores[index % n :: n])


def xla_cpu_flags(threads: int) -> str:
    """``XLA_FLAGS`` limiting XLA's CPU backend to ``threads`` threads (kept flags appended)."""
    own = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    flags = "" if threads > 1 else own
    keep = os.environ.get("XLA_FLAGS", "")
    return " ".join(f for f in (keep, flags) if f)


def worker_environment(threads: int) -> dict[str, str]:
    """Environment of a worker process.

    XLA runs on ``threads`` CPU threads and does not grab a shared accelerator's memory up front.
    """
    return {"XLA_FLAGS": xla_cpu_flags(threads), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


@contextlib.contextmanager
def environ(**values: str):
    """Set ``values`` in this process's environment; on exit restore it exactly as it was.

    Worker processes started inside inherit ``values``; whatever else is set inside (Dask's
    nanny sets its workers' variables here too) is undone.
    """
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclasses.dataclass(frozen=True)
class Given:
    """A factory that returns an already built trainer (picklable if the trainer is)."""

    trainer: Callable[[Mapping[str, Any]], dict[str, Any]]

    def build(self):
        """The trainer itself."""
        return self.trainer


class Executor:
    """Trains and scores a population of candidates.

    Subclasses implement :meth:`start`, :meth:`run` and, if they hold resources, :meth:`close`.
    Use as a context manager, or call :meth:`close` when done.
    """

    name = "executor"

    def start(self, factory) -> None:
        """Prepare to run trials built by ``factory.build()`` (workers, data, evaluators)."""
        raise NotImplementedError

    def run(
        self, configs: Sequence[Mapping[str, Any]], part: str = "valid"
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Train and score each config; yields ``(index into configs, record)`` as each ends.

        Args:
            configs: the candidates' settings.
            part: ``"valid"`` (the search) or ``"test"`` (re-scoring the final front; the
                record's values are then under ``"test"``).
        """
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What ran, for the run store: ``{"name": ..., ...}`` plus the executor's settings."""
        return {"name": self.name}

    def plan(self, n_candidates: int) -> None:
        """Told how many candidates the search expects to run in all; most executors ignore it."""

    def close(self) -> None:
        """Release workers and clusters this executor started."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def map(
        self, configs: Sequence[Mapping[str, Any]], part: str = "valid"
    ) -> list[dict[str, Any]]:
        """Every config's record on ``part``, in the order of ``configs``."""
        out: list[dict[str, Any] | None] = [None] * len(configs)
        for i, rec in self.run(configs, part):
            out[i] = rec
        return out  # type: ignore[return-value]


class SequentialExecutor(Executor):
    """One candidate after another in this process: the reference every executor matches."""

    name = "sequential"

    def __init__(self):
        self._trainer = None

    def start(self, factory) -> None:
        """Build the trainer here."""
        self._trainer = factory.build()

    @property
    def trainer(self):
        """The trainer built by :meth:`start`."""
        if self._trainer is None:
            raise ConfigError("executor not started: call start(factory) first")
        return self._trainer

    def run(self, configs, part="valid"):
        """Train and score the configs one at a time, in order."""
        from moorec.executors.trial import check_part, run_trial

        check_part(part)
        for i, cfg in enumerate(configs):
            yield i, run_trial(self.trainer, cfg, part)


class AutoExecutor(Executor):
    """Chooses for the machine: vectorised on an accelerator; on a CPU, what measurements favour.

    On an accelerator the vectorised executor is used. On a CPU with several cores, worker
    processes pay a start-up before their first candidate (a new interpreter importing JAX and
    moorec, the data, the first compilation) that a small search never earns back. So the
    candidates run in this process until one batch (a generation) has been timed, and worker
    processes are started only if the work still expected is predicted to save more than that
    start-up (:func:`processes_pay`). The numbers and the decision are in :meth:`describe`.
    A population of one candidate always runs in this process, since no executor can make a
    single candidate faster.
    """

    name = "auto"

    def __init__(self, **options):
        self.options = options
        self.inner: Executor | None = None
        self.reason = ""
        self.choice = ""
        self._local = SequentialExecutor()
        self._used: dict[str, int] = {}
        self._expected: int | None = None
        self._pending = False  # processes are possible, not yet decided
        self._seconds: list[float] = []
        self.decision: dict[str, Any] | None = None

    def plan(self, n_candidates: int) -> None:
        """How many candidates the search expects to run in all (used to weigh start-up)."""
        self._expected = int(n_candidates)

    def start(self, factory) -> None:
        """Pick the executor for this machine and ``factory``, and start it."""
        from moorec.executors.trial import TrialSpec

        self.choice, self.reason = choose(isinstance(factory, TrialSpec))
        self._local_factory = factory
        if self.choice == "processes":  # decided once a batch has been timed here
            self._pending = True
            self.choice = "sequential"
            self.reason += "; candidates run in this process until a batch has been timed"
            self.inner = self._local
        else:
            self.inner = make_executor(self.choice, **self.options.get(self.choice, {}))
        self.inner.start(factory)

    def run(self, configs, part="valid"):
        """Run through the chosen executor (a lone candidate runs in this process)."""
        if self._pending:
            yield from self._timed(configs, part)
            return
        # auto stayed in this process, or a lone candidate that no executor makes faster
        if self.inner is self._local or (len(configs) == 1 and self.choice != "sequential"):
            yield from self._here(configs, part)
            return
        self._used[self.choice] = self._used.get(self.choice, 0) + len(configs)
        yield from self.inner.run(configs, part)

    def _here(self, configs, part):
        """Run ``configs`` in this process, each record saying so."""
        if self._local._trainer is None:
            self._local.start(self._local_factory)
        self._used["sequential"] = self._used.get("sequential", 0) + len(configs)
        for i, rec in self._local.run(configs, part):
            yield i, {**rec, "executor": "sequential"}

    def _timed(self, configs, part):
        """Run ``configs`` here, timing each; then decide whether processes would pay."""
        import time

        t0 = time.perf_counter()
        for i, rec in self._local.run(configs, part):
            now = time.perf_counter()
            self._seconds.append(now - t0)
            t0 = now
            self._used["sequential"] = self._used.get("sequential", 0) + 1
            yield i, {**rec, "executor": "sequential"}
        if len(configs) > 1 or len(self._seconds) > 1:
            self._decide(batch=len(configs))

    def _decide(self, batch: int) -> None:
        import statistics

        import moorec

        options = self.options.get("processes", {})
        cores = available_cores()
        workers = int(options.get("workers") or cores)
        done = sum(self._used.values())
        remaining = batch if self._expected is None else max(self._expected - done, 0)
        steady = self._seconds[1:] or self._seconds
        pays, figures = processes_pay(
            first_seconds=self._seconds[0],
            candidate_seconds=statistics.median(steady),
            remaining=remaining,
            workers=workers,
            cores=cores,
            import_seconds=moorec.IMPORT_SECONDS,
        )
        self._pending = False
        self.decision = {**figures, "processes": pays}
        if pays:
            self.choice = "processes"
            self.inner = make_executor("processes", **options)
            self.inner.start(self._local_factory)
            self.reason += f"; then processes: {figures['why']}"
        else:
            self.reason += f"; then stayed here: {figures['why']}"

    def describe(self) -> dict[str, Any]:
        """The chosen executor's description, with ``requested: "auto"`` and the reason."""
        inner = self.inner.describe() if self.inner is not None else {"name": None}
        out = {**inner, "requested": "auto", "reason": self.reason, "candidates": self._used}
        if self.decision is not None:
            out["decision"] = self.decision
        return out

    def close(self) -> None:
        """Close the chosen executor (and this process's trainer)."""
        if self.inner is not None and self.inner is not self._local:
            self.inner.close()
        self._local.close()


def processes_pay(
    *,
    first_seconds: float,
    candidate_seconds: float,
    remaining: int,
    workers: int,
    cores: int,
    import_seconds: float,
) -> tuple[bool, dict[str, Any]]:
    """Whether worker processes are predicted to finish the remaining candidates sooner.

    ``workers`` processes are credited with a speed-up of ``w = min(workers, cores)`` (the most
    they can give: measured on a 2-core machine, two workers trained BPR-MF populations 1.8-2.1x
    faster than one process, ``docs/executors.md``), so they save
    ``remaining * candidate_seconds * (1 - 1 / w)``. Their start-up is that of one worker
    (they start together): a new interpreter importing moorec (``import_seconds``, as this
    process took) and its first candidate, compilation included, on its share of the cores
    (``first_seconds * cores / threads`` with ``threads = max(1, cores // workers)``: this
    process's first candidate, slowed by the fewer threads). Processes pay when the saving
    exceeds the start-up. Small searches stay in this process: measured on that machine,
    worker processes had made them slower (57.5 s against 31.2 s for 8 candidates x 3
    generations, 19.7 s against 14.7 s for 40 trials).

    Returns:
        ``(pays, figures)``: the decision and the numbers behind it (``why`` in words).
    """
    w = max(1, min(workers, cores))
    threads = max(1, cores // max(workers, 1))
    saving = remaining * candidate_seconds * (1.0 - 1.0 / w)
    startup = import_seconds + first_seconds * cores / threads
    pays = w > 1 and saving > startup
    why = (
        f"{remaining} candidates left at {candidate_seconds:.3g} s each; {workers} workers on "
        f"{cores} cores (at most {w}x) would save {saving:.3g} s against an estimated start-up "
        f"of {startup:.3g} s"
    )
    figures = {
        "remaining": remaining,
        "candidate_seconds": candidate_seconds,
        "first_seconds": first_seconds,
        "import_seconds": import_seconds,
        "credited_speedup": w,
        "predicted_saving_seconds": saving,
        "startup_seconds": startup,
        "why": why,
    }
    return pays, figures


def choose(builtin_trainer: bool = True) -> tuple[str, str]:
    """``(executor name, reason)`` that ``auto`` picks on this machine.

    Args:
        builtin_trainer: whether candidates are trained by moorec's own trainer (the vectorised
            executor cannot run a custom trainer).
    """
    import jax

    backend = jax.default_backend()
    cores = available_cores()
    if backend in ("gpu", "cuda", "rocm", "tpu") and builtin_trainer:
        n = jax.device_count()
        return "vectorized", f"accelerator backend {backend!r} with {n} device(s)"
    if cores >= 2:
        return "processes", f"{backend} backend, {cores} CPU cores: one worker process per core"
    return "sequential", f"{backend} backend, {cores} CPU core"


def make_executor(name: str | Executor = "sequential", **options) -> Executor:
    """An executor by name (an :class:`Executor` instance is returned as it is).

    Args:
        name: ``sequential``, ``vectorized``, ``processes``, ``dask`` or ``auto``.
        **options: the executor's settings (e.g. ``workers=4`` for ``processes``,
            ``address="tcp://host:8786"`` for ``dask``, ``max_batch=32`` for ``vectorized``);
            for ``auto``, one mapping per executor it may pick
            (``processes={"workers": 4}``).

    Raises:
        UnknownNameError: for another name.
        ConfigError: for a setting the executor does not take.
    """
    if isinstance(name, Executor):
        if options:
            raise ConfigError("options go to make_executor(name, ...), not with an instance")
        return name
    if name not in EXECUTORS:
        raise UnknownNameError("executor", name, EXECUTORS)
    if name == "sequential":
        cls: Any = SequentialExecutor
    elif name == "processes":
        from moorec.executors.processes import ProcessExecutor as cls
    elif name == "dask":
        from moorec.executors.cluster import DaskExecutor as cls
    elif name == "vectorized":
        from moorec.executors.vectorized import VectorizedExecutor as cls
    else:
        unknown = sorted(set(options) - set(EXECUTORS[:-1]))
        if unknown:
            raise ConfigError(
                f"auto takes one mapping of settings per executor ({list(EXECUTORS[:-1])}), "
                f"got {unknown}"
            )
        return AutoExecutor(**options)
    try:
        return cls(**options)
    except TypeError as err:
        raise ConfigError(f"executor {name!r}: {err}") from None
