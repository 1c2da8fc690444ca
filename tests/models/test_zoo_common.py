"""What every registered model shares: shapes, a falling loss, determinism, regularisation.

Each model trains through the generic loop on the planted synthetic split (4 epochs); the
search can set L2, dropout and early-stopping patience for every one of them. Closed-form
models (``closed_form``: pop, itemknn, ease, rp3beta) are solved in one pass by the same
``fit``: where a check of epochs, losses, seeds or loss terms does not apply to them, it
checks what holds instead (one pass, no loss, the seed changes nothing, no loss terms).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _fakes import SMALL_ZOO
from flax import nnx

import moorec as mr
from moorec.data.interactions import history_matrix
from moorec.errors import ConfigError
from moorec.executors import searchable_names
from moorec.models.mf import BPRMF
from moorec.models.registry import _MODELS
from moorec.train import TrainConfig, fit
from moorec.train.loop import kept_hparams
from moorec.train.population import fit_population

CONFIG = TrainConfig(epochs=4, batch_size=256, lr=1e-2, patience=0, seed=0)


def build(name, split, seed=0):
    return mr.models.create(
        name, split.n_users, split.n_items, seed=seed, train=split.train, **SMALL_ZOO[name]
    )


def closed(name):
    return getattr(_MODELS[name], "closed_form", False)


def params_of(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


@pytest.fixture(scope="module", params=sorted(SMALL_ZOO))
def trained(request, planted_split):
    name = request.param
    a = fit(build(name, planted_split), planted_split.train, CONFIG)
    b = fit(build(name, planted_split), planted_split.train, CONFIG)
    return name, a, b


def test_every_registered_model_is_covered():
    assert sorted(SMALL_ZOO) == sorted(mr.models.available())


def test_scores_have_one_column_per_item(trained, planted_split):
    _, a, _ = trained
    users = np.arange(5, dtype=np.int32)
    model = a.model
    if model.uses_history:
        hist = history_matrix(planted_split.train, users, int(model.max_len))
        scores = model.score(jnp.asarray(users), jnp.asarray(hist))
    else:
        scores = model.score(jnp.asarray(users))
    assert scores.shape == (5, planted_split.n_items)
    assert bool(jnp.all(jnp.isfinite(scores)))


def test_the_training_loss_falls(trained):
    name, a, _ = trained
    if closed(name):  # solved in one pass: no epochs, no loss (patience 0: not validated)
        assert [set(h) for h in a.history] == [{"epoch", "seconds"}] and a.best_epoch == 1
        return
    losses = [h["loss"] for h in a.history]
    assert len(losses) == CONFIG.epochs
    assert losses[-1] < losses[0], (name, losses)


def test_same_seed_same_numbers(trained, planted_split):
    name, a, b = trained
    assert [h.get("loss") for h in a.history] == [h.get("loss") for h in b.history]
    for x, y in zip(params_of(a.model), params_of(b.model), strict=True):
        np.testing.assert_array_equal(x, y)
    if closed(name):  # computed from the data alone: another seed gives the same state
        other = fit(build(name, planted_split, seed=1), planted_split.train, CONFIG)
        for x, y in zip(params_of(a.model), params_of(other.model), strict=True):
            np.testing.assert_array_equal(x, y)
        return
    other = params_of(build(name, planted_split, seed=1))
    first = params_of(build(name, planted_split, seed=0))
    assert any(not np.array_equal(x, y) for x, y in zip(first, other, strict=True))


@pytest.mark.parametrize("name", sorted(SMALL_ZOO))
def test_regularisation_is_searchable(name):
    names = searchable_names(name)
    if closed(name):  # no loss, so no L2 or dropout term; patience 0 turns validation off
        assert "patience" in names and "l2" not in names and "dropout" not in names
        return
    assert {"l2", "dropout", "patience"} <= set(names)
    assert "dropout" in _MODELS[name].hparam_names


@pytest.mark.parametrize("name", ["bpr", "lightgcn"])
def test_embedding_dropout_of_pairwise_models(name, planted_split):
    model = build(name, planted_split)
    batch = {
        "user": jnp.arange(64) % planted_split.n_users,
        "pos": jnp.arange(64) % planted_split.n_items,
        "neg": (jnp.arange(64) * 7 + 3) % planted_split.n_items,
        "weight": jnp.ones(64),
        "rng": jax.random.key(0),
    }
    hp = {n: jnp.float32(v) for n, v in model.hparam_defaults.items()}
    plain = float(model.loss(batch, {k: v for k, v in hp.items() if k != "dropout"}))
    assert float(model.loss(batch, hp)) == plain  # rate 0: the loss without dropout
    dropped = float(model.loss(batch, {**hp, "dropout": jnp.float32(0.5)}))
    assert dropped != plain and np.isfinite(dropped)
    # another key, another mask
    other = float(
        model.loss({**batch, "rng": jax.random.key(1)}, {**hp, "dropout": jnp.float32(0.5)})
    )
    assert other != dropped


def test_switched_off_terms_leave_the_compiled_loss():
    """A switch at 0 is left out of the arrays (and of the program); at > 0 it is kept."""
    cfg = TrainConfig(l2=1e-4, loss_weights={"div_weight": 0.5})
    model = BPRMF(4, 5, 2, rngs=nnx.Rngs(0))
    assert set(cfg.loss_hparams(model)) == {"l2", "div_weight", "div_temperature"}
    assert set(TrainConfig().loss_hparams(model)) == {"div_temperature"}  # l2 = 0: a switch
    rows = [{"dropout": 0.0, "l2": 0.0}, {"dropout": 0.1, "l2": 0.0}]
    assert kept_hparams(("l2", "dropout"), ("dropout",), rows) == ("l2", "dropout")
    assert kept_hparams(("l2", "dropout"), ("dropout",), rows[:1]) == ("l2",)


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ({"pop_weight": -0.1}, r"pop_weight must be a finite number >= 0, got -0.1"),
        ({"div_weight": float("nan")}, r"div_weight must be a finite number >= 0, got nan"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
    ],
)
def test_switches_out_of_range_are_refused(weights, match):
    model = BPRMF(4, 5, 2, rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=match):
        TrainConfig(loss_weights=weights).loss_hparams(model)


def test_a_term_on_at_zero_trains_as_the_term_left_out(planted_split):
    """In one population, a candidate at 0 trains exactly as it does alone (term left out)."""
    train = planted_split.train
    on = {"pop_weight": 0.3, "div_weight": 0.2, "dropout": 0.2}
    cfgs = [
        TrainConfig(epochs=2, batch_size=256, lr=1e-2, patience=0, seed=2, loss_weights=on),
        TrainConfig(epochs=2, batch_size=256, lr=3e-3, patience=0, seed=2),
    ]

    def make():
        return BPRMF(train.n_users, train.n_items, 8, rngs=nnx.Rngs(2))

    out = fit_population([make(), make()], train, cfgs)
    for cfg, member in zip(cfgs, out.members, strict=True):
        ref = fit(make(), train, cfg)
        assert [h["loss"] for h in member.history] == pytest.approx(
            [h["loss"] for h in ref.history], rel=1e-6
        )
        want = jax.tree.leaves(nnx.state(ref.model, nnx.Param))
        got = jax.tree.leaves(nnx.state(member.model, nnx.Param))
        for a, b in zip(want, got, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
