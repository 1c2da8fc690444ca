"""Training: the generic jitted loop with early stopping, and batch sampling."""

from moorec.train.loop import FitResult, FitState, TrainConfig, fit, optimizer, train_epoch
from moorec.train.sampling import PairData, epoch_order, is_known, sample_negatives

__all__ = [
    "FitResult",
    "FitState",
    "PairData",
    "TrainConfig",
    "epoch_order",
    "fit",
    "is_known",
    "optimizer",
    "sample_negatives",
    "train_epoch",
]
