"""Each model family's defaults table: the CLI and ``moorec.fit`` train with it unless told."""

import dataclasses
import inspect
import json

import pytest
from flax import nnx

import moorec as mr
from moorec.cli import default_protocol, main
from moorec.errors import UnknownNameError
from moorec.models import BPRMF, LightGCN, registry
from moorec.models.family import _TABLE, TRAIN_KEYS, defaults, table
from moorec.train.loop import TrainConfig

# A made-up BPR entry: every value differs from TrainConfig's and BPR-MF's own defaults, so a
# run that shows them took them from the table.
SMALL = {"lr": 3e-3, "l2": 1e-5, "batch_size": 512, "epochs": 2, "patience": 1}


@pytest.fixture
def small_bpr_table(monkeypatch):
    monkeypatch.setitem(_TABLE, "bpr", (BPRMF, "random", dict(SMALL), {"dim": 8}))


class _Stop(Exception):
    """Raised by a stand-in trainer once it has seen what it was given."""


def _capture_fit(monkeypatch):
    """Replace the training loop of ``moorec.fit``: record (model, config) and stop."""
    seen = {}

    def fake_fit(model, train, config, **kwargs):
        seen["model"], seen["config"] = model, config
        raise _Stop

    def create(*args, **kwargs):
        seen["settings"] = {k: v for k, v in kwargs.items() if k not in ("seed", "train")}
        return registry.create(*args, **kwargs)

    monkeypatch.setattr("moorec.api._fit", fake_fit)
    monkeypatch.setattr("moorec.api.create", create)
    return seen


def test_table_covers_every_built_in_model_and_agrees_with_the_classes():
    assert set(table()) == set(registry.available())
    for name, d in table().items():
        # closed-form families are solved in one pass: no training settings
        closed = getattr(registry._MODELS[name], "closed_form", False)
        assert set(d["train"]) == (set() if closed else set(TRAIN_KEYS))
        TrainConfig(**d["train"])  # every value is valid
        assert d["split"] == default_protocol(name)
        # The model settings are the class's own constructor defaults, so that building the
        # class directly gives the same model as the table.
        params = inspect.signature(registry._MODELS[name].__init__).parameters
        for key, value in d["model"].items():
            assert params[key].default == value, (name, key)


def test_the_chosen_settings():
    assert defaults("lightgcn")["train"] == {
        "lr": 5e-3,
        "l2": 1e-4,
        "batch_size": 2048,
        "epochs": 300,
        "patience": 10,
    }
    assert defaults("sasrec")["train"]["batch_size"] == 64
    assert defaults("bert4rec")["train"]["batch_size"] == 32
    assert defaults("sasrec")["split"] == defaults("bert4rec")["split"] == "loo"
    assert defaults("bpr") == {
        "split": "random",
        "train": {"lr": 1e-3, "l2": 0.0, "batch_size": 2048, "epochs": 300, "patience": 10},
        "model": {"dim": 64},
    }


def test_defaults_of_unknown_and_foreign_families(monkeypatch):
    with pytest.raises(UnknownNameError, match=r"'lightgnc'.*lightgcn"):
        defaults("lightgnc")
    base = TrainConfig()
    generic = {k: getattr(base, k) for k in TRAIN_KEYS}
    # A name registered with another factory gets TrainConfig's defaults, not the built-in's.
    monkeypatch.setitem(registry._MODELS, "lightgcn", BPRMF)
    assert defaults("lightgcn") == {"split": "random", "train": generic, "model": {}}

    class Mine(BPRMF):
        sampler = "sequences"

    assert defaults(Mine) == {"split": "loo", "train": generic, "model": {}}
    assert defaults(LightGCN)["train"]["lr"] == 5e-3
    # A fresh copy each time: changing it changes nothing.
    defaults("sasrec")["train"]["lr"] = 1.0
    assert defaults("sasrec")["train"]["lr"] == 1e-3


def test_cli_without_settings_trains_with_the_table_and_flags_override(tmp_path, small_bpr_table):
    common = ["train", "--dataset", "synthetic-shop", "--model", "bpr", "--no-progress"]
    common += ["--objectives", "ndcg@10"]
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert {k: a["config"]["train"][k] for k in TRAIN_KEYS} == SMALL
    assert a["config"]["model_settings"] == {"dim": 8}
    assert a["epochs_run"] <= 2 and len(a["history"]) == a["epochs_run"]
    assert a["config"]["split"]["protocol"] == "random"

    flags = ["--lr", "0.02", "--dim", "4", "--patience", "0"]
    assert main([*common, *flags, "--out", str(tmp_path / "b")]) == 0
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert b["config"]["train"]["lr"] == 0.02 and b["config"]["train"]["patience"] == 0
    assert b["config"]["model_settings"] == {"dim": 4}
    assert {k: b["config"]["train"][k] for k in ("l2", "batch_size", "epochs")} == {
        "l2": 1e-5,
        "batch_size": 512,
        "epochs": 2,
    }
    assert b["epochs_run"] == 2  # patience 0: every epoch of the table's 2


@pytest.mark.parametrize("name", ["lightgcn", "sasrec", "bert4rec"])
def test_cli_hands_the_real_table_to_training(monkeypatch, name):
    seen = _capture_fit(monkeypatch)
    with pytest.raises(_Stop):
        main(["train", "--dataset", "synthetic-shop", "--model", name, "--no-progress"])
    d = defaults(name)
    assert {k: getattr(seen["config"], k) for k in TRAIN_KEYS} == d["train"]
    assert seen["settings"] == d["model"]
    assert (
        seen["model"].dim == 64 and seen["model"].n_users == 2_000
    )  # synthetic-shop's users, all kept by either split


def test_fit_uses_the_table_and_explicit_values_win(planted_split, small_bpr_table):
    result = mr.fit(planted_split, "bpr")
    assert {k: getattr(result.config, k) for k in TRAIN_KEYS} == SMALL
    assert result.model.dim == 8 and len(result.history) <= 2

    result = mr.fit(planted_split, "bpr", lr=0.02, dim=4, patience=0)
    assert (result.config.lr, result.config.patience, result.config.batch_size) == (0.02, 0, 512)
    assert result.model.dim == 4 and len(result.history) == 2

    # A built model of a table class: the class's training defaults.
    built = BPRMF(planted_split.n_users, planted_split.n_items, 4, rngs=nnx.Rngs(params=0))
    assert mr.fit(planted_split, built).config.batch_size == 512

    # An explicit config is used as it is.
    cfg = TrainConfig(epochs=1, batch_size=64, lr=5e-3, patience=0)
    result = mr.fit(planted_split, "bpr", config=cfg)
    assert dataclasses.astuple(result.config) == dataclasses.astuple(cfg)
    assert len(result.history) == 1 and result.model.dim == 8


def test_fit_real_table_values(planted_split, monkeypatch):
    seen = _capture_fit(monkeypatch)
    for name in ("lightgcn", "sasrec"):
        with pytest.raises(_Stop):
            mr.fit(planted_split, name)
        assert {k: getattr(seen["config"], k) for k in TRAIN_KEYS} == defaults(name)["train"]
    with pytest.raises(_Stop):
        mr.fit(planted_split, "lightgcn", lr=0.05, epochs=7)
    assert (seen["config"].lr, seen["config"].epochs, seen["config"].l2) == (0.05, 7, 1e-4)
