"""A fit continued from its state equals a fit of as many epochs from the start."""

import jax
import numpy as np
import pytest
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError
from moorec.objectives import Evaluator
from moorec.train import TrainConfig, fit


@pytest.fixture(scope="module")
def split():
    data = mr.datasets.synthetic_shop(n_users=80, n_items=50, n_interactions=1500, seed=0)
    return mr.split.random_ratio(data, (0.8, 0.1, 0.1), seed=0)


def _build(split, name="bpr", **kw):
    return mr.models.create(name, split.n_users, split.n_items, seed=0, **kw)


def _params(model):
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


@pytest.mark.parametrize("patience", [0, 2, 50], ids=["no-stopping", "stops-early", "patient"])
def test_three_then_six_more_epochs_equal_nine(split, patience):
    validate = Evaluator(split, "valid", ["ndcg@10"]).metric("ndcg@10")
    kw = dict(batch_size=64, lr=1e-2, patience=patience)
    first = fit(_build(split, dim=8), split.train, TrainConfig(epochs=3, **kw),
                validate=validate, keep_state=True)  # fmt: skip
    assert first.state.epochs == 3 and first.continued_from == 0
    more = fit(_build(split, dim=8), split.train, TrainConfig(epochs=9, **kw),
               validate=validate, resume=first.state)  # fmt: skip
    scratch = fit(_build(split, dim=8), split.train, TrainConfig(epochs=9, **kw),
                  validate=validate)  # fmt: skip
    # the same epoch programs on the same inputs: identical, not merely close
    for a, b in zip(_params(more.model), _params(scratch.model), strict=True):
        np.testing.assert_array_equal(a, b)
    strip = lambda r: [{k: v for k, v in h.items() if k != "seconds"} for h in r.history]  # noqa: E731
    assert strip(more) == strip(scratch)
    assert (more.best_epoch, more.stopped_early) == (scratch.best_epoch, scratch.stopped_early)
    assert more.continued_from == 3


def test_a_sequential_model_continues_too(split):
    kw = dict(batch_size=32, lr=1e-2, patience=0, loss_weights={"dropout": 0.2})
    small = dict(dim=8, n_blocks=1, n_heads=1, max_len=6)
    loo = mr.split.leave_one_out(split.train, order="time")  # any time-ordered split
    first = fit(_build(loo, "sasrec", **small), loo.train, TrainConfig(epochs=2, **kw),
                keep_state=True)  # fmt: skip
    more = fit(_build(loo, "sasrec", **small), loo.train, TrainConfig(epochs=4, **kw),
               resume=first.state)  # fmt: skip
    scratch = fit(_build(loo, "sasrec", **small), loo.train, TrainConfig(epochs=4, **kw))
    for a, b in zip(_params(more.model), _params(scratch.model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_only_more_epochs_under_the_same_schedule_continue(split):
    first = fit(_build(split, dim=8), split.train, TrainConfig(epochs=3, batch_size=64,
                patience=0), keep_state=True)  # fmt: skip
    s = first.state
    assert s.continues(TrainConfig(epochs=3, batch_size=64, patience=0))
    assert not s.continues(TrainConfig(epochs=2, batch_size=64, patience=0))  # fewer
    assert not s.continues(TrainConfig(epochs=9, batch_size=64, patience=0, lr=1e-2))
    with pytest.raises(ConfigError, match="is not continued by"):
        fit(_build(split, dim=8), split.train, TrainConfig(epochs=9, batch_size=32, patience=0),
            resume=s)  # fmt: skip
    # validated every 2 epochs: epoch 3 validated (the last), which a 9-epoch fit does not
    validate = Evaluator(split, "valid", ["ndcg@10"]).metric("ndcg@10")
    odd = fit(_build(split, dim=8), split.train,
              TrainConfig(epochs=3, batch_size=64, eval_every=2), validate=validate,
              keep_state=True)  # fmt: skip
    assert not odd.state.continues(TrainConfig(epochs=9, batch_size=64, eval_every=2))
    even = fit(_build(split, dim=8), split.train,
               TrainConfig(epochs=4, batch_size=64, eval_every=2), validate=validate,
               keep_state=True)  # fmt: skip
    assert even.state.continues(TrainConfig(epochs=8, batch_size=64, eval_every=2))


def test_the_state_survives_a_second_continuation(split):
    """Epochs donate their optimiser state; the stored one is a copy and can be used twice."""
    cfg = dict(batch_size=64, lr=1e-2, patience=0)
    first = fit(_build(split, dim=8), split.train, TrainConfig(epochs=2, **cfg), keep_state=True)
    a = fit(_build(split, dim=8), split.train, TrainConfig(epochs=4, **cfg), resume=first.state)
    b = fit(_build(split, dim=8), split.train, TrainConfig(epochs=4, **cfg), resume=first.state)
    for x, y in zip(_params(a.model), _params(b.model), strict=True):
        np.testing.assert_array_equal(x, y)
