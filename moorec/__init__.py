"""moorec: multi-objective optimisation of recommender systems.

Flax recommender models trained under ``jax.jit``, full-ranking objectives (accuracy, recall,
diversity, latency), and a pymoo search for the trade-offs between them.
"""

import time as _time

_IMPORT_START = _time.perf_counter()

from moorec import (  # noqa: E402
    data,
    datasets,
    errors,
    models,
    objectives,
    rerank,
    results,
    search,
    split,
    train,
)
from moorec.api import evaluate, fit, recommend  # noqa: E402
from moorec.errors import MoorecError  # noqa: E402

#: Seconds this process took to import moorec (JAX, Flax, optax and pymoo with it, unless they
#: were imported before): what each new worker process pays again before its first candidate.
IMPORT_SECONDS = _time.perf_counter() - _IMPORT_START

__version__ = "0.1.0"


def __getattr__(name: str):
    # moorec.plots imports matplotlib; load it on first use rather than with the package.
    if name == "plots":
        import importlib

        return importlib.import_module("moorec.plots")
    raise AttributeError(f"module 'moorec' has no attribute {name!r}")


__all__ = [
    "MoorecError",
    "__version__",
    "data",
    "datasets",
    "errors",
    "evaluate",
    "fit",
    "models",
    "objectives",
    "plots",
    "recommend",
    "rerank",
    "results",
    "search",
    "split",
    "train",
]
