"""MultVAE: the loss and scores against NumPy written from the paper, the annealing schedule,
the users sampler's dense rows, training alone and in a population, bad settings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.data import Interactions
from moorec.errors import ConfigError
from moorec.models.base import Recommender
from moorec.models.multvae import MultVAE, kl_weight
from moorec.models.rows import dense_rows, user_csr
from moorec.models.sasrec import DropoutStream
from moorec.train import TrainConfig, fit, train_epoch
from moorec.train.loop import optimizer
from moorec.train.population import fit_population
from moorec.train.sampling import SAMPLERS, UserData, epoch_order

TINY = Interactions(
    users=[0, 0, 0, 1, 1, 2, 2, 2, 2, 0],  # user 0 has item 1 twice (counted once)
    items=[0, 1, 4, 2, 3, 1, 3, 5, 6, 1],
    n_users=4,  # user 3 has no training item
    n_items=7,
)


def tiny_model(seed=0, **kw):
    settings = {"dim": 2, "hidden": (3,), **kw}
    return MultVAE(TINY.n_users, TINY.n_items, **settings, train=TINY, rngs=nnx.Rngs(seed))


def _np(x):
    return np.asarray(x, dtype=np.float64)


def dense_by_hand(inter):
    rows = np.zeros((inter.n_users, inter.n_items))
    rows[inter.users, inter.items] = 1.0
    return rows


def forward_by_hand(model, rows, eps=None, keep=None, rate=0.0):
    """The paper's encoder, sampler and decoder in NumPy, from the model's parameters."""
    layers = [(_np(x.kernel[...]), _np(x.bias[...])) for x in model.encoder]
    h = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    if keep is not None:
        h = np.where(keep, h / (1.0 - rate), 0.0)
    for w, b in layers[:-1]:
        h = np.tanh(h @ w + b)
    out = h @ layers[-1][0] + layers[-1][1]
    d = model.dim
    mu, logvar = out[:, :d], out[:, d:]
    z = mu if eps is None else mu + np.exp(0.5 * logvar) * eps
    dec = [(_np(x.kernel[...]), _np(x.bias[...])) for x in model.decoder]
    h = z
    for w, b in dec[:-1]:
        h = np.tanh(h @ w + b)
    return mu, logvar, h @ dec[-1][0] + dec[-1][1]


def loss_by_hand(model, rows, weight, eps, step, cap, total, l2, keep=None, rate=0.0):
    """Multinomial negative log-likelihood + beta * KL + L2, averaged over the weighted rows."""
    mu, logvar, logits = forward_by_hand(model, rows, eps, keep, rate)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    nll = -(log_softmax * rows).sum(axis=1)
    kl = 0.5 * (np.exp(logvar) + mu**2 - 1.0 - logvar).sum(axis=1)
    beta = cap if total == 0 else min(cap, step / total)
    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    penalty = 0.5 * sum(float(np.sum(_np(p) ** 2)) for p in leaves)
    n = max(weight.sum(), 1.0)
    return (weight * nll).sum() / n + beta * (weight * kl).sum() / n + l2 * penalty


@nnx.jit
def jit_loss(model, batch, hparams):
    return model.loss(batch, hparams)


@nnx.jit
def jit_score(model, users):
    return model.score(users)


def test_dense_rows_and_csr_against_numpy():
    indptr, indices = user_csr(TINY)
    np.testing.assert_array_equal(indptr, [0, 3, 5, 9, 9])  # duplicates once, user 3 empty
    np.testing.assert_array_equal(indices, [0, 1, 4, 2, 3, 1, 3, 5, 6])
    users = jnp.array([2, 3, 0, 0, 1], jnp.int32)
    got = jax.jit(dense_rows, static_argnums=(3, 4))(
        jnp.asarray(indptr), jnp.asarray(indices), users, 7, 4
    )
    np.testing.assert_array_equal(np.asarray(got), dense_by_hand(TINY)[np.asarray(users)])
    empty = dense_rows(jnp.zeros(3, jnp.int32), jnp.zeros(0, jnp.int32), users[:2], 7, 0)
    np.testing.assert_array_equal(np.asarray(empty), np.zeros((2, 7)))


def test_users_sampler_batches():
    data = UserData.from_interactions(TINY)
    assert len(data) == 3 and data.max_degree == 4  # user 3 has no row to train on
    sampler = SAMPLERS["users"]
    order, weight = epoch_order(sampler.n_rows(data), 2, np.random.default_rng(0))
    assert order.shape == (2, 2) and weight.tolist() == [[1, 1], [1, 0]]
    batch = sampler.batch(data, jnp.asarray(order[0]), None, jnp.asarray(weight[0]), None)
    users = np.asarray(data.users)[order[0]]
    np.testing.assert_array_equal(np.asarray(batch["user"]), users)
    np.testing.assert_array_equal(np.asarray(batch["rows"]), dense_by_hand(TINY)[users])


def test_kl_weight_anneals_linearly_to_the_cap():
    steps = jnp.array([0, 1, 5, 10, 11, 1000])
    got = jax.vmap(kl_weight, in_axes=(0, None, None))(steps, 0.2, 50.0)
    np.testing.assert_allclose(np.asarray(got), [0.0, 0.02, 0.1, 0.2, 0.2, 0.2], rtol=1e-6)
    assert float(kl_weight(0, 0.2, 0.0)) == pytest.approx(0.2)  # no annealing: the cap at once
    assert float(kl_weight(3, 1.0, 4.0)) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("step", "cap", "total", "l2", "rate"),
    [(0, 0.2, 100.0, 0.0, 0.0), (30, 0.2, 100.0, 1e-2, 0.0), (7, 0.5, 0.0, 0.0, 0.5)],
)
def test_loss_against_the_paper_by_hand(step, cap, total, l2, rate):
    model = tiny_model(seed=3)
    rows = dense_by_hand(TINY)[[0, 1, 2, 0]]
    weight = np.array([1.0, 1.0, 1.0, 0.0])  # last row is padding
    key = jax.random.key(11)
    batch = {
        "rows": jnp.asarray(rows, jnp.float32),
        "weight": jnp.asarray(weight, jnp.float32),
        "rng": key,
        "step": jnp.int32(step),
    }
    hp = {"l2": l2, "anneal_cap": cap, "total_anneal_steps": total}
    if rate:
        hp["dropout"] = rate
    hp = {k: jnp.float32(v) for k, v in hp.items()}
    got = float(jit_loss(model, batch, hp))
    # the same noise and mask the model draws from the batch's key
    k_drop, k_eps = jax.random.split(key)
    eps = _np(jax.random.normal(k_eps, (4, model.dim)))
    keep = np.asarray(DropoutStream(rate, k_drop).keep_mask(rows.shape)) if rate else None
    want = loss_by_hand(model, rows, weight, eps, step, cap, total, l2, keep, rate)
    assert got == pytest.approx(want, rel=1e-5)


def test_kl_term_off_at_cap_zero_is_the_likelihood_alone():
    model = tiny_model(seed=1)
    rows = dense_by_hand(TINY)[:3]
    batch = {
        "rows": jnp.asarray(rows, jnp.float32),
        "weight": jnp.ones(3),
        "rng": jax.random.key(0),
    }
    hp = {"l2": jnp.float32(0.0), "total_anneal_steps": jnp.float32(10.0)}
    off = float(jit_loss(model, batch, hp))  # no "step" needed without the KL term
    on = float(jit_loss(model, {**batch, "step": 5}, {**hp, "anneal_cap": jnp.float32(0.0)}))
    assert off == pytest.approx(on, rel=1e-6)
    with pytest.raises(ConfigError, match=r"needs 'step'"):
        model.loss(batch, {**hp, "anneal_cap": jnp.float32(0.2)})


def test_scores_decode_the_mean_of_the_training_row():
    model = tiny_model(seed=2)
    users = jnp.array([0, 1, 2, 3], jnp.int32)
    got = np.asarray(jit_score(model, users))
    assert got.shape == (4, 7) and got.dtype == np.float32
    _, _, want = forward_by_hand(model, dense_by_hand(TINY))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


class StepModel(Recommender):
    """Its loss is the batch's ``step``: the training loop's count of updates before the batch."""

    sampler = "users"

    def __init__(self):
        self.n_users, self.n_items = TINY.n_users, TINY.n_items
        self.w = nnx.Param(jnp.zeros(()))

    def loss(self, batch, hparams):
        return batch["step"].astype(jnp.float32) + 0.0 * self.w[...]


def test_the_loop_hands_each_batch_the_update_count():
    model = StepModel()
    data = SAMPLERS["users"].data(TINY)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optimizer("adam")
    opt_state = tx.init(params)
    seen = []
    for epoch in range(2):
        order, weight = epoch_order(len(data), 1, np.random.default_rng(epoch))
        params, opt_state, losses = train_epoch(
            graphdef,
            params,
            rest,
            opt_state,
            data,
            order,
            weight,
            jax.random.key(epoch),
            {},
            tx=tx,
            sampler=SAMPLERS["users"],
        )
        seen += np.asarray(losses).tolist()
    assert seen == [0, 1, 2, 3, 4, 5]  # 3 users, batches of 1, counted across epochs


def test_shapes_settings_and_determinism(planted_split):
    m = mr.models.create(
        "multvae",
        planted_split.n_users,
        planted_split.n_items,
        seed=0,
        train=planted_split.train,
        dim=8,
        hidden=(16, 12),
    )
    assert m.sampler == "users" and not m.uses_history
    assert [x.kernel.shape for x in m.encoder] == [(80, 16), (16, 12), (12, 16)]
    assert [x.kernel.shape for x in m.decoder] == [(8, 12), (12, 16), (16, 80)]
    assert mr.models.count_params(m) == sum(
        a * b + b for a, b in [(80, 16), (16, 12), (12, 16), (8, 12), (12, 16), (16, 80)]
    )
    cfg = TrainConfig(
        epochs=3,
        batch_size=32,
        lr=1e-2,
        patience=0,
        seed=4,
        loss_weights={"total_anneal_steps": 6.0},
    )

    def run(seed):
        model = MultVAE(
            planted_split.n_users,
            planted_split.n_items,
            dim=8,
            hidden=(16,),
            train=planted_split.train,
            rngs=nnx.Rngs(seed),
        )
        return fit(model, planted_split.train, cfg)

    a, b, c = run(0), run(0), run(1)
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    for x, y in zip(
        jax.tree.leaves(nnx.state(a.model, nnx.Param)),
        jax.tree.leaves(nnx.state(b.model, nnx.Param)),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert [h["loss"] for h in a.history] != [h["loss"] for h in c.history]


def test_bad_settings_are_refused(planted_split):
    n_u, n_i = planted_split.n_users, planted_split.n_items
    with pytest.raises(ConfigError, match=r"pass train=split.train"):
        MultVAE(n_u, n_i, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"train has 4 users x 7 items, the model is built for"):
        MultVAE(n_u, n_i, train=TINY, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"train must be an Interactions, got list"):
        MultVAE(n_u, n_i, train=[1, 2], rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"dim must be a positive integer \(> 0\), got 0"):
        MultVAE(n_u, n_i, dim=0, train=planted_split.train, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"hidden must be a positive integer \(> 0\), got -3"):
        MultVAE(n_u, n_i, hidden=(8, -3), train=planted_split.train, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"hidden must be a sequence of positive integers"):
        MultVAE(n_u, n_i, hidden="600", train=planted_split.train, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"setting 'hidden' of model 'multvae' must be a seq"):
        mr.models.create("multvae", n_u, n_i, train=planted_split.train, hidden="wide")
    with pytest.raises(ConfigError, match=r"model 'multvae' is built from the training data"):
        mr.models.create("multvae", n_u, n_i)
    with pytest.raises(ConfigError, match=r"anneal_cap must be a finite number >= 0, got -0.1"):
        fit(tiny_model(), TINY, TrainConfig(epochs=1, loss_weights={"anneal_cap": -0.1}))
    with pytest.raises(ConfigError, match=r"dropout must be in \[0, 1\), got 1.0"):
        fit(tiny_model(), TINY, TrainConfig(epochs=1, loss_weights={"dropout": 1.0}))
    with pytest.raises(ConfigError, match=r"total_anneal_steps must be a finite number >= 0"):
        TrainConfig(loss_weights={"total_anneal_steps": float("inf")})


def test_learns_the_planted_groups(planted_split):
    model = MultVAE(
        planted_split.n_users,
        planted_split.n_items,
        dim=8,
        hidden=(32,),
        train=planted_split.train,
        rngs=nnx.Rngs(0),
    )
    cfg = TrainConfig(
        epochs=30, batch_size=32, lr=1e-2, patience=0, loss_weights={"total_anneal_steps": 100.0}
    )
    result = fit(model, planted_split.train, cfg)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < losses[0] - 2.0, losses
    got = mr.evaluate(result.model, planted_split, "test", ["ndcg@10"])["ndcg@10"]
    # 80% of a user's items are in their own quarter of the catalogue: chance is about 0.1
    assert got > 0.3, got


def test_population_trains_each_candidate_as_it_trains_alone(planted_split):
    """Per-candidate lr, dropout, KL cap and annealing length in one vmapped program."""
    from executors._agreement import param_difference, train_tolerance

    train = planted_split.train
    weights = [
        {"dropout": 0.5, "anneal_cap": 0.2, "total_anneal_steps": 8.0},
        {"dropout": 0.2, "anneal_cap": 0.5, "total_anneal_steps": 0.0},
        {"dropout": 0.0, "anneal_cap": 0.0},
    ]
    cfgs = [
        TrainConfig(epochs=3, batch_size=32, lr=lr, patience=0, seed=1, loss_weights=w)
        for lr, w in zip((1e-2, 3e-3, 1e-3), weights, strict=True)
    ]

    def make():
        return MultVAE(
            train.n_users, train.n_items, dim=8, hidden=(16,), train=train, rngs=nnx.Rngs(1)
        )

    out = fit_population([make() for _ in cfgs], train, cfgs)
    assert out.rest_axis is None  # the training rows are shared, not copied per candidate
    steps = 3 * -(-train.n_users // 32)
    for cfg, member in zip(cfgs, out.members, strict=True):
        ref = fit(make(), train, cfg)
        assert [h["loss"] for h in member.history] == pytest.approx(
            [h["loss"] for h in ref.history], rel=1e-5
        )
        dp, scale = param_difference(
            nnx.state(ref.model, nnx.Param), nnx.state(member.model, nnx.Param)
        )
        assert dp <= train_tolerance(steps, scale), (cfg.loss_weights, dp)


@pytest.mark.slow
@pytest.mark.realdata
def test_ml100k_recbole_protocol_reaches_the_target(data_root):
    data = mr.datasets.load("ml-100k", path=data_root / "ml-100k")
    split = mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)
    result = mr.fit(split, "multvae", seed=0)  # the family's defaults
    test = mr.evaluate(result.model, split, "test", ["ndcg@10", "recall@10"])
    assert test["ndcg@10"] >= 0.28, test
