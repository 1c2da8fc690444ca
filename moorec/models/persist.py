"""Saving a trained model to a folder and loading it back without training: ``save``, ``load``.

A saved model is a folder of two files::

    runs/bpr/model/
      model.json      the description: family, settings, index sizes, data fingerprint,
                      versions and the state's layout (path, variable type, dtype, shape of
                      every leaf)
      state.msgpack   every leaf of ``nnx.state(model)`` by path, serialised with
                      ``flax.serialization.msgpack_serialize``

The state goes through Flax's own msgpack serialisation rather than orbax-checkpoint. A moorec
model is one small pytree on one host (megabytes, not a sharded multi-host checkpoint), and
msgpack writes it as one file of raw array bytes (dtype, shape, buffer), in one synchronous
call, with no threads, no pickle and no extra dependency: ``flax`` is already one. Reading it
back gives every array bit for bit, so a loaded model scores exactly as the saved one did. The
folder is written atomically (both files into a temporary folder beside it, fsynced, then one
rename), which is the part orbax would otherwise provide.

:func:`load` rebuilds the model with :func:`~moorec.models.create` from the description, then
puts the saved state into it. Before anything is built it checks what can go wrong: the files
are there and unaltered (the state's SHA-256 is in the description), the family is
registered, the data given cover the same users and items and are the very interactions the
model was trained on (:meth:`~moorec.data.Interactions.fingerprint`), and every saved leaf has
the path, dtype and shape the rebuilt model has.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, serialization

from moorec.data.interactions import Interactions
from moorec.errors import (
    CatalogueMismatchError,
    ConfigError,
    CorruptModelError,
    IncompatibleModelError,
    ModelNotFoundError,
    MoorecError,
    SavedModelError,
    UnknownNameError,
)
from moorec.models.base import Recommender
from moorec.models.registry import _MODELS, check_settings, create, needs_train

__all__ = ["DESCRIPTION", "FORMAT", "FORMAT_VERSION", "STATE", "describe", "load", "save"]

FORMAT = "moorec.model"
"""The ``format`` entry of every description."""
FORMAT_VERSION = 1
"""The version of the folder's format this moorec writes and reads."""
DESCRIPTION = "model.json"
STATE = "state.msgpack"


class _Leaf(NamedTuple):
    """One leaf of a model's state: where it is, what kind, and its array."""

    path: tuple[str | int, ...]
    kind: str  # the nnx Variable type, e.g. "Param"
    dtype: str  # the leaf's dtype ("key<fry>" for a PRNG key)
    shape: tuple[int, ...]
    array: np.ndarray | None  # what is stored (a PRNG key as its key data); None: abstract

    @property
    def name(self) -> str:
        return "/".join(str(p) for p in self.path)

    def describe(self) -> dict[str, Any]:
        return {"path": list(self.path), "type": self.kind, "dtype": self.dtype,
                "shape": list(self.shape)}  # fmt: skip


def _leaves(model: nnx.Module, *, arrays: bool = True) -> list[_Leaf]:
    """Every leaf of ``nnx.state(model)``, in the state's (sorted) path order."""
    out = []
    for path, var in nnx.to_flat_state(nnx.state(model)):
        value = var.get_value()
        dtype = value.dtype
        array = None
        if arrays:
            data = value
            if jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
                data = jax.random.key_data(value)
            array = np.asarray(data)
        out.append(_Leaf(tuple(path), type(var).__name__, str(dtype), tuple(value.shape), array))
    return out


def _family_of(model: Recommender, family: str | None) -> str:
    if family is not None:
        if family not in _MODELS:
            raise UnknownNameError("model", family, _MODELS)
        return family
    names = [name for name, factory in _MODELS.items() if factory is type(model)]
    if len(names) == 1:
        return names[0]
    what = type(model).__name__
    if not names:
        raise ConfigError(
            f"a {what} is not a registered model family, so it could not be rebuilt when "
            "loaded; register it with moorec.models.register(name, factory) or pass family="
        )
    raise ConfigError(f"{what} is registered as {', '.join(sorted(names))}: pass family=")


def _train_of(data) -> Interactions | None:
    """The training interactions of ``data``: an :class:`Interactions`, or a split's train."""
    if data is None or isinstance(data, Interactions):
        return data
    train = getattr(data, "train", None)
    if isinstance(train, Interactions):
        return train
    raise ConfigError(
        f"data must be the training Interactions (e.g. split.train) or a Split, got "
        f"{type(data).__name__}"
    )


def _plain(value: Any, what: str) -> Any:
    """``value`` as plain JSON data (tuples as lists), or :class:`ConfigError`."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{what} must be finite to be saved, got {value!r}")
        return value
    if isinstance(value, list | tuple):
        return [_plain(v, what) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v, what) for k, v in value.items()}
    raise ConfigError(
        f"{what} is a {type(value).__name__}, which a saved model's JSON description cannot "
        "hold; only numbers, strings, booleans, null and lists of them"
    )


def _tuples(value: Any) -> Any:
    """JSON lists back to tuples (the form :func:`~moorec.models.registry.check_settings` gives)."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _sizes(n_users: int, n_items: int) -> str:
    return f"{n_users:,} users x {n_items:,} items"


def _check_catalogue(where: str, n_users: int, n_items: int, data_desc, train: Interactions):
    """Refuse ``train`` unless it has the saved sizes and (if one was saved) fingerprint."""
    if (train.n_users, train.n_items) != (n_users, n_items):
        raise CatalogueMismatchError(
            f"{where} is for {_sizes(n_users, n_items)}; the data given have "
            f"{_sizes(train.n_users, train.n_items)}: give the training interactions it was "
            "trained on (split.train of the same data and split)"
        )
    if data_desc is None:
        return
    got = train.fingerprint()
    if got != data_desc["fingerprint"]:
        raise CatalogueMismatchError(
            f"{where} was trained on other interactions than the data given: fingerprint "
            f"{data_desc['fingerprint'][:19]}... ({data_desc['interactions']:,} interactions, "
            f"{_sizes(n_users, n_items)}) against {got[:19]}... ({len(train):,} interactions, "
            f"{_sizes(train.n_users, train.n_items)}); give split.train of the same data and split"
        )


def _mismatch(expected: list[_Leaf], got: list[_Leaf]) -> str | None:
    """What differs between two state layouts (paths, dtypes, shapes), or ``None``."""
    by_name = {leaf.name: leaf for leaf in got}
    names = {leaf.name for leaf in expected}
    for leaf in expected:
        other = by_name.get(leaf.name)
        if other is None:
            return f"leaf {leaf.name!r} is missing"
        if (leaf.dtype, leaf.shape) != (other.dtype, other.shape):
            return (
                f"leaf {leaf.name!r} is {list(leaf.shape)} {leaf.dtype} in one and "
                f"{list(other.shape)} {other.dtype} in the other"
            )
    extra = sorted(set(by_name) - names)
    if extra:
        return f"leaf {extra[0]!r} is in one only"
    return None


def _versions() -> dict[str, str | None]:
    out = {}
    for name in ("moorec", "jax", "flax"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # a source tree that is not installed
            out[name] = None
    return out


def save(
    model: Recommender,
    path: str | os.PathLike,
    *,
    settings: Mapping[str, Any] | None = None,
    data=None,
    family: str | None = None,
    info: Mapping[str, Any] | None = None,
) -> Path:
    """Save a trained model to the folder ``path`` (``model.json`` and ``state.msgpack``).

    The folder is written atomically: into a temporary folder beside ``path``, fsynced, then
    renamed. A save that fails leaves no folder (and an existing saved model at ``path``
    untouched); a save over an existing saved model replaces it.

    Args:
        model: a built (usually trained) model of a registered family.
        path: the folder to write.
        settings: the constructor settings the model was built with (``create(name,
            n_users, n_items, **settings)``; e.g. ``{"dim": 64}``); ``None``: the family's
            constructor defaults. They are checked now: a model the settings do not rebuild
            (another shape of any leaf) is refused.
        data: the training interactions (``split.train``, or the split itself). Their
            fingerprint is saved, so that :func:`load` can refuse other data. Required for
            families built from their training data (``train=``, e.g. LightGCN).
        family: the registered name; by default the one registered for ``type(model)``.
        info: JSON data kept in the description as ``info`` (e.g. the training settings).

    Returns:
        The folder written.

    Raises:
        ConfigError: for settings that do not rebuild the model or that JSON cannot hold, a
            model without a registered family, or a family built from data and no ``data``.
        CatalogueMismatchError: ``data`` cover other users or items than the model.
        SavedModelError: ``path`` is a file, or a folder of other files.

    Example:
        >>> import tempfile
        >>> import jax.numpy as jnp
        >>> import moorec as mr
        >>> data = mr.datasets.synthetic_shop(n_users=50, n_items=40, n_interactions=600, seed=0)
        >>> split = mr.split.random_ratio(data, seed=0)
        >>> model = mr.fit(split, "bpr", dim=8, epochs=1).model
        >>> folder = mr.models.save(model, tempfile.mkdtemp() + "/bpr", settings={"dim": 8},
        ...                         data=split.train)
        >>> again = mr.models.load(folder, data=split.train)
        >>> bool((again.score(jnp.arange(3)) == model.score(jnp.arange(3))).all())
        True
    """
    path = Path(path)
    _check_target(path)
    family = _family_of(model, family)
    settings = check_settings(family, dict(settings or {}))
    plain = _plain(settings, f"a setting of model {family!r}")
    settings = {k: _tuples(v) for k, v in plain.items()}
    train = _train_of(data)
    n_users, n_items = int(model.n_users), int(model.n_items)
    where = f"model {family!r} ({_sizes(n_users, n_items)})"
    if train is not None:
        _check_catalogue(where, n_users, n_items, None, train)
    elif needs_train(_MODELS[family]):
        raise ConfigError(
            f"model {family!r} is built from its training interactions: pass data=split.train, "
            "so that the saved model records them and load() can rebuild it"
        )
    leaves = _leaves(model)
    built = _abstract(family, n_users, n_items, settings, train)
    differs = _mismatch(leaves, built)
    if differs is not None:
        raise ConfigError(
            f"settings {settings} do not rebuild this {type(model).__name__}: {differs} (the "
            f"model, then create({family!r}, ...)); pass settings= the model was built with"
        )
    blob = serialization.msgpack_serialize({leaf.name: leaf.array for leaf in leaves})
    description = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "family": family,
        "settings": plain,
        "n_users": n_users,
        "n_items": n_items,
        "data": None
        if train is None
        else {
            "fingerprint": train.fingerprint(),
            "interactions": len(train),
            "name": train.name,
        },
        "state": {
            "file": STATE,
            "serializer": "flax.serialization.msgpack_serialize",
            "bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "leaves": [leaf.describe() for leaf in leaves],
        },
        "versions": _versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "info": _plain(dict(info or {}), "info"),
    }
    text = json.dumps(description, indent=2, allow_nan=False) + "\n"
    _write_folder(path, {STATE: blob, DESCRIPTION: text.encode("utf-8")})
    return path


def _abstract(family: str, n_users: int, n_items: int, settings, train) -> list[_Leaf]:
    """The state layout ``create(family, ...)`` gives, without allocating its arrays."""

    def build():
        return create(family, n_users, n_items, train=train, **settings)

    try:
        model = nnx.eval_shape(build)
    except MoorecError as err:
        raise ConfigError(f"settings {settings} do not build model {family!r}: {err}") from None
    except Exception:  # a constructor that computes on the host from its own arrays
        model = build()
    return _leaves(model, arrays=False)


def _check_target(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise SavedModelError(f"{str(path)!r} is an existing file; give a folder for the model")
    if path.is_dir() and any(path.iterdir()) and not (path / DESCRIPTION).is_file():
        raise SavedModelError(
            f"{str(path)!r} holds files other than a saved model; moorec replaces only a saved "
            "model (a folder with model.json): give a new or empty folder"
        )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_folder(path: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` into a temporary folder beside ``path``, then rename it to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = None
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700 folders; give the usual mode
        for name, blob in files.items():
            with open(tmp / name, "wb") as f:
                f.write(blob)
                f.flush()
                os.fsync(f.fileno())
        _fsync_dir(tmp)
        if path.is_dir() and any(path.iterdir()):  # a saved model (_check_target): replace it
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old)  # rename(2) moves a folder over an empty one
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                old = None
                raise
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """The checked description (``model.json``) of the saved model at ``path``.

    Returns:
        ``{"format", "version", "family", "settings", "n_users", "n_items", "data", "state",
        "versions", "created", "info"}``: ``data`` is ``None`` or ``{"fingerprint",
        "interactions", "name"}`` of the training interactions; ``state`` holds ``file``,
        ``bytes``, ``sha256`` and ``leaves`` (``{"path", "type", "dtype", "shape"}`` each).

    Raises:
        ModelNotFoundError: no folder at ``path``, or no ``model.json`` in it.
        CorruptModelError: ``model.json`` is not JSON or lacks an entry or has one of the
            wrong type.
        IncompatibleModelError: the folder was written in a newer format.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelNotFoundError(f"no saved model at {str(path)!r}: no such folder")
    file = path / DESCRIPTION
    if not file.is_file():
        raise ModelNotFoundError(
            f"no saved model at {str(path)!r}: it holds no {DESCRIPTION} (a folder written by "
            "moorec.models.save or `moorec train --save` holds one)"
        )
    try:
        desc = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptModelError(f"{file} is not valid JSON ({err}); save the model again") from None
    if not isinstance(desc, dict) or desc.get("format") != FORMAT:
        raise CorruptModelError(f"{file} is not a moorec model description (no format {FORMAT!r})")
    version = desc.get("version")
    if not _is_int(version) or version < 1:
        raise CorruptModelError(f"{file}: 'version' must be an integer >= 1, got {version!r}")
    if version > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{file} was written in format {version} by a newer moorec; this one reads format "
            f"{FORMAT_VERSION}: upgrade moorec to load it"
        )
    _require(file, desc, {"family": str, "settings": dict, "n_users": int, "n_items": int,
                          "state": dict})  # fmt: skip
    for key in ("n_users", "n_items"):
        if desc[key] < 1:
            raise CorruptModelError(f"{file}: {key!r} must be >= 1, got {desc[key]!r}")
    data = desc.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise CorruptModelError(f"{file}: 'data' must be null or an object, got {data!r}")
        _require(file, data, {"fingerprint": str, "interactions": int}, "data.")
    state = desc["state"]
    _require(file, state, {"file": str, "sha256": str, "leaves": list}, "state.")
    if Path(state["file"]).name != state["file"]:
        raise CorruptModelError(f"{file}: 'state.file' must be a file name, got {state['file']!r}")
    for i, leaf in enumerate(state["leaves"]):
        if not isinstance(leaf, dict):
            raise CorruptModelError(f"{file}: state.leaves[{i}] must be an object, got {leaf!r}")
        _require(file, leaf, {"path": list, "type": str, "dtype": str, "shape": list},
                 f"state.leaves[{i}].")  # fmt: skip
        if not all(_is_int(n) and n >= 0 for n in leaf["shape"]):
            raise CorruptModelError(f"{file}: state.leaves[{i}].shape is {leaf['shape']!r}")
    desc.setdefault("info", {})
    return desc


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require(file: Path, obj: Mapping, fields: Mapping[str, type], prefix: str = "") -> None:
    for key, kind in fields.items():
        value = obj.get(key)
        ok = _is_int(value) if kind is int else isinstance(value, kind)
        if not ok:
            got = "missing" if key not in obj else f"got {value!r:.60}"
            raise CorruptModelError(
                f"{file}: '{prefix}{key}' must be {'an' if kind is int else 'a'} "
                f"{kind.__name__}, {got}"
            )


def load(path: str | os.PathLike, data=None) -> Recommender:
    """Load the model saved at ``path`` (by :func:`save`), ready to score; nothing is trained.

    Args:
        path: the folder :func:`save` wrote.
        data: the training interactions the model was trained on (``split.train``, or the
            split itself). Required for families built from them (``train=``, e.g.
            LightGCN); for the others optional, and checked when given.

    Returns:
        The model, rebuilt with :func:`~moorec.models.create` from the saved settings and
        holding the saved state: its scores (``model.score(users)``: ``[B, n_items]``
        float32) are the saved model's bit for bit.

    Raises:
        ModelNotFoundError: no saved model at ``path``.
        CorruptModelError: a file is missing, unreadable or altered since it was saved (the
            state's SHA-256 differs), or the state does not match its description.
        UnknownNameError: the saved family is not registered.
        ConfigError: the family is built from its training data and ``data`` is not given.
        CatalogueMismatchError: ``data`` have another number of users or items than the
            saved model (both sizes named), or another fingerprint (other interactions).
        IncompatibleModelError: a newer format, or saved settings or a state layout that the
            model this moorec builds no longer has.
    """
    path = Path(path)
    desc = describe(path)
    family, n_users, n_items = desc["family"], desc["n_users"], desc["n_items"]
    if family not in _MODELS:
        raise UnknownNameError(f"model family (of the model saved at {str(path)!r})", family,
                               _MODELS)  # fmt: skip
    where = f"the model saved at {str(path)!r} ({family}, {_sizes(n_users, n_items)})"
    train = _train_of(data)
    if train is not None:
        _check_catalogue(where, n_users, n_items, desc["data"], train)
    elif needs_train(_MODELS[family]):
        trained_on = desc["data"] or {}
        count = trained_on.get("interactions")
        raise ConfigError(
            f"model {family!r} is built from its training interactions: load it with "
            f"data=split.train (the training part of the split it was trained on"
            + (f": {count:,} interactions, " if count is not None else ": ")
            + f"{_sizes(n_users, n_items)})"
        )
    arrays = _read_state(path, desc)
    settings = {k: _tuples(v) for k, v in desc["settings"].items()}
    try:
        model = create(family, n_users, n_items, train=train, **settings)
    except MoorecError as err:
        raise IncompatibleModelError(
            f"{where}: its saved settings no longer build model {family!r}: {err}"
        ) from None
    _restore(model, arrays, desc, where)
    return model


def _read_state(path: Path, desc: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The saved arrays by leaf name, checked against the description."""
    file = path / desc["state"]["file"]
    try:
        blob = file.read_bytes()
    except FileNotFoundError:
        raise CorruptModelError(f"{file} is missing; save the model again") from None
    if hashlib.sha256(blob).hexdigest() != desc["state"]["sha256"]:
        raise CorruptModelError(
            f"{file} was changed or damaged since it was saved (its SHA-256 is not the one in "
            f"{DESCRIPTION}); save the model again"
        )
    try:
        arrays = serialization.msgpack_restore(blob)
    except Exception as err:  # msgpack raises several types for malformed bytes
        raise CorruptModelError(f"{file} is not a msgpack state: {err}") from None
    if not isinstance(arrays, dict) or not all(isinstance(v, np.ndarray) for v in arrays.values()):
        raise CorruptModelError(f"{file} does not hold one array per leaf")
    return arrays


def _restore(model: Recommender, arrays: Mapping[str, np.ndarray], desc, where: str) -> None:
    """Put the saved ``arrays`` into ``model``, after checking every leaf's layout."""
    saved = [
        _Leaf(tuple(d["path"]), d["type"], d["dtype"], tuple(d["shape"]), None)
        for d in desc["state"]["leaves"]
    ]
    built = _leaves(model, arrays=False)
    differs = _mismatch(saved, built)
    if differs is not None:
        raise IncompatibleModelError(
            f"{where}: the saved state does not fit the model this moorec builds: {differs} "
            "(the saved state, then the model built now)"
        )
    if set(arrays) != {leaf.name for leaf in saved}:
        raise CorruptModelError(f"{where}: the state file's leaves differ from its description")
    flat = []
    for path, var in nnx.to_flat_state(nnx.state(model)):
        name = "/".join(str(p) for p in path)
        value = var.get_value()
        array = arrays[name]
        if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            like = jax.random.key_data(value)
            if (array.dtype, array.shape) != (like.dtype, like.shape):
                raise CorruptModelError(f"{where}: leaf {name!r} is not the key data it describes")
            new = jax.random.wrap_key_data(array, impl=jax.random.key_impl(value))
        else:
            if (str(array.dtype), array.shape) != (str(value.dtype), value.shape):
                raise CorruptModelError(
                    f"{where}: leaf {name!r} in the state file is {list(array.shape)} "
                    f"{array.dtype}, its description says {list(value.shape)} {value.dtype}"
                )
            new = jnp.asarray(array)
        flat.append((path, var.replace(new)))
    nnx.update(model, nnx.from_flat_state(flat))
