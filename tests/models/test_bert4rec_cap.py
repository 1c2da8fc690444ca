"""BERT4Rec's cap on masked positions (BERT's max_predictions_per_seq)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError
from moorec.models.bert4rec import BERT4Rec, cap_predictions

HP = {"l2": jnp.float32(0.0), "dropout": jnp.float32(0.0), "mask_prob": jnp.float32(0.3)}


def test_cap_keeps_at_most_cap_of_the_masked_positions():
    rng = np.random.default_rng(0)
    masked = rng.random((200, 12)) < 0.4
    masked[0] = False  # a row with nothing masked
    masked[1] = True  # a row with everything masked
    kept, index, real = (
        np.asarray(x) for x in cap_predictions(jnp.asarray(masked), 3, jax.random.key(0))
    )
    assert kept.shape == masked.shape and index.shape == real.shape == (200, 3)
    assert not (kept & ~masked).any()  # only masked positions are kept
    np.testing.assert_array_equal(kept.sum(1), np.minimum(masked.sum(1), 3))
    for b in range(200):  # index lists exactly the kept columns, each once
        assert sorted(index[b][real[b]].tolist()) == np.flatnonzero(kept[b]).tolist()
    # among 4+ masked positions the 3 kept are uniform: each column of row 1 kept ~ 3/12
    full = np.ones((4000, 12), bool)
    k, _, _ = cap_predictions(jnp.asarray(full), 3, jax.random.key(1))
    share = np.asarray(k).mean(0)
    assert np.all(np.abs(share - 0.25) < 0.03), share  # 4000 rows: sd of a share 0.007


def _batch(n_items, length, seed=0):
    rng = np.random.default_rng(seed)
    items = rng.integers(0, n_items, (6, length + 1)).astype(np.int32)
    items[0, :4] = -1  # left padding
    return {
        "items": jnp.asarray(items),
        "weight": jnp.ones(6),
        "rng": jax.random.key(3),
    }


def test_a_cap_of_the_whole_length_gives_the_uncapped_loss():
    kw = dict(dim=16, n_blocks=1, n_heads=2, max_len=8)
    plain = BERT4Rec(3, 30, **kw, rngs=nnx.Rngs(0))
    capped = BERT4Rec(3, 30, **kw, max_predictions=8, rngs=nnx.Rngs(0))
    for m in (plain, capped):  # larger embeddings: the positions' losses differ widely
        emb = m.encoder.token_emb.embedding
        emb[...] = emb[...] * 50.0
    batch = _batch(30, 8)
    a = float(nnx.jit(lambda m: m.loss(batch, HP))(plain))
    b = float(nnx.jit(lambda m: m.loss(batch, HP))(capped))
    # the same masked positions and terms, summed in another order: float32 rounding only
    assert a == pytest.approx(b, rel=1e-6)
    small = BERT4Rec(3, 30, **kw, max_predictions=1, rngs=nnx.Rngs(0))
    small.encoder.token_emb.embedding[...] = small.encoder.token_emb.embedding[...] * 50.0
    c = float(nnx.jit(lambda m: m.loss(batch, HP))(small))
    assert c != pytest.approx(a, rel=1e-2)  # fewer positions: another mean


@pytest.mark.parametrize(
    "bad, match",
    [
        (0, "setting .max_predictions. of model .bert4rec. must be a positive integer"),
        (9, r"max_predictions must be <= max_len \(8\), got 9"),
    ],
)
def test_a_bad_cap_is_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        mr.models.create("bert4rec", 3, 30, dim=8, max_len=8, max_predictions=bad)


def test_capped_training_runs_and_is_deterministic():
    split = mr.split.leave_one_out(
        mr.datasets.synthetic_shop(n_users=40, n_items=30, n_interactions=500, seed=0),
        order="time",
    )
    kw = dict(dim=8, n_blocks=1, n_heads=1, max_len=8, max_predictions=2, epochs=2, patience=0)
    a = mr.fit(split, "bert4rec", seed=0, **kw)
    b = mr.fit(split, "bert4rec", seed=0, **kw)
    assert np.isfinite(a.history[-1]["loss"])
    for x, y in zip(jax.tree.leaves(nnx.state(a.model)), jax.tree.leaves(nnx.state(b.model))):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
