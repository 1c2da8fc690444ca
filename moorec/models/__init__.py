"""Recommender models (Flax NNX modules) and their registry."""

from moorec.models.base import Recommender, count_params
from moorec.models.bert4rec import BERT4Rec
from moorec.models.lightgcn import LightGCN
from moorec.models.mf import BPRMF, bpr_loss
from moorec.models.ncf import NeuMF
from moorec.models.peft import add_adapters, add_lora, finetune, trainable_params
from moorec.models.registry import available, create, defaults, register
from moorec.models.sasrec import SASRec
from moorec.models.two_tower import TwoTower

__all__ = [
    "BPRMF",
    "BERT4Rec",
    "LightGCN",
    "NeuMF",
    "Recommender",
    "SASRec",
    "TwoTower",
    "add_adapters",
    "add_lora",
    "available",
    "bpr_loss",
    "count_params",
    "create",
    "defaults",
    "finetune",
    "register",
    "trainable_params",
]
