"""Data: the Interactions container, loaders, cleaning, registry and synthetic data."""

from moorec.data.clean import drop_duplicates, implicit, k_core
from moorec.data.interactions import (
    Interactions,
    ItemFeatures,
    align_item_features,
    csr_by_user,
    history_matrix,
)
from moorec.data.loaders import (
    MOVIELENS_GENRES,
    load_atomic,
    load_categories,
    load_movielens_1m,
    load_movielens_100k,
    load_path,
    load_table,
    parse_columns,
    parse_sep,
)
from moorec.data.registry import (
    DatasetInfo,
    Layout,
    available,
    cache_root,
    dataset_info,
    load,
    load_source,
    locate,
    names,
    register,
    unregister,
)
from moorec.data.synthetic import synthetic_shop

__all__ = [
    "MOVIELENS_GENRES",
    "DatasetInfo",
    "Interactions",
    "ItemFeatures",
    "Layout",
    "align_item_features",
    "available",
    "cache_root",
    "csr_by_user",
    "dataset_info",
    "drop_duplicates",
    "history_matrix",
    "implicit",
    "k_core",
    "load",
    "load_atomic",
    "load_categories",
    "load_movielens_1m",
    "load_movielens_100k",
    "load_path",
    "load_source",
    "load_table",
    "locate",
    "names",
    "parse_columns",
    "parse_sep",
    "register",
    "synthetic_shop",
    "unregister",
]
