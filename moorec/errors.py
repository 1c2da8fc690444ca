"""Errors raised by moorec.

Every error a user can cause is a :class:`MoorecError` subclass whose message names the value
that was received and, where there is a fixed set, the valid choices.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "CatalogueMismatchError",
    "ChecksumError",
    "ColumnError",
    "ConfigError",
    "CorruptModelError",
    "CorruptRunError",
    "DataError",
    "DataNotFoundError",
    "DownloadError",
    "EmptyDataError",
    "ExecutorError",
    "IncompatibleModelError",
    "ModelNotFoundError",
    "MoorecError",
    "RecordError",
    "ResourceError",
    "RunConfigMismatchError",
    "RunStoreError",
    "SavedModelError",
    "SplitError",
    "TrainingError",
    "UnknownNameError",
]


class MoorecError(Exception):
    """Base class of every error moorec raises on bad input."""


class ConfigError(MoorecError, ValueError):
    """A setting has a value outside its valid range or set."""


class UnknownNameError(MoorecError, KeyError):
    """A name (data set, model, metric, protocol) that moorec does not know."""

    def __init__(self, kind: str, name: object, choices: Iterable[str]):
        self.kind = kind
        self.name = name
        self.choices = sorted(choices)
        super().__init__(
            f"unknown {kind} {name!r}; valid choices: {', '.join(self.choices) or '(none)'}"
        )

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.args[0]


class DataError(MoorecError):
    """A data file or array is malformed."""


class DataNotFoundError(DataError, FileNotFoundError):
    """A data file or data set could not be found in any of the places searched."""


class ColumnError(DataError):
    """A column is missing, misnamed or of the wrong type."""


class EmptyDataError(DataError):
    """Loading or filtering left no interactions."""


class SplitError(MoorecError, ValueError):
    """A split cannot be made as asked (bad ratios, too few interactions)."""


class DownloadError(MoorecError):
    """A data set could not be downloaded."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the expected checksum."""


def check_choice(kind: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`UnknownNameError`."""
    choices = list(choices)
    if value not in choices:
        raise UnknownNameError(kind, value, choices)
    return value


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ConfigError(f"{name} must be a positive integer (> 0), got {value!r}")
    return int(value)


class TrainingError(MoorecError):
    """Training failed, e.g. the loss became NaN or infinite."""


class ResourceError(MoorecError):
    """A computation would need more memory than its limit allows (the message names both)."""


class ExecutorError(MoorecError):
    """An executor could not run a population (workers that do not start, a lost cluster)."""


class RunStoreError(MoorecError):
    """A run folder cannot be read or written as asked (e.g. it holds files that are not a run)."""


class RunConfigMismatchError(RunStoreError):
    """An output folder already holds a run made with a different config."""


class CorruptRunError(RunStoreError, DataError):
    """A run folder holds a malformed file or record other than a torn last line."""


class RecordError(RunStoreError, ValueError):
    """A record given to the run store lacks a field or has a field of the wrong type."""


class SavedModelError(MoorecError):
    """A saved model (``moorec.models.save``) cannot be written or read back as asked."""


class ModelNotFoundError(SavedModelError, DataNotFoundError):
    """No saved model where one was asked for (no folder, or no ``model.json`` in it)."""


class CorruptModelError(SavedModelError, DataError):
    """A saved model's description or state file is unreadable, malformed or altered."""


class IncompatibleModelError(SavedModelError):
    """A saved state does not fit the model this moorec builds from its description."""


class CatalogueMismatchError(SavedModelError, ValueError):
    """A saved model was given data of another catalogue (users, items or interactions)."""
