"""Bad inputs at the Python API (fit, recommend, evaluate, check_settings, TrainConfig).

Each is refused with a MoorecError subclass whose message names the bad value, before any
training, and writes nothing.
"""

import dataclasses
import math
import re
import warnings

import numpy as np
import pytest

import moorec as mr
from moorec.api import NoValidationWarning
from moorec.data.interactions import Interactions
from moorec.errors import ConfigError, DataError, MoorecError, UnknownNameError
from moorec.models.registry import check_settings, create
from moorec.train.loop import TrainConfig


@pytest.fixture(scope="module")
def model(split):
    return create("bpr", split.n_users, split.n_items, seed=0, dim=4)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working folder that must stay empty."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert list(tmp_path.iterdir()) == [], "nothing may be written on a refused input"


# (model, keyword arguments of fit, error class, text the message must hold)
FIT_CASES = [
    ("bpr", {"epocs": 3}, UnknownNameError, "'epocs'"),
    ("bpr", {"n_layer": 3}, UnknownNameError, "'n_layer'"),
    ("bpr", {"dim": -4}, ConfigError, "got -4"),
    ("bpr", {"dim": 0}, ConfigError, "got 0"),
    ("bpr", {"dim": 2.5}, ConfigError, "got 2.5"),
    ("bpr", {"epochs": -3}, ConfigError, "got -3"),
    ("bpr", {"lr": 0.0}, ConfigError, "got 0.0"),
    ("bpr", {"lr": math.nan}, ConfigError, "got nan"),
    ("bpr", {"l2": -1.0}, ConfigError, "got -1.0"),
    ("bpr", {"batch_size": 0}, ConfigError, "got 0"),
    ("bpr", {"patience": -1}, ConfigError, "got -1"),
    ("bpr", {"seed": -1}, ConfigError, "got -1"),
    ("bpr", {"neg_rounds": -2}, ConfigError, "got -2"),
    ("bpr", {"optimizer": "adamm"}, UnknownNameError, "'adamm'"),
    ("bpr", {"valid_metric": "ndgc@10"}, UnknownNameError, "'ndgc'"),
    ("bpr", {"valid_metric": "latency_ms"}, ConfigError, "'latency_ms'"),
    ("bpr", {"loss_weights": {"pop_weight": math.inf}}, ConfigError, "got inf"),
    ("bpr", {"loss_weights": {"div_weight": -0.5}}, ConfigError, ">= 0, got -0.5"),
    ("lightgcn", {"n_layers": -1}, ConfigError, "got -1"),
    ("neumf", {"layers": (64, 0)}, ConfigError, "got 0"),
    ("sasrec", {"n_heads": 0}, ConfigError, "got 0"),
    ("two_tower", {"normalize": "yes"}, ConfigError, "got 'yes'"),
    ("caser", {}, UnknownNameError, "'caser'"),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "cls", "names"), FIT_CASES, ids=[f"{c[0]}-{c[1]}" for c in FIT_CASES]
)
def test_fit_refuses_bad_settings_before_training(
    split, workdir, monkeypatch, name, kwargs, cls, names
):
    def no_training(*args, **kw):
        raise AssertionError("training started despite a bad setting")

    monkeypatch.setattr("moorec.api._fit", no_training)
    with pytest.raises(cls, match=re.escape(names)):
        mr.fit(split, name, **kwargs)


def test_fit_unknown_keyword_lists_every_valid_name(split):
    with pytest.raises(UnknownNameError) as err:
        mr.fit(split, "bpr", epocs=3)
    message = str(err.value)
    for valid in ("epochs", "lr", "batch_size", "patience", "valid_metric", "dim"):
        assert valid in message
    assert err.value.name == "epocs"


def test_fit_built_model_with_settings(split, model, workdir):
    with pytest.raises(ConfigError, match=r"\['dim'\] given with an already built model"):
        mr.fit(split, model, dim=8)


def test_check_settings_names_only_and_values(workdir):
    # values=False checks names alone (a search space gives ranges, not values)
    assert check_settings("bpr", {"dim": (8, 64)}, values=False) == {"dim": (8, 64)}
    with pytest.raises(UnknownNameError, match=r"unknown setting of model 'bpr' 'n_layer'.*dim"):
        check_settings("bpr", {"n_layer": 3}, values=False)
    # integral floats become ints; one width is a one-element sequence
    assert check_settings("neumf", {"dim": 16.0, "layers": 32}) == {"dim": 16, "layers": (32,)}
    assert check_settings("lightgcn", {"n_layers": 0}) == {"n_layers": 0}  # MF without graph


def test_train_config_refuses_non_mapping_loss_weights():
    with pytest.raises(ConfigError, match=r"loss_weights must be a mapping.*got \[1\.0\]"):
        TrainConfig(loss_weights=[1.0])


# ------------------------------------------------------------------------------- recommend
RECOMMEND_CASES = [
    ({"users": [99999]}, "user index 99999 is out of range: user indices lie in [0, 60)"),
    ({"users": [0, -1]}, "user index -1 is out of range"),
    ({"users": ["5"]}, "got '5' (dtype <U1); pass raw=True"),
    ({"users": [1.5]}, "got 1.5 (dtype float64)"),
    ({"users": []}, "got []"),
    ({"users": [[0, 1]]}, "got [[0, 1]]"),
    (
        {"users": [0], "k": 0},
        "k must be a positive integer no larger than the number of items, in [1, 40], got 0",
    ),
    ({"users": [0], "k": 41}, "got 41"),
    ({"users": [0], "k": 2.0}, "got 2.0"),
    ({"users": [0], "raw": True}, "raw=True maps raw ids"),
]


@pytest.mark.parametrize(
    ("kwargs", "text"), RECOMMEND_CASES, ids=[str(c[0]) for c in RECOMMEND_CASES]
)
def test_recommend_refuses(model, workdir, kwargs, text):
    with pytest.raises(ConfigError, match=re.escape(text)):
        mr.recommend(model, **kwargs)


@pytest.fixture(scope="module")
def raw_data():
    """Interactions with string raw ids, so that a raw id is never equal to its index."""
    rng = np.random.default_rng(0)
    users = np.array([f"user-{u:02d}" for u in rng.integers(0, 30, 600)])
    items = np.array([f"item-{i:02d}" for i in rng.integers(0, 25, 600)])
    return Interactions.from_raw(users, items, name="raw-ids")


def test_recommend_raw_ids_in_and_out(raw_data):
    model = create("bpr", raw_data.n_users, raw_data.n_items, seed=0, dim=4)
    split = mr.split.random_ratio(raw_data, seed=0)
    want_users = ["user-07", "user-21"]
    index = [int(np.flatnonzero(raw_data.user_ids == u)[0]) for u in want_users]
    items, scores = mr.recommend(model, index, k=5, exclude=split.train)
    raw_items, raw_scores = mr.recommend(model, want_users, k=5, exclude=split.train, raw=True)
    np.testing.assert_array_equal(raw_items, raw_data.item_ids[items])
    np.testing.assert_array_equal(raw_scores, scores)
    assert raw_items.shape == (2, 5) and str(raw_items[0, 0]).startswith("item-")
    # the maps may come from ids= when nothing is excluded
    free, _ = mr.recommend(model, want_users, k=3, raw=True, ids=raw_data)
    assert free.shape == (2, 3)
    with pytest.raises(ConfigError, match=r"raw user id 'nobody' is not in data set 'raw-ids'"):
        mr.recommend(model, ["nobody"], k=3, raw=True, ids=raw_data)
    # a raw id given without raw=True is refused, never read as an index
    with pytest.raises(ConfigError, match=r"pass raw=True"):
        mr.recommend(model, ["user-07"], k=3, exclude=split.train)


def test_recommend_in_range_users_and_full_catalogue(model, split):
    items, scores = mr.recommend(model, [0, split.n_users - 1], k=split.n_items)
    assert items.shape == (2, split.n_items)
    assert sorted(items[0].tolist()) == list(range(split.n_items))
    assert np.all(np.diff(scores, axis=1) <= 0)


# ------------------------------------------------------------------------ data-dependent
def test_category_objectives_on_data_without_categories(shop, workdir):
    plain = dataclasses.replace(shop, item_features=None, name="no-categories")
    split = mr.split.random_ratio(plain, seed=0)
    model = create("bpr", split.n_users, split.n_items, seed=0, dim=4)
    with pytest.raises(DataError, match=r"\['ild@10'\] need item categories.*'no-categories'"):
        mr.evaluate(model, split, "test", ["ndcg@10", "ild@10"])


def test_fit_without_validation_warns_and_keeps_last_state(shop):
    split = mr.split.random_ratio(shop, (0.8, 0.2), seed=0)
    assert len(split.valid) == 0
    with pytest.warns(NoValidationWarning, match=r"early stopping is off: all 2 epochs run"):
        result = mr.fit(split, "bpr", dim=4, epochs=2, batch_size=256)
    assert math.isnan(result.best_valid)
    assert result.best_epoch == 2 and len(result.history) == 2 and not result.stopped_early
    # patience=0 asks for exactly that: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoValidationWarning)
        again = mr.fit(split, "bpr", dim=4, epochs=1, batch_size=256, patience=0)
    assert again.best_epoch == 1


def test_every_refusal_is_a_moorec_error():
    for _, _, cls, _ in FIT_CASES:
        assert issubclass(cls, MoorecError)
