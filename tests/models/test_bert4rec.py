"""BERT4Rec: shapes, Cloze masking, scoring with [MASK] appended, learning, compile-once."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _fakes import cycle_split
from flax import nnx

from moorec.errors import ConfigError
from moorec.models.bert4rec import BERT4Rec, mask_positions
from moorec.objectives import Evaluator
from moorec.train import TrainConfig, fit, train_epoch

SMALL = dict(dim=16, n_blocks=1, n_heads=2, max_len=8, ff_dim=32)


@nnx.jit
def forward(m, tokens, valid, batch, hp):
    """Features, scores (history = ``batch["items"][:, 1:]``) and the loss of one jitted call
    (compiling once per model structure, where eager mode compiles every primitive)."""
    hist = batch["items"][:, 1:]
    scores = m.score(jnp.zeros(hist.shape[:1], jnp.int32), hist)
    return m.hidden(tokens, valid), scores, m.loss(batch, hp)


TOKENS = jnp.zeros((2, 8), jnp.int32)
VALID = jnp.ones((2, 8), bool)


@pytest.fixture(scope="module")
def split():
    return cycle_split()


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def _batch(items, seed=0):
    items = jnp.asarray(items, jnp.int32)
    return {
        "items": items,
        "neg": jnp.zeros_like(items),
        "weight": jnp.ones(items.shape[0]),
        "rng": jax.random.key(seed),
    }


HP = {"l2": jnp.float32(0.0), "dropout": jnp.float32(0.1), "mask_prob": jnp.float32(0.3)}


def test_shapes_and_settings():
    m = BERT4Rec(5, 30, **SMALL, rngs=nnx.Rngs(0))
    assert m.sampler == "sequences" and m.uses_history and m.max_len == 8
    assert (m.pad_token, m.mask_token) == (30, 31)
    hist = jnp.array([[-1, -1, -1, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]], jnp.int32)
    items = np.concatenate([[[8], [9]], np.asarray(hist)], axis=1)
    h, scores, value = forward(m, TOKENS, VALID, _batch(items), HP)
    assert h.shape == (2, 8, 16)
    assert scores.shape == (2, 30) and scores.dtype == jnp.float32
    assert value.shape == () and np.isfinite(float(value))
    with pytest.raises(ConfigError, match=r"dim must be a multiple of n_heads"):
        BERT4Rec(3, 5, dim=10, n_heads=4, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"pass history"):
        m.score(jnp.array([0]))


def test_masked_share_is_close_to_mask_prob():
    valid = jnp.asarray(np.arange(50)[None, :] >= np.arange(400)[:, None] % 25)
    for p in (0.1, 0.2, 0.5):
        masked = np.asarray(mask_positions(valid, jnp.float32(p), jax.random.key(0)))
        assert not masked[~np.asarray(valid)].any()  # padding is never masked
        share = masked.sum() / np.asarray(valid).sum()
        assert abs(share - p) < 0.01, (p, share)


def test_loss_reads_only_masked_positions():
    m = BERT4Rec(5, 30, **SMALL, rngs=nnx.Rngs(0))
    items = np.array([[-1, 1, 2, 3, 4, 5, 6, 7, 8], [0, 9, 10, 11, 12, 13, 14, 15, 16]])

    def loss(items, hp):
        return float(forward(m, TOKENS, VALID, _batch(items), hp)[2])

    assert loss(items, {**HP, "mask_prob": jnp.float32(0.0)}) == 0.0
    # the first column is not read (the model reads the last max_len items)
    changed = items.copy()
    changed[:, 0] = [3, 3]
    assert loss(items, HP) == loss(changed, HP)


def test_score_appends_mask_after_the_history_shifted_left():
    m = BERT4Rec(5, 30, **SMALL, rngs=nnx.Rngs(3))
    hist = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [-1, -1, -1, 3, 4, 5, 6, 7]])

    def score(hist):
        items = np.concatenate([[[0], [0]], hist], axis=1)
        return np.asarray(forward(m, TOKENS, VALID, _batch(items), HP)[1])

    scores = score(hist)
    # the oldest item drops out: [MASK] takes the last position
    changed = hist.copy()
    changed[0, 0] = 20
    np.testing.assert_array_equal(score(changed), scores)
    pad, mask = m.pad_token, m.mask_token
    tokens = jnp.array([[2, 3, 4, 5, 6, 7, 8, mask], [pad, pad, 3, 4, 5, 6, 7, mask]])
    valid = jnp.array([[True] * 8, [False] * 2 + [True] * 6])
    h = forward(m, tokens, valid, _batch(np.zeros((2, 9))), HP)[0][:, -1]
    expected = h @ m.item_table().T + m.out_bias[...]
    np.testing.assert_allclose(scores, np.asarray(expected), rtol=1e-5, atol=1e-6)


def test_attention_is_bidirectional():
    m = BERT4Rec(5, 30, **SMALL, rngs=nnx.Rngs(4))
    tokens = jnp.array([[3, 4, 5, 6, 7, 8, 9, 10]] * 2)
    batch = _batch(np.zeros((2, 9)))
    base = np.asarray(forward(m, tokens, VALID, batch, HP)[0])
    changed = np.asarray(forward(m, tokens.at[0, 7].set(20), VALID, batch, HP)[0])
    assert np.abs(changed[0, 0] - base[0, 0]).max() > 1e-5


def test_learns_the_next_item_of_a_cycle(split):
    model = BERT4Rec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(0))
    cfg = TrainConfig(
        epochs=60,
        batch_size=16,
        lr=1e-2,
        patience=0,
        loss_weights={"dropout": 0.1, "mask_prob": 0.3},
    )
    result = fit(model, split.train, cfg)
    losses = [h["loss"] for h in result.history]
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert Evaluator(split, "test", ["hit@1"])(result.model)["hit@1"] > 0.8


def test_same_seed_same_numbers_and_mask_prob_does_not_recompile(split):
    def run(seed=3, **weights):
        model = BERT4Rec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(5))
        cfg = TrainConfig(epochs=1, batch_size=16, patience=0, seed=seed, loss_weights=weights)
        return fit(model, split.train, cfg)

    a = run(mask_prob=0.2)
    n_train = train_epoch._cache_size()
    b = run(mask_prob=0.2)
    for x, y in zip(_params(a.model), _params(b.model)):
        np.testing.assert_array_equal(x, y)
    run(mask_prob=0.5, dropout=0.0)
    run(mask_prob=0.1, dropout=0.4)
    assert train_epoch._cache_size() == n_train
