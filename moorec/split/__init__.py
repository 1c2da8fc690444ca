"""Split interactions into train / valid / test: random ratio, leave-one-out, temporal."""

from moorec.split.container import PARTS, Split
from moorec.split.protocols import (
    PROTOCOLS,
    leave_one_out,
    random_ratio,
    ratio_counts,
    split,
    temporal,
)

__all__ = [
    "PARTS",
    "PROTOCOLS",
    "Split",
    "leave_one_out",
    "random_ratio",
    "ratio_counts",
    "split",
    "temporal",
]
