"""Data: the Interactions container, loaders, cleaning, registry and synthetic data."""

from moorec.data.interactions import Interactions, ItemFeatures, align_item_features, csr_by_user

__all__ = ["Interactions", "ItemFeatures", "align_item_features", "csr_by_user"]
