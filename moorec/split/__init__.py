"""Split interactions into train / valid / test: random ratio, leave-one-out, temporal."""

from moorec.split.cold_start import cold_start_items, restrict_to_items
from moorec.split.container import PARTS, Split
from moorec.split.protocols import (
    PROTOCOLS,
    leave_one_out,
    random_ratio,
    ratio_counts,
    split,
    temporal,
)

PROTOCOLS["cold_items"] = cold_start_items  # defined beside the protocols it builds on

__all__ = [
    "PARTS",
    "PROTOCOLS",
    "Split",
    "cold_start_items",
    "leave_one_out",
    "random_ratio",
    "ratio_counts",
    "restrict_to_items",
    "split",
    "temporal",
]
