"""Bad inputs to the Evaluator (and ``evaluate``): each refused when it is built, by name.

Every refusal is a MoorecError subclass whose message names the bad value (and the valid
choices or range), raised before any model is scored.
"""

import numpy as np
import pytest

import moorec as mr
from moorec.errors import ConfigError, MoorecError, SplitError, UnknownNameError
from moorec.objectives import Evaluator
from moorec.objectives.sampled import sampled_evaluate


@pytest.fixture(scope="module")
def no_valid(shop):
    """A train/test split: its validation part holds no interaction."""
    split = mr.split.random_ratio(shop, (0.8, 0.2), seed=0)
    assert len(split.valid) == 0 and len(split.test) > 0
    return split


@pytest.fixture(scope="module")
def model(split):
    return mr.models.create("bpr", split.n_users, split.n_items, seed=0, dim=4)


def test_an_empty_part_is_refused_when_the_evaluator_is_built(no_valid, model):
    with pytest.raises(SplitError, match=r"split part 'valid' is empty: no user has a held-out"):
        Evaluator(no_valid, "valid", ["ndcg@10"])
    with pytest.raises(SplitError, match=r"'valid' is empty.*0 interactions"):
        mr.evaluate(model, no_valid, "valid", ["ndcg@10"])
    assert set(Evaluator(no_valid, "test", ["ndcg@10"])(model)) == {"ndcg@10"}  # test is fine


@pytest.mark.parametrize(
    ("objectives", "cls", "text"),
    [
        (["ndgc@10"], UnknownNameError, r"unknown objective 'ndgc'; valid choices: .*ndcg"),
        (["recall@10", "bogus"], UnknownNameError, r"unknown objective 'bogus'.*recall"),
        (["ndcg@0"], ConfigError, r"cutoff k in 'ndcg@0' must be a positive integer, got '0'"),
        (["hit@-3"], ConfigError, r"cutoff k in 'hit@-3' must be a positive integer, got '-3'"),
        (["ndcg@ten"], ConfigError, r"cutoff k in 'ndcg@ten' must be a positive integer"),
        (
            ["ndcg@41"],
            ConfigError,
            r"cutoff k=41 of 'ndcg@41' is longer than the catalogue of "
            r"40 items; use k <= 40",
        ),
        ([], ConfigError, r"at least one objective is needed; valid names: .*ndcg"),
        (["latency_ms@10"], ConfigError, r"'latency_ms' takes no cutoff"),
        (["ndcg"], ConfigError, r"'ndcg' needs a cutoff"),
    ],
)
def test_bad_objectives(split, objectives, cls, text):
    with pytest.raises(cls, match=text):
        Evaluator(split, "valid", objectives)


@pytest.mark.parametrize("part", ["train", "validation", "", "TEST"])
def test_an_unknown_part_lists_the_valid_ones(split, part):
    with pytest.raises(UnknownNameError, match=rf"unknown split part '{part}'; valid choices: "
                       r"test, valid"):  # fmt: skip
        Evaluator(split, part, ["ndcg@10"])


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"chunk_users": 0}, r"chunk_users must be a positive integer \(> 0\), got 0"),
        ({"chunk_users": 2.5}, r"chunk_users must be a positive integer, got 2.5"),
        ({"memory_mb": 0}, r"memory_mb must be a number > 0, got 0"),
        ({"memory_mb": -8.0}, r"memory_mb must be a number > 0, got -8.0"),
        ({"latency_batch": -1}, r"latency_batch must be a positive integer \(> 0\), got -1"),
        ({"latency_repeats": 0}, r"latency_repeats must be a positive integer \(> 0\), got 0"),
        ({"tie_seed": -2}, r"tie_seed must be an integer >= 0 or None, got -2"),
        ({"candidates": np.array([3, 99])}, r"candidates must be .* item indices in \[0, 40\)"),
        ({"candidates": np.array([], dtype=int)}, r"candidates must be a non-empty list"),
    ],
)
def test_bad_settings(split, kwargs, text):
    with pytest.raises(ConfigError, match=text):
        Evaluator(split, "valid", ["ndcg@10"], **kwargs)


def test_sampled_evaluation_refuses_a_bad_tie_seed(split, model):
    with pytest.raises(ConfigError, match=r"tie_seed must be an integer >= 0 or None, got 'x'"):
        sampled_evaluate(model, split, "test", tie_seed="x")


def test_every_refusal_is_a_moorec_error():
    for cls in (SplitError, ConfigError, UnknownNameError):
        assert issubclass(cls, MoorecError)
