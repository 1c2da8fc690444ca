"""Adam's decay rates in a population: shared by the bucket, and trained as fit trains them."""

import pytest
from _agreement import param_difference, train_tolerance
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError
from moorec.train import TrainConfig, fit
from moorec.train.population import fit_population


def _build(train):
    return mr.models.create("bpr", train.n_users, train.n_items, seed=1, dim=16)


def test_a_population_shares_its_decay_rates(planted_split):
    train = planted_split.train
    cfgs = [TrainConfig(epochs=1, b2=0.98), TrainConfig(epochs=1)]
    with pytest.raises(ConfigError, match=r"a population shares 'b2'; got \['0.98', '0.999'\]"):
        fit_population([_build(train) for _ in cfgs], train, cfgs)


def test_one_step_with_b2_agrees_with_fit(planted_split):
    """Two steps (one batch holds every row) vmapped and alone, b2 = 0.98: within rounding.

    Adam's first step is ``lr * sign(g)`` whatever the decay rates (bias correction), so the
    second is the first that reads b2.
    """
    train = planted_split.train
    cfgs = [
        TrainConfig(epochs=2, batch_size=2048, lr=lr, patience=0, seed=1, b2=0.98)
        for lr in (1e-2, 3e-2)
    ]
    out = fit_population([_build(train) for _ in cfgs], train, cfgs)
    for cfg, member in zip(cfgs, out.members, strict=True):
        ref = fit(_build(train), train, cfg)
        other = fit(_build(train), train, TrainConfig(**{**cfg.__dict__, "b2": 0.5}))
        want = nnx.state(ref.model, nnx.Param)
        dp, scale = param_difference(want, nnx.state(member.model, nnx.Param))
        assert dp <= train_tolerance(2, scale), (cfg.lr, dp)
        # the decay rate reached the step: another one moves the parameters far more
        moved, _ = param_difference(want, nnx.state(other.model, nnx.Param))
        assert moved > 100 * train_tolerance(2, scale)
