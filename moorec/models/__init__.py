"""Recommender models (Flax NNX modules) and their registry."""

from moorec.models.base import Recommender, count_params
from moorec.models.bert4rec import BERT4Rec
from moorec.models.ease import EASE
from moorec.models.gru4rec import GRU4Rec
from moorec.models.lightgcn import LightGCN
from moorec.models.mf import BPRMF, bpr_loss
from moorec.models.multvae import MultVAE
from moorec.models.ncf import NeuMF
from moorec.models.neighbourhood import ItemKNN, Pop, RP3beta
from moorec.models.peft import add_adapters, add_lora, finetune, trainable_params
from moorec.models.persist import describe, load, save
from moorec.models.registry import available, create, defaults, register
from moorec.models.sasrec import SASRec
from moorec.models.two_tower import TwoTower

__all__ = [
    "BPRMF",
    "EASE",
    "BERT4Rec",
    "GRU4Rec",
    "ItemKNN",
    "LightGCN",
    "MultVAE",
    "NeuMF",
    "Pop",
    "RP3beta",
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
    "describe",
    "finetune",
    "load",
    "register",
    "save",
    "trainable_params",
]
