"""SASRec: shapes, learning a predictable sequence, causality, determinism, compile-once."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _fakes import cycle_split
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError
from moorec.models.sasrec import DropoutStream, SASRec, causal_mask
from moorec.objectives import Evaluator, rank_chunk
from moorec.train import TrainConfig, fit, train_epoch

SMALL = dict(dim=16, n_blocks=1, n_heads=2, max_len=8)

HP = {"l2": jnp.float32(1e-3), "dropout": jnp.float32(0.2)}


@nnx.jit
def forward(m, hist):
    """Hidden states, scores and the training loss of one jitted call (compiling once per model
    structure, where eager mode compiles every primitive)."""
    batch = {
        "items": jnp.concatenate([hist, hist[:, -1:]], axis=1),
        "neg": jnp.zeros((hist.shape[0], hist.shape[1] + 1), jnp.int32),
        "weight": jnp.ones(hist.shape[0]),
        "rng": jax.random.key(0),
    }
    return m.hidden(hist), m.score(jnp.zeros(hist.shape[:1], jnp.int32), hist), m.loss(batch, HP)


def hidden(m, hist):
    return forward(m, hist)[0]


def score(m, hist):
    return forward(m, hist)[1]


@pytest.fixture(scope="module")
def split():
    return cycle_split()


@pytest.fixture(scope="module")
def trained(split):
    model = SASRec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(0))
    cfg = TrainConfig(epochs=40, batch_size=16, lr=1e-2, patience=0, loss_weights={"dropout": 0.1})
    return fit(model, split.train, cfg)


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_shapes_and_settings():
    m = SASRec(5, 30, **SMALL, rngs=nnx.Rngs(0))
    assert m.sampler == "sequences" and m.uses_history and m.max_len == 8
    hist = jnp.array([[-1, -1, -1, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]], jnp.int32)
    for kind in ("ce", "bce"):
        m = SASRec(5, 30, **SMALL, loss=kind, rngs=nnx.Rngs(0))
        h, scores, value = forward(m, hist)
        assert h.shape == (2, 8, 16)
        assert scores.shape == (2, 30) and scores.dtype == jnp.float32
        assert value.shape == () and np.isfinite(float(value))
    # a user without any known item still gets finite scores
    assert np.isfinite(np.asarray(score(m, jnp.full((2, 8), -1)))).all()


def test_bad_settings():
    with pytest.raises(ConfigError, match=r"dim must be a multiple of n_heads, got dim=10"):
        SASRec(3, 5, dim=10, n_heads=3, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"loss must be one of ce, bce, got 'bpr'"):
        SASRec(3, 5, loss="bpr", rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"max_len must be a positive integer"):
        SASRec(3, 5, max_len=0, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"pass history"):
        SASRec(5, 30, **SMALL, rngs=nnx.Rngs(0)).score(jnp.array([0]))


def test_causality():
    m = SASRec(5, 30, **SMALL, rngs=nnx.Rngs(1))
    seq = jnp.array([[-1, -1, 3, 4, 5, 6, 7, 8]] * 2, jnp.int32)
    base = np.asarray(hidden(m, seq))
    for t in (2, 5, 7):
        changed = np.asarray(hidden(m, seq.at[0, t].set(20)))
        np.testing.assert_array_equal(changed[0, :t], base[0, :t])
        assert np.abs(changed[0, t] - base[0, t]).max() > 1e-4


def test_padding_row_and_dropout_do_not_leak_into_scores():
    m = SASRec(5, 30, **SMALL, rngs=nnx.Rngs(2))
    hist = jnp.array([[-1, -1, -1, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]], jnp.int32)
    before = np.asarray(score(m, hist))
    m.encoder.token_emb.embedding[...] = m.encoder.token_emb.embedding[...].at[30].set(5.0)
    np.testing.assert_allclose(np.asarray(score(m, hist)), before, atol=1e-6)
    x = jnp.ones((4, 100))
    assert DropoutStream(0.5, None)(x) is x
    dropped = np.asarray(DropoutStream(jnp.float32(0.5), jax.random.key(0))(x))
    assert set(np.unique(dropped)) == {0.0, 2.0} and 0.4 < (dropped == 0).mean() < 0.6


def test_causal_mask_by_hand():
    mask = np.asarray(causal_mask(jnp.array([[False, True, True]])))[0, 0]
    np.testing.assert_array_equal(
        mask, [[True, False, False], [False, True, False], [False, True, True]]
    )


def test_learns_the_next_item_of_a_cycle(split, trained):
    losses = [h["loss"] for h in trained.history]
    assert losses[-1] < 0.3 * losses[0]
    result = Evaluator(split, "test", ["hit@1", "ndcg@10"])(trained.model)
    assert result["hit@1"] > 0.9


def test_same_seed_same_numbers(split):
    cfg = TrainConfig(epochs=2, batch_size=16, patience=0, seed=3)
    runs = [
        fit(SASRec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(5)), split.train, cfg)
        for _ in range(2)
    ]
    for a, b in zip(_params(runs[0].model), _params(runs[1].model)):
        np.testing.assert_array_equal(a, b)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]
    other = SASRec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(6))
    assert not np.array_equal(_params(other)[0], _params(runs[0].model)[0])


def test_new_dropout_l2_lr_do_not_recompile(split):
    ev = Evaluator(split, "valid", ["ndcg@10"])

    def run(**kw):
        model = SASRec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(0))
        dropout = kw.pop("dropout")
        cfg = TrainConfig(epochs=1, batch_size=16, loss_weights={"dropout": dropout}, **kw)
        fit(model, split.train, cfg, validate=ev.metric("ndcg@10"))

    run(lr=1e-3, l2=0.0, dropout=0.2)
    n_train, n_rank = train_epoch._cache_size(), rank_chunk._cache_size()
    run(lr=5e-3, l2=1e-4, dropout=0.0)
    run(lr=2e-4, l2=0.1, dropout=0.5)
    assert train_epoch._cache_size() == n_train
    assert rank_chunk._cache_size() == n_rank


def test_registered_through_the_api(split, monkeypatch):
    from moorec.models import registry

    # register for this test only (the registry is global)
    monkeypatch.setitem(registry._MODELS, "sasrec", registry._MODELS.get("sasrec", SASRec))
    model = mr.models.create("sasrec", split.n_users, split.n_items, seed=0, **SMALL)
    assert isinstance(model, SASRec) and model.n_blocks == 1
