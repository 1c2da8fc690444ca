"""Reading a run folder: :func:`load` returns a :class:`Run`.

A run folder holds ``manifest.json`` (the config and how the run was made), ``trials.jsonl`` (one
line per finished trial, plus test-split scores added later), ``generations.jsonl`` (one line per
finished generation) and ``front.json`` (the Pareto set and its knee, written at the end). The
format is described in ``docs/results.md``; :class:`moorec.results.store.RunStore` writes it.

Every value is stored in its metric's natural direction (``"max"`` or ``"min"``, from the
manifest's ``objectives``); only the Pareto computation here turns maximised objectives into
minimised ones, internally.

A run that is still going, or that was interrupted, can be read at any time: a torn last line of a
``.jsonl`` file (a write cut short by a crash) is ignored, and missing files are listed in
:attr:`Run.missing`.

Example:
    >>> import tempfile
    >>> from moorec.results import RunStore, load
    >>> folder = tempfile.mkdtemp()
    >>> store = RunStore.create_or_resume(folder, {
    ...     "config": {"pop_size": 2}, "config_hash": "abc",
    ...     "objectives": [{"key": "ndcg@10", "direction": "max"},
    ...                    {"key": "latency_ms", "direction": "min"}]})
    >>> for i, (ndcg, ms) in enumerate([(0.30, 2.0), (0.20, 1.0), (0.10, 3.0)]):
    ...     _ = store.append_trial({
    ...         "trial": i, "generation": 0, "index": i, "key": f"dim={i}",
    ...         "config": {"dim": i}, "valid": {"ndcg@10": ndcg, "latency_ms": ms},
    ...         "train_seconds": 1.0, "eval_seconds": 0.1, "status": "ok", "reason": None})
    >>> run = load(folder)
    >>> [m["trial"] for m in run.pareto_front()], run.complete
    ([0, 1], False)
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from moorec.errors import CorruptRunError, DataNotFoundError, MoorecError, check_choice

__all__ = [
    "DIRECTIONS",
    "FRONT",
    "GENERATIONS",
    "MANIFEST",
    "MODELS",
    "SPLITS",
    "TRIALS",
    "Run",
    "load",
    "wall_seconds",
]

MANIFEST = "manifest.json"
TRIALS = "trials.jsonl"
GENERATIONS = "generations.jsonl"
FRONT = "front.json"
MODELS = "models"  # saved front models, models/trial_<N>/ (search with save_front)
DIRECTIONS = ("max", "min")
SPLITS = ("valid", "test")
RECORD_TYPES = ("trial", "test")

# Leading columns of Run.to_pandas(), before extras and the config.*, valid.*, test.* groups.
_BASE_COLUMNS = (
    "trial",
    "generation",
    "index",
    "key",
    "status",
    "reason",
    "train_seconds",
    "eval_seconds",
)


# ------------------------------------------------------------------------------- JSON lines
@dataclasses.dataclass(frozen=True)
class JsonLines:
    """The parsed lines of one ``.jsonl`` file.

    Attributes:
        records: ``(line number, object)`` pairs, line numbers counted from 1.
        good_end: byte offset just after the last complete, parsable line.
        size: size of the file in bytes; ``size > good_end`` means a torn last line.
    """

    records: list[tuple[int, dict]]
    good_end: int
    size: int


def _parse_line(raw: bytes) -> tuple[dict | None, str]:
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return None, str(e)
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, got {type(obj).__name__}"
    return obj, ""


def read_jsonl(path: str | os.PathLike) -> JsonLines:
    """Parse a JSON-lines file, ignoring a torn last line.

    The last line is torn if it does not end in a newline or does not parse as a JSON object; it
    is left out of :attr:`JsonLines.records`. A missing file reads as empty.

    Args:
        path: the ``.jsonl`` file.

    Returns:
        The records and the byte offset where the good part of the file ends.

    Raises:
        CorruptRunError: a line other than the last does not parse as a JSON object; the message
            names the file and the line number.
    """
    path = Path(path)
    if not path.exists():
        return JsonLines([], 0, 0)
    data = path.read_bytes()
    records: list[tuple[int, dict]] = []
    pos = good_end = 0
    lineno = 0
    while pos < len(data):
        lineno += 1
        nl = data.find(b"\n", pos)
        if nl == -1:  # torn last line: no newline
            break
        obj, why = _parse_line(data[pos:nl])
        if obj is None:
            if nl + 1 == len(data):  # torn last line: cut inside the record
                break
            raise CorruptRunError(
                f"{path}, line {lineno}: not a valid record ({why}): {data[pos:nl][:120]!r}. "
                "Only the last line of a run file may be incomplete; this one is followed by "
                "more lines, so the file was changed by something other than moorec."
            )
        records.append((lineno, obj))
        pos = good_end = nl + 1
    return JsonLines(records, good_end, len(data))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def merge_trials(lines: JsonLines, path: str | os.PathLike) -> list[dict]:
    """Turn the records of ``trials.jsonl`` into trials, with test scores merged in.

    Args:
        lines: the parsed file (see :func:`read_jsonl`).
        path: the file, for error messages.

    Returns:
        One dict per trial, ordered by trial id, without the ``"type"`` field; ``"test"`` holds
        the latest test record's scores or ``None``.

    Raises:
        CorruptRunError: an unknown record type, a trial id out of sequence, or a test record for
            a trial that is not there; the message names the file and line.
    """
    trials: list[dict] = []
    for lineno, rec in lines.records:
        kind = rec.get("type")
        where = f"{path}, line {lineno}"
        if kind not in RECORD_TYPES:
            raise CorruptRunError(
                f"{where}: unknown record type {kind!r}; valid types: {', '.join(RECORD_TYPES)}"
            )
        tid = rec.get("trial")
        if kind == "trial":
            if not _is_int(tid) or tid != len(trials):
                raise CorruptRunError(
                    f"{where}: trial id {tid!r} out of sequence, expected {len(trials)} "
                    "(trial ids count up from 0 in file order)"
                )
            trial = {k: v for k, v in rec.items() if k != "type"}
            trial["test"] = None
            trials.append(trial)
        else:
            if not _is_int(tid) or not 0 <= tid < len(trials):
                raise CorruptRunError(
                    f"{where}: test record for trial {tid!r}, which is not recorded before it"
                )
            if not isinstance(rec.get("test"), dict):
                raise CorruptRunError(f"{where}: test record without a 'test' object")
            trials[tid]["test"] = rec["test"]
    return trials


def check_generations(lines: JsonLines, path: str | os.PathLike) -> list[dict]:
    """Return the records of ``generations.jsonl``, checking their generation numbers.

    Raises:
        CorruptRunError: a record without an integer ``"generation"``, or generations that do not
            increase; the message names the file and line.
    """
    out: list[dict] = []
    for lineno, rec in lines.records:
        gen = rec.get("generation")
        if not _is_int(gen):
            raise CorruptRunError(f"{path}, line {lineno}: no integer 'generation' (got {gen!r})")
        if out and gen <= out[-1]["generation"]:
            raise CorruptRunError(
                f"{path}, line {lineno}: generation {gen} after generation "
                f"{out[-1]['generation']}; generations must increase"
            )
        out.append(rec)
    return out


def read_json(path: Path) -> dict:
    """Read a JSON object written atomically (``manifest.json``, ``front.json``).

    Raises:
        CorruptRunError: the file does not parse or is not a JSON object.
    """
    obj, why = _parse_line(path.read_bytes())
    if obj is None:
        raise CorruptRunError(f"{path}: not a valid JSON object ({why})")
    return obj


def check_objectives(objectives: object, where: str) -> list[dict]:
    """Check an objectives list ``[{"key": str, "direction": "max" | "min"}, ...]``.

    Args:
        objectives: the value read or given.
        where: what holds it, for the error message.

    Returns:
        The list, unchanged.

    Raises:
        CorruptRunError: it is not such a list.
    """
    ok = isinstance(objectives, list) and all(
        isinstance(o, dict) and isinstance(o.get("key"), str) and o.get("direction") in DIRECTIONS
        for o in objectives
    )
    keys = [o["key"] for o in objectives] if ok else []
    if not ok or len(set(keys)) != len(keys):
        raise CorruptRunError(
            f"{where}: 'objectives' must be a list of distinct "
            f'{{"key": str, "direction": "max" | "min"}} objects, got {objectives!r}'
        )
    return objectives


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _flatten(prefix: str, value: Any, out: dict) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    else:
        out[prefix] = value


def _ordered(seen: Iterable[str], first: Iterable[str]) -> list[str]:
    first = list(dict.fromkeys(first))
    return first + [c for c in dict.fromkeys(seen) if c not in first]


# ------------------------------------------------------------------------------------- Run
def wall_seconds(generations: Sequence[dict]) -> np.ndarray:
    """Seconds from the start of the search to the end of each generation.

    The search records in ``"seconds"`` the time since the start of its session; a resumed
    run starts counting again, so where the count drops the sessions are laid end to end.

    Args:
        generations: the records of ``generations.jsonl`` (``Run.generations()``).

    Returns:
        ``[n_generations] float64`` (NaN where a record has no ``"seconds"``).
    """
    out = np.full(len(generations), np.nan)
    offset, last = 0.0, 0.0
    for i, g in enumerate(generations):
        s = g.get("seconds")
        if s is None:
            continue
        s = float(s)
        if s < last:  # a new session
            offset += last
        last = s
        out[i] = offset + s
    return out


class Run:
    """A run folder, read once by :func:`load`.

    Attributes:
        path: the run folder.
        manifest: the contents of ``manifest.json``.
        config: the search config (``manifest["config"]``).
        objectives: ``[{"key": ..., "direction": "max" | "min"}, ...]`` from the manifest (or
            from ``front.json`` when the manifest has none).
        reference_point: the hypervolume reference point recorded in the manifest or the front,
            or ``None``.
        complete: ``True`` when every run file is there (the search finished and wrote its front).
        missing: names of the run files that are not there (``front.json``,
            ``generations.jsonl``, ``trials.jsonl``): a run that is going on or was interrupted.
    """

    def __init__(
        self,
        path: Path,
        manifest: dict,
        trials: list[dict],
        generations: list[dict],
        front: dict | None,
        missing: list[str],
    ):
        self.path = path
        self.manifest = manifest
        self._trials = trials
        self._generations = generations
        self._front = front
        self.missing = missing
        self.complete = not missing
        if "config" not in manifest:
            raise CorruptRunError(f"{path / MANIFEST}: no 'config' entry")
        self.config = manifest["config"]
        objectives = manifest.get("objectives")
        where = path / MANIFEST
        if objectives is None and front is not None:
            objectives, where = front.get("objectives"), path / FRONT
        self.objectives = [] if objectives is None else check_objectives(objectives, str(where))
        self.reference_point = manifest.get(
            "reference_point", None if front is None else front.get("reference_point")
        )

    def __repr__(self) -> str:
        return (
            f"Run({str(self.path)!r}, trials={len(self._trials)}, failed={len(self.failed())}, "
            f"generations={len(self._generations)}, complete={self.complete})"
        )

    @property
    def objective_keys(self) -> list[str]:
        """The objective keys, in manifest order."""
        return [o["key"] for o in self.objectives]

    def trials(self, include_failed: bool = True) -> list[dict]:
        """The recorded trials, ordered by trial id.

        Args:
            include_failed: also return trials whose ``status`` is ``"failed"``.

        Returns:
            Copies of the trial records: ``trial``, ``generation``, ``index``, ``key``,
            ``config``, ``valid``, ``test`` (``None`` until test scores are recorded),
            ``train_seconds``, ``eval_seconds``, ``status``, ``reason`` and any extra fields.
        """
        return [copy.deepcopy(t) for t in self._trials if include_failed or t.get("status") == "ok"]

    def failed(self) -> list[dict]:
        """The trials whose ``status`` is ``"failed"``, each with its ``reason``."""
        return [copy.deepcopy(t) for t in self._trials if t.get("status") == "failed"]

    def generations(self) -> list[dict]:
        """The records of ``generations.jsonl`` in generation order."""
        return copy.deepcopy(self._generations)

    def hypervolume_history(self) -> list[tuple[int, float]]:
        """``(generation, hypervolume)`` for every finished generation, in generation order."""
        return [(g["generation"], _float(g.get("hypervolume"))) for g in self._generations]

    def objective_matrix(
        self, split: str = "valid", include_failed: bool = False
    ) -> tuple[np.ndarray, list[int]]:
        """The objective values of the trials as a matrix, in their natural directions.

        Args:
            split: ``"valid"`` (every selected trial) or ``"test"`` (only the trials that have
                test scores, normally the Pareto set).
            include_failed: also include failed trials (their missing values are NaN).

        Returns:
            ``(values, trial_ids)``: ``values`` is ``[n_trials, n_objectives] float64`` with
            columns in the order of :attr:`objectives`, NaN where a value is missing;
            ``trial_ids`` gives the trial of each row.

        Raises:
            UnknownNameError: ``split`` is not ``"valid"`` or ``"test"``.
        """
        check_choice("split", split, SPLITS)
        keys = self.objective_keys
        rows, ids = [], []
        for t in self._trials:
            if not include_failed and t.get("status") != "ok":
                continue
            scores = t.get(split)
            if split == "test" and scores is None:
                continue
            scores = scores or {}
            rows.append([_float(scores.get(k)) for k in keys])
            ids.append(t["trial"])
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(keys)), ids

    def pareto_front(self) -> list[dict]:
        """The Pareto set on the validation split.

        When ``front.json`` is there its members are returned as written. Otherwise (a run that
        is going on or was interrupted) the front is computed from the ``ok`` trials' validation
        scores with pymoo's non-dominated sorting, after turning each maximised objective into a
        minimised one. Trials left out of that computation: failed trials, trials with a missing
        or non-finite value, trials recorded with ``"feasible": false``, and the lower rungs of a
        multi-fidelity search (``"full_budget": false``).

        Returns:
            Members ordered by trial id, each ``{"trial", "config", "valid", "test", ...}``.

        Raises:
            MoorecError: the front must be computed and the run records no objectives.
        """
        if self._front is not None:
            return copy.deepcopy(self._front.get("members", []))
        if not self.objectives:
            raise MoorecError(
                f"{self.path / MANIFEST} lists no 'objectives' and there is no {FRONT}, so the "
                "Pareto front cannot be computed (the directions of the objectives are unknown)"
            )
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        values, ids = self.objective_matrix("valid")
        by_id = {t["trial"]: t for t in self._trials}
        keep = np.isfinite(values).all(axis=1) & np.array(
            [
                by_id[i].get("feasible", True) is not False
                and by_id[i].get("full_budget", True) is not False  # multi-fidelity rungs
                for i in ids
            ],
            dtype=bool,
        )
        if not keep.any():
            return []
        signs = np.array([-1.0 if o["direction"] == "max" else 1.0 for o in self.objectives])
        front = NonDominatedSorting().do(values[keep] * signs, only_non_dominated_front=True)
        chosen = sorted(np.asarray(ids)[keep][front].tolist())
        return [
            {k: copy.deepcopy(by_id[i][k]) for k in ("trial", "config", "valid", "test")}
            for i in chosen
        ]

    def saved_models(self) -> dict[int, Path]:
        """The trials whose trained model is saved in ``models/trial_<N>/``, and the folders.

        A search with ``save_front`` saves each front member's model there; read one back with
        ``moorec.models.load(folder, data=split.train)``, or serve it with ``moorec recommend``.

        Returns:
            ``{trial id: folder}``, ordered by trial id (empty when nothing was saved).
        """
        found = {}
        folder = self.path / MODELS
        if folder.is_dir():
            for sub in folder.iterdir():
                head, _, tail = sub.name.partition("_")
                if head == "trial" and tail.isdigit() and (sub / "model.json").is_file():
                    found[int(tail)] = sub
        return dict(sorted(found.items()))

    def knee(self) -> dict | None:
        """The knee (preferred) member recorded in ``front.json``, or ``None`` if there is none.

        Raises:
            CorruptRunError: the recorded knee is not one of the front's members.
        """
        if self._front is None or self._front.get("knee") is None:
            return None
        knee = self._front["knee"]
        for m in self._front.get("members", []):
            if m.get("trial") == knee:
                return copy.deepcopy(m)
        raise CorruptRunError(f"{self.path / FRONT}: knee {knee!r} is not a member of the front")

    def table_rows(self) -> tuple[list[str], list[dict]]:
        """The trials flattened into table rows (what :meth:`to_pandas` builds its frame from).

        Returns:
            ``(columns, rows)``: columns ``trial, generation, index, key, status, reason,
            train_seconds, eval_seconds``, then other top-level fields, then ``config.*``,
            ``valid.*`` and ``test.*`` (nested dicts flattened with dots; ``valid.*`` and
            ``test.*`` start with the objectives in manifest order); one dict per trial.
        """
        rows = []
        for t in self._trials:
            row: dict = {}
            for k, v in t.items():
                if k in ("config", "valid", "test"):
                    continue
                _flatten(k, v, row)
            for group in ("config", "valid", "test"):
                _flatten(group, t.get(group) or {}, row)
            rows.append(row)
        seen = [c for r in rows for c in r]
        keys = self.objective_keys
        groups = {
            g: [c for c in seen if c.startswith(f"{g}.")] for g in ("config", "valid", "test")
        }
        grouped = {c for cs in groups.values() for c in cs} | {"config", "valid", "test"}
        extras = [c for c in seen if c not in grouped and c not in _BASE_COLUMNS]
        columns = (
            list(_BASE_COLUMNS)
            + list(dict.fromkeys(extras))
            + list(dict.fromkeys(groups["config"]))
            + _ordered(groups["valid"], [f"valid.{k}" for k in keys])
            + _ordered(groups["test"], [f"test.{k}" for k in keys])
        )
        return columns, rows

    def to_pandas(self):
        """The trials as a ``pandas.DataFrame``, one row per trial.

        Columns as in :meth:`table_rows`.

        Raises:
            MoorecError: pandas is not installed.
        """
        try:
            import pandas as pd
        except ImportError as e:
            raise MoorecError(
                "Run.to_pandas() needs pandas, which is not installed: pip install pandas"
            ) from e
        columns, rows = self.table_rows()
        return pd.DataFrame.from_records(rows, columns=columns)


def load(path: str | os.PathLike) -> Run:
    """Read a run folder.

    Args:
        path: the run folder (what the search was given as its output folder).

    Returns:
        The :class:`Run`. A folder without ``front.json``, ``generations.jsonl`` or
        ``trials.jsonl`` is a run that is going on or was interrupted: what is there is loaded,
        ``run.complete`` is ``False`` and ``run.missing`` names the absent files.

    Raises:
        DataNotFoundError: the folder does not exist or has no ``manifest.json``.
        CorruptRunError: a file is malformed (other than a torn last line of a ``.jsonl`` file).
    """
    path = Path(path)
    if not (path / MANIFEST).is_file():
        what = "does not exist" if not path.exists() else f"has no {MANIFEST}"
        raise DataNotFoundError(f"run folder {path} {what}; it is not a moorec run")
    manifest = read_json(path / MANIFEST)
    missing = [name for name in (TRIALS, GENERATIONS, FRONT) if not (path / name).exists()]
    trials = merge_trials(read_jsonl(path / TRIALS), path / TRIALS)
    generations = check_generations(read_jsonl(path / GENERATIONS), path / GENERATIONS)
    front = read_json(path / FRONT) if (path / FRONT).exists() else None
    return Run(path, manifest, trials, generations, front, missing)
