"""The baseline front a reviewer asks for: one default model re-ranked over a weight sweep.

:func:`baseline_front` trains one model with its family's default settings
(:func:`moorec.models.defaults`) and re-ranks its top-``N`` candidates for every weight of a
grid, in one re-ranking call per user chunk. The result is stored as a run folder like a
search's (``algorithm = "baseline"``): the trained model's own top-``K`` is trial 0, each weight
a trial whose ``parent`` is trial 0, the front the non-dominated weights on validation, each
re-scored on test with the same re-ranker and weight. ``moorec report`` overlays it on any
searched front.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from moorec.errors import ConfigError
from moorec.executors.base import make_executor
from moorec.executors.posthoc import Sweep
from moorec.executors.trial import TrialSpec, searchable_names
from moorec.models.family import defaults
from moorec.models.registry import _MODELS
from moorec.objectives.base import Objective, parse_all
from moorec.results.run import Run, load
from moorec.results.store import RunStore
from moorec.search.front import final_front
from moorec.search.indicators import check_reference
from moorec.search.progress import GenerationLog, generation_line, pareto_table
from moorec.search.space import check_settings
from moorec.search.trials import TrialRunner

__all__ = ["baseline_front", "baseline_settings", "check_baseline"]


def baseline_settings(model: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The baseline's training and model settings: the family defaults, then ``settings``.

    Raises:
        UnknownNameError: for an unknown model or setting name.
    """
    from moorec.errors import UnknownNameError

    if model not in _MODELS:
        raise UnknownNameError("model", model, _MODELS)
    d = defaults(model)
    merged = {**d["train"], **d["model"], **dict(settings or {})}
    valid = searchable_names(model)
    for name in merged:
        if name not in valid:
            raise UnknownNameError("baseline setting", name, valid)
    return merged


def check_baseline(
    *,
    model: str = "bpr",
    rerank: str = "mmr",
    weights: int | Sequence[float] = 21,
    objectives: Sequence[str | Objective] = ("ndcg@10", "ild@10"),
    candidates: int = 100,
    similarity: str = "jaccard",
    settings: Mapping[str, Any] | None = None,
    reference: Mapping[str, Sequence[float]] | None = None,
    seed: int = 0,
    knee: str = "asf",
):
    """Check the settings of :func:`baseline_front` (same arguments) before any work.

    Returns:
        ``(objectives, fixed settings, sweep, reference bounds)``.

    Raises:
        ConfigError, UnknownNameError: as :func:`baseline_front` documents.
    """
    from moorec.search.indicators import check_knee

    objs = parse_all(objectives)
    if len(objs) < 2:
        got = [o.key for o in objs]
        raise ConfigError(f"a baseline front needs at least 2 objectives, got {got}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    check_knee(knee, None, objs)
    fixed = {
        **baseline_settings(model, settings),
        "rerank_candidates": candidates,
        "rerank_similarity": similarity,
    }
    grid = weights if isinstance(weights, int) else list(weights)
    sweep = Sweep({"rerank_weight": grid, "rerank": rerank})
    check_settings(model, {**fixed, "rerank": rerank})
    from moorec.search.runner import check_candidates_cover

    check_candidates_cover("candidates", candidates, objs)
    return objs, fixed, sweep, check_reference(reference, objs)


def baseline_front(
    split,
    *,
    out: str | Path,
    model: str = "bpr",
    rerank: str = "mmr",
    weights: int | Sequence[float] = 21,
    objectives: Sequence[str | Objective] = ("ndcg@10", "ild@10"),
    candidates: int = 100,
    similarity: str = "jaccard",
    settings: Mapping[str, Any] | None = None,
    seed: int = 0,
    reference: Mapping[str, Sequence[float]] | None = None,
    knee: str = "asf",
    data_info: Mapping[str, Any] | None = None,
    executor: str = "sequential",
    progress: bool = True,
) -> Run:
    """One default model plus a re-ranking weight sweep, stored as a run folder.

    Args:
        split: a :class:`~moorec.split.Split` (trained on ``train``, swept on ``valid``, the
            front re-scored on ``test``).
        out: run folder (an existing one of the same settings is resumed: nothing is redone).
        model: registered model name; trained with :func:`moorec.models.defaults` settings.
        rerank: the re-ranker swept (``"mmr"``, ``"dpp"``, ``"calibration"``, ``"xquad"``).
        weights: a count of evenly spaced weights from 0 to 1 (``>= 2``) or the weights.
        objectives: at least two objective keys.
        candidates: ``N``, the model's top-``N`` that is re-ranked.
        similarity: the item similarity of MMR and DPP (``jaccard``, ``cosine``,
            ``embedding``).
        settings: training or model settings replacing the defaults (e.g. ``{"epochs": 40}``).
        seed: seed of the training (and of nothing else: the sweep is deterministic).
        reference: ``{key: [ideal, reference]}`` hypervolume bounds; others derived.
        knee: knee method of the front.
        data_info: description of the data and split recorded in the manifest.
        executor: who trains the one model (``sequential`` by default).
        progress: print the run's line and its Pareto table.

    Returns:
        The stored :class:`~moorec.results.Run`.

    Raises:
        ConfigError: for fewer than 2 objectives, a bad weight grid, ``candidates`` below
            the objectives' longest cutoff, or a setting out of range.
        UnknownNameError: for an unknown model, re-ranker, similarity or setting.
    """
    from moorec.search.runner import run_manifest

    objs, fixed, sweep, refs = check_baseline(
        model=model, rerank=rerank, weights=weights, objectives=objectives,
        candidates=candidates, similarity=similarity, settings=settings, reference=reference,
        seed=seed, knee=knee,
    )  # fmt: skip
    manifest = run_manifest(
        data_info=data_info, model=model, space=None, fixed=fixed, objs=objs, cons=[],
        algorithm="baseline", pop_size=1, generations=1, seed=seed, knee=knee,
        knee_weights=None, reference=refs, sweep=sweep,
        extra={"baseline": {"model": model, "rerank": rerank, "weights": sweep.weights}},
    )  # fmt: skip
    store = RunStore.create_or_resume(out, manifest)
    keys = tuple(dict.fromkeys(o.key for o in objs))
    spec = TrialSpec(split, model, keys, fixed, seed, sweep=sweep, reuse=True,
                     state_dir=str(store.path / "states"))  # fmt: skip
    runner = make_executor(executor)
    trials = TrialRunner(
        store, runner, spec, seed=seed, constraints=[], two_level=True, fixed=fixed,
        on_start=lambda: store.update_manifest(executor=runner.describe()),
    )  # fmt: skip
    log = GenerationLog(store, objs, [], refs)
    if progress:
        print(f"baseline {model} + {rerank} over {len(sweep.weights)} weights -> {store.path}")
    try:
        trials.generation = 1
        trials.evaluate([{"rerank": "none"}])  # the model's own top-K; the sweep follows it
        rec = log.record(1)
        if progress:
            print(generation_line(rec, 1, store.trials()), flush=True)
        front = final_front(trials, log, objs, [], manifest=manifest, knee=knee,
                            knee_weights=None, report=print if progress else None)  # fmt: skip
    finally:
        trials.close()
    store.write_front(front)
    run = load(store.path)
    if progress:
        print(pareto_table(run))
    return run
