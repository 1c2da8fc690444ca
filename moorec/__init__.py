"""moorec: multi-objective optimisation of recommender systems.

Flax recommender models trained under ``jax.jit``, full-ranking objectives (accuracy, recall,
diversity, latency), and a pymoo search for the trade-offs between them.
"""

from moorec import data, datasets, errors, models, objectives, results, search, split, train
from moorec.api import evaluate, fit, recommend
from moorec.errors import MoorecError

__version__ = "0.1.0"

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
    "recommend",
    "results",
    "search",
    "split",
    "train",
]
