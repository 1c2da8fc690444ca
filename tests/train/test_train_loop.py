"""The generic training loop with BPR-MF: learning, determinism, compile-once, early stopping."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError, TrainingError, UnknownNameError
from moorec.models import BPRMF, create
from moorec.objectives import Evaluator
from moorec.train import PairData, TrainConfig, fit, is_known, sample_negatives, train_epoch
from moorec.train.sampling import epoch_order


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_training_learns_planted_structure(planted_split):
    ev = Evaluator(planted_split, "test", ["ndcg@10", "recall@10"])
    untrained = ev(create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=16))
    result = mr.fit(
        planted_split, "bpr", dim=16, epochs=60, batch_size=128, lr=0.01, patience=10, seed=0
    )
    trained = ev(result.model)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    # Users draw 80% of items from their own quarter of the catalogue: a trained model ranks
    # those first, far above the untrained one.
    assert trained["recall@10"] > 2 * untrained["recall@10"]
    assert trained["ndcg@10"] > 0.2


def test_same_seed_same_numbers(planted_split):
    runs = [mr.fit(planted_split, "bpr", dim=8, epochs=4, batch_size=64, seed=7) for _ in range(2)]
    for a, b in zip(_params(runs[0].model), _params(runs[1].model)):
        np.testing.assert_array_equal(a, b)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]
    other = mr.fit(planted_split, "bpr", dim=8, epochs=4, batch_size=64, seed=8)
    assert not np.array_equal(_params(other.model)[0], _params(runs[0].model)[0])


def test_new_hyperparameter_values_do_not_recompile(planted_split):
    ev = Evaluator(planted_split, "valid", ["ndcg@10"])
    base = dict(epochs=2, batch_size=64, patience=5)

    def run(**kw):
        model = create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8)
        fit(model, planted_split.train, TrainConfig(**base, **kw), validate=ev.metric("ndcg@10"))

    run(lr=1e-3, l2=0.1, seed=0)
    train_before = train_epoch._cache_size()
    from moorec.objectives import rank_chunk

    rank_before = rank_chunk._cache_size()
    run(lr=5e-2, l2=1e-3, seed=3)
    run(lr=2e-4, l2=0.5, seed=11)
    assert train_epoch._cache_size() == train_before
    assert rank_chunk._cache_size() == rank_before
    # a switch going from 0 to non-zero adds its term's program once; other values reuse it
    run(lr=1e-3, l2=0.0, seed=0, loss_weights={"pop_weight": 0.2})
    assert train_epoch._cache_size() == train_before + 1
    run(lr=1e-3, l2=0.0, seed=0, loss_weights={"pop_weight": 0.7})
    assert train_epoch._cache_size() == train_before + 1


def test_early_stopping_keeps_the_best_state(planted_split):
    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8)
    values = iter([0.1, 0.3, 0.2, 0.25, 0.29, 0.5])  # best at epoch 2, then 3 without gain
    snapshots = {}

    def validate(m):
        snapshots[len(snapshots) + 1] = _params(m)
        return next(values)

    cfg = TrainConfig(epochs=6, batch_size=64, patience=3)
    result = fit(model, planted_split.train, cfg, validate=validate)
    assert result.stopped_early and len(result.history) == 5
    assert result.best_epoch == 2 and result.best_valid == pytest.approx(0.3)
    for a, b in zip(_params(result.model), snapshots[2]):
        np.testing.assert_array_equal(a, b)


def test_minimised_metric_early_stopping(planted_split):
    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8)
    values = iter([0.5, 0.4, 0.45, 0.46])
    result = fit(
        model,
        planted_split.train,
        TrainConfig(epochs=4, batch_size=64, patience=2),
        validate=lambda m: next(values),
        maximize=False,
    )
    assert result.best_epoch == 2 and result.best_valid == pytest.approx(0.4)


class _NaNModel(BPRMF):
    def loss(self, batch, hparams):
        return super().loss(batch, hparams) * jnp.nan


def test_nan_loss_raises_training_error(planted_split):
    model = _NaNModel(planted_split.n_users, planted_split.n_items, 4, rngs=nnx.Rngs(0))
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1"):
        fit(model, planted_split.train, TrainConfig(epochs=3, batch_size=64))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epochs": 0}, ConfigError, "epochs must be a positive integer.*0"),
        ({"batch_size": 2.5}, ConfigError, "batch_size must be a positive integer.*2.5"),
        ({"lr": -1.0}, ConfigError, "lr must be a finite number > 0, got -1.0"),
        ({"l2": float("nan")}, ConfigError, "l2 must be a finite number >= 0"),
        ({"patience": -2}, ConfigError, "patience must be an integer >= 0, got -2"),
        ({"optimizer": "adamm"}, UnknownNameError, "unknown optimizer 'adamm'.*adam, adamw"),
    ],
)
def test_bad_config(kwargs, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**kwargs)


def test_unknown_model_name(planted_split):
    with pytest.raises(
        UnknownNameError,
        match=r"unknown model 'bprr'; valid choices: bert4rec, bpr, ease, .*, lightgcn",
    ):
        mr.fit(planted_split, "bprr")


def test_model_and_data_shapes_must_agree(planted_split):
    model = create("bpr", planted_split.n_users + 1, planted_split.n_items, dim=4)
    with pytest.raises(ConfigError, match=r"built for 121 users x 80 items"):
        fit(model, planted_split.train, TrainConfig(epochs=1))


def test_epoch_order_covers_each_row_once():
    order, weight = epoch_order(10, 4, np.random.default_rng(0))
    assert order.shape == (3, 4) and weight.sum() == 10
    assert sorted(order.ravel()[weight.ravel() > 0].tolist()) == list(range(10))


@pytest.mark.parametrize("dense", [True, False], ids=["dense-table", "binary-search"])
def test_is_known_matches_python_sets(planted, dense, monkeypatch):
    if not dense:
        monkeypatch.setattr("moorec.train.sampling.DENSE_LIMIT", 0)
    data = PairData.from_interactions(planted)
    assert (data.dense.shape[0] > 0) == dense
    rng = np.random.default_rng(0)
    users = rng.integers(0, planted.n_users, 4000).astype(np.int32)
    items = rng.integers(0, planted.n_items, 4000).astype(np.int32)
    pairs = set(zip(planted.users.tolist(), planted.items.tolist()))
    expected = np.array([(u, i) in pairs for u, i in zip(users.tolist(), items.tolist())])
    got = np.asarray(jax.jit(is_known)(data, jnp.asarray(users), jnp.asarray(items)))
    np.testing.assert_array_equal(got, expected)
    assert 0.05 < expected.mean() < 0.5  # both outcomes well represented


@pytest.mark.parametrize("dense", [True, False], ids=["dense-table", "binary-search"])
def test_negatives_avoid_training_items(planted, dense, monkeypatch):
    if not dense:
        monkeypatch.setattr("moorec.train.sampling.DENSE_LIMIT", 0)
    data = PairData.from_interactions(planted)
    users = jnp.asarray(np.repeat(np.arange(planted.n_users), 50).astype(np.int32))
    neg = np.asarray(sample_negatives(data, users, jax.random.key(0), rounds=4))
    pairs = set(zip(planted.users.tolist(), planted.items.tolist()))
    hit_rate = np.mean([(u, i) in pairs for u, i in zip(np.asarray(users).tolist(), neg.tolist())])
    # density 15/80: one draw hits a training item 18.75% of the time, five draws 0.02%.
    assert hit_rate < 0.002
    none = np.asarray(sample_negatives(data, users, jax.random.key(0), rounds=0))
    rate0 = np.mean([(u, i) in pairs for u, i in zip(np.asarray(users).tolist(), none.tolist())])
    assert 0.15 < rate0 < 0.23


def test_recommend_excludes_known_items(planted_split):
    result = mr.fit(planted_split, "bpr", dim=8, epochs=2, batch_size=64)
    items, scores = mr.recommend(result.model, [0, 1, 2], k=5, exclude=planted_split.train)
    assert items.shape == (3, 5) and scores.shape == (3, 5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    for row, u in enumerate([0, 1, 2]):
        seen = set(planted_split.train.items[planted_split.train.users == u].tolist())
        assert not seen & set(items[row].tolist())
    with pytest.raises(ConfigError, match=r"k must be a positive integer.*0"):
        mr.recommend(result.model, [0], k=0)


def test_fit_rejects_model_settings_with_built_model(planted_split):
    model = create("bpr", planted_split.n_users, planted_split.n_items, dim=4)
    with pytest.raises(ConfigError, match=r"dim"):
        mr.fit(planted_split, model, dim=8)
    assert dataclasses.is_dataclass(TrainConfig())


def test_patience_zero_trains_every_epoch_and_keeps_the_last(planted_split):
    model = create("bpr", planted_split.n_users, planted_split.n_items, seed=0, dim=8)
    calls = []
    result = fit(
        model,
        planted_split.train,
        TrainConfig(epochs=4, batch_size=64, patience=0),
        validate=lambda m: calls.append(1) or 0.0,
    )
    assert not calls and len(result.history) == 4 and result.best_epoch == 4
    assert not result.stopped_early and math.isnan(result.best_valid)


@pytest.mark.parametrize("n", [1, 2, 3, 40, 1682, 1_000_007, 2**31 - 1])
def test_uniform_below_is_the_exact_multiply_high(n):
    """floor(bits * n / 2**32), computed in uint32, against NumPy's uint64 product."""
    from moorec.train.sampling import uniform_below

    bits = np.random.default_rng(n).integers(0, 2**32, size=20_000, dtype=np.uint64)
    bits[:4] = [0, 1, 2**31, 2**32 - 1]  # the ends and the middle
    got = np.asarray(uniform_below(jnp.asarray(bits.astype(np.uint32)), n))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, (bits * np.uint64(n)) >> np.uint64(32))
    assert got.min() >= 0 and got.max() < n


def test_uniform_below_refuses_a_bound_out_of_range():
    from moorec.train.sampling import uniform_below

    with pytest.raises(ValueError, match=r"n must lie in \[1, 2\*\*31\), got 0"):
        uniform_below(jnp.zeros(3, jnp.uint32), 0)
