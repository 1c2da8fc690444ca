"""Parameter-efficient fine-tuning of the transformer recommenders: LoRA and bottleneck adapters.

* **LoRA** (E. J. Hu, Y. Shen, P. Wallis, Z. Allen-Zhu, Y. Li, S. Wang, L. Wang and W. Chen,
  "LoRA: Low-Rank Adaptation of Large Language Models", ICLR 2022): a frozen projection
  ``W x`` becomes ``W x + (alpha / r) B A x`` with ``A`` ``[r, d_in]`` Gaussian and ``B``
  ``[d_out, r]`` zero at the start, so the wrapped model first computes exactly what the base
  did. :func:`add_lora` wraps the attention projections (``query`` and ``value`` by default, as
  Hu et al. do).
* **Adapters** (N. Houlsby, A. Giurgiu, S. Jastrzebski, B. Morrone, Q. de Laroussilhe,
  A. Gesmundo, M. Attariyan and S. Gelly, "Parameter-Efficient Transfer Learning for NLP",
  ICML 2019): a bottleneck ``x + W_up gelu(W_down x + b_down) + b_up`` after each attention and
  feed-forward sub-layer, before its residual sum. :func:`add_adapters` inserts them with
  ``W_up = 0`` (an exact identity at the start; Houlsby et al. use a near-identity start).

The new parameters are ``nnx.LoRAParam`` / :class:`AdapterParam` variables (subclasses of
``nnx.Param``); :func:`peft_labels` marks them ``"train"`` and every other parameter
``"freeze"``, and :func:`peft_optimizer` is the ``optax.multi_transform`` that updates the first
and gives the second ``optax.set_to_zero()`` updates, so the base stays bit-identical.
:func:`trainable_params` counts what training changes, an objective a search can minimise.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from moorec.errors import ConfigError, UnknownNameError, check_positive_int
from moorec.models.base import Recommender, count_params
from moorec.models.sasrec import SelfAttention, TransformerBlock

if TYPE_CHECKING:
    from moorec.data.interactions import Interactions
    from moorec.train.loop import FitResult, TrainConfig

__all__ = [
    "METHODS",
    "PEFT_PARAMS",
    "Adapter",
    "AdapterParam",
    "LoRALinear",
    "add_adapters",
    "add_lora",
    "finetune",
    "peft_labels",
    "peft_optimizer",
    "trainable_params",
]

#: Fine-tuning methods of :func:`finetune`.
METHODS = ("lora", "adapter")
#: Projections of :class:`~moorec.models.sasrec.SelfAttention` LoRA can wrap.
LORA_TARGETS = ("query", "key", "value", "out")


class AdapterParam(nnx.Param):
    """Parameter of a bottleneck adapter (trained under PEFT, like ``nnx.LoRAParam``)."""


#: Variable types that parameter-efficient fine-tuning trains.
PEFT_PARAMS = (nnx.LoRAParam, AdapterParam)


class LoRALinear(nnx.Module):
    """A frozen ``nnx.Linear`` plus a trainable low-rank update (Hu et al., ICLR 2022).

    ``y = base(x) + (alpha / rank) * (x @ lora_a) @ lora_b`` with ``lora_a`` ``[d_in, rank]``
    drawn from ``N(0, 1 / d_in)`` and ``lora_b`` ``[rank, d_out]`` zero.

    Args:
        base: the pre-trained layer (kept as is; its parameters stay ``nnx.Param``).
        rank: rank ``r`` of the update.
        alpha: scale numerator; the update is multiplied by ``alpha / rank``.
        rngs: Flax random streams (``params``).
    """

    def __init__(self, base: nnx.Linear, rank: int, alpha: float, *, rngs: nnx.Rngs):
        self.base = base
        d_in, d_out = base.in_features, base.out_features
        a = jax.random.normal(rngs.params(), (d_in, rank), jnp.float32) / math.sqrt(d_in)
        self.lora_a = nnx.LoRAParam(a)
        self.lora_b = nnx.LoRAParam(jnp.zeros((rank, d_out), jnp.float32))
        self.scale = float(alpha) / rank

    def __call__(self, x: jax.Array) -> jax.Array:
        """``[..., d_in]`` -> ``[..., d_out]``."""
        return self.base(x) + (x @ self.lora_a[...]) @ self.lora_b[...] * self.scale


class Adapter(nnx.Module):
    """Bottleneck adapter ``x + gelu(x @ down + down_bias) @ up + up_bias`` (Houlsby et al.).

    Args:
        dim: width ``D`` of the sub-layer output it follows.
        bottleneck: inner width ``m`` (``2 m D + m + D`` parameters).
        rngs: Flax random streams (``params``).
    """

    def __init__(self, dim: int, bottleneck: int, *, rngs: nnx.Rngs):
        self.down = AdapterParam(
            jax.random.normal(rngs.params(), (dim, bottleneck), jnp.float32) * 1e-2
        )
        self.down_bias = AdapterParam(jnp.zeros((bottleneck,), jnp.float32))
        self.up = AdapterParam(jnp.zeros((bottleneck, dim), jnp.float32))
        self.up_bias = AdapterParam(jnp.zeros((dim,), jnp.float32))

    def __call__(self, x: jax.Array) -> jax.Array:
        """``[..., D]`` -> ``[..., D]``."""
        inner = jax.nn.gelu(x @ self.down[...] + self.down_bias[...])
        return x + inner @ self.up[...] + self.up_bias[...]


def _is_peft(v: Any) -> bool:
    return isinstance(v, PEFT_PARAMS)


def _modules(model: nnx.Module, kind: type) -> list[Any]:
    return [m for _, m in nnx.iter_graph(model) if isinstance(m, kind)]


def _has_peft(model: nnx.Module) -> bool:
    return bool(jax.tree.leaves(nnx.state(model, PEFT_PARAMS)))


def _prepare(model: Recommender, kind: type, what: str) -> Recommender:
    if _has_peft(model):
        raise ConfigError(
            f"{type(model).__name__} already carries LoRA or adapter parameters; wrap the "
            "pre-trained model, not a wrapped one"
        )
    if not _modules(model, kind):
        raise ConfigError(
            f"{type(model).__name__} has no {kind.__name__} to {what}; PEFT applies to the "
            "transformer models (SASRec, BERT4Rec)"
        )
    return nnx.clone(model)


def add_lora(
    model: Recommender,
    rank: int = 4,
    alpha: float | None = None,
    targets: Sequence[str] = ("query", "value"),
    *,
    seed: int = 0,
) -> Recommender:
    """A copy of ``model`` whose attention projections carry LoRA updates.

    Args:
        model: a pre-trained transformer model (left unchanged).
        rank: rank ``r`` of each update.
        alpha: scale numerator (the update is multiplied by ``alpha / rank``); default ``rank``.
        targets: projections of every attention layer to wrap, among ``query``, ``key``,
            ``value``, ``out``.
        seed: seed of the ``A`` matrices.

    Returns:
        The wrapped copy: same scores as ``model`` until trained; ``2 * r * D`` new parameters
        per wrapped ``D x D`` projection.

    Raises:
        ConfigError: for a bad rank or target, a model without attention layers, or a model
            that already carries PEFT parameters.
    """
    rank = check_positive_int("rank", rank)
    targets = tuple(targets)
    bad = [t for t in targets if t not in LORA_TARGETS]
    if bad or not targets:
        raise ConfigError(
            f"LoRA targets must be a non-empty subset of {', '.join(LORA_TARGETS)}, "
            f"got {list(targets)}"
        )
    alpha = float(rank if alpha is None else alpha)
    model = _prepare(model, SelfAttention, "wrap with LoRA")
    rngs = nnx.Rngs(params=seed)
    for attn in _modules(model, SelfAttention):
        for name in targets:
            setattr(attn, name, LoRALinear(getattr(attn, name), rank, alpha, rngs=rngs))
    return model


def add_adapters(model: Recommender, bottleneck: int = 16, *, seed: int = 0) -> Recommender:
    """A copy of ``model`` with a bottleneck adapter after each attention and feed-forward layer.

    Args:
        model: a pre-trained transformer model (left unchanged).
        bottleneck: adapter inner width ``m``.
        seed: seed of the down-projections.

    Returns:
        The copy, with ``2 * (2 m D + m + D)`` new parameters per transformer block; same scores
        as ``model`` until trained.

    Raises:
        ConfigError: for a bad width, a model without transformer blocks, or a model that
            already carries PEFT parameters.
    """
    bottleneck = check_positive_int("bottleneck", bottleneck)
    model = _prepare(model, TransformerBlock, "add adapters to")
    rngs = nnx.Rngs(params=seed)
    for block in _modules(model, TransformerBlock):
        dim = block.ln_attn.num_features
        block.adapter_attn = Adapter(dim, bottleneck, rngs=rngs)
        block.adapter_ff = Adapter(dim, bottleneck, rngs=rngs)
    return model


def trainable_params(model: nnx.Module) -> int:
    """Number of parameters training changes.

    For a model carrying LoRA or adapter parameters, only those (the base is frozen);
    otherwise every parameter (``moorec.models.count_params``).
    """
    peft = jax.tree.leaves(nnx.state(model, PEFT_PARAMS))
    if peft:
        return int(sum(np.prod(x.shape) for x in peft))
    return count_params(model)


def peft_labels(params: Any) -> Any:
    """``"train"`` for every LoRA / adapter parameter, ``"freeze"`` for every other leaf.

    Args:
        params: a pytree of ``nnx.Variable`` (``nnx.State`` of a model's ``nnx.Param``, or
            gradients of it).

    Returns:
        The same structure with string leaves (the ``param_labels`` of
        ``optax.multi_transform``).
    """

    def label(v):
        tag = "train" if _is_peft(v) else "freeze"
        return jax.tree.map(lambda _: tag, v)

    return jax.tree.map(label, params, is_leaf=lambda x: isinstance(x, nnx.Variable))


_FACTORIES: dict[str, Callable[..., optax.GradientTransformation]] = {
    "adam": optax.adam,
    "adamw": optax.adamw,
    "sgd": optax.sgd,
    "adagrad": optax.adagrad,
}


@functools.cache
def peft_optimizer(name: str = "adam") -> optax.GradientTransformation:
    """``optax.multi_transform`` training LoRA / adapter parameters and freezing the rest.

    The ``"train"`` group gets optimiser ``name``; the ``"freeze"`` group gets
    ``optax.set_to_zero()`` (zero updates, no optimiser state). The learning rate is injected
    (``opt_state.hyperparams["learning_rate"]``) as in ``moorec.train.optimizer``, and the same
    object is returned for the same name, so it can be a static argument of a jitted epoch.

    Args:
        name: one of ``adam``, ``adamw``, ``sgd``, ``adagrad``.

    Raises:
        UnknownNameError: for another name.
    """
    if name not in _FACTORIES:
        raise UnknownNameError("optimizer", name, _FACTORIES)
    factory = _FACTORIES[name]

    def make(learning_rate):
        return optax.multi_transform(
            {"train": factory(learning_rate), "freeze": optax.set_to_zero()}, peft_labels
        )

    return optax.inject_hyperparams(make)(learning_rate=1e-3)


def finetune(
    model: Recommender,
    train: Interactions,
    config: TrainConfig | None = None,
    *,
    method: str = "lora",
    rank: int = 4,
    alpha: float | None = None,
    targets: Sequence[str] = ("query", "value"),
    bottleneck: int = 16,
    validate: Callable[[Recommender], float] | None = None,
    maximize: bool = True,
) -> FitResult:
    """Fine-tune a pre-trained transformer on ``train``, updating only LoRA or adapter weights.

    The model is copied and wrapped (:func:`add_lora` or :func:`add_adapters`), then trained by
    the generic training loop (``moorec.train.fit`` with ``tx=``) and :func:`peft_optimizer`, with
    the early stopping of ``moorec.train.fit`` (best validated state kept, ``patience``).

    Args:
        model: the pre-trained model (left unchanged).
        train: the training :class:`~moorec.data.Interactions` (e.g. new data to adapt to).
        config: a ``moorec.train.TrainConfig`` (epochs, batch size, lr, optimizer, patience,
            seed, ``loss_weights`` such as ``dropout``); its seed also seeds the new weights.
        method: ``"lora"`` or ``"adapter"``.
        rank: LoRA rank.
        alpha: LoRA scale numerator (default ``rank``).
        targets: attention projections LoRA wraps.
        bottleneck: adapter inner width.
        validate: ``model -> float`` for early stopping (e.g. an ``Evaluator.metric``).
        maximize: whether a larger ``validate`` value is better.

    Returns:
        A ``moorec.train.FitResult`` whose ``model`` is the wrapped, fine-tuned copy.

    Raises:
        UnknownNameError: for an unknown ``method``.
        ConfigError: for bad PEFT settings or data that does not match the model.
    """
    from moorec.train.loop import TrainConfig

    config = config or TrainConfig()
    if method not in METHODS:
        raise UnknownNameError("fine-tuning method", method, METHODS)
    if method == "lora":
        wrapped = add_lora(model, rank, alpha, targets, seed=config.seed)
    else:
        wrapped = add_adapters(model, bottleneck, seed=config.seed)
    from moorec.train.loop import fit

    return fit(
        wrapped,
        train,
        config,
        validate=validate,
        maximize=maximize,
        tx=peft_optimizer(config.optimizer),
    )
