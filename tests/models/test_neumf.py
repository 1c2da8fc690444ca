"""NeuMF: the fused logit against NumPy, the loss, dropout, training, compile-once."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError, TrainingError
from moorec.models import count_params
from moorec.models.ncf import NeuMF, dropout, weighted_bce
from moorec.objectives import Evaluator, rank_chunk
from moorec.train import TrainConfig, fit, train_epoch


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def _randomised(n_users=5, n_items=7, dim=3, layers=(4, 2), seed=0, **kw):
    """A NeuMF whose every parameter is N(0, 1), so that no branch is negligible."""
    m = NeuMF(n_users, n_items, dim, layers, rngs=nnx.Rngs(0), **kw)
    state = nnx.state(m, nnx.Param)
    leaves, treedef = jax.tree.flatten(state)
    keys = jax.random.split(jax.random.key(seed), len(leaves))
    new = [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves)]
    nnx.update(m, jax.tree.unflatten(treedef, new))
    return m


def _numpy_logits(m, users, items):
    """NeuMF forward pass in NumPy: GMF product and ReLU tower, fused by the output layer."""
    gmf = np.asarray(m.user_gmf[...])[users] * np.asarray(m.item_gmf[...])[items]
    h = np.concatenate([np.asarray(m.user_mlp[...])[users], np.asarray(m.item_mlp[...])[items]], 1)
    for layer in m.mlp:
        h = np.maximum(h @ np.asarray(layer.kernel[...]) + np.asarray(layer.bias[...]), 0.0)
    out = np.concatenate([gmf, h], 1) @ np.asarray(m.predict.kernel[...])
    return out[:, 0] + np.asarray(m.predict.bias[...])[0]


_loss = nnx.jit(lambda m, b, hp: m.loss(b, hp))
_score = nnx.jit(lambda m, u, h=None: m.score(u, h))


def _batch(users, pos, neg, weight=None):
    users = jnp.asarray(users, jnp.int32)
    return {
        "user": users,
        "pos": jnp.asarray(pos, jnp.int32),
        "neg": jnp.asarray(neg, jnp.int32),
        "weight": jnp.ones(users.shape, jnp.float32) if weight is None else jnp.asarray(weight),
        "rng": jax.random.key(0),
    }


def test_shapes_and_parameter_count():
    m = NeuMF(5, 7, 3, (4, 2), rngs=nnx.Rngs(0))
    assert _score(m, jnp.array([0, 4])).shape == (2, 7)
    assert _score(m, jnp.array([1]), jnp.zeros((1, 3), jnp.int32)).shape == (1, 7)
    hp = {"l2": jnp.float32(0.0), "dropout": jnp.float32(0.1)}
    loss = _loss(m, _batch([0, 1], [2, 3], [4, 5]), hp)
    assert loss.shape == () and np.isfinite(float(loss))
    # 4 tables of 3, MLP 6->4->2, output 3+2 -> 1
    assert count_params(m) == 2 * (5 + 7) * 3 + (6 * 4 + 4) + (4 * 2 + 2) + (5 + 1)


def test_fused_logit_matches_numpy_forward():
    m = _randomised()
    users, items = np.array([0, 0, 3, 4, 2]), np.array([6, 1, 0, 5, 2])
    expected = _numpy_logits(m, users, items)
    got = nnx.jit(lambda m, u, i: m.logits(u, i))(m, users, items)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5, atol=1e-5)
    # score(): every item of each user, with the first layer split into user and item halves
    all_items = np.tile(np.arange(7), 3)
    expected = _numpy_logits(m, np.repeat([1, 3, 4], 7), all_items).reshape(3, 7)
    got = np.asarray(_score(m, jnp.array([1, 3, 4])))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_items_in_blocks_give_the_same_scores():
    # A budget of 100 bytes fits one item's activations (3 users x 6 floats): 7 blocks of 1.
    whole = _randomised(seed=1)
    blocked = _randomised(seed=1, score_memory_mb=100 / 2**20)
    users = jnp.array([0, 2, 4])
    np.testing.assert_allclose(
        np.asarray(_score(blocked, users)), np.asarray(_score(whole, users)), rtol=1e-6, atol=1e-6
    )


def test_loss_by_hand():
    m = _randomised()
    b = _batch([0, 1, 2], [1, 2, 3], [4, 5, 6], weight=[1.0, 1.0, 0.0])
    pos = _numpy_logits(m, np.array([0, 1]), np.array([1, 2]))
    neg = _numpy_logits(m, np.array([0, 1]), np.array([4, 5]))
    bce = (np.log1p(np.exp(-pos)).sum() + np.log1p(np.exp(neg)).sum()) / 4  # padding row out
    hp = {"l2": jnp.float32(0.0), "dropout": jnp.float32(0.0)}
    assert float(_loss(m, b, hp)) == pytest.approx(bce, rel=1e-5)
    tables = [np.asarray(t[...]) for t in (m.user_gmf, m.user_mlp, m.item_gmf, m.item_mlp)]
    ug, um, ig, im = tables
    reg = [
        0.5
        * (
            (ug[u] ** 2).sum()
            + (um[u] ** 2).sum()
            + (ig[p] ** 2).sum()
            + (im[p] ** 2).sum()
            + (ig[n] ** 2).sum()
            + (im[n] ** 2).sum()
        )
        for u, p, n in [(0, 1, 4), (1, 2, 5)]
    ]
    hp = {"l2": jnp.float32(0.3), "dropout": jnp.float32(0.0)}
    assert float(_loss(m, b, hp)) == pytest.approx(bce + 0.3 * np.mean(reg), rel=1e-5)
    assert float(weighted_bce(jnp.zeros(2), jnp.zeros(2), jnp.ones(2))) == pytest.approx(np.log(2))


def test_dropout_keeps_the_expectation_and_training_only():
    x = jnp.ones((200, 100))
    y = np.asarray(dropout(x, jnp.float32(0.3), jax.random.key(0)))
    assert np.mean(y == 0) == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_array_equal(np.asarray(dropout(x, jnp.float32(0.0), jax.random.key(0))), x)
    m = _randomised()
    b = _batch([0, 1, 2], [1, 2, 3], [4, 5, 6])
    no_drop = float(_loss(m, b, {"l2": jnp.float32(0.0), "dropout": jnp.float32(0.0)}))
    hp = {"l2": jnp.float32(0.0), "dropout": jnp.float32(0.5)}
    dropped = {float(_loss(m, {**b, "rng": jax.random.key(k)}, hp)) for k in range(3)}
    assert len(dropped) == 3 and no_drop not in dropped  # masks differ by key
    # scoring is deterministic: no dropout at inference
    np.testing.assert_array_equal(_score(m, jnp.arange(5)), _score(m, jnp.arange(5)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layers": ()}, r"layers must be a non-empty sequence.*\(\)"),
        ({"layers": 16}, r"layers must be a non-empty sequence.*16"),
        ({"layers": (8, 0)}, r"layers must be a positive integer.*0"),
        ({"dim": -1}, r"dim must be a positive integer.*-1"),
        ({"score_memory_mb": 0}, r"score_memory_mb must be a number > 0, got 0"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        NeuMF(4, 5, **kwargs, rngs=nnx.Rngs(0))


def _model(split, seed=0):
    return NeuMF(split.n_users, split.n_items, 8, (16, 8), rngs=nnx.Rngs(params=seed))


# Every training test uses the model above and batches of 128, so they share one compilation.
BATCH = 128


def test_training_lowers_the_loss_and_learns(planted_split):
    ev = Evaluator(planted_split, "test", ["ndcg@10", "recall@10"])
    untrained = ev(_model(planted_split))
    cfg = TrainConfig(epochs=15, batch_size=BATCH, lr=0.02, patience=0)
    result = fit(_model(planted_split), planted_split.train, cfg)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert ev(result.model)["recall@10"] > 2 * untrained["recall@10"]


def test_same_seed_same_numbers(planted_split):
    cfg = TrainConfig(epochs=2, batch_size=BATCH, seed=5, patience=0)
    runs = [fit(_model(planted_split, 5), planted_split.train, cfg) for _ in range(2)]
    for a, b in zip(_params(runs[0].model), _params(runs[1].model)):
        np.testing.assert_array_equal(a, b)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]


def test_new_l2_dropout_lr_do_not_recompile(planted_split):
    """New values of l2, dropout and lr reuse the program; l2 = 0 leaves its term out."""
    ev = Evaluator(planted_split, "valid", ["ndcg@10"])

    def run(lr, l2, rate):
        cfg = TrainConfig(
            epochs=1, batch_size=BATCH, patience=5, lr=lr, l2=l2, loss_weights={"dropout": rate}
        )
        fit(_model(planted_split), planted_split.train, cfg, validate=ev.metric("ndcg@10"))

    run(1e-3, 0.1, 0.1)
    run(1e-3, 0.0, 0.1)  # l2 is a switch (``hparam_switches``): at 0, the program without it
    train_before, rank_before = train_epoch._cache_size(), rank_chunk._cache_size()
    run(5e-2, 1e-3, 0.0)
    run(2e-4, 0.5, 0.5)
    run(3e-3, 0.0, 0.3)
    assert train_epoch._cache_size() == train_before
    assert rank_chunk._cache_size() == rank_before


def test_dropout_outside_its_range_fails_loudly(planted_split):
    cfg = TrainConfig(epochs=1, batch_size=BATCH, patience=0, loss_weights={"dropout": 1.0})
    with pytest.raises(TrainingError, match=r"loss became nan.*'dropout': 1.0"):
        fit(_model(planted_split), planted_split.train, cfg)
    # A negative weight never reaches training: TrainConfig refuses it, naming the value.
    with pytest.raises(ConfigError, match=r"dropout must be a finite number >= 0, got -0.1"):
        TrainConfig(epochs=1, batch_size=BATCH, patience=0, loss_weights={"dropout": -0.1})


def test_fit_and_evaluate_through_the_api(planted_split):
    result = mr.fit(planted_split, _model(planted_split), epochs=2, batch_size=BATCH)
    got = mr.evaluate(result.model, planted_split, "test", ["ndcg@10", "params"])
    assert 0.0 <= got["ndcg@10"] <= 1.0 and got["params"] == count_params(result.model)


def test_docstring_examples_run():
    from moorec.models import ncf

    assert doctest.testmod(ncf, raise_on_error=True).attempted > 0


def test_fit_by_registered_name(planted_split, monkeypatch):
    from moorec.models import registry

    if "neumf" not in registry.available():
        monkeypatch.setitem(registry._MODELS, "neumf", NeuMF)
    result = mr.fit(
        planted_split, "neumf", dim=8, layers=(16, 8), epochs=1, batch_size=BATCH, patience=0
    )
    assert isinstance(result.model, NeuMF) and result.model.layers == (16, 8)
