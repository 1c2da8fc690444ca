"""Executors: how a search's population is trained and scored.

``sequential`` (here, one after another), ``vectorized`` (one jitted, vmapped program per shape
bucket, for accelerators), ``processes`` (warm worker processes on this machine's cores),
``dask`` (a Dask cluster) and ``auto`` (picks for the machine) all return the same trial records.
"""

from moorec.executors.base import (
    EXECUTORS,
    AutoExecutor,
    Executor,
    Given,
    SequentialExecutor,
    available_cores,
    choose,
    make_executor,
)
from moorec.executors.trial import Trainer, TrialSpec, searchable_names

__all__ = [
    "EXECUTORS",
    "AutoExecutor",
    "Executor",
    "Given",
    "SequentialExecutor",
    "Trainer",
    "TrialSpec",
    "available_cores",
    "choose",
    "make_executor",
    "searchable_names",
]
