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
from moorec.models.registry import _MODELS, create
from moorec.objectives.evaluate import Evaluator
from moorec.train.loop import TrainConfig, fit

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
TRAIN_FIELDS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("loss_weights", "seed")
)


def searchable_names(model: str) -> list[str]:
    """Names a search variable (or a fixed setting) may take for ``model``."""
    factory = _MODELS[model]
    init = factory.__init__ if inspect.isclass(factory) else factory
    params = [
        name
        for name, p in inspect.signature(init).parameters.items()
        if name not in ("n_users", "n_items", "rngs", "self", "train")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    return sorted(set(TRAIN_FIELDS) | set(getattr(factory, "hparam_names", ())) | set(params))


def split_settings(model: str, settings: Mapping[str, Any]):
    """``(train settings, loss weights, model constructor settings)`` of one candidate."""
    hp = set(getattr(_MODELS[model], "hparam_names", ())) - {"l2"}
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
    """

    split: Any
    model: str
    keys: tuple[str, ...]
    fixed: Mapping[str, Any]
    seed: int

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
    """Trains and scores one candidate at a time; evaluators are built once and reused."""

    def __init__(self, spec: TrialSpec):
        self.spec = spec
        self.valid = Evaluator(spec.split, "valid", list(spec.keys))
        self._test: Evaluator | None = None
        self._stop: dict[str, Any] = {}

    def stopping(self, metric: str):
        """``(evaluator, validate function, maximise)`` driving early stopping on ``metric``."""
        if metric not in self._stop:
            ev = Evaluator(self.spec.split, "valid", [metric])
            self._stop[metric] = (ev, ev.metric(metric), ev.objectives[0].direction == "max")
        return self._stop[metric]

    def fit(self, config: Mapping[str, Any]):
        """Train one candidate; returns the :class:`~moorec.train.FitResult`."""
        cfg, model_kw = self.spec.settings(config)
        _, validate, maximize = self.stopping(cfg.valid_metric)
        model = self.spec.create(model_kw)
        return fit(model, self.spec.split.train, cfg, validate=validate, maximize=maximize)

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
        ev = self.evaluator(part)
        t0 = time.perf_counter()
        try:
            result = self.fit(config)
            t1 = time.perf_counter()
            values = ev(result.model)
            return ok_record(values, t1 - t0, time.perf_counter() - t1, result.best_epoch,
                             len(result.history), part)  # fmt: skip
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
