"""Recommender models (Flax NNX modules) and their registry."""

from moorec.models.base import Recommender, count_params
from moorec.models.mf import BPRMF, bpr_loss
from moorec.models.registry import available, create, register

__all__ = ["BPRMF", "Recommender", "available", "bpr_loss", "count_params", "create", "register"]
