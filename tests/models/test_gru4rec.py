"""GRU4Rec: the GRU steps and losses against NumPy written from the papers, padding, causality,
learning a predictable sequence, determinism, compile-once, a population, bad settings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _fakes import cycle_split
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError
from moorec.models.gru4rec import GRU4Rec, bpr_max_loss, top1_max_loss
from moorec.objectives import Evaluator, rank_chunk
from moorec.train import TrainConfig, fit, train_epoch
from moorec.train.population import fit_population

SMALL = dict(dim=16, hidden=(16,), max_len=8)
HIST = np.array([[-1, -1, -1, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8]], np.int32)


def _np(x):
    return np.asarray(x, dtype=np.float64)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gru_by_hand(cell, xs, valid):
    """The gated recurrent unit step by step, from the cell's parameters.

    r = sigmoid(W_ir x + b_ir + W_hr h), z = sigmoid(W_iz x + b_iz + W_hz h),
    n = tanh(W_in x + b_in + r * (W_hn h)), h' = (1 - z) * n + z * h; padding keeps h.
    """
    wi, bi = _np(cell.dense_i.kernel[...]), _np(cell.dense_i.bias[...])
    wh = _np(cell.dense_h.kernel[...])
    hid = wh.shape[0]
    w_ir, w_iz, w_in = wi[:, :hid], wi[:, hid : 2 * hid], wi[:, 2 * hid :]
    b_ir, b_iz, b_in = bi[:hid], bi[hid : 2 * hid], bi[2 * hid :]
    w_hr, w_hz, w_hn = wh[:, :hid], wh[:, hid : 2 * hid], wh[:, 2 * hid :]
    b, length, _ = xs.shape
    h = np.zeros((b, hid))
    out = np.zeros((b, length, hid))
    for t in range(length):
        x = xs[:, t]
        r = sigmoid(x @ w_ir + b_ir + h @ w_hr)
        z = sigmoid(x @ w_iz + b_iz + h @ w_hz)
        n = np.tanh(x @ w_in + b_in + r * (h @ w_hn))
        new = (1.0 - z) * n + z * h
        h = np.where(valid[:, t : t + 1], new, h)
        out[:, t] = h
    return out


def states_by_hand(model, seq):
    """Embedding, the GRU layers and the output map in NumPy: ``[B, L, dim]``."""
    table = _np(model.item_emb.embedding[...])
    valid = seq >= 0
    x = table[np.where(valid, seq, model.n_items)]
    for cell in model.cells:
        x = gru_by_hand(cell, x, valid)
    return x @ _np(model.out.kernel[...]) + _np(model.out.bias[...])


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def losses_by_hand(logits, target, bpreg):
    """Per-position CE, BPR-max and TOP1-max (Hidasi and Karatzoglou, CIKM 2018)."""
    ce, bpr, top1 = [], [], []
    for r, i in zip(logits, target, strict=True):
        ce.append(-log_softmax(r)[i])
        neg = np.delete(r, i)
        s = np.exp(neg - neg.max())
        s /= s.sum()
        bpr.append(-np.log(np.sum(s * sigmoid(r[i] - neg))) + bpreg * np.sum(s * neg**2))
        top1.append(np.sum(s * (sigmoid(neg - r[i]) + sigmoid(neg**2))))
    return np.array(ce), np.array(bpr), np.array(top1)


@nnx.jit
def jit_states(m, seq):
    return m.hidden_states(seq)


@nnx.jit
def jit_score(m, hist):
    return m.score(jnp.zeros(hist.shape[:1], jnp.int32), hist)


@nnx.jit
def jit_loss(m, batch, hparams):
    return m.loss(batch, hparams)


@pytest.fixture(scope="module")
def split():
    return cycle_split()


@pytest.mark.parametrize("hidden", [(5,), (4, 6)])
def test_gru_states_against_the_equations_by_hand(hidden):
    model = GRU4Rec(3, 12, dim=3, hidden=hidden, max_len=8, rngs=nnx.Rngs(1))
    assert [c.hidden_features for c in model.cells] == list(hidden)
    got = np.asarray(jit_states(model, jnp.asarray(HIST)))
    assert got.shape == (2, 8, 3)
    np.testing.assert_allclose(got, states_by_hand(model, HIST), rtol=1e-5, atol=1e-6)


def test_scores_use_the_state_after_the_last_item():
    model = GRU4Rec(3, 12, dim=4, hidden=(6,), max_len=8, rngs=nnx.Rngs(2))
    got = np.asarray(jit_score(model, jnp.asarray(HIST)))
    assert got.shape == (2, 12) and got.dtype == np.float32
    want = states_by_hand(model, HIST)[:, -1] @ _np(model.item_emb.embedding[...])[:12].T
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # a user without any known item gets the zero state's (finite) scores
    assert np.isfinite(np.asarray(jit_score(model, jnp.full((2, 8), -1)))).all()


@pytest.mark.parametrize("loss", ["ce", "bpr_max", "top1_max"])
def test_losses_against_the_papers_by_hand(loss):
    model = GRU4Rec(3, 12, dim=4, hidden=(6,), max_len=7, loss=loss, rngs=nnx.Rngs(3))
    items = np.array([[-1, -1, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 9], [-1] * 6 + [2, 3]])
    weight = np.array([1.0, 1.0, 0.0])  # the last row is padding
    batch = {
        "items": jnp.asarray(items, jnp.int32),
        "neg": jnp.zeros(items.shape, jnp.int32),
        "weight": jnp.asarray(weight, jnp.float32),
        "rng": jax.random.key(0),
    }
    l2, bpreg = 1e-3, 0.5
    hp = {"l2": jnp.float32(l2), "bpreg": jnp.float32(bpreg)}
    got = float(jit_loss(model, batch, hp))
    inp, tgt = items[:, :-1], items[:, 1:]
    logits = states_by_hand(model, inp) @ _np(model.item_emb.embedding[...])[:12].T
    mask = (inp >= 0) & (tgt >= 0) & (weight[:, None] > 0)
    ce, bpr, top1 = losses_by_hand(logits[mask], tgt[mask], bpreg)
    per = {"ce": ce, "bpr_max": bpr, "top1_max": top1}[loss]
    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    penalty = 0.5 * sum(float(np.sum(_np(p) ** 2)) for p in leaves)
    assert got == pytest.approx(per.mean() + l2 * penalty, rel=1e-5)


def test_loss_functions_match_by_hand_on_random_scores():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 9)) * 2
    target = rng.integers(0, 9, 5)
    _, bpr, top1 = losses_by_hand(logits, target, 0.3)
    got_bpr = bpr_max_loss(jnp.asarray(logits, jnp.float32), jnp.asarray(target), 0.3)
    got_top1 = top1_max_loss(jnp.asarray(logits, jnp.float32), jnp.asarray(target))
    np.testing.assert_allclose(np.asarray(got_bpr), bpr, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(got_top1), top1, rtol=1e-5)


def test_dropout_draws_from_the_batch_key():
    model = GRU4Rec(3, 12, dim=4, hidden=(6,), max_len=7, rngs=nnx.Rngs(4))
    items = jnp.asarray(HIST[:, :8], jnp.int32)
    batch = {"items": items, "weight": jnp.ones(2), "rng": jax.random.key(0)}
    plain = float(jit_loss(model, batch, {"l2": jnp.float32(0)}))
    at_zero = float(jit_loss(model, batch, {"l2": jnp.float32(0), "dropout": jnp.float32(0)}))
    assert at_zero == pytest.approx(plain, rel=1e-6)  # rate 0: the loss without dropout
    hp = {"l2": jnp.float32(0), "dropout": jnp.float32(0.5)}
    a = float(jit_loss(model, batch, hp))
    b = float(jit_loss(model, {**batch, "rng": jax.random.key(1)}, hp))
    assert a != plain and b != a and np.isfinite([a, b]).all()


def test_causality_and_padding():
    m = GRU4Rec(5, 30, **SMALL, rngs=nnx.Rngs(1))
    seq = jnp.array([[-1, -1, 3, 4, 5, 6, 7, 8]] * 2, jnp.int32)
    base = np.asarray(jit_states(m, seq))
    for t in (2, 5, 7):
        changed = np.asarray(jit_states(m, seq.at[0, t].set(20)))
        np.testing.assert_array_equal(changed[0, :t], base[0, :t])
        assert np.abs(changed[0, t] - base[0, t]).max() > 1e-4
    # the padding row of the embedding never reaches a score
    before = np.asarray(jit_score(m, seq))
    m.item_emb.embedding[...] = m.item_emb.embedding[...].at[30].set(5.0)
    np.testing.assert_array_equal(np.asarray(jit_score(m, seq)), before)


@pytest.mark.parametrize("loss", ["top1_max", "ce"])
def test_learns_the_next_item_of_a_cycle(split, loss):
    model = GRU4Rec(split.n_users, split.n_items, **SMALL, loss=loss, rngs=nnx.Rngs(0))
    cfg = TrainConfig(epochs=30, batch_size=16, lr=1e-2, patience=0, loss_weights={"dropout": 0.1})
    result = fit(model, split.train, cfg)
    # TOP1-max is at least 0.5 (its sigmoid(r_j^2) term), cross-entropy at least 0
    floor = {"top1_max": 0.5, "ce": 0.0}[loss]
    losses = [h["loss"] - floor for h in result.history]
    assert losses[-1] < 0.3 * losses[0], losses
    assert Evaluator(split, "test", ["hit@1"])(result.model)["hit@1"] > 0.9


def test_same_seed_same_numbers(split):
    cfg = TrainConfig(epochs=2, batch_size=16, patience=0, seed=3)

    def params(model):
        return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]

    runs = [
        fit(GRU4Rec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(5)), split.train, cfg)
        for _ in range(2)
    ]
    for a, b in zip(params(runs[0].model), params(runs[1].model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]
    other = GRU4Rec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(6))
    assert not np.array_equal(params(other)[0], params(runs[0].model)[0])


def test_new_dropout_l2_lr_do_not_recompile(split):
    ev = Evaluator(split, "valid", ["ndcg@10"])

    def run(lr, l2, dropout):
        model = GRU4Rec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(0))
        cfg = TrainConfig(epochs=1, batch_size=16, lr=lr, l2=l2, loss_weights={"dropout": dropout})
        fit(model, split.train, cfg, validate=ev.metric("ndcg@10"))

    run(1e-3, 0.0, 0.2)
    n_train, n_rank = train_epoch._cache_size(), rank_chunk._cache_size()
    run(5e-3, 1e-4, 0.4)
    run(2e-4, 0.1, 0.5)
    assert train_epoch._cache_size() == n_train
    assert rank_chunk._cache_size() == n_rank


def test_population_trains_each_candidate_as_it_trains_alone(split):
    """Per-candidate lr, dropout and L2 in one vmapped program, against one fit each."""
    from executors._agreement import param_difference, train_tolerance

    cfgs = [
        TrainConfig(
            epochs=3, batch_size=16, lr=lr, l2=l2, patience=0, seed=2, loss_weights={"dropout": dr}
        )
        for lr, l2, dr in [(1e-2, 0.0, 0.3), (3e-3, 1e-4, 0.0), (1e-3, 0.0, 0.1)]
    ]

    def make():
        return GRU4Rec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(2))

    out = fit_population([make() for _ in cfgs], split.train, cfgs)
    steps = 3 * -(-split.n_users // 16)
    for cfg, member in zip(cfgs, out.members, strict=True):
        ref = fit(make(), split.train, cfg)
        assert [h["loss"] for h in member.history] == pytest.approx(
            [h["loss"] for h in ref.history], rel=1e-5
        )
        dp, scale = param_difference(
            nnx.state(ref.model, nnx.Param), nnx.state(member.model, nnx.Param)
        )
        assert dp <= train_tolerance(steps, scale), (cfg.lr, dp)


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match=r"loss must be one of ce, bpr_max, top1_max, got 'bpr'"):
        GRU4Rec(3, 5, loss="bpr", rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"max_len must be a positive integer \(> 0\), got 0"):
        GRU4Rec(3, 5, max_len=0, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"hidden must be a non-empty sequence"):
        GRU4Rec(3, 5, hidden=(), rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"hidden must be a positive integer \(> 0\), got 0"):
        GRU4Rec(3, 5, hidden=(8, 0), rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"'top1_max' needs at least 2 items"):
        GRU4Rec(3, 1, loss="top1_max", rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"pass history"):
        GRU4Rec(5, 30, **SMALL, rngs=nnx.Rngs(0)).score(jnp.array([0]))
    with pytest.raises(ConfigError, match=r"setting 'dim' of model 'gru4rec' must be a positive"):
        mr.models.create("gru4rec", 3, 5, dim=1.5)
    with pytest.raises(ConfigError, match=r"bpreg must be a finite number >= 0, got -1"):
        TrainConfig(loss_weights={"bpreg": -1})


@pytest.mark.slow
@pytest.mark.realdata
def test_ml100k_sequential_protocol_beats_recbole_gru4rec(data_root):
    data = mr.datasets.load("ml-100k", path=data_root / "ml-100k")
    split = mr.split.leave_one_out(data, order="time")
    result = mr.fit(split, "gru4rec", seed=0)  # the family's defaults
    test = mr.evaluate(result.model, split, "test", ["hit@10", "ndcg@10"])
    # RecBole's published GRU4Rec on this protocol: Hit@10 0.110, NDCG@10 0.051
    assert test["hit@10"] >= 0.110 and test["ndcg@10"] >= 0.051, test
