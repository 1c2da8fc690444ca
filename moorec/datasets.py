"""Named data sets: load them by name, list where they are, register new ones.

Example:
    >>> from moorec import datasets
    >>> inter = datasets.load("synthetic-shop", n_users=200, n_items=100, n_interactions=2_000)
    >>> inter.name
    'synthetic-shop'
"""

from moorec.data.registry import (
    DatasetInfo,
    Layout,
    available,
    cache_root,
    dataset_info,
    load,
    load_or_synthetic,
    load_source,
    locate,
    names,
    register,
    unregister,
)
from moorec.data.synthetic import synthetic_shop

__all__ = [
    "DatasetInfo",
    "Layout",
    "available",
    "cache_root",
    "dataset_info",
    "load",
    "load_or_synthetic",
    "load_source",
    "locate",
    "names",
    "register",
    "synthetic_shop",
    "unregister",
]
