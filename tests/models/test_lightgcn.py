"""LightGCN: propagation against a dense NumPy computation, the loss, training, compile-once."""

import doctest

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.data import Interactions
from moorec.errors import ConfigError
from moorec.models import count_params
from moorec.models.lightgcn import LightGCN, normalized_adjacency
from moorec.objectives import Evaluator, rank_chunk
from moorec.train import TrainConfig, fit, train_epoch


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def _tiny():
    # user 0: items 0, 1 (item 1 twice: counts once); user 1: items 1, 2
    return Interactions(
        users=np.array([0, 0, 0, 1, 1]), items=np.array([0, 1, 1, 1, 2]), n_users=2, n_items=3
    )


def _dense_reference(train, ego, n_layers):
    """Layer mean of ``(D^-1/2 A D^-1/2)^k ego`` with a dense NumPy adjacency matrix."""
    n_u, n = train.n_users, train.n_users + train.n_items
    a = np.zeros((n, n))
    a[train.users, n_u + train.items] = 1.0
    a[n_u + train.items, train.users] = 1.0
    deg = a.sum(1)
    d = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1)), 0.0)
    norm = d[:, None] * a * d[None, :]
    layers = [ego]
    for _ in range(n_layers):
        layers.append(norm @ layers[-1])
    return np.mean(layers, axis=0)


def test_normalized_adjacency_by_hand():
    src, dst, val = normalized_adjacency(_tiny())
    # nodes: users 0, 1; items 2, 3, 4. degrees: u0 2, u1 2, i0 1, i1 2, i2 1.
    edges = {(int(s), int(t)): float(v) for s, t, v in zip(src, dst, val)}
    expected = {
        (0, 2): 1 / np.sqrt(2 * 1),
        (0, 3): 1 / np.sqrt(2 * 2),
        (1, 3): 1 / np.sqrt(2 * 2),
        (1, 4): 1 / np.sqrt(2 * 1),
    }
    expected |= {(t, s): v for (s, t), v in expected.items()}
    assert edges.keys() == expected.keys()
    for e, v in expected.items():
        assert edges[e] == pytest.approx(v, rel=1e-6)
    assert np.all(np.diff(dst) >= 0)  # sorted by destination


@pytest.mark.parametrize("n_layers", [0, 1, 3])
def test_propagation_matches_dense_numpy(n_layers):
    train = _tiny()
    m = LightGCN(2, 3, 4, n_layers, train=train, rngs=nnx.Rngs(0))
    ego = np.concatenate([np.asarray(m.user_emb[...]), np.asarray(m.item_emb[...])])
    expected = _dense_reference(train, ego, n_layers)
    eu, ei = m.embeddings()
    np.testing.assert_allclose(np.asarray(eu), expected[:2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(ei), expected[2:], rtol=1e-5, atol=1e-6)
    scores = np.asarray(m.score(jnp.array([1, 0])))
    np.testing.assert_allclose(scores, expected[[1, 0]] @ expected[2:].T, rtol=1e-5, atol=1e-6)


def test_edge_blocks_do_not_change_the_result(planted, monkeypatch):
    whole = LightGCN(planted.n_users, planted.n_items, 8, 2, train=planted, rngs=nnx.Rngs(0))
    monkeypatch.setattr("moorec.models.lightgcn.EDGE_BLOCK", 100)  # ~29 blocks, last one padded
    blocked = LightGCN(planted.n_users, planted.n_items, 8, 2, train=planted, rngs=nnx.Rngs(0))
    assert blocked.edge_src[...].shape[1] == 100 and whole.edge_src[...].shape[0] == 1
    ego = np.concatenate([np.asarray(whole.user_emb[...]), np.asarray(whole.item_emb[...])])
    expected = _dense_reference(planted, ego, 2)
    for m in (whole, blocked):
        eu, ei = m.embeddings()
        np.testing.assert_allclose(np.asarray(eu), expected[: planted.n_users], atol=1e-5)
        np.testing.assert_allclose(np.asarray(ei), expected[planted.n_users :], atol=1e-5)


def test_shapes_params_and_the_graph_is_not_trained():
    m = LightGCN(2, 3, 4, train=_tiny(), rngs=nnx.Rngs(0))
    assert m.score(jnp.array([0, 1, 1])).shape == (3, 3)
    assert m.score(jnp.array([0]), history=jnp.zeros((1, 2), jnp.int32)).shape == (1, 3)
    assert count_params(m) == (2 + 3) * 4
    params = nnx.state(m, nnx.Param)
    assert set(params.keys()) == {"user_emb", "item_emb"}


def test_loss_by_hand():
    m = LightGCN(2, 3, 4, 2, train=_tiny(), rngs=nnx.Rngs(0))
    eu, ei = (np.asarray(x) for x in m.embeddings())
    batch = {
        "user": jnp.array([0, 1, 1]),
        "pos": jnp.array([1, 2, 1]),
        "neg": jnp.array([2, 0, 0]),
        "weight": jnp.array([1.0, 1.0, 0.0]),
    }
    x = [eu[0] @ ei[1] - eu[0] @ ei[2], eu[1] @ ei[2] - eu[1] @ ei[0]]
    bpr = np.mean(np.log1p(np.exp(-np.array(x))))
    assert float(m.loss(batch, {"l2": jnp.float32(0.0)})) == pytest.approx(bpr, rel=1e-5)
    u0, i0 = np.asarray(m.user_emb[...]), np.asarray(m.item_emb[...])
    reg = np.mean(
        [
            0.5 * (u0[u] @ u0[u] + i0[p] @ i0[p] + i0[n] @ i0[n])
            for u, p, n in [(0, 1, 2), (1, 2, 0)]
        ]
    )
    got = float(m.loss(batch, {"l2": jnp.float32(0.2)}))
    assert got == pytest.approx(bpr + 0.2 * reg, rel=1e-5)


def test_bad_construction(planted):
    with pytest.raises(ConfigError, match=r"pass train=split.train"):
        LightGCN(2, 3, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"train has 120 users x 80 items.*built for 2 x 3"):
        LightGCN(2, 3, train=planted, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"n_layers must be an integer >= 0, got -1"):
        LightGCN(2, 3, n_layers=-1, train=_tiny(), rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"train must be an Interactions, got ndarray"):
        LightGCN(2, 3, train=np.zeros(3), rngs=nnx.Rngs(0))


def _model(split, seed=0):
    return LightGCN(split.n_users, split.n_items, 8, 3, train=split.train, rngs=nnx.Rngs(seed))


# Every training test uses the model above and batches of 128, so they share one compilation.
BATCH = 128


def test_trained_model_beats_random_clearly(planted_split):
    ev = Evaluator(planted_split, "test", ["ndcg@10", "recall@10"])
    untrained = ev(_model(planted_split))
    result = fit(
        _model(planted_split),
        planted_split.train,
        TrainConfig(epochs=20, batch_size=BATCH, lr=0.02, patience=0),
    )
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    trained = ev(result.model)
    # 80% of each user's items lie in a quarter of the catalogue: recall@10 of a random
    # ranking is about 10/68 (68 items are not in training).
    assert trained["recall@10"] > 3 * untrained["recall@10"]
    assert trained["ndcg@10"] > 0.25


def test_same_seed_same_numbers(planted_split):
    cfg = TrainConfig(epochs=2, batch_size=BATCH, seed=3, patience=0)
    runs = [fit(_model(planted_split, 3), planted_split.train, cfg) for _ in range(2)]
    for a, b in zip(_params(runs[0].model), _params(runs[1].model)):
        np.testing.assert_array_equal(a, b)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]


def test_new_l2_lr_do_not_recompile(planted_split):
    ev = Evaluator(planted_split, "valid", ["ndcg@10"])

    def run(lr, l2, seed):
        cfg = TrainConfig(epochs=1, batch_size=BATCH, patience=5, lr=lr, l2=l2)
        fit(_model(planted_split, seed), planted_split.train, cfg, validate=ev.metric("ndcg@10"))

    run(1e-3, 0.0, 0)
    train_before, rank_before = train_epoch._cache_size(), rank_chunk._cache_size()
    run(5e-2, 1e-4, 1)
    run(2e-4, 0.5, 2)
    assert train_epoch._cache_size() == train_before
    assert rank_chunk._cache_size() == rank_before


def test_fit_and_evaluate_through_the_api(planted_split):
    result = mr.fit(planted_split, _model(planted_split), epochs=2, batch_size=BATCH)
    got = mr.evaluate(result.model, planted_split, "test", ["ndcg@10", "params", "latency_ms"])
    assert 0.0 <= got["ndcg@10"] <= 1.0 and got["params"] == (120 + 80) * 8
    assert got["latency_ms"] > 0


def test_docstring_examples_run():
    from moorec.models import lightgcn

    assert doctest.testmod(lightgcn, raise_on_error=True).attempted > 0


def test_fit_by_registered_name_gets_the_training_graph(planted_split, monkeypatch):
    from moorec.models import registry

    if "lightgcn" not in registry.available():
        monkeypatch.setitem(registry._MODELS, "lightgcn", LightGCN)
    result = mr.fit(planted_split, "lightgcn", dim=8, epochs=1, batch_size=BATCH, patience=0)
    split = planted_split
    expected = LightGCN(split.n_users, split.n_items, 8, train=split.train, rngs=nnx.Rngs(0))
    for name in ("edge_src", "edge_dst", "edge_value"):
        np.testing.assert_array_equal(
            getattr(result.model, name)[...], getattr(expected, name)[...]
        )
