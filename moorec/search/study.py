"""A study: repeated runs of one search config with different search seeds.

One front is an anecdote; a study of ``R`` runs gives the spread. Its folder holds one run
folder per seed and a ``study.json`` naming them::

    STUDY/
      study.json        {"kind": "moorec-study", "seeds": [0, 1, 2], "runs": {"0": "seed_0", ...}}
      seed_0/           a run folder (manifest.json, trials.jsonl, generations.jsonl, front.json)
      seed_1/
      ...

:func:`run_study` runs the seeds one after another; each run resumes as a search does, so a
study interrupted in its third run redoes nothing of the first two and continues the third
where it stopped. The analysis (:func:`hypervolumes`, :func:`hypervolume_curves`,
:func:`summarize`, :func:`compare`) reads the stored trials only: it never trains.

Hypervolumes of different runs compare only under one normalisation: :func:`shared_bounds`
takes the runs' own recorded bounds where they agree (bounded metrics such as NDCG and ILD have
their natural ``[0, 1]``), and otherwise derives one set from every trial of every study
compared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moorec.errors import ConfigError, DataNotFoundError, RunConfigMismatchError
from moorec.io import atomic_write_json
from moorec.results.run import Run, read_json, wall_seconds
from moorec.results.run import load as load_run

__all__ = [
    "STUDY_FILE",
    "Study",
    "compare",
    "front_values",
    "hypervolume_curves",
    "hypervolumes",
    "load_study",
    "parse_seeds",
    "run_study",
    "shared_bounds",
    "study_objectives",
    "summarize",
    "union_front",
]

STUDY_FILE = "study.json"
_KIND = "moorec-study"


def parse_seeds(seeds: str | int | Sequence[int]) -> list[int]:
    """Search seeds from ``"0-4"``, ``"0,2,7"``, ``"3"``, an int or a sequence of ints.

    Returns:
        The seeds, each ``>= 0``, without repeats, in the order given.

    Raises:
        ConfigError: for text that is not a seed list, a negative seed, or no seed.
    """
    if isinstance(seeds, bool):
        raise ConfigError(f"seeds must be integers >= 0, e.g. '0-4' or [0, 1, 2]; got {seeds!r}")
    if isinstance(seeds, int):
        out = [seeds]
    elif isinstance(seeds, str):
        out = []
        for part in seeds.replace(" ", "").split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if m is None:
                raise ConfigError(
                    f"seeds {seeds!r}: {part!r} is not a seed or a range; write e.g. '0-4' or "
                    "'0,2,7'"
                )
            lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
            if hi < lo:
                raise ConfigError(f"seeds {seeds!r}: the range {part!r} runs backwards")
            out.extend(range(lo, hi + 1))
    else:
        out = list(seeds)
        for s in out:
            if isinstance(s, bool) or not isinstance(s, int | np.integer):
                raise ConfigError(f"seeds must be integers >= 0, got {s!r} in {seeds!r}")
        out = [int(s) for s in out]
    if not out:
        raise ConfigError("seeds: give at least one seed, e.g. '0-4'")
    if any(s < 0 for s in out):
        raise ConfigError(f"seeds must be integers >= 0, got {out}")
    return list(dict.fromkeys(out))


class Study:
    """The runs of a study folder.

    Attributes:
        path: the study folder.
        seeds: the search seeds, in the order they run.
        folders: ``{seed: run folder}``.
        label: a name for tables and figures (the folder's name unless given).
    """

    def __init__(self, path: Path, seeds: list[int], folders: dict[int, Path], label: str):
        self.path, self.seeds, self.folders, self.label = path, seeds, folders, label

    def __repr__(self) -> str:
        done = sum(1 for s in self.seeds if self.run(s) is not None and self.run(s).complete)
        return f"Study({str(self.path)!r}, seeds={self.seeds}, complete={done}/{len(self.seeds)})"

    def run(self, seed: int) -> Run | None:
        """The run of ``seed``, or ``None`` when it has not started."""
        folder = self.folders[seed]
        return load_run(folder) if (folder / "manifest.json").is_file() else None

    def runs(self, complete: bool = True) -> list[Run]:
        """The runs in seed order (only finished ones unless ``complete=False``)."""
        out = [self.run(s) for s in self.seeds]
        return [r for r in out if r is not None and (r.complete or not complete)]

    @property
    def complete(self) -> bool:
        """Whether every seed's run has finished."""
        return len(self.runs()) == len(self.seeds)


def load_study(path: str | Path, label: str | None = None) -> Study:
    """Open a study folder written by :func:`run_study`.

    Raises:
        DataNotFoundError: there is no ``study.json`` in ``path``.
        ConfigError: ``study.json`` is not a study's.
    """
    path = Path(path)
    file = path / STUDY_FILE
    if not file.is_file():
        raise DataNotFoundError(f"{str(path)!r} is not a study folder: it has no {STUDY_FILE}")
    meta = read_json(file)
    if meta.get("kind") != _KIND or not isinstance(meta.get("runs"), dict):
        raise ConfigError(f"{file} is not a moorec study file (kind {meta.get('kind')!r})")
    seeds = [int(s) for s in meta["seeds"]]
    folders = {int(s): path / name for s, name in meta["runs"].items()}
    return Study(path, seeds, folders, label or path.name)


def _register(path: Path, seeds: list[int]) -> Study:
    """Write (or extend) ``study.json`` with ``seeds`` before any run starts."""
    file = path / STUDY_FILE
    if file.is_file():
        old = load_study(path)
        seeds = old.seeds + [s for s in seeds if s not in old.seeds]
    elif path.exists() and any(path.iterdir()):
        raise RunConfigMismatchError(
            f"{str(path)!r} exists and is not a study folder (no {STUDY_FILE}); give a new or "
            "empty folder"
        )
    path.mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        file,
        {"kind": _KIND, "seeds": seeds, "runs": {str(s): f"seed_{s}" for s in seeds}},
    )
    return load_study(path)


def run_study(
    split,
    space,
    objectives,
    *,
    out: str | Path,
    seeds: str | int | Sequence[int],
    progress: bool = True,
    **search_kwargs: Any,
) -> Study:
    """Run one search config once per search seed, each run in ``out/seed_<s>/``.

    Every setting is checked once (:func:`moorec.search.runner.check_search`) before anything
    is written. Runs go one after another; rerunning the same call resumes: finished runs are
    not redone (each run folder resumes as :func:`moorec.search.search` does), and seeds not
    listed before are added.

    Args:
        split: a :class:`~moorec.split.Split`.
        space: the search variables, as :func:`~moorec.search.search` takes them.
        objectives: objective keys.
        out: the study folder.
        seeds: search seeds (``"0-4"``, ``[0, 1, 2]``, ...; :func:`parse_seeds`).
        progress: print a line per run (and the search's own progress).
        **search_kwargs: every other argument of :func:`~moorec.search.search` except
            ``seed``.

    Returns:
        The :class:`Study`.

    Raises:
        ConfigError: for bad seeds, ``seed`` among ``search_kwargs``, or any setting
            :func:`~moorec.search.search` refuses.
    """
    from moorec.search.runner import check_search, search

    seeds = parse_seeds(seeds)
    if "seed" in search_kwargs:
        raise ConfigError("a study takes seeds=, not seed= (each run gets one of the seeds)")
    skip = ("data_info", "trainer")
    check_keys = {k: v for k, v in search_kwargs.items() if k not in skip}
    check_search(
        space, objectives, custom_trainer=search_kwargs.get("trainer") is not None, **check_keys
    )
    study = _register(Path(out), seeds)
    for i, s in enumerate(seeds, start=1):
        if progress:
            print(f"study {study.path}: seed {s} ({i} of {len(seeds)})", flush=True)
        search(
            split,
            space,
            objectives,
            out=study.folders[s],
            seed=s,
            progress=progress,
            **search_kwargs,
        )
    return load_study(study.path)


# --------------------------------------------------------------------------------- analysis
def study_objectives(study: Study) -> list:
    """The :class:`~moorec.objectives.Objective` list of the study's runs."""
    from moorec.objectives import parse_all

    runs = study.runs(complete=False)
    if not runs:
        raise DataNotFoundError(f"study {str(study.path)!r} has no run yet")
    return parse_all(runs[0].objective_keys)


def shared_bounds(
    studies: Sequence[Study], reference: Mapping[str, Sequence[float]] | None = None
) -> dict[str, list[float]]:
    """One ``{key: [ideal, reference]}`` for every run of ``studies``.

    ``reference`` wins where given; otherwise the runs' recorded bounds where every run agrees,
    and for the rest bounds derived from every ok trial of every run
    (:func:`~moorec.search.indicators.bounds_from_values`).
    """
    from moorec.search.indicators import bounds_from_values

    objs = study_objectives(studies[0])
    runs = [r for s in studies for r in s.runs(complete=False)]
    recorded: dict[str, list[float]] = {}
    for o in objs:
        pairs = [tuple((r.reference_point or {}).get(o.key) or ()) for r in runs]
        if pairs and all(pairs) and len(set(pairs)) == 1:  # every run recorded the same
            recorded[o.key] = [float(v) for v in pairs[0]]
    every = np.vstack([r.objective_matrix("valid")[0] for r in runs])
    every = every[np.isfinite(every).all(axis=1)]
    derived = bounds_from_values(objs, every, None)
    out = {o.key: list(recorded.get(o.key, derived[o.key])) for o in objs}
    for key, pair in dict(reference or {}).items():
        out[key] = [float(v) for v in pair]
    return out


def front_values(run: Run, part: str) -> np.ndarray:
    """``[n, m]`` natural values of the run's front members on ``part`` (valid or test)."""
    keys = run.objective_keys
    rows = [[m[part][k] for k in keys] for m in run.pareto_front() if m.get(part)]
    return np.asarray(rows, dtype=np.float64).reshape(-1, len(keys))


def hypervolumes(
    study: Study, bounds: Mapping[str, Sequence[float]], part: str = "valid"
) -> np.ndarray:
    """``[R]`` hypervolume of each finished run's final front on ``part`` (valid or test)."""
    from moorec.search.indicators import front_hypervolume

    objs = study_objectives(study)
    out = [front_hypervolume(front_values(run, part), objs, bounds) for run in study.runs()]
    return np.asarray(out, dtype=np.float64)


def hypervolume_curves(
    study: Study, bounds: Mapping[str, Sequence[float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Validation hypervolume after each generation of each finished run.

    Returns:
        ``(hv, seconds)``, both ``[R, G]`` float64: the hypervolume of every full-budget ok
        trial up to generation ``g``, and the wall-clock seconds of the search at its end
        (:func:`~moorec.results.run.wall_seconds`: the sessions of a resumed run laid end to
        end); ``G`` is the fewest generations of any run.
    """
    from moorec.search.indicators import front_hypervolume

    objs = study_objectives(study)
    keys = [o.key for o in objs]
    hv, secs = [], []
    for run in study.runs():
        trials = [
            t
            for t in run.trials(include_failed=False)
            if t.get("full_budget", True) is not False and t.get("feasible", True)
        ]
        gens = run.generations()
        row_hv = [
            front_hypervolume(
                [
                    [t["valid"][k] for k in keys]
                    for t in trials
                    if t["generation"] <= g["generation"]
                ],
                objs,
                bounds,
            )
            for g in gens
        ]
        hv.append(row_hv)
        secs.append(wall_seconds(gens).tolist())
    g = min((len(r) for r in hv), default=0)
    return np.array([r[:g] for r in hv]), np.array([r[:g] for r in secs])


def summarize(
    study: Study,
    bounds: Mapping[str, Sequence[float]],
    *,
    part: str = "valid",
    reference_front: np.ndarray | None = None,
    level: float = 0.95,
    method: str = "BCa",
    seed: int = 0,
) -> dict[str, Any]:
    """Hypervolume (and IGD+ against ``reference_front``) over the runs, with intervals.

    Args:
        study: the study.
        bounds: the normalisation (:func:`shared_bounds`).
        part: ``"valid"`` or ``"test"`` (each run's front re-scored on test).
        reference_front: ``[n, m]`` natural values for IGD+ (e.g. the non-dominated union of
            every study compared); ``None`` leaves IGD+ out.
        level: confidence level of the intervals.
        method: ``"BCa"`` or ``"percentile"`` (:func:`moorec.stats.interval`).
        seed: seed of the bootstrap.

    Returns:
        ``{"runs": R, "hypervolume": Interval, "hypervolume_values": [R],
        "igd_plus": Interval | None, "igd_plus_values": [R] | None}``.
    """
    from moorec.search.indicators import igd_plus
    from moorec.stats import interval

    hv = hypervolumes(study, bounds, part)
    out: dict[str, Any] = {
        "runs": len(hv),
        "hypervolume": interval(hv, level=level, method=method, seed=seed),
        "hypervolume_values": hv.tolist(),
        "igd_plus": None,
        "igd_plus_values": None,
    }
    if reference_front is not None:
        objs = study_objectives(study)
        igd = np.array(
            [igd_plus(front_values(r, part), reference_front, objs, bounds) for r in study.runs()]
        )
        out["igd_plus"] = interval(igd, level=level, method=method, seed=seed)
        out["igd_plus_values"] = igd.tolist()
    return out


def union_front(studies: Sequence[Study], part: str = "valid") -> np.ndarray:
    """``[n, m]`` non-dominated union of every finished run's front of ``studies``."""
    from moorec.search.indicators import non_dominated

    objs = study_objectives(studies[0])
    pts = np.vstack([front_values(r, part) for s in studies for r in s.runs()])
    pts = pts[np.isfinite(pts).all(axis=1)]
    return pts[non_dominated(pts, objs)]


def compare(
    a: Study,
    b: Study,
    bounds: Mapping[str, Sequence[float]],
    *,
    part: str = "valid",
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Study ``a`` against study ``b``: hypervolume difference, tests, attainment difference.

    Returns:
        ``{"comparison": RunComparison (a - b), "eaf_difference": [n, 5] rectangles or None}``;
        the attainment difference is computed for two objectives and equal run counts only.
    """
    from moorec.stats import compare_runs, eaf_difference

    out: dict[str, Any] = {
        "comparison": compare_runs(
            hypervolumes(a, bounds, part), hypervolumes(b, bounds, part), level=level, seed=seed
        ),
        "eaf_difference": None,
    }
    objs = study_objectives(a)
    if len(objs) == 2 and len(a.runs()) == len(b.runs()):
        fa = [front_values(r, part) for r in a.runs()]
        fb = [front_values(r, part) for r in b.runs()]
        if all(len(f) for f in fa + fb):
            out["eaf_difference"] = eaf_difference(fa, fb, [o.direction == "max" for o in objs])
    return out
