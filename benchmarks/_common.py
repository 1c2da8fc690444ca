"""Helpers shared by the benchmark scripts: data location, timing, JSON output."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import jax

from moorec.env import environment
from moorec.io import atomic_write_json

REPO = Path(__file__).resolve().parents[1]


def data_root() -> Path | None:
    """``$MOOREC_DATA`` or ``../shared/datasets`` beside the repository, if it exists."""
    for c in (os.environ.get("MOOREC_DATA"), REPO.parent / "shared" / "datasets"):
        if c and Path(c).exists():
            return Path(c)
    return None


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup`` calls, blocking on JAX."""
    for _ in range(warmup):
        jax.block_until_ready(fn())
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        out.append(time.perf_counter() - t0)
    return out


def median(xs: list[float]) -> float:
    """Median of a non-empty list."""
    return float(statistics.median(xs))


def save(path: str | os.PathLike, name: str, figures: dict) -> Path:
    """Write ``figures`` with the environment to ``path`` as JSON and return the path."""
    return atomic_write_json(path, {"benchmark": name, "environment": environment(), **figures})
