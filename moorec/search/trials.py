"""Who trains and scores a search's candidates, and what each one leaves in the run store.

:class:`TrialRunner` is the search's side of an executor. pymoo proposes a population of
configs; the runner answers each config already in the store from its stored record (this is
how a resumed search replays), hands the others to the executor, and appends the executor's
records to ``trials.jsonl`` in population order as soon as every earlier one is in. At the end
it re-scores the front's members on the test split through the same executor.

In a two-level search (post-hoc settings searched, or a sweep), candidates that share a
training part share one trained model. The configs whose model is not trained yet go to the
executor first, one per training part; the others follow once those are stored, and find
their model in the trainer's state cache (they record ``"parent"``: the trial that trained
it). A trained candidate's sweep points are stored right after it, each a trial with
``"parent"`` set to it and ``"from_sweep": true``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from moorec.executors.base import Executor
from moorec.executors.posthoc import effective_config, training_key
from moorec.results.store import RunStore
from moorec.search.problem import Constraint
from moorec.search.space import config_key

__all__ = ["TrialRunner"]


class TrialRunner:
    """Trains and scores candidates through an executor; stores one trial per new config.

    Args:
        store: the run store (its stored trials answer configs seen before).
        executor: the executor; started on first use with ``factory``.
        factory: what the executor builds its trainer from (a
            :class:`~moorec.executors.TrialSpec`, or a wrapped custom trainer).
        seed: the run's seed, recorded in each trial.
        constraints: the constraints; each ok trial records whether it meets them.
        on_start: called once when the executor has started (e.g. to record it).
        two_level: candidates sharing a training part share one trained model (see above);
            a config's key is that of its effective config (post-hoc settings without a
            re-ranker dropped: :func:`~moorec.executors.posthoc.effective_config`).
        fixed: the run's fixed settings (whether a re-ranker is fixed).

    Attributes:
        generation: the generation the next stored trials belong to.
        trained: trials trained (not answered from the store) in this session.
        reused: keys of trials of an earlier session that answered a config.
    """

    def __init__(
        self,
        store: RunStore,
        executor: Executor,
        factory: Any,
        *,
        seed: int,
        constraints: Sequence[Constraint],
        on_start: Callable[[], None] | None = None,
        two_level: bool = False,
        fixed: dict[str, Any] | None = None,
    ):
        self.store = store
        self.executor = executor
        self.factory = factory
        self.seed = seed
        self.constraints = list(constraints)
        self.on_start = on_start
        self.done = store.trial_by_key()
        self.stored_keys = set(self.done)
        self.reused: set[str] = set()
        self.generation = 0
        self.tags: dict[str, Any] = {}  # merged into each stored record (multi-fidelity rungs)
        self.trained = 0
        self.started = False
        self.two_level = two_level
        self.fixed = dict(fixed or {})
        # training key -> the trial that trained its model (two-level searches)
        self.parents: dict[str, int] = {}
        for t in store.trials():
            if two_level and t["status"] == "ok" and t.get("trained"):
                self.parents.setdefault(training_key(t["config"]), t["trial"])

    @property
    def resumed(self) -> bool:
        """Whether the store held trials of an earlier session."""
        return bool(self.stored_keys)

    def start(self) -> None:
        """Start the executor (once)."""
        if not self.started:
            self.executor.start(self.factory)
            self.started = True
            if self.on_start is not None:
                self.on_start()

    def evaluate(self, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The record of every config: stored ones as stored, new ones trained and stored.

        A config that appears twice in ``configs`` is trained once.
        """
        keys = [self.key(cfg) for cfg in configs]
        self.reused.update(k for k in keys if k in self.stored_keys)
        todo: dict[str, int] = {}  # key -> index of its first occurrence
        for index, key in enumerate(keys):
            if key not in self.done and key not in todo:
                todo[key] = index
        if todo:
            self.start()
            for wave in self._waves(list(todo.values()), configs):
                # Records are stored in population order as soon as every earlier one is in.
                order = [i for i in wave if keys[i] not in self.done]
                finished: dict[int, dict[str, Any]] = {}
                cursor = 0
                for j, rec in self.executor.run([configs[i] for i in order]):
                    finished[j] = rec
                    while cursor < len(order) and cursor in finished:
                        index = order[cursor]
                        self._store(finished.pop(cursor), index, keys[index], configs[index])
                        cursor += 1
        return [self.done[key] for key in keys]

    def key(self, config: dict[str, Any]) -> str:
        """The run-store key of ``config``."""
        if self.two_level:
            return config_key(effective_config(config, self.fixed))
        return config_key(config)

    def _waves(self, order: list[int], configs: list[dict[str, Any]]) -> list[list[int]]:
        """The configs to run as waves: all at once, or (two-level) two waves.

        The first wave holds the first config of each training part not trained yet, the
        second the rest, whose models the first wave trains.
        """
        if not self.two_level:
            return [order]
        first, rest, seen = [], [], set(self.parents)
        for i in order:
            key = training_key(configs[i])
            (rest if key in seen else first).append(i)
            seen.add(key)
        return [w for w in (first, rest) if w]

    __call__ = evaluate

    def _store(self, rec: dict[str, Any], index: int, key: str, cfg: dict[str, Any]) -> None:
        sweep = rec.pop("sweep", None)
        if self.two_level and rec["status"] == "ok":
            # The first stored trial of a training part owns its model ("trained"); later ones
            # point to it. Decided here, not by whether the executor fitted the model just now,
            # so that a resumed run (whose model may come back from states/) stores the same.
            parent = self.parents.get(training_key(cfg))
            rec["trained"] = parent is None
            if parent is not None:
                rec["parent"] = parent
                rec["train_seconds"] = 0.0
        trial = self._append(rec, index, key, cfg)
        if self.two_level and rec["status"] == "ok" and rec["trained"]:
            self.parents[training_key(cfg)] = trial
        for point in sweep or ():
            point = dict(point)
            child_cfg = point.pop("config")
            child_key = self.key(child_cfg)
            if child_key in self.done:  # the same config was stored before: keep that one
                continue
            point.update(trained=False, parent=trial, train_seconds=0.0, from_sweep=True)
            self._append(point, index, child_key, child_cfg, count=False)

    def _append(self, rec: dict[str, Any], index: int, key: str, cfg: dict[str, Any],
                count: bool = True) -> int:  # fmt: skip
        if rec["status"] == "ok":
            rec["feasible"] = all(c.g(rec["valid"][c.key]) <= 0 for c in self.constraints)
        rec = {
            "type": "trial",
            "trial": self.store.next_trial_id(),
            "generation": self.generation,
            "index": index,
            "key": key,
            "config": cfg,
            "seed": self.seed,
            "executor": getattr(self.executor, "choice", self.executor.name),
            **self.tags,
            **rec,
        }
        self.store.append_trial(rec)
        self.done[key] = rec
        self.trained += int(count)
        return rec["trial"]

    def test(self, members: Iterable[dict[str, Any]], report: Callable[[str], None] | None = None):
        """Re-score front ``members`` that have no test values yet on the test split.

        Each is retrained with its config and the run's seed by the same executor (the same
        model that was scored on validation); a member whose re-scoring fails keeps no test
        values and gets ``test_error`` (a resumed run tries it again).
        """
        untested = [m for m in members if m.get("test") is None]
        if not untested:
            return
        self.start()
        for j, rec in self.executor.run([m["config"] for m in untested], part="test"):
            m = untested[j]
            if rec["status"] == "ok":
                m["test"] = rec["test"]
                self.store.append_test(m["trial"], m["test"])
            else:
                m["test_error"] = rec["reason"]
                if report is not None:
                    report(f"trial {m['trial']}: test re-scoring failed: {rec['reason']}")

    def close(self) -> None:
        """Close the executor."""
        self.executor.close()
