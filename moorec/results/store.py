"""Writing a run folder: :class:`RunStore`, the append-only store a search writes as it goes.

Crash safety: ``manifest.json`` and ``front.json`` are written atomically (temporary file, fsync,
rename; see :mod:`moorec.io`). Each line of ``trials.jsonl`` and ``generations.jsonl`` is written
with one ``write`` call of the complete line, then fsynced. A process killed mid-write can leave
a torn last line; readers ignore it and :meth:`RunStore.create_or_resume` cuts it off before
appending again. One process writes a run folder at a time.

Resume: opening a folder that holds a run with the same ``config_hash`` continues it;
:meth:`RunStore.trial_by_key` tells the search which configs are already trained. A folder that
holds a different config, or files that are not a run, is refused and left untouched.

The format of every file is described in ``docs/results.md``.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from moorec.errors import (
    CorruptRunError,
    RecordError,
    RunConfigMismatchError,
    RunStoreError,
)
from moorec.io import atomic_write_json
from moorec.results.run import (
    FRONT,
    GENERATIONS,
    MANIFEST,
    TRIALS,
    check_generations,
    check_objectives,
    merge_trials,
    read_json,
    read_jsonl,
)

__all__ = ["RunStore"]

log = logging.getLogger(__name__)

STATUSES = ("ok", "failed")
TRIAL_FIELDS = (
    "trial",
    "generation",
    "index",
    "key",
    "config",
    "valid",
    "train_seconds",
    "eval_seconds",
    "status",
    "reason",
)
GENERATION_FIELDS = (
    "generation",
    "evaluations",
    "new_evaluations",
    "failures",
    "hypervolume",
    "best",
    "seconds",
)
FRONT_FIELDS = ("objectives", "reference_point", "members", "knee", "knee_method")
MEMBER_FIELDS = ("trial", "config", "valid", "test")
_MAX_DIFFS = 20


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_json(obj: Any, what: str) -> Any:
    """``obj`` as plain JSON types (NumPy scalars and arrays converted), via a JSON round trip."""
    try:
        return json.loads(json.dumps(obj, default=_json_default))
    except (TypeError, ValueError) as e:
        raise RecordError(f"{what} cannot be written as JSON: {e}") from e


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require(record: object, fields: tuple[str, ...], what: str) -> dict:
    if not isinstance(record, Mapping):
        raise RecordError(f"{what} must be a dict, got {type(record).__name__}")
    record = dict(record)
    missing = [f for f in fields if f not in record]
    if missing:
        raise RecordError(
            f"{what} lacks field(s) {', '.join(missing)}; required: {', '.join(fields)}"
        )
    return record


def _check_scores(scores: object, what: str, required: list[str]) -> None:
    if not isinstance(scores, dict) or not all(
        isinstance(k, str) and (v is None or _is_number(v)) for k, v in scores.items()
    ):
        raise RecordError(f"{what} must map objective keys to numbers, got {scores!r}")
    absent = [k for k in required if k not in scores]
    if absent:
        raise RecordError(
            f"{what} lacks objective(s) {', '.join(absent)} (has: {', '.join(scores) or 'none'})"
        )


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def config_diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Differences between two JSON configs, one ``"dotted.path: old != new"`` line each.

    Args:
        old: the config found in the folder.
        new: the config given.
        prefix: the dotted path of ``old`` and ``new`` inside the whole config.

    Returns:
        The differing leaves in the order of ``old``'s keys, then keys only in ``new``; a key
        present on one side only shows ``(absent)`` on the other.
    """
    here = prefix or "(config)"
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in list(old) + [k for k in new if k not in old]:
            p = f"{prefix}.{k}" if prefix else str(k)
            if k not in new:
                out.append(f"{p}: {_show(old[k])} != (absent)")
            elif k not in old:
                out.append(f"{p}: (absent) != {_show(new[k])}")
            else:
                out.extend(config_diff(old[k], new[k], p))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in config_diff(a, b, f"{here}[{i}]")
        ]
    if type(old) is not type(new) or old != new:
        return [f"{here}: {_show(old)} != {_show(new)}"]
    return []


def _is_stale_temp(name: str) -> bool:
    """A temporary file left by an interrupted atomic write of one of the run's JSON files."""
    return name.endswith(".tmp") and any(name.startswith(f".{f}.") for f in (MANIFEST, FRONT))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _append_line(path: Path, obj: dict) -> None:
    """Append ``obj`` as one JSON line: one ``write`` of the whole line, then ``fsync``.

    If the write fails part way (disk full, interrupt), the file is cut back to its old length so
    that no torn line is left in the middle of later appends.
    """
    data = (json.dumps(obj) + "\n").encode("utf-8")
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            while written < len(data):  # a short write: rare on regular files
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except BaseException:
            try:
                os.ftruncate(fd, size)
            except OSError:  # pragma: no cover - the reader still ignores a torn last line
                pass
            raise
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


class RunStore:
    """The writer of one run folder (see ``docs/results.md`` for the format).

    Make one with :meth:`create_or_resume`. The store keeps the trials and generations it has
    read or written in memory, so queries do not reread the files.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> manifest = {"config": {"search": {"pop_size": 8}}, "config_hash": "h1",
        ...             "objectives": [{"key": "ndcg@10", "direction": "max"}]}
        >>> store = RunStore.create_or_resume(folder, manifest)
        >>> store.append_trial({
        ...     "trial": store.next_trial_id(), "generation": 0, "index": 0, "key": "lr=0.01",
        ...     "config": {"lr": 0.01}, "valid": {"ndcg@10": 0.31}, "train_seconds": 2.5,
        ...     "eval_seconds": 0.4, "status": "ok", "reason": None})
        0
        >>> RunStore.create_or_resume(folder, manifest).trial_by_key()["lr=0.01"]["valid"]
        {'ndcg@10': 0.31}
    """

    def __init__(self, path: Path, manifest: dict, trials: list[dict], generations: list[dict]):
        self._path = path
        self._manifest = manifest
        self._trials = trials
        self._generations = generations
        objectives = manifest.get("objectives")
        self._objective_keys = [o["key"] for o in objectives] if objectives else []

    # ------------------------------------------------------------------------------ opening
    @classmethod
    def create_or_resume(cls, path: str | os.PathLike, manifest: Mapping) -> RunStore:
        """Create a run folder, or reopen one that holds the same config to resume it.

        * The folder does not exist or is empty: it is created and ``manifest.json`` written
          (``manifest`` plus ``"created"``, the UTC time, unless given).
        * It holds a ``manifest.json`` with the same ``config_hash``: it is opened for resuming.
          The manifest is kept, except that the time is appended to its ``"resumed"`` list; a
          torn last line of ``trials.jsonl`` or ``generations.jsonl`` is cut off.
        * Otherwise the folder is refused and nothing is written.

        Args:
            path: the run folder.
            manifest: a JSON-able dict with at least ``"config"`` (the full search config, a
                dict) and ``"config_hash"`` (str); conventionally also ``"objectives"``
                (``[{"key": "ndcg@10", "direction": "max"}, ...]``), ``"reference_point"``,
                ``"seed"``, package versions, device and git commit.

        Returns:
            The store, ready to append to.

        Raises:
            RecordError: ``manifest`` lacks ``config`` or ``config_hash``, has malformed
                ``objectives``, or is not JSON-able.
            RunConfigMismatchError: the folder holds a run with another ``config_hash``; the
                message names the folder and the config entries that differ.
            RunStoreError: ``path`` is a file, or a non-empty folder without ``manifest.json``
                (the message names the files found).
            CorruptRunError: a run file is malformed (other than a torn last line).
        """
        path = Path(path)
        manifest = _to_json(_require(manifest, ("config", "config_hash"), "manifest"), "manifest")
        if not isinstance(manifest["config"], dict):
            raise RecordError(
                f"manifest 'config' must be a dict, got {type(manifest['config']).__name__}"
            )
        if not isinstance(manifest["config_hash"], str) or not manifest["config_hash"]:
            raise RecordError(
                f"manifest 'config_hash' must be a non-empty str, got {manifest['config_hash']!r}"
            )
        if "objectives" in manifest:
            try:
                check_objectives(manifest["objectives"], "manifest")
            except CorruptRunError as e:
                raise RecordError(str(e)) from e

        if path.exists() and not path.is_dir():
            raise RunStoreError(f"run folder {path} is a file, not a folder")
        entries = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
        stale = [n for n in entries if _is_stale_temp(n)]
        entries = [n for n in entries if n not in stale]

        if not entries:
            path.mkdir(parents=True, exist_ok=True)
            for name in stale:
                (path / name).unlink(missing_ok=True)
            manifest.setdefault("created", _now())
            atomic_write_json(path / MANIFEST, manifest)
            return cls(path, manifest, [], [])

        if MANIFEST not in entries:
            shown = ", ".join(entries[:10]) + (
                f", ... ({len(entries)} in all)" if len(entries) > 10 else ""
            )
            raise RunStoreError(
                f"output folder {path} is not empty and holds no {MANIFEST}, so it is not a "
                f"moorec run; refusing to write into it. Found: {shown}. "
                "Use an empty or new folder."
            )

        stored = read_json(path / MANIFEST)
        if stored.get("config_hash") != manifest["config_hash"]:
            raise RunConfigMismatchError(_mismatch_message(path, stored, manifest))
        if "objectives" in stored:
            check_objectives(stored["objectives"], str(path / MANIFEST))

        # Read and check everything before changing anything.
        trial_lines = read_jsonl(path / TRIALS)
        gen_lines = read_jsonl(path / GENERATIONS)
        trials = merge_trials(trial_lines, path / TRIALS)
        generations = check_generations(gen_lines, path / GENERATIONS)

        for name, lines in ((TRIALS, trial_lines), (GENERATIONS, gen_lines)):
            if lines.size > lines.good_end:
                log.warning(
                    "%s: cutting off a torn last line (%d bytes) left by an interrupted write",
                    path / name,
                    lines.size - lines.good_end,
                )
                os.truncate(path / name, lines.good_end)
                fd = os.open(path / name, os.O_WRONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        for name in stale:
            (path / name).unlink(missing_ok=True)
        resumed = stored.get("resumed")
        stored["resumed"] = [*(resumed if isinstance(resumed, list) else []), _now()]
        atomic_write_json(path / MANIFEST, stored)
        log.info(
            "%s: resuming a run with %d trials and %d finished generations",
            path,
            len(trials),
            len(generations),
        )
        return cls(path, stored, trials, generations)

    def update_manifest(self, **fields: Any) -> None:
        """Add or set manifest entries known only once the run is going (atomic rewrite).

        For example the hypervolume reference point, when it is taken from the first
        generation's values: ``store.update_manifest(reference_point=[0.0, 10.0])``.

        Args:
            **fields: entries to set; JSON-able.

        Raises:
            RecordError: a field is one that identifies the run (``config``, ``config_hash``,
                ``created``, ``resumed``) or is not JSON-able.
        """
        fixed = sorted(set(fields) & {"config", "config_hash", "created", "resumed"})
        if fixed:
            raise RecordError(
                f"update_manifest: {', '.join(fixed)} cannot be changed once the run exists"
            )
        updated = {**self._manifest, **_to_json(fields, "manifest update")}
        if "objectives" in fields:
            try:
                check_objectives(updated["objectives"], "manifest update")
            except CorruptRunError as e:
                raise RecordError(str(e)) from e
        atomic_write_json(self._path / MANIFEST, updated)
        self._manifest = updated
        objectives = updated.get("objectives")
        self._objective_keys = [o["key"] for o in objectives] if objectives else []

    # ------------------------------------------------------------------------------ queries
    @property
    def path(self) -> Path:
        """The run folder."""
        return self._path

    @property
    def manifest(self) -> dict:
        """A copy of the manifest as written."""
        return copy.deepcopy(self._manifest)

    def next_trial_id(self) -> int:
        """The id the next :meth:`append_trial` must use (the number of trials recorded)."""
        return len(self._trials)

    def trials(self, include_failed: bool = True) -> list[dict]:
        """The recorded trials in id order, with test scores merged in.

        The records are the same as :meth:`moorec.results.Run.trials` returns.

        Args:
            include_failed: also return trials whose ``status`` is ``"failed"``.
        """
        return [copy.deepcopy(t) for t in self._trials if include_failed or t["status"] == "ok"]

    def trial_by_key(self) -> dict[str, dict]:
        """The latest recorded trial for each config ``key`` (``ok`` or ``failed``).

        A search resuming from this store looks a decoded config's key up here and reuses the
        record instead of training it again.
        """
        return {t["key"]: copy.deepcopy(t) for t in self._trials}

    def generations(self) -> list[dict]:
        """The finished generations' records, in order."""
        return copy.deepcopy(self._generations)

    # ------------------------------------------------------------------------------ appends
    def append_trial(self, record: Mapping) -> int:
        """Append one finished trial to ``trials.jsonl``.

        Args:
            record: ``trial`` (must equal :meth:`next_trial_id`), ``generation``, ``index``,
                ``key`` (the canonical id of the decoded config), ``config``, ``valid`` (objective
                key -> value; every objective of the manifest when ``status`` is ``"ok"``, may be
                ``None`` when failed), ``train_seconds``, ``eval_seconds``, ``status``
                (``"ok"`` or ``"failed"``), ``reason`` (required str when failed, else ``None``
                or a note), plus any extra JSON-able fields (e.g. ``"best_epoch"``, ``"seed"``,
                ``"feasible"``). Test scores go through :meth:`append_test` instead.

        Returns:
            The trial id.

        Raises:
            RecordError: a field is missing or has the wrong type or value.
        """
        rec = _to_json(_require(record, TRIAL_FIELDS, "trial record"), "trial record")
        what = f"trial record {rec.get('trial')!r}"
        if rec.pop("type", "trial") != "trial":
            raise RecordError(f"{what}: 'type' must be 'trial' if given")
        if "test" in rec:
            raise RecordError(f"{what}: has a 'test' field; record test scores with append_test()")
        if not _is_int(rec["trial"]) or rec["trial"] != self.next_trial_id():
            raise RecordError(
                f"trial record: 'trial' is {rec['trial']!r}, expected {self.next_trial_id()} "
                "(ids count up from 0; use next_trial_id())"
            )
        for name in ("generation", "index"):
            if not _is_int(rec[name]) or rec[name] < 0:
                raise RecordError(f"{what}: {name!r} must be an int >= 0, got {rec[name]!r}")
        if not isinstance(rec["key"], str) or not rec["key"]:
            raise RecordError(f"{what}: 'key' must be a non-empty str, got {rec['key']!r}")
        if not isinstance(rec["config"], dict):
            raise RecordError(f"{what}: 'config' must be a dict, got {rec['config']!r}")
        for name in ("train_seconds", "eval_seconds"):
            if not _is_number(rec[name]):
                raise RecordError(f"{what}: {name!r} must be a number, got {rec[name]!r}")
        if rec["status"] not in STATUSES:
            raise RecordError(
                f"{what}: 'status' is {rec['status']!r}; valid choices: {', '.join(STATUSES)}"
            )
        if rec["status"] == "ok":
            _check_scores(rec["valid"], f"{what}: 'valid'", self._objective_keys)
            if rec["reason"] is not None and not isinstance(rec["reason"], str):
                raise RecordError(f"{what}: 'reason' must be a str or None, got {rec['reason']!r}")
        else:
            if rec["valid"] is not None:
                _check_scores(rec["valid"], f"{what}: 'valid'", [])
            if not isinstance(rec["reason"], str) or not rec["reason"]:
                raise RecordError(
                    f"{what}: a failed trial needs its 'reason' as a non-empty str, "
                    f"got {rec['reason']!r}"
                )
        _append_line(self._path / TRIALS, {"type": "trial", **rec})
        self._trials.append({**rec, "test": None})
        return rec["trial"]

    def append_test(self, trial_id: int, test_scores: Mapping) -> None:
        """Record the test-split scores of a trial (normally a Pareto member).

        A later call for the same trial replaces the scores.

        Args:
            trial_id: a recorded trial whose ``status`` is ``"ok"``.
            test_scores: objective key -> value, with every objective of the manifest.

        Raises:
            RecordError: the trial is not recorded or failed, or the scores are malformed.
        """
        if not _is_int(trial_id) and not isinstance(trial_id, np.integer):
            raise RecordError(f"append_test: trial_id must be an int, got {trial_id!r}")
        trial_id = int(trial_id)
        if not 0 <= trial_id < len(self._trials):
            raise RecordError(
                f"append_test: trial {trial_id} is not recorded "
                f"(recorded ids: 0..{len(self._trials) - 1})"
                if self._trials
                else f"append_test: trial {trial_id} is not recorded (no trials yet)"
            )
        if self._trials[trial_id]["status"] != "ok":
            raise RecordError(f"append_test: trial {trial_id} failed; it has no model to test")
        scores = _to_json(test_scores, f"test scores of trial {trial_id}")
        _check_scores(scores, f"test scores of trial {trial_id}", self._objective_keys)
        _append_line(self._path / TRIALS, {"type": "test", "trial": trial_id, "test": scores})
        self._trials[trial_id]["test"] = scores

    def append_generation(self, record: Mapping) -> None:
        """Append one finished generation to ``generations.jsonl``.

        Args:
            record: ``generation`` (int, greater than the last one recorded), ``evaluations``
                (cumulative trials), ``new_evaluations``, ``failures`` (cumulative),
                ``hypervolume`` (number), ``best`` (objective key -> best value so far),
                ``seconds``, plus any extra JSON-able fields.

        Raises:
            RecordError: a field is missing or has the wrong type, or the generation does not
                follow the last one.
        """
        rec = _to_json(
            _require(record, GENERATION_FIELDS, "generation record"), "generation record"
        )
        gen = rec["generation"]
        what = f"generation record {gen!r}"
        if not _is_int(gen) or gen < 0:
            raise RecordError(f"generation record: 'generation' must be an int >= 0, got {gen!r}")
        if self._generations and gen <= self._generations[-1]["generation"]:
            raise RecordError(
                f"{what}: generation {gen} is already recorded or older; the last recorded is "
                f"{self._generations[-1]['generation']}"
            )
        for name in ("evaluations", "new_evaluations", "failures"):
            if not _is_int(rec[name]) or rec[name] < 0:
                raise RecordError(f"{what}: {name!r} must be an int >= 0, got {rec[name]!r}")
        for name in ("hypervolume", "seconds"):
            if not _is_number(rec[name]):
                raise RecordError(f"{what}: {name!r} must be a number, got {rec[name]!r}")
        _check_scores(rec["best"], f"{what}: 'best'", [])
        _append_line(self._path / GENERATIONS, rec)
        self._generations.append(rec)

    def write_front(self, front: Mapping) -> None:
        """Write ``front.json`` atomically (a reader sees the old file or the new one).

        Args:
            front: ``objectives``, ``reference_point``, ``members`` (a list of
                ``{"trial", "config", "valid", "test", ...}`` for recorded trials), ``knee``
                (a member's trial id, or ``None``), ``knee_method`` (str), plus any extras.

        Raises:
            RecordError: a field is missing or malformed, a member is not a recorded trial, or
                the knee is not a member.
        """
        rec = _to_json(_require(front, FRONT_FIELDS, "front"), "front")
        try:
            check_objectives(rec["objectives"], "front")
        except CorruptRunError as e:
            raise RecordError(str(e)) from e
        if not isinstance(rec["members"], list):
            raise RecordError(f"front: 'members' must be a list, got {rec['members']!r}")
        ids = []
        for i, m in enumerate(rec["members"]):
            _require(m, MEMBER_FIELDS, f"front member {i}")
            tid = m["trial"]
            if not _is_int(tid) or not 0 <= tid < len(self._trials):
                raise RecordError(f"front member {i}: trial {tid!r} is not a recorded trial")
            ids.append(tid)
        if rec["knee"] is not None and rec["knee"] not in ids:
            raise RecordError(f"front: knee {rec['knee']!r} is not a member; members: {ids}")
        if not isinstance(rec["knee_method"], str):
            raise RecordError(f"front: 'knee_method' must be a str, got {rec['knee_method']!r}")
        atomic_write_json(self._path / FRONT, rec)


def _mismatch_message(path: Path, stored: dict, manifest: dict) -> str:
    old, new = stored.get("config", {}), manifest["config"]
    diffs = config_diff(old, new)
    top = [
        k
        for k in list(old) + [k for k in new if k not in old]
        if k not in old or k not in new or config_diff(old[k], new[k], str(k))
    ]
    head = (
        f"output folder {path} holds a run made with a different config (config_hash "
        f"{stored.get('config_hash')!r} there, {manifest['config_hash']!r} given); refusing to "
        "mix them."
    )
    if diffs:
        shown = "; ".join(diffs[:_MAX_DIFFS])
        more = f"; ... and {len(diffs) - _MAX_DIFFS} more" if len(diffs) > _MAX_DIFFS else ""
        body = (
            f" Config entries that differ: {', '.join(top)} (in the folder != given: "
            f"{shown}{more})."
        )
    else:
        body = (
            " The configs are equal; only their hashes differ (was the hash computed another way?)."
        )
    return head + body + " Use another output folder, or delete this one to start afresh."
