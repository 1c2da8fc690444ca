"""The SASRec paper's settings: Adam's decay rates, ReLU feed-forward, sqrt(d) embedding scale,
sequence negatives that avoid the user's training items."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _fakes import cycle_split
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError
from moorec.models.sasrec import PAPER_SETTINGS, FeedForward, SASRec, TransformerEncoder
from moorec.train import TrainConfig, fit
from moorec.train.loop import optimizer
from moorec.train.sampling import (
    SAMPLERS,
    SequenceData,
    SequenceNegativeSampler,
    SequenceSampler,
    epoch_order,
)


@pytest.fixture(scope="module")
def split():
    return cycle_split()


def params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


# --------------------------------------------------------------------------- Adam's b1 / b2
@pytest.mark.parametrize(
    "kw, match",
    [
        ({"b2": 1.0}, r"b2 must be a number in \[0, 1\), got 1.0"),
        ({"b1": -0.1}, r"b1 must be a number in \[0, 1\), got -0.1"),
        ({"b2": True}, r"b2 must be a number in \[0, 1\), got True"),
        ({"b2": "0.98"}, r"b2 must be a number in \[0, 1\), got '0.98'"),
        ({"optimizer": "sgd", "b2": 0.98}, r"read only by optimizers adam, adamw; optimizer 'sgd'"),
    ],
)
def test_decay_rates_are_checked(kw, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kw)


def test_default_decay_rates_keep_the_optimizer_as_it_was():
    assert optimizer("adam") is optimizer("adam", 0.9, 0.999)
    assert optimizer("adam", 0.9, 0.98) is optimizer("adam", 0.9, 0.98)
    assert optimizer("adam", 0.9, 0.98) is not optimizer("adam")
    with pytest.raises(ConfigError, match="optimizer 'adagrad' has no moment decay rates"):
        optimizer("adagrad", 0.9, 0.98)


def _bpr(split, seed=3):
    return mr.models.create("bpr", split.n_users, split.n_items, seed=seed, dim=8)


def test_b2_trains_as_optax_adam_with_that_b2(split):
    """TrainConfig(b2=0.98) runs the program of an optax.adam(b2=0.98) given as tx."""
    cfg = dict(epochs=3, batch_size=64, lr=1e-2, patience=0, seed=2)
    ours = fit(_bpr(split), split.train, TrainConfig(**cfg, b2=0.98)).model
    tx = optax.inject_hyperparams(lambda learning_rate: optax.adam(learning_rate, b2=0.98))(
        learning_rate=1e-3
    )
    theirs = fit(_bpr(split), split.train, TrainConfig(**cfg), tx=tx).model
    for a, b in zip(params(ours), params(theirs), strict=True):
        np.testing.assert_array_equal(a, b)
    default = fit(_bpr(split), split.train, TrainConfig(**cfg)).model
    assert any(not np.array_equal(a, b) for a, b in zip(params(ours), params(default)))


def test_b2_with_a_given_tx_is_refused(split):
    with pytest.raises(ConfigError, match="a given tx is used as it is"):
        fit(_bpr(split), split.train, TrainConfig(epochs=1, b2=0.98), tx=optimizer("adam"))


def test_b2_reaches_fit_through_the_api(split):
    a = mr.fit(split, "bpr", epochs=2, patience=0, b2=0.98, dim=8, batch_size=64)
    b = mr.fit(split, "bpr", epochs=2, patience=0, dim=8, batch_size=64)
    assert a.config.b2 == 0.98 and b.config.b2 == 0.999
    assert any(not np.array_equal(x, y) for x, y in zip(params(a.model), params(b.model)))


# --------------------------------------------------------------------------- the network
def test_relu_feed_forward_by_hand():
    ff = FeedForward(4, 6, "relu", rngs=nnx.Rngs(0))
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    w1, b1 = np.asarray(ff.inner.kernel[...]), np.asarray(ff.inner.bias[...])
    w2, b2 = np.asarray(ff.outer.kernel[...]), np.asarray(ff.outer.bias[...])
    b1 = b1 + np.linspace(-0.05, 0.05, 6, dtype=np.float32)  # some pre-activations below 0
    ff.inner.bias[...] = jnp.asarray(b1)
    want = np.maximum(x @ w1 + b1, 0.0) @ w2 + b2
    got = np.asarray(ff(jnp.asarray(x), mr.models.sasrec.DropoutStream(0.0, None)))
    # float32 matmuls of width 4 and 6: a few ulps of values of order 0.1
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    gelu = FeedForward(4, 6, "gelu", rngs=nnx.Rngs(0))
    gelu.inner.bias[...] = jnp.asarray(b1)
    assert not np.allclose(np.asarray(gelu(jnp.asarray(x), ff_drop())), got, atol=1e-4)


def ff_drop():
    return mr.models.sasrec.DropoutStream(0.0, None)


@pytest.mark.parametrize("bad", ["tanh", "ReLU", None])
def test_an_unknown_activation_is_refused(bad):
    with pytest.raises(ConfigError, match=r"activation must be one of gelu, relu, got"):
        SASRec(3, 10, dim=8, activation=bad, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"activation must be one of gelu, relu"):
        mr.models.create("bert4rec", 3, 10, dim=8, activation=bad)


def test_scale_embeddings_must_be_a_bool():
    with pytest.raises(ConfigError, match="scale_embeddings must be true or false, got 1"):
        SASRec(3, 10, dim=8, scale_embeddings=1, rngs=nnx.Rngs(0))


def test_scaled_embeddings_equal_a_prescaled_table():
    """scale_embeddings multiplies the token rows by sqrt(D) before the positions are added."""
    dim = 16
    scaled = TransformerEncoder(12, dim, 1, 2, 6, 16, scale_embeddings=True, rngs=nnx.Rngs(0))
    plain = TransformerEncoder(12, dim, 1, 2, 6, 16, rngs=nnx.Rngs(0))
    table = np.asarray(plain.token_emb.embedding[...])
    plain.token_emb.embedding[...] = jnp.asarray(table * np.float32(4.0))  # sqrt(16), exact
    tokens = jnp.asarray(np.random.default_rng(1).integers(0, 12, (3, 6)), jnp.int32)
    valid = jnp.ones((3, 6), bool)
    mask = mr.models.sasrec.causal_mask(valid)
    a = np.asarray(scaled(tokens, valid, mask, ff_drop()))
    b = np.asarray(plain(tokens, valid, mask, ff_drop()))
    # x * 4 is exact in float32; the two programs may still fuse the multiply with the
    # positional add differently (an FMA rounds once): allow a few ulps of the O(1) outputs.
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
    unscaled = TransformerEncoder(12, dim, 1, 2, 6, 16, rngs=nnx.Rngs(0))
    assert not np.allclose(np.asarray(unscaled(tokens, valid, mask, ff_drop())), a, atol=1e-3)


# --------------------------------------------------------------------------- sequence negatives
def test_bce_trains_on_sequences_with_negatives_and_ce_without():
    bce = SASRec(3, 10, dim=8, loss="bce", rngs=nnx.Rngs(0))
    ce = SASRec(3, 10, dim=8, rngs=nnx.Rngs(0))
    assert bce.sampler == "sequences_neg" and ce.sampler == "sequences"
    assert SAMPLERS["sequences_neg"] is SequenceNegativeSampler


@pytest.mark.parametrize("dense", [True, False], ids=["dense-table", "binary-search"])
def test_sequence_negatives_avoid_every_training_item_of_the_user(dense, monkeypatch):
    if not dense:
        monkeypatch.setattr("moorec.train.sampling.DENSE_LIMIT", 0)
    # 30 users x 40 items, 12 items each (30% density): one uniform draw hits a training item
    # 30% of the time, five draws 0.24%; most of each user's items are outside the window
    # of max_len + 1 = 5, so avoiding only the window's items would hit far more often.
    rng = np.random.default_rng(0)
    rows = [rng.choice(40, 12, replace=False) for _ in range(30)]
    train = mr.data.Interactions(
        users=np.repeat(np.arange(30), 12),
        items=np.concatenate(rows),
        n_users=30,
        n_items=40,
        timestamps=np.tile(np.arange(12, dtype=np.float64), 30),
    )
    data = SequenceData.from_interactions(train, max_len=4)
    assert (data.dense.shape[0] > 0) == dense
    order, _ = epoch_order(len(data), 8, np.random.default_rng(0))
    order = jnp.asarray(order)
    neg = np.asarray(SequenceNegativeSampler.prepare(data, order, jax.random.key(0), 4))
    assert neg.shape == (*order.shape, 5)
    users = np.asarray(data.users)[np.asarray(order)]
    known = np.zeros((30, 40), bool)
    known[train.users, train.items] = True

    prepare = jax.jit(SequenceNegativeSampler.prepare, static_argnums=3)

    def hit_rate(rounds):
        # 20 keys x 160 draws: 3,200 draws, so the bounds below are many standard deviations
        # from the expected rates (0.24%: about 8 hits, bound 32; 30%: std 0.8%)
        hits = [
            known[
                np.broadcast_to(users[..., None], neg.shape),
                np.asarray(prepare(data, order, jax.random.key(k), rounds)),
            ]
            for k in range(20)
        ]
        return np.mean(hits)

    assert hit_rate(4) < 0.01
    assert 0.27 < hit_rate(0) < 0.33
    batch = SequenceNegativeSampler.batch(
        data, order[0], jnp.asarray(neg[0]), jnp.ones(8), jax.random.key(1)
    )
    np.testing.assert_array_equal(np.asarray(batch["neg"]), neg[0])
    plain = SequenceSampler.batch(data, order[0], None, jnp.ones(8), jax.random.key(1))
    assert "neg" not in plain
    np.testing.assert_array_equal(np.asarray(plain["items"]), np.asarray(batch["items"]))


def test_negatives_are_the_same_by_table_and_by_binary_search(monkeypatch):
    split = cycle_split(n_users=20, n_items=30, length=10)
    data = SequenceData.from_interactions(split.train, max_len=6)
    order, _ = epoch_order(len(data), 4, np.random.default_rng(3))
    a = SequenceNegativeSampler.prepare(data, jnp.asarray(order), jax.random.key(5), 4)
    monkeypatch.setattr("moorec.train.sampling.DENSE_LIMIT", 0)
    searched = SequenceData.from_interactions(split.train, max_len=6)
    assert searched.dense.shape[0] == 0
    b = SequenceNegativeSampler.prepare(searched, jnp.asarray(order), jax.random.key(5), 4)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --------------------------------------------------------------------------- all together
def paper(**over):
    s = PAPER_SETTINGS
    return {**s["model"], **s["train"], "loss_weights": dict(s["hparams"]), **over}


def test_paper_settings_are_the_papers():
    s = PAPER_SETTINGS
    assert s["model"] == {
        "dim": 50, "n_blocks": 2, "n_heads": 1, "ff_dim": 50, "max_len": 50, "loss": "bce",
        "activation": "relu", "scale_embeddings": True,
    }  # fmt: skip
    assert s["train"] == {"lr": 1e-3, "b2": 0.98, "batch_size": 128}
    assert s["hparams"] == {"dropout": 0.5, "l2": 0.0}


def test_paper_settings_learn_the_cycle_and_are_deterministic(split):
    kw = paper(dim=16, ff_dim=16, max_len=8, lr=1e-2, batch_size=16, epochs=30, patience=0)
    kw["loss_weights"] = {"dropout": 0.1, "l2": 0.0}
    a = mr.fit(split, "sasrec", seed=0, **kw)
    assert a.config.b2 == 0.98 and a.model.sampler == "sequences_neg"
    ff = a.model.encoder.blocks[0].ff
    assert ff.activation == "relu" and a.model.encoder.scale == 4.0
    test = mr.evaluate(a.model, split, "test", ["hit@10", "ndcg@10"])
    assert test["hit@10"] > 0.9  # the next item is always last + 1; random: 10/24
    b = mr.fit(split, "sasrec", seed=0, **kw)
    for x, y in zip(params(a.model), params(b.model), strict=True):
        np.testing.assert_array_equal(x, y)


def test_paper_settings_save_and_load_bit_identically(split, tmp_path):
    settings = {**PAPER_SETTINGS["model"], "dim": 16, "ff_dim": 16, "max_len": 8}
    model = mr.models.create("sasrec", split.n_users, split.n_items, seed=4, **settings)
    folder = mr.models.save(model, tmp_path / "sasrec", settings=settings, data=split.train)
    loaded = mr.models.load(folder, data=split.train)
    assert loaded.encoder.scale == 4.0 and loaded.encoder.blocks[0].ff.activation == "relu"
    hist = jnp.asarray(mr.data.interactions.history_matrix(split.train, np.arange(10), 8))
    users = jnp.arange(10, dtype=jnp.int32)
    np.testing.assert_array_equal(
        np.asarray(loaded.score(users, hist)), np.asarray(model.score(users, hist))
    )
