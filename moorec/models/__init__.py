"""Recommender models (Flax NNX modules) and their registry."""

from moorec.models.base import Recommender, count_params
from moorec.models.lightgcn import LightGCN
from moorec.models.mf import BPRMF, bpr_loss
from moorec.models.ncf import NeuMF
from moorec.models.registry import available, create, register
from moorec.models.two_tower import TwoTower

__all__ = [
    "BPRMF",
    "LightGCN",
    "NeuMF",
    "Recommender",
    "TwoTower",
    "available",
    "bpr_loss",
    "count_params",
    "create",
    "register",
]
