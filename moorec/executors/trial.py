"""One candidate's training and scoring, as every executor runs it.

A :class:`TrialSpec` holds what a search fixes for all its candidates (the split, the model, the
objectives, the shared settings, the seed); ``spec.build()`` gives a :class:`Trainer` that turns
one candidate's config into a trial record. The spec is what travels to worker processes and
cluster workers: each builds its trainer once and keeps it (and its compiled programs) warm.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
import traceback
from collections.abc import Mapping
from typing import Any

from moorec.errors import UnknownNameError
from moorec.executors.posthoc import (
    POSTHOC_NAMES,
    StateCache,
    Sweep,
    reranker_of,
    training_key,
)
from moorec.models.registry import _MODELS, create
from moorec.objectives.evaluate import Evaluator
from moorec.search.space import config_key
from moorec.train.loop import CLOSED_FORM_FIELDS, TrainConfig, fit

__all__ = [
    "PARTS",
    "TRAIN_FIELDS",
    "Trainer",
    "TrialSpec",
    "failed_record",
    "ok_record",
    "run_trial",
    "searchable_names",
    "split_settings",
]

# The parts of a split a candidate is scored on: validation during the search, test for the
# final front (the record's values are under the part's name).
PARTS = ("valid", "test")

# Every candidate trains with the run's seed; the loss weights are searched by their own names.
#: Fit states a trainer keeps for continuation (``TrialSpec.continue_budgets``): more than a
#: generation's candidates at a rung for any population a search takes here.
MAX_STATES = 256

TRAIN_FIELDS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("loss_weights", "seed")
)


def searchable_names(model: str) -> list[str]:
    """Names a search variable (or a fixed setting) may take for ``model``.

    The training fields (:data:`TRAIN_FIELDS`), the loss weights, the constructor settings and
    the post-hoc settings; for a closed-form model (``closed_form``: one pass, no epochs), of
    the training fields only those its fit reads (``patience``, ``valid_metric``).
    """
    factory = _MODELS[model]
    init = factory.__init__ if inspect.isclass(factory) else factory
    params = [
        name
        for name, p in inspect.signature(init).parameters.items()
        if name not in ("n_users", "n_items", "rngs", "self", "train")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    train = set(TRAIN_FIELDS)
    if getattr(factory, "closed_form", False):
        train &= set(CLOSED_FORM_FIELDS)
    names = train | set(getattr(factory, "hparam_names", ())) | set(params)
    return sorted(names | set(POSTHOC_NAMES))


def split_settings(model: str, settings: Mapping[str, Any]):
    """``(train settings, loss weights, model constructor settings)`` of one candidate.

    Post-hoc settings (the re-ranker's, :data:`~moorec.executors.posthoc.POSTHOC_NAMES`) are
    none of the three: they apply after training.
    """
    hp = set(getattr(_MODELS[model], "hparam_names", ())) - {"l2"}
    settings = {k: v for k, v in settings.items() if k not in POSTHOC_NAMES}
    train = {k: v for k, v in settings.items() if k in TRAIN_FIELDS}
    weights = {k: float(v) for k, v in settings.items() if k in hp}
    model_kw = {k: v for k, v in settings.items() if k not in train and k not in weights}
    return train, weights, model_kw


def failed_record(err: BaseException, seconds: float = 0.0, part: str = "valid") -> dict[str, Any]:
    """The record of a trial that raised ``err`` (``part``: the values it would have had)."""
    return {
        "status": "failed",
        "reason": f"{type(err).__name__}: {err}",
        part: None,
        "train_seconds": seconds,
        "eval_seconds": 0.0,
        "traceback": "".join(traceback.format_exception(err, limit=3)),
    }


def ok_record(valid: Mapping[str, float], train_s: float, eval_s: float, best_epoch: int,
              epochs_run: int, part: str = "valid") -> dict[str, Any]:  # fmt: skip
    """The record of a trial that trained and scored; non-finite objectives make it fail.

    The objective values are under ``part`` (``"valid"``, or ``"test"`` for a front member).
    """
    bad = [k for k, v in valid.items() if not math.isfinite(v)]
    if bad:
        return failed_record(FloatingPointError(f"non-finite objectives {bad}"), train_s, part)
    return {
        "status": "ok",
        "reason": None,
        part: dict(valid),
        "train_seconds": train_s,
        "eval_seconds": eval_s,
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
    }


@dataclasses.dataclass(frozen=True)
class TrialSpec:
    """What every candidate of one search shares.

    Attributes:
        split: the :class:`~moorec.split.Split` (candidates train on ``train``, score on
            ``valid``; ``test`` only for the final front).
        model: registered model name.
        keys: objective (and constraint) keys each trial reports.
        fixed: settings every candidate shares (merged under each candidate's config).
        seed: seed of every candidate's initialisation, shuffling and negatives.
        sweep: a :class:`~moorec.executors.posthoc.Sweep` every trained candidate is also
            evaluated over (on validation), or ``None``.
        reuse: keep trained models by their training part
            (:class:`~moorec.executors.posthoc.StateCache`), so that candidates differing
            only in post-hoc settings, and the front's test re-scoring, train nothing.
        state_dir: the folder where :attr:`reuse` writes trained states (``None``: memory).
        continue_budgets: keep each fit's state by its config without ``epochs``, so that a
            candidate asked again with more epochs (a multi-fidelity search's promotion)
            continues its earlier fit instead of training from the start
            (:class:`~moorec.train.FitState`; the values are those of a fit from the start).
    """

    split: Any
    model: str
    keys: tuple[str, ...]
    fixed: Mapping[str, Any]
    seed: int
    sweep: Sweep | None = None
    reuse: bool = False
    state_dir: str | None = None
    continue_budgets: bool = False

    def build(self) -> Trainer:
        """A :class:`Trainer` for this spec (evaluators prepared once)."""
        return Trainer(self)

    def settings(self, config: Mapping[str, Any]):
        """``(TrainConfig, model constructor settings)`` of one candidate.

        Raises:
            ConfigError: for an invalid setting (the trial is then recorded as failed).
        """
        train_kw, weights, model_kw = split_settings(self.model, {**self.fixed, **config})
        cfg = TrainConfig(**{**train_kw, "seed": self.seed}, loss_weights=weights)
        return cfg, model_kw

    def create(self, model_kw: Mapping[str, Any]):
        """A freshly initialised model with the run's seed."""
        sp = self.split
        return create(self.model, sp.n_users, sp.n_items, seed=self.seed, train=sp.train,
                      **model_kw)  # fmt: skip


class Trainer:
    """Trains and scores one candidate at a time; evaluators are built once and reused.

    Attributes:
        cache: trained models by training part when the spec asks for reuse, else ``None``.
        trainings: models trained by this trainer (found again from the cache: not counted).
    """

    def __init__(self, spec: TrialSpec):
        self.spec = spec
        self.valid = Evaluator(spec.split, "valid", list(spec.keys))
        self._test: Evaluator | None = None
        self._stop: dict[str, Any] = {}
        self.cache = StateCache(spec.state_dir) if spec.reuse else None
        self.trainings = 0
        self._states: dict[str, Any] = {}  # config without epochs -> FitState (continuation)

    def stopping(self, metric: str):
        """``(evaluator, validate function, maximise)`` driving early stopping on ``metric``."""
        if metric not in self._stop:
            ev = Evaluator(self.spec.split, "valid", [metric])
            self._stop[metric] = (ev, ev.metric(metric), ev.objectives[0].direction == "max")
        return self._stop[metric]

    def fit(self, config: Mapping[str, Any]):
        """Train one candidate; returns the :class:`~moorec.train.FitResult`.

        With ``spec.continue_budgets``, a fit whose config differs from an earlier one only in
        ``epochs`` (more of them) continues that fit from its state.
        """
        cfg, model_kw = self.spec.settings(config)
        _, validate, maximize = self.stopping(cfg.valid_metric)
        model = self.spec.create(model_kw)
        self.trainings += 1
        if not self.spec.continue_budgets or getattr(model, "closed_form", False):
            return fit(model, self.spec.split.train, cfg, validate=validate, maximize=maximize)
        key = config_key({k: v for k, v in config.items() if k != "epochs"})
        state = self._states.get(key)
        resume = state if state is not None and state.continues(cfg) else None
        result = fit(model, self.spec.split.train, cfg, validate=validate, maximize=maximize,
                     resume=resume, keep_state=True)  # fmt: skip
        self._states.pop(key, None)
        self._states[key] = result.state
        while len(self._states) > MAX_STATES:  # the oldest go first
            self._states.pop(next(iter(self._states)))
        return result

    def trained(self, config: Mapping[str, Any]) -> tuple[Any, dict[str, Any], bool]:
        """``(model, summary, trained_now)`` of ``config``'s training part.

        With reuse, a model trained before (in memory or in the state folder) is returned
        without training; ``summary`` holds ``train_seconds``, ``best_epoch`` and
        ``epochs_run`` of the fit that made it.
        """
        key = training_key(config) if self.cache is not None else None
        if key is not None:
            _, model_kw = self.spec.settings(config)
            got = self.cache.get(key, lambda: self.spec.create(model_kw))
            if got is not None:
                return got[0], got[1], False
        t0 = time.perf_counter()
        result = self.fit(config)
        summary = {
            "train_seconds": time.perf_counter() - t0,
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
        }
        if key is not None:
            self.cache.put(key, result.model, summary)
        return result.model, summary, True

    def reranker(self, config: Mapping[str, Any]):
        """The candidate's re-ranker (``None``: its own top-K), fixed settings merged under it."""
        return reranker_of({**self.spec.fixed, **config})

    def score(self, model, config: Mapping[str, Any], part: str, summary: Mapping[str, Any],
              trained_now: bool = True) -> dict[str, Any]:  # fmt: skip
        """The record of a trained ``model`` for ``config`` on ``part`` (re-ranked as it says).

        On validation, with a sweep, the record also holds ``"sweep"``: one entry per grid
        point (``{"config", "status", "valid", ...}``, each a record of its own), all from one
        re-ranking call on one candidate ranking.
        """
        ev = self.evaluator(part)
        t1 = time.perf_counter()
        rr = self.reranker(config)
        values = ev(model) if rr is None else ev(model, rerank=rr)
        # train_seconds: the fit that made the model (the run store keeps it on the trial that
        # owns the model, and 0 on those that reuse it); trained: whether it was fitted now.
        rec = ok_record(values, summary["train_seconds"], time.perf_counter() - t1,
                        summary["best_epoch"], summary["epochs_run"], part)  # fmt: skip
        if self.spec.reuse:
            rec["trained"] = trained_now
        if part == "valid" and self.spec.sweep is not None and rec["status"] == "ok":
            rec["sweep"] = self.sweep(model, config, summary)
        return rec

    def sweep(self, model, config: Mapping[str, Any], summary: Mapping[str, Any]) -> list[dict]:
        """The sweep's records for one trained ``model`` (validation)."""
        configs = self.spec.sweep.configs(config, self.spec.fixed)
        rr = self.reranker(configs[0])
        t0 = time.perf_counter()
        try:
            values = self.valid.sweep(model, rr, [c["rerank_weight"] for c in configs])
        except Exception as err:
            return [{"config": c, **failed_record(err)} for c in configs]
        each = (time.perf_counter() - t0) / len(configs)
        return [
            {"config": c, **ok_record(v, 0.0, each, summary["best_epoch"], summary["epochs_run"])}
            for c, v in zip(configs, values, strict=True)
        ]

    def evaluator(self, part: str = "valid") -> Evaluator:
        """The evaluator of the run's objectives on ``part`` (the test one is built once needed)."""
        check_part(part)
        if part == "valid":
            return self.valid
        if self._test is None:
            self._test = Evaluator(self.spec.split, "test", list(self.spec.keys))
        return self._test

    def __call__(self, config: Mapping[str, Any], part: str = "valid") -> dict[str, Any]:
        """Train ``config`` and score it on ``part``; a failure is a record, not an exception.

        Training is the same on either part (early stopping on validation), so a front member
        re-scored on test is the model that was scored on validation.
        """
        self.evaluator(part)
        t0 = time.perf_counter()
        try:
            if self.cache is None and self.spec.sweep is None and self.reranker(config) is None:
                result = self.fit(config)  # a one-level search: exactly as it always was
                t1 = time.perf_counter()
                values = self.evaluator(part)(result.model)
                rec = ok_record(values, t1 - t0, time.perf_counter() - t1, result.best_epoch,
                                len(result.history), part)  # fmt: skip
                if result.continued_from:
                    rec["continued_from"] = result.continued_from
                return rec
            model, summary, now = self.trained(config)
            return self.score(model, config, part, summary, now)
        except Exception as err:
            return failed_record(err, time.perf_counter() - t0, part)

    def test(self, config: Mapping[str, Any]) -> dict[str, float]:
        """Retrain (same config and seed: the same model) and score on the test split."""
        return self.evaluator("test")(self.fit(config).model)


def check_part(part: str) -> str:
    """``part`` if it is one of :data:`PARTS`, else :class:`~moorec.errors.UnknownNameError`."""
    if part not in PARTS:
        raise UnknownNameError("part", part, PARTS)
    return part


def run_trial(trainer, config: Mapping[str, Any], part: str = "valid") -> dict[str, Any]:
    """One candidate's record on ``part``, as every executor runs it.

    Args:
        trainer: a :class:`Trainer`, or a custom trainer: ``trainer(config)`` gives a
            validation record and ``trainer.test(config)`` the test values.
        config: the candidate's settings.
        part: ``"valid"`` or ``"test"``.

    Returns:
        The record; its values are under ``part``. A failure is a record, not an exception.
    """
    if check_part(part) == "valid":
        return trainer(config)
    if isinstance(trainer, Trainer):
        return trainer(config, part)
    t0 = time.perf_counter()
    try:
        values = trainer.test(config)
    except Exception as err:
        return failed_record(err, time.perf_counter() - t0, part)
    return ok_record(values, time.perf_counter() - t0, 0.0, 0, 0, part)
