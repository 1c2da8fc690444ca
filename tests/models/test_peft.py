"""Parameter-efficient fine-tuning: LoRA and adapters, freezing, trainable-parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from _fakes import cycle_split
from flax import nnx

import moorec as mr
from moorec.errors import ConfigError, UnknownNameError
from moorec.models import count_params
from moorec.models.bert4rec import BERT4Rec
from moorec.models.peft import (
    AdapterParam,
    add_adapters,
    add_lora,
    finetune,
    peft_labels,
    peft_optimizer,
    trainable_params,
)
from moorec.models.sasrec import SASRec
from moorec.train import TrainConfig, fit

D, BLOCKS = 16, 1
SMALL = dict(dim=D, n_blocks=BLOCKS, n_heads=2, max_len=8)  # as in test_sasrec.py
score = nnx.jit(lambda m, hist: m.score(jnp.zeros(hist.shape[:1], jnp.int32), hist))


@pytest.fixture(scope="module")
def pretrained():
    split = cycle_split()
    model = SASRec(split.n_users, split.n_items, **SMALL, rngs=nnx.Rngs(0))
    fit(model, split.train, TrainConfig(epochs=3, batch_size=16, lr=1e-2, patience=0))
    return model


def _base_state(model):
    """Every non-PEFT parameter, keyed by its path with the wrapper levels removed."""
    out = {}
    for path, v in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        if isinstance(v, nnx.LoRAParam | AdapterParam):
            continue
        out[tuple(k for k in path if k != "base")] = np.asarray(v.get_value())
    return out


def test_wrapping_adds_the_hand_counted_parameters_and_keeps_scores(pretrained):
    n_items = pretrained.n_items
    n_base = count_params(pretrained)
    # embeddings (items + padding, positions), per block 2 layer norms, 4 D x D projections
    # with bias, feed-forward D -> D -> D with biases (ff_dim = dim), final layer norm
    per_block = 2 * 2 * D + 4 * (D * D + D) + 2 * (D * D + D)
    assert n_base == (n_items + 1) * D + 8 * D + BLOCKS * per_block + 2 * D
    assert trainable_params(pretrained) == n_base

    hist = jnp.array([[-1, -1, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8]], jnp.int32)
    before = np.asarray(score(pretrained, hist))
    lora = add_lora(pretrained, rank=2, targets=("query", "value"))
    assert trainable_params(lora) == BLOCKS * 2 * (D * 2 + 2 * D)
    lora_all = add_lora(pretrained, rank=3, targets=("query", "key", "value", "out"))
    assert trainable_params(lora_all) == BLOCKS * 4 * (2 * 3 * D)
    adapters = add_adapters(pretrained, bottleneck=4)
    assert trainable_params(adapters) == BLOCKS * 2 * (2 * 4 * D + 4 + D)
    for wrapped in (lora, lora_all, adapters):
        assert count_params(wrapped) == n_base + trainable_params(wrapped)
    for wrapped in (lora, adapters):
        np.testing.assert_allclose(np.asarray(score(wrapped, hist)), before, atol=1e-6)
    # the pre-trained model itself is left as it was
    assert trainable_params(pretrained) == n_base


@pytest.mark.parametrize("method", ["lora", "adapter"])
def test_finetuning_changes_only_the_new_parameters(pretrained, method):
    shifted = cycle_split(step=5, seed=1)  # new behaviour to adapt to
    base_before = _base_state(pretrained)
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e-2, patience=0, seed=0)
    result = finetune(pretrained, shifted.train, cfg, method=method, rank=2, bottleneck=4)
    tuned = result.model
    base_after = _base_state(tuned)
    assert base_after.keys() == base_before.keys()
    for key, value in base_before.items():
        assert base_after[key].tobytes() == value.tobytes(), key  # bit-identical
    fresh = add_lora(pretrained, rank=2) if method == "lora" else add_adapters(pretrained, 4)
    new_before = jax.tree.leaves(nnx.state(fresh, (nnx.LoRAParam, AdapterParam)))
    new_after = jax.tree.leaves(nnx.state(tuned, (nnx.LoRAParam, AdapterParam)))
    assert len(new_after) == len(new_before) > 0
    assert all(not np.array_equal(a, b) for a, b in zip(new_before, new_after))
    assert _base_state(pretrained).keys() == base_before.keys()  # original not wrapped
    assert len(result.history) == 3 and np.isfinite(result.history[-1]["loss"])


def test_finetuning_learns_and_validates(pretrained):
    shifted = cycle_split(step=5, seed=1)
    ev = mr.objectives.Evaluator(shifted, "valid", ["hit@1"])
    before = ev(add_lora(pretrained, rank=2))["hit@1"]
    cfg = TrainConfig(epochs=25, batch_size=16, lr=2e-2, patience=25)
    result = finetune(
        pretrained, shifted.train, cfg, method="lora", rank=2, validate=ev.metric("hit@1")
    )
    assert result.best_valid > before + 0.3
    assert result.best_valid == pytest.approx(ev(result.model)["hit@1"])


def test_labels_and_cached_optimizer(pretrained):
    lora = add_lora(pretrained, rank=2)
    params = nnx.state(lora, nnx.Param)
    labels = peft_labels(params)
    flat = dict(nnx.to_flat_state(labels))
    assert {v.get_value() for v in flat.values()} == {"train", "freeze"}
    for path, v in flat.items():
        assert (v.get_value() == "train") == (path[-1] in ("lora_a", "lora_b")), path
    assert peft_optimizer("adam") is peft_optimizer("adam")
    tx = peft_optimizer("adam")
    state = tx.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(grads, state, params)
    for path, u in nnx.to_flat_state(updates):
        frozen = path[-1] not in ("lora_a", "lora_b")
        assert np.all(np.asarray(u.get_value()) == 0) == frozen, path
    assert isinstance(tx, optax.GradientTransformation)


def test_bert4rec_wraps_too():
    m = BERT4Rec(5, 30, **SMALL, rngs=nnx.Rngs(0))
    assert trainable_params(add_lora(m, rank=2)) == BLOCKS * 2 * 4 * D
    assert trainable_params(add_adapters(m, 2)) == BLOCKS * 2 * (2 * 2 * D + 2 + D)


def test_errors(pretrained):
    bpr = mr.models.create("bpr", 4, 5, dim=4)
    with pytest.raises(ConfigError, match=r"BPRMF has no SelfAttention to wrap with LoRA"):
        add_lora(bpr)
    with pytest.raises(ConfigError, match=r"already carries LoRA or adapter parameters"):
        add_adapters(add_lora(pretrained))
    with pytest.raises(ConfigError, match=r"LoRA targets must be a non-empty subset.*'q'"):
        add_lora(pretrained, targets=("q",))
    with pytest.raises(ConfigError, match=r"rank must be a positive integer"):
        add_lora(pretrained, rank=0)
    with pytest.raises(UnknownNameError, match=r"unknown fine-tuning method 'prefix'"):
        finetune(pretrained, None, method="prefix")
    with pytest.raises(UnknownNameError, match=r"unknown optimizer 'adamm'"):
        peft_optimizer("adamm")
